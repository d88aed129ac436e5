/* Video service of a session worker; see video_service.h. Frames come from
 * mediad's ring (common/frame_ring.h); each is copied once into a reusable
 * buffer, verified against the ring's sequence numbers (a frame torn while
 * read is never sent), and queued as one VideoFrame with one access unit. */
#include "video_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "frame_ring.h"
#include "input_service.h"
#include "kvmdesk_ipc.pb-c.h"
#include "log.h"
#include "media_client.h"
#include "video_bitrate.h"

/* Send a frame only while less than this is waiting in the worker's output
 * buffer (the worker's low watermark: on_output_drained fires below it). */
#define QUEUE_LIMIT (256u * 1024)
#define BALANCED_PERMILLE 670
/* Every viewer of a codec shares its encoder, so a keyframe one of them
 * asks for costs all of them bandwidth: a client that keeps falling behind
 * may ask at most this often (a refresh from the client is not limited). */
#define KEY_REQUEST_GAP_NS 1000000000ull

struct video {
	struct kd_worker *w;
	struct kd_media_client *mc;
	uint64_t conn_id;

	/* Configuration from the client. */
	bool logged_in;
	bool has_decoding;
	Hbb__SupportedDecoding decoding;
	uint32_t ratio_permille;
	uint32_t fps;

	/* Stream state. */
	uint32_t codec;          /* subscribed (or asked for), Kdipc__Codec */
	uint64_t next;           /* next frame number to look at */
	bool need_key;           /* skip until a keyframe */
	bool key_requested;
	uint64_t key_requested_ns;
	/* A request deferred by KEY_REQUEST_GAP_NS is sent by this timer: a
	 * still screen brings no frame that would run pump() again. */
	struct event *key_retry;
	uint32_t sent_w, sent_h; /* what the client believes the size is */
	uint64_t frames_sent, frames_dropped;

	/* PeerInfo memory, owned here. */
	Hbb__DisplayInfo display;
	Hbb__DisplayInfo *displays[1];
	Hbb__SupportedEncoding encoding;
};

static const struct {
	uint32_t codec;
	int prefer;
} prefer_map[] = {
	{ KDIPC__CODEC__CODEC_VP9, HBB__SUPPORTED_DECODING__PREFER_CODEC__VP9 },
	{ KDIPC__CODEC__CODEC_H264, HBB__SUPPORTED_DECODING__PREFER_CODEC__H264 },
	{ KDIPC__CODEC__CODEC_H265, HBB__SUPPORTED_DECODING__PREFER_CODEC__H265 },
	{ KDIPC__CODEC__CODEC_VP8, HBB__SUPPORTED_DECODING__PREFER_CODEC__VP8 },
	{ KDIPC__CODEC__CODEC_AV1, HBB__SUPPORTED_DECODING__PREFER_CODEC__AV1 },
};

static bool client_decodes(const Hbb__SupportedDecoding *sd, uint32_t codec)
{
	if (!sd)
		return codec == KDIPC__CODEC__CODEC_VP9;
	switch (codec) {
	case KDIPC__CODEC__CODEC_VP9: return sd->ability_vp9 > 0;
	case KDIPC__CODEC__CODEC_H264: return sd->ability_h264 > 0;
	case KDIPC__CODEC__CODEC_H265: return sd->ability_h265 > 0;
	case KDIPC__CODEC__CODEC_VP8: return sd->ability_vp8 > 0;
	case KDIPC__CODEC__CODEC_AV1: return sd->ability_av1 > 0;
	default: return false;
	}
}

static int offered(const struct kd_media_status *st, uint32_t codec)
{
	for (uint32_t i = 0; i < st->n_codecs; i++)
		if (st->codecs[i].codec == codec)
			return st->codecs[i].hardware ? 2 : 1;
	return 0;
}

uint32_t kd_video_choose_codec(const Hbb__SupportedDecoding *sd,
			       const struct kd_media_status *st)
{
	static const uint32_t by_cost[] = {
		KDIPC__CODEC__CODEC_H264, KDIPC__CODEC__CODEC_VP8,
		KDIPC__CODEC__CODEC_VP9, KDIPC__CODEC__CODEC_H265,
		KDIPC__CODEC__CODEC_AV1,
	};

	if (sd && sd->prefer)
		for (size_t i = 0; i < sizeof(prefer_map) / sizeof(prefer_map[0]); i++)
			if (prefer_map[i].prefer == (int)sd->prefer &&
			    offered(st, prefer_map[i].codec) &&
			    client_decodes(sd, prefer_map[i].codec))
				return prefer_map[i].codec;
	for (int want = 2; want >= 1; want--)
		for (size_t i = 0; i < sizeof(by_cost) / sizeof(by_cost[0]); i++)
			if (offered(st, by_cost[i]) >= want &&
			    client_decodes(sd, by_cost[i]))
				return by_cost[i];
	return 0;
}

uint32_t kd_video_quality_ratio(const Hbb__OptionMessage *opt)
{
	uint32_t v;

	switch (opt->image_quality) {
	case HBB__IMAGE_QUALITY__Best: return 1500;
	case HBB__IMAGE_QUALITY__Balanced: return BALANCED_PERMILLE;
	case HBB__IMAGE_QUALITY__Low: return 500;
	default: break;
	}
	if (opt->custom_image_quality <= 0)
		return 0;
	/* ((value >> 8) & 0xFFF) * 2 / 100, clamped to [0.2, 40] */
	v = (((uint32_t)opt->custom_image_quality >> 8) & 0xFFF) * 20;
	if (v < 200)
		v = 200;
	if (v > 40000)
		v = 40000;
	return v;
}

static Hbb__VideoFrame__UnionCase frame_case(uint32_t codec)
{
	switch (codec) {
	case KDIPC__CODEC__CODEC_H264: return HBB__VIDEO_FRAME__UNION_H264S;
	case KDIPC__CODEC__CODEC_H265: return HBB__VIDEO_FRAME__UNION_H265S;
	case KDIPC__CODEC__CODEC_VP8: return HBB__VIDEO_FRAME__UNION_VP8S;
	case KDIPC__CODEC__CODEC_AV1: return HBB__VIDEO_FRAME__UNION_AV1S;
	default: return HBB__VIDEO_FRAME__UNION_VP9S;
	}
}

static const char *codec_name(uint32_t codec)
{
	switch (codec) {
	case KDIPC__CODEC__CODEC_H264: return "H264";
	case KDIPC__CODEC__CODEC_H265: return "H265";
	case KDIPC__CODEC__CODEC_VP8: return "VP8";
	case KDIPC__CODEC__CODEC_AV1: return "AV1";
	case KDIPC__CODEC__CODEC_VP9: return "VP9";
	default: return "none";
	}
}

/* forced: the client asked (refresh); else flow control, rate-limited. */
static void request_key(struct video *v, bool forced)
{
	uint64_t now = kd_frame_ring_now_ns();

	v->need_key = true;
	if (v->key_requested && !forced)
		return;
	if (!forced && v->key_requested_ns &&
	    now - v->key_requested_ns < KEY_REQUEST_GAP_NS) {
		uint64_t wait_us = (v->key_requested_ns + KEY_REQUEST_GAP_NS -
				    now) / 1000 + 1;
		struct timeval tv = { (time_t)(wait_us / 1000000),
				      (suseconds_t)(wait_us % 1000000) };

		if (!evtimer_pending(v->key_retry, NULL))
			evtimer_add(v->key_retry, &tv);
		return;
	}
	if (kd_media_client_request_keyframe(v->mc) == 0) {
		v->key_requested = true;
		v->key_requested_ns = now;
	}
}

static void on_key_retry(evutil_socket_t fd, short what, void *arg)
{
	struct video *v = arg;

	if (v->need_key && !v->key_requested)
		request_key(v, false);
}

static int send_switch_display(struct video *v, uint32_t w, uint32_t h)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__SwitchDisplay sd = HBB__SWITCH_DISPLAY__INIT;

	sd.display = 0;
	sd.width = (int32_t)w;
	sd.height = (int32_t)h;
	sd.cursor_embedded = true;
	misc.union_case = HBB__MISC__UNION_SWITCH_DISPLAY;
	misc.switch_display = &sd;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	/* The client maps its pointer to the new size from now on. */
	kd_input_service_display_changed(v->w, (int32_t)w, (int32_t)h);
	return kd_worker_send(v->w, &m);
}

struct ring_check {
	struct kd_frame_ring_reader *ring;
	const struct kd_frame_view *view;
};

static bool frame_intact(void *arg)
{
	const struct ring_check *c = arg;

	return kd_frame_ring_verify(c->ring, c->view) == 0;
}

/* The frame goes from the ring straight into the socket's output buffer;
 * one that was overwritten while being copied is not sent (-ESTALE). */
static int send_frame(struct video *v, struct kd_frame_ring_reader *r,
		      const struct kd_frame_view *fv)
{
	struct ring_check check = { r, fv };
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__VideoFrame vf = HBB__VIDEO_FRAME__INIT;
	Hbb__EncodedVideoFrames efs = HBB__ENCODED_VIDEO_FRAMES__INIT;
	Hbb__EncodedVideoFrame ef = HBB__ENCODED_VIDEO_FRAME__INIT;
	Hbb__EncodedVideoFrame *efp = &ef;

	ef.data.data = (uint8_t *)fv->data;
	ef.data.len = fv->size;
	ef.key = (fv->flags & KD_FRAME_FLAG_KEY) != 0;
	ef.pts = fv->pts_ms;
	efs.n_frames = 1;
	efs.frames = &efp;
	vf.display = 0;
	vf.union_case = frame_case(v->codec);
	vf.vp9s = &efs; /* every member of the union is EncodedVideoFrames */
	m.union_case = HBB__MESSAGE__UNION_VIDEO_FRAME;
	m.video_frame = &vf;
	return kd_worker_send_checked(v->w, &m, frame_intact, &check);
}

/* Sends what the ring holds, as far as the client keeps up. */
static void pump(struct video *v)
{
	struct kd_frame_ring_reader *r = kd_media_client_ring(v->mc);
	uint64_t latest;

	if (!r || !v->logged_in || kd_media_client_codec(v->mc) != v->codec)
		return;
	latest = kd_frame_ring_latest(r);
	while (v->next <= latest) {
		struct kd_frame_view fv;
		int ret;

		if (kd_worker_output_queued(v->w) >= QUEUE_LIMIT) {
			/* The client is behind: what is in the ring now is
			 * dropped, and it resumes at a keyframe. */
			v->frames_dropped += latest - v->next + 1;
			v->next = latest + 1;
			request_key(v, false);
			return;
		}
		if (v->need_key) {
			uint64_t key = kd_frame_ring_latest_key(r);

			if (!v->key_requested)
				request_key(v, false); /* a deferred one */
			if (key >= v->next)
				v->next = key; /* jump to the newest keyframe */
		}
		ret = kd_frame_ring_peek(r, v->next, &fv);
		if (ret == KD_FRAME_RING_EMPTY)
			return;
		if (ret == KD_FRAME_RING_LAPPED || ret < 0) {
			v->frames_dropped++;
			v->next = latest;
			request_key(v, false);
			continue;
		}
		v->next = fv.seq + 1;
		if (v->need_key && !(fv.flags & KD_FRAME_FLAG_KEY)) {
			v->frames_dropped++;
			continue;
		}
		if (fv.flags & KD_FRAME_FLAG_KEY) {
			/* A new size is announced right before its first
			 * keyframe (spec session §3.6). */
			if ((fv.width != v->sent_w || fv.height != v->sent_h) &&
			    send_switch_display(v, fv.width, fv.height) < 0)
				return;
			v->sent_w = fv.width;
			v->sent_h = fv.height;
			v->need_key = false;
			v->key_requested = false;
		} else if (fv.width != v->sent_w || fv.height != v->sent_h) {
			request_key(v, false); /* never a P-frame of another size */
			continue;
		}
		ret = send_frame(v, r, &fv);
		if (ret == -ESTALE) {
			/* overwritten while being copied: resume at a key */
			v->frames_dropped++;
			v->need_key = true;
			request_key(v, false);
			continue;
		}
		if (ret < 0)
			return;
		v->frames_sent++;
	}
}

static void start_stream(struct video *v)
{
	const struct kd_media_status *st = kd_media_client_status(v->mc);
	uint32_t codec;

	if (!v->logged_in || !kd_media_client_ready(v->mc))
		return;
	codec = kd_video_choose_codec(v->has_decoding ? &v->decoding : NULL,
				      st);
	if (!codec) {
		kd_log_event(LOG_WARNING, &(struct kd_log_fields){
				     .conn_id = v->conn_id },
			     "no video codec both sides support");
		kd_worker_close(v->w, KD_CLOSE_NO_CODEC);
		return;
	}
	if (codec == v->codec && kd_media_client_codec(v->mc) == codec)
		return;
	v->codec = codec;
	v->need_key = true;
	v->key_requested = false;
	kd_log_event(LOG_INFO, &(struct kd_log_fields){
			     .message_id = KD_MSGID_ENCODER_SELECTED,
			     .conn_id = v->conn_id },
		     "connection %llu: streaming %s",
		     (unsigned long long)v->conn_id, codec_name(codec));
	kd_media_client_subscribe(v->mc, codec);
}

/* What the client's quality monitor shows next to the delay: the bitrate
 * this client's quality asks of the encoder (spec session §3.4). */
static void report_bitrate(struct video *v)
{
	const struct kd_media_status *st = kd_media_client_status(v->mc);
	bool hardware = false;

	if (!st || !v->codec)
		return;
	for (uint32_t i = 0; i < st->n_codecs; i++)
		if (st->codecs[i].codec == v->codec)
			hardware = st->codecs[i].hardware;
	kd_worker_set_target_bitrate(
		v->w, kd_video_bitrate_kbps((Kdipc__Codec)v->codec, hardware,
					    st->width, st->height,
					    v->ratio_permille / 1000.0));
}

/* ---- mediad link callbacks ---- */

/* mediad came (back) with other encoders than PeerInfo announced: tell the
 * client (spec session §2.1, item 5). */
static void update_encoding(struct video *v)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__SupportedEncoding now = HBB__SUPPORTED_ENCODING__INIT;

	now.h264 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_H264);
	now.h265 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_H265);
	now.vp8 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_VP8);
	now.av1 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_AV1);
	if (now.h264 == v->encoding.h264 && now.h265 == v->encoding.h265 &&
	    now.vp8 == v->encoding.vp8 && now.av1 == v->encoding.av1)
		return;
	v->encoding.h264 = now.h264;
	v->encoding.h265 = now.h265;
	v->encoding.vp8 = now.vp8;
	v->encoding.av1 = now.av1;
	misc.union_case = HBB__MISC__UNION_SUPPORTED_ENCODING;
	misc.supported_encoding = &now;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	kd_worker_send(v->w, &m);
}

static void on_status(void *ctx, const struct kd_media_status *st)
{
	struct video *v = ctx;

	if (!v->logged_in)
		return;
	update_encoding(v);
	if (!v->codec)
		start_stream(v);
}

static void on_subscribed(void *ctx, uint32_t codec, int error)
{
	struct video *v = ctx;
	struct kd_frame_ring_reader *r;

	if (error) {
		kd_log_event(LOG_WARNING, &(struct kd_log_fields){
				     .conn_id = v->conn_id },
			     "mediad refused %s: %s", codec_name(codec),
			     strerror(-error));
		v->codec = 0;
		return;
	}
	/* A fresh ring: start at what comes next, with a keyframe (mediad
	 * sends one to every new subscriber). */
	r = kd_media_client_ring(v->mc);
	v->next = kd_frame_ring_latest(r) + 1;
	v->need_key = true;
	v->key_requested = true;
	kd_media_client_set_quality(v->mc, v->ratio_permille, v->fps);
	report_bitrate(v);
	pump(v);
}

static void on_frames(void *ctx)
{
	pump(ctx);
}

static void on_lost(void *ctx)
{
	struct video *v = ctx;

	/* The session stays up; the link resubscribes by itself. */
	v->need_key = true;
	v->key_requested = false;
}

/* ---- service hooks ---- */

static int video_create(struct kd_worker *w, void **state)
{
	struct video *v = calloc(1, sizeof(*v));
	struct kd_media_client_callbacks cb = {
		.status = on_status, .subscribed = on_subscribed,
		.frames = on_frames, .lost = on_lost,
	};
	char path[512];
	int r;

	if (!v)
		return -ENOMEM;
	v->w = w;
	v->conn_id = kd_worker_conn_id(w);
	v->ratio_permille = BALANCED_PERMILLE;
	cb.ctx = v;
	snprintf(path, sizeof(path), "%s/mediad.sock", kd_worker_runtime_dir(w));
	v->key_retry = evtimer_new(kd_worker_base(w), on_key_retry, v);
	if (!v->key_retry) {
		free(v);
		return -ENOMEM;
	}
	r = kd_media_client_create(kd_worker_base(w), path, v->conn_id, &cb,
				   &v->mc);
	if (r < 0) {
		event_free(v->key_retry);
		free(v);
		return r;
	}
	*state = v;
	return 0;
}

static void video_fill_peer_info(void *state, Hbb__PeerInfo *pi)
{
	struct video *v = state;
	const struct kd_media_status *st = kd_media_client_status(v->mc);
	const struct kd_config *cfg = kd_worker_config(v->w);
	long w = 1920, h = 1080;

	if (st->width && st->height) {
		w = st->width;
		h = st->height;
	} else if (cfg) {
		kd_config_get_long(cfg, "video", "width", 1920, 16, 7680, &w);
		kd_config_get_long(cfg, "video", "height", 1080, 16, 4320, &h);
	}
	hbb__display_info__init(&v->display);
	v->display.width = (int32_t)w;
	v->display.height = (int32_t)h;
	v->display.name = "KVM";
	v->display.online = true;
	v->display.cursor_embedded = true; /* the capture shows the pointer */
	v->display.scale = 1.0;
	v->displays[0] = &v->display;
	pi->displays = v->displays;
	pi->n_displays = 1;
	pi->current_display = 0;
	v->sent_w = (uint32_t)w;
	v->sent_h = (uint32_t)h;

	hbb__supported_encoding__init(&v->encoding);
	v->encoding.h264 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_H264);
	v->encoding.h265 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_H265);
	v->encoding.vp8 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_VP8);
	v->encoding.av1 = kd_media_client_offers(v->mc, KDIPC__CODEC__CODEC_AV1);
	pi->encoding = &v->encoding;
}

/* Options from LoginRequest.option or Misc.option. Returns true when the
 * codec must be chosen again. */
static bool apply_options(struct video *v, const Hbb__OptionMessage *opt)
{
	uint32_t ratio = kd_video_quality_ratio(opt);
	bool quality_changed = false, recodec = false;

	if (ratio && ratio != v->ratio_permille) {
		v->ratio_permille = ratio;
		quality_changed = true;
	}
	if (opt->custom_fps >= 1 && opt->custom_fps <= 120 &&
	    (uint32_t)opt->custom_fps != v->fps) {
		v->fps = (uint32_t)opt->custom_fps;
		quality_changed = true;
	}
	if (opt->supported_decoding) {
		const Hbb__SupportedDecoding *sd = opt->supported_decoding;

		hbb__supported_decoding__init(&v->decoding);
		v->decoding.ability_vp9 = sd->ability_vp9;
		v->decoding.ability_h264 = sd->ability_h264;
		v->decoding.ability_h265 = sd->ability_h265;
		v->decoding.ability_vp8 = sd->ability_vp8;
		v->decoding.ability_av1 = sd->ability_av1;
		v->decoding.prefer = sd->prefer;
		v->has_decoding = true;
		recodec = true;
	}
	if (quality_changed && kd_media_client_codec(v->mc)) {
		kd_media_client_set_quality(v->mc, v->ratio_permille, v->fps);
		report_bitrate(v);
	}
	return recodec;
}

static void video_on_login(void *state, const Hbb__LoginRequest *req)
{
	struct video *v = state;

	if (req->option)
		apply_options(v, req->option);
	v->logged_in = true;
	start_stream(v);
}

static bool video_on_message(void *state, const Hbb__Message *msg)
{
	struct video *v = state;
	const Hbb__Misc *misc;

	if (msg->union_case != HBB__MESSAGE__UNION_MISC || !msg->misc)
		return false;
	misc = msg->misc;
	switch (misc->union_case) {
	case HBB__MISC__UNION_REFRESH_VIDEO:
		if (misc->refresh_video)
			request_key(v, true);
		return true;
	case HBB__MISC__UNION_REFRESH_VIDEO_DISPLAY:
		if (misc->refresh_video_display == 0)
			request_key(v, true);
		return true;
	case HBB__MISC__UNION_OPTION:
		if (misc->option && apply_options(v, misc->option))
			start_stream(v);
		return false; /* audio and input read their options too */
	case HBB__MISC__UNION_SWITCH_DISPLAY:
		/* Display 0 is the only one: re-announce it with a keyframe. */
		if (misc->switch_display && misc->switch_display->display == 0) {
			v->sent_w = v->sent_h = 0;
			request_key(v, true);
		}
		return true;
	case HBB__MISC__UNION_VIDEO_RECEIVED:
	case HBB__MISC__UNION_CAPTURE_DISPLAYS:
		return true;
	default:
		return false;
	}
}

static void video_on_output_drained(void *state)
{
	pump(state);
}

static void video_destroy(void *state)
{
	struct video *v = state;

	if (!v)
		return;
	kd_media_client_destroy(v->mc);
	event_free(v->key_retry);
	free(v);
}

const struct kd_worker_service kd_video_service = {
	.name = "video",
	.create = video_create,
	.fill_peer_info = video_fill_peer_info,
	.on_login = video_on_login,
	.on_message = video_on_message,
	.on_output_drained = video_on_output_drained,
	.destroy = video_destroy,
};
