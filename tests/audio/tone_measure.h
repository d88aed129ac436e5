/* Pitch of decoded test audio, from zero crossings with sub-sample
 * interpolation: precise to well under 0.1 % over a second of a sine. */
#pragma once
#include <stddef.h>

/* pcm: interleaved stereo at 48 kHz; channel 0 or 1; the first skip frames
 * (codec start-up) are ignored. Returns Hz, or 0 when there is no tone. */
double kd_tone_measure_hz(const float *pcm, size_t frames, size_t skip,
			  int channel);
