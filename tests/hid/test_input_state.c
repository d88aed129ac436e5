/* hidd's per-session state: union of sessions, repeated downs, lock sync
 * with the LED report, release on session end, the device under pressure
 * (EAGAIN) and when the host goes away (ESHUTDOWN). */
#include <check.h>
#include <string.h>

#include <event2/event.h>

#include "hid_device.h"
#include "hid_test_util.h"
#include "input_state.h"

static struct event_base *base;
static struct mem_port *kp, *mp, *rp;
static struct kd_hid_device *kdev, *mdev, *rdev;
static struct kd_input_state *st;

static void setup(void)
{
	struct kd_input_devices d;
	struct kd_hid_report k0 = {.len = 8}, m0, r0;

	base = event_base_new();
	kp = mem_port_new(KD_REPORT_KEYBOARD);
	mp = mem_port_new(KD_REPORT_MOUSE_ABS);
	rp = mem_port_new(KD_REPORT_MOUSE_REL);
	ck_assert_int_eq(kd_hid_device_new(base, &kp->port, &kdev), 0);
	ck_assert_int_eq(kd_hid_device_new(base, &mp->port, &mdev), 0);
	ck_assert_int_eq(kd_hid_device_new(base, &rp->port, &rdev), 0);
	d = (struct kd_input_devices){kdev, mdev, rdev};
	ck_assert_int_eq(kd_input_state_new(&d, &st), 0);
	kd_hid_device_set_led_cb(kdev, kd_input_state_leds, st);
	kd_hid_abs_report(0, 0, 0, 0, 0, &m0);
	kd_hid_rel_report(0, 0, 0, 0, 0, &r0);
	kd_hid_device_start(kdev, &k0);
	kd_hid_device_start(mdev, &m0);
	kd_hid_device_start(rdev, &r0);
}

static void teardown(void)
{
	kd_input_state_free(st);
	kd_hid_device_destroy(kdev);
	kd_hid_device_destroy(mdev);
	kd_hid_device_destroy(rdev);
	event_base_free(base);
}

#define ASSERT_KBD(i, hex) ck_assert_str_eq(mem_port_hex(kp, (i)), (hex))
#define ASSERT_MOUSE(i, hex) ck_assert_str_eq(mem_port_hex(mp, (i)), (hex))

START_TEST(starts_all_released)
{
	ck_assert_uint_eq(kp->n, 1);
	ASSERT_KBD(0, "00 00 00 00 00 00 00 00");
	ck_assert_uint_eq(mp->n, 1);
	ASSERT_MOUSE(0, "00 00 00 00 00 00 00");
	ck_assert_uint_eq(rp->n, 1);
	ck_assert_str_eq(mem_port_hex(rp, 0), "00 00 00 00 00");
}
END_TEST

START_TEST(press_is_down_then_up_and_repeats_are_ignored)
{
	struct kd_input_session *s = kd_input_session_new(st);

	kd_input_session_key(s, 0xE1, KD_KEY_DOWN);
	kd_input_session_key(s, 0x04, KD_KEY_DOWN);
	kd_input_session_key(s, 0x04, KD_KEY_DOWN); /* client auto-repeat */
	kd_input_session_key(s, 0x04, KD_KEY_DOWN);
	kd_input_session_key(s, 0x04, KD_KEY_UP);
	kd_input_session_key(s, 0x04, KD_KEY_UP); /* not held: nothing */
	kd_input_session_key(s, 0xE1, KD_KEY_UP);
	kd_input_session_key(s, 0x05, KD_KEY_PRESS);
	ck_assert_uint_eq(kp->n, 7);
	ASSERT_KBD(1, "02 00 00 00 00 00 00 00");
	ASSERT_KBD(2, "02 00 04 00 00 00 00 00");
	ASSERT_KBD(3, "02 00 00 00 00 00 00 00");
	ASSERT_KBD(4, "00 00 00 00 00 00 00 00");
	ASSERT_KBD(5, "00 00 05 00 00 00 00 00");
	ASSERT_KBD(6, "00 00 00 00 00 00 00 00");
	kd_input_session_end(s);
	ck_assert_uint_eq(kp->n, 7);
}
END_TEST

START_TEST(union_over_sessions_and_release_on_end)
{
	struct kd_input_session *a = kd_input_session_new(st);
	struct kd_input_session *b = kd_input_session_new(st);

	kd_input_session_key(a, 0xE1, KD_KEY_DOWN); /* a holds Shift+A */
	kd_input_session_key(a, 0x04, KD_KEY_DOWN);
	kd_input_session_key(b, 0x04, KD_KEY_DOWN); /* b holds A too */
	kd_input_session_key(b, 0x05, KD_KEY_DOWN);
	ASSERT_KBD(kp->n - 1, "02 00 04 05 00 00 00 00");
	kd_input_session_end(a); /* a's connection drops */
	ASSERT_KBD(kp->n - 1, "00 00 04 05 00 00 00 00");
	kd_input_session_release_all(b);
	ASSERT_KBD(kp->n - 1, "00 00 00 00 00 00 00 00");
	kd_input_session_mouse_abs(b, 100, 200, 1);
	ASSERT_MOUSE(mp->n - 1, "01 64 00 c8 00 00 00");
	kd_input_session_end(b);
	ASSERT_MOUSE(mp->n - 1, "00 64 00 c8 00 00 00");
	ck_assert_uint_eq(kd_input_state_sessions(st), 0);
}
END_TEST

START_TEST(caps_lock_follows_the_client)
{
	struct kd_input_session *s = kd_input_session_new(st);
	size_t n0 = kp->n;

	/* Client has CapsLock on, host LED says off: tap CapsLock first. */
	kd_input_session_locks(s, true, false, true, false);
	kd_input_session_key(s, 0x04, KD_KEY_PRESS);
	ck_assert_uint_eq(kp->n, n0 + 4);
	ASSERT_KBD(n0, "00 00 39 00 00 00 00 00");
	ASSERT_KBD(n0 + 1, "00 00 00 00 00 00 00 00");
	ASSERT_KBD(n0 + 2, "00 00 04 00 00 00 00 00");
	ck_assert_uint_eq(kd_input_state_get_leds(st) & KD_HID_LED_CAPS_LOCK,
			  KD_HID_LED_CAPS_LOCK);
	/* In sync now: no more taps. Non-letters never tap. */
	kd_input_session_key(s, 0x05, KD_KEY_PRESS);
	kd_input_session_key(s, 0x1E, KD_KEY_PRESS);
	ck_assert_uint_eq(kp->n, n0 + 8);
	/* Client turns it off: one tap before the next letter. */
	kd_input_session_locks(s, false, false, true, false);
	kd_input_session_key(s, 0x06, KD_KEY_DOWN);
	ASSERT_KBD(n0 + 8, "00 00 39 00 00 00 00 00");
	ASSERT_KBD(n0 + 10, "00 00 06 00 00 00 00 00");
	ck_assert_uint_eq(kd_input_state_get_leds(st) & KD_HID_LED_CAPS_LOCK,
			  0);
	kd_input_session_end(s);
}
END_TEST

START_TEST(locks_now_taps_before_any_key)
{
	struct kd_input_session *s = kd_input_session_new(st);
	size_t n0;

	/* The host's CapsLock is on; text on a French layout is typed next,
	 * where CapsLock changes the digit row too: tap at once. */
	kp->leds = KD_HID_LED_CAPS_LOCK;
	kd_input_state_leds(st, KD_HID_LED_CAPS_LOCK);
	n0 = kp->n;
	kd_input_session_locks(s, false, false, true, false);
	kd_input_session_locks_now(s);
	ck_assert_uint_eq(kp->n, n0 + 2);
	ASSERT_KBD(n0, "00 00 39 00 00 00 00 00");
	ASSERT_KBD(n0 + 1, "00 00 00 00 00 00 00 00");
	kd_input_session_key(s, 0x1F, KD_KEY_PRESS);
	ck_assert_uint_eq(kp->n, n0 + 4);
	ASSERT_KBD(n0 + 2, "00 00 1f 00 00 00 00 00");
	/* In sync: nothing to do. */
	kd_input_session_locks_now(s);
	ck_assert_uint_eq(kp->n, n0 + 4);
	kd_input_session_end(s);
}
END_TEST

START_TEST(num_lock_follows_the_client)
{
	struct kd_input_session *s = kd_input_session_new(st);
	size_t n0 = kp->n;

	kd_input_session_locks(s, false, true, false, true);
	kd_input_session_key(s, 0x04, KD_KEY_PRESS); /* letter: no NumLock */
	kd_input_session_key(s, 0x59, KD_KEY_PRESS); /* keypad 1 */
	ASSERT_KBD(n0 + 2, "00 00 53 00 00 00 00 00");
	ASSERT_KBD(n0 + 4, "00 00 59 00 00 00 00 00");
	ck_assert_uint_eq(kp->n, n0 + 6);
	kd_input_session_end(s);
}
END_TEST

START_TEST(busy_host_gets_every_key_and_final_position)
{
	struct kd_input_session *s = kd_input_session_new(st);
	size_t k0 = kp->n, m0 = mp->n;

	kp->busy = mp->busy = true;
	kd_input_session_key(s, 0x04, KD_KEY_PRESS);
	kd_input_session_key(s, 0x05, KD_KEY_PRESS);
	for (uint32_t i = 0; i < 500; i++)
		kd_input_session_mouse_abs(s, i, i, 0);
	kd_input_session_mouse_abs(s, 500, 500, 1);
	kd_input_session_mouse_abs(s, 600, 600, 1);
	kd_input_session_mouse_abs(s, 600, 600, 0);
	kd_input_session_mouse_abs(s, 31000, 17, 0);
	ck_assert_uint_eq(kp->n, k0);
	ck_assert_uint_gt(kd_hid_device_pending(mdev), 0);
	kp->busy = mp->busy = false;
	event_base_loop(base, EVLOOP_ONCE); /* the simulated poll interval */
	run_pending(base);
	ck_assert_uint_eq(kp->n, k0 + 4);
	ASSERT_KBD(k0, "00 00 04 00 00 00 00 00");
	ASSERT_KBD(k0 + 1, "00 00 00 00 00 00 00 00");
	ASSERT_KBD(k0 + 2, "00 00 05 00 00 00 00 00");
	ASSERT_KBD(k0 + 3, "00 00 00 00 00 00 00 00");
	/* moves merged; press at 500, drag to 600, release, final */
	ck_assert_uint_eq(mp->n, m0 + 5);
	ASSERT_MOUSE(m0, "00 f3 01 f3 01 00 00");
	ASSERT_MOUSE(m0 + 1, "01 f4 01 f4 01 00 00");
	ASSERT_MOUSE(m0 + 2, "01 58 02 58 02 00 00");
	ASSERT_MOUSE(m0 + 3, "00 58 02 58 02 00 00");
	ASSERT_MOUSE(m0 + 4, "00 18 79 11 00 00 00");
	kd_input_session_end(s);
}
END_TEST

START_TEST(gone_host_gets_current_state_when_back)
{
	struct kd_input_session *s = kd_input_session_new(st);
	size_t k0;

	kp->gone = true;
	kd_input_session_key(s, 0xE0, KD_KEY_DOWN);
	ck_assert(!kd_hid_device_online(kdev));
	kd_input_session_key(s, 0x04, KD_KEY_DOWN);
	kd_input_session_key(s, 0x04, KD_KEY_UP);
	kd_input_session_key(s, 0x05, KD_KEY_DOWN);
	k0 = kp->n;
	kp->gone = false;
	event_base_loop(base, EVLOOP_ONCE); /* the 1 s retry timer */
	ck_assert(kd_hid_device_online(kdev));
	ck_assert_uint_eq(kp->n, k0 + 1);
	ASSERT_KBD(k0, "01 00 05 00 00 00 00 00");
	ck_assert_uint_ge(kp->opens, 2);
	kd_input_session_end(s);
	ASSERT_KBD(kp->n - 1, "00 00 00 00 00 00 00 00");
}
END_TEST

START_TEST(wheel_and_relative)
{
	struct kd_input_session *s = kd_input_session_new(st);

	kd_input_session_mouse_abs(s, 10, 20, 0);
	kd_input_session_wheel(s, 1, 0);
	ASSERT_MOUSE(mp->n - 1, "00 0a 00 14 00 01 00");
	kd_input_session_wheel(s, -1, 0);
	ASSERT_MOUSE(mp->n - 1, "00 0a 00 14 00 ff 00");
	kd_input_session_wheel(s, 0, 1);
	ASSERT_MOUSE(mp->n - 1, "00 0a 00 14 00 00 01");
	kd_input_session_wheel(s, 0, -1);
	ASSERT_MOUSE(mp->n - 1, "00 0a 00 14 00 00 ff");
	kd_input_session_mouse_rel(s, 300, -5, 0);
	ck_assert_uint_eq(rp->n, 4);
	ck_assert_str_eq(mem_port_hex(rp, 1), "00 7f fb 00 00");
	ck_assert_str_eq(mem_port_hex(rp, 2), "00 7f 00 00 00");
	ck_assert_str_eq(mem_port_hex(rp, 3), "00 2e 00 00 00");
	kd_input_session_end(s);
}
END_TEST

/* A key the client neither repeats nor releases goes up after 360 s (spec
 * session §5.1); a client repeating its down keeps it, and other sessions'
 * keys are not touched. */
START_TEST(stale_keys_are_released_after_360_s)
{
	struct kd_input_session *a = kd_input_session_new(st);
	struct kd_input_session *b = kd_input_session_new(st);
	size_t n;

	kd_input_state_set_time(st, 1000);
	kd_input_session_key(a, 0xE1, KD_KEY_DOWN); /* Shift */
	kd_input_session_key(a, 0x04, KD_KEY_DOWN); /* A */
	kd_input_state_set_time(st, 2000);
	kd_input_session_key(b, 0x05, KD_KEY_DOWN); /* B, other session */
	n = kp->n;
	ASSERT_KBD(n - 1, "02 00 05 04 00 00 00 00");

	/* A keeps repeating, Shift is never repeated (modifiers are not). */
	for (uint64_t t = 60000; t <= 360000; t += 60000) {
		kd_input_state_set_time(st, t);
		kd_input_session_key(a, 0x04, KD_KEY_DOWN);
	}
	kd_input_state_set_time(st, 1000 + KD_INPUT_STALE_KEY_MS);
	ck_assert_uint_eq(kd_input_state_release_stale(st, KD_INPUT_STALE_KEY_MS), 0);
	ck_assert_uint_eq(kp->n, n);

	kd_input_state_set_time(st, 1001 + KD_INPUT_STALE_KEY_MS);
	ck_assert_uint_eq(kd_input_state_release_stale(st, KD_INPUT_STALE_KEY_MS), 1);
	ASSERT_KBD(kp->n - 1, "00 00 05 04 00 00 00 00");

	kd_input_state_set_time(st, 2001 + KD_INPUT_STALE_KEY_MS);
	ck_assert_uint_eq(kd_input_state_release_stale(st, KD_INPUT_STALE_KEY_MS), 1);
	ASSERT_KBD(kp->n - 1, "00 00 04 00 00 00 00 00");

	kd_input_state_set_time(st, 360001 + KD_INPUT_STALE_KEY_MS);
	ck_assert_uint_eq(kd_input_state_release_stale(st, KD_INPUT_STALE_KEY_MS), 1);
	ASSERT_KBD(kp->n - 1, "00 00 00 00 00 00 00 00");
	n = kp->n;
	ck_assert_uint_eq(kd_input_state_release_stale(st, KD_INPUT_STALE_KEY_MS), 0);
	ck_assert_uint_eq(kp->n, n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("input_state");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, starts_all_released);
	tcase_add_test(tc, locks_now_taps_before_any_key);
	tcase_add_test(tc, press_is_down_then_up_and_repeats_are_ignored);
	tcase_add_test(tc, union_over_sessions_and_release_on_end);
	tcase_add_test(tc, caps_lock_follows_the_client);
	tcase_add_test(tc, num_lock_follows_the_client);
	tcase_add_test(tc, busy_host_gets_every_key_and_final_position);
	tcase_add_test(tc, gone_host_gets_current_state_when_back);
	tcase_add_test(tc, wheel_and_relative);
	tcase_add_test(tc, stale_keys_are_released_after_360_s);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
