/* What every rendezvousd module shares: the loop, the resolver, who we are,
 * the relay settings and where connected sockets go. Filled by rdvd.c from
 * the configuration, read-only for the others. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "identity.h"

struct kd_handoff;

#define KD_RDV_DEFAULT_PORT 21116
#define KD_RDV_RELAY_PORT 21117
#define KD_RDV_HOST_MAX 256
#define KD_RDV_KEY_MAX 128

struct kd_rdv_ctx {
	struct event_base *base;
	struct evdns_base *dns;
	struct kd_identity ident;
	/* RequestRelay.licence_key towards hbbr: [rendezvous] relay_key, else
	 * key (the real peer sends the server key, spec §5.5 step 4). */
	char licence_key[KD_RDV_KEY_MAX];
	/* [rendezvous] relay: overrides what hbbs suggests; "" = none. */
	char relay[KD_RDV_HOST_MAX];
	uint32_t reg_interval_ms;   /* REG_INTERVAL, 15 s by default */
	uint32_t serial;            /* RegisterPeer.serial, >= 3 */
	struct kd_handoff *handoff;
	/* Called after any change a status reader would see. */
	void (*changed)(void *arg);
	void *changed_arg;
};

/* CLOCK_MONOTONIC in milliseconds. */
int64_t kd_rdv_now_ms(void);

static inline void kd_rdv_ctx_changed(const struct kd_rdv_ctx *ctx)
{
	if (ctx->changed)
		ctx->changed(ctx->changed_arg);
}
