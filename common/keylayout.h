/* Keyboard layouts of the target computer: which keys type a character.
 *
 * A USB keyboard sends key positions (HID usages, Keyboard page 0x07); the
 * target turns them into characters with its own layout. To type text
 * (RustDesk's unicode / seq key events, legacy characters, clipboard
 * typing) kvmdesk must know that layout: [hid] target_layout in
 * kvmdesk.conf(5). Each layout is a table of keys with the characters of
 * their four levels (plain, Shift, AltGr, Shift+AltGr) as Windows and X11
 * (xkb) both define them; where the two disagree the character is left out.
 *
 * A character may need two keystrokes: a dead key and Space for the accent
 * itself ('^' on German), or a dead key and a letter for an accented letter
 * ('ê' on French). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modifier byte bits (HID keyboard report byte 0) a keystroke may need. */
#define KD_KEYLAYOUT_SHIFT 0x02 /* Left Shift, usage 0xE1 */
#define KD_KEYLAYOUT_ALTGR 0x40 /* Right Alt, usage 0xE6 */

#define KD_KEYLAYOUT_MAX_STROKES 2

struct kd_keystroke {
	uint8_t usage; /* Keyboard page usage */
	uint8_t mods;  /* KD_KEYLAYOUT_SHIFT | KD_KEYLAYOUT_ALTGR */
};

struct kd_keylayout;

/* The layout called name ("us", "gb", "de", "fr", "it"), NULL when
 * unknown. */
const struct kd_keylayout *kd_keylayout_find(const char *name);
/* US English, the default. */
const struct kd_keylayout *kd_keylayout_us(void);
const char *kd_keylayout_name(const struct kd_keylayout *l);
/* The i-th layout (0, 1, ...), NULL past the last: for listings. */
const struct kd_keylayout *kd_keylayout_at(size_t i);
/* Whether Right Alt is AltGr on this layout (on US it is just Alt). */
bool kd_keylayout_has_altgr(const struct kd_keylayout *l);
/* Whether the target's CapsLock changes what this key types on this layout
 * (letters everywhere; on some layouts digits and accented letters too). */
bool kd_keylayout_caps_sensitive(const struct kd_keylayout *l, uint8_t usage);

/* The keystrokes that type code point cp, in order (a dead key first):
 * returns how many (1 or 2) and fills out, or 0 when the layout cannot type
 * it. Newline and CR give Return, tab Tab, backspace Backspace. */
size_t kd_keylayout_char(const struct kd_keylayout *l, uint32_t cp,
			 struct kd_keystroke out[KD_KEYLAYOUT_MAX_STROKES]);
