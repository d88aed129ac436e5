/* Key tables against the spec: every ControlKey (session §5.6), every X11
 * keycode of Appendix A.1, the US layout used to type text, and the uinput
 * backend's way back to evdev codes. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "hid_backend.h"
#include "keymap.h"
#include "message.pb-c.h"

struct ck_case {
	uint32_t value;
	uint8_t usage;
	const char *name;
};

/* Spec §5.6, row by row; 0 = no usage (ignored or a macro). */
static const struct ck_case control_keys[] = {
	{0, 0x00, "Unknown"},
	{1, 0xE2, "Alt"},
	{2, 0x2A, "Backspace"},
	{3, 0x39, "CapsLock"},
	{4, 0xE0, "Control"},
	{5, 0x4C, "Delete"},
	{6, 0x51, "DownArrow"},
	{7, 0x4D, "End"},
	{8, 0x29, "Escape"},
	{9, 0x3A, "F1"},
	{10, 0x43, "F10"},
	{11, 0x44, "F11"},
	{12, 0x45, "F12"},
	{13, 0x3B, "F2"},
	{14, 0x3C, "F3"},
	{15, 0x3D, "F4"},
	{16, 0x3E, "F5"},
	{17, 0x3F, "F6"},
	{18, 0x40, "F7"},
	{19, 0x41, "F8"},
	{20, 0x42, "F9"},
	{21, 0x4A, "Home"},
	{22, 0x50, "LeftArrow"},
	{23, 0xE3, "Meta"},
	{24, 0xE2, "Option"},
	{25, 0x4E, "PageDown"},
	{26, 0x4B, "PageUp"},
	{27, 0x28, "Return"},
	{28, 0x4F, "RightArrow"},
	{29, 0xE1, "Shift"},
	{30, 0x2C, "Space"},
	{31, 0x2B, "Tab"},
	{32, 0x52, "UpArrow"},
	{33, 0x62, "Numpad0"},
	{34, 0x59, "Numpad1"},
	{35, 0x5A, "Numpad2"},
	{36, 0x5B, "Numpad3"},
	{37, 0x5C, "Numpad4"},
	{38, 0x5D, "Numpad5"},
	{39, 0x5E, "Numpad6"},
	{40, 0x5F, "Numpad7"},
	{41, 0x60, "Numpad8"},
	{42, 0x61, "Numpad9"},
	{43, 0x9B, "Cancel"},
	{44, 0x9C, "Clear"},
	{45, 0xE2, "Menu"},
	{46, 0x48, "Pause"},
	{47, 0x88, "Kana"},
	{48, 0x90, "Hangul"},
	{49, 0x00, "Junja"},
	{50, 0x00, "Final"},
	{51, 0x91, "Hanja"},
	{52, 0x00, "Kanji"},
	{53, 0x8A, "Convert"},
	{54, 0x77, "Select"},
	{55, 0x46, "Print"}, /* spec: 0x46 "a reasonable substitute" */
	{56, 0x74, "Execute"},
	{57, 0x46, "Snapshot"},
	{58, 0x49, "Insert"},
	{59, 0x75, "Help"},
	{60, 0x00, "Sleep"},
	{61, 0x9F, "Separator"},
	{62, 0x47, "Scroll"},
	{63, 0x53, "NumLock"},
	{64, 0xE7, "RWin"},
	{65, 0x65, "Apps"},
	{66, 0x55, "Multiply"},
	{67, 0x57, "Add"},
	{68, 0x56, "Subtract"},
	{69, 0x63, "Decimal"},
	{70, 0x54, "Divide"},
	{71, 0x67, "Equals"},
	{72, 0x58, "NumpadEnter"},
	{73, 0xE5, "RShift"},
	{74, 0xE4, "RControl"},
	{75, 0xE6, "RAlt"},
	{76, 0x7F, "VolumeMute"},
	{77, 0x80, "VolumeUp"},
	{78, 0x81, "VolumeDown"},
	{79, 0x66, "Power"},
	{100, 0x00, "CtrlAltDel"},
	{101, 0x00, "LockScreen"},
};

/* Spec Appendix A.1: {X11 keycode, usage}. */
static const struct {
	uint32_t code;
	uint8_t usage;
} x11_keys[] = {
	{9, 0x29}, {10, 0x1E}, {11, 0x1F}, {12, 0x20}, {13, 0x21}, {14, 0x22},
	{15, 0x23}, {16, 0x24}, {17, 0x25}, {18, 0x26}, {19, 0x27}, {20, 0x2D},
	{21, 0x2E}, {22, 0x2A}, {23, 0x2B}, {24, 0x14}, {25, 0x1A}, {26, 0x08},
	{27, 0x15}, {28, 0x17}, {29, 0x1C}, {30, 0x18}, {31, 0x0C}, {32, 0x12},
	{33, 0x13}, {34, 0x2F}, {35, 0x30}, {36, 0x28}, {37, 0xE0}, {38, 0x04},
	{39, 0x16}, {40, 0x07}, {41, 0x09}, {42, 0x0A}, {43, 0x0B}, {44, 0x0D},
	{45, 0x0E}, {46, 0x0F}, {47, 0x33}, {48, 0x34}, {49, 0x35}, {50, 0xE1},
	{51, 0x31}, {52, 0x1D}, {53, 0x1B}, {54, 0x06}, {55, 0x19}, {56, 0x05},
	{57, 0x11}, {58, 0x10}, {59, 0x36}, {60, 0x37}, {61, 0x38}, {62, 0xE5},
	{63, 0x55}, {64, 0xE2}, {65, 0x2C}, {66, 0x39}, {67, 0x3A}, {68, 0x3B},
	{69, 0x3C}, {70, 0x3D}, {71, 0x3E}, {72, 0x3F}, {73, 0x40}, {74, 0x41},
	{75, 0x42}, {76, 0x43}, {77, 0x53}, {78, 0x47}, {79, 0x5F}, {80, 0x60},
	{81, 0x61}, {82, 0x56}, {83, 0x5C}, {84, 0x5D}, {85, 0x5E}, {86, 0x57},
	{87, 0x59}, {88, 0x5A}, {89, 0x5B}, {90, 0x62}, {91, 0x63}, {93, 0x94},
	{94, 0x64}, {95, 0x44}, {96, 0x45}, {97, 0x87}, {98, 0x92}, {99, 0x93},
	{100, 0x8A}, {101, 0x88}, {102, 0x8B}, {104, 0x58}, {105, 0xE4},
	{106, 0x54}, {107, 0x46}, {108, 0xE6}, {110, 0x4A}, {111, 0x52},
	{112, 0x4B}, {113, 0x50}, {114, 0x4F}, {115, 0x4D}, {116, 0x51},
	{117, 0x4E}, {118, 0x49}, {119, 0x4C}, {121, 0x7F}, {122, 0x81},
	{123, 0x80}, {125, 0x67}, {127, 0x48}, {129, 0x85}, {130, 0x90},
	{131, 0x91}, {132, 0x89}, {133, 0xE3}, {134, 0xE7}, {135, 0x65},
	{191, 0x68}, {192, 0x69}, {193, 0x6A}, {194, 0x6B}, {195, 0x6C},
	{196, 0x6D}, {197, 0x6E}, {198, 0x6F}, {199, 0x70}, {200, 0x71},
	{201, 0x72}, {202, 0x73},
};

START_TEST(every_control_key)
{
	size_t n = sizeof(control_keys) / sizeof(control_keys[0]);

	for (size_t i = 0; i < n; i++)
		ck_assert_msg(kd_keymap_control_key(control_keys[i].value) ==
				      control_keys[i].usage,
			      "ControlKey %s (%u): got 0x%02x, want 0x%02x",
			      control_keys[i].name, control_keys[i].value,
			      kd_keymap_control_key(control_keys[i].value),
			      control_keys[i].usage);
	/* Every value of the real enum is in the table above. */
	for (unsigned i = 0; i < hbb__control_key__descriptor.n_values; i++) {
		int v = hbb__control_key__descriptor.values[i].value;
		bool found = false;
		for (size_t k = 0; k < n; k++)
			found |= (int)control_keys[k].value == v;
		ck_assert_msg(found, "ControlKey %s not covered",
			      hbb__control_key__descriptor.values[i].name);
	}
	ck_assert_uint_eq(n, hbb__control_key__descriptor.n_values);
	ck_assert_uint_eq(kd_keymap_control_key(80), 0);
	ck_assert_uint_eq(kd_keymap_control_key(1000000), 0);
}
END_TEST

START_TEST(every_x11_keycode)
{
	size_t n = sizeof(x11_keys) / sizeof(x11_keys[0]);
	unsigned mapped = 0;

	ck_assert_uint_eq(n, 132);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(kd_keymap_x11(x11_keys[i].code) ==
				      x11_keys[i].usage,
			      "X11 keycode %u: got 0x%02x, want 0x%02x",
			      x11_keys[i].code, kd_keymap_x11(x11_keys[i].code),
			      x11_keys[i].usage);
	/* Nothing outside the table maps to a key. */
	for (uint32_t c = 0; c < 300; c++)
		mapped += kd_keymap_x11(c) != 0;
	ck_assert_uint_eq(mapped, n);
	ck_assert_uint_eq(kd_keymap_x11(0xFFFFFFFFu), 0);
}
END_TEST

START_TEST(uinput_maps_back_to_evdev)
{
	/* evdev = X11 - 8 (A.1); the uinput backend inverts the table. */
	for (size_t i = 0; i < sizeof(x11_keys) / sizeof(x11_keys[0]); i++)
		ck_assert_msg(kd_hid_usage_to_evdev(x11_keys[i].usage) ==
				      x11_keys[i].code - 8,
			      "usage 0x%02x: evdev %u, want %u",
			      x11_keys[i].usage,
			      kd_hid_usage_to_evdev(x11_keys[i].usage),
			      x11_keys[i].code - 8);
}
END_TEST

static void want_char(uint32_t cp, uint8_t usage, bool shift)
{
	uint8_t u = 0;
	bool s = !shift;

	ck_assert_msg(kd_keymap_char(cp, &u, &s), "char 0x%x unmapped", cp);
	ck_assert_msg(u == usage && s == shift,
		      "char '%c': got 0x%02x%s, want 0x%02x%s", (int)cp, u,
		      s ? "+shift" : "", usage, shift ? "+shift" : "");
}

START_TEST(us_layout_characters)
{
	const char *row = "1234567890";
	const char *shifted = "!@#$%^&*()";

	for (int c = 'a'; c <= 'z'; c++) {
		want_char((uint32_t)c, (uint8_t)(0x04 + c - 'a'), false);
		want_char((uint32_t)(c - 32), (uint8_t)(0x04 + c - 'a'), true);
	}
	for (int i = 0; i < 10; i++) {
		want_char((uint32_t)row[i], (uint8_t)(0x1E + i), false);
		want_char((uint32_t)shifted[i], (uint8_t)(0x1E + i), true);
	}
	want_char(' ', 0x2C, false);
	want_char('-', 0x2D, false);
	want_char('_', 0x2D, true);
	want_char('=', 0x2E, false);
	want_char('+', 0x2E, true);
	want_char('[', 0x2F, false);
	want_char('{', 0x2F, true);
	want_char(']', 0x30, false);
	want_char('}', 0x30, true);
	want_char('\\', 0x31, false);
	want_char('|', 0x31, true);
	want_char(';', 0x33, false);
	want_char(':', 0x33, true);
	want_char('\'', 0x34, false);
	want_char('"', 0x34, true);
	want_char('`', 0x35, false);
	want_char('~', 0x35, true);
	want_char(',', 0x36, false);
	want_char('<', 0x36, true);
	want_char('.', 0x37, false);
	want_char('>', 0x37, true);
	want_char('/', 0x38, false);
	want_char('?', 0x38, true);
	want_char('\n', 0x28, false);
	want_char('\t', 0x2B, false);
	for (uint32_t c = 0x20; c <= 0x7E; c++) {
		uint8_t u;
		bool s;
		ck_assert_msg(kd_keymap_char(c, &u, &s), "0x%x unmapped", c);
	}
	{
		uint8_t u;
		bool s;
		ck_assert(!kd_keymap_char(0xE9, &u, &s)); /* é: not on US */
		ck_assert(!kd_keymap_char(0x7F, &u, &s));
		ck_assert(!kd_keymap_char(0x1F600, &u, &s));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keymap");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_control_key);
	tcase_add_test(tc, every_x11_keycode);
	tcase_add_test(tc, uinput_maps_back_to_evdev);
	tcase_add_test(tc, us_layout_characters);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
