/* The symmetric half of RustDesk's secure connection (spec connection §6.5):
 * one 32-byte key for both directions, XSalsa20-Poly1305 secretbox, implicit
 * per-direction counters starting at 1 (little-endian in nonce bytes 0-7),
 * and payloads of 0 or 1 bytes passed through in clear. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_SECURE_KEY_BYTES 32
#define KD_SECURE_MAC_BYTES 16

struct kd_secure_channel {
	bool enabled;
	uint8_t key[KD_SECURE_KEY_BYTES];
	uint64_t send_counter;
	uint64_t recv_counter;
};

void kd_secure_channel_init(struct kd_secure_channel *ch,
			    const uint8_t key[KD_SECURE_KEY_BYTES]);
void kd_secure_channel_wipe(struct kd_secure_channel *ch);

/* out must hold len + KD_SECURE_MAC_BYTES. When the channel is disabled the
 * plaintext is copied. Returns the output length. */
size_t kd_secure_channel_seal(struct kd_secure_channel *ch,
			      const uint8_t *plain, size_t len, uint8_t *out);

/* Opens one received frame payload into out (capacity >= len). Returns 0 and
 * *out_len, or -EBADMSG when authentication fails (the connection must
 * close). Payloads of 0 or 1 bytes are copied and do not advance the
 * counter. */
int kd_secure_channel_open(struct kd_secure_channel *ch, const uint8_t *cipher,
			   size_t len, uint8_t *out, size_t *out_len);

/* Accounts for a received frame of len payload bytes that is dropped unread
 * (too large to keep): the counter advances exactly as open() would have,
 * so the frames after it still decrypt. */
void kd_secure_channel_skip(struct kd_secure_channel *ch, size_t len);

/* Handshake (spec §6.3-6.4). Peer side: opens PublicKey.symmetric_value
 * (48 bytes) with the client's X25519 key and our ephemeral secret key.
 * -EBADMSG on failure. */
int kd_session_key_open(const uint8_t *symmetric_value, size_t len,
			const uint8_t client_pk[32],
			const uint8_t ephemeral_sk[32],
			uint8_t key_out[KD_SECURE_KEY_BYTES]);
/* Client side (test client): seals key for the peer's ephemeral key. */
int kd_session_key_seal(const uint8_t key[KD_SECURE_KEY_BYTES],
			const uint8_t peer_ephemeral_pk[32],
			const uint8_t client_sk[32], uint8_t out[48]);
