/* The monitor's Unix sockets: sessiond.sock, where rendezvousd hands over
 * connected client sockets, and sessiond-ctl.sock, where kvmdeskctl asks
 * for the status and closes sessions. Both speak kdipc with Hello first; a
 * malformed or unexpected packet closes that connection only. */
#include "monitor_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "unix_socket.h"

static void peer_free(struct monitor_peer *p)
{
	struct monitor_peer **pp = &p->m->peers;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	if (p->ev)
		event_free(p->ev);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

void monitor_peers_free(struct kd_monitor *m)
{
	while (m->peers)
		peer_free(m->peers);
}

static void peer_drop(struct monitor_peer *p, const char *why)
{
	kd_warn("%s socket: %s; closing that connection",
		p->ctl ? "control" : "hand-off", why);
	peer_free(p);
}

static bool is_stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

/* ---- hand-off ---------------------------------------------------------- */

static void handoff_readable(evutil_socket_t fd, short what, void *arg)
{
	struct monitor_peer *p = arg;
	ProtobufCMessage *pm = NULL;
	Kdipc__RendezvousToSession *m;
	int passed = -1, r;

	(void)what;
	r = kd_ipc_recv(fd, &kdipc__rendezvous_to_session__descriptor, &pm,
			&passed);
	if (r == -EAGAIN)
		return;
	if (r == -ECONNRESET) {
		peer_free(p);
		return;
	}
	if (r < 0) {
		if (passed >= 0)
			close(passed);
		peer_drop(p, "malformed packet");
		return;
	}
	m = (Kdipc__RendezvousToSession *)pm;
	if (m->msg_case == KDIPC__RENDEZVOUS_TO_SESSION__MSG_HELLO && !p->hello &&
	    passed < 0 && kd_ipc_hello_check(m->hello) == 0) {
		p->hello = true;
	} else if (m->msg_case == KDIPC__RENDEZVOUS_TO_SESSION__MSG_HANDOFF &&
		   p->hello && passed >= 0 && is_stream_socket(passed)) {
		const Kdipc__Handoff *h = m->handoff;
		const char *how = h->how && h->how[0] ? h->how : "relay";

		if (strcmp(how, "punch") && strcmp(how, "lan") &&
		    strcmp(how, "relay"))
			how = "relay";
		monitor_spawn_worker(p->m, passed, how, h->peer_addr, h->secure);
		passed = -1;
	} else {
		if (passed >= 0)
			close(passed);
		protobuf_c_message_free_unpacked(pm, NULL);
		peer_drop(p, "unexpected packet");
		return;
	}
	protobuf_c_message_free_unpacked(pm, NULL);
}

/* ---- control ----------------------------------------------------------- */

static int ctl_status(struct monitor_peer *p)
{
	struct kd_monitor *m = p->m;
	Kdipc__CtlReply rep = KDIPC__CTL_REPLY__INIT;
	Kdipc__StatusReply st = KDIPC__STATUS_REPLY__INIT;
	Kdipc__SessionInfo *infos = NULL, **list = NULL;
	char line[128];
	size_t n = 0;
	int r;

	if (m->n_workers) {
		infos = calloc(m->n_workers, sizeof(*infos));
		list = calloc(m->n_workers, sizeof(*list));
		if (!infos || !list) {
			free(infos);
			free(list);
			return -ENOMEM;
		}
	}
	for (struct monitor_worker *w = m->workers; w && n < m->n_workers;
	     w = w->next, n++) {
		kdipc__session_info__init(&infos[n]);
		infos[n].conn_id = w->conn_id;
		infos[n].peer_id = w->peer_id;
		infos[n].peer_addr = w->addr;
		infos[n].how = w->how;
		infos[n].authorized = w->authorized;
		infos[n].since_unix = (int64_t)w->since;
		infos[n].codec = w->codec;
		infos[n].peer_name = w->peer_name;
		list[n] = &infos[n];
	}
	monitor_status_line(m, line, sizeof(line));
	st.component = "sessiond";
	st.pid = (int32_t)getpid();
	st.state = line;
	st.n_sessions = n;
	st.sessions = list;
	rep.msg_case = KDIPC__CTL_REPLY__MSG_STATUS;
	rep.status = &st;
	r = kd_ipc_send(p->fd, &rep.base, -1);
	free(infos);
	free(list);
	return r;
}

static int ctl_close(struct monitor_peer *p, const Kdipc__CloseSession *c)
{
	Kdipc__CtlReply rep = KDIPC__CTL_REPLY__INIT;
	Kdipc__CloseSessionReply cr = KDIPC__CLOSE_SESSION_REPLY__INIT;
	struct monitor_worker *w = p->m->workers;

	while (w && w->conn_id != c->conn_id)
		w = w->next;
	cr.error = -ENOENT;
	if (w) {
		cr.error = monitor_worker_request_close(
			w, "Closed manually by the peer");
		kd_notice("connection %llu closed by the administrator",
			  (unsigned long long)c->conn_id);
	}
	rep.msg_case = KDIPC__CTL_REPLY__MSG_CLOSE_SESSION;
	rep.close_session = &cr;
	return kd_ipc_send(p->fd, &rep.base, -1);
}

static void ctl_readable(evutil_socket_t fd, short what, void *arg)
{
	struct monitor_peer *p = arg;
	ProtobufCMessage *pm = NULL;
	Kdipc__CtlRequest *q;
	int r;

	(void)what;
	r = kd_ipc_recv(fd, &kdipc__ctl_request__descriptor, &pm, NULL);
	if (r == -EAGAIN)
		return;
	if (r == -ECONNRESET) {
		peer_free(p);
		return;
	}
	if (r < 0) {
		peer_drop(p, "malformed packet");
		return;
	}
	q = (Kdipc__CtlRequest *)pm;
	if (q->msg_case == KDIPC__CTL_REQUEST__MSG_HELLO && !p->hello &&
	    kd_ipc_hello_check(q->hello) == 0) {
		Kdipc__CtlReply rep = KDIPC__CTL_REPLY__INIT;
		Kdipc__Hello h = KDIPC__HELLO__INIT;

		p->hello = true;
		kd_ipc_hello_init(&h, "sessiond", 0);
		rep.msg_case = KDIPC__CTL_REPLY__MSG_HELLO;
		rep.hello = &h;
		r = kd_ipc_send(fd, &rep.base, -1);
	} else if (p->hello && q->msg_case == KDIPC__CTL_REQUEST__MSG_STATUS) {
		r = ctl_status(p);
	} else if (p->hello &&
		   q->msg_case == KDIPC__CTL_REQUEST__MSG_CLOSE_SESSION) {
		r = ctl_close(p, q->close_session);
	} else {
		r = -EPROTO;
	}
	protobuf_c_message_free_unpacked(pm, NULL);
	if (r < 0)
		peer_drop(p, r == -EPROTO ? "unexpected request" :
					    "cannot reply");
}

/* ---- accepting --------------------------------------------------------- */

void monitor_accept_peer(evutil_socket_t fd, short what, void *arg)
{
	struct kd_monitor *m = arg;
	bool ctl = fd == m->ctl_fd;
	struct monitor_peer *p;
	int c;

	(void)what;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	if (kd_unix_peer_allowed(c) <= 0) {
		kd_warn("%s socket: connection from a user that may not talk "
			"to sessiond refused", ctl ? "control" : "hand-off");
		close(c);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(c);
		return;
	}
	p->m = m;
	p->fd = c;
	p->ctl = ctl;
	p->ev = event_new(m->base, c, EV_READ | EV_PERSIST,
			  ctl ? ctl_readable : handoff_readable, p);
	if (!p->ev || event_add(p->ev, NULL) < 0) {
		p->next = NULL;
		if (p->ev)
			event_free(p->ev);
		close(c);
		free(p);
		return;
	}
	p->next = m->peers;
	m->peers = p;
}
