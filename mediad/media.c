/* mediad core: source -> encoders (one per codec in use) -> rings, and the
 * control channel that subscribes session workers to them. media.h has the
 * channel's rules. */
#include "media.h"
#include "video_bitrate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <libavutil/frame.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "encoder.h"
#include "frame_ring.h"
#include "ipc.h"
#include "listen_fds.h"
#include "audio_pipeline.h"
#include "ctl_server.h"
#include "log.h"
#include "source.h"
#include "unix_socket.h"
#include "v4l2_source.h"

struct pipeline {
	struct kd_media *m;
	size_t idx;              /* its Kdipc__Codec */
	bool available;
	struct kd_encoder_choice choice;
	struct kd_frame_ring_writer *ring;
	struct kd_encoder *enc;
	int notify_fd;
	struct event *notify_ev;
	unsigned subscribers;
	uint32_t bitrate_kbps;   /* latest requested, 0 = default */
};

struct subscription {
	bool on;
	int efd;
	uint32_t fps;
};


struct conn {
	struct kd_media *m;
	struct conn *next;
	int fd;
	struct event *ev;
	bool hello;
	uint64_t session_id;
	pid_t pid;
	struct subscription subs[KD_MEDIA_CODECS];
};

struct kd_media {
	struct event_base *base;
	struct kd_media_config cfg;
	struct kd_source *source;
	struct pipeline pipes[KD_MEDIA_CODECS];
	struct conn *conns;
	struct kd_audio_pipeline *audio; /* NULL: [audio] source = none */
	int listen_fd;
	struct event *listen_ev;
	struct kd_ctl_server *ctl;
	char status[256];
};

static const Kdipc__Codec all_codecs[] = {
	KDIPC__CODEC__CODEC_H264, KDIPC__CODEC__CODEC_H265,
	KDIPC__CODEC__CODEC_VP8, KDIPC__CODEC__CODEC_VP9,
	KDIPC__CODEC__CODEC_AV1,
};

int kd_media_config_read(const struct kd_config *cfg,
			 struct kd_media_config *out)
{
	struct kd_general_config g;
	long w, h, fps;

	memset(out, 0, sizeof(*out));
	if (kd_general_config_read(cfg, &g) < 0)
		return -EINVAL;
	snprintf(out->runtime_dir, sizeof(out->runtime_dir), "%s",
		 g.runtime_dir);
	snprintf(out->source, sizeof(out->source), "%s",
		 kd_config_get_or(cfg, "video", "source", "/dev/video0"));
	snprintf(out->codecs, sizeof(out->codecs), "%s",
		 kd_config_get_or(cfg, "video", "codecs", ""));
	snprintf(out->audio_source, sizeof(out->audio_source), "%s",
		 kd_config_get_or(cfg, "audio", "source", "none"));
	if (kd_config_get_long(cfg, "video", "width", 1920, 16, 8192, &w) ||
	    kd_config_get_long(cfg, "video", "height", 1080, 16, 8192, &h) ||
	    kd_config_get_long(cfg, "video", "fps", 30, 1, 120, &fps))
		return -EINVAL;
	if (w % 2 || h % 2) {
		kd_err("[video] width and height must be even");
		return -EINVAL;
	}
	out->width = (uint32_t)w;
	out->height = (uint32_t)h;
	out->fps = (uint32_t)fps;
	return 0;
}

static bool codec_wanted(const struct kd_media_config *cfg, Kdipc__Codec c)
{
	const char *name = kd_codec_name(c), *p = cfg->codecs;
	size_t n = strlen(name);

	if (!*p)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == cfg->codecs || p[-1] == ',' || p[-1] == ' ') &&
		    (p[n] == 0 || p[n] == ',' || p[n] == ' '))
			return true;
		p += n;
	}
	return false;
}

void kd_media_status_line(struct kd_media *m, char *buf, size_t len)
{
	const struct kd_source_mode *mode = &m->source->mode;
	int n = snprintf(buf, len, "%s %ux%u@%u%s", m->source->name,
			 mode->width, mode->height, mode->fps,
			 mode->signal ? "" : " (no signal)");

	for (size_t i = 0; i < KD_MEDIA_CODECS && n > 0 && (size_t)n < len; i++)
		if (m->pipes[i].enc)
			n += snprintf(buf + n, len - (size_t)n, ", %s:%u",
				      kd_codec_name((Kdipc__Codec)i),
				      m->pipes[i].subscribers);
	if (m->audio && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ", audio %s:%u",
			 kd_audio_pipeline_source(m->audio),
			 kd_audio_pipeline_listeners(m->audio));
}

static void update_status(struct kd_media *m)
{
	char line[256];

	kd_media_status_line(m, line, sizeof(line));
	if (strcmp(line, m->status)) {
		snprintf(m->status, sizeof(m->status), "%s", line);
		sd_notifyf(0, "STATUS=%s", line);
	}
}

/* ---- frames ---- */

static void on_frame(void *ctx, const AVFrame *f, uint64_t capture_ns)
{
	struct kd_media *m = ctx;

	for (size_t i = 0; i < KD_MEDIA_CODECS; i++)
		if (m->pipes[i].enc)
			kd_encoder_submit(m->pipes[i].enc, f, capture_ns);
}

static void send_status(struct kd_media *m, struct conn *c);

static void on_mode(void *ctx, const struct kd_source_mode *mode)
{
	struct kd_media *m = ctx;

	for (struct conn *c = m->conns; c; c = c->next)
		if (c->hello)
			send_status(m, c);
	update_status(m);
}

/* An encoder published: wake every subscriber of that codec. */
static void on_encoded(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	size_t idx = p->idx;
	eventfd_t n;

	if (eventfd_read(fd, &n) < 0)
		return;
	for (struct conn *c = p->m->conns; c; c = c->next)
		if (c->subs[idx].on)
			eventfd_write(c->subs[idx].efd, 1);
}

static int pipeline_start(struct kd_media *m, struct pipeline *p)
{
	struct kd_encoder_config ec = {
		.choice = p->choice,
		.fps = m->source->mode.fps,
		.bitrate_kbps = p->bitrate_kbps,
	};
	int r;

	if (!p->ring) {
		struct kd_frame_ring_params rp = { .codec = p->choice.codec };

		r = kd_frame_ring_writer_create(&rp, &p->ring);
		if (r < 0)
			return r;
		p->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->notify_fd < 0)
			return -errno;
		p->notify_ev = event_new(m->base, p->notify_fd,
					 EV_READ | EV_PERSIST, on_encoded, p);
		if (!p->notify_ev || event_add(p->notify_ev, NULL) < 0)
			return -ENOMEM;
	}
	r = kd_encoder_start(&ec, p->ring, p->notify_fd, &p->enc);
	if (r < 0)
		return r;
	kd_log_event(LOG_INFO, &(struct kd_log_fields){
			     .message_id = KD_MSGID_ENCODER_SELECTED },
		     "encoding %s with %s", kd_codec_name(p->choice.codec),
		     p->choice.name);
	return 0;
}

static bool any_subscriber(struct kd_media *m)
{
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++)
		if (m->pipes[i].subscribers)
			return true;
	return false;
}

/* The fps ceiling is the lowest any subscriber asked for (spec §3.4). */
static void apply_params(struct kd_media *m, size_t idx)
{
	struct pipeline *p = &m->pipes[idx];
	uint32_t fps = 0;

	if (!p->enc)
		return;
	for (struct conn *c = m->conns; c; c = c->next)
		if (c->subs[idx].on && c->subs[idx].fps &&
		    (!fps || c->subs[idx].fps < fps))
			fps = c->subs[idx].fps;
	if (fps >= m->source->mode.fps)
		fps = 0;
	kd_encoder_set_params(p->enc, p->bitrate_kbps, fps);
}

static void unsubscribe(struct kd_media *m, struct conn *c, size_t idx)
{
	struct pipeline *p = &m->pipes[idx];

	if (!c->subs[idx].on)
		return;
	c->subs[idx].on = false;
	close(c->subs[idx].efd);
	c->subs[idx].efd = -1;
	if (--p->subscribers == 0) {
		/* Nobody watches this codec: stop encoding it. */
		kd_encoder_stop(p->enc);
		p->enc = NULL;
		if (!any_subscriber(m))
			kd_source_set_active(m->source, false);
	} else {
		apply_params(m, idx);
	}
	update_status(m);
}

/* ---- connections ---- */

static void conn_close(struct conn *c, const char *why)
{
	struct kd_media *m = c->m;

	if (why)
		kd_log_event(LOG_WARNING, &(struct kd_log_fields){
				     .message_id = KD_MSGID_PROTOCOL_ERROR,
				     .conn_id = c->session_id },
			     "closing control connection (pid %d): %s",
			     (int)c->pid, why);
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++)
		unsubscribe(m, c, i);
	if (m->audio) {
		kd_audio_pipeline_unsubscribe(m->audio, c);
		update_status(m);
	}
	for (struct conn **pp = &m->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->ev)
		event_free(c->ev);
	close(c->fd);
	free(c);
}

static int send_worker(struct conn *c, Kdipc__MediaToWorker *msg, int fd)
{
	int r = kd_ipc_send(c->fd, &msg->base, fd);

	/* A worker that does not read its control socket is broken: its
	 * socket buffer holds many status messages. */
	if (r < 0)
		kd_debug("send to worker pid %d: %s", (int)c->pid, strerror(-r));
	return r;
}

static void send_status(struct kd_media *m, struct conn *c)
{
	Kdipc__MediaToWorker msg = KDIPC__MEDIA_TO_WORKER__INIT;
	Kdipc__MediaStatus st = KDIPC__MEDIA_STATUS__INIT;
	Kdipc__SourceMode mode = KDIPC__SOURCE_MODE__INIT;
	Kdipc__EncoderInfo infos[KD_MEDIA_CODECS + 1], *ptrs[KD_MEDIA_CODECS + 1];
	size_t n = 0;

	mode.width = m->source->mode.width;
	mode.height = m->source->mode.height;
	mode.fps = m->source->mode.fps;
	mode.source = (char *)m->source->name;
	mode.signal = m->source->mode.signal;
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++) {
		if (!m->pipes[i].available)
			continue;
		kdipc__encoder_info__init(&infos[n]);
		infos[n].codec = (Kdipc__Codec)i;
		infos[n].encoder = (char *)m->pipes[i].choice.name;
		infos[n].hardware = m->pipes[i].choice.hardware;
		ptrs[n] = &infos[n];
		n++;
	}
	if (m->audio) {
		kdipc__encoder_info__init(&infos[n]);
		infos[n].codec = KDIPC__CODEC__CODEC_OPUS;
		infos[n].encoder = "libopus";
		ptrs[n] = &infos[n];
		n++;
	}
	st.mode = &mode;
	st.n_encoders = n;
	st.encoders = ptrs;
	msg.msg_case = KDIPC__MEDIA_TO_WORKER__MSG_STATUS;
	msg.status = &st;
	send_worker(c, &msg, -1);
}

static void reply_subscribe(struct conn *c, Kdipc__Codec codec, int error,
			    int ring_fd)
{
	Kdipc__MediaToWorker msg = KDIPC__MEDIA_TO_WORKER__INIT;
	Kdipc__SubscribeReply rep = KDIPC__SUBSCRIBE_REPLY__INIT;

	rep.codec = codec;
	rep.error = error;
	msg.msg_case = KDIPC__MEDIA_TO_WORKER__MSG_SUBSCRIBED;
	msg.subscribed = &rep;
	send_worker(c, &msg, ring_fd);
}

static bool codec_index(Kdipc__Codec codec, size_t *idx)
{
	if (codec <= 0 || codec >= KD_MEDIA_CODECS)
		return false;
	*idx = (size_t)codec;
	return true;
}

/* The fd a Subscribe carries must be an eventfd, and writing to it must
 * never block the loop (a hostile worker could pass a full pipe). */
static bool usable_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n >= 0) {
		link[n] = 0;
		if (strcmp(link, "anon_inode:[eventfd]") != 0)
			return false;
	}
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0;
}

static void handle_subscribe(struct conn *c, const Kdipc__Subscribe *s, int efd)
{
	struct kd_media *m = c->m;
	struct pipeline *p;
	size_t idx;
	int r;

	if (s->codec == KDIPC__CODEC__CODEC_OPUS && m->audio) {
		r = kd_audio_pipeline_subscribe(m->audio, c, efd);
		reply_subscribe(c, s->codec, r,
				r < 0 ? -1 : kd_audio_pipeline_ring_fd(m->audio));
		update_status(m);
		return;
	}
	if (!codec_index(s->codec, &idx) || !m->pipes[idx].available) {
		close(efd);
		reply_subscribe(c, s->codec, -ENOTSUP, -1);
		return;
	}
	p = &m->pipes[idx];
	if (c->subs[idx].on) { /* a new eventfd replaces the old one */
		close(c->subs[idx].efd);
		c->subs[idx].efd = efd;
		reply_subscribe(c, s->codec, 0, kd_frame_ring_writer_fd(p->ring));
		kd_encoder_request_keyframe(p->enc);
		return;
	}
	if (!p->enc) {
		r = pipeline_start(m, p);
		if (r < 0) {
			close(efd);
			kd_err("cannot start %s encoder: %s",
			       kd_codec_name(s->codec), strerror(-r));
			reply_subscribe(c, s->codec, r, -1);
			return;
		}
	}
	c->subs[idx] = (struct subscription){ .on = true, .efd = efd };
	p->subscribers++;
	kd_source_set_active(m->source, true);
	apply_params(m, idx);
	reply_subscribe(c, s->codec, 0, kd_frame_ring_writer_fd(p->ring));
	/* A new viewer starts with a keyframe (spec session §2.1). */
	kd_encoder_request_keyframe(p->enc);
	update_status(m);
}

static void handle_quality(struct conn *c, const Kdipc__SetQuality *q)
{
	struct kd_media *m = c->m;
	struct pipeline *p;
	size_t idx;

	if (!codec_index(q->codec, &idx) || !c->subs[idx].on)
		return;
	p = &m->pipes[idx];
	if (q->bitrate_kbps)
		p->bitrate_kbps = q->bitrate_kbps > 100000 ? 100000
							  : q->bitrate_kbps;
	else if (q->ratio_permille)
		p->bitrate_kbps = kd_video_bitrate_kbps(
			p->choice.codec, p->choice.hardware,
			m->source->mode.width, m->source->mode.height,
			(q->ratio_permille > 40000 ? 40000 : q->ratio_permille) /
				1000.0);
	c->subs[idx].fps = q->fps > 120 ? 120 : q->fps;
	apply_params(m, idx);
}

/* Returns false when the connection must close. */
static bool handle_worker(struct conn *c, Kdipc__WorkerToMedia *msg, int fd)
{
	size_t idx;

	if (!c->hello) {
		if (msg->msg_case != KDIPC__WORKER_TO_MEDIA__MSG_HELLO ||
		    kd_ipc_hello_check(msg->hello) < 0 || fd >= 0)
			return false;
		Kdipc__MediaToWorker rep = KDIPC__MEDIA_TO_WORKER__INIT;
		Kdipc__Hello hello;

		kd_ipc_hello_init(&hello, "mediad", 0);
		rep.msg_case = KDIPC__MEDIA_TO_WORKER__MSG_HELLO;
		rep.hello = &hello;
		c->hello = true;
		c->session_id = msg->hello->session_id;
		send_worker(c, &rep, -1);
		send_status(c->m, c);
		return true;
	}
	if (msg->msg_case == KDIPC__WORKER_TO_MEDIA__MSG_SUBSCRIBE) {
		if (fd < 0 || !msg->subscribe || !usable_eventfd(fd)) {
			if (fd >= 0)
				close(fd);
			return false;
		}
		handle_subscribe(c, msg->subscribe, fd);
		return true;
	}
	if (fd >= 0) {
		close(fd);
		return false;
	}
	switch (msg->msg_case) {
	case KDIPC__WORKER_TO_MEDIA__MSG_UNSUBSCRIBE:
		if (msg->unsubscribe->codec == KDIPC__CODEC__CODEC_OPUS &&
		    c->m->audio) {
			kd_audio_pipeline_unsubscribe(c->m->audio, c);
			update_status(c->m);
		} else if (codec_index(msg->unsubscribe->codec, &idx))
			unsubscribe(c->m, c, idx);
		return true;
	case KDIPC__WORKER_TO_MEDIA__MSG_KEYFRAME:
		if (codec_index(msg->keyframe->codec, &idx) &&
		    c->subs[idx].on)
			kd_encoder_request_keyframe(c->m->pipes[idx].enc);
		return true;
	case KDIPC__WORKER_TO_MEDIA__MSG_QUALITY:
		handle_quality(c, msg->quality);
		return true;
	default:
		return false; /* a second Hello, or nothing */
	}
}

/* ---- kvmdeskctl status (common/ctl_server) ---- */

static void ctl_status(void *data, struct kd_ctl_status *st)
{
	struct kd_media *m = data;
	char line[256];

	kd_media_status_line(m, line, sizeof(line));
	kd_ctl_status_set_state(st, line);
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++) {
		struct pipeline *p = &m->pipes[i];
		struct kd_encoder_stats es = { 0 };
		char value[128];

		if (!p->available)
			continue;
		if (p->enc)
			kd_encoder_get_stats(p->enc, &es);
		snprintf(value, sizeof(value),
			 "%s%s viewers=%u frames=%llu unchanged=%llu",
			 p->choice.name, p->choice.hardware ? " (hw)" : "",
			 p->subscribers, (unsigned long long)es.frames,
			 (unsigned long long)es.unchanged);
		kd_ctl_status_add_detail(st, kd_codec_name((Kdipc__Codec)i),
					 value);
	}
	if (m->audio) {
		char value[128];

		snprintf(value, sizeof(value), "%s listeners=%u",
			 kd_audio_pipeline_source(m->audio),
			 kd_audio_pipeline_listeners(m->audio));
		kd_ctl_status_add_detail(st, "audio", value);
	}
}

static const struct kd_ctl_ops ctl_ops = { .status = ctl_status };

static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const ProtobufCMessageDescriptor *desc =
		&kdipc__worker_to_media__descriptor;

	for (int budget = 0; budget < 16; budget++) {
		ProtobufCMessage *msg = NULL;
		int pfd = -1;
		int r = kd_ipc_recv(fd, desc, &msg, &pfd);
		bool ok;

		if (r == -EAGAIN)
			return;
		if (r == -ECONNRESET) {
			conn_close(c, NULL);
			return;
		}
		if (r < 0) {
			conn_close(c, r == -EBADMSG ? "malformed message"
						    : strerror(-r));
			return;
		}
		ok = handle_worker(c, (Kdipc__WorkerToMedia *)msg, pfd);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (!ok) {
			conn_close(c, "unexpected message");
			return;
		}
	}
}

static int adopt(struct kd_media *m, int fd, const struct ucred *cred)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->m = m;
	c->fd = fd;
	c->pid = cred->pid;
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++)
		c->subs[i].efd = -1;
	c->ev = event_new(m->base, fd, EV_READ | EV_PERSIST, on_conn, c);
	if (!c->ev || event_add(c->ev, NULL) < 0) {
		if (c->ev)
			event_free(c->ev);
		close(fd);
		free(c);
		return -ENOMEM;
	}
	c->next = m->conns;
	m->conns = c;
	return 0;
}

static void accept_conn(struct kd_media *m, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ucred cred = { 0 };

	if (fd < 0)
		return;
	if (!kd_unix_peer_allowed(fd) || kd_unix_peercred(fd, &cred) < 0) {
		kd_warn("refusing control connection from pid %d uid %d",
			(int)cred.pid, (int)cred.uid);
		close(fd);
		return;
	}
	adopt(m, fd, &cred);
}

int kd_media_adopt(struct kd_media *m, int fd)
{
	struct ucred cred = { .pid = getpid() };

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return adopt(m, fd, &cred);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	accept_conn(arg, fd);
}


/* ---- life cycle ---- */

static void probe_encoders(struct kd_media *m)
{
	for (size_t i = 0; i < sizeof(all_codecs) / sizeof(all_codecs[0]); i++) {
		Kdipc__Codec codec = all_codecs[i];
		struct pipeline *p = &m->pipes[codec];

		if (!codec_wanted(&m->cfg, codec))
			continue;
		if (kd_encoder_probe(codec, m->source->mode.width,
				     m->source->mode.height,
				     m->source->mode.fps, &p->choice) < 0) {
			kd_info("no working %s encoder", kd_codec_name(codec));
			continue;
		}
		p->available = true;
		kd_info("%s: %s%s", kd_codec_name(codec), p->choice.name,
			p->choice.hardware ? " (hardware)" : "");
	}
}

int kd_media_create(struct event_base *base, const struct kd_media_config *cfg,
		    struct kd_media **out)
{
	struct kd_media *m = calloc(1, sizeof(*m));
	struct kd_source_callbacks cb;
	int r;

	if (!m)
		return -ENOMEM;
	m->base = base;
	m->cfg = *cfg;
	m->listen_fd = -1;
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++) {
		m->pipes[i].m = m;
		m->pipes[i].idx = i;
		m->pipes[i].notify_fd = -1;
	}
	cb = (struct kd_source_callbacks){ .frame = on_frame, .mode = on_mode,
					   .ctx = m };
	if (!strcmp(cfg->source, "testpattern"))
		r = kd_testpattern_create(base, cfg->width, cfg->height,
					  cfg->fps, &cb, &m->source);
	else
		r = kd_v4l2_source_create(base, cfg->source, cfg->width,
					  cfg->height, cfg->fps, &cb,
					  &m->source);
	if (r < 0) {
		kd_err("video source %s: %s", cfg->source, strerror(-r));
		goto fail;
	}
	probe_encoders(m);
	if (strcmp(cfg->audio_source, "none") != 0) {
		r = kd_audio_pipeline_create(base, cfg->audio_source, &m->audio);
		if (r < 0)
			kd_err("audio source %s: %s; continuing without audio",
			       cfg->audio_source, strerror(-r));
	}
	update_status(m);
	*out = m;
	return 0;
fail:
	kd_media_destroy(m);
	return r;
}

int kd_media_listen(struct kd_media *m)
{
	m->listen_fd = kd_listen_unix(m->cfg.runtime_dir, "mediad", 0660, NULL, 0);
	if (m->listen_fd < 0)
		return m->listen_fd;
	m->listen_ev = event_new(m->base, m->listen_fd, EV_READ | EV_PERSIST,
				 on_accept, m);
	if (!m->listen_ev || event_add(m->listen_ev, NULL) < 0)
		return -ENOMEM;
	return kd_ctl_server_start(m->base, m->cfg.runtime_dir, "mediad",
				   &ctl_ops, m, &m->ctl);
}

void kd_media_destroy(struct kd_media *m)
{
	if (!m)
		return;
	while (m->conns)
		conn_close(m->conns, NULL);
	kd_audio_pipeline_destroy(m->audio);
	m->audio = NULL;
	for (size_t i = 0; i < KD_MEDIA_CODECS; i++) {
		struct pipeline *p = &m->pipes[i];

		kd_encoder_stop(p->enc);
		if (p->notify_ev)
			event_free(p->notify_ev);
		if (p->notify_fd >= 0)
			close(p->notify_fd);
		kd_frame_ring_writer_destroy(p->ring);
	}
	if (m->listen_ev)
		event_free(m->listen_ev);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	kd_ctl_server_destroy(m->ctl);
	kd_source_destroy(m->source);
	free(m);
}
