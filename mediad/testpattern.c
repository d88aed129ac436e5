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

/* A rectangle in luma pixels. */
struct rect { int x, y, w, h; };

struct testpattern {
	struct kd_source head;
	struct event *tick;
	struct kd_frame_pool pool;
	uint8_t *background;     /* background_luma() of the size */
	uint8_t *window_rows;    /* window_rows() of the width */
	/* Where the window is in each pool frame: only that and the counter
	 * differ from the background when the frame comes round again. */
	struct rect window_in[KD_SOURCE_POOL];
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

#define COUNTER_DIGITS 8

static int counter_scale(int h)
{
	return h / 40 > 2 ? h / 40 : 2;
}

static struct rect counter_plate(int h)
{
	int s = counter_scale(h);

	return (struct rect){ s, s, (COUNTER_DIGITS * 6 + 1) * s, 9 * s };
}

static void draw_counter(AVFrame *f, uint64_t n)
{
	char text[COUNTER_DIGITS + 1];
	int scale = counter_scale(f->height);
	struct rect plate = counter_plate(f->height);
	int x0 = plate.x + scale, y0 = plate.y + scale;

	/* Eight digits always: the plate has a fixed size (wraps after
	 * 38 days at 30 fps). */
	snprintf(text, sizeof(text), "%0*llu", COUNTER_DIGITS,
		 (unsigned long long)(n % 100000000));
	fill_rect(f->data[0], f->linesize[0], plate.x, plate.y, plate.w,
		  plate.h, f->width, f->height, 16);
	for (int i = 0; i < COUNTER_DIGITS; i++) {
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

/* What a viewer of a KVM box mostly looks at is a still desktop with some
 * motion, so the pattern is that: a still background that shows colour,
 * grey levels and sharpness (colour bars over the top 60 %, a luma ramp,
 * then 1- and 2-pixel line pairs), a window dragged over it (motion is
 * smooth, frames are not dropped or reordered) and the picture counter (how
 * late the picture is, which picture a client is stuck on). A picture that
 * moves everywhere at once would look like mush at the bitrate a client's
 * quality asks for (spec session §3.4). */
#define NBARS 7

/* 75 % colour bars, BT.601 limited range: white, yellow, cyan, green,
 * magenta, red, blue. */
static const uint8_t bar_y[NBARS] = { 180, 162, 131, 112, 84, 65, 35 };
static const uint8_t bar_u[NBARS] = { 128, 44, 156, 72, 184, 100, 212 };
static const uint8_t bar_v[NBARS] = { 128, 142, 44, 58, 198, 212, 114 };

static int bars_bottom(int h) { return (h * 3 / 5) & ~1; }
static int ramp_bottom(int h) { return (h * 4 / 5) & ~1; }

/* The still luma plane, width x height bytes, packed. */
static uint8_t *background_luma(int w, int h)
{
	uint8_t *b = malloc((size_t)w * (size_t)h);

	if (!b)
		return NULL;
	for (int y = 0; y < h; y++) {
		uint8_t *row = b + (size_t)y * w;

		for (int x = 0; x < w; x++) {
			if (y < bars_bottom(h))
				row[x] = bar_y[x * NBARS / w];
			else if (y < ramp_bottom(h))
				row[x] = (uint8_t)(16 + x * 219 / (w > 1 ? w - 1 : 1));
			else if (x < w / 2) /* 1-pixel line pairs */
				row[x] = (x & 1) ? 235 : 16;
			else                /* 2-pixel line pairs */
				row[x] = (x & 2) ? 235 : 16;
		}
	}
	return b;
}

/* 0, 1, ..., range, range - 1, ..., 1, 0, 1, ...: back and forth. */
static int bounce(uint64_t pos, int range)
{
	uint64_t period = range > 0 ? 2 * (uint64_t)range : 1;
	int p = (int)(pos % period);

	return p <= range ? p : 2 * range - p;
}

/* The window: a third of the picture wide, three quarters of the grey
 * bands high, bouncing inside them. */
static struct rect window_rect(int w, int h, uint64_t n)
{
	int top = bars_bottom(h);
	int ww = (w / 3) & ~1, wh = ((h - top) * 3 / 4) & ~1;

	return (struct rect){ bounce(n * 7, w - ww),
			      top + bounce(n * 3, h - top - wh), ww, wh };
}

static void copy_background(AVFrame *f, const uint8_t *background,
			    struct rect r)
{
	for (int y = r.y; y < r.y + r.h; y++)
		memcpy(f->data[0] + (size_t)y * f->linesize[0] + r.x,
		       background + (size_t)y * f->width + r.x, (size_t)r.w);
}

/* The window's two body rows: the checkerboard's phases, window width
 * each, borders included. */
static uint8_t *window_rows(int w)
{
	int ww = (w / 3) & ~1;
	uint8_t *rows = malloc(2 * (size_t)ww);

	if (!rows)
		return NULL;
	for (int phase = 0; phase < 2; phase++)
		for (int c = 0; c < ww; c++)
			rows[phase * ww + c] = ((c >> 3) ^ phase) & 1 ? 200 : 150;
	return rows;
}

/* A window dragged over the still background and the counter. Its body is
 * a checkerboard that moves with it, so every macroblock it covers changes
 * from one picture to the next, as when a real window is dragged (about as
 * many as change in ffmpeg's testsrc2). The window stays inside the grey
 * bands: it is grey, only luma changes from one picture to the next. */
static void draw_moving(AVFrame *f, uint64_t n, struct rect win,
			const uint8_t *rows)
{
	int border = win.h / 64 > 1 ? win.h / 64 : 1;
	int title = win.h / 8 > border ? win.h / 8 : border;

	for (int r = 0; r < win.h; r++) {
		uint8_t *row = f->data[0] + (size_t)(win.y + r) * f->linesize[0] +
			       win.x;

		if (r < border || r >= win.h - border) {
			memset(row, 30, (size_t)win.w);
			continue;
		}
		if (r < title)
			memset(row, 60, (size_t)win.w);
		else
			memcpy(row, rows + ((r >> 3) & 1) * (size_t)win.w,
			       (size_t)win.w);
		memset(row, 30, (size_t)border);
		memset(row + win.w - border, 30, (size_t)border);
	}
	draw_counter(f, n);
}

static void chroma_at(int x, int y, int w, int h, uint8_t *u, uint8_t *v)
{
	struct rect c = counter_plate(h);
	bool on_counter = x >= c.x && x < c.x + c.w && y >= c.y && y < c.y + c.h;

	if (y < bars_bottom(h) && !on_counter) {
		*u = bar_u[x * NBARS / w];
		*v = bar_v[x * NBARS / w];
	} else {
		*u = *v = 128;
	}
}

/* Chroma is still: drawn once per pool frame. */
static void draw_chroma(AVFrame *f)
{
	int w = f->width, h = f->height;

	for (int y = 0; y < h / 2; y++) {
		for (int x = 0; x < w / 2; x++) {
			uint8_t u, v;

			chroma_at(2 * x, 2 * y, w, h, &u, &v);
			if (f->format == AV_PIX_FMT_NV12) {
				uint8_t *uv = f->data[1] + (size_t)y * f->linesize[1];

				uv[2 * x] = u;
				uv[2 * x + 1] = v;
			} else {
				f->data[1][(size_t)y * f->linesize[1] + x] = u;
				f->data[2][(size_t)y * f->linesize[2] + x] = v;
			}
		}
	}
}

void kd_testpattern_render(AVFrame *f, uint64_t n)
{
	uint8_t *background = background_luma(f->width, f->height);
	uint8_t *rows = window_rows(f->width);

	if (background && rows) {
		copy_background(f, background,
				(struct rect){ 0, 0, f->width, f->height });
		draw_moving(f, n, window_rect(f->width, f->height, n), rows);
		draw_chroma(f);
	}
	free(background);
	free(rows);
}

/* The source draws only what changes: the whole picture when the pool
 * (re)allocates a frame, afterwards the background where the window was in
 * that frame, then the window and the counter (nobody else writes the pool's
 * frames: encoders only read them). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct testpattern *t = arg;
	AVFrame *f = kd_frame_pool_get(&t->pool, AV_PIX_FMT_YUV420P,
				       (int)t->head.mode.width,
				       (int)t->head.mode.height);
	int w = (int)t->head.mode.width, h = (int)t->head.mode.height;
	struct rect *old_window;

	t->n++;
	if (!f)
		return; /* every buffer still being encoded: skip this one */
	old_window = &t->window_in[t->pool.slot];
	if (t->pool.fresh) {
		*old_window = (struct rect){ 0, 0, w, h };
		draw_chroma(f);
	}
	copy_background(f, t->background, *old_window);
	*old_window = window_rect(w, h, t->n);
	draw_moving(f, t->n, *old_window, t->window_rows);
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
	free(t->background);
	free(t->window_rows);
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
	t->background = background_luma((int)width, (int)height);
	t->window_rows = window_rows((int)width);
	if (!t->tick || !t->background || !t->window_rows) {
		tp_destroy(&t->head);
		return -ENOMEM;
	}
	*out = &t->head;
	return 0;
}
