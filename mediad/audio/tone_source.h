/* The `testtone` audio source: a continuous sine on both channels, for
 * machines without a capture device and for tests that check the pitch. */
#pragma once
#include <stddef.h>

#define KD_TONE_DEFAULT_HZ 440.0

struct kd_tone_source {
	double frequency_hz;
	double amplitude;
	double phase; /* radians, kept across reads so the tone never clicks */
};

void kd_tone_source_init(struct kd_tone_source *t, double frequency_hz,
			 double amplitude);
/* Writes frames stereo frames (2 * frames floats). */
void kd_tone_source_read(struct kd_tone_source *t, float *out, size_t frames);
