/* Replays seeds through the ops fuzz targets' entry points so they are
 * compiled and exercised in every build (libFuzzer needs clang and
 * -Dfuzzing=true). Built once per target with FUZZ_TARGET naming it. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const seeds[] = {
	"",
	"[general]\nstate_dir = /var/lib/kvmdesk\nlog_level = debug\n",
	"[video]\nfps = 500\nsource = video0\nfsp = 1\n[bogus]\nx = 1\n",
	"[hid]\nbackend = file\n[rendezvous]\nservers = a, b:99999\nkey = abc\n",
	"[session]\nlisten = [::1]:21118\ndirect_ip = maybe\ndirect_ip = off\n",
	"[video]\ncodecs = vp9, h264 bogus\n",
	"no section = 1\n",
	"[unterminated\n",
	"[general]\nlog_level = \xff\xfe\x01\x1f\"\\\n",
	"[\xc3\xa9]\n\xed\xa0\x80 = \xf4\x90\x80\x80\n",
	"eve \"the\"\nadmin \xff\x80\xc0\xaf",
};

START_TEST(replay_seeds)
{
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		ck_assert_int_eq(LLVMFuzzerTestOneInput(
					 (const uint8_t *)seeds[i],
					 strlen(seeds[i])),
				 0);
	/* A long line, and a file with many problems. */
	static char big[40000];
	memset(big, 'k', sizeof(big) - 1);
	ck_assert_int_eq(LLVMFuzzerTestOneInput((const uint8_t *)big,
						sizeof(big) - 1),
			 0);
	size_t off = (size_t)snprintf(big, sizeof(big), "[video]\n");
	for (int i = 0; off + 16 < sizeof(big); i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
					"bad%d = 1\n", i);
	ck_assert_int_eq(LLVMFuzzerTestOneInput((const uint8_t *)big, off), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fuzz seeds");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, replay_seeds);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
