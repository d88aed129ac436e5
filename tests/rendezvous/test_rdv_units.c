/* rendezvousd's pure modules: server list parsing, relay choice, relay
 * uuids, hbbs datagram parsing against the spec's worked bytes (§3.7). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr_mangle.h"
#include "flows.h"
#include "hbbs_msg.h"
#include "rdv_sock.h"
#include "rdv_wire.h"
#include "rdvd.h"
#include "server.h"

START_TEST(servers_list)
{
	char out[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX];
	unsigned n;
	ck_assert_int_eq(kd_rdvd_servers_parse(" a.example.com ,b:1,, [::1]:5 ",
					       out, &n),
			 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[0], "a.example.com");
	ck_assert_str_eq(out[1], "b:1");
	ck_assert_str_eq(out[2], "[::1]:5");
	ck_assert_int_eq(kd_rdvd_servers_parse("", out, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(kd_rdvd_servers_parse(NULL, out, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(kd_rdvd_servers_parse("1,2,3,4,5,6,7,8,9", out, &n),
			 -E2BIG);
}
END_TEST

START_TEST(relay_choice)
{
	char out[KD_RDV_HOST_MAX];
	/* spec §5.2 step 4: local option, else hbbs', else host:port+1 */
	kd_flows_pick_relay("mine:1", "theirs", "hbbs.example.com", 21116, out,
			    sizeof(out));
	ck_assert_str_eq(out, "mine:1");
	kd_flows_pick_relay("", "theirs", "hbbs.example.com", 21116, out,
			    sizeof(out));
	ck_assert_str_eq(out, "theirs");
	kd_flows_pick_relay(NULL, "", "hbbs.example.com", 21116, out,
			    sizeof(out));
	ck_assert_str_eq(out, "hbbs.example.com:21117");
	kd_flows_pick_relay(NULL, NULL, "2001:db8::1", 4000, out, sizeof(out));
	ck_assert_str_eq(out, "[2001:db8::1]:4001");
}
END_TEST

START_TEST(relay_uuid)
{
	char a[37], b[37];
	kd_flows_new_uuid(a);
	kd_flows_new_uuid(b);
	ck_assert_uint_eq(strlen(a), 36);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(a[8], '-');
	ck_assert_int_eq(a[14], '4'); /* version 4 */
	ck_assert(strchr("89ab", a[19]));
}
END_TEST

START_TEST(worked_punch_hole)
{
	/* spec §3.7: PunchHole{§5.1 example address, "rs.example.com",
	 * ASYMMETRIC} */
	static const uint8_t dgram[] = {
		0x4A, 0x1E, 0x0A, 0x0A, 0x9A, 0x1E, 0xF1, 0xAC, 0x68, 0x24,
		0x86, 0xAE, 0x4A, 0x33, 0x12, 0x0E, 0x72, 0x73, 0x2E, 0x65,
		0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0x2E, 0x63, 0x6F, 0x6D,
		0x18, 0x01};
	struct kd_hbbs_msg m;
	const char *why = NULL;
	ck_assert_int_eq(kd_hbbs_msg_parse(dgram, sizeof(dgram), &m, &why), 0);
	ck_assert_int_eq(m.kind, KD_HBBS_MSG_PUNCH_HOLE);
	ck_assert_str_eq(m.relay_server, "rs.example.com");
	ck_assert_int_eq(m.nat_type, HBB__NAT_TYPE__ASYMMETRIC);
	ck_assert_uint_eq(m.client_mangled_len, 10);
	struct sockaddr_in *in = (struct sockaddr_in *)&m.client;
	char ip[32];
	inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
	ck_assert_str_eq(ip, "203.0.113.7");
	ck_assert_uint_eq(ntohs(in->sin_port), 51234);
}
END_TEST

START_TEST(worked_registration_bytes)
{
	/* RegisterPeer{id:"123456789", serial:3} -> 15 bytes (§2.2) */
	static const uint8_t want[] = {0x32, 0x0D, 0x0A, 0x09, 0x31,
				       0x32, 0x33, 0x34, 0x35, 0x36,
				       0x37, 0x38, 0x39, 0x10, 0x03};
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RegisterPeer rp = HBB__REGISTER_PEER__INIT;
	uint8_t buf[64];
	rp.id = (char *)"123456789";
	rp.serial = 3;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PEER;
	m.register_peer = &rp;
	ck_assert_int_eq(kd_rdv_wire_pack(&m, buf, sizeof(buf)), 15);
	ck_assert_mem_eq(buf, want, 15);

	/* RegisterPkResponse{OK} is "82 01 00"; UUID_MISMATCH "82 01 02 08 02" */
	static const uint8_t ok[] = {0x82, 0x01, 0x00};
	static const uint8_t mismatch[] = {0x82, 0x01, 0x02, 0x08, 0x02};
	struct kd_hbbs_msg n;
	ck_assert_int_eq(kd_hbbs_msg_parse(ok, 3, &n, NULL), 0);
	ck_assert_int_eq(n.kind, KD_HBBS_MSG_REGISTER_PK_RESPONSE);
	ck_assert_int_eq(n.pk_result, 0);
	ck_assert_int_eq(kd_hbbs_msg_parse(mismatch, 5, &n, NULL), 0);
	ck_assert_int_eq(n.pk_result,
			 HBB__REGISTER_PK_RESPONSE__RESULT__UUID_MISMATCH);
	ck_assert_str_eq(kd_rdv_pk_result_name(n.pk_result), "UUID_MISMATCH");
	ck_assert_ptr_nonnull(strstr(kd_rdv_pk_result_explain(n.pk_result),
				     "another machine"));
	/* RegisterPeerResponse{request_pk:true} = 3A 02 10 01 */
	static const uint8_t req[] = {0x3A, 0x02, 0x10, 0x01};
	ck_assert_int_eq(kd_hbbs_msg_parse(req, 4, &n, NULL), 0);
	ck_assert_int_eq(n.kind, KD_HBBS_MSG_REGISTER_PEER_RESPONSE);
	ck_assert(n.request_pk);
}
END_TEST

START_TEST(bad_datagrams)
{
	struct kd_hbbs_msg n;
	const char *why;
	/* PunchHole without socket_addr */
	static const uint8_t no_addr[] = {0x4A, 0x02, 0x18, 0x01};
	ck_assert_int_eq(kd_hbbs_msg_parse(no_addr, 4, &n, &why), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "client address"));
	static const uint8_t garbage[] = {0xFF, 0xFF, 0xFF};
	ck_assert_int_eq(kd_hbbs_msg_parse(garbage, 3, &n, &why), -EBADMSG);
	uint8_t big[KD_RDV_MSG_MAX + 1] = {0};
	ck_assert_int_eq(kd_hbbs_msg_parse(big, sizeof(big), &n, &why),
			 -EBADMSG);
}
END_TEST

START_TEST(addr_compare)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5)};
	struct sockaddr_in6 b = {.sin6_family = AF_INET6,
				 .sin6_port = htons(5)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &b.sin6_addr);
	ck_assert(kd_rdv_sa_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	b.sin6_port = htons(6);
	ck_assert(!kd_rdv_sa_equal((struct sockaddr *)&a,
				   (struct sockaddr *)&b));
}
END_TEST


/* A server torn down (reload, ConfigUpdate) while its name is still being
 * resolved: libevent runs the cancelled lookup's callback later, from the
 * loop, and it must not touch the freed server (run under ASan/valgrind). */
/* A name server on loopback that never answers: returns its socket. */
static int silent_nameserver(struct evdns_base *dns)
{
	struct sockaddr_in ns = {.sin_family = AF_INET};
	socklen_t ns_len = sizeof(ns);
	char ns_text[32];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &ns.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ns, sizeof(ns)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ns, &ns_len), 0);
	snprintf(ns_text, sizeof(ns_text), "127.0.0.1:%u",
		 (unsigned)ntohs(ns.sin_port));
	ck_assert_int_eq(evdns_base_nameserver_ip_add(dns, ns_text), 0);
	return fd;
}

START_TEST(destroy_while_resolving)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	int fd = silent_nameserver(dns);
	struct kd_rdv_ctx ctx = {.base = base, .dns = dns,
				 .reg_interval_ms = 15000, .serial = 3};
	struct kd_rdv_server *s = NULL;

	ck_assert_int_eq(kd_rdv_server_new(&ctx, "hbbs.example.com:21116", &s),
			 0);
	kd_rdv_server_start(s);
	kd_rdv_server_destroy(s);
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);

	evdns_base_free(dns, 0);
	event_base_free(base);
	close(fd);
}
END_TEST

/* The same for a relay flow whose relay name is being resolved when the
 * flows end (server torn down by a reload, or the flow's deadline). */
START_TEST(flow_freed_while_resolving_relay)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = evdns_base_new(base, 0);
	int ns_fd = silent_nameserver(dns);
	struct kd_rdv_ctx ctx = {.base = base, .dns = dns,
				 .reg_interval_ms = 15000, .serial = 3};
	struct sockaddr_in hbbs = {.sin_family = AF_INET};
	socklen_t hbbs_len = sizeof(hbbs);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct kd_flows *f = NULL;
	struct kd_flow_params p = {.kind = KD_FLOW_RELAY_ANSWER,
				   .relay_server = "relay.example.com:21117",
				   .relay_uuid = "0123", .hbbs_host = "127.0.0.1"};
	struct pollfd pfd = {.fd = ns_fd, .events = POLLIN};
	struct sockaddr_in client = {.sin_family = AF_INET,
				     .sin_port = htons(40000)};
	uint8_t mangled[KD_ADDR_MANGLE_MAX];
	bool asked = false;

	/* hbbs' TCP side: the connection completes in the backlog. */
	inet_pton(AF_INET, "127.0.0.1", &hbbs.sin_addr);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&hbbs, sizeof(hbbs)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&hbbs,
				     &hbbs_len), 0);
	memcpy(&p.hbbs, &hbbs, sizeof(hbbs));
	p.hbbs_len = hbbs_len;
	p.hbbs_port = ntohs(hbbs.sin_port);
	inet_pton(AF_INET, "192.0.2.7", &client.sin_addr);
	int n = kd_addr_mangle_encode((struct sockaddr *)&client, mangled);
	ck_assert_int_gt(n, 0);
	p.client_mangled = mangled;
	p.client_mangled_len = (size_t)n;

	ck_assert_int_eq(kd_flows_new(&ctx, &f), 0);
	ck_assert_int_eq(kd_flows_start(f, &p), 0);
	/* Until the flow has reported to hbbs and asks for the relay. */
	for (int i = 0; i < 500 && !asked; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		asked = poll(&pfd, 1, 10) == 1;
	}
	ck_assert(asked);
	ck_assert_uint_eq(kd_flows_active(f), 1);
	kd_flows_destroy(f);
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);

	evdns_base_free(dns, 0);
	event_base_free(base);
	close(ns_fd);
	close(lfd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rendezvousd-units");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, servers_list);
	tcase_add_test(tc, relay_choice);
	tcase_add_test(tc, relay_uuid);
	tcase_add_test(tc, worked_punch_hole);
	tcase_add_test(tc, worked_registration_bytes);
	tcase_add_test(tc, bad_datagrams);
	tcase_add_test(tc, addr_compare);
	tcase_add_test(tc, destroy_while_resolving);
	tcase_add_test(tc, flow_freed_while_resolving_relay);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
