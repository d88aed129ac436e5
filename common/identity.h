/* The device's identity in state_dir (DESIGN.md "State"):
 *   id, uuid, public_key (base64)    0644, readable by the kvmdesk group
 *   private/secret_key (base64, 64)  0600, only the sessiond monitor reads it
 * Files are written atomically; an existing identity is never changed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define KD_ID_MAX 32
#define KD_UUID_MAX 128

struct kd_identity {
	char id[KD_ID_MAX];
	char uuid[KD_UUID_MAX]; /* bytes sent as RegisterPk.uuid */
	uint8_t public_key[32];
};

/* Creates whatever is missing; *created tells whether anything was. */
int kd_identity_init(const char *state_dir, bool *created);
int kd_identity_load(const char *state_dir, struct kd_identity *out);
/* Only the sessiond monitor calls this. */
int kd_identity_load_secret(const char *state_dir, uint8_t secret_key[64]);
/* A RustDesk-style id: ≥ 6 characters, 9 decimal digits from the first MAC
 * address when there is one, random otherwise. */
void kd_identity_generate_id(char out[KD_ID_MAX]);
