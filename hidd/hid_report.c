#include "hid_report.h"

#include <string.h>

/* Boot keyboard: modifiers, reserved byte, 5 LED outputs + padding, six key
 * slots (spec §6.2). */
const uint8_t kd_hid_kbd_descriptor[] = {
	0x05, 0x01, 0x09, 0x06, 0xA1, 0x01,
	0x05, 0x07, 0x19, 0xE0, 0x29, 0xE7, 0x15, 0x00, 0x25, 0x01,
	0x75, 0x01, 0x95, 0x08, 0x81, 0x02,
	0x95, 0x01, 0x75, 0x08, 0x81, 0x01,
	0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05,
	0x91, 0x02,
	0x95, 0x01, 0x75, 0x03, 0x91, 0x01,
	0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x26, 0xFF, 0x00,
	0x05, 0x07, 0x19, 0x00, 0x2A, 0xFF, 0x00, 0x81, 0x00,
	0xC0,
};
const size_t kd_hid_kbd_descriptor_len = sizeof(kd_hid_kbd_descriptor);

/* Absolute mouse: 8 buttons, X/Y 0..32767, wheel, AC Pan (spec §6.3). The
 * physical collection is there for Apple's recovery mode. */
const uint8_t kd_hid_abs_descriptor[] = {
	0x05, 0x01, 0x09, 0x02, 0xA1, 0x01,
	0x09, 0x01, 0xA1, 0x00,
	0x05, 0x09, 0x19, 0x01, 0x29, 0x08, 0x15, 0x00, 0x25, 0x01,
	0x75, 0x01, 0x95, 0x08, 0x81, 0x02,
	0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x16, 0x00, 0x00, 0x26, 0xFF, 0x7F,
	0x75, 0x10, 0x95, 0x02, 0x81, 0x02,
	0x09, 0x38, 0x15, 0x81, 0x25, 0x7F, 0x75, 0x08, 0x95, 0x01, 0x81, 0x06,
	0x05, 0x0C, 0x0A, 0x38, 0x02, 0x15, 0x81, 0x25, 0x7F,
	0x75, 0x08, 0x95, 0x01, 0x81, 0x06,
	0xC0, 0xC0,
};
const size_t kd_hid_abs_descriptor_len = sizeof(kd_hid_abs_descriptor);

/* Relative (boot-compatible) mouse: 8 buttons, dx, dy, wheel, AC Pan
 * (spec §6.4). */
const uint8_t kd_hid_rel_descriptor[] = {
	0x05, 0x01, 0x09, 0x02, 0xA1, 0x01,
	0x09, 0x01, 0xA1, 0x00,
	0x05, 0x09, 0x19, 0x01, 0x29, 0x08, 0x15, 0x00, 0x25, 0x01,
	0x75, 0x01, 0x95, 0x08, 0x81, 0x02,
	0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7F,
	0x75, 0x08, 0x95, 0x03, 0x81, 0x06,
	0x05, 0x0C, 0x0A, 0x38, 0x02, 0x15, 0x81, 0x25, 0x7F,
	0x75, 0x08, 0x95, 0x01, 0x81, 0x06,
	0xC0, 0xC0,
};
const size_t kd_hid_rel_descriptor_len = sizeof(kd_hid_rel_descriptor);

static uint8_t mod_bit(uint8_t usage)
{
	return (uint8_t)(1u << (usage - KD_HID_USAGE_MOD_FIRST));
}

bool kd_hid_kbd_is_down(const struct kd_hid_kbd_state *s, uint8_t usage)
{
	if (kd_hid_usage_is_modifier(usage))
		return s->mods & mod_bit(usage);
	for (int i = 0; i < KD_HID_KBD_KEYS; i++)
		if (s->keys[i] == usage)
			return true;
	return false;
}

bool kd_hid_kbd_press(struct kd_hid_kbd_state *s, uint8_t usage)
{
	if (usage == 0 || kd_hid_kbd_is_down(s, usage))
		return false;
	if (kd_hid_usage_is_modifier(usage)) {
		s->mods |= mod_bit(usage);
		return true;
	}
	for (int i = 0; i < KD_HID_KBD_KEYS; i++) {
		if (s->keys[i] == 0) {
			s->keys[i] = usage;
			return true;
		}
	}
	memset(s->keys, 0, sizeof(s->keys));
	s->keys[0] = usage;
	return true;
}

bool kd_hid_kbd_release(struct kd_hid_kbd_state *s, uint8_t usage)
{
	if (usage == 0 || !kd_hid_kbd_is_down(s, usage))
		return false;
	if (kd_hid_usage_is_modifier(usage)) {
		s->mods &= (uint8_t)~mod_bit(usage);
		return true;
	}
	for (int i = 0; i < KD_HID_KBD_KEYS; i++)
		if (s->keys[i] == usage)
			s->keys[i] = 0;
	return true;
}

bool kd_hid_kbd_empty(const struct kd_hid_kbd_state *s)
{
	static const struct kd_hid_kbd_state none;
	return memcmp(s, &none, sizeof(none)) == 0;
}

void kd_hid_kbd_merge(struct kd_hid_kbd_state *dst,
		      const struct kd_hid_kbd_state *src)
{
	dst->mods |= src->mods;
	for (int i = 0; i < KD_HID_KBD_KEYS; i++) {
		uint8_t k = src->keys[i];
		if (k == 0 || kd_hid_kbd_is_down(dst, k))
			continue;
		for (int j = 0; j < KD_HID_KBD_KEYS; j++) {
			if (dst->keys[j] == 0) {
				dst->keys[j] = k;
				break;
			}
		}
	}
}

void kd_hid_kbd_report(const struct kd_hid_kbd_state *s,
		       struct kd_hid_report *out)
{
	int n = 0;

	memset(out, 0, sizeof(*out));
	out->len = KD_HID_KBD_REPORT_LEN;
	out->b[0] = s->mods;
	/* Packed to the front so equal states give equal bytes. */
	for (int i = 0; i < KD_HID_KBD_KEYS; i++)
		if (s->keys[i])
			out->b[2 + n++] = s->keys[i];
}

int kd_hid_clamp8(int v)
{
	return v > 127 ? 127 : v < -127 ? -127 : v;
}

static uint16_t clamp_abs(uint32_t v)
{
	return (uint16_t)(v > KD_HID_ABS_MAX ? KD_HID_ABS_MAX : v);
}

void kd_hid_abs_report(uint8_t buttons, uint32_t x, uint32_t y, int wheel,
		       int pan, struct kd_hid_report *out)
{
	uint16_t cx = clamp_abs(x), cy = clamp_abs(y);

	memset(out, 0, sizeof(*out));
	out->len = KD_HID_ABS_REPORT_LEN;
	out->b[0] = buttons;
	out->b[1] = (uint8_t)(cx & 0xFF);
	out->b[2] = (uint8_t)(cx >> 8);
	out->b[3] = (uint8_t)(cy & 0xFF);
	out->b[4] = (uint8_t)(cy >> 8);
	out->b[5] = (uint8_t)(int8_t)kd_hid_clamp8(wheel);
	out->b[6] = (uint8_t)(int8_t)kd_hid_clamp8(pan);
}

void kd_hid_rel_report(uint8_t buttons, int dx, int dy, int wheel, int pan,
		       struct kd_hid_report *out)
{
	memset(out, 0, sizeof(*out));
	out->len = KD_HID_REL_REPORT_LEN;
	out->b[0] = buttons;
	out->b[1] = (uint8_t)(int8_t)kd_hid_clamp8(dx);
	out->b[2] = (uint8_t)(int8_t)kd_hid_clamp8(dy);
	out->b[3] = (uint8_t)(int8_t)kd_hid_clamp8(wheel);
	out->b[4] = (uint8_t)(int8_t)kd_hid_clamp8(pan);
}
