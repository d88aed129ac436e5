/* Control socket: one short SOCK_SEQPACKET conversation per client. */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "unix_socket.h"

#define CLIENTS_MAX 16

struct client {
	LIST_ENTRY(client) link;
	struct kd_ctl *ctl;
	int fd;
	bool hello;
	struct event *ev;
};

struct kd_ctl {
	struct event_base *base;
	kd_ctl_status_fn fn;
	void *arg;
	int listen_fd;
	struct event *accept_ev;
	LIST_HEAD(, client) clients;
	unsigned n_clients;
};

void kd_ctl_status_add(struct kd_ctl_status *st, const char *key,
		       const char *fmt, ...)
{
	if (st->n >= KD_CTL_DETAILS_MAX)
		return;
	va_list ap;
	snprintf(st->details[st->n].key, sizeof(st->details[0].key), "%s",
		 key);
	va_start(ap, fmt);
	vsnprintf(st->details[st->n].value, sizeof(st->details[0].value), fmt,
		  ap);
	va_end(ap);
	st->n++;
}

static void client_free(struct client *cl)
{
	LIST_REMOVE(cl, link);
	cl->ctl->n_clients--;
	event_free(cl->ev);
	close(cl->fd);
	free(cl);
}

static int send_status(struct client *cl)
{
	struct kd_ctl_status *st = calloc(1, sizeof(*st));
	Kdipc__StatusReply__DetailsEntry entries[KD_CTL_DETAILS_MAX];
	Kdipc__StatusReply__DetailsEntry *ptrs[KD_CTL_DETAILS_MAX];
	Kdipc__StatusReply rep = KDIPC__STATUS_REPLY__INIT;
	Kdipc__CtlReply m = KDIPC__CTL_REPLY__INIT;
	int rc;

	if (!st)
		return -ENOMEM;
	cl->ctl->fn(cl->ctl->arg, st);
	for (size_t i = 0; i < st->n; i++) {
		kdipc__status_reply__details_entry__init(&entries[i]);
		entries[i].key = st->details[i].key;
		entries[i].value = st->details[i].value;
		ptrs[i] = &entries[i];
	}
	rep.component = (char *)"rendezvousd";
	rep.pid = getpid();
	rep.state = st->state;
	rep.n_details = st->n;
	rep.details = ptrs;
	m.msg_case = KDIPC__CTL_REPLY__MSG_STATUS;
	m.status = &rep;
	rc = kd_ipc_send(cl->fd, &m.base, -1);
	free(st);
	return rc;
}

static void on_client(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	ProtobufCMessage *pm = NULL;
	int rc = kd_ipc_recv(cl->fd, &kdipc__ctl_request__descriptor, &pm,
			     NULL);
	if (rc == -EAGAIN)
		return;
	if (rc < 0) {
		if (rc != -ECONNRESET)
			kd_warn("control socket: bad request (%s); closing it",
				strerror(-rc));
		client_free(cl);
		return;
	}
	Kdipc__CtlRequest *rq = (Kdipc__CtlRequest *)pm;
	Kdipc__CtlReply m = KDIPC__CTL_REPLY__INIT;
	Kdipc__Hello hello;
	Kdipc__CloseSessionReply cs = KDIPC__CLOSE_SESSION_REPLY__INIT;

	if (!cl->hello) {
		if (rq->msg_case != KDIPC__CTL_REQUEST__MSG_HELLO ||
		    kd_ipc_hello_check(rq->hello) < 0) {
			kd_warn("control socket: client did not start with a "
				"valid Hello; closing it");
			rc = -EPROTO;
			goto out;
		}
		cl->hello = true;
		kd_ipc_hello_init(&hello, "rendezvousd", 0);
		m.msg_case = KDIPC__CTL_REPLY__MSG_HELLO;
		m.hello = &hello;
		rc = kd_ipc_send(cl->fd, &m.base, -1);
		goto out;
	}
	switch (rq->msg_case) {
	case KDIPC__CTL_REQUEST__MSG_STATUS:
		rc = send_status(cl);
		break;
	case KDIPC__CTL_REQUEST__MSG_CLOSE_SESSION:
		/* Sessions live in sessiond. */
		cs.error = -ENOTSUP;
		m.msg_case = KDIPC__CTL_REPLY__MSG_CLOSE_SESSION;
		m.close_session = &cs;
		rc = kd_ipc_send(cl->fd, &m.base, -1);
		break;
	default:
		rc = -EPROTO;
		break;
	}
out:
	protobuf_c_message_free_unpacked(pm, NULL);
	if (rc < 0)
		client_free(cl);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct kd_ctl *c = arg;
	int cfd = accept4(c->listen_fd, NULL, NULL,
			  SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (c->n_clients >= CLIENTS_MAX || kd_unix_peer_allowed(cfd) <= 0) {
		close(cfd);
		return;
	}
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(cfd);
		return;
	}
	cl->ctl = c;
	cl->fd = cfd;
	cl->ev = event_new(c->base, cfd, EV_READ | EV_PERSIST, on_client, cl);
	if (!cl->ev) {
		close(cfd);
		free(cl);
		return;
	}
	event_add(cl->ev, NULL);
	LIST_INSERT_HEAD(&c->clients, cl, link);
	c->n_clients++;
}

int kd_ctl_new(struct event_base *base, int listen_fd, const char *path,
	       kd_ctl_status_fn fn, void *arg, struct kd_ctl **out)
{
	struct kd_ctl *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base = base;
	c->fn = fn;
	c->arg = arg;
	LIST_INIT(&c->clients);
	c->listen_fd = listen_fd >= 0 ? listen_fd : kd_unix_listen(path, 0660);
	if (c->listen_fd < 0) {
		int rc = c->listen_fd;
		free(c);
		return rc;
	}
	c->accept_ev = event_new(base, c->listen_fd, EV_READ | EV_PERSIST,
				 on_accept, c);
	if (!c->accept_ev) {
		close(c->listen_fd);
		free(c);
		return -ENOMEM;
	}
	event_add(c->accept_ev, NULL);
	*out = c;
	return 0;
}

void kd_ctl_destroy(struct kd_ctl *c)
{
	if (!c)
		return;
	while (!LIST_EMPTY(&c->clients))
		client_free(LIST_FIRST(&c->clients));
	if (c->accept_ev)
		event_free(c->accept_ev);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c);
}
