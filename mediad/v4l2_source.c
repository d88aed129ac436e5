/* V4L2 capture: open -> negotiate -> mmap buffers -> stream; the device fd is
 * non-blocking and watched by the loop. A 1 s check notices signal loss and
 * DV-timing (resolution) changes; any fatal error closes the device and a
 * back-off timer reopens it. */
#include "v4l2_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>
#include <libavutil/frame.h>
#include <linux/videodev2.h>

#include "backoff.h"
#include "frame_ring.h"
#include "log.h"
#include "mjpeg_decoder.h"
#include "v4l2_format.h"

#define N_BUFFERS 4
#define MAX_CANDIDATES 256
#define NO_SIGNAL_NS 2000000000ull   /* no frame for 2 s: no signal */
#define RESTART_NS 5000000000ull     /* no frame for 5 s: restart stream */

struct buffer {
	void *ptr;
	size_t len;
};

struct v4l2_source {
	struct kd_source head;
	struct event_base *base;
	char path[256];
	uint32_t want_w, want_h, want_fps;
	bool active;

	/* Runtime state of the open device. */
	int fd;
	struct event *io;
	struct buffer bufs[N_BUFFERS];
	unsigned n_bufs;
	struct kd_v4l2_candidate fmt;
	uint32_t bytesperline;
	bool has_dv_timings;
	uint64_t last_frame_ns, started_ns;

	struct event *retry, *check;
	struct kd_backoff backoff;
	int lost_errno;          /* != 0 while the device is gone (logged) */
	struct kd_v4l2_converter conv;
	struct kd_mjpeg_decoder *mjpeg;  /* MJPEG is decoded off the loop */
};

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void set_mode(struct v4l2_source *s, uint32_t w, uint32_t h, bool signal)
{
	struct kd_source_mode *m = &s->head.mode;

	if (m->width == w && m->height == h && m->signal == signal)
		return;
	m->width = w;
	m->height = h;
	m->signal = signal;
	s->head.cb.mode(s->head.cb.ctx, m);
}

static void close_device(struct v4l2_source *s)
{
	if (s->io) {
		event_free(s->io);
		s->io = NULL;
	}
	if (s->fd >= 0) {
		enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;

		xioctl(s->fd, VIDIOC_STREAMOFF, &t);
	}
	for (unsigned i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].ptr)
			munmap(s->bufs[i].ptr, s->bufs[i].len);
	s->n_bufs = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static size_t enumerate(int fd, struct kd_v4l2_candidate *c, size_t cap,
			uint32_t want_w, uint32_t want_h)
{
	size_t n = 0;

	for (uint32_t i = 0; n < cap; i++) {
		struct v4l2_fmtdesc fd_ = { .index = i,
					    .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };

		if (xioctl(fd, VIDIOC_ENUM_FMT, &fd_) < 0)
			break;
		if (!kd_v4l2_format_rank(fd_.pixelformat))
			continue;
		for (uint32_t j = 0; n < cap; j++) {
			struct v4l2_frmsizeenum fs = { .index = j,
				.pixel_format = fd_.pixelformat };

			if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0) {
				if (j == 0) /* no list: let S_FMT decide */
					c[n++] = (struct kd_v4l2_candidate){
						fd_.pixelformat, want_w, want_h };
				break;
			}
			if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
				c[n++] = (struct kd_v4l2_candidate){
					fd_.pixelformat, fs.discrete.width,
					fs.discrete.height };
				continue;
			}
			/* Stepwise / continuous: the wanted size, clamped. */
			uint32_t w = want_w, h = want_h;

			if (w < fs.stepwise.min_width) w = fs.stepwise.min_width;
			if (w > fs.stepwise.max_width) w = fs.stepwise.max_width;
			if (h < fs.stepwise.min_height) h = fs.stepwise.min_height;
			if (h > fs.stepwise.max_height) h = fs.stepwise.max_height;
			c[n++] = (struct kd_v4l2_candidate){ fd_.pixelformat,
							      w, h };
			break;
		}
	}
	return n;
}

/* With DV timings (HDMI bridges) the source decides the size. */
static int query_dv_size(int fd, uint32_t *w, uint32_t *h)
{
	struct v4l2_dv_timings t = { 0 };
	int r = xioctl(fd, VIDIOC_QUERY_DV_TIMINGS, &t);

	if (r < 0)
		return r;
	*w = t.bt.width;
	*h = t.bt.height;
	if (!*w || !*h)
		return -ENOLINK;
	xioctl(fd, VIDIOC_S_DV_TIMINGS, &t);
	return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg);

static int start_streaming(struct v4l2_source *s)
{
	struct v4l2_requestbuffers req = { .count = N_BUFFERS,
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP };
	enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	int r = xioctl(s->fd, VIDIOC_REQBUFS, &req);

	if (r < 0)
		return r;
	if (req.count < 2)
		return -ENOMEM;
	for (unsigned i = 0; i < req.count && i < N_BUFFERS; i++) {
		struct v4l2_buffer b = { .index = i, .type = type,
					 .memory = V4L2_MEMORY_MMAP };

		if ((r = xioctl(s->fd, VIDIOC_QUERYBUF, &b)) < 0)
			return r;
		s->bufs[i].len = b.length;
		s->bufs[i].ptr = mmap(NULL, b.length, PROT_READ | PROT_WRITE,
				      MAP_SHARED, s->fd, b.m.offset);
		if (s->bufs[i].ptr == MAP_FAILED) {
			s->bufs[i].ptr = NULL;
			return -errno;
		}
		s->n_bufs = i + 1;
		if ((r = xioctl(s->fd, VIDIOC_QBUF, &b)) < 0)
			return r;
	}
	if ((r = xioctl(s->fd, VIDIOC_STREAMON, &type)) < 0)
		return r;
	s->io = event_new(s->base, s->fd, EV_READ | EV_PERSIST, on_readable, s);
	if (!s->io || event_add(s->io, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static int open_device(struct v4l2_source *s)
{
	struct v4l2_capability cap = { 0 };
	struct kd_v4l2_candidate cands[MAX_CANDIDATES], pick;
	struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	uint32_t want_w = s->want_w, want_h = s->want_h;
	size_t n;
	int r;

	s->fd = open(s->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	if ((r = xioctl(s->fd, VIDIOC_QUERYCAP, &cap)) < 0)
		return r;
	if (!(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE) ||
	    !(cap.device_caps & V4L2_CAP_STREAMING))
		return -ENODEV;
	r = query_dv_size(s->fd, &want_w, &want_h);
	s->has_dv_timings = r != -ENOTTY && r != -EINVAL;
	if (r == -ENOLINK || r == -ENOLCK || r == -ERANGE) {
		set_mode(s, s->head.mode.width, s->head.mode.height, false);
		return -ENOLINK;
	}
	n = enumerate(s->fd, cands, MAX_CANDIDATES, want_w, want_h);
	if ((r = kd_v4l2_choose(cands, n, want_w, want_h, &pick)) < 0)
		return r;
	fmt.fmt.pix.width = pick.width;
	fmt.fmt.pix.height = pick.height;
	fmt.fmt.pix.pixelformat = pick.fourcc;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	if ((r = xioctl(s->fd, VIDIOC_S_FMT, &fmt)) < 0)
		return r;
	/* The driver may adjust: believe what it says. */
	s->fmt = (struct kd_v4l2_candidate){ fmt.fmt.pix.pixelformat,
					     fmt.fmt.pix.width,
					     fmt.fmt.pix.height };
	s->bytesperline = fmt.fmt.pix.bytesperline;
	if (!kd_v4l2_format_rank(s->fmt.fourcc))
		return -ENOTSUP;
	parm.parm.capture.timeperframe = (struct v4l2_fract){ 1, s->want_fps };
	xioctl(s->fd, VIDIOC_S_PARM, &parm); /* best effort */
	if ((r = start_streaming(s)) < 0)
		return r;
	s->started_ns = kd_frame_ring_now_ns();
	s->last_frame_ns = 0;
	s->head.mode.fps = s->want_fps;
	set_mode(s, s->fmt.width & ~1u, s->fmt.height & ~1u, true);
	return 0;
}

static void schedule_retry(struct v4l2_source *s)
{
	uint32_t ms = kd_backoff_next(&s->backoff);
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(s->retry, &tv);
}

/* Closes the device; logs only the first failure of an outage. */
static void lost(struct v4l2_source *s, int err)
{
	close_device(s);
	if (!s->lost_errno)
		kd_log_event(LOG_WARNING, &(struct kd_log_fields){
				     .message_id = KD_MSGID_CAPTURE_LOST },
			     "capture %s lost: %s; retrying", s->path,
			     strerror(-err));
	s->lost_errno = err;
	set_mode(s, s->head.mode.width, s->head.mode.height, false);
	if (s->active)
		schedule_retry(s);
}

static void try_open(struct v4l2_source *s)
{
	int r = open_device(s);

	if (r < 0) {
		lost(s, r);
		return;
	}
	if (s->lost_errno)
		kd_log_event(LOG_NOTICE, &(struct kd_log_fields){
				     .message_id = KD_MSGID_CAPTURE_BACK },
			     "capture %s back at %ux%u", s->path,
			     s->fmt.width, s->fmt.height);
	s->lost_errno = 0;
	kd_backoff_reset(&s->backoff);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct v4l2_source *s = arg;

	if (s->active && s->fd < 0)
		try_open(s);
}

static bool is_jpeg(uint32_t fourcc)
{
	return fourcc == V4L2_PIX_FMT_MJPEG || fourcc == V4L2_PIX_FMT_JPEG;
}

static void deliver(struct v4l2_source *s, const AVFrame *f, uint64_t ns)
{
	s->last_frame_ns = ns;
	if (f->width != (int)s->head.mode.width ||
	    f->height != (int)s->head.mode.height || !s->head.mode.signal)
		set_mode(s, (uint32_t)f->width, (uint32_t)f->height, true);
	s->head.cb.frame(s->head.cb.ctx, f, ns);
}

static void on_mjpeg(void *ctx, const AVFrame *f, uint64_t capture_ns)
{
	struct v4l2_source *s = ctx;

	if (s->active && s->fd >= 0)
		deliver(s, f, capture_ns);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct v4l2_source *s = arg;

	for (int budget = 0; budget < N_BUFFERS; budget++) {
		struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		AVFrame *f = NULL;
		int r = xioctl(s->fd, VIDIOC_DQBUF, &b);

		if (r == -EAGAIN)
			return;
		if (r < 0) {
			lost(s, r);
			return;
		}
		bool usable = b.index < s->n_bufs &&
			      !(b.flags & V4L2_BUF_FLAG_ERROR) && b.bytesused &&
			      b.bytesused <= s->bufs[b.index].len;

		if (usable && is_jpeg(s->fmt.fourcc))
			kd_mjpeg_decoder_submit(s->mjpeg, s->bufs[b.index].ptr,
						b.bytesused,
						kd_frame_ring_now_ns());
		else if (usable &&
			 kd_v4l2_convert(&s->conv, s->fmt.fourcc, s->fmt.width,
					 s->fmt.height, s->bytesperline,
					 s->bufs[b.index].ptr, b.bytesused,
					 &f) == 0)
			deliver(s, f, kd_frame_ring_now_ns());
		if ((r = xioctl(s->fd, VIDIOC_QBUF, &b)) < 0) {
			lost(s, r);
			return;
		}
	}
}

/* Once a second: signal present? source resolution changed? */
static void on_check(evutil_socket_t fd, short what, void *arg)
{
	struct v4l2_source *s = arg;
	uint64_t now = kd_frame_ring_now_ns();
	uint64_t since = s->last_frame_ns ? s->last_frame_ns : s->started_ns;
	uint32_t w, h;

	if (!s->active || s->fd < 0)
		return;
	if (s->has_dv_timings) {
		int r = query_dv_size(s->fd, &w, &h);

		if (r == 0 && (w != s->fmt.width || h != s->fmt.height)) {
			kd_notice("capture %s: source changed to %ux%u",
				  s->path, w, h);
			close_device(s);
			try_open(s);
			return;
		}
		if (r < 0 && s->head.mode.signal)
			set_mode(s, s->head.mode.width, s->head.mode.height,
				 false);
	}
	if (now - since > NO_SIGNAL_NS && s->head.mode.signal)
		set_mode(s, s->head.mode.width, s->head.mode.height, false);
	if (now - since > RESTART_NS) {
		/* Some bridges need a fresh STREAMON after the signal returns. */
		close_device(s);
		try_open(s);
	}
}

static void v4l2_set_active(struct kd_source *src, bool active)
{
	struct v4l2_source *s = (struct v4l2_source *)src;
	struct timeval sec = { 1, 0 };

	if (active == s->active)
		return;
	s->active = active;
	if (active) {
		evtimer_add(s->check, &sec);
		try_open(s);
	} else {
		/* Nobody watches: release the device. */
		event_del(s->check);
		event_del(s->retry);
		close_device(s);
	}
}

static void v4l2_destroy(struct kd_source *src)
{
	struct v4l2_source *s = (struct v4l2_source *)src;

	close_device(s);
	if (s->retry)
		event_free(s->retry);
	if (s->check)
		event_free(s->check);
	kd_mjpeg_decoder_destroy(s->mjpeg);
	kd_v4l2_converter_free(&s->conv);
	free(s);
}

static const struct kd_source_ops v4l2_ops = {
	.set_active = v4l2_set_active,
	.destroy = v4l2_destroy,
};

int kd_v4l2_source_create(struct event_base *base, const char *path,
			  uint32_t width, uint32_t height, uint32_t fps,
			  const struct kd_source_callbacks *cb,
			  struct kd_source **out)
{
	struct v4l2_source *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->head.ops = &v4l2_ops;
	s->head.cb = *cb;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->head.name = s->path;
	/* Until the device says otherwise, the configured mode (used to probe
	 * the encoders). */
	s->head.mode = (struct kd_source_mode){ width, height, fps, false };
	s->base = base;
	s->want_w = width;
	s->want_h = height;
	s->want_fps = fps;
	s->fd = -1;
	kd_backoff_init(&s->backoff, 500, 10000);
	s->retry = evtimer_new(base, on_retry, s);
	s->check = event_new(base, -1, EV_PERSIST, on_check, s);
	if (!s->retry || !s->check ||
	    kd_mjpeg_decoder_create(base, on_mjpeg, s, &s->mjpeg) < 0) {
		v4l2_destroy(&s->head);
		return -ENOMEM;
	}
	*out = &s->head;
	return 0;
}
