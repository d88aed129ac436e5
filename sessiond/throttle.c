/* Login failure records keyed by IP text and IPv6 prefixes ("2001:db8::/64"). */
#include "throttle.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"

#define KEY_MAX 64

struct record {
	char key[KEY_MAX];
	int32_t minute;
	int32_t in_minute;
	int32_t total;
};

struct kd_throttle {
	struct record *r;
	size_t n;
};

static const struct {
	int bits;
	int32_t limit;
} prefixes[3] = { { 64, 60 }, { 56, 80 }, { 48, 100 } };

int kd_throttle_new(struct kd_throttle **out)
{
	struct kd_throttle *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	/* workers are forked from the monitor: they see zeros here */
	t->r = kd_private_alloc(KD_THROTTLE_MAX_ENTRIES * sizeof(*t->r));
	if (!t->r) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void kd_throttle_free(struct kd_throttle *t)
{
	if (!t)
		return;
	kd_private_free(t->r, KD_THROTTLE_MAX_ENTRIES * sizeof(*t->r));
	free(t);
}

size_t kd_throttle_entries(const struct kd_throttle *t)
{
	return t->n;
}

/* The three IPv6 prefix keys; false for IPv4 (and IPv4-mapped) addresses. */
static bool ipv6_prefix_keys(const char *ip, char keys[3][KEY_MAX])
{
	struct in6_addr a, m;
	char text[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN];
	const char *pct = strchr(ip, '%');
	size_t len = pct ? (size_t)(pct - ip) : strlen(ip);

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, ip, len);
	buf[len] = 0;
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return false;
	for (int i = 0; i < 3; i++) {
		int bits = prefixes[i].bits;

		memset(&m, 0, sizeof(m));
		memcpy(m.s6_addr, a.s6_addr, (size_t)bits / 8);
		inet_ntop(AF_INET6, &m, text, sizeof(text));
		snprintf(keys[i], KEY_MAX, "%s/%d", text, bits);
	}
	return true;
}

static struct record *find(struct kd_throttle *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->r[i].key, key) == 0)
			return &t->r[i];
	return NULL;
}

static void forget(struct kd_throttle *t, const char *key)
{
	struct record *r = find(t, key);

	if (r)
		*r = t->r[--t->n];
}

static struct record *get_or_add(struct kd_throttle *t, const char *key)
{
	struct record *r = find(t, key);

	if (r)
		return r;
	if (t->n == KD_THROTTLE_MAX_ENTRIES) {
		/* full: drop the record with the oldest minute */
		size_t oldest = 0;
		for (size_t i = 1; i < t->n; i++)
			if (t->r[i].minute < t->r[oldest].minute)
				oldest = i;
		t->r[oldest] = t->r[--t->n];
	}
	r = &t->r[t->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	return r;
}

static void bump(struct kd_throttle *t, const char *key, int32_t minute)
{
	struct record *r = get_or_add(t, key);

	if (r->minute == minute) {
		r->in_minute++;
	} else {
		r->minute = minute;
		r->in_minute = 1;
	}
	r->total++;
}

bool kd_throttle_allow(struct kd_throttle *t, const char *ip, int64_t now_ms,
		       const char **error)
{
	static const char *const prefix_errors[3] = {
		"Too many wrong attempts for IPv6 prefix /64",
		"Too many wrong attempts for IPv6 prefix /56",
		"Too many wrong attempts for IPv6 prefix /48",
	};
	int32_t minute = (int32_t)(now_ms / 60000);
	char keys[3][KEY_MAX];
	const struct record *r;

	if (ipv6_prefix_keys(ip, keys)) {
		for (int i = 0; i < 3; i++) {
			r = find(t, keys[i]);
			if (r && r->total > prefixes[i].limit) {
				*error = prefix_errors[i];
				return false;
			}
		}
	}
	r = find(t, ip);
	if (r && r->total > 30) {
		*error = "Too many wrong attempts";
		return false;
	}
	if (r && r->minute == minute && r->in_minute > 6) {
		*error = "Please try 1 minute later";
		return false;
	}
	return true;
}

void kd_throttle_failure(struct kd_throttle *t, const char *ip, int64_t now_ms)
{
	int32_t minute = (int32_t)(now_ms / 60000);
	char keys[3][KEY_MAX];

	if (strlen(ip) >= KEY_MAX)
		return;
	if (ipv6_prefix_keys(ip, keys))
		for (int i = 0; i < 3; i++)
			bump(t, keys[i], minute);
	bump(t, ip, minute);
}

void kd_throttle_success(struct kd_throttle *t, const char *ip)
{
	char keys[3][KEY_MAX];

	if (!find(t, ip))
		return; /* the real peer only clears when the IP has a record */
	if (ipv6_prefix_keys(ip, keys))
		for (int i = 0; i < 3; i++)
			forget(t, keys[i]);
	forget(t, ip);
}
