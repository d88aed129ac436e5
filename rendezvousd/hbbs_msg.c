/* Bounded parsing of hbbs' datagrams into struct kd_hbbs_msg. */
#include "hbbs_msg.h"

#include <errno.h>
#include <string.h>

#include "addr_mangle.h"
#include "rdv_wire.h"

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return -EBADMSG;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		return -1;
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

/* The client's address: must decode to a non-zero port. */
static int take_client(struct kd_hbbs_msg *n, const ProtobufCBinaryData *b,
		       const char **why)
{
	socklen_t len;
	if (b->len == 0 || b->len > KD_HBBS_MSG_MANGLED_MAX ||
	    kd_addr_mangle_decode(b->data, b->len, &n->client, &len) < 0 ||
	    kd_addr_mangle_port(&n->client) == 0)
		return fail(why, "no usable client address");
	memcpy(n->client_mangled, b->data, b->len);
	n->client_mangled_len = b->len;
	return 0;
}

int kd_hbbs_msg_parse(const uint8_t *buf, size_t len, struct kd_hbbs_msg *n,
		    const char **why)
{
	Hbb__RendezvousMessage *m = kd_rdv_wire_parse(buf, len);
	int rc = 0;

	memset(n, 0, sizeof(*n));
	if (!m)
		return fail(why, "not a RendezvousMessage");
	n->type_number = (int)m->union_case;
	switch (m->union_case) {
	case HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PEER_RESPONSE:
		n->kind = KD_HBBS_MSG_REGISTER_PEER_RESPONSE;
		n->request_pk = m->register_peer_response->request_pk;
		break;
	case HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK_RESPONSE:
		n->kind = KD_HBBS_MSG_REGISTER_PK_RESPONSE;
		n->pk_result = (int)m->register_pk_response->result;
		n->keep_alive = m->register_pk_response->keep_alive;
		break;
	case HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE: {
		const Hbb__PunchHole *ph = m->punch_hole;
		n->kind = KD_HBBS_MSG_PUNCH_HOLE;
		rc = take_client(n, &ph->socket_addr, why);
		if (rc == 0 && copy_str(n->relay_server,
					sizeof(n->relay_server),
					ph->relay_server) < 0)
			rc = fail(why, "relay_server too long");
		n->nat_type = (int)ph->nat_type;
		n->force_relay = ph->force_relay;
		n->udp_port = ph->udp_port;
		break;
	}
	case HBB__RENDEZVOUS_MESSAGE__UNION_FETCH_LOCAL_ADDR: {
		const Hbb__FetchLocalAddr *fl = m->fetch_local_addr;
		n->kind = KD_HBBS_MSG_FETCH_LOCAL_ADDR;
		rc = take_client(n, &fl->socket_addr, why);
		if (rc == 0 && copy_str(n->relay_server,
					sizeof(n->relay_server),
					fl->relay_server) < 0)
			rc = fail(why, "relay_server too long");
		break;
	}
	case HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY: {
		const Hbb__RequestRelay *rr = m->request_relay;
		n->kind = KD_HBBS_MSG_REQUEST_RELAY;
		rc = take_client(n, &rr->socket_addr, why);
		if (rc == 0 && (copy_str(n->uuid, sizeof(n->uuid),
					 rr->uuid) < 0 ||
				!n->uuid[0]))
			rc = fail(why, "missing or oversized relay uuid");
		if (rc == 0 && copy_str(n->relay_server,
					sizeof(n->relay_server),
					rr->relay_server) < 0)
			rc = fail(why, "relay_server too long");
		n->secure = rr->secure;
		break;
	}
	case HBB__RENDEZVOUS_MESSAGE__UNION_CONFIGURE_UPDATE: {
		const Hbb__ConfigUpdate *cu = m->configure_update;
		n->kind = KD_HBBS_MSG_CONFIG_UPDATE;
		n->serial = cu->serial;
		for (size_t i = 0; i < cu->n_rendezvous_servers &&
				   n->n_servers < KD_HBBS_MSG_SERVERS_MAX;
		     i++)
			if (cu->rendezvous_servers[i][0] &&
			    copy_str(n->servers[n->n_servers],
				     sizeof(n->servers[0]),
				     cu->rendezvous_servers[i]) == 0)
				n->n_servers++;
		break;
	}
	default:
		n->kind = KD_HBBS_MSG_OTHER;
		break;
	}
	hbb__rendezvous_message__free_unpacked(m, NULL);
	return rc;
}
