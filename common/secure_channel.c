/* XSalsa20-Poly1305 framing of RustDesk's secure connection (spec
 * connection §6.5) and the crypto_box exchange of the session key (§6.3-6.4). */
#include "secure_channel.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

_Static_assert(KD_SECURE_KEY_BYTES == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(KD_SECURE_MAC_BYTES == crypto_secretbox_MACBYTES, "mac size");

static void counter_nonce(uint64_t counter,
			  uint8_t nonce[crypto_secretbox_NONCEBYTES])
{
	memset(nonce, 0, crypto_secretbox_NONCEBYTES);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(counter >> (8 * i));
}

void kd_secure_channel_init(struct kd_secure_channel *ch,
			    const uint8_t key[KD_SECURE_KEY_BYTES])
{
	memset(ch, 0, sizeof(*ch));
	if (key) {
		memcpy(ch->key, key, KD_SECURE_KEY_BYTES);
		ch->enabled = true;
	}
}

void kd_secure_channel_wipe(struct kd_secure_channel *ch)
{
	sodium_memzero(ch, sizeof(*ch));
}

size_t kd_secure_channel_seal(struct kd_secure_channel *ch,
			      const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t nonce[crypto_secretbox_NONCEBYTES];

	if (!ch->enabled) {
		if (len)
			memmove(out, plain, len);
		return len;
	}
	ch->send_counter++;
	counter_nonce(ch->send_counter, nonce);
	crypto_secretbox_easy(out, plain, len, nonce, ch->key);
	return len + KD_SECURE_MAC_BYTES;
}

int kd_secure_channel_open(struct kd_secure_channel *ch, const uint8_t *cipher,
			   size_t len, uint8_t *out, size_t *out_len)
{
	uint8_t nonce[crypto_secretbox_NONCEBYTES];

	if (!ch->enabled || len <= 1) {
		if (len)
			memmove(out, cipher, len);
		*out_len = len;
		return 0;
	}
	if (len < KD_SECURE_MAC_BYTES)
		return -EBADMSG;
	ch->recv_counter++;
	counter_nonce(ch->recv_counter, nonce);
	if (crypto_secretbox_open_easy(out, cipher, len, nonce, ch->key) != 0)
		return -EBADMSG;
	*out_len = len - KD_SECURE_MAC_BYTES;
	return 0;
}

void kd_secure_channel_skip(struct kd_secure_channel *ch, size_t len)
{
	if (ch->enabled && len > 1)
		ch->recv_counter++;
}

int kd_session_key_open(const uint8_t *symmetric_value, size_t len,
			const uint8_t client_pk[32],
			const uint8_t ephemeral_sk[32],
			uint8_t key_out[KD_SECURE_KEY_BYTES])
{
	static const uint8_t zero_nonce[crypto_box_NONCEBYTES];

	if (len != KD_SECURE_KEY_BYTES + crypto_box_MACBYTES)
		return -EBADMSG;
	if (crypto_box_open_easy(key_out, symmetric_value, len, zero_nonce,
				 client_pk, ephemeral_sk) != 0)
		return -EBADMSG;
	return 0;
}

int kd_session_key_seal(const uint8_t key[KD_SECURE_KEY_BYTES],
			const uint8_t peer_ephemeral_pk[32],
			const uint8_t client_sk[32], uint8_t out[48])
{
	static const uint8_t zero_nonce[crypto_box_NONCEBYTES];

	if (crypto_box_easy(out, key, KD_SECURE_KEY_BYTES, zero_nonce,
			    peer_ephemeral_pk, client_sk) != 0)
		return -EINVAL;
	return 0;
}
