/* Opus encoding as the real peer does it (spec session §4): 48 kHz stereo,
 * restricted low-delay, 10 ms frames, one raw packet per AudioFrame. Also
 * the silence gate: after 800 consecutive all-zero frames nothing is emitted
 * until a non-zero sample comes back. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio_format.h"

#define KD_OPUS_MAX_PACKET 1500
#define KD_OPUS_SILENCE_FRAMES 800

struct OpusEncoder;

typedef void (*kd_opus_packet_cb)(void *opaque, const uint8_t *packet,
				  size_t len, uint64_t pts_ms);

struct kd_opus_encoder {
	struct OpusEncoder *enc;
	float pending[KD_AUDIO_FRAME_SAMPLES * KD_AUDIO_CHANNELS];
	size_t pending_frames;
	uint64_t frames_encoded; /* 10 ms units, for pts */
	unsigned silent_run;
	kd_opus_packet_cb cb;
	void *opaque;
};

int kd_opus_encoder_init(struct kd_opus_encoder *e, kd_opus_packet_cb cb,
			 void *opaque);
/* Takes any number of stereo frames; calls cb once per complete 10 ms
 * frame that passes the silence gate. 0 or -EIO. */
int kd_opus_encoder_push(struct kd_opus_encoder *e, const float *pcm,
			 size_t frames);
bool kd_opus_encoder_gated(const struct kd_opus_encoder *e);
void kd_opus_encoder_destroy(struct kd_opus_encoder *e);
