#include "tone_measure.h"

double kd_tone_measure_hz(const float *pcm, size_t frames, size_t skip,
			  int channel)
{
	double first = -1, last = -1;
	int crossings = 0;
	for (size_t i = skip + 1; i < frames; i++) {
		float a = pcm[2 * (i - 1) + channel], b = pcm[2 * i + channel];
		if (a < 0 && b >= 0) {
			double t = (double)(i - 1) + a / (a - b);
			if (first < 0)
				first = t;
			else
				crossings++;
			last = t;
		}
	}
	if (crossings < 10)
		return 0;
	return crossings / ((last - first) / 48000.0);
}
