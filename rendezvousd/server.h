/* Registration with one hbbs (spec connection §4.2): one long-lived UDP
 * socket, RegisterPeer every reg_interval, RegisterPk when hbbs asks or our
 * key is not confirmed, and the notifications hbbs sends on that socket
 * (PunchHole, FetchLocalAddr, RequestRelay, ConfigUpdate). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "rdv_ctx.h"

struct kd_rdv_server;

/* 0 when spec is a usable "host[:port]" (port 2-65535: hbbs answers the
 * NAT test on port-1), else -EINVAL. Logs nothing. */
int kd_rdv_server_spec_check(const char *spec);
/* spec is "host[:port]" as configured (port 21116 by default). */
int kd_rdv_server_new(struct kd_rdv_ctx *ctx, const char *spec,
		      struct kd_rdv_server **out);
/* Resolves the host and starts registering; never blocks. */
int kd_rdv_server_start(struct kd_rdv_server *s);
void kd_rdv_server_destroy(struct kd_rdv_server *s);
/* The spec it was made from. */
const char *kd_rdv_server_name(const struct kd_rdv_server *s);

struct kd_rdv_server_status {
	char name[KD_RDV_HOST_MAX];  /* as configured */
	char addr[64];               /* resolved ip:port, "" if none */
	bool registered;
	char state[512];             /* one line for an administrator */
	time_t last_contact;         /* wall clock, 0 = never */
	const char *nat_type;        /* "unknown", "asymmetric", "symmetric" */
	uint64_t registrations;      /* answered RegisterPeer/RegisterPk */
};

void kd_rdv_server_status(const struct kd_rdv_server *s,
			  struct kd_rdv_server_status *out);

/* Called when hbbs sends a ConfigUpdate with a higher serial than ours
 * (spec §4.4), from inside the server's event handler: the callee must not
 * destroy the server there (defer it to the loop). */
typedef void (*kd_rdv_config_update_fn)(void *arg, int32_t serial,
					char **servers, size_t n_servers);
void kd_rdv_server_on_config_update(struct kd_rdv_server *s,
				    kd_rdv_config_update_fn fn, void *arg);
