/* Fuzz target: RustDesk TCP framing, the secretbox layer and Message
 * parsing, the way a worker meets untrusted bytes. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "frame_codec.h"
#include "message.pb-c.h"
#include "secure_channel.h"

#define MAX_PAYLOAD (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[KD_SECURE_KEY_BYTES] = { 1, 2, 3 };
	static uint8_t buf[MAX_PAYLOAD + KD_SECURE_MAC_BYTES];
	struct kd_secure_channel ch;
	size_t off = 0;

	kd_secure_channel_init(&ch, key);
	while (off < size) {
		uint8_t hdr[KD_FRAME_HEADER_MAX];
		size_t hl, n, plain;
		Hbb__Message *m;
		int r = kd_frame_header_decode(data + off, size - off,
					       MAX_PAYLOAD, &hl, &n);

		if (r != 0)
			break;
		assert(hl >= 1 && hl <= 4 && n <= MAX_PAYLOAD);
		/* the shortest header for n is never longer than what came */
		assert(kd_frame_header_encode(n, hdr) <= hl);
		if (size - off - hl < n)
			break;
		memcpy(buf, data + off + hl, n);
		/* as plaintext (direct IP) ... */
		m = hbb__message__unpack(NULL, n, buf);
		if (m) {
			size_t len = hbb__message__get_packed_size(m);
			assert(len <= sizeof(buf));
			hbb__message__pack(m, buf);
			hbb__message__free_unpacked(m, NULL);
			memcpy(buf, data + off + hl, n);
		}
		/* ... and as a secretbox frame */
		if (kd_secure_channel_open(&ch, buf, n, buf, &plain) == 0) {
			m = hbb__message__unpack(NULL, plain, buf);
			if (m)
				hbb__message__free_unpacked(m, NULL);
		}
		off += hl + n;
	}
	kd_secure_channel_wipe(&ch);
	return 0;
}
