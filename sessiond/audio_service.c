#include "audio_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "frame_ring.h"
#include "kvmdesk_ipc.pb-c.h"
#include "log.h"
#include "media_client.h"

/* spec connection/session: the real peer drops audio that waited > 1 s. */
#define STALE_NS (1000ull * 1000 * 1000)
#define MAX_PACKET 4000

struct audio {
	struct kd_worker *w;
	struct kd_media_client *mc;
	uint64_t conn_id;
	bool logged_in;
	bool client_disabled;   /* OptionMessage.disable_audio = Yes */
	bool subscribed;
	bool format_sent;
	uint64_t next;          /* next ring sequence to send */
	uint64_t packets_sent, packets_dropped;
};

static bool wanted(const struct audio *a)
{
	return a->logged_in && !a->client_disabled;
}

static void update_subscription(struct audio *a)
{
	if (!a->mc)
		return;
	if (wanted(a) && !a->subscribed &&
	    kd_media_client_offers(a->mc, KDIPC__CODEC__CODEC_OPUS)) {
		if (kd_media_client_subscribe(a->mc, KDIPC__CODEC__CODEC_OPUS) == 0)
			a->subscribed = true;
	} else if (!wanted(a) && a->subscribed) {
		kd_media_client_unsubscribe(a->mc);
		a->subscribed = false;
		a->format_sent = false;
	}
}

static int send_format(struct audio *a)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__AudioFormat fmt = HBB__AUDIO_FORMAT__INIT;
	fmt.sample_rate = 48000;
	fmt.channels = 2;
	misc.union_case = HBB__MISC__UNION_AUDIO_FORMAT;
	misc.audio_format = &fmt;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	return kd_worker_send(a->w, &m);
}

struct packet_check {
	struct kd_frame_ring_reader *ring;
	const struct kd_frame_view *view;
};

static bool packet_intact(void *arg)
{
	const struct packet_check *c = arg;
	return kd_frame_ring_verify(c->ring, c->view) == 0;
}

static void pump(struct audio *a)
{
	if (!a->mc)
		return;
	struct kd_frame_ring_reader *r = kd_media_client_ring(a->mc);
	if (!r || !a->format_sent || !wanted(a) ||
	    kd_media_client_codec(a->mc) != KDIPC__CODEC__CODEC_OPUS)
		return;
	uint64_t latest = kd_frame_ring_latest(r);
	uint64_t now = kd_frame_ring_now_ns();
	while (a->next <= latest) {
		struct kd_frame_view fv;
		int ret = kd_frame_ring_peek(r, a->next, &fv);
		if (ret == KD_FRAME_RING_EMPTY)
			return;
		if (ret != 0) { /* lapped: resume with what is there now */
			a->packets_dropped += latest - a->next;
			a->next = latest;
			continue;
		}
		a->next = fv.seq + 1;
		if (fv.size == 0 || fv.size > MAX_PACKET ||
		    (fv.publish_ns && now > fv.publish_ns + STALE_NS)) {
			a->packets_dropped++;
			continue;
		}
		/* Straight from the ring into the output buffer; a packet torn
		 * while being copied is not sent. */
		struct packet_check check = { r, &fv };
		Hbb__Message m = HBB__MESSAGE__INIT;
		Hbb__AudioFrame af = HBB__AUDIO_FRAME__INIT;
		af.data.data = (uint8_t *)fv.data;
		af.data.len = fv.size;
		m.union_case = HBB__MESSAGE__UNION_AUDIO_FRAME;
		m.audio_frame = &af;
		int sent = kd_worker_send_checked(a->w, &m, packet_intact, &check);
		if (sent == -ESTALE) {
			a->packets_dropped++;
			continue;
		}
		if (sent < 0)
			return;
		a->packets_sent++;
	}
}

/* ---- mediad link ---- */

static void on_status(void *ctx, const struct kd_media_status *st)
{
	update_subscription(ctx);
}

static void on_subscribed(void *ctx, uint32_t codec, int error)
{
	struct audio *a = ctx;
	if (error) {
		kd_log_event(LOG_WARNING, &(struct kd_log_fields){
				     .conn_id = a->conn_id },
			     "mediad refused audio: %s", strerror(-error));
		a->subscribed = false;
		return;
	}
	/* Every (re)subscription starts with the format (spec session §4):
	 * after disable/enable and after mediad came back. */
	a->next = kd_frame_ring_latest(kd_media_client_ring(a->mc)) + 1;
	if (send_format(a) == 0)
		a->format_sent = true;
	pump(a);
}

static void on_frames(void *ctx)
{
	pump(ctx);
}

static void on_lost(void *ctx)
{
	struct audio *a = ctx;
	/* The client keeps its decoder; the next subscription re-sends the
	 * format anyway. */
	a->format_sent = false;
}

/* ---- service ---- */

static int audio_create(struct kd_worker *w, void **state)
{
	const char *source = kd_config_get_or(kd_worker_config(w), "audio",
					      "source", "none");
	struct audio *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->w = w;
	a->conn_id = kd_worker_conn_id(w);
	*state = a;
	if (strcmp(source, "none") == 0)
		return 0; /* no audio: mc stays NULL */
	struct kd_media_client_callbacks cb = {
		.status = on_status, .subscribed = on_subscribed,
		.frames = on_frames, .lost = on_lost, .ctx = a,
	};
	char path[512];
	snprintf(path, sizeof(path), "%s/mediad.sock", kd_worker_runtime_dir(w));
	int r = kd_media_client_create(kd_worker_base(w), path, a->conn_id, &cb,
				       &a->mc);
	if (r < 0) {
		free(a);
		*state = NULL;
		return r;
	}
	return 0;
}

static void apply_options(struct audio *a, const Hbb__OptionMessage *o)
{
	if (!o || o->disable_audio == HBB__OPTION_MESSAGE__BOOL_OPTION__NotSet)
		return;
	a->client_disabled =
		o->disable_audio == HBB__OPTION_MESSAGE__BOOL_OPTION__Yes;
	update_subscription(a);
}

static void audio_on_login(void *state, const Hbb__LoginRequest *req)
{
	struct audio *a = state;
	a->logged_in = true;
	apply_options(a, req->option);
	update_subscription(a);
}

/* A KVM has no speaker for the client's microphone: decline the call at
 * once rather than leave the client waiting for an answer. */
static void decline_voice_call(struct kd_worker *w,
			       const Hbb__VoiceCallRequest *req)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__VoiceCallResponse rsp = HBB__VOICE_CALL_RESPONSE__INIT;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	rsp.accepted = false;
	rsp.req_timestamp = req->req_timestamp;
	rsp.ack_timestamp = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	m.union_case = HBB__MESSAGE__UNION_VOICE_CALL_RESPONSE;
	m.voice_call_response = &rsp;
	kd_worker_send(w, &m);
}

static bool audio_on_message(void *state, const Hbb__Message *msg)
{
	struct audio *a = state;
	if (msg->union_case == HBB__MESSAGE__UNION_AUDIO_FRAME)
		return true; /* the client's microphone (voice call): no use on a KVM */
	if (msg->union_case == HBB__MESSAGE__UNION_VOICE_CALL_REQUEST) {
		if (msg->voice_call_request && msg->voice_call_request->is_connect)
			decline_voice_call(a->w, msg->voice_call_request);
		return true;
	}
	if (msg->union_case != HBB__MESSAGE__UNION_MISC || !msg->misc)
		return false;
	switch (msg->misc->union_case) {
	case HBB__MISC__UNION_OPTION:
		apply_options(a, msg->misc->option);
		return false; /* video and input read options too */
	case HBB__MISC__UNION_AUDIO_FORMAT:
		return true; /* voice-call format from the client: ignored */
	default:
		return false;
	}
}

static void audio_on_output_drained(void *state)
{
	pump(state);
}

static void audio_destroy(void *state)
{
	struct audio *a = state;
	if (a->mc)
		kd_media_client_destroy(a->mc);
	free(a);
}

const struct kd_worker_service kd_audio_service = {
	.name = "audio",
	.create = audio_create,
	.on_login = audio_on_login,
	.on_message = audio_on_message,
	.on_output_drained = audio_on_output_drained,
	.destroy = audio_destroy,
};
