/* Exponential back-off with jitter for reconnecting to a daemon or server. */
#pragma once
#include <stdint.h>

struct kd_backoff {
	uint32_t initial_ms;
	uint32_t max_ms;
	uint32_t current_ms;
};

void kd_backoff_init(struct kd_backoff *b, uint32_t initial_ms,
		     uint32_t max_ms);
/* The delay to wait now; doubles the next one up to max (±20 % jitter). */
uint32_t kd_backoff_next(struct kd_backoff *b);
void kd_backoff_reset(struct kd_backoff *b);
