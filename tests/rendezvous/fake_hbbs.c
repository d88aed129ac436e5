/* *** TEST DOUBLE *** -- NOT a rendezvous or relay server for real use.
 *
 * fake_hbbs: a small stand-in for RustDesk's open-source hbbs + hbbr, for
 * kvmdesk's tests on loopback only. Written from the server-side parts of
 * spec/rustdesk-connection.md (§4.3 registration, §5.3-§5.6 brokering,
 * §5.7 relay pairing, §6.9 signing IdPk), not from the real server's code.
 * It has no rate limits worth the name, no security, no persistence beyond a
 * tiny text file, and it trusts everyone.
 *
 * It prints one line per protocol event on stdout ("EVENT key=value ...")
 * so tests can check what the device did. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sodium.h>

#include "addr_mangle.h"
#include "frame_codec.h"
#include "netaddr.h"
#include "rendezvous.pb-c.h"
#include "signed_id.h"

#define PEERS_MAX 64
#define CLIENTS_MAX 64
#define MSG_MAX 4096
#define REG_TIMEOUT_MS 30000
#define RELAY_PARK_S 30

struct peer {
	bool used;
	bool in_memory;           /* hbbs' memory; the db survives restarts */
	char id[64];
	uint8_t uuid[128];
	size_t uuid_len;
	uint8_t pk[32];
	bool has_pk;
	struct sockaddr_storage addr; /* UDP address last registered from */
	int64_t last_reg_ms;
};

/* A TCP connection to hbbs that waits for an answer to forward. */
struct waiter {
	struct bufferevent *bev;
	struct sockaddr_storage addr;
};

struct relay_half {
	struct bufferevent *bev;
	char uuid[64];
	struct relay_half *partner;
	struct event *park_timer;
	bool first_done;
};

static struct {
	struct event_base *base;
	const char *bind_ip;
	int port;
	int relay_port;
	char relay_server[128];
	bool always_relay;
	bool dup_notices;
	bool garbage;
	bool no_nat_port;
	int force_pk_result;
	const char *relay_key;
	const char *db_path;
	uint8_t sk[64];
	uint8_t pk[32];
	char pk_b64[64];
	int udp_fd;
	struct peer peers[PEERS_MAX];
	struct waiter waiters[CLIENTS_MAX];
	struct relay_half *parked[CLIENTS_MAX];
	int config_serial;
	char config_servers[256];
} g = {.force_pk_result = -1};

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void emit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static bool same_ip(const struct sockaddr_storage *a,
		    const struct sockaddr_storage *b)
{
	char x[KD_ADDR_STR_MAX], y[KD_ADDR_STR_MAX];
	kd_sockaddr_ip((const struct sockaddr *)a, x);
	kd_sockaddr_ip((const struct sockaddr *)b, y);
	return strcmp(x, y) == 0;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	char x[KD_ADDR_STR_MAX], y[KD_ADDR_STR_MAX];
	kd_sockaddr_format((const struct sockaddr *)a, x);
	kd_sockaddr_format((const struct sockaddr *)b, y);
	return strcmp(x, y) == 0;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >>
			24) == 127;
	return a->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

/* ---- the "database" ---------------------------------------------------- */

static void db_save(void)
{
	if (!g.db_path)
		return;
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", g.db_path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (int i = 0; i < PEERS_MAX; i++) {
		struct peer *p = &g.peers[i];
		char u[260], k[70];
		if (!p->used || !p->has_pk)
			continue;
		hex(p->uuid, p->uuid_len, u);
		hex(p->pk, 32, k);
		fprintf(f, "%s %s %s\n", p->id, u, k);
	}
	fclose(f);
	rename(tmp, g.db_path);
}

static void db_load(void)
{
	FILE *f = g.db_path ? fopen(g.db_path, "r") : NULL;
	char id[64], u[260], k[70];
	int i = 0;
	if (!f)
		return;
	while (i < PEERS_MAX && fscanf(f, "%63s %259s %69s", id, u, k) == 3) {
		struct peer *p = &g.peers[i++];
		p->used = true;
		snprintf(p->id, sizeof(p->id), "%s", id);
		size_t ul;
		sodium_hex2bin(p->uuid, sizeof(p->uuid), u, strlen(u), NULL,
			       &ul, NULL);
		p->uuid_len = ul;
		sodium_hex2bin(p->pk, 32, k, strlen(k), NULL, NULL, NULL);
		p->has_pk = true;
	}
	fclose(f);
}

static struct peer *peer_find(const char *id, bool memory_only)
{
	for (int i = 0; i < PEERS_MAX; i++)
		if (g.peers[i].used && strcmp(g.peers[i].id, id) == 0 &&
		    (!memory_only || g.peers[i].in_memory))
			return &g.peers[i];
	return NULL;
}

static struct peer *peer_new(const char *id)
{
	for (int i = 0; i < PEERS_MAX; i++)
		if (!g.peers[i].used) {
			memset(&g.peers[i], 0, sizeof(g.peers[i]));
			g.peers[i].used = true;
			snprintf(g.peers[i].id, sizeof(g.peers[i].id), "%s",
				 id);
			return &g.peers[i];
		}
	return NULL;
}

/* spec §6.9: crypto_sign(IdPk{id, registered pk}) with our key, or empty. */
static size_t get_pk(const char *version, const char *id, uint8_t *out)
{
	struct peer *p = peer_find(id, false);
	if (!version[0] || !p || !p->has_pk)
		return 0;
	int n = kd_signed_id_sign(g.sk, id, p->pk, 32, out);
	return n > 0 ? (size_t)n : 0;
}

/* ---- sending ----------------------------------------------------------- */

static void udp_send(const struct sockaddr_storage *to,
		     Hbb__RendezvousMessage *m)
{
	uint8_t buf[MSG_MAX];
	size_t n = hbb__rendezvous_message__get_packed_size(m);
	if (n > sizeof(buf))
		return;
	hbb__rendezvous_message__pack(m, buf);
	sendto(g.udp_fd, buf, n, 0, (const struct sockaddr *)to,
	       to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in));
}

static void tcp_send(struct bufferevent *bev, Hbb__RendezvousMessage *m)
{
	uint8_t buf[MSG_MAX + 4];
	size_t n = hbb__rendezvous_message__get_packed_size(m);
	size_t hl = kd_frame_header_encode(n, buf);
	if (n > MSG_MAX)
		return;
	hbb__rendezvous_message__pack(m, buf + hl);
	bufferevent_write(bev, buf, hl + n);
}

/* PunchHole / FetchLocalAddr / RequestRelay to the device; twice with
 * --duplicate-notices, to exercise the device's 100 ms duplicate filter. */
static void notice_send(const struct sockaddr_storage *to,
			Hbb__RendezvousMessage *m)
{
	udp_send(to, m);
	if (g.dup_notices)
		udp_send(to, m);
}

/* ---- UDP registration (§4.3) ------------------------------------------ */

static void on_register_peer(const struct sockaddr_storage *from,
			     const Hbb__RegisterPeer *rp)
{
	if (!rp->id[0])
		return;
	struct peer *p = peer_find(rp->id, true);
	bool request_pk = true;
	if (p) {
		/* like hbbs: a loopback source never counts as a new IP */
		bool ip_change = !same_ip(&p->addr, from) && !is_loopback(from);
		request_pk = !p->has_pk || ip_change;
		if (!request_pk) {
			p->addr = *from;
			p->last_reg_ms = now_ms();
		}
	}
	char a[KD_ADDR_STR_MAX];
	kd_sockaddr_format((const struct sockaddr *)from, a);
	emit("REGISTER_PEER id=%s serial=%d from=%s request_pk=%d", rp->id,
	     rp->serial, a, request_pk);
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RegisterPeerResponse r = HBB__REGISTER_PEER_RESPONSE__INIT;
	r.request_pk = request_pk;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PEER_RESPONSE;
	m.register_peer_response = &r;
	udp_send(from, &m);
	if (g.garbage) {
		/* not a RendezvousMessage, then a PunchHole without address */
		static const uint8_t junk[] = {0xFF, 0xFF, 0xFF, 0x01};
		static const uint8_t no_addr[] = {0x4A, 0x02, 0x18, 0x01};
		sendto(g.udp_fd, junk, sizeof(junk), 0,
		       (const struct sockaddr *)from,
		       from->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in));
		sendto(g.udp_fd, no_addr, sizeof(no_addr), 0,
		       (const struct sockaddr *)from,
		       from->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in));
	}
	if (g.config_serial > rp->serial) {
		Hbb__RendezvousMessage cm = HBB__RENDEZVOUS_MESSAGE__INIT;
		Hbb__ConfigUpdate cu = HBB__CONFIG_UPDATE__INIT;
		char *list[1] = {g.config_servers};
		cu.serial = g.config_serial;
		cu.rendezvous_servers = list;
		cu.n_rendezvous_servers = 1;
		cm.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_CONFIGURE_UPDATE;
		cm.configure_update = &cu;
		udp_send(from, &cm);
		emit("CONFIG_UPDATE serial=%d servers=%s", g.config_serial,
		     g.config_servers);
	}
}

static const char *result_name(int r)
{
	static const char *names[] = {"OK", "1", "UUID_MISMATCH", "ID_EXISTS",
				      "TOO_FREQUENT", "INVALID_ID_FORMAT",
				      "NOT_SUPPORT", "SERVER_ERROR",
				      "NOT_DEPLOYED"};
	return r >= 0 && r <= 8 ? names[r] : "?";
}

static void on_register_pk(const struct sockaddr_storage *from,
			   const Hbb__RegisterPk *rp)
{
	if (!rp->uuid.len || !rp->pk.len)
		return;
	int result = HBB__REGISTER_PK_RESPONSE__RESULT__OK;
	struct peer *p = peer_find(rp->id, false);
	if (strlen(rp->id) < 6) {
		result = HBB__REGISTER_PK_RESPONSE__RESULT__UUID_MISMATCH;
	} else if (g.force_pk_result >= 0) {
		result = g.force_pk_result;
	} else if (p && p->uuid_len) {
		bool uuid_same = p->uuid_len == rp->uuid.len &&
				 memcmp(p->uuid, rp->uuid.data,
					rp->uuid.len) == 0;
		bool pk_same = rp->pk.len == 32 && p->has_pk &&
			       memcmp(p->pk, rp->pk.data, 32) == 0;
		if (!uuid_same ||
		    (p->in_memory && !same_ip(&p->addr, from) && !pk_same))
			result = HBB__REGISTER_PK_RESPONSE__RESULT__UUID_MISMATCH;
	}
	if (result == HBB__REGISTER_PK_RESPONSE__RESULT__OK) {
		if (!p)
			p = peer_new(rp->id);
		if (p && rp->pk.len == 32 && rp->uuid.len <= sizeof(p->uuid)) {
			bool changed = !p->in_memory || !p->has_pk ||
				       memcmp(p->pk, rp->pk.data, 32) != 0 ||
				       !same_ip(&p->addr, from);
			if (changed) {
				memcpy(p->uuid, rp->uuid.data, rp->uuid.len);
				p->uuid_len = rp->uuid.len;
				memcpy(p->pk, rp->pk.data, 32);
				p->has_pk = true;
				p->addr = *from;
				p->last_reg_ms = now_ms();
				p->in_memory = true;
				db_save();
			}
		}
	}
	char u[260], k[70];
	hex(rp->uuid.data, rp->uuid.len < 128 ? rp->uuid.len : 128, u);
	hex(rp->pk.data, rp->pk.len < 32 ? rp->pk.len : 32, k);
	emit("REGISTER_PK id=%s uuid=%s pk=%s result=%s", rp->id, u, k,
	     result_name(result));
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RegisterPkResponse r = HBB__REGISTER_PK_RESPONSE__INIT;
	r.result = result;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK_RESPONSE;
	m.register_pk_response = &r;
	udp_send(from, &m);
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[MSG_MAX];
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &len);
	if (n < 0)
		return;
	Hbb__RendezvousMessage *m =
		hbb__rendezvous_message__unpack(NULL, (size_t)n, buf);
	if (!m)
		return;
	if (m->union_case == HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PEER)
		on_register_peer(&from, m->register_peer);
	else if (m->union_case == HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK)
		on_register_pk(&from, m->register_pk);
	/* Everything else over UDP is ignored, like the real hbbs. */
	hbb__rendezvous_message__free_unpacked(m, NULL);
}

/* ---- TCP hbbs (§4.3 "Over TCP", §5) ------------------------------------ */

static struct waiter *waiter_find(const struct sockaddr_storage *a)
{
	for (int i = 0; i < CLIENTS_MAX; i++)
		if (g.waiters[i].bev && same_addr(&g.waiters[i].addr, a))
			return &g.waiters[i];
	return NULL;
}

static void waiter_drop(struct bufferevent *bev)
{
	for (int i = 0; i < CLIENTS_MAX; i++)
		if (g.waiters[i].bev == bev)
			g.waiters[i].bev = NULL;
}

static void waiter_add(struct bufferevent *bev,
		       const struct sockaddr_storage *a)
{
	for (int i = 0; i < CLIENTS_MAX; i++)
		if (!g.waiters[i].bev) {
			g.waiters[i].bev = bev;
			g.waiters[i].addr = *a;
			return;
		}
}

static void conn_close(struct bufferevent *bev)
{
	waiter_drop(bev);
	bufferevent_free(bev);
}

static void punch_failure(struct bufferevent *bev, int failure)
{
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__PunchHoleResponse r = HBB__PUNCH_HOLE_RESPONSE__INIT;
	r.failure = failure;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_RESPONSE;
	m.punch_hole_response = &r;
	tcp_send(bev, &m);
}

/* Returns true when the connection stays open for an answer. */
static bool on_punch_hole_request(struct bufferevent *bev,
				  const struct sockaddr_storage *from,
				  const Hbb__PunchHoleRequest *rq)
{
	struct peer *p = peer_find(rq->id, true);
	if (strcmp(rq->licence_key, g.pk_b64) != 0) {
		emit("PUNCH_HOLE_REQUEST id=%s result=LICENSE_MISMATCH", rq->id);
		punch_failure(bev, HBB__PUNCH_HOLE_RESPONSE__FAILURE__LICENSE_MISMATCH);
		return true;
	}
	if (!p) {
		emit("PUNCH_HOLE_REQUEST id=%s result=ID_NOT_EXIST", rq->id);
		punch_failure(bev, HBB__PUNCH_HOLE_RESPONSE__FAILURE__ID_NOT_EXIST);
		return true;
	}
	if (now_ms() - p->last_reg_ms >= REG_TIMEOUT_MS) {
		emit("PUNCH_HOLE_REQUEST id=%s result=OFFLINE", rq->id);
		punch_failure(bev, HBB__PUNCH_HOLE_RESPONSE__FAILURE__OFFLINE);
		return true;
	}
	uint8_t mangled[KD_ADDR_MANGLE_MAX];
	int n = kd_addr_mangle_encode((const struct sockaddr *)from, mangled);
	waiter_add(bev, from);
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	if (!g.always_relay && same_ip(from, &p->addr)) {
		Hbb__FetchLocalAddr fl = HBB__FETCH_LOCAL_ADDR__INIT;
		fl.socket_addr.data = mangled;
		fl.socket_addr.len = (size_t)n;
		fl.relay_server = g.relay_server;
		m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_FETCH_LOCAL_ADDR;
		m.fetch_local_addr = &fl;
		notice_send(&p->addr, &m);
		emit("PUNCH_HOLE_REQUEST id=%s result=FETCH_LOCAL_ADDR", rq->id);
		return true;
	}
	Hbb__PunchHole ph = HBB__PUNCH_HOLE__INIT;
	ph.socket_addr.data = mangled;
	ph.socket_addr.len = (size_t)n;
	ph.relay_server = g.relay_server;
	ph.nat_type = g.always_relay ? HBB__NAT_TYPE__SYMMETRIC : rq->nat_type;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE;
	m.punch_hole = &ph;
	notice_send(&p->addr, &m);
	emit("PUNCH_HOLE_REQUEST id=%s result=PUNCH_HOLE nat_type=%d", rq->id,
	     ph.nat_type);
	return true;
}

static bool on_request_relay(struct bufferevent *bev,
			     const struct sockaddr_storage *from,
			     Hbb__RequestRelay *rq)
{
	struct peer *p = peer_find(rq->id, true);
	if (!p) {
		emit("REQUEST_RELAY id=%s result=ID_NOT_EXIST", rq->id);
		return false;
	}
	uint8_t mangled[KD_ADDR_MANGLE_MAX];
	int n = kd_addr_mangle_encode((const struct sockaddr *)from, mangled);
	waiter_add(bev, from);
	ProtobufCBinaryData orig = rq->socket_addr;
	rq->socket_addr.data = mangled;
	rq->socket_addr.len = (size_t)n;
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	m.request_relay = rq;
	notice_send(&p->addr, &m);
	rq->socket_addr = orig;
	emit("REQUEST_RELAY id=%s uuid=%s forwarded", rq->id, rq->uuid);
	return true;
}

static void answer_client(const ProtobufCBinaryData *client_mangled,
			  Hbb__RendezvousMessage *m, const char *what)
{
	struct sockaddr_storage a;
	socklen_t len;
	if (kd_addr_mangle_decode(client_mangled->data, client_mangled->len,
				  &a, &len) < 0)
		return;
	struct waiter *w = waiter_find(&a);
	char s[KD_ADDR_STR_MAX];
	kd_sockaddr_format((struct sockaddr *)&a, s);
	if (!w) {
		emit("%s client=%s result=NO_CLIENT", what, s);
		return;
	}
	tcp_send(w->bev, m);
	emit("%s client=%s result=FORWARDED", what, s);
}

static void on_punch_hole_sent(const struct sockaddr_storage *from,
			       const Hbb__PunchHoleSent *phs)
{
	uint8_t mangled[KD_ADDR_MANGLE_MAX], sig[KD_SIGNED_ID_MAX];
	int n = kd_addr_mangle_encode((const struct sockaddr *)from, mangled);
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__PunchHoleResponse r = HBB__PUNCH_HOLE_RESPONSE__INIT;
	r.socket_addr.data = mangled;
	r.socket_addr.len = (size_t)n;
	r.pk.data = sig;
	r.pk.len = get_pk(phs->version, phs->id, sig);
	r.relay_server = phs->relay_server;
	r.union_case = HBB__PUNCH_HOLE_RESPONSE__UNION_NAT_TYPE;
	r.nat_type = phs->nat_type;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_RESPONSE;
	m.punch_hole_response = &r;
	char v[KD_ADDR_STR_MAX];
	kd_sockaddr_format((const struct sockaddr *)from, v);
	emit("PUNCH_HOLE_SENT id=%s version=%s from=%s nat_type=%d signed=%d",
	     phs->id, phs->version, v, phs->nat_type, r.pk.len > 0);
	answer_client(&phs->socket_addr, &m, "PUNCH_HOLE_RESPONSE");
}

static void on_local_addr(const Hbb__LocalAddr *la)
{
	uint8_t sig[KD_SIGNED_ID_MAX];
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__PunchHoleResponse r = HBB__PUNCH_HOLE_RESPONSE__INIT;
	r.socket_addr = la->local_addr;
	r.pk.data = sig;
	r.pk.len = get_pk(la->version, la->id, sig);
	r.relay_server = la->relay_server;
	r.union_case = HBB__PUNCH_HOLE_RESPONSE__UNION_IS_LOCAL;
	r.is_local = true;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_RESPONSE;
	m.punch_hole_response = &r;
	struct sockaddr_storage l;
	socklen_t len;
	char s[KD_ADDR_STR_MAX] = "?";
	if (kd_addr_mangle_decode(la->local_addr.data, la->local_addr.len, &l,
				  &len) == 0)
		kd_sockaddr_format((struct sockaddr *)&l, s);
	emit("LOCAL_ADDR id=%s version=%s local=%s signed=%d", la->id,
	     la->version, s, r.pk.len > 0);
	answer_client(&la->socket_addr, &m, "PUNCH_HOLE_RESPONSE");
}

static void on_relay_response(Hbb__RelayResponse *rr)
{
	uint8_t sig[KD_SIGNED_ID_MAX];
	ProtobufCBinaryData client = rr->socket_addr;
	char *orig_id = NULL;
	char id[64] = "";
	if (rr->union_case == HBB__RELAY_RESPONSE__UNION_ID) {
		orig_id = rr->id;
		snprintf(id, sizeof(id), "%s", rr->id);
		rr->union_case = HBB__RELAY_RESPONSE__UNION_PK;
		rr->pk.data = sig;
		rr->pk.len = get_pk(rr->version, id, sig);
	}
	emit("RELAY_RESPONSE id=%s uuid=%s relay=%s version=%s signed=%d", id,
	     rr->uuid, rr->relay_server, rr->version,
	     rr->union_case == HBB__RELAY_RESPONSE__UNION_PK && rr->pk.len > 0);
	rr->socket_addr.data = NULL;
	rr->socket_addr.len = 0;
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE;
	m.relay_response = rr;
	answer_client(&client, &m, "RELAY_RESPONSE_FORWARD");
	/* give the unpacked message back what it owns */
	rr->socket_addr = client;
	if (orig_id) {
		rr->union_case = HBB__RELAY_RESPONSE__UNION_ID;
		rr->id = orig_id;
	}
}

static void on_test_nat(struct bufferevent *bev,
			const struct sockaddr_storage *from, int which)
{
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__TestNatResponse r = HBB__TEST_NAT_RESPONSE__INIT;
	r.port = (int32_t)ntohs(((const struct sockaddr_in *)from)->sin_port);
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_TEST_NAT_RESPONSE;
	m.test_nat_response = &r;
	tcp_send(bev, &m);
	emit("TEST_NAT port=%d listener=%d", r.port, which);
}

struct conn {
	struct bufferevent *bev;
	struct sockaddr_storage from;
	int which; /* 0: hbbs port, 1: NAT port (port-1) */
	bool closing;
};

static void conn_free(struct conn *c)
{
	conn_close(c->bev);
	free(c);
}

static void on_conn_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->closing)
		conn_free(c);
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		uint8_t hdr[4];
		size_t avail = evbuffer_get_length(in), hl, pl;
		evbuffer_copyout(in, hdr, avail < 4 ? avail : 4);
		int rc = kd_frame_header_decode(hdr, avail < 4 ? avail : 4,
						MSG_MAX, &hl, &pl);
		if (rc < 0) {
			conn_free(c);
			return;
		}
		if (rc == KD_FRAME_INCOMPLETE || avail < hl + pl)
			return;
		uint8_t buf[MSG_MAX + 4];
		evbuffer_remove(in, buf, hl + pl);
		Hbb__RendezvousMessage *m =
			hbb__rendezvous_message__unpack(NULL, pl, buf + hl);
		if (!m) {
			conn_free(c);
			return;
		}
		bool keep = false;
		switch (m->union_case) {
		case HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_REQUEST:
			keep = c->which == 0 &&
			       on_punch_hole_request(bev, &c->from,
						     m->punch_hole_request);
			break;
		case HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY:
			keep = c->which == 0 &&
			       on_request_relay(bev, &c->from,
						m->request_relay);
			break;
		case HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_SENT:
			on_punch_hole_sent(&c->from, m->punch_hole_sent);
			break;
		case HBB__RENDEZVOUS_MESSAGE__UNION_LOCAL_ADDR:
			on_local_addr(m->local_addr);
			break;
		case HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE:
			on_relay_response(m->relay_response);
			break;
		case HBB__RENDEZVOUS_MESSAGE__UNION_TEST_NAT_REQUEST:
			on_test_nat(bev, &c->from, c->which);
			break;
		case HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK: {
			Hbb__RendezvousMessage r = HBB__RENDEZVOUS_MESSAGE__INIT;
			Hbb__RegisterPkResponse rr =
				HBB__REGISTER_PK_RESPONSE__INIT;
			rr.result = HBB__REGISTER_PK_RESPONSE__RESULT__NOT_SUPPORT;
			r.union_case =
				HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK_RESPONSE;
			r.register_pk_response = &rr;
			tcp_send(bev, &r);
			break;
		}
		default:
			break;
		}
		hbb__rendezvous_message__free_unpacked(m, NULL);
		if (!keep) {
			/* hbbs ends the connection after anything but the
			 * client's requests (§4.3); flush first. */
			c->closing = true;
			if (evbuffer_get_length(bufferevent_get_output(bev)) ==
			    0)
				conn_free(c);
			return;
		}
	}
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	c->which = (int)(intptr_t)arg;
	memcpy(&c->from, sa, (size_t)len);
	c->bev = bufferevent_socket_new(g.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, on_conn_read, on_conn_write, on_conn_event,
			  c);
	struct timeval tv = {30, 0};
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---- hbbr (§5.7) -------------------------------------------------------- */

static void half_free(struct relay_half *h)
{
	for (int i = 0; i < CLIENTS_MAX; i++)
		if (g.parked[i] == h)
			g.parked[i] = NULL;
	if (h->park_timer)
		event_free(h->park_timer);
	if (h->bev)
		bufferevent_free(h->bev);
	if (h->partner)
		h->partner->partner = NULL;
	free(h);
}

static void on_relay_read(struct bufferevent *bev, void *arg);

static void on_park_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct relay_half *h = arg;
	emit("RELAY_TIMEOUT uuid=%s", h->uuid);
	half_free(h);
}

static void pipe_to_partner(struct relay_half *h)
{
	struct evbuffer *in = bufferevent_get_input(h->bev);
	if (h->partner)
		bufferevent_write_buffer(h->partner->bev, in);
}

static void on_relay_read(struct bufferevent *bev, void *arg)
{
	struct relay_half *h = arg;
	if (h->first_done) {
		pipe_to_partner(h);
		return;
	}
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[4];
	size_t avail = evbuffer_get_length(in), hl, pl;
	evbuffer_copyout(in, hdr, avail < 4 ? avail : 4);
	int rc = kd_frame_header_decode(hdr, avail < 4 ? avail : 4, MSG_MAX,
					&hl, &pl);
	if (rc < 0) {
		half_free(h);
		return;
	}
	if (rc == KD_FRAME_INCOMPLETE || avail < hl + pl)
		return;
	uint8_t buf[MSG_MAX + 4];
	evbuffer_remove(in, buf, hl + pl);
	Hbb__RendezvousMessage *m =
		hbb__rendezvous_message__unpack(NULL, pl, buf + hl);
	if (!m || m->union_case != HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY ||
	    !m->request_relay->uuid[0] ||
	    (g.relay_key && strcmp(g.relay_key,
				   m->request_relay->licence_key) != 0)) {
		emit("RELAY_REJECT");
		if (m)
			hbb__rendezvous_message__free_unpacked(m, NULL);
		half_free(h);
		return;
	}
	snprintf(h->uuid, sizeof(h->uuid), "%s", m->request_relay->uuid);
	emit("RELAY_JOIN uuid=%s licence_key=%s", h->uuid,
	     m->request_relay->licence_key);
	hbb__rendezvous_message__free_unpacked(m, NULL);
	h->first_done = true;
	for (int i = 0; i < CLIENTS_MAX; i++) {
		struct relay_half *o = g.parked[i];
		if (o && strcmp(o->uuid, h->uuid) == 0) {
			g.parked[i] = NULL;
			event_del(o->park_timer);
			o->partner = h;
			h->partner = o;
			emit("RELAY_PAIRED uuid=%s", h->uuid);
			/* raw mode: whatever arrived behind RequestRelay */
			pipe_to_partner(o);
			pipe_to_partner(h);
			return;
		}
	}
	for (int i = 0; i < CLIENTS_MAX; i++)
		if (!g.parked[i]) {
			g.parked[i] = h;
			h->park_timer = evtimer_new(g.base, on_park_timeout, h);
			struct timeval tv = {RELAY_PARK_S, 0};
			evtimer_add(h->park_timer, &tv);
			return;
		}
	half_free(h);
}

static void on_relay_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay_half *h = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	struct relay_half *p = h->partner;
	emit("RELAY_CLOSED uuid=%s", h->uuid);
	half_free(h);
	if (p)
		half_free(p);
}

static void on_relay_accept(struct evconnlistener *l, evutil_socket_t fd,
			    struct sockaddr *sa, int len, void *arg)
{
	struct relay_half *h = calloc(1, sizeof(*h));
	h->bev = bufferevent_socket_new(g.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(h->bev, on_relay_read, NULL, on_relay_event, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
}

/* ---- setup -------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"fake_hbbs: *** TEST DOUBLE *** of RustDesk's hbbs + hbbr for "
		"kvmdesk's tests.\n"
		"NOT a server for real use: no security, no limits, loopback "
		"tests only.\n\n"
		"usage: fake_hbbs --port P [--relay-port R] [--bind IP]\n"
		"  [--key-file F] [--db F] [--relay-server HOST:PORT]\n"
		"  [--always-relay] [--duplicate-notices] [--garbage]\n"
		"  [--no-nat-port]\n"
		"  [--answer-pk RESULT_NUMBER]\n"
		"  [--relay-key KEY | --relay-key-is-pubkey]\n"
		"  [--config-update SERIAL:SERVER]\n"
		"UDP+TCP on P (registration, brokering), TCP on P-1 (NAT "
		"test), TCP on R (relay).\n"
		"Prints PUBKEY <base64> and READY, then one line per event.\n");
}

static int load_key(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char b64[200];
	if (f && fgets(b64, sizeof(b64), f)) {
		fclose(f);
		b64[strcspn(b64, "\r\n")] = '\0';
		if (sodium_base642bin(g.sk, 64, b64, strlen(b64), NULL, NULL,
				      NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
			memcpy(g.pk, g.sk + 32, 32);
			return 0;
		}
		return -EINVAL;
	}
	if (f)
		fclose(f);
	crypto_sign_keypair(g.pk, g.sk);
	if (path) {
		sodium_bin2base64(b64, sizeof(b64), g.sk, 64,
				  sodium_base64_VARIANT_ORIGINAL);
		f = fopen(path, "w");
		if (!f)
			return -errno;
		fprintf(f, "%s\n", b64);
		fclose(f);
	}
	return 0;
}

static struct evconnlistener *listen_tcp(int port, evconnlistener_cb cb,
					 void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128];
	snprintf(text, sizeof(text), strchr(g.bind_ip, ':') ? "[%s]:%d" : "%s:%d",
		 g.bind_ip, port);
	if (kd_sockaddr_parse(text, &ss, &len) < 0)
		return NULL;
	return evconnlistener_new_bind(g.base, cb, arg,
				       LEV_OPT_CLOSE_ON_FREE |
					       LEV_OPT_REUSEABLE,
				       64, (struct sockaddr *)&ss, (int)len);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(g.base, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"relay-port", required_argument, NULL, 'r'},
		{"bind", required_argument, NULL, 'b'},
		{"key-file", required_argument, NULL, 'k'},
		{"db", required_argument, NULL, 'd'},
		{"relay-server", required_argument, NULL, 's'},
		{"always-relay", no_argument, NULL, 'a'},
		{"duplicate-notices", no_argument, NULL, 'D'},
		{"garbage", no_argument, NULL, 'G'},
		{"no-nat-port", no_argument, NULL, 'N'},
		{"answer-pk", required_argument, NULL, 'x'},
		{"relay-key", required_argument, NULL, 'K'},
		{"relay-key-is-pubkey", no_argument, NULL, 'P'},
		{"config-update", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	g.bind_ip = "127.0.0.1";
	const char *key_file = NULL;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': g.port = atoi(optarg); break;
		case 'r': g.relay_port = atoi(optarg); break;
		case 'b': g.bind_ip = optarg; break;
		case 'k': key_file = optarg; break;
		case 'd': g.db_path = optarg; break;
		case 's': snprintf(g.relay_server, sizeof(g.relay_server), "%s", optarg); break;
		case 'a': g.always_relay = true; break;
		case 'D': g.dup_notices = true; break;
		case 'G': g.garbage = true; break;
		case 'N': g.no_nat_port = true; break;
		case 'x': g.force_pk_result = atoi(optarg); break;
		case 'K': g.relay_key = optarg; break;
		case 'P': g.relay_key = g.pk_b64; break;
		case 'c':
			if (sscanf(optarg, "%d:%255s", &g.config_serial,
				   g.config_servers) != 2) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (g.port < 2) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0 || load_key(key_file) < 0) {
		fprintf(stderr, "fake_hbbs: cannot load or create the key\n");
		return 1;
	}
	sodium_bin2base64(g.pk_b64, sizeof(g.pk_b64), g.pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	if (!g.relay_server[0] && g.relay_port)
		snprintf(g.relay_server, sizeof(g.relay_server),
			 strchr(g.bind_ip, ':') ? "[%s]:%d" : "%s:%d",
			 g.bind_ip, g.relay_port);
	db_load();
	signal(SIGPIPE, SIG_IGN);

	g.base = event_base_new();
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128];
	snprintf(text, sizeof(text), strchr(g.bind_ip, ':') ? "[%s]:%d" : "%s:%d",
		 g.bind_ip, g.port);
	if (kd_sockaddr_parse(text, &ss, &len) < 0)
		return 2;
	int one = 1;
	g.udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	setsockopt(g.udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(g.udp_fd, (struct sockaddr *)&ss, len) < 0) {
		perror("fake_hbbs: udp bind");
		return 1;
	}
	struct event *udp = event_new(g.base, g.udp_fd, EV_READ | EV_PERSIST,
				      on_udp, NULL);
	event_add(udp, NULL);
	struct evconnlistener *l1 = listen_tcp(g.port, on_accept, (void *)0);
	struct evconnlistener *l2 =
		g.no_nat_port ? NULL : listen_tcp(g.port - 1, on_accept, (void *)1);
	struct evconnlistener *l3 =
		g.relay_port ? listen_tcp(g.relay_port, on_relay_accept, NULL)
			     : NULL;
	if (!l1 || (!l2 && !g.no_nat_port) || (g.relay_port && !l3)) {
		perror("fake_hbbs: tcp listen");
		return 1;
	}
	struct event *sig = evsignal_new(g.base, SIGTERM, on_signal, NULL);
	struct event *sig2 = evsignal_new(g.base, SIGINT, on_signal, NULL);
	event_add(sig, NULL);
	event_add(sig2, NULL);
	emit("PUBKEY %s", g.pk_b64);
	emit("READY port=%d relay_port=%d", g.port, g.relay_port);
	event_base_dispatch(g.base);
	emit("STOPPED");
	return 0;
}
