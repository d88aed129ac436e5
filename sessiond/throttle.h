/* Wrong-password throttling exactly as the real peer does it (spec
 * connection §7.5, rustdesk src/server/connection.rs check_failure): per IP
 * a record (minute, failures in that minute, total failures), and for IPv6
 * the same per /64, /56 and /48 prefix. Memory only; bounded. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_THROTTLE_MAX_ENTRIES 8192

struct kd_throttle;

int kd_throttle_new(struct kd_throttle **out);
void kd_throttle_free(struct kd_throttle *t);

/* May ip try a password now (now_ms: wall clock in ms, the minute counts)?
 * false with *error set to the exact text for the client when blocked. */
bool kd_throttle_allow(struct kd_throttle *t, const char *ip, int64_t now_ms,
		       const char **error);
void kd_throttle_failure(struct kd_throttle *t, const char *ip,
			 int64_t now_ms);
/* A successful login forgets the IP and its prefixes. */
void kd_throttle_success(struct kd_throttle *t, const char *ip);
size_t kd_throttle_entries(const struct kd_throttle *t);
