/* Ed25519 combined-mode signed IdPk blobs (spec connection §6.2, §6.9).
 * The sessiond monitor signs {our id, ephemeral X25519 pk} with the
 * identity key; hbbs (and our stand-in) signs {id, identity pk} with its
 * server key. Clients verify both with kd_signed_id_verify. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define KD_SIGNED_ID_MAX 512

/* Writes crypto_sign(IdPk{id, pk}) to out (capacity KD_SIGNED_ID_MAX);
 * returns its length or -EINVAL. */
int kd_signed_id_sign(const uint8_t secret_key[64], const char *id,
		      const uint8_t *pk, size_t pk_len, uint8_t *out);

/* Verifies blob with signer_pk, requires IdPk.id == expected_id (unless
 * NULL) and a 32-byte IdPk.pk, copied to pk_out. 0 or -EBADMSG. */
int kd_signed_id_verify(const uint8_t signer_pk[32], const uint8_t *blob,
			size_t len, const char *expected_id,
			uint8_t pk_out[32]);
