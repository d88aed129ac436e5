/* Ed25519 combined-mode signed IdPk (spec connection §6.2, §6.9). */
#include "signed_id.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "message.pb-c.h"

#define IDPK_MAX (KD_SIGNED_ID_MAX - crypto_sign_BYTES)

int kd_signed_id_sign(const uint8_t secret_key[64], const char *id,
		      const uint8_t *pk, size_t pk_len, uint8_t *out)
{
	Hbb__IdPk idpk = HBB__ID_PK__INIT;
	uint8_t packed[IDPK_MAX];
	unsigned long long signed_len;
	size_t len;

	if (!id || (!pk && pk_len))
		return -EINVAL;
	idpk.id = (char *)id;
	idpk.pk.data = (uint8_t *)pk;
	idpk.pk.len = pk_len;
	len = hbb__id_pk__get_packed_size(&idpk);
	if (len > IDPK_MAX)
		return -EINVAL;
	hbb__id_pk__pack(&idpk, packed);
	if (crypto_sign(out, &signed_len, packed, len, secret_key) != 0)
		return -EINVAL;
	return (int)signed_len;
}

int kd_signed_id_verify(const uint8_t signer_pk[32], const uint8_t *blob,
			size_t len, const char *expected_id,
			uint8_t pk_out[32])
{
	uint8_t msg[KD_SIGNED_ID_MAX];
	unsigned long long msg_len;
	Hbb__IdPk *idpk;
	int r = -EBADMSG;

	if (!blob || len < crypto_sign_BYTES || len > KD_SIGNED_ID_MAX)
		return -EBADMSG;
	if (crypto_sign_open(msg, &msg_len, blob, len, signer_pk) != 0)
		return -EBADMSG;
	idpk = hbb__id_pk__unpack(NULL, (size_t)msg_len, msg);
	if (!idpk)
		return -EBADMSG;
	if (idpk->pk.len != 32)
		goto out;
	if (expected_id && strcmp(idpk->id ? idpk->id : "", expected_id) != 0)
		goto out;
	if (pk_out)
		memcpy(pk_out, idpk->pk.data, 32);
	r = 0;
out:
	hbb__id_pk__free_unpacked(idpk, NULL);
	sodium_memzero(msg, sizeof(msg));
	return r;
}
