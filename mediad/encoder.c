/* libavcodec encoders with the real-time settings of spec session §3.1: no
 * B-frames, parameter sets in-band on every keyframe (no global header), one
 * access unit per packet, zero-latency tuning, bitrate per §3.4. */
#include "encoder.h"
#include "video_bitrate.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "frame_ring.h"
#include "log.h"
#include "paramsets.h"

#define GOP_FRAMES 600 /* a periodic IDR every ~20 s at 30 fps (§3.1 allows) */

struct kd_encoder {
	struct kd_encoder_config cfg;
	struct kd_frame_ring_writer *ring;
	int notify_fd;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock: what the loop asks for. pending is allocated once
	 * and holds a reference while has_pending. */
	struct AVFrame *pending;
	bool has_pending;
	uint64_t pending_capture_ns;
	bool stop;
	bool force_key;
	uint32_t want_bitrate_kbps;
	uint32_t want_fps;
	struct kd_encoder_stats stats;

	/* Encoder thread only. */
	AVFrame *work;           /* swapped with pending: no allocation */
	AVFrame *last_picture;   /* a reference to the last picture encoded */
	unsigned still_repeats;  /* encodes of last_picture unchanged */
	AVCodecContext *ctx;
	AVPacket *pkt;
	struct SwsContext *sws;
	AVFrame *conv;
	uint32_t open_bitrate_kbps;
	uint64_t base_ns;        /* pts 0; reset when the encoder reopens */
	int64_t last_pts;
	uint64_t last_capture_ns;
	bool logged_error;
	struct kd_paramsets params; /* H.264/H.265 only */
};

static const char *const h264_candidates[] = { "h264_v4l2m2m", "h264_vaapi",
					       "libx264", "libopenh264", NULL };
static const char *const h265_candidates[] = { "hevc_v4l2m2m", "hevc_vaapi",
					       "libx265", NULL };
static const char *const vp8_candidates[] = { "vp8_v4l2m2m", "vp8_vaapi",
					      "libvpx", NULL };
static const char *const vp9_candidates[] = { "vp9_vaapi", "libvpx-vp9",
					      NULL };
static const char *const av1_candidates[] = { "libaom-av1", "libsvtav1",
					      "librav1e", NULL };
static const char *const no_candidates[] = { NULL };

const char *const *kd_encoder_candidates(Kdipc__Codec codec)
{
	switch (codec) {
	case KDIPC__CODEC__CODEC_H264: return h264_candidates;
	case KDIPC__CODEC__CODEC_H265: return h265_candidates;
	case KDIPC__CODEC__CODEC_VP8: return vp8_candidates;
	case KDIPC__CODEC__CODEC_VP9: return vp9_candidates;
	case KDIPC__CODEC__CODEC_AV1: return av1_candidates;
	default: return no_candidates;
	}
}

const char *kd_codec_name(Kdipc__Codec codec)
{
	switch (codec) {
	case KDIPC__CODEC__CODEC_H264: return "h264";
	case KDIPC__CODEC__CODEC_H265: return "h265";
	case KDIPC__CODEC__CODEC_VP8: return "vp8";
	case KDIPC__CODEC__CODEC_VP9: return "vp9";
	case KDIPC__CODEC__CODEC_AV1: return "av1";
	default: return "none";
	}
}

static bool is_hardware(const char *name)
{
	return strstr(name, "v4l2m2m") || strstr(name, "vaapi") ||
	       strstr(name, "nvenc") || strstr(name, "qsv");
}

static enum AVPixelFormat pick_pix_fmt(const AVCodec *c)
{
	if (!c->pix_fmts)
		return AV_PIX_FMT_YUV420P;
	for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE;
	     p++)
		if (*p == AV_PIX_FMT_YUV420P || *p == AV_PIX_FMT_NV12)
			return *p;
	return c->pix_fmts[0];
}

static bool takes_pix_fmt(const AVCodec *c, int fmt)
{
	if (!c->pix_fmts)
		return fmt == AV_PIX_FMT_YUV420P;
	for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE;
	     p++)
		if (*p == fmt)
			return true;
	return false;
}

/* Clients decode 4:2:0 only (spec session §3.1: H.26x are always 4:2:0,
 * 4:4:4 needs a negotiation we do not do): a 4:2:2 MJPEG picture is
 * converted even though libx264 would take it. */
static bool usable_direct(const AVCodec *c, int fmt)
{
	return (fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_NV12 ||
		fmt == AV_PIX_FMT_YUVJ420P) && takes_pix_fmt(c, fmt);
}

static bool is_vaapi(const char *name)
{
	return strstr(name, "_vaapi") != NULL;
}

static void set_realtime_options(AVCodecContext *ctx, const char *name)
{
	void *priv = ctx->priv_data;

	if (!strcmp(name, "libx264")) {
		av_opt_set(priv, "preset", "ultrafast", 0);
		av_opt_set(priv, "tune", "zerolatency", 0);
		av_opt_set_int(priv, "forced-idr", 1, 0);
	} else if (!strcmp(name, "libx265")) {
		av_opt_set(priv, "preset", "ultrafast", 0);
		av_opt_set(priv, "tune", "zerolatency", 0);
		av_opt_set_int(priv, "forced-idr", 1, 0);
		av_opt_set(priv, "x265-params",
			   "log-level=error:repeat-headers=1:bframes=0", 0);
	} else if (!strcmp(name, "libvpx") || !strcmp(name, "libvpx-vp9")) {
		av_opt_set(priv, "deadline", "realtime", 0);
		av_opt_set_int(priv, "cpu-used", 8, 0);
		av_opt_set_int(priv, "lag-in-frames", 0, 0);
		av_opt_set_int(priv, "auto-alt-ref", 0, 0);
		if (!strcmp(name, "libvpx-vp9"))
			av_opt_set_int(priv, "row-mt", 1, 0);
	} else if (!strcmp(name, "libaom-av1")) {
		av_opt_set(priv, "usage", "realtime", 0);
		av_opt_set_int(priv, "cpu-used", 8, 0);
		av_opt_set_int(priv, "lag-in-frames", 0, 0);
		av_opt_set_int(priv, "row-mt", 1, 0);
	} else if (!strcmp(name, "libsvtav1")) {
		av_opt_set_int(priv, "preset", 12, 0);
		av_opt_set(priv, "svtav1-params", "pred-struct=1", 0);
	} else if (is_vaapi(name)) {
		av_opt_set(priv, "rc_mode", "VBR", 0);
		av_opt_set_int(priv, "async_depth", 1, 0);
	} else if (!strcmp(name, "librav1e")) {
		av_opt_set_int(priv, "speed", 10, 0);
	}
}

/* VAAPI encoders take GPU surfaces: a frames pool of NV12 surfaces on the
 * default render node; frames are uploaded before encoding. */
static int setup_vaapi(AVCodecContext *ctx)
{
	AVBufferRef *dev = NULL, *frames;
	AVHWFramesContext *fc;
	int r;

	if (av_hwdevice_ctx_create(&dev, AV_HWDEVICE_TYPE_VAAPI, NULL, NULL,
				   0) < 0)
		return -ENODEV;
	frames = av_hwframe_ctx_alloc(dev);
	av_buffer_unref(&dev);
	if (!frames)
		return -ENOMEM;
	fc = (AVHWFramesContext *)frames->data;
	fc->format = AV_PIX_FMT_VAAPI;
	fc->sw_format = AV_PIX_FMT_NV12;
	fc->width = ctx->width;
	fc->height = ctx->height;
	fc->initial_pool_size = 4;
	r = av_hwframe_ctx_init(frames);
	if (r < 0) {
		av_buffer_unref(&frames);
		return -ENODEV;
	}
	ctx->pix_fmt = AV_PIX_FMT_VAAPI;
	ctx->hw_frames_ctx = frames;
	return 0;
}

static AVCodecContext *open_context(const char *name, uint32_t width,
				    uint32_t height, uint32_t fps,
				    uint32_t bitrate_kbps, int src_fmt)
{
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	AVCodecContext *ctx;

	if (!codec)
		return NULL;
	ctx = avcodec_alloc_context3(codec);
	if (!ctx)
		return NULL;
	ctx->width = (int)width;
	ctx->height = (int)height;
	/* The source's own format when the encoder takes it: no swscale. */
	ctx->pix_fmt = usable_direct(codec, src_fmt) ?
		       (enum AVPixelFormat)src_fmt : pick_pix_fmt(codec);
	ctx->time_base = (AVRational){ 1, 1000 }; /* pts in ms, §3.2 */
	ctx->framerate = (AVRational){ (int)fps, 1 };
	ctx->bit_rate = (int64_t)bitrate_kbps * 1000;
	ctx->rc_max_rate = ctx->bit_rate;
	ctx->rc_buffer_size = (int)KD_ENCODER_VBV_BUFFER_BITS(bitrate_kbps);
	ctx->gop_size = GOP_FRAMES;
	ctx->max_b_frames = 0;
	ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
	ctx->flags &= ~AV_CODEC_FLAG_GLOBAL_HEADER;
	ctx->thread_count = 0; /* as ffmpeg: the encoder picks */
	set_realtime_options(ctx, name);
	if (is_vaapi(name) && setup_vaapi(ctx) < 0) {
		avcodec_free_context(&ctx);
		return NULL;
	}
	if (avcodec_open2(ctx, codec, NULL) < 0) {
		avcodec_free_context(&ctx);
		return NULL;
	}
	return ctx;
}

int kd_encoder_probe(Kdipc__Codec codec, uint32_t width, uint32_t height,
		     uint32_t fps, struct kd_encoder_choice *out)
{
	for (const char *const *n = kd_encoder_candidates(codec); *n; n++) {
		int level = av_log_get_level();
		AVCodecContext *ctx;

		/* A missing device for a hardware encoder is expected here. */
		av_log_set_level(AV_LOG_QUIET);
		ctx = open_context(*n, width, height, fps ? fps : 30, 1000, -1);
		av_log_set_level(level);
		if (!ctx)
			continue;
		avcodec_free_context(&ctx);
		out->codec = codec;
		out->name = *n;
		out->hardware = is_hardware(*n);
		return 0;
	}
	return -ENOENT;
}

static void close_context(struct kd_encoder *e)
{
	avcodec_free_context(&e->ctx);
	sws_freeContext(e->sws);
	e->sws = NULL;
	av_frame_free(&e->conv);
}

static int reopen(struct kd_encoder *e, const AVFrame *f, uint32_t bitrate)
{
	close_context(e);
	if (!bitrate)
		bitrate = kd_video_bitrate_kbps(e->cfg.choice.codec,
						  e->cfg.choice.hardware,
						  (uint32_t)f->width,
						  (uint32_t)f->height,
						  KD_ENCODER_DEFAULT_RATIO);
	e->ctx = open_context(e->cfg.choice.name, (uint32_t)f->width,
			      (uint32_t)f->height, e->cfg.fps, bitrate,
			      f->format);
	if (!e->ctx)
		return -EIO;
	e->open_bitrate_kbps = bitrate;
	kd_paramsets_init(&e->params,
			  e->cfg.choice.codec == KDIPC__CODEC__CODEC_H265);
	if (e->ctx->extradata_size > 0)
		kd_paramsets_scan(&e->params, e->ctx->extradata,
				  (size_t)e->ctx->extradata_size);
	e->base_ns = 0;
	e->last_pts = -1;
	return 0;
}

/* Converts only when the encoder does not take the source's format. */
static enum AVPixelFormat sw_format(const struct kd_encoder *e)
{
	return e->ctx->pix_fmt == AV_PIX_FMT_VAAPI ? AV_PIX_FMT_NV12
						   : e->ctx->pix_fmt;
}

static AVFrame *to_encoder_format(struct kd_encoder *e, AVFrame *f)
{
	if (f->format == sw_format(e))
		return f;
	if (!e->conv) {
		e->conv = av_frame_alloc();
		if (!e->conv)
			return NULL;
		e->conv->format = sw_format(e);
		e->conv->width = e->ctx->width;
		e->conv->height = e->ctx->height;
		if (av_frame_get_buffer(e->conv, 0) < 0)
			return NULL;
	}
	e->sws = sws_getCachedContext(e->sws, f->width, f->height, f->format,
				      e->ctx->width, e->ctx->height,
				      sw_format(e), SWS_FAST_BILINEAR,
				      NULL, NULL, NULL);
	/* An encoder that still holds the last picture keeps it. */
	if (!e->sws || av_frame_make_writable(e->conv) < 0)
		return NULL;
	sws_scale(e->sws, (const uint8_t *const *)f->data, f->linesize, 0,
		  f->height, e->conv->data, e->conv->linesize);
	return e->conv;
}

static bool is_h26x(const struct kd_encoder *e)
{
	return e->cfg.choice.codec == KDIPC__CODEC__CODEC_H264 ||
	       e->cfg.choice.codec == KDIPC__CODEC__CODEC_H265;
}

/* One packet into the ring; an H.26x keyframe without its parameter sets
 * gets the last known ones in front (one self-contained access unit). */
static int64_t publish_one(struct kd_encoder *e, const struct kd_frame_meta *m)
{
	size_t size = (size_t)e->pkt->size, prefix = 0;
	uint8_t *dst;

	if (is_h26x(e) && m->key &&
	    !kd_paramsets_scan(&e->params, e->pkt->data, size))
		prefix = e->params.len;
	dst = kd_frame_ring_reserve(e->ring, prefix + size);
	if (!dst)
		return -EMSGSIZE;
	memcpy(dst, e->params.buf, prefix);
	memcpy(dst + prefix, e->pkt->data, size);
	return kd_frame_ring_commit(e->ring, m);
}

static void publish_packets(struct kd_encoder *e, uint64_t capture_ns,
			    uint64_t start_ns)
{
	while (avcodec_receive_packet(e->ctx, e->pkt) == 0) {
		uint64_t now = kd_frame_ring_now_ns();
		struct kd_frame_meta m = {
			.key = e->pkt->flags & AV_PKT_FLAG_KEY,
			.pts_ms = e->pkt->pts,
			.width = (uint32_t)e->ctx->width,
			.height = (uint32_t)e->ctx->height,
			.capture_ns = capture_ns,
			.encode_ns = now,
		};
		int64_t seq = publish_one(e, &m);

		pthread_mutex_lock(&e->lock);
		if (seq > 0) {
			e->stats.frames++;
			e->stats.keyframes += m.key;
			e->stats.bytes += (uint64_t)e->pkt->size;
		} else {
			e->stats.errors++;
		}
		e->stats.encode_ns += now - start_ns;
		pthread_mutex_unlock(&e->lock);
		av_packet_unref(e->pkt);
		if (seq > 0)
			eventfd_write(e->notify_fd, 1);
	}
}

static void encode_one(struct kd_encoder *e, AVFrame *f, uint64_t capture_ns,
		       bool key, uint32_t bitrate)
{
	uint64_t start = kd_frame_ring_now_ns();
	AVFrame *in, *enc, *hw = NULL;
	int64_t pts;
	int ret;

	if (!e->ctx || e->ctx->width != f->width ||
	    e->ctx->height != f->height ||
	    (e->ctx->pix_fmt != f->format &&
	     usable_direct(e->ctx->codec, f->format)) ||
	    (bitrate && bitrate != e->open_bitrate_kbps)) {
		if (reopen(e, f, bitrate) < 0) {
			if (!e->logged_error)
				kd_err("encoder %s: cannot open at %dx%d",
				       e->cfg.choice.name, f->width, f->height);
			e->logged_error = true;
			return;
		}
		key = true;
	}
	in = to_encoder_format(e, f);
	if (!in)
		return;
	if (!e->base_ns)
		e->base_ns = capture_ns;
	pts = (int64_t)((capture_ns - e->base_ns) / 1000000);
	if (pts <= e->last_pts)
		pts = e->last_pts + 1;
	e->last_pts = pts;
	if (e->ctx->pix_fmt == AV_PIX_FMT_VAAPI) {
		hw = av_frame_alloc();
		if (!hw || av_hwframe_get_buffer(e->ctx->hw_frames_ctx, hw,
						 0) < 0 ||
		    av_hwframe_transfer_data(hw, in, 0) < 0) {
			av_frame_free(&hw);
			return;
		}
		enc = hw;
	} else {
		/* Our own frame (the source's picture or the converted one):
		 * avcodec_send_frame() takes its own reference. */
		enc = in;
	}
	enc->pts = pts;
	enc->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	enc->key_frame = key;
	ret = avcodec_send_frame(e->ctx, enc);
	av_frame_free(&hw);
	if (ret < 0) {
		if (!e->logged_error)
			kd_err("encoder %s: %s", e->cfg.choice.name,
			       av_err2str(ret));
		e->logged_error = true;
		pthread_mutex_lock(&e->lock);
		e->stats.errors++;
		pthread_mutex_unlock(&e->lock);
		return;
	}
	e->logged_error = false;
	publish_packets(e, capture_ns, start);
}

/* Whether a and b hold the same pixels (software frames only). */
static bool same_picture(const AVFrame *a, const AVFrame *b)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(b->format);
	int row_bytes[4];

	if (!a->buf[0] || a->format != b->format || a->width != b->width ||
	    a->height != b->height || !d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL) ||
	    av_image_fill_linesizes(row_bytes, b->format, b->width) < 0)
		return false;
	for (int p = 0; p < av_pix_fmt_count_planes(b->format); p++) {
		int rows = (p == 1 || p == 2) ?
			   AV_CEIL_RSHIFT(b->height, d->log2_chroma_h) : b->height;

		for (int y = 0; y < rows; y++)
			if (memcmp(a->data[p] + (size_t)y * a->linesize[p],
				   b->data[p] + (size_t)y * b->linesize[p],
				   (size_t)row_bytes[p]))
				return false;
	}
	return true;
}

/* A still screen: HDMI capture keeps delivering the same picture at full
 * rate. Like the real server (it stops when capture reports no change,
 * after encoding the unchanged picture a few more times so the encoder can
 * sharpen what it first sent coarsely), the unchanged picture is encoded
 * KD_ENCODER_STILL_REPEATS more times, then not at all until it changes or
 * a keyframe is asked for. */
static bool still_and_settled(struct kd_encoder *e, const AVFrame *f)
{
	if (!same_picture(e->last_picture, f)) {
		e->still_repeats = 0;
		return false;
	}
	return ++e->still_repeats > KD_ENCODER_STILL_REPEATS;
}

static void *encoder_thread(void *arg)
{
	struct kd_encoder *e = arg;

	for (;;) {
		AVFrame *f;
		uint64_t capture_ns, min_gap;
		bool key;
		uint32_t bitrate, fps;

		pthread_mutex_lock(&e->lock);
		while (!e->stop && !e->has_pending)
			pthread_cond_wait(&e->cond, &e->lock);
		if (e->stop) {
			pthread_mutex_unlock(&e->lock);
			break;
		}
		/* Take the picture by swapping the frame shells. */
		f = e->pending;
		e->pending = e->work;
		e->work = f;
		e->has_pending = false;
		capture_ns = e->pending_capture_ns;
		fps = e->want_fps ? e->want_fps : e->cfg.fps;
		bitrate = e->want_bitrate_kbps;
		/* fps ceiling below the source rate: skip frames, keeping
		 * 10 % slack for capture jitter. */
		min_gap = fps ? 900000000ull / fps : 0;
		if (!e->force_key && e->last_capture_ns &&
		    capture_ns - e->last_capture_ns < min_gap) {
			e->stats.skipped++;
			e->stats.pictures++;
			pthread_mutex_unlock(&e->lock);
			av_frame_unref(f);
			continue;
		}
		key = e->force_key;
		e->force_key = false;
		pthread_mutex_unlock(&e->lock);

		if (!key && still_and_settled(e, f)) {
			pthread_mutex_lock(&e->lock);
			e->stats.unchanged++;
			e->stats.pictures++;
			pthread_mutex_unlock(&e->lock);
			av_frame_unref(f);
			continue;
		}
		e->last_capture_ns = capture_ns;
		encode_one(e, f, capture_ns, key, bitrate);
		av_frame_unref(e->last_picture);
		av_frame_move_ref(e->last_picture, f);
		pthread_mutex_lock(&e->lock);
		e->stats.pictures++;
		pthread_mutex_unlock(&e->lock);
	}
	return NULL;
}

int kd_encoder_start(const struct kd_encoder_config *cfg,
		     struct kd_frame_ring_writer *ring, int notify_fd,
		     struct kd_encoder **out)
{
	struct kd_encoder *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->ring = ring;
	e->notify_fd = notify_fd;
	e->want_bitrate_kbps = cfg->bitrate_kbps;
	e->force_key = true;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	e->pkt = av_packet_alloc();
	e->pending = av_frame_alloc();
	e->work = av_frame_alloc();
	e->last_picture = av_frame_alloc();
	if (!e->pkt || !e->pending || !e->work || !e->last_picture ||
	    pthread_create(&e->thread, NULL, encoder_thread, e)) {
		kd_encoder_stop(e);
		return -ENOMEM;
	}
	e->thread_started = true;
	*out = e;
	return 0;
}

void kd_encoder_stop(struct kd_encoder *e)
{
	if (!e)
		return;
	if (e->thread_started) {
		pthread_mutex_lock(&e->lock);
		e->stop = true;
		pthread_cond_signal(&e->cond);
		pthread_mutex_unlock(&e->lock);
		pthread_join(e->thread, NULL);
	}
	av_frame_free(&e->pending);
	av_frame_free(&e->work);
	av_frame_free(&e->last_picture);
	close_context(e);
	av_packet_free(&e->pkt);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

void kd_encoder_submit(struct kd_encoder *e, const AVFrame *frame,
		       uint64_t capture_ns)
{
	pthread_mutex_lock(&e->lock);
	if (e->has_pending) {
		av_frame_unref(e->pending);
		e->has_pending = false;
		e->stats.skipped++;
		e->stats.pictures++;
	}
	if (av_frame_ref(e->pending, frame) == 0) {
		e->has_pending = true;
		e->pending_capture_ns = capture_ns;
		pthread_cond_signal(&e->cond);
	} else {
		e->stats.pictures++; /* dropped here */
	}
	pthread_mutex_unlock(&e->lock);
}

void kd_encoder_request_keyframe(struct kd_encoder *e)
{
	pthread_mutex_lock(&e->lock);
	e->force_key = true;
	pthread_mutex_unlock(&e->lock);
}

void kd_encoder_set_params(struct kd_encoder *e, uint32_t bitrate_kbps,
			   uint32_t fps)
{
	pthread_mutex_lock(&e->lock);
	if (bitrate_kbps)
		e->want_bitrate_kbps = bitrate_kbps;
	e->want_fps = fps;
	pthread_mutex_unlock(&e->lock);
}

void kd_encoder_get_stats(struct kd_encoder *e, struct kd_encoder_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->stats;
	pthread_mutex_unlock(&e->lock);
}
