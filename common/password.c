#include "password.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "atomic_file.h"

#define PASSWORD_FILE "private/password"

static const char token_alphabet[] = "23456789abcdefghijkmnpqrstuvwxyz";

void kd_random_token(char *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = token_alphabet[randombytes_uniform(
			sizeof(token_alphabet) - 1)];
	out[len] = '\0';
}

void kd_password_h1(const char *password, size_t len, const char *salt,
		    uint8_t h1[32])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)password, len);
	crypto_hash_sha256_update(&st, (const uint8_t *)salt, strlen(salt));
	crypto_hash_sha256_final(&st, h1);
	sodium_memzero(&st, sizeof(st));
}

void kd_password_response(const uint8_t h1[32], const char *challenge,
			  uint8_t out[32])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, h1, 32);
	crypto_hash_sha256_update(&st, (const uint8_t *)challenge,
				  strlen(challenge));
	crypto_hash_sha256_final(&st, out);
}

bool kd_password_check(const struct kd_password_verifier *v,
		       const char *challenge, const uint8_t *response,
		       size_t len)
{
	if (!v->has_password || len != 32)
		return false;
	uint8_t expected[32];
	kd_password_response(v->h1, challenge, expected);
	bool ok = sodium_memcmp(expected, response, 32) == 0;
	sodium_memzero(expected, sizeof(expected));
	return ok;
}

/* File format, one line: "<salt> <hex h1>" or "<salt> -" when no password is
 * set yet (the salt must stay stable: clients remember h1). */
static int store(const char *state_dir, const struct kd_password_verifier *v)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, PASSWORD_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	char line[KD_SALT_LEN + 2 + 65 + 2];
	char hex[65] = "-";
	if (v->has_password)
		sodium_bin2hex(hex, sizeof(hex), v->h1, 32);
	int n = snprintf(line, sizeof(line), "%s %s\n", v->salt, hex);
	int r = kd_atomic_write(path, line, (size_t)n, 0600);
	sodium_memzero(line, sizeof(line));
	sodium_memzero(hex, sizeof(hex));
	return r;
}

static int parse(const char *text, struct kd_password_verifier *out)
{
	const char *space = strchr(text, ' ');
	if (!space || space == text || (size_t)(space - text) > KD_SALT_LEN)
		return -EINVAL;
	memcpy(out->salt, text, (size_t)(space - text));
	out->salt[space - text] = '\0';
	for (const char *p = out->salt; *p; p++)
		if (!strchr(token_alphabet, *p))
			return -EINVAL;
	const char *hex = space + 1;
	if (strcmp(hex, "-") == 0) {
		out->has_password = false;
		return 0;
	}
	size_t len;
	if (strlen(hex) != 64 ||
	    sodium_hex2bin(out->h1, 32, hex, 64, NULL, &len, NULL) != 0 ||
	    len != 32)
		return -EINVAL;
	out->has_password = true;
	return 0;
}

int kd_password_load(const char *state_dir, struct kd_password_verifier *out)
{
	memset(out, 0, sizeof(*out));
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, PASSWORD_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	char *text = NULL;
	int r = kd_read_small_file(path, 256, &text, NULL);
	if (r == -ENOENT) {
		kd_random_token(out->salt, KD_SALT_LEN);
		out->has_password = false;
		int w = store(state_dir, out);
		return w < 0 ? w : -ENOENT;
	}
	if (r < 0)
		return r;
	r = parse(text, out);
	sodium_memzero(text, strlen(text));
	free(text);
	return r;
}

int kd_password_set(const char *state_dir, const char *password, size_t len)
{
	struct kd_password_verifier v;
	int r = kd_password_load(state_dir, &v);
	if (r < 0 && r != -ENOENT)
		return r;
	kd_password_h1(password, len, v.salt, v.h1);
	v.has_password = true;
	r = store(state_dir, &v);
	sodium_memzero(&v, sizeof(v));
	return r;
}
