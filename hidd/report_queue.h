/* Reports waiting for a device that is not ready (EAGAIN: the host has not
 * polled the previous one yet). Nothing the user did is dropped:
 *   keyboard   every distinct state is kept in order (a quick press and
 *              release both reach the host);
 *   absolute   a report with the same buttons as the one waiting before it
 *              replaces that one's position and adds its wheel, unless the
 *              waiting one changes a button (a click stays where it was):
 *              only intermediate positions are merged, button changes and
 *              the final position always arrive;
 *   relative   same, but motion is summed (while it fits in a report).
 * When the queue is full (host gone for long) it collapses to the newest
 * report, which is the current state. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "hid_report.h"

#define KD_REPORT_QUEUE_CAP 128

enum kd_report_kind {
	KD_REPORT_KEYBOARD,
	KD_REPORT_MOUSE_ABS,
	KD_REPORT_MOUSE_REL,
};

struct kd_report_queue {
	enum kd_report_kind kind;
	unsigned head, count;
	struct kd_hid_report q[KD_REPORT_QUEUE_CAP];
	uint8_t last_buttons; /* of the last report taken off the queue */
	uint64_t merged;    /* reports folded into a waiting one */
	uint64_t collapsed; /* times the queue overflowed */
};

void kd_report_queue_init(struct kd_report_queue *q, enum kd_report_kind kind);
void kd_report_queue_push(struct kd_report_queue *q,
			  const struct kd_hid_report *r);
/* NULL when empty. */
const struct kd_hid_report *kd_report_queue_peek(const struct kd_report_queue *q);
void kd_report_queue_pop(struct kd_report_queue *q);
/* Keeps only the newest report (if any): the device was away, the host only
 * needs the current state when it returns. */
void kd_report_queue_collapse(struct kd_report_queue *q);
void kd_report_queue_clear(struct kd_report_queue *q);
