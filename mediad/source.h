/* Video sources: something that produces raw frames into the event loop.
 * A source captures only while active (somebody watches). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct AVFrame;
struct event_base;

struct kd_source_mode {
	uint32_t width;
	uint32_t height;
	uint32_t fps;
	bool signal;          /* false while a capture device has no picture */
};

struct kd_source_callbacks {
	/* A new frame; the callee takes its own references if it keeps it. */
	void (*frame)(void *ctx, const struct AVFrame *f, uint64_t capture_ns);
	/* Size, rate or signal changed. */
	void (*mode)(void *ctx, const struct kd_source_mode *m);
	void *ctx;
};

struct kd_source;

struct kd_source_ops {
	void (*set_active)(struct kd_source *s, bool active);
	void (*destroy)(struct kd_source *s);
};

/* Common head of every source. */
struct kd_source {
	const struct kd_source_ops *ops;
	struct kd_source_callbacks cb;
	struct kd_source_mode mode;
	const char *name;     /* "testpattern", "/dev/video0" */
};

static inline void kd_source_set_active(struct kd_source *s, bool active)
{
	s->ops->set_active(s, active);
}

static inline void kd_source_destroy(struct kd_source *s)
{
	if (s)
		s->ops->destroy(s);
}

/* Frames of a few recent buffers are reused once every encoder let go. */
#define KD_SOURCE_POOL 4
struct kd_frame_pool {
	struct AVFrame *frames[KD_SOURCE_POOL];
	/* Set by kd_frame_pool_get(): the frame it returned is newly
	 * allocated (contents undefined); false: it holds what the caller
	 * last wrote into it. */
	bool fresh;
	/* Set by kd_frame_pool_get(): which of frames[] it returned. */
	int slot;
};
/* A writable frame of that geometry, or NULL when all are still in use
 * (the caller then skips the frame: the source never waits). */
struct AVFrame *kd_frame_pool_get(struct kd_frame_pool *p, int format,
				  int width, int height);
void kd_frame_pool_free(struct kd_frame_pool *p);

/* Moving test picture with a visible frame counter, YUV420P. */
int kd_testpattern_create(struct event_base *base, uint32_t width,
			  uint32_t height, uint32_t fps,
			  const struct kd_source_callbacks *cb,
			  struct kd_source **out);
/* Draws picture number n into f (YUV420P or NV12). */
void kd_testpattern_render(struct AVFrame *f, uint64_t n);
