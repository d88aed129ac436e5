#include "ctl_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "log.h"
#include "unix_socket.h"

#define MAX_DETAILS 16
#define MAX_CLIENTS 8

struct ctl_conn {
	struct kd_ctl_server *srv;
	struct ctl_conn *next;
	int fd;
	bool hello_done;
	struct event *ev;
};

struct kd_ctl_server {
	struct event_base *base;
	int listen_fd;
	struct event *accept_ev;
	const char *component;
	kd_ctl_status_fn status;
	void *opaque;
	struct ctl_conn *conns;
	unsigned n_conns;
};

static void ctl_close(struct ctl_conn *c)
{
	struct ctl_conn **pp;

	for (pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->srv->n_conns--;
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static int reply_status(struct ctl_conn *c)
{
	struct kd_ctl_server *srv = c->srv;
	char state[256] = "";
	char details[MAX_DETAILS][2][64];
	size_t n = 0;
	Kdipc__CtlReply msg = KDIPC__CTL_REPLY__INIT;
	Kdipc__StatusReply st = KDIPC__STATUS_REPLY__INIT;
	Kdipc__StatusReply__DetailsEntry entries[MAX_DETAILS];
	Kdipc__StatusReply__DetailsEntry *ptrs[MAX_DETAILS];

	srv->status(srv->opaque, state, sizeof(state), details, &n,
		    MAX_DETAILS);
	for (size_t i = 0; i < n; i++) {
		kdipc__status_reply__details_entry__init(&entries[i]);
		entries[i].key = details[i][0];
		entries[i].value = details[i][1];
		ptrs[i] = &entries[i];
	}
	st.component = (char *)srv->component;
	st.pid = getpid();
	st.state = state;
	st.n_details = n;
	st.details = ptrs;
	msg.msg_case = KDIPC__CTL_REPLY__MSG_STATUS;
	msg.status = &st;
	return kd_ipc_send(c->fd, &msg.base, -1);
}

static int reply_hello(struct ctl_conn *c)
{
	Kdipc__CtlReply msg = KDIPC__CTL_REPLY__INIT;
	Kdipc__Hello hello;

	kd_ipc_hello_init(&hello, c->srv->component, 0);
	msg.msg_case = KDIPC__CTL_REPLY__MSG_HELLO;
	msg.hello = &hello;
	return kd_ipc_send(c->fd, &msg.base, -1);
}

static int reply_close(struct ctl_conn *c)
{
	Kdipc__CtlReply msg = KDIPC__CTL_REPLY__INIT;
	Kdipc__CloseSessionReply rep = KDIPC__CLOSE_SESSION_REPLY__INIT;

	rep.error = -EOPNOTSUPP; /* sessions are closed through sessiond */
	msg.msg_case = KDIPC__CTL_REPLY__MSG_CLOSE_SESSION;
	msg.close_session = &rep;
	return kd_ipc_send(c->fd, &msg.base, -1);
}

static void on_ctl_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;
	ProtobufCMessage *m = NULL;
	Kdipc__CtlRequest *req;
	int r = kd_ipc_recv(c->fd, &kdipc__ctl_request__descriptor, &m, NULL);

	if (r == -EAGAIN)
		return;
	if (r < 0) {
		ctl_close(c);
		return;
	}
	req = (Kdipc__CtlRequest *)m;
	if (!c->hello_done) {
		r = req->msg_case == KDIPC__CTL_REQUEST__MSG_HELLO &&
				    kd_ipc_hello_check(req->hello) == 0
			    ? reply_hello(c)
			    : -EPROTO;
		c->hello_done = r == 0;
	} else if (req->msg_case == KDIPC__CTL_REQUEST__MSG_STATUS) {
		r = reply_status(c);
	} else if (req->msg_case == KDIPC__CTL_REQUEST__MSG_CLOSE_SESSION) {
		r = reply_close(c);
	} else {
		r = -EPROTO;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	if (r < 0)
		ctl_close(c);
}

static void on_ctl_accept(evutil_socket_t fd, short what, void *arg)
{
	struct kd_ctl_server *srv = arg;
	struct ctl_conn *c;
	int cfd = accept4(srv->listen_fd, NULL, NULL,
			  SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	if (!kd_unix_peer_allowed(cfd) || srv->n_conns >= MAX_CLIENTS) {
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->srv = srv;
	c->fd = cfd;
	c->ev = event_new(srv->base, cfd, EV_READ | EV_PERSIST,
			  on_ctl_readable, c);
	if (!c->ev || event_add(c->ev, NULL) < 0) {
		if (c->ev)
			event_free(c->ev);
		close(cfd);
		free(c);
		return;
	}
	c->next = srv->conns;
	srv->conns = c;
	srv->n_conns++;
}

int kd_ctl_server_new(struct event_base *base, int listen_fd,
		      const char *component, kd_ctl_status_fn status,
		      void *opaque, struct kd_ctl_server **out)
{
	struct kd_ctl_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->listen_fd = listen_fd;
	srv->component = component;
	srv->status = status;
	srv->opaque = opaque;
	srv->accept_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
				   on_ctl_accept, srv);
	if (!srv->accept_ev || event_add(srv->accept_ev, NULL) < 0) {
		kd_ctl_server_free(srv);
		return -ENOMEM;
	}
	*out = srv;
	return 0;
}

void kd_ctl_server_free(struct kd_ctl_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		ctl_close(srv->conns);
	if (srv->accept_ev)
		event_free(srv->accept_ev);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv);
}
