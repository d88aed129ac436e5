/* The monitor's secrets (identity secret key, password verifier) live in a
 * mapping of their own that forked workers see as zeros
 * (MADV_WIPEONFORK), that never reaches a core dump (MADV_DONTDUMP), and
 * that the child wipes and unmaps explicitly as well. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "password.h"

struct kd_secrets {
	uint8_t identity_sk[64];
	struct kd_password_verifier verifier;
	bool has_identity;
	uint32_t canary; /* nonzero in the monitor; zero after fork */
};

/* Zeroed memory with the same protection, for what the monitor knows about
 * other clients (their addresses, ids, failure records): a worker has no
 * business seeing it. NULL on failure. */
void *kd_private_alloc(size_t size);
void kd_private_free(void *p, size_t size);

/* Maps the area; *out points into it. -errno on failure. */
int kd_secrets_new(struct kd_secrets **out);
void kd_secrets_free(struct kd_secrets *s);
/* In a forked child: 1 when the kernel wiped the area already, 0 when only
 * the explicit wipe did; the area is unmapped either way. */
int kd_secrets_child_wipe(struct kd_secrets *s);
