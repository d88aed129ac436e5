/* common/config_edit: only the changed keys' lines change; everything else
 * stays byte for byte. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_edit.h"

static const char base[] =
	"# kvmdesk configuration\n"
	"\n"
	"[general]\n"
	"state_dir = /var/lib/kvmdesk   # identity\n"
	"\n"
	"[rendezvous]\n"
	"  servers=hbbs.example.org # the owner's server\n"
	"; key = commented out\n"
	"unknown_key = kept\n"
	"key = AAAA\n"
	"\n"
	"# video follows\n"
	"[video]\n"
	"source = testpattern\n";

static char *edit(const char *text, const struct kd_config_change *ch,
		  size_t n)
{
	char *out = NULL, err[256] = "";
	size_t len = 0;
	int r = kd_config_edit(text, strlen(text), "rendezvous", ch, n, &out,
			       &len, err, sizeof(err));
	ck_assert_msg(r == 0, "edit failed: %s", err);
	ck_assert_uint_eq(strlen(out), len);
	return out;
}

START_TEST(value_replaced_in_place)
{
	const struct kd_config_change ch[] = {
		{ "servers", "a.example:21116, [::1]:5" },
	};
	char *out = edit(base, ch, 1);
	const char *want =
		"# kvmdesk configuration\n"
		"\n"
		"[general]\n"
		"state_dir = /var/lib/kvmdesk   # identity\n"
		"\n"
		"[rendezvous]\n"
		"  servers= a.example:21116, [::1]:5 # the owner's server\n"
		"; key = commented out\n"
		"unknown_key = kept\n"
		"key = AAAA\n"
		"\n"
		"# video follows\n"
		"[video]\n"
		"source = testpattern\n";
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

START_TEST(key_added_at_section_end)
{
	const struct kd_config_change ch[] = {
		{ "relay", "relay.example:21117" },
		{ "key", "BBBB" },
	};
	char *out = edit(base, ch, 2);
	const char *want =
		"# kvmdesk configuration\n"
		"\n"
		"[general]\n"
		"state_dir = /var/lib/kvmdesk   # identity\n"
		"\n"
		"[rendezvous]\n"
		"  servers=hbbs.example.org # the owner's server\n"
		"; key = commented out\n"
		"unknown_key = kept\n"
		"key = BBBB\n"
		"relay = relay.example:21117\n"
		"\n"
		"# video follows\n"
		"[video]\n"
		"source = testpattern\n";
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

START_TEST(key_removed)
{
	const struct kd_config_change ch[] = {
		{ "key", NULL },
		{ "relay_key", NULL }, /* absent: nothing happens */
	};
	char *out = edit(base, ch, 2);
	char want[sizeof(base)];
	snprintf(want, sizeof(want), "%s", base);
	char *k = strstr(want, "key = AAAA\n");
	memmove(k, k + 11, strlen(k + 11) + 1);
	ck_assert_str_eq(out, want);
	free(out);
	/* Duplicates: every line of the key goes, else an older one would
	 * come back into effect. */
	out = edit("[rendezvous]\nkey = A\n[video]\nkey = V\n[rendezvous]\n"
		   "key = B\n", ch, 2);
	ck_assert_str_eq(out, "[rendezvous]\n[video]\nkey = V\n[rendezvous]\n");
	free(out);
}
END_TEST

START_TEST(section_added)
{
	const struct kd_config_change ch[] = {
		{ "servers", "" },
		{ "key", NULL },
		{ "relay", "r:1" },
	};
	char *out = edit("[general]\nlog_level = info", ch, 3);
	ck_assert_str_eq(out, "[general]\nlog_level = info\n\n[rendezvous]\n"
			      "servers =\nrelay = r:1\n");
	free(out);
	/* An empty file (a new one). */
	out = edit("", ch, 3);
	ck_assert_str_eq(out, "[rendezvous]\nservers =\nrelay = r:1\n");
	free(out);
	/* Only removals: no section is made for them. */
	const struct kd_config_change rm[] = { { "key", NULL } };
	out = edit("[general]\n", rm, 1);
	ck_assert_str_eq(out, "[general]\n");
	free(out);
}
END_TEST

START_TEST(empty_section_and_crlf)
{
	const struct kd_config_change ch[] = {
		{ "servers", "s" },
		{ "relay_key", "x" },
	};
	char *out = edit("[rendezvous]\n[hid]\nbackend = file\n", ch, 2);
	ck_assert_str_eq(out, "[rendezvous]\nservers = s\nrelay_key = x\n"
			      "[hid]\nbackend = file\n");
	free(out);
	out = edit("[rendezvous]\r\nservers = old\r\n", ch, 2);
	ck_assert_str_eq(out, "[rendezvous]\r\nservers = s\r\nrelay_key = x\n");
	free(out);
	/* Last line without a newline. */
	out = edit("[rendezvous]\nservers = old", ch, 2);
	ck_assert_str_eq(out, "[rendezvous]\nservers = s\nrelay_key = x\n");
	free(out);
}
END_TEST

START_TEST(values_with_blanks_and_hashes)
{
	const struct kd_config_change ch[] = {
		{ "relay_key", "my licence#1 key" },
		{ "servers", "" },
	};
	char *out = edit("[rendezvous]\nservers = a # c\nrelay_key=old\n", ch, 2);
	ck_assert_str_eq(out, "[rendezvous]\nservers = # c\n"
			      "relay_key= my licence#1 key\n");
	struct kd_config *cfg;
	ck_assert_int_eq(kd_config_parse(out, strlen(out), &cfg, NULL, 0), 0);
	ck_assert_str_eq(kd_config_get(cfg, "rendezvous", "relay_key"),
			 "my licence#1 key");
	ck_assert_str_eq(kd_config_get(cfg, "rendezvous", "servers"), "");
	kd_config_free(cfg);
	free(out);

	/* Values the parser would read differently are refused. */
	static const char *const bad[] = { "a #b", "a ;b", " lead", "trail ",
					   "two\nlines", "cr\r" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct kd_config_change b[] = { { "relay_key", bad[i] } };
		char *o = NULL, err[256] = "";
		size_t len;
		ck_assert_int_eq(kd_config_edit(base, strlen(base), "rendezvous",
						b, 1, &o, &len, err,
						sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_null(o);
		ck_assert_ptr_nonnull(strstr(err, "relay_key"));
	}
}
END_TEST

START_TEST(broken_file_refused)
{
	const struct kd_config_change ch[] = { { "servers", "a" } };
	char *o = NULL, err[256] = "";
	size_t len;
	const char *text = "[rendezvous]\nthis line is not a key\n";
	ck_assert_int_eq(kd_config_edit(text, strlen(text), "rendezvous", ch,
					1, &o, &len, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
}
END_TEST

static void read_all(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

START_TEST(file_mode_kept_and_created)
{
	char dir[] = "/tmp/kd-cfged-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128], link[128], text[4096], err[256];
	snprintf(path, sizeof(path), "%s/kvmdesk.conf", dir);
	const struct kd_config_change ch[] = { { "servers", "h:5" } };

	/* Missing: created with the mode asked for. */
	ck_assert_int_eq(kd_config_edit_file(path, "rendezvous", ch, 1, 0640,
					     err, sizeof(err)),
			 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	read_all(path, text, sizeof(text));
	ck_assert_str_eq(text, "[rendezvous]\nservers = h:5\n");

	/* Existing: its mode stays; edited through a symlink, the link
	 * stays a link. */
	FILE *f = fopen(path, "w");
	fputs(base, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0604), 0);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	ck_assert_int_eq(symlink("kvmdesk.conf", link), 0);
	ck_assert_int_eq(kd_config_edit_file(link, "rendezvous", ch, 1, 0640,
					     err, sizeof(err)),
			 0);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0604);
	read_all(path, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "  servers= h:5 # the owner's"));

	/* A refused value leaves the file as it was. */
	char before[4096];
	snprintf(before, sizeof(before), "%s", text);
	const struct kd_config_change bad[] = { { "relay_key", "x #y" } };
	ck_assert_int_eq(kd_config_edit_file(path, "rendezvous", bad, 1, 0640,
					     err, sizeof(err)),
			 -EINVAL);
	read_all(path, text, sizeof(text));
	ck_assert_str_eq(text, before);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 2", dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_edit");
	TCase *tc = tcase_create("edit");
	tcase_add_test(tc, value_replaced_in_place);
	tcase_add_test(tc, key_added_at_section_end);
	tcase_add_test(tc, key_removed);
	tcase_add_test(tc, section_added);
	tcase_add_test(tc, empty_section_and_crlf);
	tcase_add_test(tc, values_with_blanks_and_hashes);
	tcase_add_test(tc, broken_file_refused);
	tcase_add_test(tc, file_mode_kept_and_created);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
