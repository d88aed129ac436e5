#include <check.h>
#include <stdlib.h>

#include <sodium.h>

#include "backoff.h"

START_TEST(doubles_to_the_cap_with_jitter)
{
	struct kd_backoff b;
	kd_backoff_init(&b, 100, 1000);
	uint32_t expect[] = { 100, 200, 400, 800, 1000, 1000 };
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		uint32_t d = kd_backoff_next(&b);
		ck_assert_uint_ge(d, expect[i] * 8 / 10);
		ck_assert_uint_le(d, expect[i] * 12 / 10);
	}
	kd_backoff_reset(&b);
	uint32_t d = kd_backoff_next(&b);
	ck_assert_uint_le(d, 120);
}
END_TEST

int main(void)
{
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, doubles_to_the_cap_with_jitter);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
