/* Worker side of the mediad control channel; see media_client.h. */
#include "media_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "backoff.h"
#include "frame_ring.h"
#include "ipc.h"
#include "log.h"
#include "unix_socket.h"

struct kd_media_client {
	struct event_base *base;
	char path[256];
	uint64_t session_id;
	struct kd_media_client_callbacks cb;

	int fd;
	struct event *io;
	struct event *retry;
	struct kd_backoff backoff;
	bool hello;
	bool logged_lost;
	struct kd_media_status status;

	uint32_t want_codec;     /* survives reconnects */
	uint32_t ratio_permille, fps;
	uint32_t sub_codec;      /* subscribed now (ring valid) */
	int efd;
	struct event *efd_ev;
	struct kd_frame_ring_reader *ring;
};

static void drop_subscription(struct kd_media_client *c)
{
	if (c->efd_ev) {
		event_free(c->efd_ev);
		c->efd_ev = NULL;
	}
	if (c->efd >= 0)
		close(c->efd);
	c->efd = -1;
	kd_frame_ring_reader_destroy(c->ring);
	c->ring = NULL;
	c->sub_codec = 0;
}

static void schedule_retry(struct kd_media_client *c)
{
	uint32_t ms = kd_backoff_next(&c->backoff);
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(c->retry, &tv);
}

static void disconnect(struct kd_media_client *c, const char *why)
{
	bool was_up = c->hello;

	drop_subscription(c);
	if (c->io) {
		event_free(c->io);
		c->io = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->hello = false;
	if (!c->logged_lost) {
		kd_log_event(LOG_WARNING, &(struct kd_log_fields){
				     .message_id = KD_MSGID_COMPONENT_LOST,
				     .conn_id = c->session_id },
			     "mediad link lost: %s; reconnecting", why);
		c->logged_lost = true;
	}
	schedule_retry(c);
	if (was_up && c->cb.lost)
		c->cb.lost(c->cb.ctx);
}

static int send_msg(struct kd_media_client *c, Kdipc__WorkerToMedia *m, int fd)
{
	int r;

	if (c->fd < 0 || !c->hello)
		return -ENOTCONN;
	r = kd_ipc_send(c->fd, &m->base, fd);
	return r;
}

static void on_efd(evutil_socket_t fd, short what, void *arg)
{
	struct kd_media_client *c = arg;
	eventfd_t n;

	if (eventfd_read(fd, &n) == 0 && c->ring && c->cb.frames)
		c->cb.frames(c->cb.ctx);
}

static int send_subscribe(struct kd_media_client *c)
{
	Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
	Kdipc__Subscribe s = KDIPC__SUBSCRIBE__INIT;
	int efd, r;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -errno;
	s.codec = (Kdipc__Codec)c->want_codec;
	m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_SUBSCRIBE;
	m.subscribe = &s;
	r = send_msg(c, &m, efd);
	if (r < 0) {
		close(efd);
		return r;
	}
	drop_subscription(c);
	c->efd = efd;
	return 0;
}

static int send_quality(struct kd_media_client *c)
{
	Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
	Kdipc__SetQuality q = KDIPC__SET_QUALITY__INIT;

	if (!c->sub_codec)
		return -ENOTCONN;
	q.codec = (Kdipc__Codec)c->sub_codec;
	q.ratio_permille = c->ratio_permille;
	q.fps = c->fps;
	m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_QUALITY;
	m.quality = &q;
	return send_msg(c, &m, -1);
}

static void copy_status(struct kd_media_status *st,
			const Kdipc__MediaStatus *ms)
{
	memset(st, 0, sizeof(*st));
	if (ms->mode) {
		st->width = ms->mode->width;
		st->height = ms->mode->height;
		st->fps = ms->mode->fps;
		st->signal = ms->mode->signal;
		snprintf(st->source, sizeof(st->source), "%s",
			 ms->mode->source ? ms->mode->source : "");
	}
	for (size_t i = 0; i < ms->n_encoders &&
			   st->n_codecs < KD_MEDIA_MAX_CODECS; i++) {
		const Kdipc__EncoderInfo *e = ms->encoders[i];

		st->codecs[st->n_codecs].codec = (uint32_t)e->codec;
		st->codecs[st->n_codecs].hardware = e->hardware;
		snprintf(st->codecs[st->n_codecs].encoder,
			 sizeof(st->codecs[0].encoder), "%s",
			 e->encoder ? e->encoder : "");
		st->n_codecs++;
	}
}

static int on_subscribed(struct kd_media_client *c,
			 const Kdipc__SubscribeReply *rep, int fd)
{
	int r = rep->error;

	if ((uint32_t)rep->codec != c->want_codec) {
		if (fd >= 0)
			close(fd);
		return 0; /* a late reply to an older request */
	}
	if (r == 0 && fd < 0)
		return -EPROTO;
	if (r == 0) {
		r = kd_frame_ring_reader_open(fd, &c->ring);
		close(fd);
		if (r == 0 && kd_frame_ring_reader_codec(c->ring) !=
				      c->want_codec)
			r = -EPROTO;
		if (r < 0)
			return r; /* a bad ring from mediad: reconnect */
		c->sub_codec = c->want_codec;
		c->efd_ev = event_new(c->base, c->efd, EV_READ | EV_PERSIST,
				      on_efd, c);
		if (!c->efd_ev || event_add(c->efd_ev, NULL) < 0)
			return -ENOMEM;
		if (c->ratio_permille || c->fps)
			send_quality(c);
	} else {
		if (fd >= 0)
			close(fd);
		if (r > 0)
			r = -EPROTO;
		drop_subscription(c);
		c->want_codec = 0;
	}
	if (c->cb.subscribed)
		c->cb.subscribed(c->cb.ctx, (uint32_t)rep->codec, r);
	return 0;
}

static int handle(struct kd_media_client *c, Kdipc__MediaToWorker *m, int fd)
{
	if (!c->hello) {
		if (m->msg_case != KDIPC__MEDIA_TO_WORKER__MSG_HELLO ||
		    kd_ipc_hello_check(m->hello) < 0 || fd >= 0) {
			if (fd >= 0)
				close(fd);
			return -EPROTO;
		}
		c->hello = true;
		if (c->logged_lost)
			kd_log_event(LOG_NOTICE, &(struct kd_log_fields){
					     .message_id =
						     KD_MSGID_COMPONENT_RECONNECTED,
					     .conn_id = c->session_id },
				     "mediad link back");
		c->logged_lost = false;
		kd_backoff_reset(&c->backoff);
		return 0;
	}
	if (m->msg_case == KDIPC__MEDIA_TO_WORKER__MSG_SUBSCRIBED)
		return on_subscribed(c, m->subscribed, fd);
	if (fd >= 0) {
		close(fd);
		return -EPROTO;
	}
	if (m->msg_case != KDIPC__MEDIA_TO_WORKER__MSG_STATUS)
		return -EPROTO;
	copy_status(&c->status, m->status);
	if (c->cb.status)
		c->cb.status(c->cb.ctx, &c->status);
	/* After a reconnect: the first status, then the old subscription. */
	if (c->want_codec && !c->sub_codec && c->efd < 0)
		send_subscribe(c);
	return 0;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct kd_media_client *c = arg;

	for (int budget = 0; budget < 16; budget++) {
		ProtobufCMessage *msg = NULL;
		int pfd = -1;
		int r = kd_ipc_recv(fd, &kdipc__media_to_worker__descriptor,
				    &msg, &pfd);

		if (r == -EAGAIN)
			return;
		if (r < 0) {
			disconnect(c, r == -ECONNRESET ? "closed"
						       : strerror(-r));
			return;
		}
		r = handle(c, (Kdipc__MediaToWorker *)msg, pfd);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (r < 0) {
			disconnect(c, "protocol error");
			return;
		}
	}
}

static void try_connect(struct kd_media_client *c)
{
	Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
	Kdipc__Hello hello;
	int r;

	c->fd = kd_unix_connect(c->path);
	if (c->fd < 0) {
		r = c->fd;
		c->fd = -1;
		if (!c->logged_lost) {
			kd_log_event(LOG_WARNING, &(struct kd_log_fields){
					     .message_id =
						     KD_MSGID_COMPONENT_LOST,
					     .conn_id = c->session_id },
				     "cannot reach mediad at %s: %s; retrying",
				     c->path, strerror(-r));
			c->logged_lost = true;
		}
		schedule_retry(c);
		return;
	}
	kd_ipc_hello_init(&hello, "sessiond-worker", c->session_id);
	m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_HELLO;
	m.hello = &hello;
	c->io = event_new(c->base, c->fd, EV_READ | EV_PERSIST, on_io, c);
	if (!c->io || event_add(c->io, NULL) < 0 ||
	    kd_ipc_send(c->fd, &m.base, -1) < 0) {
		disconnect(c, "cannot send hello");
		return;
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct kd_media_client *c = arg;

	if (c->fd < 0)
		try_connect(c);
}

int kd_media_client_create(struct event_base *base, const char *socket_path,
			   uint64_t session_id,
			   const struct kd_media_client_callbacks *cb,
			   struct kd_media_client **out)
{
	struct kd_media_client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->base = base;
	snprintf(c->path, sizeof(c->path), "%s", socket_path);
	c->session_id = session_id;
	c->cb = *cb;
	c->fd = c->efd = -1;
	kd_backoff_init(&c->backoff, 100, 2000);
	c->retry = evtimer_new(base, on_retry, c);
	if (!c->retry) {
		free(c);
		return -ENOMEM;
	}
	try_connect(c);
	*out = c;
	return 0;
}

void kd_media_client_destroy(struct kd_media_client *c)
{
	if (!c)
		return;
	drop_subscription(c);
	if (c->io)
		event_free(c->io);
	if (c->fd >= 0)
		close(c->fd);
	if (c->retry)
		event_free(c->retry);
	free(c);
}

bool kd_media_client_ready(const struct kd_media_client *c)
{
	return c->hello && c->status.width;
}

const struct kd_media_status *kd_media_client_status(
	const struct kd_media_client *c)
{
	return &c->status;
}

bool kd_media_client_offers(const struct kd_media_client *c, uint32_t codec)
{
	for (uint32_t i = 0; i < c->status.n_codecs; i++)
		if (c->status.codecs[i].codec == codec)
			return true;
	return false;
}

int kd_media_client_subscribe(struct kd_media_client *c, uint32_t codec)
{
	uint32_t old = c->sub_codec;

	if (old && old != codec) {
		Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
		Kdipc__Unsubscribe u = KDIPC__UNSUBSCRIBE__INIT;

		u.codec = (Kdipc__Codec)old;
		m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_UNSUBSCRIBE;
		m.unsubscribe = &u;
		send_msg(c, &m, -1);
	}
	c->want_codec = codec;
	return send_subscribe(c);
}

void kd_media_client_unsubscribe(struct kd_media_client *c)
{
	Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
	Kdipc__Unsubscribe u = KDIPC__UNSUBSCRIBE__INIT;

	if (c->sub_codec) {
		u.codec = (Kdipc__Codec)c->sub_codec;
		m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_UNSUBSCRIBE;
		m.unsubscribe = &u;
		send_msg(c, &m, -1);
	}
	c->want_codec = 0;
	drop_subscription(c);
}

int kd_media_client_request_keyframe(struct kd_media_client *c)
{
	Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
	Kdipc__RequestKeyframe k = KDIPC__REQUEST_KEYFRAME__INIT;

	if (!c->sub_codec)
		return -ENOTCONN;
	k.codec = (Kdipc__Codec)c->sub_codec;
	m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_KEYFRAME;
	m.keyframe = &k;
	return send_msg(c, &m, -1);
}

int kd_media_client_set_quality(struct kd_media_client *c,
				uint32_t ratio_permille, uint32_t fps)
{
	c->ratio_permille = ratio_permille;
	c->fps = fps;
	return send_quality(c);
}

struct kd_frame_ring_reader *kd_media_client_ring(struct kd_media_client *c)
{
	return c->ring;
}

uint32_t kd_media_client_codec(const struct kd_media_client *c)
{
	return c->sub_codec;
}
