#include "tone_source.h"

#include <math.h>

#include "audio_format.h"

void kd_tone_source_init(struct kd_tone_source *t, double frequency_hz,
			 double amplitude)
{
	t->frequency_hz = frequency_hz;
	t->amplitude = amplitude;
	t->phase = 0.0;
}

void kd_tone_source_read(struct kd_tone_source *t, float *out, size_t frames)
{
	const double step = 2.0 * M_PI * t->frequency_hz / KD_AUDIO_RATE;
	for (size_t i = 0; i < frames; i++) {
		float v = (float)(t->amplitude * sin(t->phase));
		out[2 * i] = v;
		out[2 * i + 1] = v;
		t->phase += step;
		if (t->phase >= 2.0 * M_PI)
			t->phase -= 2.0 * M_PI;
	}
}
