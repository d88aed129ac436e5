/* sessiond/throttle: the real peer's wrong-password limits (spec §7.5). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "throttle.h"

#define MIN (60 * 1000)

static struct kd_throttle *t;

static void setup(void)
{
	ck_assert_int_eq(kd_throttle_new(&t), 0);
}

static void teardown(void)
{
	kd_throttle_free(t);
}

START_TEST(seven_in_a_minute_then_blocked)
{
	const char *err = NULL;
	int64_t now = 100 * MIN + 5;

	for (int i = 0; i < 7; i++) {
		ck_assert(kd_throttle_allow(t, "192.0.2.1", now, &err));
		kd_throttle_failure(t, "192.0.2.1", now);
	}
	ck_assert(!kd_throttle_allow(t, "192.0.2.1", now, &err));
	ck_assert_str_eq(err, "Please try 1 minute later");
	/* other addresses are not affected */
	ck_assert(kd_throttle_allow(t, "192.0.2.2", now, &err));
	/* the next minute is fine again */
	ck_assert(kd_throttle_allow(t, "192.0.2.1", now + MIN, &err));
}
END_TEST

START_TEST(thirty_total_then_blocked_for_good)
{
	const char *err = NULL;

	for (int i = 0; i < 31; i++) {
		int64_t now = (int64_t)i * MIN; /* one per minute */
		ck_assert(kd_throttle_allow(t, "198.51.100.7", now, &err));
		kd_throttle_failure(t, "198.51.100.7", now);
	}
	ck_assert(!kd_throttle_allow(t, "198.51.100.7", 1000 * MIN, &err));
	ck_assert_str_eq(err, "Too many wrong attempts");
}
END_TEST

START_TEST(success_clears)
{
	const char *err = NULL;

	for (int i = 0; i < 7; i++)
		kd_throttle_failure(t, "192.0.2.9", 0);
	ck_assert(!kd_throttle_allow(t, "192.0.2.9", 0, &err));
	kd_throttle_success(t, "192.0.2.9");
	ck_assert(kd_throttle_allow(t, "192.0.2.9", 0, &err));
	ck_assert_uint_eq(kd_throttle_entries(t), 0);
}
END_TEST

START_TEST(ipv6_prefixes)
{
	const char *err = NULL;
	char ip[64];
	int64_t now = 0;

	/* 61 failures from different hosts of one /64, one per minute each so
	 * that no single-address limit trips */
	for (int i = 0; i < 61; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:2::%x", i + 1);
		kd_throttle_failure(t, ip, now + (int64_t)i * MIN);
	}
	ck_assert(!kd_throttle_allow(t, "2001:db8:1:2::ffff", now, &err));
	ck_assert_str_eq(err, "Too many wrong attempts for IPv6 prefix /64");
	/* another /64 in the same /56 is still fine (61 <= 80) */
	ck_assert(kd_throttle_allow(t, "2001:db8:1:3::1", now, &err));
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:3::%x", i + 1);
		kd_throttle_failure(t, ip, now + (int64_t)i * MIN);
	}
	ck_assert(!kd_throttle_allow(t, "2001:db8:1:4::1", now, &err));
	ck_assert_str_eq(err, "Too many wrong attempts for IPv6 prefix /56");
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:500::%x", i + 1);
		kd_throttle_failure(t, ip, now + (int64_t)i * MIN);
	}
	ck_assert(!kd_throttle_allow(t, "2001:db8:1:600::1", now, &err));
	ck_assert_str_eq(err, "Too many wrong attempts for IPv6 prefix /48");
	/* IPv4 has no prefixes */
	ck_assert(kd_throttle_allow(t, "203.0.113.1", now, &err));
}
END_TEST

START_TEST(bounded)
{
	char ip[64];

	for (int i = 0; i < KD_THROTTLE_MAX_ENTRIES + 100; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255);
		kd_throttle_failure(t, ip, i);
	}
	ck_assert_uint_eq(kd_throttle_entries(t), KD_THROTTLE_MAX_ENTRIES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, seven_in_a_minute_then_blocked);
	tcase_add_test(tc, thirty_total_then_blocked_for_good);
	tcase_add_test(tc, success_clears);
	tcase_add_test(tc, ipv6_prefixes);
	tcase_add_test(tc, bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
