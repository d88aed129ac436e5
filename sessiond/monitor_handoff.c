/* sessiond.sock, where rendezvousd hands over connected client sockets
 * (kdipc RendezvousToSession, Hello first, then one Handoff per fd). A
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
	kd_warn("hand-off socket: %s; closing that connection", why);
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

/* ---- accepting --------------------------------------------------------- */

void monitor_accept_peer(evutil_socket_t fd, short what, void *arg)
{
	struct kd_monitor *m = arg;
	struct monitor_peer *p;
	int c;

	(void)what;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	if (kd_unix_peer_allowed(c) <= 0) {
		kd_warn("hand-off socket: connection from a user that may not "
			"talk to sessiond refused");
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
	p->ev = event_new(m->base, c, EV_READ | EV_PERSIST, handoff_readable,
			  p);
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
