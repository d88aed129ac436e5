/* Video bitrate for a client's image quality (spec session §3.4): a base
 * kbps from the nearest resolution preset, scaled by pixel count and the
 * quality ratio; hardware H.264/H.265 get the real peer's extra factor.
 * mediad encodes at it; sessiond reports it in TestDelay.target_bitrate. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "kvmdesk_ipc.pb-c.h"

uint32_t kd_video_bitrate_kbps(Kdipc__Codec codec, bool hardware,
			       uint32_t width, uint32_t height, double ratio);
