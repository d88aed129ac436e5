/* A handful of reusable frames: no allocation (and no page faults) per
 * captured frame once the pool is warm. */
#include <libavutil/frame.h>

#include "source.h"

AVFrame *kd_frame_pool_get(struct kd_frame_pool *p, int format, int width,
			   int height)
{
	p->fresh = false;
	for (int i = 0; i < KD_SOURCE_POOL; i++) {
		AVFrame *f = p->frames[i];

		if (f && (f->format != format || f->width != width ||
			  f->height != height)) {
			if (!av_frame_is_writable(f))
				continue; /* old geometry, still referenced */
			av_frame_free(&p->frames[i]);
			f = NULL;
		}
		if (!f) {
			f = av_frame_alloc();
			if (!f)
				return NULL;
			f->format = format;
			f->width = width;
			f->height = height;
			if (av_frame_get_buffer(f, 0) < 0) {
				av_frame_free(&f);
				return NULL;
			}
			p->frames[i] = f;
			p->fresh = true;
			p->slot = i;
			return f;
		}
		if (av_frame_is_writable(f)) {
			p->slot = i;
			return f;
		}
	}
	return NULL;
}

void kd_frame_pool_free(struct kd_frame_pool *p)
{
	for (int i = 0; i < KD_SOURCE_POOL; i++)
		av_frame_free(&p->frames[i]);
}
