/* Annex-B scanning for parameter sets; see paramsets.h. */
#include "paramsets.h"

#include <string.h>

void kd_paramsets_init(struct kd_paramsets *ps, bool hevc)
{
	ps->hevc = hevc;
	ps->len = 0;
}

/* Next NAL unit at or after *pos: returns its first byte's offset and sets
 * *end to where it stops (the next start code or len). -1 when none. */
static long next_nal(const uint8_t *d, size_t len, size_t *pos, size_t *end)
{
	size_t i = *pos, start;

	while (i + 3 <= len && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1))
		i++;
	if (i + 3 > len)
		return -1;
	start = i + 3;
	i = start;
	while (i + 3 <= len && !(d[i] == 0 && d[i + 1] == 0 &&
				 (d[i + 2] == 1 ||
				  (d[i + 2] == 0 && i + 3 < len && d[i + 3] == 1))))
		i++;
	*end = i + 3 <= len ? i : len;
	*pos = *end;
	return (long)start;
}

static int nal_type(const struct kd_paramsets *ps, uint8_t b)
{
	return ps->hevc ? (b >> 1) & 0x3f : b & 0x1f;
}

static bool is_param(const struct kd_paramsets *ps, int t)
{
	return ps->hevc ? (t >= 32 && t <= 34) : (t == 7 || t == 8);
}

static bool is_sps(const struct kd_paramsets *ps, int t)
{
	return ps->hevc ? t == 33 : t == 7;
}

bool kd_paramsets_scan(struct kd_paramsets *ps, const uint8_t *data,
		       size_t len)
{
	uint8_t tmp[KD_PARAMSETS_MAX];
	size_t pos = 0, end, n = 0;
	bool sps = false, overflow = false;
	long s;

	while ((s = next_nal(data, len, &pos, &end)) >= 0) {
		int t;

		if ((size_t)s >= end)
			continue;
		t = nal_type(ps, data[s]);
		if (!is_param(ps, t))
			continue;
		sps |= is_sps(ps, t);
		if (n + 4 + (end - (size_t)s) > sizeof(tmp)) {
			overflow = true;
			continue;
		}
		memcpy(tmp + n, "\0\0\0\1", 4);
		memcpy(tmp + n + 4, data + s, end - (size_t)s);
		n += 4 + (end - (size_t)s);
	}
	if (sps && !overflow) {
		memcpy(ps->buf, tmp, n);
		ps->len = n;
	}
	return sps;
}

size_t kd_paramsets_prefix(const struct kd_paramsets *ps, const uint8_t *key,
			   size_t len)
{
	size_t pos = 0, end;
	long s;

	while ((s = next_nal(key, len, &pos, &end)) >= 0)
		if ((size_t)s < end && is_sps(ps, nal_type(ps, key[s])))
			return 0;
	return ps->len;
}
