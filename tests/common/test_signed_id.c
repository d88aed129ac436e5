/* common/signed_id: spec connection §6.2-6.3, §6.9. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "message.pb-c.h"
#include "signed_id.h"

static uint8_t id_pk[32], id_sk[64], ep_pk[32], ep_sk[32];

static void setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	crypto_sign_keypair(id_pk, id_sk);
	crypto_box_keypair(ep_pk, ep_sk);
}

START_TEST(sign_layout_matches_spec)
{
	uint8_t blob[KD_SIGNED_ID_MAX], msg[KD_SIGNED_ID_MAX];
	unsigned long long msg_len;
	int len = kd_signed_id_sign(id_sk, "123456789", ep_pk, 32, blob);

	/* 9-character id: IdPk 45 bytes, signed 109 bytes (§6.2) */
	ck_assert_int_eq(len, 109);
	ck_assert_int_eq(crypto_sign_open(msg, &msg_len, blob, (size_t)len,
					  id_pk),
			 0);
	ck_assert_uint_eq(msg_len, 45);
	ck_assert_mem_eq(msg, "\x0a\x09" "123456789" "\x12\x20", 13);
	ck_assert_mem_eq(msg + 13, ep_pk, 32);
	/* combined mode: signature first, then the message */
	ck_assert_mem_eq(blob + 64, msg, 45);
}
END_TEST

START_TEST(signed_id_message_is_113_bytes)
{
	uint8_t blob[KD_SIGNED_ID_MAX];
	int len = kd_signed_id_sign(id_sk, "123456789", ep_pk, 32, blob);
	Hbb__SignedId sid = HBB__SIGNED_ID__INIT;
	Hbb__Message m = HBB__MESSAGE__INIT;
	uint8_t out[256];

	sid.id.data = blob;
	sid.id.len = (size_t)len;
	m.union_case = HBB__MESSAGE__UNION_SIGNED_ID;
	m.signed_id = &sid;
	ck_assert_uint_eq(hbb__message__get_packed_size(&m), 113);
	hbb__message__pack(&m, out);
	ck_assert_mem_eq(out, "\x1a\x6f\x0a\x6d", 4);
}
END_TEST

START_TEST(verify_ok)
{
	uint8_t blob[KD_SIGNED_ID_MAX], pk[32];
	int len = kd_signed_id_sign(id_sk, "123456789", ep_pk, 32, blob);

	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len,
					     "123456789", pk),
			 0);
	ck_assert_mem_eq(pk, ep_pk, 32);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len, NULL,
					     pk),
			 0);
}
END_TEST

START_TEST(verify_wrong_id)
{
	uint8_t blob[KD_SIGNED_ID_MAX], pk[32];
	int len = kd_signed_id_sign(id_sk, "123456789", ep_pk, 32, blob);

	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len,
					     "123456780", pk),
			 -EBADMSG);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len,
					     "12345678", pk),
			 -EBADMSG);
}
END_TEST

START_TEST(verify_wrong_key_or_tampered)
{
	uint8_t blob[KD_SIGNED_ID_MAX], pk[32], other_pk[32], other_sk[64];
	int len = kd_signed_id_sign(id_sk, "123456789", ep_pk, 32, blob);

	crypto_sign_keypair(other_pk, other_sk);
	ck_assert_int_eq(kd_signed_id_verify(other_pk, blob, (size_t)len,
					     "123456789", pk),
			 -EBADMSG);
	blob[len - 1] ^= 1;
	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len,
					     "123456789", pk),
			 -EBADMSG);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, 10, "123456789", pk),
			 -EBADMSG);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, NULL, 0, "123456789", pk),
			 -EBADMSG);
}
END_TEST

START_TEST(verify_requires_32_byte_pk)
{
	uint8_t blob[KD_SIGNED_ID_MAX], pk[32];
	int len = kd_signed_id_sign(id_sk, "123456789", ep_pk, 31, blob);

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len,
					     "123456789", pk),
			 -EBADMSG);
	len = kd_signed_id_sign(id_sk, "123456789", NULL, 0, blob);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, blob, (size_t)len,
					     "123456789", pk),
			 -EBADMSG);
}
END_TEST

START_TEST(sign_rejects_oversized)
{
	uint8_t blob[KD_SIGNED_ID_MAX];
	char id[KD_SIGNED_ID_MAX];

	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = 0;
	ck_assert_int_eq(kd_signed_id_sign(id_sk, id, ep_pk, 32, blob),
			 -EINVAL);
	ck_assert_int_eq(kd_signed_id_sign(id_sk, NULL, ep_pk, 32, blob),
			 -EINVAL);
}
END_TEST

START_TEST(hbbs_style_server_signature)
{
	/* hbbs signs {id, identity pk} with its own key; same verifier. */
	uint8_t srv_pk[32], srv_sk[64], blob[KD_SIGNED_ID_MAX], pk[32];
	int len;

	crypto_sign_keypair(srv_pk, srv_sk);
	len = kd_signed_id_sign(srv_sk, "987654321", id_pk, 32, blob);
	ck_assert_int_eq(kd_signed_id_verify(srv_pk, blob, (size_t)len,
					     "987654321", pk),
			 0);
	ck_assert_mem_eq(pk, id_pk, 32);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("signed_id");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, sign_layout_matches_spec);
	tcase_add_test(tc, signed_id_message_is_113_bytes);
	tcase_add_test(tc, verify_ok);
	tcase_add_test(tc, verify_wrong_id);
	tcase_add_test(tc, verify_wrong_key_or_tampered);
	tcase_add_test(tc, verify_requires_32_byte_pk);
	tcase_add_test(tc, sign_rejects_oversized);
	tcase_add_test(tc, hbbs_style_server_signature);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
