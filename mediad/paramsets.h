/* In-band parameter sets for H.264 / H.265 (spec session §3.1): every
 * keyframe the client gets must carry SPS/PPS (and VPS) in the same data.
 * Software encoders repeat them; some hardware encoders (V4L2 M2M) emit
 * them only once or only as extradata. This remembers the last ones seen
 * and says when a keyframe needs them prepended. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_PARAMSETS_MAX 4096

struct kd_paramsets {
	bool hevc;
	size_t len;
	uint8_t buf[KD_PARAMSETS_MAX]; /* Annex-B, 4-byte start codes */
};

void kd_paramsets_init(struct kd_paramsets *ps, bool hevc);
/* Scans an Annex-B buffer (a packet or extradata): remembers its parameter
 * sets if it has any. Returns true when it carries an SPS. */
bool kd_paramsets_scan(struct kd_paramsets *ps, const uint8_t *data,
		       size_t len);
/* Bytes to put in front of a keyframe that has no SPS of its own (0: none
 * needed or none known). */
size_t kd_paramsets_prefix(const struct kd_paramsets *ps, const uint8_t *key,
			   size_t len);
