/* rendezvousd -> sessiond socket hand-off (SCM_RIGHTS, one fd a message). */
#include "handoff.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backoff.h"
#include "ipc.h"
#include "log.h"
#include "rdv_ctx.h"
#include "unix_socket.h"

#define QUEUE_MAX 8
#define QUEUE_WAIT_MS 5000

struct pending {
	int fd;
	char how[8];
	char peer_addr[64];
	bool secure;
	int64_t since_ms;
};

struct kd_handoff {
	struct event_base *base;
	char path[PATH_MAX];
	struct {
		int sock;
		struct event *read_ev;
		struct event *write_ev;
		struct event *retry_ev;
		struct kd_backoff backoff;
		bool logged_down;
		struct pending queue[QUEUE_MAX];
		unsigned queued;
		unsigned handed;
	} rt;
};

static void try_connect(struct kd_handoff *h);

static void drop_connection(struct kd_handoff *h, const char *why)
{
	if (h->rt.sock < 0)
		return;
	kd_log_event(LOG_WARNING,
		     &(struct kd_log_fields){
			     .message_id = KD_MSGID_COMPONENT_LOST},
		     "lost the hand-off connection to sessiond (%s); "
		     "reconnecting", why);
	event_del(h->rt.read_ev);
	event_del(h->rt.write_ev);
	event_free(h->rt.read_ev);
	event_free(h->rt.write_ev);
	h->rt.read_ev = h->rt.write_ev = NULL;
	close(h->rt.sock);
	h->rt.sock = -1;
	struct timeval tv = {0, 0};
	event_add(h->rt.retry_ev, &tv);
}

static void queue_pop(struct kd_handoff *h)
{
	memmove(&h->rt.queue[0], &h->rt.queue[1],
		(h->rt.queued - 1) * sizeof(h->rt.queue[0]));
	h->rt.queued--;
}

/* Drops queued sockets that waited too long: the client gave up by now. */
static void expire_queue(struct kd_handoff *h)
{
	int64_t now = kd_rdv_now_ms();
	while (h->rt.queued &&
	       now - h->rt.queue[0].since_ms > QUEUE_WAIT_MS) {
		kd_warn("sessiond unavailable: dropping a %s connection from "
			"%s", h->rt.queue[0].how, h->rt.queue[0].peer_addr);
		close(h->rt.queue[0].fd);
		queue_pop(h);
	}
}

static void flush(struct kd_handoff *h)
{
	expire_queue(h);
	while (h->rt.sock >= 0 && h->rt.queued) {
		struct pending *p = &h->rt.queue[0];
		Kdipc__Handoff ho = KDIPC__HANDOFF__INIT;
		Kdipc__RendezvousToSession m = KDIPC__RENDEZVOUS_TO_SESSION__INIT;
		ho.how = p->how;
		ho.peer_addr = p->peer_addr;
		ho.secure = p->secure;
		m.msg_case = KDIPC__RENDEZVOUS_TO_SESSION__MSG_HANDOFF;
		m.handoff = &ho;
		int rc = kd_ipc_send(h->rt.sock, &m.base, p->fd);
		if (rc == -EAGAIN) {
			event_add(h->rt.write_ev, NULL);
			return;
		}
		if (rc < 0) {
			drop_connection(h, strerror(-rc));
			return;
		}
		kd_debug("handed a %s connection from %s to sessiond", p->how,
			 p->peer_addr);
		close(p->fd);
		h->rt.handed++;
		queue_pop(h);
	}
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct kd_handoff *h = arg;
	uint8_t buf[256];
	/* sessiond sends nothing on this channel; EOF means it went away. */
	ssize_t n = kd_unix_recv(h->rt.sock, buf, sizeof(buf), NULL);
	if (n == -EAGAIN)
		return;
	drop_connection(h, n == 0 ? "closed" : "unexpected data");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	try_connect(arg);
}

/* kd_unix_connect would block while sessiond's backlog is full; here a
 * full backlog is just another reason to retry. */
static int connect_nonblocking(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void try_connect(struct kd_handoff *h)
{
	int sock = connect_nonblocking(h->path);
	if (sock < 0) {
		if (!h->rt.logged_down)
			kd_notice("sessiond is not reachable at %s (%s); "
				  "retrying", h->path, strerror(-sock));
		h->rt.logged_down = true;
		uint32_t ms = kd_backoff_next(&h->rt.backoff);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		event_add(h->rt.retry_ev, &tv);
		expire_queue(h);
		return;
	}
	Kdipc__Hello hello;
	Kdipc__RendezvousToSession m = KDIPC__RENDEZVOUS_TO_SESSION__INIT;
	kd_ipc_hello_init(&hello, "rendezvousd", 0);
	m.msg_case = KDIPC__RENDEZVOUS_TO_SESSION__MSG_HELLO;
	m.hello = &hello;
	int rc = kd_ipc_send(sock, &m.base, -1);
	if (rc < 0) {
		close(sock);
		uint32_t ms = kd_backoff_next(&h->rt.backoff);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		event_add(h->rt.retry_ev, &tv);
		return;
	}
	h->rt.sock = sock;
	h->rt.read_ev = event_new(h->base, sock, EV_READ | EV_PERSIST,
				  on_read, h);
	h->rt.write_ev = event_new(h->base, sock, EV_WRITE, on_write, h);
	event_add(h->rt.read_ev, NULL);
	kd_backoff_reset(&h->rt.backoff);
	if (h->rt.logged_down)
		kd_log_event(LOG_NOTICE,
			     &(struct kd_log_fields){
				     .message_id =
					     KD_MSGID_COMPONENT_RECONNECTED},
			     "connected to sessiond for connection hand-off");
	h->rt.logged_down = false;
	flush(h);
}

int kd_handoff_new(struct event_base *base, const char *runtime_dir,
		   struct kd_handoff **out)
{
	struct kd_handoff *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->base = base;
	h->rt.sock = -1;
	if ((size_t)snprintf(h->path, sizeof(h->path), "%s/sessiond.sock",
			     runtime_dir) >= sizeof(h->path)) {
		free(h);
		return -ENAMETOOLONG;
	}
	kd_backoff_init(&h->rt.backoff, 200, 5000);
	h->rt.retry_ev = event_new(base, -1, 0, on_retry, h);
	if (!h->rt.retry_ev) {
		free(h);
		return -ENOMEM;
	}
	try_connect(h);
	*out = h;
	return 0;
}

void kd_handoff_destroy(struct kd_handoff *h)
{
	if (!h)
		return;
	if (h->rt.read_ev)
		event_free(h->rt.read_ev);
	if (h->rt.write_ev)
		event_free(h->rt.write_ev);
	if (h->rt.retry_ev)
		event_free(h->rt.retry_ev);
	if (h->rt.sock >= 0)
		close(h->rt.sock);
	for (unsigned i = 0; i < h->rt.queued; i++)
		close(h->rt.queue[i].fd);
	free(h);
}

int kd_handoff_send(struct kd_handoff *h, int fd, const char *how,
		    const char *peer_addr, bool secure)
{
	expire_queue(h);
	if (h->rt.queued == QUEUE_MAX) {
		kd_warn("hand-off queue full: dropping a %s connection from %s",
			how, peer_addr);
		close(fd);
		return -EAGAIN;
	}
	struct pending *p = &h->rt.queue[h->rt.queued++];
	p->fd = fd;
	snprintf(p->how, sizeof(p->how), "%s", how);
	snprintf(p->peer_addr, sizeof(p->peer_addr), "%s", peer_addr);
	p->secure = secure;
	p->since_ms = kd_rdv_now_ms();
	if (h->rt.sock < 0) {
		/* Try now rather than at the next back-off step. */
		event_del(h->rt.retry_ev);
		try_connect(h);
		return 0;
	}
	flush(h);
	return 0;
}

bool kd_handoff_connected(const struct kd_handoff *h)
{
	return h->rt.sock >= 0;
}

unsigned kd_handoff_count(const struct kd_handoff *h)
{
	return h->rt.handed;
}
