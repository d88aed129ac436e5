/* [video] source = testpattern: a moving picture with a visible frame
 * counter, generated directly in the encoders' format (YUV420P). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <libavutil/frame.h>

#include "frame_ring.h"
#include "source.h"

struct testpattern {
	struct kd_source head;
	struct event *tick;
	struct kd_frame_pool pool;
	uint8_t *stripes;        /* stripes_table() of the width */
	uint64_t n;
	bool active;
};

/* 5x7 digits, one row per byte, bit 4 = leftmost column. */
static const uint8_t digits[10][7] = {
	{ 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e },
	{ 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e },
	{ 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f },
	{ 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e },
	{ 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 },
	{ 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e },
	{ 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e },
	{ 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 },
	{ 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e },
	{ 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c },
};

static void fill_rect(uint8_t *plane, int stride, int x, int y, int w, int h,
		      int max_w, int max_h, uint8_t v)
{
	if (x < 0) { w += x; x = 0; }
	if (y < 0) { h += y; y = 0; }
	if (x + w > max_w) w = max_w - x;
	if (y + h > max_h) h = max_h - y;
	for (int r = 0; r < h; r++)
		memset(plane + (size_t)(y + r) * stride + x, v, (size_t)(w > 0 ? w : 0));
}

static void draw_counter(AVFrame *f, uint64_t n)
{
	char text[24];
	int len = snprintf(text, sizeof(text), "%08llu", (unsigned long long)n);
	int scale = f->height / 40 > 2 ? f->height / 40 : 2;
	int x0 = scale * 2, y0 = scale * 2;

	fill_rect(f->data[0], f->linesize[0], x0 - scale, y0 - scale,
		  (len * 6 + 1) * scale, 9 * scale, f->width, f->height, 16);
	for (int i = 0; i < len; i++) {
		const uint8_t *g = digits[text[i] - '0'];

		for (int r = 0; r < 7; r++)
			for (int c = 0; c < 5; c++)
				if (g[r] & (0x10 >> c))
					fill_rect(f->data[0], f->linesize[0],
						  x0 + (i * 6 + c) * scale,
						  y0 + r * scale, scale, scale,
						  f->width, f->height, 235);
	}
}

/* One period of the diagonal stripes and a row's width after it: row y of
 * picture n is the window starting at (y + 4 n) mod 256. 256 + width bytes. */
static uint8_t *stripes_table(int w)
{
	uint8_t *t = malloc((size_t)w + 256);

	if (t)
		for (int k = 0; k < w + 256; k++)
			t[k] = (uint8_t)(32 + ((k >> 3) & 31) * 5);
	return t;
}

/* Diagonal stripes moving right (every luma pixel changes each picture),
 * the moving box and the counter on top. */
static void draw_luma(AVFrame *f, uint64_t n, const uint8_t *stripes)
{
	int w = f->width, h = f->height;
	int box = h / 6, bx, by;
	int shift = (int)(n % 100000) * 4;

	for (int y = 0; y < h; y++)
		memcpy(f->data[0] + (size_t)y * f->linesize[0],
		       stripes + ((y + shift) & 255), (size_t)w);
	bx = (int)((n * 7) % (uint64_t)(w > box ? w - box : 1));
	by = (int)((n * 3) % (uint64_t)(h > box ? h - box : 1));
	fill_rect(f->data[0], f->linesize[0], bx, by, box, box, w, h, 220);
	draw_counter(f, n);
}

/* Chroma is static: U varies by row, V by column. */
static void draw_chroma(AVFrame *f)
{
	int w = f->width, h = f->height;

	if (f->format == AV_PIX_FMT_NV12) {
		for (int y = 0; y < h / 2; y++) {
			uint8_t *uv = f->data[1] + (size_t)y * f->linesize[1];

			for (int x = 0; x < w / 2; x++) {
				uv[2 * x] = (uint8_t)(64 + (y * 128) / (h / 2 + 1));
				uv[2 * x + 1] = (uint8_t)(64 + (x * 128) / (w / 2 + 1));
			}
		}
		return;
	}
	for (int x = 0; x < w / 2; x++)
		f->data[2][x] = (uint8_t)(64 + (x * 128) / (w / 2 + 1));
	for (int y = 0; y < h / 2; y++) {
		memset(f->data[1] + (size_t)y * f->linesize[1],
		       64 + (y * 128) / (h / 2 + 1), (size_t)w / 2);
		if (y)
			memcpy(f->data[2] + (size_t)y * f->linesize[2],
			       f->data[2], (size_t)w / 2);
	}
}

void kd_testpattern_render(AVFrame *f, uint64_t n)
{
	uint8_t *stripes = stripes_table(f->width);

	if (!stripes)
		return;
	draw_luma(f, n, stripes);
	free(stripes);
	draw_chroma(f);
}

/* The source draws only what changes: the luma plane every picture, the
 * chroma of a pool frame once, when the pool (re)allocates it (nobody else
 * writes the pool's frames: encoders only read them). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct testpattern *t = arg;
	AVFrame *f = kd_frame_pool_get(&t->pool, AV_PIX_FMT_YUV420P,
				       (int)t->head.mode.width,
				       (int)t->head.mode.height);

	t->n++;
	if (!f)
		return; /* every buffer still being encoded: skip this one */
	draw_luma(f, t->n, t->stripes);
	if (t->pool.fresh)
		draw_chroma(f);
	t->head.cb.frame(t->head.cb.ctx, f, kd_frame_ring_now_ns());
}

static void tp_set_active(struct kd_source *s, bool active)
{
	struct testpattern *t = (struct testpattern *)s;
	struct timeval tv = { 0, (suseconds_t)(1000000 / s->mode.fps) };

	if (active == t->active)
		return;
	t->active = active;
	if (active)
		event_add(t->tick, &tv);
	else
		event_del(t->tick);
}

static void tp_destroy(struct kd_source *s)
{
	struct testpattern *t = (struct testpattern *)s;

	if (t->tick)
		event_free(t->tick);
	kd_frame_pool_free(&t->pool);
	free(t->stripes);
	free(t);
}

static const struct kd_source_ops tp_ops = {
	.set_active = tp_set_active,
	.destroy = tp_destroy,
};

int kd_testpattern_create(struct event_base *base, uint32_t width,
			  uint32_t height, uint32_t fps,
			  const struct kd_source_callbacks *cb,
			  struct kd_source **out)
{
	struct testpattern *t;

	if (width < 16 || height < 16 || width % 2 || height % 2 || !fps ||
	    fps > 120)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->head.ops = &tp_ops;
	t->head.cb = *cb;
	t->head.name = "testpattern";
	t->head.mode = (struct kd_source_mode){ width, height, fps, true };
	t->tick = event_new(base, -1, EV_PERSIST, on_tick, t);
	t->stripes = stripes_table((int)width);
	if (!t->tick || !t->stripes) {
		tp_destroy(&t->head);
		return -ENOMEM;
	}
	*out = &t->head;
	return 0;
}
