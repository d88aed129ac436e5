#include "ctl_server.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "listen_fds.h"
#include "log.h"
#include "unix_socket.h"

struct ctl_conn {
	struct kd_ctl_server *srv;
	struct ctl_conn *next;
	struct event *ev;
	int fd;
	bool hello_done;
};

struct kd_ctl_server {
	/* configuration */
	struct event_base *base;
	const struct kd_ctl_ops *ops;
	void *data;
	char component[32];
	char path[108];
	/* runtime */
	int listen_fd;
	bool bound_path; /* we created the socket file, so we remove it */
	struct event *listen_ev;
	struct ctl_conn *conns;
	unsigned n_conns;
};

struct kd_ctl_status {
	Kdipc__StatusReply msg;
	size_t sessions_cap;
	size_t details_cap;
};

/* ---- status building --------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void free_string(char *s)
{
	if (s != protobuf_c_empty_string)
		free(s);
}

static void status_free(struct kd_ctl_status *st)
{
	free_string(st->msg.state);
	for (size_t i = 0; i < st->msg.n_sessions; i++) {
		Kdipc__SessionInfo *s = st->msg.sessions[i];
		free_string(s->peer_id);
		free_string(s->peer_addr);
		free_string(s->how);
		free_string(s->codec);
		free_string(s->peer_name);
		free(s);
	}
	free(st->msg.sessions);
	for (size_t i = 0; i < st->msg.n_details; i++) {
		free_string(st->msg.details[i]->key);
		free_string(st->msg.details[i]->value);
		free(st->msg.details[i]);
	}
	free(st->msg.details);
}

/* Grows *array (of pointers) so that one more fits. */
static int reserve(void ***array, size_t n, size_t *cap)
{
	if (n < *cap)
		return 0;
	size_t new_cap = *cap ? *cap * 2 : 8;
	void **a = realloc(*array, new_cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	*array = a;
	*cap = new_cap;
	return 0;
}

int kd_ctl_status_set_state(struct kd_ctl_status *st, const char *state)
{
	char *s = dup_or_empty(state);
	if (!s)
		return -ENOMEM;
	free_string(st->msg.state);
	st->msg.state = s;
	return 0;
}

int kd_ctl_status_add_detail(struct kd_ctl_status *st, const char *key,
			     const char *value)
{
	if (reserve((void ***)&st->msg.details, st->msg.n_details,
		    &st->details_cap) < 0)
		return -ENOMEM;
	Kdipc__StatusReply__DetailsEntry *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	kdipc__status_reply__details_entry__init(e);
	e->key = dup_or_empty(key);
	e->value = dup_or_empty(value);
	if (!e->key || !e->value) {
		free(e->key);
		free(e->value);
		free(e);
		return -ENOMEM;
	}
	st->msg.details[st->msg.n_details++] = e;
	return 0;
}

int kd_ctl_status_add_session(struct kd_ctl_status *st,
			      const struct kd_ctl_session *session)
{
	if (reserve((void ***)&st->msg.sessions, st->msg.n_sessions,
		    &st->sessions_cap) < 0)
		return -ENOMEM;
	Kdipc__SessionInfo *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	kdipc__session_info__init(s);
	s->conn_id = session->conn_id;
	s->authorized = session->authorized;
	s->since_unix = session->since_unix;
	s->peer_id = dup_or_empty(session->peer_id);
	s->peer_addr = dup_or_empty(session->peer_addr);
	s->how = dup_or_empty(session->how);
	s->codec = dup_or_empty(session->codec);
	s->peer_name = dup_or_empty(session->peer_name);
	if (!s->peer_id || !s->peer_addr || !s->how || !s->codec ||
	    !s->peer_name) {
		free(s->peer_id);
		free(s->peer_addr);
		free(s->how);
		free(s->codec);
		free(s->peer_name);
		free(s);
		return -ENOMEM;
	}
	st->msg.sessions[st->msg.n_sessions++] = s;
	return 0;
}

/* ---- connections ------------------------------------------------------- */

static void conn_close(struct ctl_conn *c)
{
	struct kd_ctl_server *srv = c->srv;
	for (struct ctl_conn **p = &srv->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	srv->n_conns--;
	if (c->ev)
		event_free(c->ev);
	close(c->fd);
	free(c);
}

static void protocol_error(struct ctl_conn *c, const char *what)
{
	struct kd_log_fields f = { .message_id = KD_MSGID_PROTOCOL_ERROR };
	kd_log_event(LOG_WARNING, &f, "%s control connection: %s; closed",
		     c->srv->component, what);
	conn_close(c);
}

static int send_reply(struct ctl_conn *c, Kdipc__CtlReply *reply)
{
	int r = kd_ipc_send(c->fd, &reply->base, -1);
	if (r < 0 && r != -EMSGSIZE)
		kd_debug("%s control connection: send: %s", c->srv->component,
			 strerror(-r));
	return r;
}

static int reply_hello(struct ctl_conn *c)
{
	Kdipc__Hello hello;
	kd_ipc_hello_init(&hello, c->srv->component, 0);
	Kdipc__CtlReply reply = KDIPC__CTL_REPLY__INIT;
	reply.msg_case = KDIPC__CTL_REPLY__MSG_HELLO;
	reply.hello = &hello;
	return send_reply(c, &reply);
}

static int reply_status(struct ctl_conn *c)
{
	struct kd_ctl_status st = { .msg = KDIPC__STATUS_REPLY__INIT };
	st.msg.component = c->srv->component;
	st.msg.pid = (int32_t)getpid();
	c->srv->ops->status(c->srv->data, &st);

	Kdipc__CtlReply reply = KDIPC__CTL_REPLY__INIT;
	reply.msg_case = KDIPC__CTL_REPLY__MSG_STATUS;
	reply.status = &st.msg;
	int r = send_reply(c, &reply);
	if (r == -EMSGSIZE) {
		/* Too many sessions for one packet: say so rather than fail. */
		char n[32];
		snprintf(n, sizeof(n), "%zu", st.msg.n_sessions);
		size_t keep = st.msg.n_sessions;
		st.msg.n_sessions = 0;
		if (kd_ctl_status_add_detail(&st, "sessions_omitted", n) == 0)
			r = send_reply(c, &reply);
		st.msg.n_sessions = keep;
	}
	status_free(&st);
	return r;
}

static int reply_close_session(struct ctl_conn *c, uint64_t conn_id)
{
	Kdipc__CloseSessionReply res = KDIPC__CLOSE_SESSION_REPLY__INIT;
	const struct kd_ctl_ops *ops = c->srv->ops;
	res.error = ops->close_session
			    ? ops->close_session(c->srv->data, conn_id)
			    : -EOPNOTSUPP;
	Kdipc__CtlReply reply = KDIPC__CTL_REPLY__INIT;
	reply.msg_case = KDIPC__CTL_REPLY__MSG_CLOSE_SESSION;
	reply.close_session = &res;
	return send_reply(c, &reply);
}

static int reply_reload(struct ctl_conn *c)
{
	Kdipc__ReloadReply res = KDIPC__RELOAD_REPLY__INIT;
	const struct kd_ctl_ops *ops = c->srv->ops;
	char message[512] = "";
	res.error = ops->reload ? ops->reload(c->srv->data, message,
					      sizeof(message))
				: -EOPNOTSUPP;
	res.message = message;
	Kdipc__CtlReply reply = KDIPC__CTL_REPLY__INIT;
	reply.msg_case = KDIPC__CTL_REPLY__MSG_RELOAD;
	reply.reload = &res;
	return send_reply(c, &reply);
}

/* Returns NULL to keep the connection, or why it must close. */
static const char *handle(struct ctl_conn *c, const Kdipc__CtlRequest *req)
{
	if (!c->hello_done) {
		if (req->msg_case != KDIPC__CTL_REQUEST__MSG_HELLO)
			return "request before Hello";
		if (kd_ipc_hello_check(req->hello) < 0)
			return "unsupported protocol version";
		c->hello_done = true;
		return reply_hello(c) < 0 ? "cannot reply" : NULL;
	}
	switch (req->msg_case) {
	case KDIPC__CTL_REQUEST__MSG_STATUS:
		return reply_status(c) < 0 ? "cannot reply" : NULL;
	case KDIPC__CTL_REQUEST__MSG_CLOSE_SESSION:
		if (!req->close_session)
			return "empty close_session";
		return reply_close_session(c, req->close_session->conn_id) < 0
			       ? "cannot reply"
			       : NULL;
	case KDIPC__CTL_REQUEST__MSG_RELOAD:
		return reply_reload(c) < 0 ? "cannot reply" : NULL;
	case KDIPC__CTL_REQUEST__MSG_HELLO:
		return "second Hello";
	default:
		return "unknown request";
	}
}

static void on_conn_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;
	if (what & EV_TIMEOUT) {
		/* kvmdeskctl asks and goes: an idle client only holds a slot. */
		kd_debug("%s control connection idle; closed", c->srv->component);
		conn_close(c);
		return;
	}
	ProtobufCMessage *m = NULL;
	int passed_fd = -1;
	int r = kd_ipc_recv(fd, &kdipc__ctl_request__descriptor, &m,
			    &passed_fd);
	if (r == -EAGAIN)
		return;
	if (r == -ECONNRESET) {
		conn_close(c);
		return;
	}
	if (r < 0) {
		protocol_error(c, r == -EBADMSG ? "malformed request"
						: strerror(-r));
		return;
	}
	if (passed_fd >= 0) {
		close(passed_fd);
		protobuf_c_message_free_unpacked(m, NULL);
		protocol_error(c, "unexpected file descriptor");
		return;
	}
	const char *why = handle(c, (const Kdipc__CtlRequest *)m);
	protobuf_c_message_free_unpacked(m, NULL);
	if (why)
		protocol_error(c, why);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct kd_ctl_server *srv = arg;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			kd_warn("%s control socket: accept: %s", srv->component,
				strerror(errno));
		return;
	}
	int allowed = kd_unix_peer_allowed(cfd);
	if (allowed <= 0) {
		struct ucred cred = { 0 };
		kd_unix_peercred(cfd, &cred);
		kd_warn("%s control socket: refused pid %d uid %u (not root, "
			"our user or our group)",
			srv->component, (int)cred.pid, (unsigned)cred.uid);
		close(cfd);
		return;
	}
	if (srv->n_conns >= KD_CTL_MAX_CLIENTS) {
		kd_warn("%s control socket: too many clients", srv->component);
		close(cfd);
		return;
	}
	struct ctl_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->srv = srv;
	c->fd = cfd;
	c->ev = event_new(srv->base, cfd, EV_READ | EV_PERSIST,
			  on_conn_readable, c);
	struct timeval idle = { .tv_sec = KD_CTL_IDLE_TIMEOUT_S };
	if (!c->ev || event_add(c->ev, &idle) < 0) {
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

/* ---- server ------------------------------------------------------------ */

static int open_socket(struct kd_ctl_server *srv, const char *runtime_dir)
{
	char name[48], bound[sizeof(srv->path)];
	snprintf(name, sizeof(name), "%s-ctl", srv->component);
	int r = kd_ctl_socket_path(runtime_dir, srv->component, srv->path,
				   sizeof(srv->path));
	if (r < 0)
		return r;
	int fd = kd_listen_unix(runtime_dir, name, KD_CTL_SOCKET_MODE, bound,
				sizeof(bound));
	if (fd < 0)
		return fd;
	srv->listen_fd = fd;
	srv->bound_path = bound[0] != '\0';
	return 0;
}

int kd_ctl_server_start(struct event_base *base, const char *runtime_dir,
			const char *component, const struct kd_ctl_ops *ops,
			void *data, struct kd_ctl_server **out)
{
	if (!base || !runtime_dir || !component || !ops || !ops->status ||
	    strlen(component) >= sizeof(((struct kd_ctl_server *)0)->component))
		return -EINVAL;
	struct kd_ctl_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->base = base;
	srv->ops = ops;
	srv->data = data;
	srv->listen_fd = -1;
	snprintf(srv->component, sizeof(srv->component), "%s", component);

	int r = open_socket(srv, runtime_dir);
	if (r < 0) {
		kd_err("%s: cannot open control socket %s: %s", component,
		       srv->path[0] ? srv->path : "(systemd)", strerror(-r));
		goto fail;
	}
	srv->listen_ev = event_new(base, srv->listen_fd, EV_READ | EV_PERSIST,
				   on_accept, srv);
	if (!srv->listen_ev || event_add(srv->listen_ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	kd_ctl_server_destroy(srv);
	return r;
}

void kd_ctl_server_destroy(struct kd_ctl_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->listen_ev)
		event_free(srv->listen_ev);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->bound_path)
		unlink(srv->path);
	free(srv);
}

const char *kd_ctl_server_path(const struct kd_ctl_server *srv)
{
	return srv->path;
}

/* ---- client ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for one reply packet until deadline. */
static int recv_reply(int fd, int64_t deadline, Kdipc__CtlReply **out)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		ProtobufCMessage *m = NULL;
		int r = kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, &m, NULL);
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return r == -EBADMSG ? -EPROTO : r;
		*out = (Kdipc__CtlReply *)m;
		return 0;
	}
}

/* Non-blocking connect: a daemon that stopped accepting (full backlog)
 * makes connect() fail with EAGAIN instead of hanging kvmdeskctl. */
static int connect_until(const char *path, int64_t deadline)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		int err = errno;
		if (err != EAGAIN && err != EINTR) {
			close(fd);
			return -err;
		}
		if (now_ms() >= deadline) {
			close(fd);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, 20);
	}
}

int kd_ctl_call(const char *path, const Kdipc__CtlRequest *req,
		int timeout_ms, Kdipc__CtlReply **reply)
{
	int64_t deadline = now_ms() + timeout_ms;
	Kdipc__CtlReply *hello_reply = NULL;
	int fd = connect_until(path, deadline);
	if (fd < 0)
		return fd;

	Kdipc__Hello hello;
	kd_ipc_hello_init(&hello, "kvmdeskctl", 0);
	Kdipc__CtlRequest hello_req = KDIPC__CTL_REQUEST__INIT;
	hello_req.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	hello_req.hello = &hello;
	int r = kd_ipc_send(fd, &hello_req.base, -1);
	if (r < 0)
		goto out;
	r = recv_reply(fd, deadline, &hello_reply);
	if (r < 0)
		goto out;
	if (hello_reply->msg_case != KDIPC__CTL_REPLY__MSG_HELLO ||
	    kd_ipc_hello_check(hello_reply->hello) < 0) {
		r = -EPROTO;
		goto out;
	}
	r = kd_ipc_send(fd, &req->base, -1);
	if (r < 0)
		goto out;
	r = recv_reply(fd, deadline, reply);
	if (r < 0)
		goto out;
	/* The answer must match the question. */
	if ((int)(*reply)->msg_case != (int)req->msg_case) {
		protobuf_c_message_free_unpacked(&(*reply)->base, NULL);
		*reply = NULL;
		r = -EPROTO;
	}
out:
	if (hello_reply)
		protobuf_c_message_free_unpacked(&hello_reply->base, NULL);
	close(fd);
	return r;
}

int kd_ctl_call_status(const char *path, int timeout_ms,
		       Kdipc__CtlReply **reply)
{
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	return kd_ctl_call(path, &req, timeout_ms, reply);
}

int kd_ctl_call_close_session(const char *path, uint64_t conn_id,
			      int timeout_ms, int *error)
{
	Kdipc__CloseSession cs = KDIPC__CLOSE_SESSION__INIT;
	cs.conn_id = conn_id;
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	req.msg_case = KDIPC__CTL_REQUEST__MSG_CLOSE_SESSION;
	req.close_session = &cs;
	Kdipc__CtlReply *reply = NULL;
	int r = kd_ctl_call(path, &req, timeout_ms, &reply);
	if (r < 0)
		return r;
	*error = reply->close_session ? reply->close_session->error : -EPROTO;
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	return 0;
}

int kd_ctl_call_reload(const char *path, int timeout_ms, int *error,
		       char *message, size_t len)
{
	Kdipc__Reload rl = KDIPC__RELOAD__INIT;
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	req.msg_case = KDIPC__CTL_REQUEST__MSG_RELOAD;
	req.reload = &rl;
	Kdipc__CtlReply *reply = NULL;
	int r = kd_ctl_call(path, &req, timeout_ms, &reply);
	if (r < 0)
		return r;
	*error = reply->reload ? reply->reload->error : -EPROTO;
	if (message && len)
		snprintf(message, len, "%s",
			 reply->reload && reply->reload->message
				 ? reply->reload->message
				 : "");
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	return 0;
}

int kd_ctl_socket_path(const char *runtime_dir, const char *component,
		       char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s-ctl.sock", runtime_dir, component);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
