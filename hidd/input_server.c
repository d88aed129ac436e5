#include "input_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "log.h"
#include "unix_socket.h"

#define MAX_CONNECTIONS 64
#define PACKETS_PER_WAKEUP 256 /* then let other connections run */

struct conn {
	struct kd_input_server *srv;
	struct conn *next;
	int fd;
	struct event *ev;
	struct kd_input_session *session;
};

struct kd_input_server {
	struct event_base *base;
	int listen_fd;
	struct event *accept_ev;
	struct kd_input_state *st;
	struct conn *conns;
	unsigned n_conns;
	uint8_t buf[KD_IPC_MAX_PACKET];
};

static void conn_close(struct conn *c, const char *why)
{
	struct kd_input_server *srv = c->srv;
	struct conn **pp;
	struct kd_log_fields f = {
		.conn_id = kd_input_session_worker_id(c->session),
		.message_id = why ? KD_MSGID_PROTOCOL_ERROR : NULL,
	};

	if (why)
		kd_log_event(LOG_WARNING, &f, "input connection closed: %s",
			     why);
	else
		kd_log_event(LOG_INFO, &f, "input connection ended");
	for (pp = &srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	srv->n_conns--;
	/* Whatever this worker held goes up now. */
	kd_input_session_end(c->session);
	event_free(c->ev);
	close(c->fd);
	free(c);
}

static int send_status(struct conn *c, bool with_hello)
{
	const struct kd_input_devices *d = kd_input_state_devices(c->srv->st);
	Kdipc__HidToWorker msg = KDIPC__HID_TO_WORKER__INIT;
	Kdipc__Hello hello;
	Kdipc__InputStatus status = KDIPC__INPUT_STATUS__INIT;
	int r;

	if (with_hello) {
		kd_ipc_hello_init(&hello, "hidd", 0);
		msg.msg_case = KDIPC__HID_TO_WORKER__MSG_HELLO;
		msg.hello = &hello;
		r = kd_ipc_send(c->fd, &msg.base, -1);
		if (r < 0)
			return r;
	}
	status.keyboard_online = d->keyboard && kd_hid_device_online(d->keyboard);
	status.mouse_online = d->mouse && kd_hid_device_online(d->mouse);
	status.relative_mouse = d->relative_mouse != NULL;
	msg.msg_case = KDIPC__HID_TO_WORKER__MSG_STATUS;
	msg.status = &status;
	return kd_ipc_send(c->fd, &msg.base, -1);
}

/* One connection per worker: a worker that reconnects replaces its old
 * connection, whose keys go up. */
static void drop_older(struct conn *c)
{
	uint64_t id = kd_input_session_worker_id(c->session);

	if (id == 0)
		return;
	for (struct conn *o = c->srv->conns; o; o = o->next) {
		if (o != c && kd_input_session_hello_done(o->session) &&
		    kd_input_session_worker_id(o->session) == id) {
			conn_close(o, "replaced by a new connection");
			return;
		}
	}
}

static void on_conn_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct kd_input_server *srv = c->srv;

	for (int i = 0; i < PACKETS_PER_WAKEUP; i++) {
		int fd_in = -1;
		ssize_t n = kd_unix_recv(c->fd, srv->buf, sizeof(srv->buf),
					 &fd_in);
		int r;

		if (n == -EAGAIN)
			return;
		if (fd_in >= 0) {
			close(fd_in);
			conn_close(c, "unexpected file descriptor");
			return;
		}
		if (n == 0 || n == -ECONNRESET) {
			conn_close(c, NULL);
			return;
		}
		if (n < 0) {
			conn_close(c, n == -EMSGSIZE ? "packet too large"
						      : strerror((int)-n));
			return;
		}
		kd_input_state_set_time(srv->st, kd_input_clock_ms());
		r = kd_input_session_packet(c->session, srv->buf, (size_t)n);
		if (r == KD_INPUT_HELLO) {
			drop_older(c);
			/* A full socket right after Hello: the worker is not
			 * reading; it learns the status on its next hello. */
			send_status(c, true);
		} else if (r < 0) {
			conn_close(c, r == -EPROTO ? "protocol error (hello)"
						   : "malformed input event");
			return;
		}
	}
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct kd_input_server *srv = arg;
	struct conn *c;
	int cfd = accept4(srv->listen_fd, NULL, NULL,
			  SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	if (!kd_unix_peer_allowed(cfd)) {
		kd_log_event(LOG_WARNING,
			     &(struct kd_log_fields){
				     .message_id = KD_MSGID_PROTOCOL_ERROR},
			     "input connection refused: peer not allowed");
		close(cfd);
		return;
	}
	if (srv->n_conns >= MAX_CONNECTIONS) {
		kd_warn("input connection refused: %u connections",
			srv->n_conns);
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
	c->session = kd_input_session_new(srv->st);
	c->ev = event_new(srv->base, cfd, EV_READ | EV_PERSIST,
			  on_conn_readable, c);
	if (!c->session || !c->ev || event_add(c->ev, NULL) < 0) {
		if (c->session)
			kd_input_session_end(c->session);
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

int kd_input_server_new(struct event_base *base, int listen_fd,
			struct kd_input_state *st,
			struct kd_input_server **out)
{
	struct kd_input_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->listen_fd = listen_fd;
	srv->st = st;
	srv->accept_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
				   on_accept, srv);
	if (!srv->accept_ev || event_add(srv->accept_ev, NULL) < 0) {
		kd_input_server_free(srv);
		return -ENOMEM;
	}
	*out = srv;
	return 0;
}

unsigned kd_input_server_connections(const struct kd_input_server *srv)
{
	return srv->n_conns;
}

void kd_input_server_broadcast_status(struct kd_input_server *srv)
{
	for (struct conn *c = srv->conns; c; c = c->next)
		if (kd_input_session_hello_done(c->session))
			send_status(c, false);
}

void kd_input_server_free(struct kd_input_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns, NULL);
	if (srv->accept_ev)
		event_free(srv->accept_ev);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv);
}
