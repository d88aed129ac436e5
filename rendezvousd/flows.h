/* Incoming connection flows (spec connection §5.2-§5.6): what rendezvousd
 * does when hbbs announces a client. Each flow is a small state machine on
 * the loop that ends by handing one connected socket to sessiond (or by
 * giving up with a log line). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rdv_ctx.h"

enum kd_flow_kind {
	KD_FLOW_PUNCH,        /* §5.3: PunchHoleSent, then listen on L */
	KD_FLOW_LAN,          /* §5.4: LocalAddr, then listen on L */
	KD_FLOW_RELAY,        /* §5.5: peer-initiated relay */
	KD_FLOW_RELAY_ANSWER, /* §5.6: answer to RequestRelay */
};

struct kd_flow_params {
	enum kd_flow_kind kind;
	/* hbbs TCP address (same host and port as the registration). */
	struct sockaddr_storage hbbs;
	socklen_t hbbs_len;
	/* socket_addr from hbbs, verbatim (copied into our answer). */
	const uint8_t *client_mangled;
	size_t client_mangled_len;
	/* hbbs' host name and port, for the default relay "host:port+1". */
	const char *hbbs_host;
	uint16_t hbbs_port;
	/* relay suggested by hbbs (PunchHole / FetchLocalAddr /
	 * RequestRelay.relay_server), may be "". */
	const char *relay_server;
	const char *relay_uuid; /* RequestRelay.uuid (RELAY_ANSWER) */
	bool secure;            /* RequestRelay.secure (RELAY_ANSWER) */
	int nat_type;           /* our NAT type, for PunchHoleSent */
};

struct kd_flows;

int kd_flows_new(struct kd_rdv_ctx *ctx, struct kd_flows **out);
/* Ends every flow in progress (their sockets are closed). */
void kd_flows_destroy(struct kd_flows *f);
/* Starts one flow; 0 or -errno (logged). */
int kd_flows_start(struct kd_flows *f, const struct kd_flow_params *p);
unsigned kd_flows_active(const struct kd_flows *f);

/* The relay host:port for a flow (spec §5.2 step 4): [rendezvous] relay,
 * else what hbbs suggested, else the rendezvous host with port + 1; a
 * missing port becomes 21117. */
void kd_flows_pick_relay(const char *local_override, const char *suggested,
			 const char *hbbs_host, uint16_t hbbs_port,
			 char *out, size_t out_len);
/* A random (v4) UUID in text form, 36 characters + NUL. */
void kd_flows_new_uuid(char out[37]);
