/* Replays seed inputs through the fuzz target's entry point, so the target
 * is compiled and exercised in every build (the fuzzer itself needs clang
 * and -Dfuzzing=true). Seeds: valid event sequences, and broken ones. */
#include <check.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t append(uint8_t *buf, size_t off, const Kdipc__InputEvent *ev)
{
	size_t n = protobuf_c_message_get_packed_size(&ev->base);

	buf[off] = (uint8_t)(n & 0xFF);
	buf[off + 1] = (uint8_t)(n >> 8);
	protobuf_c_message_pack(&ev->base, buf + off + 2);
	return off + 2 + n;
}

START_TEST(valid_sequences)
{
	uint8_t buf[1024];
	size_t off = 0;
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	Kdipc__KeyUsage key = KDIPC__KEY_USAGE__INIT;
	Kdipc__LockState locks = KDIPC__LOCK_STATE__INIT;
	Kdipc__MouseAbsolute abs = KDIPC__MOUSE_ABSOLUTE__INIT;
	Kdipc__MouseWheel wheel = KDIPC__MOUSE_WHEEL__INIT;
	Kdipc__MouseRelative rel = KDIPC__MOUSE_RELATIVE__INIT;
	Kdipc__ReleaseAll all = KDIPC__RELEASE_ALL__INIT;

	ev.msg_case = KDIPC__INPUT_EVENT__MSG_LOCKS;
	ev.locks = &locks;
	locks.caps_lock = locks.sync_caps = true;
	off = append(buf, off, &ev);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_KEY;
	ev.key = &key;
	key.usage = 0xE1;
	key.action = KDIPC__KEY_USAGE__ACTION__DOWN;
	off = append(buf, off, &ev);
	key.usage = 0x04;
	key.action = KDIPC__KEY_USAGE__ACTION__PRESS;
	off = append(buf, off, &ev);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_MOUSE_ABS;
	ev.mouse_abs = &abs;
	abs.x = 32767;
	abs.y = 1;
	abs.buttons = 1;
	off = append(buf, off, &ev);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_WHEEL;
	ev.wheel = &wheel;
	wheel.vertical = -3;
	wheel.horizontal = 200;
	off = append(buf, off, &ev);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_MOUSE_REL;
	ev.mouse_rel = &rel;
	rel.dx = -100000;
	rel.dy = 500;
	off = append(buf, off, &ev);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_RELEASE_ALL;
	ev.release_all = &all;
	off = append(buf, off, &ev);
	ck_assert_int_eq(LLVMFuzzerTestOneInput(buf, off), 0);
}
END_TEST

START_TEST(broken_inputs)
{
	static const uint8_t seeds[][12] = {
		{0},
		{0xFF, 0xFF, 0x12, 0x34},
		{0x02, 0x00, 0x12, 0x00},             /* key, empty */
		{0x04, 0x00, 0x12, 0x02, 0x08, 0x00}, /* usage 0 */
		{0x05, 0x00, 0x12, 0x03, 0x08, 0xFF, 0x01}, /* usage 255 */
		{0x06, 0x00, 0x12, 0x04, 0x08, 0x80, 0x02, 0x00}, /* > 255 */
		{0x04, 0x00, 0x12, 0x02, 0x10, 0x07}, /* bad action */
		{0x03, 0x00, 0x0A, 0x01, 0x08},       /* second hello */
		{0x02, 0x00, 0x3A, 0x00},             /* unknown field 7? */
		{0x0A, 0x00, 0x22, 0x08, 0x08, 0xFF, 0xFF, 0x03, 0x10, 0x01},
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		ck_assert_int_eq(LLVMFuzzerTestOneInput(seeds[i],
							sizeof(seeds[i])),
				 0);
	ck_assert_int_eq(LLVMFuzzerTestOneInput(NULL, 0), 0);
}
END_TEST

static int n_files;
static char **files;

/* The seed corpus (tests/hid/seeds/fuzz_input), given as arguments. */
START_TEST(seed_files)
{
	static uint8_t buf[65536];

	ck_assert_int_gt(n_files, 0);
	for (int i = 0; i < n_files; i++) {
		FILE *f = fopen(files[i], "rb");
		size_t n;
		ck_assert_msg(f != NULL, "%s", files[i]);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		ck_assert_int_eq(LLVMFuzzerTestOneInput(buf, n), 0);
	}
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("fuzz_input_seeds");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, valid_sequences);
	tcase_add_test(tc, broken_inputs);
	n_files = argc - 1;
	files = argv + 1;
	tcase_add_test(tc, seed_files);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
