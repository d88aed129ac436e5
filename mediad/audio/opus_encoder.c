#include "opus_encoder.h"

#include <errno.h>
#include <string.h>

#include <opus/opus.h>

#include "log.h"

int kd_opus_encoder_init(struct kd_opus_encoder *e, kd_opus_packet_cb cb,
			 void *opaque)
{
	memset(e, 0, sizeof(*e));
	int err = 0;
	e->enc = opus_encoder_create(KD_AUDIO_RATE, KD_AUDIO_CHANNELS,
				     OPUS_APPLICATION_RESTRICTED_LOWDELAY, &err);
	if (!e->enc || err != OPUS_OK) {
		kd_err("cannot create the Opus encoder: %s", opus_strerror(err));
		return -EIO;
	}
	e->cb = cb;
	e->opaque = opaque;
	return 0;
}

static bool all_zero(const float *pcm, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pcm[i] != 0.0f)
			return false;
	return true;
}

static int encode_frame(struct kd_opus_encoder *e, const float *frame)
{
	const size_t n = KD_AUDIO_FRAME_SAMPLES * KD_AUDIO_CHANNELS;
	uint64_t pts = e->frames_encoded * 10;
	e->frames_encoded++;
	if (all_zero(frame, n)) {
		if (e->silent_run < KD_OPUS_SILENCE_FRAMES)
			e->silent_run++;
		if (e->silent_run >= KD_OPUS_SILENCE_FRAMES)
			return 0;
	} else {
		e->silent_run = 0;
	}
	uint8_t packet[KD_OPUS_MAX_PACKET];
	opus_int32 len = opus_encode_float(e->enc, frame, KD_AUDIO_FRAME_SAMPLES,
					   packet, sizeof(packet));
	if (len < 0) {
		kd_err("Opus encoding failed: %s", opus_strerror(len));
		return -EIO;
	}
	e->cb(e->opaque, packet, (size_t)len, pts);
	return 0;
}

int kd_opus_encoder_push(struct kd_opus_encoder *e, const float *pcm,
			 size_t frames)
{
	while (frames > 0) {
		size_t room = KD_AUDIO_FRAME_SAMPLES - e->pending_frames;
		size_t take = frames < room ? frames : room;
		if (take == KD_AUDIO_FRAME_SAMPLES) {
			/* A whole frame in place: no copy. */
			int r = encode_frame(e, pcm);
			if (r < 0)
				return r;
		} else {
			memcpy(&e->pending[e->pending_frames * KD_AUDIO_CHANNELS],
			       pcm, take * KD_AUDIO_CHANNELS * sizeof(float));
			e->pending_frames += take;
			if (e->pending_frames == KD_AUDIO_FRAME_SAMPLES) {
				e->pending_frames = 0;
				int r = encode_frame(e, e->pending);
				if (r < 0)
					return r;
			}
		}
		pcm += take * KD_AUDIO_CHANNELS;
		frames -= take;
	}
	return 0;
}

bool kd_opus_encoder_gated(const struct kd_opus_encoder *e)
{
	return e->silent_run >= KD_OPUS_SILENCE_FRAMES;
}

void kd_opus_encoder_destroy(struct kd_opus_encoder *e)
{
	if (e->enc)
		opus_encoder_destroy(e->enc);
	e->enc = NULL;
}
