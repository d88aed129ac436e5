/* An audio source delivers 48 kHz stereo float PCM (audio_format.h) to a
 * callback from the event loop, only between start and stop: nothing is
 * captured while nobody listens. Sources: an ALSA capture device, or
 * "testtone" (a 440 Hz sine). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct kd_audio_source;

typedef void (*kd_audio_pcm_cb)(void *opaque, const float *pcm, size_t frames);

/* spec is [audio] source: "testtone", or an ALSA device name ("hw:1",
 * "default", "plughw:CARD=HDMI"). An ALSA device that is missing now is
 * retried with back-off once started; it is not an error here. */
int kd_audio_source_new(struct event_base *base, const char *spec,
			kd_audio_pcm_cb cb, void *opaque,
			struct kd_audio_source **out);
int kd_audio_source_start(struct kd_audio_source *s);
void kd_audio_source_stop(struct kd_audio_source *s);
/* True while it delivers audio (device open and running). */
bool kd_audio_source_running(const struct kd_audio_source *s);
const char *kd_audio_source_describe(const struct kd_audio_source *s);
void kd_audio_source_free(struct kd_audio_source *s);

/* For tests of the conversion: interleaved input of the given sample format
 * ("S16_LE", "S32_LE", "FLOAT_LE"), channels and rate, to 48 kHz stereo
 * float. Returns frames written to out (capacity out_frames). The resampler
 * keeps its phase in *state across calls (start with 0). */
size_t kd_audio_convert(const void *in, size_t in_frames, int format,
			unsigned channels, unsigned rate, double *state,
			float *last, float *out, size_t out_frames);
