/* rendezvousd against the stand-in hbbs/hbbr (fake_hbbs, a TEST DOUBLE), on
 * loopback: registration, re-registration, request_pk, restarts of either
 * side, refusals, and the punch, LAN and relay paths up to the socket that
 * reaches sessiond (a fake hand-off listener here). Each case runs as its
 * own meson test (CK_RUN_CASE). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "addr_mangle.h"
#include "harness.h"
#include "netaddr.h"
#include "signed_id.h"

static struct h_env env, env2;
static char dev_id[64], dev_uuid[200];
static uint8_t dev_pk[32];

static void hexs(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void load_identity(void)
{
	char path[400], b64[100];
	snprintf(path, sizeof(path), "%s/id", env.state);
	h_read_file(path, dev_id, sizeof(dev_id));
	snprintf(path, sizeof(path), "%s/uuid", env.state);
	h_read_file(path, dev_uuid, sizeof(dev_uuid));
	snprintf(path, sizeof(path), "%s/public_key", env.state);
	h_read_file(path, b64, sizeof(b64));
	ck_assert_int_eq(sodium_base642bin(dev_pk, 32, b64, strlen(b64), NULL,
					   NULL, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
}

static void wait_registered(int nth)
{
	char needle[128];
	snprintf(needle, sizeof(needle), "REGISTER_PEER id=%s", dev_id);
	ck_assert_msg(h_wait_lines(env.hbbs.log, "request_pk=0", nth, 10000) > 0,
		      "the device did not register");
	ck_assert_int_ge(h_count_lines(env.hbbs.log, needle), nth);
}

/* Starts fake hbbs/hbbr + rendezvousd and waits for registration. */
static void start_all(const char *name, const char *const *hbbs_extra,
		      const char *rdv_extra)
{
	h_env_init(&env, name, rdv_extra);
	load_identity();
	h_start_hbbs(&env, hbbs_extra);
	h_start_rdv(&env);
}

static void teardown(void)
{
	h_env_fini(&env);
	h_env_fini(&env2);
}

/* The signed IdPk hbbs hands a client must carry our identity key. */
static void check_signed_pk(const ProtobufCBinaryData *pk)
{
	uint8_t hbbs_pk[32], got[32];
	ck_assert_int_eq(sodium_base642bin(hbbs_pk, 32, env.hbbs_pk,
					   strlen(env.hbbs_pk), NULL, NULL,
					   NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	ck_assert_msg(pk->len > 0, "hbbs did not sign our key (empty pk)");
	ck_assert_int_eq(kd_signed_id_verify(hbbs_pk, pk->data, pk->len, dev_id,
					     got),
			 0);
	ck_assert_mem_eq(got, dev_pk, 32);
}

/* ---- registration -------------------------------------------------------- */

START_TEST(registers_and_refreshes)
{
	h_env_init(&env, "register", NULL);
	load_identity();
	h_notify_listen(&env);
	h_start_hbbs(&env, NULL);
	h_start_rdv(&env);
	int sess = h_sessiond_listen(&env);
	wait_registered(1);

	/* RegisterPk carries the persisted uuid and identity key. */
	char line[1024], want[300];
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PK id=", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, dev_id));
	hexs((const uint8_t *)dev_uuid, strlen(dev_uuid), want);
	ck_assert_ptr_nonnull(strstr(line, want));
	hexs(dev_pk, 32, want);
	ck_assert_ptr_nonnull(strstr(line, want));
	ck_assert_ptr_nonnull(strstr(line, "result=OK"));

	/* One RegisterPeer per interval (1 s here), none in bursts. */
	int before = h_count_lines(env.hbbs.log, "REGISTER_PEER");
	sleep(4);
	int after = h_count_lines(env.hbbs.log, "REGISTER_PEER");
	ck_assert_int_ge(after - before, 3);
	ck_assert_int_le(after - before, 6);
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PEER", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "serial=3"));
	/* Only one RegisterPk: the key stays confirmed. */
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "REGISTER_PK"), 1);

	/* Status on the control socket and in the log. */
	char v[400], state[1024];
	ck_assert(h_ctl_status(&env, "server.0.registered", v, sizeof(v),
			       state, sizeof(state)));
	ck_assert_str_eq(v, "yes");
	ck_assert_ptr_nonnull(strstr(state, "registered as"));
	ck_assert(h_ctl_status(&env, "server.0.nat_type", v, sizeof(v), NULL,
			       0));
	ck_assert_str_eq(v, "asymmetric");
	ck_assert(h_ctl_status(&env, "id", v, sizeof(v), NULL, 0));
	ck_assert_str_eq(v, dev_id);
	ck_assert(h_ctl_status(&env, "server.0.last_contact", v, sizeof(v),
			       NULL, 0));
	ck_assert_int_gt(atoll(v), 0);
	ck_assert_int_eq(h_count_lines(env.rdv.log,
				       "registered with rendezvous server"),
			 1);
	/* systemd hears READY and a STATUS that says we are registered. */
	char notes[4096];
	h_notify_read(&env, notes, sizeof(notes));
	ck_assert_ptr_nonnull(strstr(notes, "READY=1"));
	ck_assert_ptr_nonnull(strstr(notes, "STATUS=registered as"));
	close(sess);
}
END_TEST

START_TEST(survives_server_restart)
{
	start_all("hbbs_restart", NULL, NULL);
	wait_registered(1);
	h_stop(&env.hbbs);
	ck_assert_msg(h_wait_lines(env.rdv.log, "registration with rendezvous "
				   "server", 1, 20000) > 0,
		      "registration loss not logged");
	char v[400];
	ck_assert(h_ctl_status(&env, "server.0.registered", v, sizeof(v), NULL,
			       0));
	ck_assert_str_eq(v, "no");

	/* hbbs comes back with an empty memory: it asks for our key
	 * (request_pk), we answer with the same uuid and key, it accepts. */
	h_start_hbbs(&env, NULL);
	ck_assert_msg(h_wait_lines(env.hbbs.log, "request_pk=1", 1, 40000) > 0,
		      "no RegisterPeer after the server came back");
	ck_assert(h_wait_lines(env.hbbs.log, "result=OK", 2, 10000) > 0);
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "UUID_MISMATCH"), 0);
	ck_assert(h_wait_lines(env.rdv.log, "registered with rendezvous server",
			       2, 10000) > 0);
	ck_assert(h_ctl_status(&env, "server.0.registered", v, sizeof(v), NULL,
			       0));
	ck_assert_str_eq(v, "yes");
}
END_TEST

START_TEST(keeps_identity_across_restart)
{
	start_all("rdv_restart", NULL, NULL);
	wait_registered(1);
	char first[1024], second[1024];
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PK", first,
			      sizeof(first)));
	h_stop(&env.rdv);
	h_start_rdv(&env);
	ck_assert(h_wait_lines(env.hbbs.log, "REGISTER_PK", 2, 10000) > 0);
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PK", second,
			      sizeof(second)));
	ck_assert_str_eq(first, second); /* same id, uuid, key; result OK */
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "UUID_MISMATCH"), 0);
	ck_assert(h_wait_lines(env.rdv.log, "registered with rendezvous server",
			       2, 10000) > 0);
}
END_TEST

START_TEST(uuid_mismatch_keeps_id)
{
	/* Another machine owns our id on the server. */
	h_env_init(&env, "uuid_mismatch", NULL);
	load_identity();
	char db[400], pkhex[70];
	snprintf(db, sizeof(db), "%s/hbbs.db", env.dir);
	FILE *f = fopen(db, "w");
	hexs(dev_pk, 32, pkhex);
	fprintf(f, "%s 6f74686572 %s\n", dev_id, pkhex);
	fclose(f);
	h_start_hbbs(&env, NULL);
	h_start_rdv(&env);
	ck_assert(h_wait_lines(env.hbbs.log, "result=UUID_MISMATCH", 1, 10000) >
		  0);
	ck_assert(h_wait_lines(env.rdv.log, "UUID_MISMATCH", 1, 5000) > 0);
	char line[2048];
	ck_assert(h_last_line(env.rdv.log, "refused to register", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "another machine"));
	ck_assert_ptr_nonnull(strstr(line, dev_id));
	char v[400], state[1024];
	ck_assert(h_ctl_status(&env, "server.0.state", v, sizeof(v), state,
			       sizeof(state)));
	ck_assert_ptr_nonnull(strstr(v, "UUID_MISMATCH"));
	sleep(3);
	/* No new id, no RegisterPeer for an id that is not ours here, no
	 * RegisterPk storm: the retry waits for its back-off. */
	char id_now[64], path[400];
	snprintf(path, sizeof(path), "%s/id", env.state);
	h_read_file(path, id_now, sizeof(id_now));
	ck_assert_str_eq(id_now, dev_id);
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "REGISTER_PEER"), 0);
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "REGISTER_PK"), 1);
}
END_TEST

START_TEST(too_frequent_is_explained)
{
	const char *extra[] = {"--answer-pk", "4", NULL};
	start_all("too_frequent", extra, NULL);
	ck_assert(h_wait_lines(env.rdv.log, "TOO_FREQUENT", 1, 10000) > 0);
	char line[2048];
	ck_assert(h_last_line(env.rdv.log, "refused to register", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "too many"));
	ck_assert_ptr_nonnull(strstr(line, "retrying in"));
}
END_TEST

START_TEST(direct_ip_only_idles)
{
	h_env_init(&env, "direct_only", NULL);
	FILE *f = fopen(env.conf, "w");
	fprintf(f, "[general]\nstate_dir = %s/none\nruntime_dir = %s\n"
		   "[rendezvous]\nservers =\n", env.dir, env.run);
	fclose(f);
	h_start_rdv(&env);
	char v[400], state[1024];
	ck_assert(h_ctl_status(&env, "servers", v, sizeof(v), state,
			       sizeof(state)));
	ck_assert_str_eq(v, "0");
	ck_assert_ptr_nonnull(strstr(state, "direct IP only"));
}
END_TEST

/* ---- connection paths ------------------------------------------------------ */

static Hbb__RendezvousMessage *punch_request(const char *bind_ip, int *conn)
{
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__PunchHoleRequest rq = HBB__PUNCH_HOLE_REQUEST__INIT;
	rq.id = dev_id;
	rq.nat_type = HBB__NAT_TYPE__ASYMMETRIC;
	rq.licence_key = env.hbbs_pk;
	rq.version = (char *)"1.4.9";
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_REQUEST;
	m.punch_hole_request = &rq;
	return h_hbbs_ask(&env, bind_ip, &m, 10000, conn);
}

static int connect_mangled(const ProtobufCBinaryData *b, const char *bind_ip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_addr_mangle_decode(b->data, b->len, &ss, &len), 0);
	ck_assert_int_ne(kd_addr_mangle_port(&ss), 0);
	(void)bind_ip;
	int fd = h_tcp_connect((struct sockaddr *)&ss, len, 10000);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Hands-off check: one socket reached "sessiond" with the right metadata
 * and carries bytes both ways with the client. */
static int expect_handoff(int sess_conn, const char *how, bool secure)
{
	char h[16], peer[64];
	bool sec;
	int fd = h_sessiond_recv(sess_conn, 10000, h, sizeof(h), peer,
				 sizeof(peer), &sec);
	ck_assert_msg(fd >= 0, "no socket handed to sessiond");
	ck_assert_str_eq(h, how);
	ck_assert_int_eq(sec, secure);
	ck_assert_msg(strstr(peer, "127.0.0.") || strstr(peer, "[::1]"),
		      "hand-off peer address %s", peer);
	return fd;
}

static void path_setup(const char *name, const char *const *hbbs_extra,
		       int *sess_listen, int *sess_conn)
{
	h_env_init(&env, name, NULL);
	load_identity();
	*sess_listen = h_sessiond_listen(&env);
	h_start_hbbs(&env, hbbs_extra);
	h_start_rdv(&env);
	*sess_conn = h_sessiond_accept(*sess_listen, 5000);
	ck_assert_int_ge(*sess_conn, 0);
	wait_registered(1);
	/* The NAT test decides between punch and relay: wait for it. */
	ck_assert(h_wait_lines(env.rdv.log, "NAT type", 1, 5000) > 0);
}

START_TEST(punch_path)
{
	/* Every notice arrives twice: the device acts on one. */
	const char *extra[] = {"--duplicate-notices", NULL};
	int sl, sc, hb;
	path_setup("punch", extra, &sl, &sc);
	/* Another public IP (127.0.0.2): hbbs sends PunchHole. */
	Hbb__RendezvousMessage *r = punch_request("127.0.0.2", &hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_RESPONSE);
	Hbb__PunchHoleResponse *ph = r->punch_hole_response;
	ck_assert_uint_gt(ph->socket_addr.len, 0);
	check_signed_pk(&ph->pk);
	ck_assert_int_eq(ph->union_case,
			 HBB__PUNCH_HOLE_RESPONSE__UNION_NAT_TYPE);
	ck_assert_int_eq(ph->nat_type, HBB__NAT_TYPE__ASYMMETRIC);
	char line[1024];
	ck_assert(h_last_line(env.hbbs.log, "PUNCH_HOLE_SENT", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "version=1.4.9"));
	int c = connect_mangled(&ph->socket_addr, "127.0.0.2");
	int s = expect_handoff(sc, "punch", true);
	ck_assert(h_pipe_check(c, s, "SignedId-then-Hash"));
	ck_assert(h_wait_lines(env.rdv.log, "punch connection for client", 1,
			       2000) > 0);
	usleep(300000);
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "PUNCH_HOLE_SENT"), 1);
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
}
END_TEST

START_TEST(lan_path)
{
	int sl, sc, hb;
	path_setup("lan", NULL, &sl, &sc);
	/* Same public IP as the device: hbbs sends FetchLocalAddr. */
	Hbb__RendezvousMessage *r = punch_request("127.0.0.1", &hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_RESPONSE);
	Hbb__PunchHoleResponse *ph = r->punch_hole_response;
	ck_assert_int_eq(ph->union_case,
			 HBB__PUNCH_HOLE_RESPONSE__UNION_IS_LOCAL);
	ck_assert(ph->is_local);
	check_signed_pk(&ph->pk);
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "LOCAL_ADDR id="), 1);
	int c = connect_mangled(&ph->socket_addr, NULL);
	int s = expect_handoff(sc, "lan", true);
	ck_assert(h_pipe_check(c, s, "lan-bytes"));
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
}
END_TEST

static int relay_join(const char *uuid)
{
	struct sockaddr_storage a;
	socklen_t alen;
	char text[128];
	snprintf(text, sizeof(text),
		 strchr(env.host, ':') ? "[%s]:%d" : "%s:%d", env.host,
		 env.relay_port);
	ck_assert_int_eq(kd_sockaddr_parse(text, &a, &alen), 0);
	int fd = h_tcp_connect((struct sockaddr *)&a, alen, 2000);
	ck_assert_int_ge(fd, 0);
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RequestRelay rq = HBB__REQUEST_RELAY__INIT;
	rq.uuid = (char *)uuid;
	rq.id = dev_id;
	rq.licence_key = env.hbbs_pk;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	m.request_relay = &rq;
	ck_assert_int_eq(h_send_frame(fd, &m), 0);
	return fd;
}

static bool read_text(int fd, const char *text)
{
	char buf[128] = {0};
	size_t len = strlen(text), got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return memcmp(buf, text, len) == 0;
}

START_TEST(relay_path)
{
	/* hbbs forces the relay (as with a symmetric NAT on either side). */
	const char *extra[] = {"--always-relay", "--relay-key-is-pubkey",
			       NULL};
	int sl, sc, hb;
	path_setup("relay", extra, &sl, &sc);
	Hbb__RendezvousMessage *r = punch_request("127.0.0.2", &hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE);
	Hbb__RelayResponse *rr = r->relay_response;
	ck_assert_int_eq(rr->union_case, HBB__RELAY_RESPONSE__UNION_PK);
	check_signed_pk(&rr->pk);
	ck_assert_int_eq(strlen(rr->uuid), 36);
	char want_relay[64];
	snprintf(want_relay, sizeof(want_relay), "127.0.0.1:%d", env.relay_port);
	ck_assert_str_eq(rr->relay_server, want_relay);
	ck_assert_str_eq(rr->version, "1.4.9");

	/* The device joined hbbr and handed its end over before the client
	 * arrived; what sessiond sends first (SignedId) waits in hbbr. */
	int s = expect_handoff(sc, "relay", true);
	ck_assert_int_eq(write(s, "early-SignedId", 14), 14);
	ck_assert(h_wait_lines(env.hbbs.log, "RELAY_JOIN", 1, 3000) > 0);
	char line[512];
	ck_assert(h_last_line(env.hbbs.log, "RELAY_JOIN", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, rr->uuid));
	/* [rendezvous] key reaches hbbr as licence_key (hbbr checks it). */
	char want_key[128];
	snprintf(want_key, sizeof(want_key), "licence_key=%s", env.hbbs_pk);
	ck_assert_ptr_nonnull(strstr(line, want_key));
	int c = relay_join(rr->uuid);
	ck_assert(read_text(c, "early-SignedId"));
	ck_assert(h_pipe_check(c, s, "through-the-relay"));
	ck_assert(h_wait_lines(env.rdv.log, "via relay", 1, 2000) > 0);

	/* Restarting rendezvousd does not disturb the open connection. */
	h_stop(&env.rdv);
	ck_assert(h_pipe_check(c, s, "after-rendezvousd-stopped"));
	h_start_rdv(&env);
	ck_assert(h_pipe_check(c, s, "after-rendezvousd-restarted"));
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
}
END_TEST

START_TEST(relay_on_request)
{
	const char *extra[] = {"--duplicate-notices", NULL};
	int sl, sc, hb;
	path_setup("relay_request", extra, &sl, &sc);
	char relay[64];
	snprintf(relay, sizeof(relay), "127.0.0.1:%d", env.relay_port);
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RequestRelay rq = HBB__REQUEST_RELAY__INIT;
	const char *uuid = "0b3e4a6c-1111-4222-8333-444455556666";
	rq.id = dev_id;
	rq.uuid = (char *)uuid;
	rq.relay_server = relay;
	rq.secure = true;
	rq.licence_key = env.hbbs_pk;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	m.request_relay = &rq;
	Hbb__RendezvousMessage *r = h_hbbs_ask(&env, "127.0.0.2", &m, 10000,
					       &hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE);
	ck_assert_str_eq(r->relay_response->refuse_reason, "");
	int s = expect_handoff(sc, "relay", true);
	int c = relay_join(uuid);
	ck_assert(h_pipe_check(c, s, "client-initiated-relay"));
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "RELAY_RESPONSE id="), 1);
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
}
END_TEST

START_TEST(sessiond_restart)
{
	int sl, sc, hb;
	path_setup("sessiond_restart", NULL, &sl, &sc);
	/* sessiond goes away and comes back: rendezvousd reconnects. */
	close(sc);
	close(sl);
	char path[400];
	snprintf(path, sizeof(path), "%s/sessiond.sock", env.run);
	unlink(path);
	ck_assert(h_wait_lines(env.rdv.log, "lost the hand-off connection",
			       1, 3000) > 0);
	sl = h_sessiond_listen(&env);
	sc = h_sessiond_accept(sl, 8000);
	ck_assert_msg(sc >= 0, "rendezvousd did not reconnect to sessiond");
	Hbb__RendezvousMessage *r = punch_request("127.0.0.2", &hb);
	ck_assert_ptr_nonnull(r);
	int c = connect_mangled(&r->punch_hole_response->socket_addr, NULL);
	int s = expect_handoff(sc, "punch", true);
	ck_assert(h_pipe_check(c, s, "after-sessiond-restart"));
	char v[64];
	ck_assert(h_ctl_status(&env, "handed_off", v, sizeof(v), NULL, 0));
	ck_assert_str_eq(v, "1");
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
}
END_TEST

/* Some machines have no IPv6, not even on lo: nothing to test there. */
static bool loopback_v6_available(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

START_TEST(ipv6_lan_falls_back_to_relay)
{
	int sl, sc, hb;
	if (!loopback_v6_available()) {
		fprintf(stderr, "SKIP ipv6: no IPv6 on the loopback interface\n");
		return;
	}
	h_env_init(&env, "ipv6", NULL);
	h_env_use_v6(&env);
	load_identity();
	sl = h_sessiond_listen(&env);
	h_start_hbbs(&env, NULL);
	h_start_rdv(&env);
	sc = h_sessiond_accept(sl, 5000);
	ck_assert_int_ge(sc, 0);
	wait_registered(1);
	char line[512];
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PEER", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "from=[::1]:"));
	/* Same address as the device: hbbs asks for the LAN address, which
	 * needs IPv4 (spec §5.4 step 2), so the device relays instead. */
	Hbb__RendezvousMessage *r = punch_request(NULL, &hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE);
	check_signed_pk(&r->relay_response->pk);
	int s = expect_handoff(sc, "relay", true);
	int c = relay_join(r->relay_response->uuid);
	ck_assert(h_pipe_check(c, s, "over-ipv6"));
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
	close(sc);
	close(sl);
}
END_TEST

START_TEST(two_servers_one_down)
{
	h_env_init(&env2, "second_server", NULL);
	h_env_init(&env, "two_servers", NULL);
	load_identity();
	snprintf(env.servers, sizeof(env.servers),
		 "127.0.0.1:%d, 127.0.0.1:%d", env.port, env2.port);
	h_write_conf(&env);
	h_start_hbbs(&env, NULL);
	h_start_rdv(&env);
	wait_registered(1);
	char v[400], state[1024];
	ck_assert(h_ctl_status(&env, "server.1.registered", v, sizeof(v),
			       state, sizeof(state)));
	ck_assert_str_eq(v, "no");
	ck_assert_ptr_nonnull(strstr(state, "1 of 2"));
	/* The second server comes up later: registration follows without a
	 * restart (it was being retried with back-off). */
	h_start_hbbs(&env2, NULL);
	ck_assert_msg(h_wait_lines(env2.hbbs.log, "request_pk=0", 1, 40000) >
			      0,
		      "no registration with the second server");
	ck_assert(h_wait_lines(env.rdv.log, "registered with rendezvous server",
			       2, 5000) > 0);
	ck_assert(h_ctl_status(&env, "server.1.registered", v, sizeof(v),
			       state, sizeof(state)));
	ck_assert_str_eq(v, "yes");
	ck_assert_ptr_nonnull(strstr(state, "2 of 2"));
}
END_TEST

START_TEST(config_update_moves_server)
{
	h_env_init(&env2, "moved_to", NULL);
	h_start_hbbs(&env2, NULL);
	h_env_init(&env, "config_update", NULL);
	load_identity();
	char cu[64];
	snprintf(cu, sizeof(cu), "5:127.0.0.1:%d", env2.port);
	const char *extra[] = {"--config-update", cu, NULL};
	h_start_hbbs(&env, extra);
	h_start_rdv(&env);
	ck_assert(h_wait_lines(env.hbbs.log, "CONFIG_UPDATE serial=5", 1,
			       10000) > 0);
	ck_assert_msg(h_wait_lines(env2.hbbs.log, "serial=5", 1, 10000) > 0,
		      "the device did not move to the announced server");
	ck_assert(h_wait_lines(env2.hbbs.log, "request_pk=0", 1, 10000) > 0);
	ck_assert(h_wait_lines(env.rdv.log, "configuration update", 1, 1000) >
		  0);
	char v[400];
	ck_assert(h_ctl_status(&env, "server.0.name", v, sizeof(v), NULL, 0));
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%d", env2.port);
	ck_assert_str_eq(v, want);
}
END_TEST

/* ---- server settings: kvmdeskctl server set, reload ---------------------- */

/* Runs kvmdeskctl -c env.conf ARGS; its stdout+stderr into out; exit code. */
static int run_ctl(const char *args, char *out, size_t cap)
{
	const char *b = getenv("KD_BUILD_DIR");
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "'%s/kvmdeskctl/kvmdeskctl' -c '%s' %s 2>&1",
		 b ? b : ".", env.conf, args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The RegisterPk that server e received carries our uuid and key. */
static void assert_same_identity(const struct h_env *e)
{
	char line[1024], want[300];
	ck_assert(h_wait_lines(e->hbbs.log, "REGISTER_PK id=", 1, 10000) > 0);
	ck_assert(h_last_line(e->hbbs.log, "REGISTER_PK id=", line,
			      sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, dev_id));
	hexs((const uint8_t *)dev_uuid, strlen(dev_uuid), want);
	ck_assert_msg(strstr(line, want), "another uuid: %s", line);
	hexs(dev_pk, 32, want);
	ck_assert_msg(strstr(line, want), "another key: %s", line);
	ck_assert_ptr_nonnull(strstr(line, "result=OK"));
}

/* No registration reaches e any more (register_interval is 1 s). */
static void assert_silent(const struct h_env *e)
{
	int before = h_count_lines(e->hbbs.log, "REGISTER_");
	sleep(3);
	ck_assert_int_eq(h_count_lines(e->hbbs.log, "REGISTER_"), before);
}

START_TEST(server_set_moves_registration)
{
	char out[4096], want[600];
	h_env_init(&env2, "server_b", NULL);
	h_start_hbbs(&env2, NULL);
	start_all("server_set", NULL, NULL);
	wait_registered(1);
	int sess = h_sessiond_listen(&env);

	snprintf(want, sizeof(want), "server set --servers 127.0.0.1:%d "
		 "--key '%s'", env2.port, env2.hbbs_pk);
	ck_assert_msg(run_ctl(want, out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(strstr(out, "rendezvousd: rendezvous settings reloaded"),
		      "%s", out);
	snprintf(want, sizeof(want), "servers 127.0.0.1:%d -> 127.0.0.1:%d",
		 env.port, env2.port);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "key changed"));
	/* One journal line saying what changed. */
	ck_assert_int_eq(h_count_lines(env.rdv.log, "settings reloaded"), 1);

	/* B gets RegisterPk and RegisterPeer with the same identity. */
	ck_assert_msg(h_wait_lines(env2.hbbs.log, "request_pk=0", 1, 10000) > 0,
		      "no registration with the new server");
	assert_same_identity(&env2);
	snprintf(want, sizeof(want), "REGISTER_PEER id=%s", dev_id);
	ck_assert_int_ge(h_count_lines(env2.hbbs.log, want), 1);
	/* A hears nothing more. */
	usleep(300 * 1000);
	assert_silent(&env);

	/* kvmdeskctl server --json shows the file and the live state. */
	ck_assert_int_eq(run_ctl("--json server", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "\"servers\":[\"127.0.0.1:%d\"]",
		 env2.port);
	ck_assert_msg(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "\"key\":\"%s\"", env2.hbbs_pk);
	ck_assert_msg(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want),
		 "\"servers\":[{\"name\":\"127.0.0.1:%d\",", env2.port);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_msg(strstr(out, "\"registered\":true"), "%s", out);
	ck_assert_msg(strstr(out, "\"up\":true"), "%s", out);
	char v[400];
	ck_assert(h_ctl_status(&env, "server.1.name", v, sizeof(v), NULL, 0));
	ck_assert_str_eq(v, "");

	/* server clear: direct IP only, B is let go too. */
	ck_assert_int_eq(run_ctl("server clear", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "-> none (direct IP only)"), "%s", out);
	usleep(300 * 1000);
	assert_silent(&env2);
	ck_assert(h_ctl_status(&env, "servers", v, sizeof(v), NULL, 0));
	ck_assert_str_eq(v, "0");
	close(sess);
}
END_TEST

/* Started for direct IP only, the device registers once a server is set,
 * with the identity it already has. */
START_TEST(server_set_from_direct_only)
{
	char out[4096], args[600];
	h_env_init(&env2, "direct_to_b", NULL);
	h_start_hbbs(&env2, NULL);
	h_env_init(&env, "from_direct", NULL);
	load_identity();
	env.servers[0] = '\0';
	h_write_conf(&env);
	h_start_rdv(&env);
	snprintf(args, sizeof(args), "--json server set --servers "
		 "127.0.0.1:%d --key '%s'", env2.port, env2.hbbs_pk);
	ck_assert_msg(run_ctl(args, out, sizeof(out)) == 0, "%s", out);
	ck_assert_msg(strstr(out, "\"reloaded\":true"), "%s", out);
	ck_assert_msg(strstr(out, "servers none (direct IP only) -> "), "%s",
		      out);
	ck_assert_msg(h_wait_lines(env2.hbbs.log, "request_pk=0", 1, 10000) > 0,
		      "no registration after leaving direct IP only");
	assert_same_identity(&env2);
}
END_TEST

/* An unusable file on SIGHUP keeps the registration that works; a good one
 * on SIGHUP is applied. */
START_TEST(reload_keeps_old_settings_on_bad_file)
{
	h_env_init(&env2, "hup_b", NULL);
	h_start_hbbs(&env2, NULL);
	start_all("reload_bad", NULL, NULL);
	wait_registered(1);
	static const char *const bad[] = {
		"[rendezvous]\nthis is not a key\n",
		"[rendezvous]\nservers = 127.0.0.1:1\n",
		NULL, /* no file at all */
	};
	for (int i = 0; i < 3; i++) {
		if (bad[i]) {
			FILE *f = fopen(env.conf, "w");
			ck_assert_ptr_nonnull(f);
			fprintf(f, "[general]\nstate_dir = %s\n"
				"runtime_dir = %s\n%s", env.state, env.run,
				bad[i]);
			fclose(f);
		} else {
			ck_assert_int_eq(unlink(env.conf), 0);
		}
		ck_assert_int_eq(kill(env.rdv.pid, SIGHUP), 0);
		ck_assert(h_wait_lines(env.rdv.log,
				       "configuration reload failed", i + 1,
				       5000) > 0);
		ck_assert_int_eq(h_count_lines(env.rdv.log, "settings reloaded"),
				 0);
		int before = h_count_lines(env.hbbs.log, "request_pk=0");
		ck_assert_msg(h_wait_lines(env.hbbs.log, "request_pk=0",
					   before + 2, 5000) > 0,
			      "the old registration stopped");
		char v[400];
		ck_assert(h_ctl_status(&env, "server.0.registered", v,
				       sizeof(v), NULL, 0));
		ck_assert_str_eq(v, "yes");
	}
	ck_assert_int_eq(kill(env.rdv.pid, 0), 0);

	/* The administrator fixes the file: SIGHUP applies it. */
	snprintf(env.servers, sizeof(env.servers), "127.0.0.1:%d", env2.port);
	h_write_conf(&env);
	ck_assert_int_eq(kill(env.rdv.pid, SIGHUP), 0);
	ck_assert(h_wait_lines(env.rdv.log, "settings reloaded", 1, 5000) > 0);
	ck_assert_msg(h_wait_lines(env2.hbbs.log, "request_pk=0", 1, 10000) > 0,
		      "no registration with the server from the fixed file");
	assert_same_identity(&env2);
}
END_TEST

/* Datagrams from anyone but hbbs are dropped; bad ones from hbbs are logged
 * once and change nothing. */
START_TEST(ignores_strangers_and_garbage)
{
	const char *extra[] = {"--garbage", NULL};
	int sl, sc;
	path_setup("strangers", extra, &sl, &sc);
	char line[512];
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PEER", line,
			      sizeof(line)));
	char *from = strstr(line, "from=127.0.0.1:");
	ck_assert_ptr_nonnull(from);
	int dev_port = atoi(from + strlen("from=127.0.0.1:"));

	/* A PunchHole for the §5.1 example address from a stranger. */
	static const uint8_t ph[] = {
		0x4A, 0x1E, 0x0A, 0x0A, 0x9A, 0x1E, 0xF1, 0xAC, 0x68, 0x24,
		0x86, 0xAE, 0x4A, 0x33, 0x12, 0x0E, 0x72, 0x73, 0x2E, 0x65,
		0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0x2E, 0x63, 0x6F, 0x6D,
		0x18, 0x01};
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)dev_port)};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(sendto(u, ph, sizeof(ph), 0, (struct sockaddr *)&to,
				sizeof(to)),
			 (ssize_t)sizeof(ph));
	close(u);
	ck_assert(h_wait_lines(env.rdv.log, "dropping a datagram from", 1,
			       3000) > 0);
	sleep(2);
	ck_assert_int_eq(h_count_lines(env.rdv.log, "request for client"), 0);
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "PUNCH_HOLE_SENT"), 0);
	/* garbage after every answer: one warning, not one per datagram, and
	 * the registration holds */
	ck_assert(h_wait_lines(env.hbbs.log, "REGISTER_PEER", 4, 8000) > 0);
	ck_assert_int_eq(h_count_lines(env.rdv.log, "<warning> hbbs"), 1);
	ck_assert_int_ge(h_count_lines(env.rdv.log, "bad datagram"), 6);
	char v[64];
	ck_assert(h_ctl_status(&env, "server.0.registered", v, sizeof(v), NULL,
			       0));
	ck_assert_str_eq(v, "yes");
	close(sc);
	close(sl);
}
END_TEST

/* After 4 unanswered registrations the socket is re-created (new local
 * port, name resolved again), like the real peer. */
START_TEST(recreates_socket_after_failures)
{
	start_all("recreate", NULL, NULL);
	wait_registered(1);
	char first[512];
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PEER", first,
			      sizeof(first)));
	sleep(4); /* at most once per 4 intervals (DNS_INTERVAL) */
	h_stop(&env.hbbs);
	ck_assert_msg(h_wait_lines(env.rdv.log, "opening a new socket", 1,
				   15000) > 0,
		      "socket not re-created");
	h_start_hbbs(&env, NULL);
	ck_assert(h_wait_lines(env.rdv.log, "registered with rendezvous server",
			       2, 15000) > 0);
	char second[512];
	ck_assert(h_last_line(env.hbbs.log, "REGISTER_PEER", second,
			      sizeof(second)));
	/* "from=127.0.0.1:PORT": a new socket, a new port */
	ck_assert_str_ne(strstr(first, "from="), strstr(second, "from="));
	ck_assert_int_eq(h_count_lines(env.hbbs.log, "UUID_MISMATCH"), 0);
}
END_TEST

/* [rendezvous] relay wins over what hbbs suggests, and relay_key reaches
 * hbbr as licence_key. */
START_TEST(relay_settings_from_config)
{
	int sl, sc, hb;
	h_env_init(&env, "relay_conf", NULL);
	snprintf(env.extra, sizeof(env.extra),
		 "relay = 127.0.0.1:%d\nrelay_key = s3cret", env.relay_port);
	h_write_conf(&env);
	load_identity();
	sl = h_sessiond_listen(&env);
	const char *extra[] = {"--always-relay", "--relay-server",
			       "127.0.0.1:9", "--relay-key", "s3cret", NULL};
	h_start_hbbs(&env, extra);
	h_start_rdv(&env);
	sc = h_sessiond_accept(sl, 5000);
	wait_registered(1);
	Hbb__RendezvousMessage *r = punch_request("127.0.0.2", &hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%d", env.relay_port);
	ck_assert_str_eq(r->relay_response->relay_server, want);
	int s = expect_handoff(sc, "relay", true);
	ck_assert(h_wait_lines(env.hbbs.log, "licence_key=s3cret", 1, 3000) >
		  0);
	/* the client joins with the same key */
	struct sockaddr_storage a;
	socklen_t alen;
	ck_assert_int_eq(kd_sockaddr_parse(want, &a, &alen), 0);
	int c = h_tcp_connect((struct sockaddr *)&a, alen, 2000);
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RequestRelay rq = HBB__REQUEST_RELAY__INIT;
	rq.uuid = r->relay_response->uuid;
	rq.licence_key = (char *)"s3cret";
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	m.request_relay = &rq;
	ck_assert_int_eq(h_send_frame(c, &m), 0);
	ck_assert(h_pipe_check(c, s, "relay-key-ok"));
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(c);
	close(s);
	close(hb);
}
END_TEST

/* The NAT test fails (no second port): retried with back-off, the type
 * stays unknown, and punching still works. */
START_TEST(nat_test_retries)
{
	const char *extra[] = {"--no-nat-port", NULL};
	start_all("nat_retry", extra, NULL);
	wait_registered(1);
	ck_assert(h_wait_lines(env.rdv.log, "NAT type test failed", 1, 5000) >
		  0);
	/* 1 s, then 3 s later: at least two attempts on the first port */
	ck_assert(h_wait_lines(env.hbbs.log, "listener=0", 2, 8000) > 0);
	ck_assert_int_eq(h_count_lines(env.rdv.log, "NAT type test failed"),
			 1);
	char v[64];
	ck_assert(h_ctl_status(&env, "server.0.nat_type", v, sizeof(v), NULL,
			       0));
	ck_assert_str_eq(v, "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rendezvousd");
	struct {
		const char *name;
		const TTest *test;
		int timeout;
	} cases[] = {
		{"register", registers_and_refreshes, 30},
		{"hbbs_restart", survives_server_restart, 90},
		{"rdv_restart", keeps_identity_across_restart, 30},
		{"uuid_mismatch", uuid_mismatch_keeps_id, 30},
		{"too_frequent", too_frequent_is_explained, 30},
		{"direct_only", direct_ip_only_idles, 20},
		{"punch", punch_path, 30},
		{"lan", lan_path, 30},
		{"relay", relay_path, 40},
		{"relay_request", relay_on_request, 30},
		{"sessiond_restart", sessiond_restart, 40},
		{"ipv6", ipv6_lan_falls_back_to_relay, 30},
		{"two_servers", two_servers_one_down, 90},
		{"config_update", config_update_moves_server, 30},
		{"server_set", server_set_moves_registration, 60},
		{"server_from_direct", server_set_from_direct_only, 30},
		{"reload_bad", reload_keeps_old_settings_on_bad_file, 60},
		{"strangers", ignores_strangers_and_garbage, 30},
		{"recreate", recreates_socket_after_failures, 60},
		{"relay_conf", relay_settings_from_config, 30},
		{"nat_retry", nat_test_retries, 30},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, NULL, teardown);
		tcase_set_timeout(tc, cases[i].timeout);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
