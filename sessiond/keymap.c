#include "keymap.h"

#include <stddef.h>

#include "keylayout.h"

/* Spec §5.6, by ControlKey value. */
static const uint8_t control_keys[102] = {
	[1] = 0xE2,  /* Alt */
	[2] = 0x2A,  /* Backspace */
	[3] = 0x39,  /* CapsLock */
	[4] = 0xE0,  /* Control */
	[5] = 0x4C,  /* Delete */
	[6] = 0x51,  /* DownArrow */
	[7] = 0x4D,  /* End */
	[8] = 0x29,  /* Escape */
	[9] = 0x3A,  /* F1 */
	[10] = 0x43, /* F10 */
	[11] = 0x44, /* F11 */
	[12] = 0x45, /* F12 */
	[13] = 0x3B, /* F2 */
	[14] = 0x3C, /* F3 */
	[15] = 0x3D, /* F4 */
	[16] = 0x3E, /* F5 */
	[17] = 0x3F, /* F6 */
	[18] = 0x40, /* F7 */
	[19] = 0x41, /* F8 */
	[20] = 0x42, /* F9 */
	[21] = 0x4A, /* Home */
	[22] = 0x50, /* LeftArrow */
	[23] = 0xE3, /* Meta */
	[24] = 0xE2, /* Option = Alt */
	[25] = 0x4E, /* PageDown */
	[26] = 0x4B, /* PageUp */
	[27] = 0x28, /* Return */
	[28] = 0x4F, /* RightArrow */
	[29] = 0xE1, /* Shift */
	[30] = 0x2C, /* Space */
	[31] = 0x2B, /* Tab */
	[32] = 0x52, /* UpArrow */
	[33] = 0x62, /* Numpad0 */
	[34] = 0x59, [35] = 0x5A, [36] = 0x5B, /* Numpad1-3 */
	[37] = 0x5C, [38] = 0x5D, [39] = 0x5E, /* Numpad4-6 */
	[40] = 0x5F, [41] = 0x60, [42] = 0x61, /* Numpad7-9 */
	[43] = 0x9B, /* Cancel */
	[44] = 0x9C, /* Clear */
	[45] = 0xE2, /* Menu = Alt */
	[46] = 0x48, /* Pause */
	[47] = 0x88, /* Kana */
	[48] = 0x90, /* Hangul */
	[51] = 0x91, /* Hanja */
	[53] = 0x8A, /* Convert */
	[54] = 0x77, /* Select */
	[55] = 0x46, /* Print: PrintScreen is the closest key */
	[56] = 0x74, /* Execute */
	[57] = 0x46, /* Snapshot = PrintScreen */
	[58] = 0x49, /* Insert */
	[59] = 0x75, /* Help */
	[61] = 0x9F, /* Separator */
	[62] = 0x47, /* Scroll */
	[63] = 0x53, /* NumLock */
	[64] = 0xE7, /* RWin */
	[65] = 0x65, /* Apps */
	[66] = 0x55, /* Multiply */
	[67] = 0x57, /* Add */
	[68] = 0x56, /* Subtract */
	[69] = 0x63, /* Decimal */
	[70] = 0x54, /* Divide */
	[71] = 0x67, /* Equals */
	[72] = 0x58, /* NumpadEnter */
	[73] = 0xE5, /* RShift */
	[74] = 0xE4, /* RControl */
	[75] = 0xE6, /* RAlt */
	[76] = 0x7F, /* VolumeMute */
	[77] = 0x80, /* VolumeUp */
	[78] = 0x81, /* VolumeDown */
	[79] = 0x66, /* Power */
};

/* Spec Appendix A.1: X11 keycode -> usage (rdev's linux table joined with
 * its USB HID table). */
static const uint8_t x11_keys[256] = {
	[9] = 0x29, /* Escape */
	[10] = 0x1E, /* Num1 */
	[11] = 0x1F, /* Num2 */
	[12] = 0x20, /* Num3 */
	[13] = 0x21, /* Num4 */
	[14] = 0x22, /* Num5 */
	[15] = 0x23, /* Num6 */
	[16] = 0x24, /* Num7 */
	[17] = 0x25, /* Num8 */
	[18] = 0x26, /* Num9 */
	[19] = 0x27, /* Num0 */
	[20] = 0x2D, /* Minus */
	[21] = 0x2E, /* Equal */
	[22] = 0x2A, /* Backspace */
	[23] = 0x2B, /* Tab */
	[24] = 0x14, /* KeyQ */
	[25] = 0x1A, /* KeyW */
	[26] = 0x08, /* KeyE */
	[27] = 0x15, /* KeyR */
	[28] = 0x17, /* KeyT */
	[29] = 0x1C, /* KeyY */
	[30] = 0x18, /* KeyU */
	[31] = 0x0C, /* KeyI */
	[32] = 0x12, /* KeyO */
	[33] = 0x13, /* KeyP */
	[34] = 0x2F, /* LeftBracket */
	[35] = 0x30, /* RightBracket */
	[36] = 0x28, /* Return */
	[37] = 0xE0, /* ControlLeft */
	[38] = 0x04, /* KeyA */
	[39] = 0x16, /* KeyS */
	[40] = 0x07, /* KeyD */
	[41] = 0x09, /* KeyF */
	[42] = 0x0A, /* KeyG */
	[43] = 0x0B, /* KeyH */
	[44] = 0x0D, /* KeyJ */
	[45] = 0x0E, /* KeyK */
	[46] = 0x0F, /* KeyL */
	[47] = 0x33, /* SemiColon */
	[48] = 0x34, /* Quote */
	[49] = 0x35, /* BackQuote */
	[50] = 0xE1, /* ShiftLeft */
	[51] = 0x31, /* BackSlash */
	[52] = 0x1D, /* KeyZ */
	[53] = 0x1B, /* KeyX */
	[54] = 0x06, /* KeyC */
	[55] = 0x19, /* KeyV */
	[56] = 0x05, /* KeyB */
	[57] = 0x11, /* KeyN */
	[58] = 0x10, /* KeyM */
	[59] = 0x36, /* Comma */
	[60] = 0x37, /* Dot */
	[61] = 0x38, /* Slash */
	[62] = 0xE5, /* ShiftRight */
	[63] = 0x55, /* KpMultiply */
	[64] = 0xE2, /* Alt */
	[65] = 0x2C, /* Space */
	[66] = 0x39, /* CapsLock */
	[67] = 0x3A, /* F1 */
	[68] = 0x3B, /* F2 */
	[69] = 0x3C, /* F3 */
	[70] = 0x3D, /* F4 */
	[71] = 0x3E, /* F5 */
	[72] = 0x3F, /* F6 */
	[73] = 0x40, /* F7 */
	[74] = 0x41, /* F8 */
	[75] = 0x42, /* F9 */
	[76] = 0x43, /* F10 */
	[77] = 0x53, /* NumLock */
	[78] = 0x47, /* ScrollLock */
	[79] = 0x5F, /* Kp7 */
	[80] = 0x60, /* Kp8 */
	[81] = 0x61, /* Kp9 */
	[82] = 0x56, /* KpMinus */
	[83] = 0x5C, /* Kp4 */
	[84] = 0x5D, /* Kp5 */
	[85] = 0x5E, /* Kp6 */
	[86] = 0x57, /* KpPlus */
	[87] = 0x59, /* Kp1 */
	[88] = 0x5A, /* Kp2 */
	[89] = 0x5B, /* Kp3 */
	[90] = 0x62, /* Kp0 */
	[91] = 0x63, /* KpDecimal */
	[93] = 0x94, /* Lang5 */
	[94] = 0x64, /* IntlBackslash */
	[95] = 0x44, /* F11 */
	[96] = 0x45, /* F12 */
	[97] = 0x87, /* IntlRo */
	[98] = 0x92, /* Lang3 */
	[99] = 0x93, /* Lang4 */
	[100] = 0x8A, /* Convert */
	[101] = 0x88, /* KanaMode */
	[102] = 0x8B, /* NonConvert */
	[104] = 0x58, /* KpReturn */
	[105] = 0xE4, /* ControlRight */
	[106] = 0x54, /* KpDivide */
	[107] = 0x46, /* PrintScreen */
	[108] = 0xE6, /* AltGr */
	[110] = 0x4A, /* Home */
	[111] = 0x52, /* UpArrow */
	[112] = 0x4B, /* PageUp */
	[113] = 0x50, /* LeftArrow */
	[114] = 0x4F, /* RightArrow */
	[115] = 0x4D, /* End */
	[116] = 0x51, /* DownArrow */
	[117] = 0x4E, /* PageDown */
	[118] = 0x49, /* Insert */
	[119] = 0x4C, /* Delete */
	[121] = 0x7F, /* VolumeMute */
	[122] = 0x81, /* VolumeDown */
	[123] = 0x80, /* VolumeUp */
	[125] = 0x67, /* KpEqual */
	[127] = 0x48, /* Pause */
	[129] = 0x85, /* KpComma */
	[130] = 0x90, /* Hangul */
	[131] = 0x91, /* Hanja */
	[132] = 0x89, /* IntlYen */
	[133] = 0xE3, /* MetaLeft */
	[134] = 0xE7, /* MetaRight */
	[135] = 0x65, /* Apps */
	[191] = 0x68, /* F13 */
	[192] = 0x69, /* F14 */
	[193] = 0x6A, /* F15 */
	[194] = 0x6B, /* F16 */
	[195] = 0x6C, /* F17 */
	[196] = 0x6D, /* F18 */
	[197] = 0x6E, /* F19 */
	[198] = 0x6F, /* F20 */
	[199] = 0x70, /* F21 */
	[200] = 0x71, /* F22 */
	[201] = 0x72, /* F23 */
	[202] = 0x73, /* F24 */
};

uint8_t kd_keymap_control_key(uint32_t control_key)
{
	return control_key < sizeof(control_keys) ? control_keys[control_key]
						  : 0;
}

uint8_t kd_keymap_x11(uint32_t keycode)
{
	return keycode < sizeof(x11_keys) ? x11_keys[keycode] : 0;
}

bool kd_keymap_char(uint32_t cp, uint8_t *usage, bool *shift)
{
	struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];

	*shift = false;
	if (kd_keylayout_char(kd_keylayout_us(), cp, ks) != 1)
		return false;
	*usage = ks[0].usage;
	*shift = ks[0].mods & KD_KEYLAYOUT_SHIFT;
	return true;
}
