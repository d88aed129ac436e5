/* Target keyboard layouts: what a user of each layout finds on each key
 * (written from the Windows layouts and checked against xkb's symbols/{us,
 * gb,de,fr,it}; no xkb data is needed to run this). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "keylayout.h"

#define SH KD_KEYLAYOUT_SHIFT
#define AG KD_KEYLAYOUT_ALTGR

/* Rows of key positions, named after the US keys (left to right). */
static const uint8_t row_digits[] = {0x35, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23,
				     0x24, 0x25, 0x26, 0x27, 0x2D, 0x2E};
static const uint8_t row_top[] = {0x14, 0x1A, 0x08, 0x15, 0x17, 0x1C,
				  0x18, 0x0C, 0x12, 0x13, 0x2F, 0x30};
static const uint8_t row_home[] = {0x04, 0x16, 0x07, 0x09, 0x0A, 0x0B,
				   0x0D, 0x0E, 0x0F, 0x33, 0x34, 0x31};
static const uint8_t row_bottom[] = {0x64, 0x1D, 0x1B, 0x06, 0x19, 0x05,
				     0x11, 0x10, 0x36, 0x37, 0x38};
/* ANSI keyboards have no key left of Z (0x64). */
static const uint8_t row_bottom_ansi[] = {0x1D, 0x1B, 0x06, 0x19, 0x05,
					  0x11, 0x10, 0x36, 0x37, 0x38};

static const struct kd_keylayout *layout(const char *name)
{
	const struct kd_keylayout *l = kd_keylayout_find(name);

	ck_assert_msg(l, "layout %s missing", name);
	return l;
}

/* Next code point of a UTF-8 literal. */
static uint32_t next_cp(const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	uint32_t cp;
	int n;

	if (p[0] < 0x80) {
		cp = p[0];
		n = 1;
	} else if ((p[0] & 0xE0) == 0xC0) {
		cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
		n = 2;
	} else {
		cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 |
		     (p[2] & 0x3F);
		n = 3;
	}
	*s += n;
	return cp;
}

static void want1(const struct kd_keylayout *l, uint32_t cp, uint8_t usage,
		  uint8_t mods)
{
	struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
	size_t n = kd_keylayout_char(l, cp, ks);

	ck_assert_msg(n == 1, "%s: U+%04X: %zu keystrokes, want 1",
		      kd_keylayout_name(l), cp, n);
	ck_assert_msg(ks[0].usage == usage && ks[0].mods == mods,
		      "%s: U+%04X: key 0x%02x mods 0x%02x, want key "
		      "0x%02x mods 0x%02x",
		      kd_keylayout_name(l), cp, ks[0].usage,
		      ks[0].mods, usage, mods);
}

static void want2(const struct kd_keylayout *l, uint32_t cp, uint8_t u0,
		  uint8_t m0, uint8_t u1, uint8_t m1)
{
	struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
	size_t n = kd_keylayout_char(l, cp, ks);

	ck_assert_msg(n == 2, "%s: U+%04X: %zu keystrokes, want 2",
		      kd_keylayout_name(l), cp, n);
	ck_assert_msg(ks[0].usage == u0 && ks[0].mods == m0 &&
			      ks[1].usage == u1 && ks[1].mods == m1,
		      "%s: U+%04X: %02x/%02x %02x/%02x, want %02x/%02x "
		      "%02x/%02x",
		      kd_keylayout_name(l), cp, ks[0].usage, ks[0].mods,
		      ks[1].usage, ks[1].mods, u0, m0, u1, m1);
}

static void want_none(const struct kd_keylayout *l, uint32_t cp)
{
	struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];

	ck_assert_msg(kd_keylayout_char(l, cp, ks) == 0,
		      "%s: U+%04X should not be typeable",
		      kd_keylayout_name(l), cp);
}

/* One row of keys: plain and shifted characters as printed on the
 * keycaps, '.' = not checked here (a dead key, say; the row's own '.' key
 * is checked elsewhere). */
static void want_row(const struct kd_keylayout *l, const uint8_t *usages,
		     size_t n, const char *plain, const char *shifted)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t p = next_cp(&plain), s = next_cp(&shifted);
		ck_assert_msg(p && s, "row shorter than its keys");
		if (p != '.')
			want1(l, p, usages[i], 0);
		if (s != '.')
			want1(l, s, usages[i], SH);
	}
	ck_assert_msg(!*plain && !*shifted, "row longer than its keys");
}

#define ROW(l, r, plain, shifted) \
	want_row(l, r, sizeof(r), plain, shifted)

static void every_ascii_one_stroke(const struct kd_keylayout *l)
{
	for (uint32_t c = 0x20; c <= 0x7E; c++) {
		struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
		ck_assert_msg(kd_keylayout_char(l, c, ks) == 1,
			      "%s: '%c' not one keystroke",
			      kd_keylayout_name(l), (int)c);
	}
}

START_TEST(us_every_printable_ascii)
{
	const struct kd_keylayout *us = layout("us");

	ck_assert_ptr_eq(us, kd_keylayout_us());
	ck_assert(!kd_keylayout_has_altgr(us));
	ROW(us, row_digits, "`1234567890-=", "~!@#$%^&*()_+");
	ROW(us, row_top, "qwertyuiop[]", "QWERTYUIOP{}");
	ROW(us, row_home, "asdfghjkl;'\\", "ASDFGHJKL:\"|");
	ROW(us, row_bottom_ansi, "zxcvbnm,./", "ZXCVBNM<>?");
	want1(us, ' ', 0x2C, 0);
	every_ascii_one_stroke(us);
	want_none(us, 0xFC);   /* ü */
	want_none(us, 0x20AC); /* € */
	want_none(us, 0xA3);   /* £ */
}
END_TEST

START_TEST(gb_every_printable_ascii)
{
	const struct kd_keylayout *gb = layout("gb");

	ck_assert(kd_keylayout_has_altgr(gb));
	ROW(gb, row_digits, "`1234567890-=", "¬!\"£$%^&*()_+");
	ROW(gb, row_top, "qwertyuiop[]", "QWERTYUIOP{}");
	ROW(gb, row_home, "asdfghjkl;'#", "ASDFGHJKL:@~");
	ROW(gb, row_bottom, "\\zxcvbnm,./", "|ZXCVBNM<>?");
	want1(gb, ' ', 0x2C, 0);
	want1(gb, 0x20AC, 0x21, AG); /* € = AltGr+4 */
	every_ascii_one_stroke(gb);
	want_none(gb, 0xE9); /* é: AltGr+E on Windows only */
}
END_TEST

START_TEST(de_qwertz)
{
	const struct kd_keylayout *de = layout("de");

	ck_assert(kd_keylayout_has_altgr(de));
	ROW(de, row_digits, ".1234567890ß.", "°!\"§$%&/()=?.");
	ROW(de, row_top, "qwertzuiopü+", "QWERTZUIOPÜ*");
	ROW(de, row_home, "asdfghjklöä#", "ASDFGHJKLÖÄ'");
	ROW(de, row_bottom, "<yxcvbnm,.-", ">YXCVBNM;:_");
	/* y and z swapped against US */
	want1(de, 'z', 0x1C, 0);
	want1(de, 'y', 0x1D, 0);
	want1(de, 'Z', 0x1C, SH);
	want1(de, 'Y', 0x1D, SH);
	/* AltGr */
	want1(de, '@', 0x14, AG);
	want1(de, '{', 0x24, AG);
	want1(de, '[', 0x25, AG);
	want1(de, ']', 0x26, AG);
	want1(de, '}', 0x27, AG);
	want1(de, '\\', 0x2D, AG);
	want1(de, '~', 0x30, AG);
	want1(de, '|', 0x64, AG);
	want1(de, 0x20AC, 0x08, AG); /* € */
	want1(de, 0xB5, 0x10, AG);   /* µ */
	want1(de, 0xB2, 0x1F, AG);   /* ² */
	/* umlauts and sharp s */
	want1(de, 0xF6, 0x33, 0);  /* ö */
	want1(de, 0xE4, 0x34, 0);  /* ä */
	want1(de, 0xFC, 0x2F, 0);  /* ü */
	want1(de, 0xDF, 0x2D, 0);  /* ß */
	want1(de, 0xDC, 0x2F, SH); /* Ü */
	/* dead keys: the accent is dead key + Space */
	want2(de, '^', 0x35, 0, 0x2C, 0);
	want2(de, 0xB4, 0x2E, 0, 0x2C, 0); /* ´ */
	want2(de, '`', 0x2E, SH, 0x2C, 0);
	/* ...and composes accented letters */
	want2(de, 0xEA, 0x35, 0, 0x08, 0);   /* ê */
	want2(de, 0xE9, 0x2E, 0, 0x08, 0);   /* é */
	want2(de, 0xC9, 0x2E, 0, 0x08, SH);  /* É */
	want2(de, 0xE8, 0x2E, SH, 0x08, 0);  /* è */
	want2(de, 0xFD, 0x2E, 0, 0x1D, 0);   /* ý: y is where US has z */
	want_none(de, 0xF1); /* ñ */
	want_none(de, 0xEB); /* ë: no dead diaeresis on German */
	for (uint32_t c = 0x20; c <= 0x7E; c++) {
		struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
		ck_assert_msg(kd_keylayout_char(de, c, ks) ==
				      (c == '^' || c == '`' ? 2u : 1u),
			      "de: '%c'", (int)c);
	}
}
END_TEST

START_TEST(fr_azerty)
{
	const struct kd_keylayout *fr = layout("fr");
	const char *digits = "1234567890";

	ck_assert(kd_keylayout_has_altgr(fr));
	ROW(fr, row_digits, "²&é\"'(-è_çà)=", ".1234567890°+");
	ROW(fr, row_top, "azertyuiop.$", "AZERTYUIOP.£");
	ROW(fr, row_home, "qsdfghjklmù*", "QSDFGHJKLM%µ");
	ROW(fr, row_bottom, "<wxcvbn,;:!", ">WXCVBN?./§");
	/* letters that move */
	want1(fr, 'a', 0x14, 0);
	want1(fr, 'q', 0x04, 0);
	want1(fr, 'z', 0x1A, 0);
	want1(fr, 'w', 0x1D, 0);
	want1(fr, 'm', 0x33, 0);
	want1(fr, 'M', 0x33, SH);
	/* digits need Shift */
	for (int i = 0; i < 10; i++)
		want1(fr, (uint32_t)digits[i], (uint8_t)(0x1E + i), SH);
	want1(fr, 0xE9, 0x1F, 0); /* é */
	want1(fr, 0xE8, 0x24, 0); /* è */
	want1(fr, 0xE0, 0x27, 0); /* à */
	want1(fr, 0xE7, 0x26, 0); /* ç */
	want1(fr, 0xF9, 0x34, 0); /* ù */
	/* AltGr */
	want1(fr, '@', 0x27, AG);
	want1(fr, 0x20AC, 0x08, AG); /* € */
	want1(fr, '#', 0x20, AG);
	want1(fr, '{', 0x21, AG);
	want1(fr, '[', 0x22, AG);
	want1(fr, '|', 0x23, AG);
	want1(fr, '\\', 0x25, AG);
	want1(fr, '^', 0x26, AG); /* not the dead key: AltGr+9 types it */
	want1(fr, ']', 0x2D, AG);
	want1(fr, '}', 0x2E, AG);
	want1(fr, 0xA4, 0x30, AG); /* ¤ */
	/* tilde and grave: dead (Windows) keys + Space */
	want2(fr, '~', 0x1F, AG, 0x2C, 0);
	want2(fr, '`', 0x24, AG, 0x2C, 0);
	/* circumflex and diaeresis compose */
	want2(fr, 0xEA, 0x2F, 0, 0x08, 0);   /* ê */
	want2(fr, 0xCA, 0x2F, 0, 0x08, SH);  /* Ê */
	want2(fr, 0xE2, 0x2F, 0, 0x14, 0);   /* â: a is where US has q */
	want2(fr, 0xEB, 0x2F, SH, 0x08, 0);  /* ë */
	want2(fr, 0xFF, 0x2F, SH, 0x1C, 0);  /* ÿ */
	want_none(fr, 0xC9); /* É: no dead acute on French */
	want_none(fr, 0xF1); /* ñ: ~ composes on Windows only */
	want_none(fr, 0xB4); /* ´ */
	for (uint32_t c = 0x20; c <= 0x7E; c++) {
		struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
		ck_assert_msg(kd_keylayout_char(fr, c, ks) ==
				      (c == '~' || c == '`' ? 2u : 1u),
			      "fr: '%c'", (int)c);
	}
}
END_TEST

START_TEST(it_shift_altgr)
{
	const struct kd_keylayout *it = layout("it");

	ck_assert(kd_keylayout_has_altgr(it));
	ROW(it, row_digits, "\\1234567890'ì", "|!\"£$%&/()=?^");
	ROW(it, row_top, "qwertyuiopè+", "QWERTYUIOPé*");
	ROW(it, row_home, "asdfghjklòàù", "ASDFGHJKLç°§");
	ROW(it, row_bottom, "<zxcvbnm,.-", ">ZXCVBNM;:_");
	want1(it, '[', 0x2F, AG);
	want1(it, '{', 0x2F, SH | AG); /* the fourth level */
	want1(it, ']', 0x30, AG);
	want1(it, '}', 0x30, SH | AG);
	want1(it, '@', 0x33, AG);
	want1(it, '#', 0x34, AG);
	want1(it, 0x20AC, 0x08, AG);
	want_none(it, '`'); /* not on the Windows layout */
	want_none(it, '~');
}
END_TEST

START_TEST(control_characters_and_untypeable)
{
	for (size_t i = 0; kd_keylayout_at(i); i++) {
		const struct kd_keylayout *l = kd_keylayout_at(i);
		want1(l, '\n', 0x28, 0);
		want1(l, '\r', 0x28, 0);
		want1(l, '\t', 0x2B, 0);
		want1(l, '\b', 0x2A, 0);
		want_none(l, 0);
		want_none(l, 0x1B);
		want_none(l, 0x7F);
		want_none(l, 0x1F600);
		want_none(l, 0xFFFD);
		want_none(l, 0x80000000u | '^'); /* internal flag bits */
		want_none(l, 0xFFFFFFFFu);
	}
}
END_TEST

START_TEST(names)
{
	const char *want[] = {"us", "gb", "de", "fr", "it"};
	size_t i;

	for (i = 0; kd_keylayout_at(i); i++) {
		ck_assert_uint_lt(i, 5);
		ck_assert_str_eq(kd_keylayout_name(kd_keylayout_at(i)), want[i]);
		ck_assert_ptr_eq(kd_keylayout_find(want[i]), kd_keylayout_at(i));
	}
	ck_assert_uint_eq(i, 5);
	ck_assert_ptr_null(kd_keylayout_find("US"));
	ck_assert_ptr_null(kd_keylayout_find("dvorak"));
	ck_assert_ptr_null(kd_keylayout_find(""));
	ck_assert_ptr_null(kd_keylayout_find(NULL));
}
END_TEST

START_TEST(caps_lock_sensitive_keys)
{
	const struct kd_keylayout *us = layout("us"), *de = layout("de"),
				  *fr = layout("fr");

	ck_assert(kd_keylayout_caps_sensitive(us, 0x04));
	ck_assert(kd_keylayout_caps_sensitive(us, 0x1D));
	ck_assert(!kd_keylayout_caps_sensitive(us, 0x1E));
	ck_assert(!kd_keylayout_caps_sensitive(us, 0x33));
	ck_assert(kd_keylayout_caps_sensitive(de, 0x33)); /* ö */
	ck_assert(!kd_keylayout_caps_sensitive(de, 0x1E));
	ck_assert(kd_keylayout_caps_sensitive(fr, 0x1F)); /* é / 2 */
	ck_assert(!kd_keylayout_caps_sensitive(fr, 0x2C)); /* Space */
	ck_assert(!kd_keylayout_caps_sensitive(fr, 0x28)); /* Return */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keylayout");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, us_every_printable_ascii);
	tcase_add_test(tc, gb_every_printable_ascii);
	tcase_add_test(tc, de_qwertz);
	tcase_add_test(tc, fr_azerty);
	tcase_add_test(tc, it_shift_altgr);
	tcase_add_test(tc, control_characters_and_untypeable);
	tcase_add_test(tc, names);
	tcase_add_test(tc, caps_lock_sensitive_keys);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
