/* [video] source = /dev/videoN: V4L2 mmap streaming capture. Survives signal
 * loss, resolution changes (re-negotiates) and the device disappearing
 * (retries with back-off, logged once per outage). */
#pragma once
#include <stdint.h>

#include "source.h"

int kd_v4l2_source_create(struct event_base *base, const char *path,
			  uint32_t width, uint32_t height, uint32_t fps,
			  const struct kd_source_callbacks *cb,
			  struct kd_source **out);
