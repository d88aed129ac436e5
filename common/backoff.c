#include "backoff.h"

#include <sodium.h>

void kd_backoff_init(struct kd_backoff *b, uint32_t initial_ms,
		     uint32_t max_ms)
{
	b->initial_ms = initial_ms ? initial_ms : 1;
	b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
	b->current_ms = b->initial_ms;
}

uint32_t kd_backoff_next(struct kd_backoff *b)
{
	uint32_t base = b->current_ms;
	/* Jitter keeps many workers from reconnecting to a restarted daemon in
	 * lock step. */
	uint32_t span = base / 5;
	uint32_t delay = base - span + (span ? randombytes_uniform(2 * span + 1) : 0);
	if (b->current_ms >= b->max_ms / 2)
		b->current_ms = b->max_ms;
	else
		b->current_ms *= 2;
	return delay;
}

void kd_backoff_reset(struct kd_backoff *b)
{
	b->current_ms = b->initial_ms;
}
