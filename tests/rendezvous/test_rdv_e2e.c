/* End to end on loopback with the real daemons: rendezvousd registers with
 * the stand-in hbbs (fake_hbbs, a TEST DOUBLE), the RustDesk test client
 * asks hbbs for the device by id, meets it through the stand-in hbbr (or a
 * TCP punch), verifies SignedId against the key hbbs signed, encrypts, and
 * logs in to the real sessiond. Restarting rendezvousd leaves the session
 * alone and registration resumes with the same uuid and key. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "addr_mangle.h"
#include "harness.h"      /* tests/rendezvous: fake_hbbs, logs */
#include "netaddr.h"
#include "rd_client.h"
#include "signed_id.h"

#define PASSWORD "Passw0rd!"

#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#define T_MS 8000

/* tests/client/harness.h, included by name to avoid the clash with ours */
#include "../client/harness.h"

static struct kd_harness H;
static struct h_env E;        /* only the fake_hbbs half is used */
static uint8_t hbbs_sk[64], hbbs_pk[32];

static void setup_all(bool always_relay)
{
	char extra[1024], pk_b64[64], sk_b64[128], key_path[400];
	int port = h_pick_ports();

	crypto_sign_keypair(hbbs_pk, hbbs_sk);
	sodium_bin2base64(pk_b64, sizeof(pk_b64), hbbs_pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sk_b64, sizeof(sk_b64), hbbs_sk, 64,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(extra, sizeof(extra),
		 "[video]\nwidth = 1280\nheight = 720\n\n[rendezvous]\n"
		 "servers = 127.0.0.1:%d\nkey = %s\nregister_interval = 1\n",
		 port, pk_b64);
	ck_assert_int_eq(kd_harness_setup(&H, extra, PASSWORD), 0);

	memset(&E, 0, sizeof(E));
	h_env_track(&E);
	E.notify_fd = -1;
	E.port = port;
	E.relay_port = port + 1;
	snprintf(E.dir, sizeof(E.dir), "%s", H.dir);
	snprintf(E.host, sizeof(E.host), "127.0.0.1");
	snprintf(E.conf, sizeof(E.conf), "%s/unused-rdv.conf", H.dir);
	snprintf(E.hbbs.log, sizeof(E.hbbs.log), "%s/hbbs.log", H.dir);
	snprintf(key_path, sizeof(key_path), "%s/hbbs.key", H.dir);
	FILE *f = fopen(key_path, "w");
	fprintf(f, "%s\n", sk_b64);
	fclose(f);
	const char *relay_extra[] = {"--always-relay", "--relay-key-is-pubkey",
				     NULL};
	h_start_hbbs(&E, always_relay ? relay_extra : NULL);
	ck_assert_str_eq(E.hbbs_pk, pk_b64);

	ck_assert_int_gt(kd_harness_start(&H, "sessiond"), 0);
	ck_assert_int_eq(kd_harness_wait_file(
				 kd_harness_path(&H, "run/sessiond.sock"), 5000),
			 0);
	ck_assert_int_gt(kd_harness_start(&H, "rendezvousd"), 0);
	ck_assert_msg(h_wait_lines(E.hbbs.log, "request_pk=0", 1, 10000) > 0,
		      "rendezvousd did not register");
	/* the NAT test decides punch vs relay */
	ck_assert(h_wait_lines(E.hbbs.log, "listener=1", 1, 5000) > 0);
}

static void teardown(void)
{
	if (getenv("KD_TEST_VERBOSE")) {
		kd_harness_dump_log(&H, "rendezvousd");
		kd_harness_dump_log(&H, "sessiond");
	}
	h_stop(&E.hbbs);
	kd_harness_cleanup(&H);
}

/* PunchHoleRequest from 127.0.0.2 (another "public IP" than the box). */
static Hbb__RendezvousMessage *ask_hbbs(int *conn)
{
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__PunchHoleRequest rq = HBB__PUNCH_HOLE_REQUEST__INIT;
	rq.id = H.device_id;
	rq.nat_type = HBB__NAT_TYPE__ASYMMETRIC;
	rq.licence_key = E.hbbs_pk;
	rq.version = (char *)"1.4.9";
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_REQUEST;
	m.punch_hole_request = &rq;
	return h_hbbs_ask(&E, "127.0.0.2", &m, T_MS, conn);
}

/* What the real client does with PunchHoleResponse.pk / RelayResponse.pk
 * (spec §6.3 step 1): the device key, vouched for by hbbs. */
static void verify_signed_pk(const ProtobufCBinaryData *pk, uint8_t out[32])
{
	ck_assert_uint_gt(pk->len, 0);
	ck_assert_int_eq(kd_signed_id_verify(hbbs_pk, pk->data, pk->len,
					     H.device_id, out),
			 0);
	ck_assert_mem_eq(out, H.pubkey, 32);
}

static struct rd_client *secure_login(int fd, const uint8_t identity[32])
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *m;
	rd_client_opts_default(&o);
	o.dialed = H.device_id;
	o.secure = true;
	o.identity_pk = identity;
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	ck_assert_int_eq(rd_client_handshake(c, T_MS), 0);
	ck_assert(rd_client_signature_ok(c));
	ck_assert(rd_client_encrypted(c));
	ck_assert_int_eq(rd_client_login(c, PASSWORD, T_MS, &m), 0);
	ck_assert_int_eq(m->login_response->union_case,
			 HBB__LOGIN_RESPONSE__UNION_PEER_INFO);
	ck_assert_int_eq(m->login_response->peer_info->displays[0]->width,
			 1280);
	hbb__message__free_unpacked(m, NULL);
	return c;
}

static void still_alive(struct rd_client *c)
{
	int err = 0;
	Hbb__Message *m = rd_client_recv_type(c, HBB__MESSAGE__UNION_TEST_DELAY,
					      T_MS, &err);
	ck_assert_msg(m != NULL, "session went quiet (%d)", err);
	hbb__message__free_unpacked(m, NULL);
}

START_TEST(relay_login_survives_rendezvousd_restart)
{
	int hb;
	uint8_t identity[32];
	setup_all(true);
	double t0 = now_s();
	Hbb__RendezvousMessage *r = ask_hbbs(&hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE);
	Hbb__RelayResponse *rr = r->relay_response;
	ck_assert_int_eq(rr->union_case, HBB__RELAY_RESPONSE__UNION_PK);
	verify_signed_pk(&rr->pk, identity);

	/* Both meet at hbbr (spec §5.5): the client joins with the uuid. */
	struct sockaddr_storage a;
	socklen_t alen;
	char relay[64];
	snprintf(relay, sizeof(relay), "127.0.0.1:%d", E.relay_port);
	ck_assert_str_eq(rr->relay_server, relay);
	ck_assert_int_eq(kd_sockaddr_parse(relay, &a, &alen), 0);
	int fd = h_tcp_connect((struct sockaddr *)&a, alen, 10000);
	ck_assert_int_ge(fd, 0);
	Hbb__RendezvousMessage j = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RequestRelay rq = HBB__REQUEST_RELAY__INIT;
	rq.id = H.device_id;
	rq.uuid = rr->uuid;
	rq.licence_key = E.hbbs_pk;
	j.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	j.request_relay = &rq;
	ck_assert_int_eq(h_send_frame(fd, &j), 0);

	struct rd_client *c = secure_login(fd, identity);
	/* a figure, not a check: request to PeerInfo through the relay */
	printf("relay: PunchHoleRequest to PeerInfo in %.1f ms\n",
	       (now_s() - t0) * 1e3);
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(hb);

	/* rendezvousd restarts: the session lives in sessiond. */
	char first[1024], second[1024];
	ck_assert(h_last_line(E.hbbs.log, "REGISTER_PK", first, sizeof(first)));
	ck_assert_int_eq(kd_harness_stop(&H, "rendezvousd", 5000), 0);
	still_alive(c);
	ck_assert_int_gt(kd_harness_start(&H, "rendezvousd"), 0);
	ck_assert(h_wait_lines(E.hbbs.log, "REGISTER_PK", 2, 10000) > 0);
	ck_assert(h_last_line(E.hbbs.log, "REGISTER_PK", second,
			      sizeof(second)));
	ck_assert_str_eq(first, second);
	ck_assert_int_eq(h_count_lines(E.hbbs.log, "UUID_MISMATCH"), 0);
	still_alive(c);
	rd_client_free(c);
}
END_TEST

START_TEST(punch_login)
{
	int hb;
	uint8_t identity[32];
	setup_all(false);
	double t0 = now_s();
	Hbb__RendezvousMessage *r = ask_hbbs(&hb);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->union_case,
			 HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_RESPONSE);
	Hbb__PunchHoleResponse *ph = r->punch_hole_response;
	verify_signed_pk(&ph->pk, identity);
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_addr_mangle_decode(ph->socket_addr.data,
					       ph->socket_addr.len, &ss, &len),
			 0);
	char ip[KD_ADDR_STR_MAX];
	kd_sockaddr_ip((struct sockaddr *)&ss, ip);
	int fd = rd_client_tcp_connect(ip, kd_addr_mangle_port(&ss),
				       "127.0.0.2", T_MS);
	ck_assert_int_ge(fd, 0);
	struct rd_client *c = secure_login(fd, identity);
	printf("punch: PunchHoleRequest to PeerInfo in %.1f ms\n",
	       (now_s() - t0) * 1e3);
	still_alive(c);
	rd_client_free(c);
	hbb__rendezvous_message__free_unpacked(r, NULL);
	close(hb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rendezvous-e2e");
	TCase *tc = tcase_create("e2e");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, relay_login_survives_rendezvousd_restart);
	tcase_add_test(tc, punch_login);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
