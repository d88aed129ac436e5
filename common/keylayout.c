#include "keylayout.h"

#include <string.h>

/* A level holds a code point; DEAD() marks a dead key that types its accent
 * followed by Space and composes accented letters (the same on Windows and
 * X11); WDEAD() a key that is dead on Windows but types the character at
 * once on X11: it is used only for the accent itself (dead key + Space, so
 * X11 targets get a space after it) and never composes. */
#define DEAD_BIT 0x80000000u
#define WDEAD_BIT 0x40000000u
#define DEAD(c) ((uint32_t)(c) | DEAD_BIT)
#define WDEAD(c) ((uint32_t)(c) | WDEAD_BIT)
#define CP_MASK 0x001FFFFFu

enum { PLAIN, SHIFT, ALTGR, SHIFT_ALTGR, LEVELS };

static const uint8_t level_mods[LEVELS] = {
	[PLAIN] = 0,
	[SHIFT] = KD_KEYLAYOUT_SHIFT,
	[ALTGR] = KD_KEYLAYOUT_ALTGR,
	[SHIFT_ALTGR] = KD_KEYLAYOUT_SHIFT | KD_KEYLAYOUT_ALTGR,
};

struct key_row {
	uint8_t usage;
	uint32_t level[LEVELS]; /* plain, Shift, AltGr, Shift+AltGr; 0 none */
};

struct kd_keylayout {
	const char *name;
	const struct key_row *keys;
	size_t n_keys;
	bool altgr;
	/* CapsLock changes more than the letter keys: every printing key
	 * (caps_all) or the ones listed (0-terminated). */
	bool caps_all;
	uint8_t caps_extra[8];
};

#define SPACE_USAGE 0x2C

/* Code points by name, where a literal would not be plain ASCII. */
enum {
	POUND = 0xA3,
	CURRENCY = 0xA4,
	SECTION = 0xA7,
	DIAERESIS = 0xA8,
	NOT_SIGN = 0xAC,
	DEGREE = 0xB0,
	SUPER2 = 0xB2,
	SUPER3 = 0xB3,
	ACUTE = 0xB4,
	MICRO = 0xB5,
	A_DIAER = 0xC4,
	O_DIAER = 0xD6,
	U_DIAER = 0xDC,
	SHARP_S = 0xDF,
	a_GRAVE = 0xE0,
	a_DIAER = 0xE4,
	c_CEDIL = 0xE7,
	e_GRAVE = 0xE8,
	e_ACUTE = 0xE9,
	i_GRAVE = 0xEC,
	o_GRAVE = 0xF2,
	o_DIAER = 0xF6,
	u_GRAVE = 0xF9,
	u_DIAER = 0xFC,
	EURO = 0x20AC,
};

/* US English (Windows "US", xkb us). */
static const struct key_row us_keys[] = {
	/* usage  plain  Shift */
	{0x35, {'`', '~'}},
	{0x1E, {'1', '!'}},
	{0x1F, {'2', '@'}},
	{0x20, {'3', '#'}},
	{0x21, {'4', '$'}},
	{0x22, {'5', '%'}},
	{0x23, {'6', '^'}},
	{0x24, {'7', '&'}},
	{0x25, {'8', '*'}},
	{0x26, {'9', '('}},
	{0x27, {'0', ')'}},
	{0x2D, {'-', '_'}},
	{0x2E, {'=', '+'}},
	{0x14, {'q', 'Q'}},
	{0x1A, {'w', 'W'}},
	{0x08, {'e', 'E'}},
	{0x15, {'r', 'R'}},
	{0x17, {'t', 'T'}},
	{0x1C, {'y', 'Y'}},
	{0x18, {'u', 'U'}},
	{0x0C, {'i', 'I'}},
	{0x12, {'o', 'O'}},
	{0x13, {'p', 'P'}},
	{0x2F, {'[', '{'}},
	{0x30, {']', '}'}},
	{0x31, {'\\', '|'}},
	{0x04, {'a', 'A'}},
	{0x16, {'s', 'S'}},
	{0x07, {'d', 'D'}},
	{0x09, {'f', 'F'}},
	{0x0A, {'g', 'G'}},
	{0x0B, {'h', 'H'}},
	{0x0D, {'j', 'J'}},
	{0x0E, {'k', 'K'}},
	{0x0F, {'l', 'L'}},
	{0x33, {';', ':'}},
	{0x34, {'\'', '"'}},
	{0x1D, {'z', 'Z'}},
	{0x1B, {'x', 'X'}},
	{0x06, {'c', 'C'}},
	{0x19, {'v', 'V'}},
	{0x05, {'b', 'B'}},
	{0x11, {'n', 'N'}},
	{0x10, {'m', 'M'}},
	{0x36, {',', '<'}},
	{0x37, {'.', '>'}},
	{0x38, {'/', '?'}},
	{0x2C, {' '}},
};

/* English (UK) (Windows "United Kingdom", xkb gb). The ISO keys: '#' next
 * to Return is sent as usage 0x31 (hosts treat 0x31 and 0x32 alike), '\'
 * left of Z as 0x64. Windows' AltGr vowels (á é í ó ú) and '¦' differ on
 * X11 and are left out. */
static const struct key_row gb_keys[] = {
	/* usage  plain  Shift  AltGr */
	{0x35, {'`', NOT_SIGN}},
	{0x1E, {'1', '!'}},
	{0x1F, {'2', '"'}},
	{0x20, {'3', POUND}},
	{0x21, {'4', '$', EURO}},
	{0x22, {'5', '%'}},
	{0x23, {'6', '^'}},
	{0x24, {'7', '&'}},
	{0x25, {'8', '*'}},
	{0x26, {'9', '('}},
	{0x27, {'0', ')'}},
	{0x2D, {'-', '_'}},
	{0x2E, {'=', '+'}},
	{0x14, {'q', 'Q'}},
	{0x1A, {'w', 'W'}},
	{0x08, {'e', 'E'}},
	{0x15, {'r', 'R'}},
	{0x17, {'t', 'T'}},
	{0x1C, {'y', 'Y'}},
	{0x18, {'u', 'U'}},
	{0x0C, {'i', 'I'}},
	{0x12, {'o', 'O'}},
	{0x13, {'p', 'P'}},
	{0x2F, {'[', '{'}},
	{0x30, {']', '}'}},
	{0x04, {'a', 'A'}},
	{0x16, {'s', 'S'}},
	{0x07, {'d', 'D'}},
	{0x09, {'f', 'F'}},
	{0x0A, {'g', 'G'}},
	{0x0B, {'h', 'H'}},
	{0x0D, {'j', 'J'}},
	{0x0E, {'k', 'K'}},
	{0x0F, {'l', 'L'}},
	{0x33, {';', ':'}},
	{0x34, {'\'', '@'}},
	{0x31, {'#', '~'}},
	{0x64, {'\\', '|'}},
	{0x1D, {'z', 'Z'}},
	{0x1B, {'x', 'X'}},
	{0x06, {'c', 'C'}},
	{0x19, {'v', 'V'}},
	{0x05, {'b', 'B'}},
	{0x11, {'n', 'N'}},
	{0x10, {'m', 'M'}},
	{0x36, {',', '<'}},
	{0x37, {'.', '>'}},
	{0x38, {'/', '?'}},
	{0x2C, {' '}},
};

/* German, QWERTZ (Windows "German", xkb de). Dead keys: ^ (left of 1),
 * acute and grave (left of Backspace). */
static const struct key_row de_keys[] = {
	/* usage  plain  Shift  AltGr */
	{0x35, {DEAD('^'), DEGREE}},
	{0x1E, {'1', '!'}},
	{0x1F, {'2', '"', SUPER2}},
	{0x20, {'3', SECTION, SUPER3}},
	{0x21, {'4', '$'}},
	{0x22, {'5', '%'}},
	{0x23, {'6', '&'}},
	{0x24, {'7', '/', '{'}},
	{0x25, {'8', '(', '['}},
	{0x26, {'9', ')', ']'}},
	{0x27, {'0', '=', '}'}},
	{0x2D, {SHARP_S, '?', '\\'}},
	{0x2E, {DEAD(ACUTE), DEAD('`')}},
	{0x14, {'q', 'Q', '@'}},
	{0x1A, {'w', 'W'}},
	{0x08, {'e', 'E', EURO}},
	{0x15, {'r', 'R'}},
	{0x17, {'t', 'T'}},
	{0x1C, {'z', 'Z'}},
	{0x18, {'u', 'U'}},
	{0x0C, {'i', 'I'}},
	{0x12, {'o', 'O'}},
	{0x13, {'p', 'P'}},
	{0x2F, {u_DIAER, U_DIAER}},
	{0x30, {'+', '*', '~'}},
	{0x04, {'a', 'A'}},
	{0x16, {'s', 'S'}},
	{0x07, {'d', 'D'}},
	{0x09, {'f', 'F'}},
	{0x0A, {'g', 'G'}},
	{0x0B, {'h', 'H'}},
	{0x0D, {'j', 'J'}},
	{0x0E, {'k', 'K'}},
	{0x0F, {'l', 'L'}},
	{0x33, {o_DIAER, O_DIAER}},
	{0x34, {a_DIAER, A_DIAER}},
	{0x31, {'#', '\''}},
	{0x64, {'<', '>', '|'}},
	{0x1D, {'y', 'Y'}},
	{0x1B, {'x', 'X'}},
	{0x06, {'c', 'C'}},
	{0x19, {'v', 'V'}},
	{0x05, {'b', 'B'}},
	{0x11, {'n', 'N'}},
	{0x10, {'m', 'M', MICRO}},
	{0x36, {',', ';'}},
	{0x37, {'.', ':'}},
	{0x38, {'-', '_'}},
	{0x2C, {' '}},
};

/* French, AZERTY (Windows "French", xkb fr). Digits need Shift. Dead keys:
 * circumflex and diaeresis (right of P); tilde (AltGr+2) and grave
 * (AltGr+7) are dead on Windows only. */
static const struct key_row fr_keys[] = {
	/* usage  plain  Shift  AltGr */
	{0x35, {SUPER2}},
	{0x1E, {'&', '1'}},
	{0x1F, {e_ACUTE, '2', WDEAD('~')}},
	{0x20, {'"', '3', '#'}},
	{0x21, {'\'', '4', '{'}},
	{0x22, {'(', '5', '['}},
	{0x23, {'-', '6', '|'}},
	{0x24, {e_GRAVE, '7', WDEAD('`')}},
	{0x25, {'_', '8', '\\'}},
	{0x26, {c_CEDIL, '9', '^'}},
	{0x27, {a_GRAVE, '0', '@'}},
	{0x2D, {')', DEGREE, ']'}},
	{0x2E, {'=', '+', '}'}},
	{0x14, {'a', 'A'}},
	{0x1A, {'z', 'Z'}},
	{0x08, {'e', 'E', EURO}},
	{0x15, {'r', 'R'}},
	{0x17, {'t', 'T'}},
	{0x1C, {'y', 'Y'}},
	{0x18, {'u', 'U'}},
	{0x0C, {'i', 'I'}},
	{0x12, {'o', 'O'}},
	{0x13, {'p', 'P'}},
	{0x2F, {DEAD('^'), DEAD(DIAERESIS)}},
	{0x30, {'$', POUND, CURRENCY}},
	{0x04, {'q', 'Q'}},
	{0x16, {'s', 'S'}},
	{0x07, {'d', 'D'}},
	{0x09, {'f', 'F'}},
	{0x0A, {'g', 'G'}},
	{0x0B, {'h', 'H'}},
	{0x0D, {'j', 'J'}},
	{0x0E, {'k', 'K'}},
	{0x0F, {'l', 'L'}},
	{0x33, {'m', 'M'}},
	{0x34, {u_GRAVE, '%'}},
	{0x31, {'*', MICRO}},
	{0x64, {'<', '>'}},
	{0x1D, {'w', 'W'}},
	{0x1B, {'x', 'X'}},
	{0x06, {'c', 'C'}},
	{0x19, {'v', 'V'}},
	{0x05, {'b', 'B'}},
	{0x11, {'n', 'N'}},
	{0x10, {',', '?'}},
	{0x36, {';', '.'}},
	{0x37, {':', '/'}},
	{0x38, {'!', SECTION}},
	{0x2C, {' '}},
};

/* Italian (Windows "Italian", xkb it). No dead keys; '`' and '~' are not
 * on the Windows layout (X11 has them on AltGr) and cannot be typed. */
static const struct key_row it_keys[] = {
	/* usage  plain  Shift  AltGr  Shift+AltGr */
	{0x35, {'\\', '|'}},
	{0x1E, {'1', '!'}},
	{0x1F, {'2', '"'}},
	{0x20, {'3', POUND}},
	{0x21, {'4', '$'}},
	{0x22, {'5', '%'}},
	{0x23, {'6', '&'}},
	{0x24, {'7', '/'}},
	{0x25, {'8', '('}},
	{0x26, {'9', ')'}},
	{0x27, {'0', '='}},
	{0x2D, {'\'', '?'}},
	{0x2E, {i_GRAVE, '^'}},
	{0x14, {'q', 'Q'}},
	{0x1A, {'w', 'W'}},
	{0x08, {'e', 'E', EURO}},
	{0x15, {'r', 'R'}},
	{0x17, {'t', 'T'}},
	{0x1C, {'y', 'Y'}},
	{0x18, {'u', 'U'}},
	{0x0C, {'i', 'I'}},
	{0x12, {'o', 'O'}},
	{0x13, {'p', 'P'}},
	{0x2F, {e_GRAVE, e_ACUTE, '[', '{'}},
	{0x30, {'+', '*', ']', '}'}},
	{0x04, {'a', 'A'}},
	{0x16, {'s', 'S'}},
	{0x07, {'d', 'D'}},
	{0x09, {'f', 'F'}},
	{0x0A, {'g', 'G'}},
	{0x0B, {'h', 'H'}},
	{0x0D, {'j', 'J'}},
	{0x0E, {'k', 'K'}},
	{0x0F, {'l', 'L'}},
	{0x33, {o_GRAVE, c_CEDIL, '@'}},
	{0x34, {a_GRAVE, DEGREE, '#'}},
	{0x31, {u_GRAVE, SECTION}},
	{0x64, {'<', '>'}},
	{0x1D, {'z', 'Z'}},
	{0x1B, {'x', 'X'}},
	{0x06, {'c', 'C'}},
	{0x19, {'v', 'V'}},
	{0x05, {'b', 'B'}},
	{0x11, {'n', 'N'}},
	{0x10, {'m', 'M'}},
	{0x36, {',', ';'}},
	{0x37, {'.', ':'}},
	{0x38, {'-', '_'}},
	{0x2C, {' '}},
};

#define ROWS(t) t, sizeof(t) / sizeof(t[0])

static const struct kd_keylayout layouts[] = {
	{"us", ROWS(us_keys), false, false, {0}},
	{"gb", ROWS(gb_keys), true, false, {0}},
	{"de", ROWS(de_keys), true, false, {0x2F, 0x33, 0x34}}, /* ü ö ä */
	{"fr", ROWS(fr_keys), true, true, {0}},
	{"it", ROWS(it_keys), true, false, {0x2E, 0x2F, 0x33, 0x34, 0x31}},
};
#define N_LAYOUTS (sizeof(layouts) / sizeof(layouts[0]))

/* Accented letters a dead key composes: {letter, accent, base}. */
static const struct {
	uint16_t composed, accent;
	uint8_t base;
} compose[] = {
	{0xE2, '^', 'a'}, {0xEA, '^', 'e'}, {0xEE, '^', 'i'},
	{0xF4, '^', 'o'}, {0xFB, '^', 'u'}, {0xC2, '^', 'A'},
	{0xCA, '^', 'E'}, {0xCE, '^', 'I'}, {0xD4, '^', 'O'},
	{0xDB, '^', 'U'},
	{0xE0, '`', 'a'}, {0xE8, '`', 'e'}, {0xEC, '`', 'i'},
	{0xF2, '`', 'o'}, {0xF9, '`', 'u'}, {0xC0, '`', 'A'},
	{0xC8, '`', 'E'}, {0xCC, '`', 'I'}, {0xD2, '`', 'O'},
	{0xD9, '`', 'U'},
	{0xE1, ACUTE, 'a'}, {0xE9, ACUTE, 'e'}, {0xED, ACUTE, 'i'},
	{0xF3, ACUTE, 'o'}, {0xFA, ACUTE, 'u'}, {0xFD, ACUTE, 'y'},
	{0xC1, ACUTE, 'A'}, {0xC9, ACUTE, 'E'}, {0xCD, ACUTE, 'I'},
	{0xD3, ACUTE, 'O'}, {0xDA, ACUTE, 'U'}, {0xDD, ACUTE, 'Y'},
	{0xE4, DIAERESIS, 'a'}, {0xEB, DIAERESIS, 'e'},
	{0xEF, DIAERESIS, 'i'}, {0xF6, DIAERESIS, 'o'},
	{0xFC, DIAERESIS, 'u'}, {0xFF, DIAERESIS, 'y'},
	{0xC4, DIAERESIS, 'A'}, {0xCB, DIAERESIS, 'E'},
	{0xCF, DIAERESIS, 'I'}, {0xD6, DIAERESIS, 'O'},
	{0xDC, DIAERESIS, 'U'},
};

const struct kd_keylayout *kd_keylayout_find(const char *name)
{
	for (size_t i = 0; name && i < N_LAYOUTS; i++)
		if (strcmp(layouts[i].name, name) == 0)
			return &layouts[i];
	return NULL;
}

const struct kd_keylayout *kd_keylayout_us(void)
{
	return &layouts[0];
}

const char *kd_keylayout_name(const struct kd_keylayout *l)
{
	return l->name;
}

const struct kd_keylayout *kd_keylayout_at(size_t i)
{
	return i < N_LAYOUTS ? &layouts[i] : NULL;
}

bool kd_keylayout_has_altgr(const struct kd_keylayout *l)
{
	return l->altgr;
}

static bool is_printing_key(uint8_t usage)
{
	return (usage >= 0x04 && usage <= 0x27) ||
	       (usage >= 0x2D && usage <= 0x38) || usage == 0x64;
}

bool kd_keylayout_caps_sensitive(const struct kd_keylayout *l, uint8_t usage)
{
	if (usage >= 0x04 && usage <= 0x1D)
		return true;
	if (l->caps_all)
		return is_printing_key(usage);
	for (size_t i = 0; i < sizeof(l->caps_extra) && l->caps_extra[i]; i++)
		if (l->caps_extra[i] == usage)
			return true;
	return false;
}

/* The key and level whose entry is exactly v (a code point, or a dead key
 * with its flag); first match in table order. */
static bool find_entry(const struct kd_keylayout *l, uint32_t v,
		       struct kd_keystroke *ks)
{
	for (size_t i = 0; i < l->n_keys; i++) {
		for (int lv = 0; lv < LEVELS; lv++) {
			if (l->keys[i].level[lv] == v) {
				ks->usage = l->keys[i].usage;
				ks->mods = level_mods[lv];
				return true;
			}
		}
	}
	return false;
}

static bool control_char(uint32_t cp, struct kd_keystroke *ks)
{
	ks->mods = 0;
	switch (cp) {
	case '\n':
	case '\r':
		ks->usage = 0x28;
		return true;
	case '\t':
		ks->usage = 0x2B;
		return true;
	case '\b':
		ks->usage = 0x2A;
		return true;
	default:
		return false;
	}
}

size_t kd_keylayout_char(const struct kd_keylayout *l, uint32_t cp,
			 struct kd_keystroke out[KD_KEYLAYOUT_MAX_STROKES])
{
	if (control_char(cp, &out[0]))
		return 1;
	if (cp < 0x20 || cp > CP_MASK)
		return 0;
	if (find_entry(l, cp, &out[0]))
		return 1;
	/* The accent itself: its dead key, then Space (what Windows and X11
	 * agree on for ^ ` ~; X11 gives an apostrophe for the acute and '"'
	 * for the diaeresis, Windows the accent). */
	if (find_entry(l, DEAD(cp), &out[0]) ||
	    find_entry(l, WDEAD(cp), &out[0])) {
		out[1] = (struct kd_keystroke){SPACE_USAGE, 0};
		return 2;
	}
	for (size_t i = 0; i < sizeof(compose) / sizeof(compose[0]); i++) {
		if (compose[i].composed != cp)
			continue;
		if (find_entry(l, DEAD(compose[i].accent), &out[0]) &&
		    find_entry(l, compose[i].base, &out[1]))
			return 2;
	}
	return 0;
}
