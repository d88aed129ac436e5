#include "identity.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "atomic_file.h"
#include "log.h"

#define ID_FILE "id"
#define UUID_FILE "uuid"
#define PUBLIC_KEY_FILE "public_key"
#define SECRET_KEY_FILE "private/secret_key"

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
	if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
		return -ENAMETOOLONG;
	return 0;
}

static int read_text(const char *dir, const char *name, char *out, size_t cap)
{
	char path[PATH_MAX];
	int r = path_join(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	char *text = NULL;
	size_t len;
	r = kd_read_small_file(path, cap - 1, &text, &len);
	if (r < 0)
		return r;
	memcpy(out, text, len + 1);
	sodium_memzero(text, len);
	free(text);
	return 0;
}

static int write_text(const char *dir, const char *name, const char *text,
		      mode_t mode)
{
	char path[PATH_MAX];
	int r = path_join(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s\n", text);
	if (n >= (int)sizeof(buf))
		return -E2BIG;
	r = kd_atomic_write(path, buf, (size_t)n, mode);
	sodium_memzero(buf, sizeof(buf));
	return r;
}

/* The real peer derives its id from the MAC address (spec connection §4.1):
 * last four bytes, big-endian, & 0x1FFFFFFF. */
static bool id_from_mac(char out[KD_ID_MAX])
{
	DIR *d = opendir("/sys/class/net");
	if (!d)
		return false;
	struct dirent *de;
	bool found = false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "/sys/class/net/%s/address",
			 de->d_name);
		char *text = NULL;
		if (kd_read_small_file(path, 64, &text, NULL) < 0)
			continue;
		unsigned b[6];
		if (sscanf(text, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2],
			   &b[3], &b[4], &b[5]) == 6) {
			uint32_t v = ((uint32_t)b[2] << 24) | (b[3] << 16) |
				     (b[4] << 8) | b[5];
			v &= 0x1FFFFFFF;
			/* hbbs wants at least 6 characters. */
			if (v >= 100000000u) {
				snprintf(out, KD_ID_MAX, "%u", v);
				found = true;
			}
		}
		free(text);
	}
	closedir(d);
	return found;
}

void kd_identity_generate_id(char out[KD_ID_MAX])
{
	if (id_from_mac(out))
		return;
	/* 9 digits, like a MAC-derived id. */
	uint32_t v = 100000000u + randombytes_uniform(0x1FFFFFFFu - 100000000u);
	snprintf(out, KD_ID_MAX, "%u", v);
}

static int generate_uuid(char out[KD_UUID_MAX], const uint8_t pk[32])
{
	/* Like hbb_common::get_uuid(): the OS machine id, else the public key. */
	char *text = NULL;
	if (kd_read_small_file("/etc/machine-id", KD_UUID_MAX - 1, &text,
			       NULL) == 0 &&
	    strlen(text) >= 16) {
		snprintf(out, KD_UUID_MAX, "%s", text);
		free(text);
		return 0;
	}
	free(text);
	sodium_bin2base64(out, KD_UUID_MAX, pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int kd_identity_init(const char *state_dir, bool *created)
{
	*created = false;
	if (sodium_init() < 0)
		return -EIO;
	int r = kd_mkdir_p(state_dir, 0750);
	if (r < 0)
		return r;
	char private_dir[PATH_MAX];
	r = path_join(private_dir, sizeof(private_dir), state_dir, "private");
	if (r < 0)
		return r;
	r = kd_mkdir_p(private_dir, 0700);
	if (r < 0)
		return r;

	char pk_b64[128];
	uint8_t pk[32];
	r = read_text(state_dir, PUBLIC_KEY_FILE, pk_b64, sizeof(pk_b64));
	if (r == -ENOENT) {
		uint8_t sk[64];
		char sk_b64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
		crypto_sign_keypair(pk, sk);
		sodium_bin2base64(sk_b64, sizeof(sk_b64), sk, 64,
				  sodium_base64_VARIANT_ORIGINAL);
		sodium_memzero(sk, sizeof(sk));
		/* Secret first: a public key without its secret is useless. */
		r = write_text(state_dir, SECRET_KEY_FILE, sk_b64, 0600);
		sodium_memzero(sk_b64, sizeof(sk_b64));
		if (r < 0)
			return r;
		sodium_bin2base64(pk_b64, sizeof(pk_b64), pk, 32,
				  sodium_base64_VARIANT_ORIGINAL);
		r = write_text(state_dir, PUBLIC_KEY_FILE, pk_b64, 0644);
		if (r < 0)
			return r;
		*created = true;
	} else if (r < 0) {
		return r;
	} else {
		size_t len;
		if (sodium_base642bin(pk, 32, pk_b64, strlen(pk_b64), NULL,
				      &len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    len != 32)
			return -EINVAL;
	}

	char text[KD_UUID_MAX];
	r = read_text(state_dir, ID_FILE, text, sizeof(text));
	if (r == -ENOENT) {
		char id[KD_ID_MAX];
		kd_identity_generate_id(id);
		r = write_text(state_dir, ID_FILE, id, 0644);
		if (r < 0)
			return r;
		*created = true;
	} else if (r < 0) {
		return r;
	}

	r = read_text(state_dir, UUID_FILE, text, sizeof(text));
	if (r == -ENOENT) {
		generate_uuid(text, pk);
		r = write_text(state_dir, UUID_FILE, text, 0644);
		if (r < 0)
			return r;
		*created = true;
	} else if (r < 0) {
		return r;
	}
	return 0;
}

int kd_identity_load(const char *state_dir, struct kd_identity *out)
{
	memset(out, 0, sizeof(*out));
	int r = read_text(state_dir, ID_FILE, out->id, sizeof(out->id));
	if (r < 0)
		return r;
	if (strlen(out->id) < 6)
		return -EINVAL;
	r = read_text(state_dir, UUID_FILE, out->uuid, sizeof(out->uuid));
	if (r < 0)
		return r;
	char pk_b64[128];
	r = read_text(state_dir, PUBLIC_KEY_FILE, pk_b64, sizeof(pk_b64));
	if (r < 0)
		return r;
	size_t len;
	if (sodium_base642bin(out->public_key, 32, pk_b64, strlen(pk_b64),
			      NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != 32)
		return -EINVAL;
	return 0;
}

int kd_identity_load_secret(const char *state_dir, uint8_t secret_key[64])
{
	char b64[128];
	int r = read_text(state_dir, SECRET_KEY_FILE, b64, sizeof(b64));
	if (r < 0)
		return r;
	size_t len;
	r = sodium_base642bin(secret_key, 64, b64, strlen(b64), NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(b64, sizeof(b64));
	if (r != 0 || len != 64) {
		sodium_memzero(secret_key, 64);
		return -EINVAL;
	}
	return 0;
}
