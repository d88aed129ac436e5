/* V4L2 format negotiation and buffer conversion, kept apart from the device
 * so they can be tested without one. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "source.h"

struct AVFrame;
struct AVCodecContext;

/* One (pixel format, frame size) the device offers. */
struct kd_v4l2_candidate {
	uint32_t fourcc;
	uint32_t width;
	uint32_t height;
};

/* Whether we can turn fourcc into frames (NV12, YUV420, YUYV, MJPEG/JPEG). */
int kd_v4l2_format_rank(uint32_t fourcc);

/* Picks what to ask the device for: the requested size if offered (then the
 * best-ranked format: NV12 > YUV420 > YUYV > MJPEG), else the size nearest
 * by pixel count. 0, or -ENOTSUP when no candidate is usable. */
int kd_v4l2_choose(const struct kd_v4l2_candidate *c, size_t n,
		   uint32_t want_width, uint32_t want_height,
		   struct kd_v4l2_candidate *out);

struct kd_v4l2_converter {
	struct AVCodecContext *mjpeg;
	struct AVFrame *decoded;
	struct kd_frame_pool pool;
};

/* Turns one dequeued buffer into a frame (raw formats are copied into a
 * pooled frame in their own layout - the encoders convert only if they need
 * to; MJPEG is decoded). *out stays owned by the converter and is valid
 * until the next call. 0, -EBADMSG for a short or undecodable buffer (a
 * capture glitch, not fatal), -EAGAIN when every pooled frame is still
 * being encoded, -ENOMEM. */
int kd_v4l2_convert(struct kd_v4l2_converter *cv, uint32_t fourcc,
		    uint32_t width, uint32_t height, uint32_t bytesperline,
		    const uint8_t *data, size_t len, struct AVFrame **out);
void kd_v4l2_converter_free(struct kd_v4l2_converter *cv);
