/* RustDesk's TCP framing (hbb_common BytesCodec, spec connection §2.1):
 * a 1-4 byte little-endian header H = (N << 2) | (header_len - 1), then N
 * payload bytes. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define KD_FRAME_HEADER_MAX 4
#define KD_FRAME_PAYLOAD_MAX 0x3FFFFFFFu /* what 30 bits can say */
#define KD_FRAME_INCOMPLETE 1            /* need more bytes */

/* Writes the shortest header for payload_len; returns its length (1-4), or 0
 * when payload_len exceeds KD_FRAME_PAYLOAD_MAX. */
size_t kd_frame_header_encode(size_t payload_len,
			      uint8_t out[KD_FRAME_HEADER_MAX]);

/* Parses a header at buf (avail bytes available). Returns 0 with *header_len
 * and *payload_len set, KD_FRAME_INCOMPLETE if avail is too short, or
 * -EMSGSIZE if the payload would exceed max_payload: the caller rejects an
 * oversized frame before allocating anything. Non-minimal headers are
 * accepted, as the real decoder does. */
int kd_frame_header_decode(const uint8_t *buf, size_t avail,
			   size_t max_payload, size_t *header_len,
			   size_t *payload_len);
