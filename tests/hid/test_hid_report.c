/* Report descriptors and report bytes against spec session §6.2-6.4, the
 * gadget script against the descriptors, and the keyboard state rules. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hid_report.h"

/* Item by item as spec §6.2 lists them. */
static const char *const spec_keyboard =
	"05 01 09 06 A1 01 "
	"05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 "
	"95 01 75 08 81 01 "
	"95 05 75 01 05 08 19 01 29 05 91 02 "
	"95 01 75 03 91 01 "
	"95 06 75 08 15 00 26 FF 00 05 07 19 00 2A FF 00 81 00 "
	"C0";
/* §6.3 with the optional AC Pan. */
static const char *const spec_abs_mouse =
	"05 01 09 02 A1 01 09 01 A1 00 "
	"05 09 19 01 29 08 15 00 25 01 75 01 95 08 81 02 "
	"05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 "
	"09 38 15 81 25 7F 75 08 95 01 81 06 "
	"05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 "
	"C0 C0";
/* §6.4 with the optional AC Pan. */
static const char *const spec_rel_mouse =
	"05 01 09 02 A1 01 09 01 A1 00 "
	"05 09 19 01 29 08 15 00 25 01 75 01 95 08 81 02 "
	"05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 "
	"05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 "
	"C0 C0";

static size_t parse_hex(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;
	char *end;

	for (;;) {
		unsigned long v;
		while (*text == ' ' || *text == '\n')
			text++;
		if (!*text || n == cap)
			break;
		v = strtoul(text, &end, 16);
		if (end == text)
			break;
		out[n++] = (uint8_t)v;
		text = end;
	}
	return n;
}

static void check_desc(const char *spec, const uint8_t *desc, size_t len)
{
	uint8_t want[128];
	size_t n = parse_hex(spec, want, sizeof(want));

	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(desc, want, n);
}

START_TEST(descriptors_match_spec)
{
	check_desc(spec_keyboard, kd_hid_kbd_descriptor,
		   kd_hid_kbd_descriptor_len);
	check_desc(spec_abs_mouse, kd_hid_abs_descriptor,
		   kd_hid_abs_descriptor_len);
	check_desc(spec_rel_mouse, kd_hid_rel_descriptor,
		   kd_hid_rel_descriptor_len);
}
END_TEST

static void check_gadget(const char *which, const char *spec)
{
	const char *src = getenv("KD_SOURCE_DIR");
	char cmd[512], out[1024] = "";
	uint8_t got[128], want[128];
	size_t n_got, n_want;
	FILE *p;

	ck_assert_ptr_nonnull(src);
	snprintf(cmd, sizeof(cmd), "sh %s/hidd/kvmdesk-gadget descriptor %s",
		 src, which);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n_got = fread(out, 1, sizeof(out) - 1, p);
	out[n_got] = 0;
	ck_assert_int_eq(pclose(p), 0);
	n_got = parse_hex(out, got, sizeof(got));
	n_want = parse_hex(spec, want, sizeof(want));
	ck_assert_uint_eq(n_got, n_want);
	ck_assert_mem_eq(got, want, n_want);
}

START_TEST(gadget_script_writes_the_same_descriptors)
{
	check_gadget("keyboard", spec_keyboard);
	check_gadget("mouse", spec_abs_mouse);
	check_gadget("relative-mouse", spec_rel_mouse);
}
END_TEST

START_TEST(keyboard_report_layout)
{
	struct kd_hid_kbd_state s = {0};
	struct kd_hid_report r;
	const uint8_t shift_a[8] = {0x02, 0, 0x04, 0, 0, 0, 0, 0};
	const uint8_t all_mods[8] = {0xFF, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t none[8] = {0};

	kd_hid_kbd_report(&s, &r);
	ck_assert_uint_eq(r.len, 8);
	ck_assert_mem_eq(r.b, none, 8);

	ck_assert(kd_hid_kbd_press(&s, 0xE1)); /* LeftShift = bit 1 */
	ck_assert(kd_hid_kbd_press(&s, 0x04));
	kd_hid_kbd_report(&s, &r);
	ck_assert_mem_eq(r.b, shift_a, 8);

	ck_assert(!kd_hid_kbd_press(&s, 0x04)); /* already down */
	ck_assert(kd_hid_kbd_release(&s, 0x04));
	ck_assert(!kd_hid_kbd_release(&s, 0x04));
	ck_assert(kd_hid_kbd_release(&s, 0xE1));
	for (uint8_t u = 0xE0; u <= 0xE7; u++)
		kd_hid_kbd_press(&s, u);
	kd_hid_kbd_report(&s, &r);
	ck_assert_mem_eq(r.b, all_mods, 8);
	/* Bits in spec order: LCtrl LShift LAlt LGUI RCtrl RShift RAlt RGUI */
	for (int i = 0; i < 8; i++) {
		struct kd_hid_kbd_state one = {0};
		kd_hid_kbd_press(&one, (uint8_t)(0xE0 + i));
		kd_hid_kbd_report(&one, &r);
		ck_assert_uint_eq(r.b[0], 1u << i);
	}
}
END_TEST

START_TEST(keyboard_six_keys_then_rollover)
{
	struct kd_hid_kbd_state s = {0};
	struct kd_hid_report r;
	const uint8_t six[8] = {0, 0, 4, 5, 6, 7, 8, 9};
	const uint8_t seventh[8] = {0x01, 0, 10, 0, 0, 0, 0, 0};

	for (uint8_t u = 4; u <= 9; u++)
		kd_hid_kbd_press(&s, u);
	kd_hid_kbd_report(&s, &r);
	ck_assert_mem_eq(r.b, six, 8);
	kd_hid_kbd_press(&s, 0xE0);
	/* A seventh key releases the other keys first (PiKVM's rule). */
	kd_hid_kbd_press(&s, 10);
	kd_hid_kbd_report(&s, &r);
	ck_assert_mem_eq(r.b, seventh, 8);
}
END_TEST

START_TEST(keyboard_union_of_sessions)
{
	struct kd_hid_kbd_state a = {0}, b = {0}, u = {0};
	struct kd_hid_report r;
	const uint8_t want[8] = {0x03, 0, 0x04, 0x05, 0, 0, 0, 0};

	kd_hid_kbd_press(&a, 0xE0);
	kd_hid_kbd_press(&a, 0x04);
	kd_hid_kbd_press(&b, 0xE1);
	kd_hid_kbd_press(&b, 0x04);
	kd_hid_kbd_press(&b, 0x05);
	kd_hid_kbd_merge(&u, &a);
	kd_hid_kbd_merge(&u, &b);
	kd_hid_kbd_report(&u, &r);
	ck_assert_mem_eq(r.b, want, 8);
}
END_TEST

START_TEST(absolute_mouse_report_layout)
{
	struct kd_hid_report r;
	const uint8_t a[7] = {0x01, 0xFF, 0x7F, 0x34, 0x12, 0x01, 0xFF};
	const uint8_t clamped[7] = {0x1F, 0xFF, 0x7F, 0xFF, 0x7F, 0x81, 0x7F};

	kd_hid_abs_report(0x01, 32767, 0x1234, 1, -1, &r);
	ck_assert_uint_eq(r.len, 7);
	ck_assert_mem_eq(r.b, a, 7);
	kd_hid_abs_report(0x1F, 99999, 40000, -500, 500, &r);
	ck_assert_mem_eq(r.b, clamped, 7);
}
END_TEST

START_TEST(relative_mouse_report_layout)
{
	struct kd_hid_report r;
	const uint8_t a[5] = {0x02, 0x05, 0xFB, 0x81, 0x7F};

	kd_hid_rel_report(0x02, 5, -5, -200, 200, &r);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_mem_eq(r.b, a, 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hid_report");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, descriptors_match_spec);
	tcase_add_test(tc, gadget_script_writes_the_same_descriptors);
	tcase_add_test(tc, keyboard_report_layout);
	tcase_add_test(tc, keyboard_six_keys_then_rollover);
	tcase_add_test(tc, keyboard_union_of_sessions);
	tcase_add_test(tc, absolute_mouse_report_layout);
	tcase_add_test(tc, relative_mouse_report_layout);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
