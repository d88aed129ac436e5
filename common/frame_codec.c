/* RustDesk's TCP framing (spec connection §2.1). */
#include "frame_codec.h"

#include <errno.h>

size_t kd_frame_header_encode(size_t payload_len,
			      uint8_t out[KD_FRAME_HEADER_MAX])
{
	size_t hl;
	uint32_t h;

	if (payload_len <= 0x3F)
		hl = 1;
	else if (payload_len <= 0x3FFF)
		hl = 2;
	else if (payload_len <= 0x3FFFFF)
		hl = 3;
	else if (payload_len <= KD_FRAME_PAYLOAD_MAX)
		hl = 4;
	else
		return 0;

	h = ((uint32_t)payload_len << 2) | (uint32_t)(hl - 1);
	for (size_t i = 0; i < hl; i++)
		out[i] = (uint8_t)(h >> (8 * i));
	return hl;
}

int kd_frame_header_decode(const uint8_t *buf, size_t avail,
			   size_t max_payload, size_t *header_len,
			   size_t *payload_len)
{
	size_t hl, n;
	uint32_t h = 0;

	if (avail < 1)
		return KD_FRAME_INCOMPLETE;
	hl = (size_t)(buf[0] & 3) + 1;
	if (avail < hl)
		return KD_FRAME_INCOMPLETE;
	for (size_t i = 0; i < hl; i++)
		h |= (uint32_t)buf[i] << (8 * i);
	n = h >> 2;
	if (n > max_payload)
		return -EMSGSIZE;
	*header_len = hl;
	*payload_len = n;
	return 0;
}
