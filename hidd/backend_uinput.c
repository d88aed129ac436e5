/* Virtual evdev devices through /dev/uinput, for a plain Linux box: the
 * reports are turned back into key / button / axis events. */
#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hid_backend.h"

/* Keyboard-page usage -> evdev code (inverse of spec Appendix A.1, where
 * evdev = X11 keycode - 8), plus a few keys A.1 does not list. */
static const uint16_t usage_to_evdev[256] = {
	[0x04] = 30, /* KeyA */
	[0x05] = 48, /* KeyB */
	[0x06] = 46, /* KeyC */
	[0x07] = 32, /* KeyD */
	[0x08] = 18, /* KeyE */
	[0x09] = 33, /* KeyF */
	[0x0A] = 34, /* KeyG */
	[0x0B] = 35, /* KeyH */
	[0x0C] = 23, /* KeyI */
	[0x0D] = 36, /* KeyJ */
	[0x0E] = 37, /* KeyK */
	[0x0F] = 38, /* KeyL */
	[0x10] = 50, /* KeyM */
	[0x11] = 49, /* KeyN */
	[0x12] = 24, /* KeyO */
	[0x13] = 25, /* KeyP */
	[0x14] = 16, /* KeyQ */
	[0x15] = 19, /* KeyR */
	[0x16] = 31, /* KeyS */
	[0x17] = 20, /* KeyT */
	[0x18] = 22, /* KeyU */
	[0x19] = 47, /* KeyV */
	[0x1A] = 17, /* KeyW */
	[0x1B] = 45, /* KeyX */
	[0x1C] = 21, /* KeyY */
	[0x1D] = 44, /* KeyZ */
	[0x1E] = 2, /* Num1 */
	[0x1F] = 3, /* Num2 */
	[0x20] = 4, /* Num3 */
	[0x21] = 5, /* Num4 */
	[0x22] = 6, /* Num5 */
	[0x23] = 7, /* Num6 */
	[0x24] = 8, /* Num7 */
	[0x25] = 9, /* Num8 */
	[0x26] = 10, /* Num9 */
	[0x27] = 11, /* Num0 */
	[0x28] = 28, /* Return */
	[0x29] = 1, /* Escape */
	[0x2A] = 14, /* Backspace */
	[0x2B] = 15, /* Tab */
	[0x2C] = 57, /* Space */
	[0x2D] = 12, /* Minus */
	[0x2E] = 13, /* Equal */
	[0x2F] = 26, /* LeftBracket */
	[0x30] = 27, /* RightBracket */
	[0x31] = 43, /* BackSlash */
	[0x33] = 39, /* SemiColon */
	[0x34] = 40, /* Quote */
	[0x35] = 41, /* BackQuote */
	[0x36] = 51, /* Comma */
	[0x37] = 52, /* Dot */
	[0x38] = 53, /* Slash */
	[0x39] = 58, /* CapsLock */
	[0x3A] = 59, /* F1 */
	[0x3B] = 60, /* F2 */
	[0x3C] = 61, /* F3 */
	[0x3D] = 62, /* F4 */
	[0x3E] = 63, /* F5 */
	[0x3F] = 64, /* F6 */
	[0x40] = 65, /* F7 */
	[0x41] = 66, /* F8 */
	[0x42] = 67, /* F9 */
	[0x43] = 68, /* F10 */
	[0x44] = 87, /* F11 */
	[0x45] = 88, /* F12 */
	[0x46] = 99, /* PrintScreen */
	[0x47] = 70, /* ScrollLock */
	[0x48] = 119, /* Pause */
	[0x49] = 110, /* Insert */
	[0x4A] = 102, /* Home */
	[0x4B] = 104, /* PageUp */
	[0x4C] = 111, /* Delete */
	[0x4D] = 107, /* End */
	[0x4E] = 109, /* PageDown */
	[0x4F] = 106, /* RightArrow */
	[0x50] = 105, /* LeftArrow */
	[0x51] = 108, /* DownArrow */
	[0x52] = 103, /* UpArrow */
	[0x53] = 69, /* NumLock */
	[0x54] = 98, /* KpDivide */
	[0x55] = 55, /* KpMultiply */
	[0x56] = 74, /* KpMinus */
	[0x57] = 78, /* KpPlus */
	[0x58] = 96, /* KpReturn */
	[0x59] = 79, /* Kp1 */
	[0x5A] = 80, /* Kp2 */
	[0x5B] = 81, /* Kp3 */
	[0x5C] = 75, /* Kp4 */
	[0x5D] = 76, /* Kp5 */
	[0x5E] = 77, /* Kp6 */
	[0x5F] = 71, /* Kp7 */
	[0x60] = 72, /* Kp8 */
	[0x61] = 73, /* Kp9 */
	[0x62] = 82, /* Kp0 */
	[0x63] = 83, /* KpDecimal */
	[0x64] = 86, /* IntlBackslash */
	[0x65] = 127, /* Apps */
	[0x67] = 117, /* KpEqual */
	[0x68] = 183, /* F13 */
	[0x69] = 184, /* F14 */
	[0x6A] = 185, /* F15 */
	[0x6B] = 186, /* F16 */
	[0x6C] = 187, /* F17 */
	[0x6D] = 188, /* F18 */
	[0x6E] = 189, /* F19 */
	[0x6F] = 190, /* F20 */
	[0x70] = 191, /* F21 */
	[0x71] = 192, /* F22 */
	[0x72] = 193, /* F23 */
	[0x73] = 194, /* F24 */
	[0x7F] = 113, /* VolumeMute */
	[0x80] = 115, /* VolumeUp */
	[0x81] = 114, /* VolumeDown */
	[0x85] = 121, /* KpComma */
	[0x87] = 89, /* IntlRo */
	[0x88] = 93, /* KanaMode */
	[0x89] = 124, /* IntlYen */
	[0x8A] = 92, /* Convert */
	[0x8B] = 94, /* NonConvert */
	[0x90] = 122, /* Hangul */
	[0x91] = 123, /* Hanja */
	[0x92] = 90, /* Lang3 */
	[0x93] = 91, /* Lang4 */
	[0x94] = 85, /* Lang5 */
	[0xE0] = 29, /* ControlLeft */
	[0xE1] = 42, /* ShiftLeft */
	[0xE2] = 56, /* Alt */
	[0xE3] = 125, /* MetaLeft */
	[0xE4] = 97, /* ControlRight */
	[0xE5] = 54, /* ShiftRight */
	[0xE6] = 100, /* AltGr */
	[0xE7] = 126, /* MetaRight */
	[0x66] = 116, /* Power */
	[0x74] = 134, /* Execute -> KEY_OPEN */
	[0x75] = 138, /* Help */
	[0x77] = 132, /* Select -> KEY_FRONT */
};

/* Modifier bits 0-7: LCtrl LShift LAlt LGUI RCtrl RShift RAlt RGUI. */
static const uint16_t mod_evdev[8] = {
	KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_LEFTALT, KEY_LEFTMETA,
	KEY_RIGHTCTRL, KEY_RIGHTSHIFT, KEY_RIGHTALT, KEY_RIGHTMETA,
};

static const uint16_t button_evdev[8] = {
	BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA,
	BTN_FORWARD, BTN_BACK, BTN_TASK,
};

uint16_t kd_hid_usage_to_evdev(uint8_t usage)
{
	if (usage >= 0xE0)
		return mod_evdev[usage - 0xE0];
	return usage_to_evdev[usage];
}

struct uinput_port {
	struct kd_hid_port port;
	struct kd_hid_report prev;
	uint8_t leds;
};

static int set_bit(int fd, unsigned long req, int bit)
{
	return ioctl(fd, req, bit) < 0 ? -errno : 0;
}

static int setup_keyboard(int fd)
{
	int r = set_bit(fd, UI_SET_EVBIT, EV_KEY);

	if (!r)
		r = set_bit(fd, UI_SET_EVBIT, EV_LED);
	for (int u = 0; !r && u < 256; u++) {
		uint16_t code = kd_hid_usage_to_evdev((uint8_t)u);
		if (code)
			r = set_bit(fd, UI_SET_KEYBIT, code);
	}
	if (!r)
		r = set_bit(fd, UI_SET_LEDBIT, LED_NUML);
	if (!r)
		r = set_bit(fd, UI_SET_LEDBIT, LED_CAPSL);
	if (!r)
		r = set_bit(fd, UI_SET_LEDBIT, LED_SCROLLL);
	return r;
}

static int setup_abs_axis(int fd, int code)
{
	struct uinput_abs_setup abs = {
		.code = (uint16_t)code,
		.absinfo = {.minimum = 0, .maximum = KD_HID_ABS_MAX},
	};

	return ioctl(fd, UI_ABS_SETUP, &abs) < 0 ? -errno : 0;
}

static int setup_mouse(int fd, bool absolute)
{
	int r = set_bit(fd, UI_SET_EVBIT, EV_KEY);

	for (int i = 0; !r && i < 8; i++)
		r = set_bit(fd, UI_SET_KEYBIT, button_evdev[i]);
	if (!r)
		r = set_bit(fd, UI_SET_EVBIT, EV_REL);
	if (!r)
		r = set_bit(fd, UI_SET_RELBIT, REL_WHEEL);
	if (!r)
		r = set_bit(fd, UI_SET_RELBIT, REL_HWHEEL);
	if (!r && absolute) {
		r = set_bit(fd, UI_SET_EVBIT, EV_ABS);
		if (!r)
			r = set_bit(fd, UI_SET_ABSBIT, ABS_X);
		if (!r)
			r = set_bit(fd, UI_SET_ABSBIT, ABS_Y);
		if (!r)
			r = setup_abs_axis(fd, ABS_X);
		if (!r)
			r = setup_abs_axis(fd, ABS_Y);
	} else if (!r) {
		r = set_bit(fd, UI_SET_RELBIT, REL_X);
		if (!r)
			r = set_bit(fd, UI_SET_RELBIT, REL_Y);
	}
	return r;
}

static int uinput_open(struct kd_hid_port *p)
{
	static const char *const names[] = {
		"kvmdesk keyboard", "kvmdesk absolute mouse",
		"kvmdesk relative mouse"};
	struct uinput_port *u = (struct uinput_port *)p;
	struct uinput_setup setup = {
		.id = {.bustype = BUS_USB, .vendor = 0x1d6b, .product = 0x0104},
	};
	int fd, r;

	fd = open(p->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = p->kind == KD_REPORT_KEYBOARD ? setup_keyboard(fd)
					  : setup_mouse(fd, p->kind ==
							    KD_REPORT_MOUSE_ABS);
	snprintf(setup.name, sizeof(setup.name), "%s", names[p->kind]);
	if (!r && ioctl(fd, UI_DEV_SETUP, &setup) < 0)
		r = -errno;
	if (!r && ioctl(fd, UI_DEV_CREATE) < 0)
		r = -errno;
	if (r) {
		close(fd);
		return r;
	}
	memset(&u->prev, 0, sizeof(u->prev));
	p->fd = fd;
	return 0;
}

static void uinput_close(struct kd_hid_port *p)
{
	if (p->fd >= 0) {
		ioctl(p->fd, UI_DEV_DESTROY);
		close(p->fd);
	}
	p->fd = -1;
}

struct ev_batch {
	struct input_event ev[64];
	int n;
};

static void emit(struct ev_batch *b, uint16_t type, uint16_t code, int value)
{
	if (b->n >= (int)(sizeof(b->ev) / sizeof(b->ev[0])) - 1)
		return;
	memset(&b->ev[b->n], 0, sizeof(b->ev[0]));
	b->ev[b->n].type = type;
	b->ev[b->n].code = code;
	b->ev[b->n].value = value;
	b->n++;
}

static bool has_key(const struct kd_hid_report *r, uint8_t usage)
{
	for (int i = 2; i < KD_HID_KBD_REPORT_LEN; i++)
		if (r->b[i] == usage)
			return true;
	return false;
}

static void keyboard_events(const struct kd_hid_report *prev,
			    const struct kd_hid_report *r, struct ev_batch *b)
{
	for (int i = 0; i < 8; i++) {
		uint8_t bit = (uint8_t)(1u << i);
		if ((prev->b[0] ^ r->b[0]) & bit)
			emit(b, EV_KEY, mod_evdev[i], !!(r->b[0] & bit));
	}
	for (int i = 2; i < KD_HID_KBD_REPORT_LEN; i++) {
		uint8_t k = prev->b[i];
		if (k && !has_key(r, k) && kd_hid_usage_to_evdev(k))
			emit(b, EV_KEY, kd_hid_usage_to_evdev(k), 0);
	}
	for (int i = 2; i < KD_HID_KBD_REPORT_LEN; i++) {
		uint8_t k = r->b[i];
		if (k && !has_key(prev, k) && kd_hid_usage_to_evdev(k))
			emit(b, EV_KEY, kd_hid_usage_to_evdev(k), 1);
	}
}

static void mouse_events(enum kd_report_kind kind,
			 const struct kd_hid_report *prev,
			 const struct kd_hid_report *r, struct ev_batch *b)
{
	int wheel, pan;

	for (int i = 0; i < 8; i++) {
		uint8_t bit = (uint8_t)(1u << i);
		if ((prev->b[0] ^ r->b[0]) & bit)
			emit(b, EV_KEY, button_evdev[i], !!(r->b[0] & bit));
	}
	if (kind == KD_REPORT_MOUSE_ABS) {
		emit(b, EV_ABS, ABS_X, r->b[1] | r->b[2] << 8);
		emit(b, EV_ABS, ABS_Y, r->b[3] | r->b[4] << 8);
		wheel = (int8_t)r->b[5];
		pan = (int8_t)r->b[6];
	} else {
		if (r->b[1])
			emit(b, EV_REL, REL_X, (int8_t)r->b[1]);
		if (r->b[2])
			emit(b, EV_REL, REL_Y, (int8_t)r->b[2]);
		wheel = (int8_t)r->b[3];
		pan = (int8_t)r->b[4];
	}
	if (wheel)
		emit(b, EV_REL, REL_WHEEL, wheel);
	if (pan)
		emit(b, EV_REL, REL_HWHEEL, pan);
}

static int uinput_write(struct kd_hid_port *p, const struct kd_hid_report *r)
{
	struct uinput_port *u = (struct uinput_port *)p;
	struct ev_batch b = {.n = 0};
	size_t len;
	ssize_t n;

	if (p->kind == KD_REPORT_KEYBOARD)
		keyboard_events(&u->prev, r, &b);
	else
		mouse_events(p->kind, &u->prev, r, &b);
	emit(&b, EV_SYN, SYN_REPORT, 0);
	len = sizeof(b.ev[0]) * (size_t)b.n;
	n = write(p->fd, b.ev, len);
	if (n < 0)
		return errno == EAGAIN ? KD_HID_WOULD_BLOCK : -errno;
	if ((size_t)n != len)
		return -EIO;
	u->prev = *r;
	return 0;
}

static int uinput_read_leds(struct kd_hid_port *p, uint8_t *leds)
{
	struct uinput_port *u = (struct uinput_port *)p;
	struct input_event ev;
	uint8_t before = u->leds;

	while (read(p->fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev)) {
		uint8_t bit = ev.code == LED_NUML    ? KD_HID_LED_NUM_LOCK
			      : ev.code == LED_CAPSL ? KD_HID_LED_CAPS_LOCK
			      : ev.code == LED_SCROLLL ? KD_HID_LED_SCROLL_LOCK
						       : 0;
		if (ev.type != EV_LED || !bit)
			continue;
		u->leds = ev.value ? (uint8_t)(u->leds | bit)
				   : (uint8_t)(u->leds & ~bit);
	}
	*leds = u->leds;
	return u->leds != before;
}

static void uinput_destroy(struct kd_hid_port *p)
{
	uinput_close(p);
	free(p);
}

static const struct kd_hid_port_ops uinput_ops = {
	.name = "uinput",
	.open = uinput_open,
	.close = uinput_close,
	.write = uinput_write,
	.read_leds = uinput_read_leds,
	.destroy = uinput_destroy,
};

struct kd_hid_port *kd_hid_port_uinput_new(const char *path,
					   enum kd_report_kind kind)
{
	struct uinput_port *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->port.ops = &uinput_ops;
	u->port.kind = kind;
	u->port.fd = -1;
	strncpy(u->port.path, path, sizeof(u->port.path) - 1);
	return &u->port;
}
