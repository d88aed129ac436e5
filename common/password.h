/* RustDesk's password check (spec connection §7.2): the client sends
 * SHA256(SHA256(password || salt) || challenge). We store only the salt and
 * h1 = SHA256(password || salt), the verifier, in state_dir/private/password. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KD_SALT_LEN 32
#define KD_CHALLENGE_LEN 6

struct kd_password_verifier {
	char salt[KD_SALT_LEN + 1];
	uint8_t h1[32];
	bool has_password; /* false: no password set, every login fails */
};

/* Random characters from RustDesk's alphabet "23456789abcdefghijkmnpqrstuvwxyz". */
void kd_random_token(char *out, size_t len); /* writes len chars + NUL */

void kd_password_h1(const char *password, size_t len, const char *salt,
		    uint8_t h1[32]);
void kd_password_response(const uint8_t h1[32], const char *challenge,
			  uint8_t out[32]);
/* Constant-time check of a LoginRequest.password against the verifier. */
bool kd_password_check(const struct kd_password_verifier *v,
		       const char *challenge, const uint8_t *response,
		       size_t len);

/* Loads state_dir/private/password; -ENOENT when none was set (the caller
 * still gets a stable salt, created and stored on first use). */
int kd_password_load(const char *state_dir, struct kd_password_verifier *out);
/* Sets a new password, keeping the existing salt. */
int kd_password_set(const char *state_dir, const char *password, size_t len);
