/* USB HID report descriptors and report layouts of the kvmdesk gadget
 * (spec session §6.2-6.4), and the keyboard state they are built from.
 * The gadget script (hidd/kvmdesk-gadget) writes the same descriptor bytes;
 * tests/hid checks both against the spec byte by byte. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_HID_KBD_REPORT_LEN 8
#define KD_HID_ABS_REPORT_LEN 7 /* buttons, X, Y, wheel, AC Pan */
#define KD_HID_REL_REPORT_LEN 5 /* buttons, dx, dy, wheel, AC Pan */
#define KD_HID_REPORT_MAX 8
#define KD_HID_ABS_MAX 32767
#define KD_HID_KBD_KEYS 6

/* Keyboard page usages hidd itself needs. */
#define KD_HID_USAGE_CAPS_LOCK 0x39
#define KD_HID_USAGE_NUM_LOCK 0x53
#define KD_HID_USAGE_MOD_FIRST 0xE0 /* LeftControl; 0xE0-0xE7 are modifiers */
#define KD_HID_USAGE_MOD_LAST 0xE7

/* Output (LED) report bits. */
#define KD_HID_LED_NUM_LOCK 0x01
#define KD_HID_LED_CAPS_LOCK 0x02
#define KD_HID_LED_SCROLL_LOCK 0x04

extern const uint8_t kd_hid_kbd_descriptor[];
extern const size_t kd_hid_kbd_descriptor_len;
extern const uint8_t kd_hid_abs_descriptor[];
extern const size_t kd_hid_abs_descriptor_len;
extern const uint8_t kd_hid_rel_descriptor[];
extern const size_t kd_hid_rel_descriptor_len;

/* One report as it goes to a device: len bytes of b. */
struct kd_hid_report {
	uint8_t len;
	uint8_t b[KD_HID_REPORT_MAX];
};

/* Modifiers as a bit set plus up to six held keys. */
struct kd_hid_kbd_state {
	uint8_t mods;
	uint8_t keys[KD_HID_KBD_KEYS]; /* 0 = free slot */
};

static inline bool kd_hid_usage_is_modifier(uint32_t usage)
{
	return usage >= KD_HID_USAGE_MOD_FIRST && usage <= KD_HID_USAGE_MOD_LAST;
}

bool kd_hid_kbd_is_down(const struct kd_hid_kbd_state *s, uint8_t usage);
/* Returns true when the state changed. A seventh key releases the other
 * non-modifier keys first, as PiKVM does (spec §6.2). */
bool kd_hid_kbd_press(struct kd_hid_kbd_state *s, uint8_t usage);
bool kd_hid_kbd_release(struct kd_hid_kbd_state *s, uint8_t usage);
bool kd_hid_kbd_empty(const struct kd_hid_kbd_state *s);
/* dst |= src: modifiers ORed, keys added while slots remain. */
void kd_hid_kbd_merge(struct kd_hid_kbd_state *dst,
		      const struct kd_hid_kbd_state *src);
void kd_hid_kbd_report(const struct kd_hid_kbd_state *s,
		       struct kd_hid_report *out);

/* Absolute mouse report: x, y in 0..32767 (clamped), wheel + = up,
 * pan + = right (each clamped to -127..127). */
void kd_hid_abs_report(uint8_t buttons, uint32_t x, uint32_t y, int wheel,
		       int pan, struct kd_hid_report *out);
void kd_hid_rel_report(uint8_t buttons, int dx, int dy, int wheel, int pan,
		       struct kd_hid_report *out);
int kd_hid_clamp8(int v);
