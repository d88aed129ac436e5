#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "identity.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/kd-id-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static mode_t mode_of(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 0777;
}

START_TEST(init_creates_then_keeps)
{
	bool created;
	ck_assert_int_eq(kd_identity_init(dir, &created), 0);
	ck_assert(created);
	struct kd_identity a, b;
	ck_assert_int_eq(kd_identity_load(dir, &a), 0);
	ck_assert_uint_ge(strlen(a.id), 6);
	ck_assert_uint_gt(strlen(a.uuid), 0);

	/* The secret key belongs to the public key. */
	uint8_t sk[64], pk[32];
	ck_assert_int_eq(kd_identity_load_secret(dir, sk), 0);
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	ck_assert_mem_eq(pk, a.public_key, 32);

	ck_assert_uint_eq(mode_of("private"), 0700);
	ck_assert_uint_eq(mode_of("private/secret_key"), 0600);
	ck_assert_uint_eq(mode_of("public_key"), 0644);

	/* A second init changes nothing. */
	ck_assert_int_eq(kd_identity_init(dir, &created), 0);
	ck_assert(!created);
	ck_assert_int_eq(kd_identity_load(dir, &b), 0);
	ck_assert_str_eq(a.id, b.id);
	ck_assert_str_eq(a.uuid, b.uuid);
	ck_assert_mem_eq(a.public_key, b.public_key, 32);
}
END_TEST

START_TEST(load_without_init_fails)
{
	struct kd_identity id;
	ck_assert_int_eq(kd_identity_load(dir, &id), -ENOENT);
	uint8_t sk[64];
	ck_assert_int_eq(kd_identity_load_secret(dir, sk), -ENOENT);
}
END_TEST

START_TEST(corrupt_public_key_rejected)
{
	bool created;
	ck_assert_int_eq(kd_identity_init(dir, &created), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/public_key", dir);
	FILE *f = fopen(path, "w");
	fputs("not base64!\n", f);
	fclose(f);
	struct kd_identity id;
	ck_assert_int_eq(kd_identity_load(dir, &id), -EINVAL);
}
END_TEST

START_TEST(generated_ids_are_rustdesk_shaped)
{
	for (int i = 0; i < 50; i++) {
		char id[KD_ID_MAX];
		kd_identity_generate_id(id);
		ck_assert_uint_ge(strlen(id), 6);
		ck_assert_uint_le(strlen(id), 10);
		for (const char *p = id; *p; p++)
			ck_assert(*p >= '0' && *p <= '9');
		ck_assert_uint_le(strtoul(id, NULL, 10), 0x1FFFFFFFul);
	}
}
END_TEST

int main(void)
{
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_creates_then_keeps);
	tcase_add_test(tc, load_without_init_fails);
	tcase_add_test(tc, corrupt_public_key_rejected);
	tcase_add_test(tc, generated_ids_are_rustdesk_shaped);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
