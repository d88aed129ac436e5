/* RustDesk key codes -> USB HID Keyboard page (0x07) usages, for a peer that
 * announces platform "Linux" (spec session §5.6, §5.8, Appendix A.1), and
 * characters -> keys on a US layout for text that is typed (other target
 * layouts: common/keylayout.h). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Usages of the modifier keys (modifier byte bit = usage - 0xE0). */
#define KD_USAGE_LCTRL 0xE0
#define KD_USAGE_LSHIFT 0xE1
#define KD_USAGE_LALT 0xE2
#define KD_USAGE_LGUI 0xE3
#define KD_USAGE_RCTRL 0xE4
#define KD_USAGE_RSHIFT 0xE5
#define KD_USAGE_RALT 0xE6
#define KD_USAGE_RGUI 0xE7
#define KD_USAGE_DELETE 0x4C
#define KD_USAGE_L 0x0F

/* ControlKey values that are not one key. */
#define KD_CONTROL_KEY_CTRL_ALT_DEL 100
#define KD_CONTROL_KEY_LOCK_SCREEN 101

/* Usage of a ControlKey, 0 when it has none (Unknown, Junja, Final, Kanji,
 * Sleep, the two macros). */
uint8_t kd_keymap_control_key(uint32_t control_key);
/* Usage of an X11 keycode (evdev + 8) as Map / Translate mode send it to a
 * "Linux" peer; 0 when unknown. */
uint8_t kd_keymap_x11(uint32_t keycode);
/* How to type a Unicode code point on a US layout: usage and whether Shift
 * is needed. False when the layout has no such character. Newline and CR
 * give Return, tab Tab, backspace Backspace. Other layouts: keylayout.h. */
bool kd_keymap_char(uint32_t cp, uint8_t *usage, bool *shift);
