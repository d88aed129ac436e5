/* One libavcodec encoder per codec in use, on its own thread, publishing
 * into its own frame ring. The event loop hands it frames (latest wins: a
 * busy encoder skips frames, the source never waits) and is woken through
 * an eventfd after each published packet. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "kvmdesk_ipc.pb-c.h"

struct AVFrame;
struct kd_frame_ring_writer;

/* What the probe found for one codec. */
struct kd_encoder_choice {
	Kdipc__Codec codec;
	const char *name;     /* libavcodec encoder name */
	bool hardware;
};

/* Candidate encoders for codec, hardware first; NULL-terminated. */
const char *const *kd_encoder_candidates(Kdipc__Codec codec);
/* Opens each candidate at width x height and keeps the first that works.
 * 0 with *out filled, -ENOENT when none opens. */
int kd_encoder_probe(Kdipc__Codec codec, uint32_t width, uint32_t height,
		     uint32_t fps, struct kd_encoder_choice *out);
const char *kd_codec_name(Kdipc__Codec codec);


/* The quality a viewer gets until it sends one (spec session §3.4
 * "Balanced"), and the rate control every encoder is opened with: the
 * bitrate is also the VBV max rate, the VBV buffer holds half a second. */
#define KD_ENCODER_DEFAULT_RATIO 0.67
#define KD_ENCODER_VBV_BUFFER_BITS(kbps) ((int64_t)(kbps) * 1000 / 2)
/* Encodes of an unchanged picture before a still screen is no longer
 * encoded (the real server's repeat_encode_max, video_service.rs). */
#define KD_ENCODER_STILL_REPEATS 10

struct kd_encoder;

struct kd_encoder_config {
	struct kd_encoder_choice choice;
	uint32_t fps;          /* source fps, the default ceiling */
	uint32_t bitrate_kbps; /* 0 = Balanced at the frame size */
};

/* Creates the ring and starts the thread. notify_fd (an eventfd, not owned)
 * gets +1 after every published frame. */
int kd_encoder_start(const struct kd_encoder_config *cfg,
		     struct kd_frame_ring_writer *ring, int notify_fd,
		     struct kd_encoder **out);
/* Joins the thread, frees everything but the ring (the caller's). */
void kd_encoder_stop(struct kd_encoder *e);

/* Hands a frame over (a new reference is taken; an older pending frame is
 * dropped). capture_ns is CLOCK_MONOTONIC. Never blocks for long. */
void kd_encoder_submit(struct kd_encoder *e, const struct AVFrame *frame,
		       uint64_t capture_ns);
void kd_encoder_request_keyframe(struct kd_encoder *e);
/* bitrate 0 keeps the current one; a new bitrate reopens the encoder (and
 * so starts with a keyframe). fps is the ceiling, 0 = the source's rate. */
void kd_encoder_set_params(struct kd_encoder *e, uint32_t bitrate_kbps,
			   uint32_t fps);

struct kd_encoder_stats {
	uint64_t frames;
	uint64_t keyframes;
	uint64_t bytes;
	uint64_t skipped;      /* frames dropped because the encoder was busy */
	uint64_t unchanged;    /* pictures of a still screen not encoded */
	uint64_t pictures;     /* submitted pictures done with, one way or
				* another (encoded and published, or not) */
	uint64_t errors;
	uint64_t encode_ns;    /* time spent inside libavcodec */
};
void kd_encoder_get_stats(struct kd_encoder *e, struct kd_encoder_stats *out);
