/* What a datagram from hbbs says, checked and copied into plain fields
 * (spec connection §4.2 table, §5.2, §5.4, §5.6). server.c acts only on
 * this; the fuzz target fuzz_rdv_datagram drives exactly this parser. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rdv_ctx.h"

#define KD_HBBS_MSG_SERVERS_MAX 8
#define KD_HBBS_MSG_UUID_MAX 64
#define KD_HBBS_MSG_MANGLED_MAX 18

enum kd_hbbs_msg_kind {
	KD_HBBS_MSG_OTHER,              /* parsed, nothing for us */
	KD_HBBS_MSG_REGISTER_PEER_RESPONSE,
	KD_HBBS_MSG_REGISTER_PK_RESPONSE,
	KD_HBBS_MSG_PUNCH_HOLE,
	KD_HBBS_MSG_FETCH_LOCAL_ADDR,
	KD_HBBS_MSG_REQUEST_RELAY,
	KD_HBBS_MSG_CONFIG_UPDATE,
};

struct kd_hbbs_msg {
	enum kd_hbbs_msg_kind kind;
	int type_number;           /* RendezvousMessage oneof number */
	/* RegisterPeerResponse / RegisterPkResponse */
	bool request_pk;
	int pk_result;
	int32_t keep_alive;
	/* PunchHole / FetchLocalAddr / RequestRelay */
	uint8_t client_mangled[KD_HBBS_MSG_MANGLED_MAX];
	size_t client_mangled_len;
	struct sockaddr_storage client;
	char relay_server[KD_RDV_HOST_MAX];
	int nat_type;
	bool force_relay;
	int32_t udp_port;
	char uuid[KD_HBBS_MSG_UUID_MAX];
	bool secure;
	/* ConfigUpdate */
	int32_t serial;
	char servers[KD_HBBS_MSG_SERVERS_MAX][KD_RDV_HOST_MAX];
	size_t n_servers;
};

/* 0 with *out filled; -EBADMSG when the datagram does not parse, is too
 * long, or a field we need is missing or out of bounds (why says which,
 * for the log). */
int kd_hbbs_msg_parse(const uint8_t *buf, size_t len, struct kd_hbbs_msg *out,
		    const char **why);
