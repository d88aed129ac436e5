/* Coalescing while the host is not polling: moves merge, keys and buttons
 * never do, the final position always arrives. */
#include <check.h>
#include <string.h>

#include "report_queue.h"

static struct kd_hid_report kbd(uint8_t mods, uint8_t key)
{
	struct kd_hid_report r = {.len = 8};

	r.b[0] = mods;
	r.b[2] = key;
	return r;
}

static struct kd_hid_report abs_r(uint8_t buttons, uint32_t x, uint32_t y,
				  int wheel)
{
	struct kd_hid_report r;

	kd_hid_abs_report(buttons, x, y, wheel, 0, &r);
	return r;
}

START_TEST(keyboard_keeps_every_state)
{
	struct kd_report_queue q;
	struct kd_hid_report a = kbd(0, 4), none = kbd(0, 0);

	kd_report_queue_init(&q, KD_REPORT_KEYBOARD);
	/* A quick tap while the host is busy: both states must arrive. */
	kd_report_queue_push(&q, &a);
	kd_report_queue_push(&q, &none);
	kd_report_queue_push(&q, &a);
	kd_report_queue_push(&q, &a); /* same as the one waiting: no-op */
	kd_report_queue_push(&q, &none);
	ck_assert_uint_eq(q.count, 4);
	ck_assert_mem_eq(kd_report_queue_peek(&q)->b, a.b, 8);
	kd_report_queue_pop(&q);
	ck_assert_mem_eq(kd_report_queue_peek(&q)->b, none.b, 8);
}
END_TEST

START_TEST(mouse_moves_merge_buttons_do_not)
{
	struct kd_report_queue q;
	struct kd_hid_report r;
	const struct kd_hid_report *p;

	kd_report_queue_init(&q, KD_REPORT_MOUSE_ABS);
	for (uint32_t i = 0; i < 1000; i++) {
		r = abs_r(0, i, 2 * i, 0);
		kd_report_queue_push(&q, &r);
	}
	ck_assert_uint_eq(q.count, 1);
	r = abs_r(1, 999, 1998, 0); /* press */
	kd_report_queue_push(&q, &r);
	for (uint32_t i = 0; i < 100; i++) { /* drag */
		r = abs_r(1, 2000 + i, 3000, 0);
		kd_report_queue_push(&q, &r);
	}
	r = abs_r(0, 2099, 3000, 0); /* release */
	kd_report_queue_push(&q, &r);
	r = abs_r(0, 32767, 12345, 0); /* final position */
	kd_report_queue_push(&q, &r);
	/* move, press where the pointer was, drag end, release, final */
	const struct kd_hid_report want[] = {
		abs_r(0, 999, 1998, 0), abs_r(1, 999, 1998, 0),
		abs_r(1, 2099, 3000, 0), abs_r(0, 2099, 3000, 0),
		abs_r(0, 32767, 12345, 0),
	};
	ck_assert_uint_eq(q.count, 5);
	for (size_t i = 0; i < 5; i++) {
		p = kd_report_queue_peek(&q);
		ck_assert_mem_eq(p->b, want[i].b, 7);
		kd_report_queue_pop(&q);
	}
	ck_assert_uint_eq(q.merged, 999 + 99);
}
END_TEST

START_TEST(wheel_adds_up_until_full)
{
	struct kd_report_queue q;
	struct kd_hid_report r = abs_r(0, 10, 10, 0);

	kd_report_queue_init(&q, KD_REPORT_MOUSE_ABS);
	kd_report_queue_push(&q, &r);
	for (int i = 0; i < 130; i++) {
		r = abs_r(0, 10, 10, 1);
		kd_report_queue_push(&q, &r);
	}
	ck_assert_uint_eq(q.count, 2);
	ck_assert_int_eq((int8_t)kd_report_queue_peek(&q)->b[5], 127);
	kd_report_queue_pop(&q);
	ck_assert_int_eq((int8_t)kd_report_queue_peek(&q)->b[5], 3);
}
END_TEST

START_TEST(relative_motion_is_summed)
{
	struct kd_report_queue q;
	struct kd_hid_report r;
	int total = 0;

	kd_report_queue_init(&q, KD_REPORT_MOUSE_REL);
	for (int i = 0; i < 50; i++) {
		kd_hid_rel_report(0, 10, -1, 0, 0, &r);
		kd_report_queue_push(&q, &r);
	}
	while (kd_report_queue_peek(&q)) {
		total += (int8_t)kd_report_queue_peek(&q)->b[1];
		kd_report_queue_pop(&q);
	}
	ck_assert_int_eq(total, 500);
}
END_TEST

START_TEST(overflow_keeps_newest_state)
{
	struct kd_report_queue q;
	struct kd_hid_report r;

	kd_report_queue_init(&q, KD_REPORT_KEYBOARD);
	for (int i = 0; i < KD_REPORT_QUEUE_CAP + 5; i++) {
		r = kbd(0, (uint8_t)(4 + i % 20));
		kd_report_queue_push(&q, &r);
	}
	r = kbd(0, 0);
	kd_report_queue_push(&q, &r);
	ck_assert_uint_eq(q.collapsed, 1);
	kd_report_queue_collapse(&q);
	ck_assert_uint_eq(q.count, 1);
	ck_assert_mem_eq(kd_report_queue_peek(&q)->b, r.b, 8);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report_queue");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, keyboard_keeps_every_state);
	tcase_add_test(tc, mouse_moves_merge_buttons_do_not);
	tcase_add_test(tc, wheel_adds_up_until_full);
	tcase_add_test(tc, relative_motion_is_summed);
	tcase_add_test(tc, overflow_keeps_newest_state);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
