/* Maintainer's check of common/keylayout.c against the X11 (xkb) layouts of
 * the same names: every character a table types is what xkb types with the
 * same key and modifiers (dead keys: the same dead accent), and what xkb
 * types that the table does not is listed (mostly X11-only AltGr extras).
 * The tables themselves follow Windows where X11 has more; see the file's
 * comments. Not built by meson and not run by the tests. Needs the Debian
 * packages xkb-data and libxkbcommon0 (no -dev headers: the few functions
 * used are declared here):
 *
 *   cc -I common -I sessiond tools/keylayout-xkb-check.c common/keylayout.c \
 *      sessiond/keymap.c -l:libxkbcommon.so.0 -o /tmp/xkbcheck && /tmp/xkbcheck
 *
 * Exit status 1 when a table disagrees with xkb (WDEAD keys excepted:
 * reported as "dead on Windows only"). */
#include <stdint.h>
#include <stdio.h>

#include "keylayout.h"
#include "keymap.h"

struct xkb_context;
struct xkb_keymap;
struct xkb_state;
struct xkb_rule_names {
	const char *rules, *model, *layout, *variant, *options;
};
struct xkb_context *xkb_context_new(int flags);
struct xkb_keymap *xkb_keymap_new_from_names(struct xkb_context *ctx,
					     const struct xkb_rule_names *n,
					     int flags);
void xkb_keymap_unref(struct xkb_keymap *km);
struct xkb_state *xkb_state_new(struct xkb_keymap *km);
void xkb_state_unref(struct xkb_state *st);
uint32_t xkb_keymap_mod_get_index(struct xkb_keymap *km, const char *name);
int xkb_state_update_mask(struct xkb_state *st, uint32_t depressed,
			  uint32_t latched, uint32_t locked, uint32_t dl,
			  uint32_t ll, uint32_t lockl);
uint32_t xkb_state_key_get_one_sym(struct xkb_state *st, uint32_t key);
uint32_t xkb_keysym_to_utf32(uint32_t sym);
int xkb_keysym_get_name(uint32_t sym, char *buf, size_t len);

static struct xkb_keymap *km;
static uint32_t shift_mask, altgr_mask;

static uint32_t x11_of(uint8_t usage)
{
	for (uint32_t c = 8; c < 256; c++)
		if (kd_keymap_x11(c) == usage)
			return c;
	return 0;
}

static uint32_t keysym(uint8_t usage, uint8_t mods)
{
	struct xkb_state *st = xkb_state_new(km);
	uint32_t m = 0, sym;

	if (mods & KD_KEYLAYOUT_SHIFT)
		m |= shift_mask;
	if (mods & KD_KEYLAYOUT_ALTGR)
		m |= altgr_mask; /* level3(ralt_switch) sets Mod5 */
	xkb_state_update_mask(st, m, 0, 0, 0, 0, 0);
	sym = xkb_state_key_get_one_sym(st, x11_of(usage));
	xkb_state_unref(st);
	return sym;
}

static uint32_t dead_accent(uint32_t sym)
{
	switch (sym) {
	case 0xfe50: return '`';
	case 0xfe51: return 0xB4;
	case 0xfe52: return '^';
	case 0xfe53: return '~';
	case 0xfe57: return 0xA8;
	default: return 0;
	}
}

static bool printing(uint8_t u)
{
	return (u >= 0x04 && u <= 0x27) || (u >= 0x2C && u <= 0x38) ||
	       u == 0x64;
}

static int check(const struct kd_keylayout *l)
{
	struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
	char name[64];
	int bad = 0, n_typeable = 0;

	for (uint32_t cp = 0x20; cp < 0x2200; cp++) {
		size_t n = kd_keylayout_char(l, cp, ks);
		uint32_t s0;
		if (!n)
			continue;
		n_typeable++;
		s0 = keysym(ks[0].usage, ks[0].mods);
		xkb_keysym_get_name(s0, name, sizeof(name));
		if (n == 1 && xkb_keysym_to_utf32(s0) != cp) {
			printf("  MISMATCH U+%04X: key %02x mods %02x: xkb %s\n",
			       cp, ks[0].usage, ks[0].mods, name);
			bad = 1;
		} else if (n == 2 && ks[1].usage == 0x2C &&
			   dead_accent(s0) != cp) {
			printf("  U+%04X: key %02x mods %02x dead on Windows "
			       "only (xkb %s)\n",
			       cp, ks[0].usage, ks[0].mods, name);
		} else if (n == 2 && ks[1].usage != 0x2C && !dead_accent(s0)) {
			printf("  MISMATCH U+%04X composes with key %02x mods "
			       "%02x, not dead on xkb (%s)\n",
			       cp, ks[0].usage, ks[0].mods, name);
			bad = 1;
		}
	}
	for (uint32_t c = 8; c < 256; c++) {
		uint8_t u = kd_keymap_x11(c);
		if (!u || !printing(u))
			continue;
		for (int lv = 0; lv < 4; lv++) {
			uint8_t mods = (lv & 1 ? KD_KEYLAYOUT_SHIFT : 0) |
				       (lv & 2 ? KD_KEYLAYOUT_ALTGR : 0);
			uint32_t sym = keysym(u, mods);
			uint32_t cp = xkb_keysym_to_utf32(sym);
			xkb_keysym_get_name(sym, name, sizeof(name));
			if (cp >= 0x20 && !kd_keylayout_char(l, cp, ks))
				printf("  xkb only: key %02x level %d: U+%04X "
				       "%s\n", u, lv, cp, name);
		}
	}
	printf("  %d characters typeable\n", n_typeable);
	return bad;
}

int main(void)
{
	struct xkb_context *ctx = xkb_context_new(0);
	int bad = 0;

	if (!ctx)
		return 2;
	for (size_t i = 0; kd_keylayout_at(i); i++) {
		const struct kd_keylayout *l = kd_keylayout_at(i);
		struct xkb_rule_names n = {"evdev", "pc105",
					   kd_keylayout_name(l), "", ""};
		km = xkb_keymap_new_from_names(ctx, &n, 0);
		if (!km) {
			printf("== %s: no such xkb layout\n",
			       kd_keylayout_name(l));
			bad = 1;
			continue;
		}
		shift_mask = 1u << xkb_keymap_mod_get_index(km, "Shift");
		altgr_mask = 1u << xkb_keymap_mod_get_index(km, "Mod5");
		printf("== %s\n", kd_keylayout_name(l));
		bad |= check(l);
		xkb_keymap_unref(km);
	}
	return bad;
}
