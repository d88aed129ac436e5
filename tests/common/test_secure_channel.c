/* common/secure_channel: spec connection §6.3-6.5. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "frame_codec.h"
#include "secure_channel.h"

static uint8_t key[KD_SECURE_KEY_BYTES];

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
}

static void nonce_for(uint64_t counter, uint8_t nonce[24])
{
	memset(nonce, 0, 24);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(counter >> (8 * i));
}

/* The spec's example: the unencrypted Hash of §3.7 is the peer's first
 * encrypted frame: 38 bytes, header 0x98, nonce counter 1. */
static const uint8_t hash_msg[] = {
	0x4A, 0x14, 0x0A, 0x0A, 0x73, 0x32, 0x66, 0x7A, 0x37, 0x6B, 0x39,
	0x6D, 0x61, 0x33, 0x12, 0x06, 0x37, 0x6D, 0x71, 0x78, 0x32, 0x6B,
};

START_TEST(counters_start_at_one)
{
	struct kd_secure_channel ch;
	uint8_t out[64], expect[64], nonce[24], hdr[4];

	kd_secure_channel_init(&ch, key);
	ck_assert(ch.enabled);
	ck_assert_uint_eq(ch.send_counter, 0);
	ck_assert_uint_eq(kd_secure_channel_seal(&ch, hash_msg,
						 sizeof(hash_msg), out),
			  38);
	ck_assert_uint_eq(kd_frame_header_encode(38, hdr), 1);
	ck_assert_uint_eq(hdr[0], 0x98);
	nonce_for(1, nonce);
	crypto_secretbox_easy(expect, hash_msg, sizeof(hash_msg), nonce, key);
	ck_assert_mem_eq(out, expect, 38);

	/* Second frame: counter 2, little-endian in nonce bytes 0-7. */
	ck_assert_uint_eq(kd_secure_channel_seal(&ch, hash_msg,
						 sizeof(hash_msg), out),
			  38);
	nonce_for(2, nonce);
	crypto_secretbox_easy(expect, hash_msg, sizeof(hash_msg), nonce, key);
	ck_assert_mem_eq(out, expect, 38);
	ck_assert_uint_eq(ch.send_counter, 2);
	ck_assert_uint_eq(ch.recv_counter, 0);
}
END_TEST

START_TEST(counter_little_endian_high_bytes)
{
	struct kd_secure_channel ch;
	uint8_t out[64], expect[64], nonce[24];

	kd_secure_channel_init(&ch, key);
	ch.send_counter = 0x01020304050606ffULL;
	kd_secure_channel_seal(&ch, hash_msg, sizeof(hash_msg), out);
	nonce_for(0x0102030405060700ULL, nonce);
	ck_assert_uint_eq(nonce[0], 0x00);
	ck_assert_uint_eq(nonce[1], 0x07);
	ck_assert_uint_eq(nonce[7], 0x01);
	crypto_secretbox_easy(expect, hash_msg, sizeof(hash_msg), nonce, key);
	ck_assert_mem_eq(out, expect, 38);
}
END_TEST

START_TEST(both_directions_share_sequence)
{
	/* Peer->client frame n and client->peer frame n use the same nonce. */
	struct kd_secure_channel peer, client;
	uint8_t c[128], p[128];
	size_t len, plen;

	kd_secure_channel_init(&peer, key);
	kd_secure_channel_init(&client, key);
	for (int i = 1; i <= 5; i++) {
		len = kd_secure_channel_seal(&peer, hash_msg, sizeof(hash_msg),
					     c);
		ck_assert_int_eq(kd_secure_channel_open(&client, c, len, p,
							&plen),
				 0);
		ck_assert_uint_eq(plen, sizeof(hash_msg));
		ck_assert_mem_eq(p, hash_msg, plen);
		len = kd_secure_channel_seal(&client, hash_msg, 3, c);
		ck_assert_int_eq(kd_secure_channel_open(&peer, c, len, p,
							&plen),
				 0);
		ck_assert_uint_eq(plen, 3);
		ck_assert_uint_eq(peer.recv_counter, (uint64_t)i);
	}
}
END_TEST

START_TEST(short_payloads_pass_through)
{
	struct kd_secure_channel ch;
	uint8_t out[4];
	size_t len = 99;
	const uint8_t one = 0x2A;

	kd_secure_channel_init(&ch, key);
	ck_assert_int_eq(kd_secure_channel_open(&ch, NULL, 0, out, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(kd_secure_channel_open(&ch, &one, 1, out, &len), 0);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(out[0], 0x2A);
	ck_assert_uint_eq(ch.recv_counter, 0);
}
END_TEST

START_TEST(exception_does_not_shift_counter)
{
	struct kd_secure_channel a, b;
	uint8_t c[64], p[64];
	size_t len, plen;

	kd_secure_channel_init(&a, key);
	kd_secure_channel_init(&b, key);
	len = kd_secure_channel_seal(&a, hash_msg, sizeof(hash_msg), c);
	/* an empty frame in between */
	ck_assert_int_eq(kd_secure_channel_open(&b, c, 0, p, &plen), 0);
	ck_assert_int_eq(kd_secure_channel_open(&b, c, len, p, &plen), 0);
	ck_assert_uint_eq(b.recv_counter, 1);
}
END_TEST

START_TEST(mac_failure)
{
	struct kd_secure_channel a, b;
	uint8_t c[64], p[64];
	size_t len, plen;

	kd_secure_channel_init(&a, key);
	kd_secure_channel_init(&b, key);
	len = kd_secure_channel_seal(&a, hash_msg, sizeof(hash_msg), c);
	c[20] ^= 1;
	ck_assert_int_eq(kd_secure_channel_open(&b, c, len, p, &plen),
			 -EBADMSG);
	/* too short to hold a MAC */
	ck_assert_int_eq(kd_secure_channel_open(&b, c, 10, p, &plen),
			 -EBADMSG);
}
END_TEST

START_TEST(replay_or_reorder_fails)
{
	struct kd_secure_channel a, b;
	uint8_t c1[64], c2[64], p[64];
	size_t l1, l2, plen;

	kd_secure_channel_init(&a, key);
	kd_secure_channel_init(&b, key);
	l1 = kd_secure_channel_seal(&a, hash_msg, sizeof(hash_msg), c1);
	l2 = kd_secure_channel_seal(&a, hash_msg, sizeof(hash_msg), c2);
	ck_assert_int_eq(kd_secure_channel_open(&b, c1, l1, p, &plen), 0);
	ck_assert_int_eq(kd_secure_channel_open(&b, c1, l1, p, &plen),
			 -EBADMSG);
	(void)l2;
}
END_TEST

START_TEST(disabled_is_identity)
{
	struct kd_secure_channel ch;
	uint8_t out[64];
	size_t len;

	kd_secure_channel_init(&ch, NULL);
	ck_assert(!ch.enabled);
	ck_assert_uint_eq(kd_secure_channel_seal(&ch, hash_msg,
						 sizeof(hash_msg), out),
			  sizeof(hash_msg));
	ck_assert_mem_eq(out, hash_msg, sizeof(hash_msg));
	ck_assert_int_eq(kd_secure_channel_open(&ch, hash_msg, sizeof(hash_msg),
						out, &len),
			 0);
	ck_assert_uint_eq(len, sizeof(hash_msg));
	ck_assert_uint_eq(ch.send_counter, 0);
}
END_TEST

START_TEST(session_key_roundtrip)
{
	uint8_t ep_pk[32], ep_sk[32], ec_pk[32], ec_sk[32];
	uint8_t s[32], sealed[48], opened[32], expect[32];
	static const uint8_t zero_nonce[24];

	crypto_box_keypair(ep_pk, ep_sk);
	crypto_box_keypair(ec_pk, ec_sk);
	crypto_secretbox_keygen(s);
	ck_assert_int_eq(kd_session_key_seal(s, ep_pk, ec_sk, sealed), 0);
	/* what the real client computes: crypto_box_easy, zero nonce */
	ck_assert_int_eq(crypto_box_open_easy(expect, sealed, 48, zero_nonce,
					      ec_pk, ep_sk),
			 0);
	ck_assert_mem_eq(expect, s, 32);
	ck_assert_int_eq(kd_session_key_open(sealed, 48, ec_pk, ep_sk, opened),
			 0);
	ck_assert_mem_eq(opened, s, 32);

	/* wrong length, wrong key, tampered */
	ck_assert_int_eq(kd_session_key_open(sealed, 47, ec_pk, ep_sk, opened),
			 -EBADMSG);
	ck_assert_int_eq(kd_session_key_open(sealed, 48, ep_pk, ep_sk, opened),
			 -EBADMSG);
	sealed[0] ^= 0x80;
	ck_assert_int_eq(kd_session_key_open(sealed, 48, ec_pk, ep_sk, opened),
			 -EBADMSG);
}
END_TEST

/* A frame dropped unread takes its nonce like an opened one; 0/1-byte
 * frames and a disabled channel take none. */
START_TEST(skip_takes_a_nonce)
{
	struct kd_secure_channel tx, rx;
	uint8_t a[64], b[64], plain[64];
	size_t alen, blen, plen;

	kd_secure_channel_init(&tx, key);
	kd_secure_channel_init(&rx, key);
	alen = kd_secure_channel_seal(&tx, hash_msg, sizeof(hash_msg), a);
	blen = kd_secure_channel_seal(&tx, hash_msg, sizeof(hash_msg), b);
	kd_secure_channel_skip(&rx, 1);
	kd_secure_channel_skip(&rx, 0);
	ck_assert_uint_eq(rx.recv_counter, 0);
	kd_secure_channel_skip(&rx, alen);
	ck_assert_int_eq(kd_secure_channel_open(&rx, b, blen, plain, &plen), 0);
	ck_assert_mem_eq(plain, hash_msg, sizeof(hash_msg));

	kd_secure_channel_init(&rx, NULL);
	kd_secure_channel_skip(&rx, 1000);
	ck_assert_uint_eq(rx.recv_counter, 0);
}
END_TEST

START_TEST(wipe)
{
	struct kd_secure_channel ch;
	static const uint8_t zero[sizeof(ch)];

	kd_secure_channel_init(&ch, key);
	kd_secure_channel_wipe(&ch);
	ck_assert_mem_eq(&ch, zero, sizeof(ch));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secure_channel");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, counters_start_at_one);
	tcase_add_test(tc, counter_little_endian_high_bytes);
	tcase_add_test(tc, both_directions_share_sequence);
	tcase_add_test(tc, short_payloads_pass_through);
	tcase_add_test(tc, exception_does_not_shift_counter);
	tcase_add_test(tc, mac_failure);
	tcase_add_test(tc, replay_or_reorder_fails);
	tcase_add_test(tc, disabled_is_identity);
	tcase_add_test(tc, session_key_roundtrip);
	tcase_add_test(tc, skip_takes_a_nonce);
	tcase_add_test(tc, wipe);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
