#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

START_TEST(write_read_replace)
{
	char dir[] = "/tmp/kd-af-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/a/b/file", dir);
	char sub[64];
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	ck_assert_int_eq(kd_mkdir_p(sub, 0700), 0);
	ck_assert_int_eq(kd_mkdir_p(sub, 0700), 0);
	ck_assert_int_eq(kd_atomic_write(path, "one\n", 4, 0600), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	char *text;
	size_t len;
	ck_assert_int_eq(kd_read_small_file(path, 64, &text, &len), 0);
	ck_assert_str_eq(text, "one");
	ck_assert_uint_eq(len, 3);
	free(text);
	ck_assert_int_eq(kd_atomic_write(path, "second", 6, 0644), 0);
	ck_assert_int_eq(kd_read_small_file(path, 64, &text, &len), 0);
	ck_assert_str_eq(text, "second");
	free(text);
	ck_assert_int_eq(kd_read_small_file(path, 3, &text, &len), -EFBIG);
	ck_assert_int_eq(kd_read_small_file("/nonexistent/x", 3, &text, &len), -ENOENT);
	/* No temporary file is left behind. */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) -eq 1", sub);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Whatever already sits at the temporary name (a file linked there, or
 * left by a process of the same pid) is not written through: the link's
 * other name keeps its content. */
START_TEST(temp_name_taken_by_a_link)
{
	char dir[] = "/tmp/kd-af-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64], tmp[96], other[64];
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	snprintf(other, sizeof(other), "%s/other", dir);
	ck_assert_int_eq(kd_atomic_write(other, "precious", 8, 0600), 0);
	ck_assert_int_eq(link(other, tmp), 0);
	ck_assert_int_eq(kd_atomic_write(path, "new", 3, 0600), 0);
	char *text;
	size_t len;
	ck_assert_int_eq(kd_read_small_file(other, 64, &text, &len), 0);
	ck_assert_str_eq(text, "precious");
	free(text);
	ck_assert_int_eq(kd_read_small_file(path, 64, &text, &len), 0);
	ck_assert_str_eq(text, "new");
	free(text);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* root writing into a daemon's directory (kvmdeskctl password set): the
 * file belongs to the directory's owner so the daemon can read it. */
START_TEST(root_writes_as_the_directory_owner)
{
	if (geteuid() != 0)
		return; /* only root changes owners */
	char dir[] = "/tmp/kd-af-owner-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	char path[64];
	snprintf(path, sizeof(path), "%s/password", dir);
	ck_assert_int_eq(kd_atomic_write(path, "x", 1, 0600), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, 65534);
	ck_assert_uint_eq(st.st_gid, 65534);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("atomic_file");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, write_read_replace);
	tcase_add_test(tc, root_writes_as_the_directory_owner);
	tcase_add_test(tc, temp_name_taken_by_a_link);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
