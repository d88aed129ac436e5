#include "video_bitrate.h"

#include <math.h>
#include <stddef.h>

/* Spec session §3.4: base kbps of the nearest preset by pixel count, scaled
 * by actual pixels / preset pixels. */
uint32_t kd_video_bitrate_kbps(Kdipc__Codec codec, bool hardware,
				 uint32_t width, uint32_t height, double ratio)
{
	static const struct { uint32_t w, h, kbps; } presets[] = {
		{ 640, 480, 400 }, { 800, 600, 500 }, { 1024, 768, 800 },
		{ 1280, 720, 1000 }, { 1366, 768, 1100 }, { 1440, 900, 1300 },
		{ 1600, 900, 1500 }, { 1920, 1080, 2073 }, { 2048, 1080, 2200 },
		{ 2560, 1440, 3000 }, { 3440, 1440, 4000 }, { 3840, 2160, 5000 },
		{ 7680, 4320, 12000 },
	};
	double pixels = (double)width * height, best_diff = INFINITY, base = 0;

	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		double pp = (double)presets[i].w * presets[i].h;
		double diff = fabs(pp - pixels);

		if (diff < best_diff) {
			best_diff = diff;
			base = presets[i].kbps * pixels / pp;
		}
	}
	base *= ratio;
	if (hardware && codec == KDIPC__CODEC__CODEC_H264)
		base *= base <= 2000 ? 2.0 : 1 + 1 / (1 + (base - 2000) * 0.001);
	else if (hardware && codec == KDIPC__CODEC__CODEC_H265)
		base *= base <= 2000 ? 1.5 : 1 + 0.5 / (1 + (base - 2000) * 0.001);
	if (base < 50)
		base = 50;
	return (uint32_t)lround(base);
}
