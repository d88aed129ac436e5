/* kvmdeskctl server set / clear on a file: what is accepted, what is
 * refused (file untouched, a message that says why), and that only the
 * [rendezvous] lines that change do. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "admin_cmds.h"

/* hbbs' id_ed25519.pub holds base64 of the 32-byte public key. */
#define HBBS_KEY "OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw="

static const char original[] =
	"# box in rack 3\n"
	"[general]\n"
	"runtime_dir = /run/kvmdesk\n"
	"\n"
	"[rendezvous]\n"
	"servers = old.example   # the old one\n"
	"relay_key = licence\n"
	"custom = kept\n"
	"\n"
	"[session]\n"
	"direct_ip = off\n";

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kd-srvset-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kvmdesk.conf", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(original, f);
	fclose(f);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void read_back(char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void assert_refused(const struct kd_ctl_server_change *c,
			   const char *says)
{
	char err[512] = "", text[2048];
	ck_assert_int_eq(kd_ctl_server_write(path, c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, says), "message '%s' lacks '%s'", err, says);
	read_back(text, sizeof(text));
	ck_assert_str_eq(text, original);
}

START_TEST(bad_values_leave_the_file_alone)
{
	struct kd_ctl_server_change c = { .servers = "good.example, bad host" };
	assert_refused(&c, "'bad host' is not host[:port]");
	c = (struct kd_ctl_server_change){ .servers = "a.example:0" };
	assert_refused(&c, "port must be a number from 2 to 65534");
	c = (struct kd_ctl_server_change){ .servers = "a.example:65536" };
	assert_refused(&c, "port must be");
	c = (struct kd_ctl_server_change){ .servers = "a.example:65535" };
	assert_refused(&c, "port must be");
	c = (struct kd_ctl_server_change){ .servers = "a.example:1" };
	assert_refused(&c, "port must be");
	c = (struct kd_ctl_server_change){ .servers = "[2001:db8::1:21116" };
	assert_refused(&c, "is not host[:port]");
	c = (struct kd_ctl_server_change){ .servers = "a,b,c,d,e,f,g,h,i" };
	assert_refused(&c, "at most 8 servers");
	/* A good server with a bad key: nothing is written. */
	c = (struct kd_ctl_server_change){ .servers = "new.example",
					   .key = "not base64!" };
	assert_refused(&c, "base64 of 32 bytes");
	c = (struct kd_ctl_server_change){ .key = "AAAA" }; /* 3 bytes */
	assert_refused(&c, "base64 of 32 bytes");
	c = (struct kd_ctl_server_change){ .relay = "relay.example:99999" };
	assert_refused(&c, "relay 'relay.example:99999': the port");
	c = (struct kd_ctl_server_change){ .relay_key = "a #b" };
	assert_refused(&c, "relay_key");
	/* rendezvousd refuses a relay_key of 128 characters or more (and
	 * then would not start again): so does server set. */
	char long_key[129];
	memset(long_key, 'k', 128);
	long_key[128] = '\0';
	c = (struct kd_ctl_server_change){ .relay_key = long_key };
	assert_refused(&c, "relay_key");
	c = (struct kd_ctl_server_change){ 0 };
	assert_refused(&c, "nothing to change");
}
END_TEST

START_TEST(set_touches_only_the_changed_lines)
{
	struct kd_ctl_server_change c = {
		.servers = " hbbs.example:21116 ,[2001:db8::1]:5,192.0.2.1 ",
		.key = HBBS_KEY,
		.relay = "[2001:db8::2]",
	};
	char err[512] = "", text[2048];
	ck_assert_int_eq(kd_ctl_server_write(path, &c, err, sizeof(err)), 0);
	read_back(text, sizeof(text));
	ck_assert_str_eq(text,
			 "# box in rack 3\n"
			 "[general]\n"
			 "runtime_dir = /run/kvmdesk\n"
			 "\n"
			 "[rendezvous]\n"
			 "servers = hbbs.example:21116, [2001:db8::1]:5, "
			 "192.0.2.1   # the old one\n"
			 "relay_key = licence\n"
			 "custom = kept\n"
			 "key = " HBBS_KEY "\n"
			 "relay = [2001:db8::2]\n"
			 "\n"
			 "[session]\n"
			 "direct_ip = off\n");
	/* "" removes a key (its default applies again). */
	c = (struct kd_ctl_server_change){ .relay = "", .relay_key = "" };
	ck_assert_int_eq(kd_ctl_server_write(path, &c, err, sizeof(err)), 0);
	read_back(text, sizeof(text));
	ck_assert_ptr_null(strstr(text, "relay"));
	ck_assert_ptr_nonnull(strstr(text, "custom = kept\nkey = " HBBS_KEY
					   "\n\n[session]"));
}
END_TEST

START_TEST(clear_means_direct_ip_only)
{
	const struct kd_ctl_server_change c = {
		.servers = "", .key = "", .relay = "", .relay_key = "",
	};
	char err[512] = "", text[2048];
	ck_assert_int_eq(kd_ctl_server_write(path, &c, err, sizeof(err)), 0);
	read_back(text, sizeof(text));
	ck_assert_str_eq(text,
			 "# box in rack 3\n"
			 "[general]\n"
			 "runtime_dir = /run/kvmdesk\n"
			 "\n"
			 "[rendezvous]\n"
			 "servers =   # the old one\n"
			 "custom = kept\n"
			 "\n"
			 "[session]\n"
			 "direct_ip = off\n");
}
END_TEST

START_TEST(missing_file_is_created)
{
	ck_assert_int_eq(unlink(path), 0);
	const struct kd_ctl_server_change c = { .servers = "hbbs.example",
						.key = HBBS_KEY };
	char err[512] = "", text[2048];
	ck_assert_int_eq(kd_ctl_server_write(path, &c, err, sizeof(err)), 0);
	read_back(text, sizeof(text));
	ck_assert_str_eq(text, "[rendezvous]\nservers = hbbs.example\n"
			       "key = " HBBS_KEY "\n");
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	/* The daemons (their own users, not in root's group) must read it:
	 * run as root, the new file belongs to root:root. */
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
}
END_TEST

/* config check agrees with rendezvousd (and server set) on the length of
 * relay_key: a file rendezvousd would refuse is not called fine. */
START_TEST(config_check_knows_the_relay_key_limit)
{
	char text[300], long_key[129];
	FILE *out = tmpfile();

	ck_assert_ptr_nonnull(out);
	memset(long_key, 'k', 127);
	long_key[127] = '\0';
	snprintf(text, sizeof(text), "[rendezvous]\nrelay_key = %s\n",
		 long_key);
	ck_assert_int_eq(kd_config_check_text("t", text, strlen(text), false,
					      out), 0);
	memset(long_key, 'k', 128);
	long_key[128] = '\0';
	snprintf(text, sizeof(text), "[rendezvous]\nrelay_key = %s\n",
		 long_key);
	ck_assert_int_ne(kd_config_check_text("t", text, strlen(text), false,
					      out), 0);
	/* The reason is printed, however long the value. */
	char report[1024];
	rewind(out);
	size_t n = fread(report, 1, sizeof(report) - 1, out);
	report[n] = '\0';
	ck_assert_msg(strstr(report, "longer than 127 characters"),
		      "report: %s", report);
	fclose(out);
}
END_TEST

int main(void)
{
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("server_settings");
	TCase *tc = tcase_create("write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_values_leave_the_file_alone);
	tcase_add_test(tc, set_touches_only_the_changed_lines);
	tcase_add_test(tc, clear_means_direct_ip_only);
	tcase_add_test(tc, missing_file_is_created);
	tcase_add_test(tc, config_check_knows_the_relay_key_limit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
