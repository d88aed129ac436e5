/* common/frame_codec: spec connection §2.1. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame_codec.h"

struct example {
	size_t n;
	uint8_t hdr[4];
	size_t hl;
};

/* Every worked example of spec connection §2.1. */
static const struct example examples[] = {
	{ 0, { 0x00 }, 1 },
	{ 5, { 0x14 }, 1 },
	{ 63, { 0xFC }, 1 },
	{ 64, { 0x01, 0x01 }, 2 },
	{ 113, { 0xC5, 0x01 }, 2 },
	{ 16383, { 0xFD, 0xFF }, 2 },
	{ 16384, { 0x02, 0x00, 0x01 }, 3 },
	{ 70000, { 0xC2, 0x45, 0x04 }, 3 },
	{ 4194304, { 0x03, 0x00, 0x00, 0x01 }, 4 },
};

START_TEST(encode_worked_examples)
{
	const struct example *e = &examples[_i];
	uint8_t out[KD_FRAME_HEADER_MAX];

	ck_assert_uint_eq(kd_frame_header_encode(e->n, out), e->hl);
	ck_assert_mem_eq(out, e->hdr, e->hl);
}
END_TEST

START_TEST(decode_worked_examples)
{
	const struct example *e = &examples[_i];
	size_t hl = 0, n = 0;

	ck_assert_int_eq(kd_frame_header_decode(e->hdr, e->hl,
						KD_FRAME_PAYLOAD_MAX, &hl, &n),
			 0);
	ck_assert_uint_eq(hl, e->hl);
	ck_assert_uint_eq(n, e->n);
	/* One byte short is incomplete, never an error. */
	if (e->hl > 1)
		ck_assert_int_eq(kd_frame_header_decode(e->hdr, e->hl - 1,
							KD_FRAME_PAYLOAD_MAX,
							&hl, &n),
				 KD_FRAME_INCOMPLETE);
}
END_TEST

START_TEST(boundaries)
{
	uint8_t out[KD_FRAME_HEADER_MAX];
	size_t hl, n;

	ck_assert_uint_eq(kd_frame_header_encode(0x3FFFFF, out), 3);
	ck_assert_uint_eq(kd_frame_header_encode(0x400000, out), 4);
	ck_assert_uint_eq(kd_frame_header_encode(KD_FRAME_PAYLOAD_MAX, out), 4);
	ck_assert_mem_eq(out, "\xff\xff\xff\xff", 4);
	ck_assert_int_eq(kd_frame_header_decode(out, 4, KD_FRAME_PAYLOAD_MAX,
						&hl, &n),
			 0);
	ck_assert_uint_eq(n, KD_FRAME_PAYLOAD_MAX);
	ck_assert_uint_eq(kd_frame_header_encode(
				  (size_t)KD_FRAME_PAYLOAD_MAX + 1, out),
			  0);
}
END_TEST

START_TEST(decode_c2_45_04)
{
	/* "Decoding C2 45 04 ...": trailing payload bytes are not consumed. */
	const uint8_t buf[] = { 0xC2, 0x45, 0x04, 0xAA, 0xBB };
	size_t hl, n;

	ck_assert_int_eq(kd_frame_header_decode(buf, sizeof(buf), 1 << 20, &hl,
						&n),
			 0);
	ck_assert_uint_eq(hl, 3);
	ck_assert_uint_eq(n, 70000);
}
END_TEST

START_TEST(non_minimal_headers)
{
	/* 5 bytes announced with a 2-byte header (the spec's example), and the
	 * same with 3 and 4 bytes. */
	const uint8_t h2[] = { 0x15, 0x00 };
	const uint8_t h3[] = { 0x16, 0x00, 0x00 };
	const uint8_t h4[] = { 0x17, 0x00, 0x00, 0x00 };
	const uint8_t h4zero[] = { 0x03, 0x00, 0x00, 0x00 };
	size_t hl, n;

	ck_assert_int_eq(kd_frame_header_decode(h2, 2, 100, &hl, &n), 0);
	ck_assert_uint_eq(hl, 2);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(kd_frame_header_decode(h3, 3, 100, &hl, &n), 0);
	ck_assert_uint_eq(hl, 3);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(kd_frame_header_decode(h4, 4, 100, &hl, &n), 0);
	ck_assert_uint_eq(hl, 4);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(kd_frame_header_decode(h4zero, 4, 100, &hl, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(incomplete)
{
	const uint8_t h4[] = { 0x03, 0x00, 0x00, 0x01 };
	size_t hl = 99, n = 99;

	ck_assert_int_eq(kd_frame_header_decode(h4, 0, 100, &hl, &n),
			 KD_FRAME_INCOMPLETE);
	for (size_t i = 1; i < 4; i++)
		ck_assert_int_eq(kd_frame_header_decode(h4, i, 1 << 30, &hl,
							&n),
				 KD_FRAME_INCOMPLETE);
	ck_assert_uint_eq(hl, 99);
	ck_assert_uint_eq(n, 99);
}
END_TEST

START_TEST(max_payload_rejected)
{
	const uint8_t max[] = { 0xFF, 0xFF, 0xFF, 0xFF };
	const uint8_t eight_mib_plus_one[] = { 0x07, 0x00, 0x00, 0x02 };
	size_t hl, n;

	/* 8 MiB + 1 = 0x800001; (0x800001 << 2) | 3 = 0x02000007 */
	ck_assert_int_eq(kd_frame_header_decode(eight_mib_plus_one, 4,
						8u << 20, &hl, &n),
			 -EMSGSIZE);
	ck_assert_int_eq(kd_frame_header_decode(eight_mib_plus_one, 4,
						(8u << 20) + 1, &hl, &n),
			 0);
	ck_assert_uint_eq(n, (8u << 20) + 1);
	ck_assert_int_eq(kd_frame_header_decode(max, 4, 8u << 20, &hl, &n),
			 -EMSGSIZE);
	/* The limit applies to short headers too. */
	ck_assert_int_eq(kd_frame_header_decode(examples[1].hdr, 1, 4, &hl, &n),
			 -EMSGSIZE);
}
END_TEST

START_TEST(roundtrip_all_lengths_sampled)
{
	uint8_t out[KD_FRAME_HEADER_MAX];
	size_t hl, n;

	for (size_t len = 0; len < (1u << 24); len = len * 3 + 1) {
		size_t w = kd_frame_header_encode(len, out);
		ck_assert_uint_gt(w, 0);
		ck_assert_int_eq(kd_frame_header_decode(out, w,
							KD_FRAME_PAYLOAD_MAX,
							&hl, &n),
				 0);
		ck_assert_uint_eq(hl, w);
		ck_assert_uint_eq(n, len);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame_codec");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, encode_worked_examples, 0,
			    sizeof(examples) / sizeof(examples[0]));
	tcase_add_loop_test(tc, decode_worked_examples, 0,
			    sizeof(examples) / sizeof(examples[0]));
	tcase_add_test(tc, boundaries);
	tcase_add_test(tc, decode_c2_45_04);
	tcase_add_test(tc, non_minimal_headers);
	tcase_add_test(tc, incomplete);
	tcase_add_test(tc, max_payload_rejected);
	tcase_add_test(tc, roundtrip_all_lengths_sampled);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
