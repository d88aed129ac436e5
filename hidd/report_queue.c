#include "report_queue.h"

#include <string.h>

void kd_report_queue_init(struct kd_report_queue *q, enum kd_report_kind kind)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
}

static struct kd_hid_report *at(struct kd_report_queue *q, unsigned i)
{
	return &q->q[(q->head + i) % KD_REPORT_QUEUE_CAP];
}

static bool fits8(int v)
{
	return v >= -127 && v <= 127;
}

static int s8(uint8_t b)
{
	return (int8_t)b;
}

/* Folds r into the waiting report t when that loses nothing. */
static bool merge(enum kd_report_kind kind, struct kd_hid_report *t,
		  const struct kd_hid_report *r)
{
	int w, p, dx, dy;

	switch (kind) {
	case KD_REPORT_KEYBOARD:
		return memcmp(t->b, r->b, KD_HID_KBD_REPORT_LEN) == 0;
	case KD_REPORT_MOUSE_ABS:
		w = s8(t->b[5]) + s8(r->b[5]);
		p = s8(t->b[6]) + s8(r->b[6]);
		if (t->b[0] != r->b[0] || !fits8(w) || !fits8(p))
			return false;
		memcpy(&t->b[1], &r->b[1], 4);
		t->b[5] = (uint8_t)(int8_t)w;
		t->b[6] = (uint8_t)(int8_t)p;
		return true;
	case KD_REPORT_MOUSE_REL:
		dx = s8(t->b[1]) + s8(r->b[1]);
		dy = s8(t->b[2]) + s8(r->b[2]);
		w = s8(t->b[3]) + s8(r->b[3]);
		p = s8(t->b[4]) + s8(r->b[4]);
		if (t->b[0] != r->b[0] || !fits8(dx) || !fits8(dy) ||
		    !fits8(w) || !fits8(p))
			return false;
		t->b[1] = (uint8_t)(int8_t)dx;
		t->b[2] = (uint8_t)(int8_t)dy;
		t->b[3] = (uint8_t)(int8_t)w;
		t->b[4] = (uint8_t)(int8_t)p;
		return true;
	}
	return false;
}

/* A waiting mouse report that presses or releases a button must keep its
 * position: only pure motion is merged into. */
static bool tail_changes_buttons(struct kd_report_queue *q)
{
	uint8_t before = q->count >= 2 ? at(q, q->count - 2)->b[0]
				       : q->last_buttons;

	return q->kind != KD_REPORT_KEYBOARD &&
	       at(q, q->count - 1)->b[0] != before;
}

void kd_report_queue_push(struct kd_report_queue *q,
			  const struct kd_hid_report *r)
{
	if (q->count > 0 && !tail_changes_buttons(q) &&
	    merge(q->kind, at(q, q->count - 1), r)) {
		q->merged++;
		return;
	}
	if (q->count == KD_REPORT_QUEUE_CAP) {
		q->collapsed++;
		q->head = 0;
		q->count = 0;
	}
	*at(q, q->count) = *r;
	q->count++;
}

const struct kd_hid_report *kd_report_queue_peek(const struct kd_report_queue *q)
{
	return q->count ? &q->q[q->head] : NULL;
}

void kd_report_queue_pop(struct kd_report_queue *q)
{
	if (!q->count)
		return;
	q->last_buttons = q->q[q->head].b[0];
	q->head = (q->head + 1) % KD_REPORT_QUEUE_CAP;
	q->count--;
}

void kd_report_queue_collapse(struct kd_report_queue *q)
{
	struct kd_hid_report last;

	if (q->count <= 1)
		return;
	last = *at(q, q->count - 1);
	q->head = 0;
	q->count = 1;
	q->q[0] = last;
}

void kd_report_queue_clear(struct kd_report_queue *q)
{
	q->head = 0;
	q->count = 0;
}
