/* libFuzzer target: a UDP datagram from hbbs, as rendezvousd parses it
 * (kd_hbbs_msg_parse: protobuf, AddrMangle, bounds on every field). */
#include <assert.h>
#include <string.h>

#include "addr_mangle.h"
#include "fuzz_seeds.h"
#include "hbbs_msg.h"
#include "rdv_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kd_hbbs_msg m;
	const char *why = NULL;
	if (kd_hbbs_msg_parse(data, size, &m, &why) < 0) {
		assert(why != NULL);
		return 0;
	}
	/* Whatever parsed must respect the bounds the daemon relies on. */
	assert(m.client_mangled_len <= sizeof(m.client_mangled));
	assert(strlen(m.relay_server) < sizeof(m.relay_server));
	assert(strlen(m.uuid) < sizeof(m.uuid));
	assert(m.n_servers <= KD_HBBS_MSG_SERVERS_MAX);
	if (m.kind == KD_HBBS_MSG_PUNCH_HOLE ||
	    m.kind == KD_HBBS_MSG_REQUEST_RELAY ||
	    m.kind == KD_HBBS_MSG_FETCH_LOCAL_ADDR)
		assert(kd_addr_mangle_port(&m.client) != 0);
	return 0;
}

static void emit_msg(fuzz_seed_fn emit, Hbb__RendezvousMessage *m)
{
	uint8_t buf[KD_RDV_MSG_MAX];
	int n = kd_rdv_wire_pack(m, buf, sizeof(buf));
	if (n >= 0)
		emit(buf, (size_t)n);
}

void fuzz_seeds(fuzz_seed_fn emit)
{
	static const uint8_t mangled[] = {0x9A, 0x1E, 0xF1, 0xAC, 0x68,
					  0x24, 0x86, 0xAE, 0x4A, 0x33};
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;

	Hbb__RegisterPeerResponse rpr = HBB__REGISTER_PEER_RESPONSE__INIT;
	rpr.request_pk = 1;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PEER_RESPONSE;
	m.register_peer_response = &rpr;
	emit_msg(emit, &m);

	Hbb__RegisterPkResponse pkr = HBB__REGISTER_PK_RESPONSE__INIT;
	pkr.result = HBB__REGISTER_PK_RESPONSE__RESULT__UUID_MISMATCH;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK_RESPONSE;
	m.register_pk_response = &pkr;
	emit_msg(emit, &m);

	Hbb__PunchHole ph = HBB__PUNCH_HOLE__INIT;
	ph.socket_addr.data = (uint8_t *)mangled;
	ph.socket_addr.len = sizeof(mangled);
	ph.relay_server = (char *)"rs.example.com";
	ph.nat_type = HBB__NAT_TYPE__ASYMMETRIC;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE;
	m.punch_hole = &ph;
	emit_msg(emit, &m);

	Hbb__FetchLocalAddr fl = HBB__FETCH_LOCAL_ADDR__INIT;
	fl.socket_addr = ph.socket_addr;
	fl.relay_server = (char *)"rs.example.com:21117";
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_FETCH_LOCAL_ADDR;
	m.fetch_local_addr = &fl;
	emit_msg(emit, &m);

	Hbb__RequestRelay rr = HBB__REQUEST_RELAY__INIT;
	rr.id = (char *)"123456789";
	rr.uuid = (char *)"0b3e4a6c-1111-4222-8333-444455556666";
	rr.socket_addr = ph.socket_addr;
	rr.relay_server = (char *)"[2001:db8::1]:21117";
	rr.secure = 1;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	m.request_relay = &rr;
	emit_msg(emit, &m);

	Hbb__ConfigUpdate cu = HBB__CONFIG_UPDATE__INIT;
	char *servers[] = {(char *)"a.example.com", (char *)"b:21116"};
	cu.serial = 5;
	cu.rendezvous_servers = servers;
	cu.n_rendezvous_servers = 2;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_CONFIGURE_UPDATE;
	m.configure_update = &cu;
	emit_msg(emit, &m);

	/* the spec's worked datagrams (§3.7) */
	static const uint8_t pk_ok[] = {0x82, 0x01, 0x00};
	static const uint8_t rp_req[] = {0x3A, 0x02, 0x10, 0x01};
	emit(pk_ok, sizeof(pk_ok));
	emit(rp_req, sizeof(rp_req));
}
