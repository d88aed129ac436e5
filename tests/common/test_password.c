#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "password.h"

static void hex(const uint8_t *b, char *out)
{
	sodium_bin2hex(out, 65, b, 32);
}

START_TEST(spec_test_vector)
{
	/* rustdesk-connection.md §7.2 */
	uint8_t h1[32], resp[32];
	char text[65];
	kd_password_h1("Passw0rd", 8, "s2fz7k9ma3", h1);
	hex(h1, text);
	ck_assert_str_eq(text, "1725fe39c7990b45402c98832c001697248cfd006088e58396e7e26c4fe26c87");
	kd_password_response(h1, "7mqx2k", resp);
	hex(resp, text);
	ck_assert_str_eq(text, "19b80548088d3fa653417f004d7104e59a4eb279f68244e1f73b352bd792725a");

	struct kd_password_verifier v = { .has_password = true };
	strcpy(v.salt, "s2fz7k9ma3");
	memcpy(v.h1, h1, 32);
	ck_assert(kd_password_check(&v, "7mqx2k", resp, 32));
	resp[31] ^= 1;
	ck_assert(!kd_password_check(&v, "7mqx2k", resp, 32));
	ck_assert(!kd_password_check(&v, "7mqx2k", resp, 31));
	v.has_password = false;
	resp[31] ^= 1;
	ck_assert(!kd_password_check(&v, "7mqx2k", resp, 32));
}
END_TEST

START_TEST(random_token_alphabet)
{
	char tok[33];
	kd_random_token(tok, 32);
	ck_assert_uint_eq(strlen(tok), 32);
	for (const char *p = tok; *p; p++)
		ck_assert_ptr_nonnull(strchr("23456789abcdefghijkmnpqrstuvwxyz", *p));
}
END_TEST

START_TEST(salt_stable_across_set_and_reload)
{
	char dir[] = "/tmp/kd-pw-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char priv[64];
	snprintf(priv, sizeof(priv), "%s/private", dir);
	ck_assert_int_eq(mkdir(priv, 0700), 0);

	struct kd_password_verifier a, b, c;
	ck_assert_int_eq(kd_password_load(dir, &a), -ENOENT);
	ck_assert(!a.has_password);
	ck_assert_uint_eq(strlen(a.salt), 32);
	ck_assert_int_eq(kd_password_load(dir, &b), 0);
	ck_assert_str_eq(a.salt, b.salt);
	ck_assert(!b.has_password);

	ck_assert_int_eq(kd_password_set(dir, "secret", 6), 0);
	ck_assert_int_eq(kd_password_load(dir, &c), 0);
	ck_assert_str_eq(a.salt, c.salt);
	ck_assert(c.has_password);
	uint8_t h1[32], resp[32];
	kd_password_h1("secret", 6, c.salt, h1);
	kd_password_response(h1, "abcdef", resp);
	ck_assert(kd_password_check(&c, "abcdef", resp, 32));

	/* The verifier file is private and never holds the password. */
	char path[96];
	snprintf(path, sizeof(path), "%s/private/password", dir);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	FILE *f = fopen(path, "r");
	char line[256] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_ptr_null(strstr(line, "secret"));

	/* A corrupt file is an error, not "no password". */
	f = fopen(path, "w");
	fputs("bad\n", f);
	fclose(f);
	ck_assert_int_eq(kd_password_load(dir, &c), -EINVAL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("password");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, spec_test_vector);
	tcase_add_test(tc, random_token_alphabet);
	tcase_add_test(tc, salt_stable_across_set_and_reload);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
