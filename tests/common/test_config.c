#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "config.h"
#include "kd_build_config.h"
#include "log.h"

static struct kd_config *parse_ok(const char *text)
{
	struct kd_config *cfg = NULL;
	char err[128] = "";
	int r = kd_config_parse(text, strlen(text), &cfg, err, sizeof(err));
	ck_assert_msg(r == 0, "parse failed: %s", err);
	return cfg;
}

static void parse_fails(const char *text, const char *expect_in_error)
{
	struct kd_config *cfg = NULL;
	char err[128] = "";
	ck_assert_int_eq(kd_config_parse(text, strlen(text), &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(err, expect_in_error), "error '%s' lacks '%s'", err, expect_in_error);
}

START_TEST(sections_keys_comments)
{
	struct kd_config *cfg = parse_ok(
		"# kvmdesk\n"
		"[general]\n"
		"state_dir = /var/lib/kvmdesk   # trailing comment\n"
		"  runtime_dir=/run/kvmdesk\n"
		"; another comment\n"
		"\n"
		"[rendezvous]\n"
		"key = OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw=\n"
		"servers = a.example:21116, b.example\n"
		"[video]\n"
		"width = 1280\n"
		"width = 640\n");
	ck_assert_str_eq(kd_config_get(cfg, "general", "state_dir"), "/var/lib/kvmdesk");
	ck_assert_str_eq(kd_config_get(cfg, "general", "runtime_dir"), "/run/kvmdesk");
	ck_assert_str_eq(kd_config_get(cfg, "rendezvous", "key"),
			 "OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw=");
	ck_assert_str_eq(kd_config_get(cfg, "rendezvous", "servers"), "a.example:21116, b.example");
	ck_assert_ptr_null(kd_config_get(cfg, "video", "height"));
	ck_assert_ptr_null(kd_config_get(cfg, "general", "width"));
	long w;
	ck_assert_int_eq(kd_config_get_long(cfg, "video", "width", 1920, 16, 8192, &w), 0);
	ck_assert_int_eq(w, 640); /* later duplicate wins */
	ck_assert_int_eq(kd_config_get_long(cfg, "video", "height", 1080, 16, 8192, &w), 0);
	ck_assert_int_eq(w, 1080);
	ck_assert_int_eq(kd_config_get_long(cfg, "video", "width", 0, 1000, 2000, &w), -EINVAL);
	kd_config_free(cfg);
}
END_TEST

START_TEST(booleans)
{
	struct kd_config *cfg = parse_ok("[session]\na = on\nb = No\nc = maybe\n");
	bool v;
	ck_assert_int_eq(kd_config_get_bool(cfg, "session", "a", false, &v), 0);
	ck_assert(v);
	ck_assert_int_eq(kd_config_get_bool(cfg, "session", "b", true, &v), 0);
	ck_assert(!v);
	ck_assert_int_eq(kd_config_get_bool(cfg, "session", "c", true, &v), -EINVAL);
	ck_assert_int_eq(kd_config_get_bool(cfg, "session", "d", true, &v), 0);
	ck_assert(v);
	kd_config_free(cfg);
}
END_TEST

START_TEST(errors_name_the_line)
{
	parse_fails("[general]\nstate_dir /x\n", "line 2");
	parse_fails("key = value\n", "outside");
	parse_fails("[general\n", "line 1");
	parse_fails("[gen eral]\n", "section name");
	parse_fails("[a]\nb c = d\n", "bad key");
	char big[KD_CONFIG_MAX_SIZE + 2];
	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	parse_fails(big, "larger");
	char nul[] = "[a]\nb = c\0d\n";
	struct kd_config *cfg = NULL;
	char err[64];
	ck_assert_int_eq(kd_config_parse(nul, sizeof(nul) - 1, &cfg, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(general_defaults_and_validation)
{
	struct kd_config *cfg = parse_ok("[general]\nlog_level = debug\n");
	struct kd_general_config g;
	ck_assert_int_eq(kd_general_config_read(cfg, &g), 0);
	ck_assert_str_eq(g.state_dir, "/var/lib/kvmdesk");
	ck_assert_str_eq(g.runtime_dir, "/run/kvmdesk");
	ck_assert_int_eq(g.log_level, LOG_DEBUG);
	kd_config_free(cfg);
	cfg = parse_ok("[general]\nstate_dir = relative/path\n");
	ck_assert_int_eq(kd_general_config_read(cfg, &g), -EINVAL);
	kd_config_free(cfg);
	cfg = parse_ok("[general]\nlog_level = loud\n");
	ck_assert_int_eq(kd_general_config_read(cfg, &g), -EINVAL);
	kd_config_free(cfg);
}
END_TEST

START_TEST(load_missing_file)
{
	struct kd_config *cfg = NULL;
	ck_assert_int_eq(kd_config_load("/nonexistent/kvmdesk.conf", &cfg), -ENOENT);
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(missing_default_file_means_defaults)
{
	struct kd_config *cfg = NULL;
	if (access(KD_DEFAULT_CONFIG, F_OK) == 0)
		return; /* this machine has one: nothing to check */
	ck_assert_int_eq(kd_config_load(KD_DEFAULT_CONFIG, &cfg), 0);
	ck_assert_ptr_nonnull(cfg);
	struct kd_general_config g;
	ck_assert_int_eq(kd_general_config_read(cfg, &g), 0);
	ck_assert_str_eq(g.state_dir, "/var/lib/kvmdesk");
	kd_config_free(cfg);
}
END_TEST

START_TEST(cmdline)
{
	const char *path;
	int next;
	char *argv1[] = { "prog", "-c", "/tmp/x.conf", "init", NULL };
	ck_assert_int_eq(kd_cmdline_parse(4, argv1, NULL, &path, &next), 0);
	ck_assert_str_eq(path, "/tmp/x.conf");
	ck_assert_int_eq(next, 3);
	char *argv2[] = { "prog", "--config", "/y.conf", NULL };
	ck_assert_int_eq(kd_cmdline_parse(3, argv2, NULL, &path, &next), 0);
	ck_assert_str_eq(path, "/y.conf");
	char *argv3[] = { "prog", NULL };
	ck_assert_int_eq(kd_cmdline_parse(1, argv3, NULL, &path, &next), 0);
	ck_assert_str_eq(path, "/etc/kvmdesk/kvmdesk.conf");
	char *argv4[] = { "prog", "--bogus", NULL };
	ck_assert_int_eq(kd_cmdline_parse(2, argv4, NULL, &path, &next), -EINVAL);
}
END_TEST

int main(void)
{
	kd_log_init("test", LOG_CRIT);
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, sections_keys_comments);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, general_defaults_and_validation);
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, missing_default_file_means_defaults);
	tcase_add_test(tc, cmdline);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
