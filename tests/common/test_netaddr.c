#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

START_TEST(split_host_port)
{
	char host[64];
	uint16_t port;
	ck_assert_int_eq(kd_host_port_split("hbbs.example.com", host, sizeof(host), &port, 21116), 0);
	ck_assert_str_eq(host, "hbbs.example.com");
	ck_assert_uint_eq(port, 21116);
	ck_assert_int_eq(kd_host_port_split("10.0.0.1:1234", host, sizeof(host), &port, 1), 0);
	ck_assert_str_eq(host, "10.0.0.1");
	ck_assert_uint_eq(port, 1234);
	ck_assert_int_eq(kd_host_port_split("[::1]:21118", host, sizeof(host), &port, 1), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 21118);
	ck_assert_int_eq(kd_host_port_split("fe80::1", host, sizeof(host), &port, 7), 0);
	ck_assert_str_eq(host, "fe80::1");
	ck_assert_uint_eq(port, 7);
	ck_assert_int_eq(kd_host_port_split("a:0", host, sizeof(host), &port, 1), -ERANGE);
	ck_assert_int_eq(kd_host_port_split("a:70000", host, sizeof(host), &port, 1), -ERANGE);
	ck_assert_int_eq(kd_host_port_split("a:12x", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split(":80", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split("[::1", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split("", host, sizeof(host), &port, 1), -EINVAL);
}
END_TEST

START_TEST(strict_host_port)
{
	static const struct {
		const char *text;
		int result;
		const char *host;
		unsigned port;
	} cases[] = {
		{ "hbbs.example.org", 0, "hbbs.example.org", 21116 },
		{ "hbbs.example.org:5", 0, "hbbs.example.org", 5 },
		{ "my_box-1.lan.", 0, "my_box-1.lan.", 21116 },
		{ "192.0.2.1:65535", 0, "192.0.2.1", 65535 },
		{ "[2001:db8::1]:21116", 0, "2001:db8::1", 21116 },
		{ "[::1]", 0, "::1", 21116 },
		{ "2001:db8::1", 0, "2001:db8::1", 21116 },
		{ "host:0", -ERANGE, NULL, 0 },
		{ "host:65536", -ERANGE, NULL, 0 },
		{ "host:123456", -ERANGE, NULL, 0 },
		{ "host:", -EINVAL, NULL, 0 },
		{ "host:x1", -EINVAL, NULL, 0 },
		{ "host:-1", -EINVAL, NULL, 0 },
		{ "", -EINVAL, NULL, 0 },
		{ ":21116", -EINVAL, NULL, 0 },
		{ "bad host", -EINVAL, NULL, 0 },
		{ "bad/host", -EINVAL, NULL, 0 },
		{ "-lead.example", -EINVAL, NULL, 0 },
		{ "a..b", -EINVAL, NULL, 0 },
		{ "1.2.3.999", -EINVAL, NULL, 0 },
		{ "[2001:db8::1", -EINVAL, NULL, 0 },
		{ "[2001:db8::1]x", -EINVAL, NULL, 0 },
		{ "[hbbs.example]:1", -EINVAL, NULL, 0 },
		{ "[192.0.2.1]:1", -EINVAL, NULL, 0 },
		{ "2001:db8::zz", -EINVAL, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[256] = "";
		uint16_t port = 0;
		int r = kd_host_port_parse(cases[i].text, host, sizeof(host),
					   &port, 21116);
		ck_assert_msg(r == cases[i].result, "%s: %d", cases[i].text, r);
		if (r == 0) {
			ck_assert_str_eq(host, cases[i].host);
			ck_assert_uint_eq(port, cases[i].port);
		}
	}
}
END_TEST

START_TEST(format_round_trip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char out[KD_ADDR_STR_MAX];
	ck_assert_int_eq(kd_sockaddr_parse("127.0.0.1:21118", &ss, &len), 0);
	kd_sockaddr_format((struct sockaddr *)&ss, out);
	ck_assert_str_eq(out, "127.0.0.1:21118");
	ck_assert_int_eq(kd_sockaddr_parse("[2001:db8::5]:80", &ss, &len), 0);
	kd_sockaddr_format((struct sockaddr *)&ss, out);
	ck_assert_str_eq(out, "[2001:db8::5]:80");
	kd_sockaddr_ip((struct sockaddr *)&ss, out);
	ck_assert_str_eq(out, "2001:db8::5");
	/* An IPv4 client on a dual-stack listener is shown as IPv4. */
	ck_assert_int_eq(kd_sockaddr_parse("[::ffff:192.0.2.7]:5", &ss, &len), 0);
	kd_sockaddr_format((struct sockaddr *)&ss, out);
	ck_assert_str_eq(out, "192.0.2.7:5");
	ck_assert_int_eq(kd_sockaddr_parse("example.com:80", &ss, &len), -EINVAL);
}
END_TEST

START_TEST(direct_access_names)
{
	/* What a RustDesk client puts in LoginRequest.username when the user
	 * typed an address instead of an id. */
	ck_assert(kd_is_direct_access_name("192.168.1.20"));
	ck_assert(kd_is_direct_access_name("192.168.1.20:21118"));
	ck_assert(kd_is_direct_access_name("[fd00::2]:21118"));
	ck_assert(kd_is_direct_access_name("fd00::2"));
	ck_assert(kd_is_direct_access_name("kvm.example.org:21118"));
	ck_assert(!kd_is_direct_access_name("kvm.example.org"));
	ck_assert(!kd_is_direct_access_name("123456789"));
	ck_assert(!kd_is_direct_access_name(""));
	ck_assert(!kd_is_direct_access_name("evil host:80"));
}
END_TEST

static bool match(const char *cidr, const char *addr)
{
	struct kd_cidr c;
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_cidr_parse(cidr, &c), 0);
	ck_assert_int_eq(kd_sockaddr_parse(addr, &ss, &len), 0);
	return kd_cidr_match(&c, (struct sockaddr *)&ss);
}

START_TEST(cidr_prefixes)
{
	ck_assert(match("192.168.1.0/24", "192.168.1.77:1"));
	ck_assert(!match("192.168.1.0/24", "192.168.2.1:1"));
	ck_assert(match("10.0.0.0/8", "10.255.1.2:1"));
	ck_assert(match("172.16.0.0/12", "172.31.255.255:1"));
	ck_assert(!match("172.16.0.0/12", "172.32.0.1:1"));
	ck_assert(match("127.0.0.2", "127.0.0.2:1"));
	ck_assert(!match("127.0.0.2", "127.0.0.1:1"));
	ck_assert(match("0.0.0.0/0", "203.0.113.9:1"));
	/* an IPv4 client on a dual-stack socket */
	ck_assert(match("192.0.2.0/24", "[::ffff:192.0.2.7]:5"));
	ck_assert(match("fd00::/8", "[fd12::1]:1"));
	ck_assert(!match("fd00::/8", "[fe80::1]:1"));
	ck_assert(!match("fd00::/8", "10.0.0.1:1"));
	ck_assert(match("2001:db8::/33", "[2001:db8:7fff::1]:1"));
	ck_assert(!match("2001:db8::/33", "[2001:db8:8000::1]:1"));
	struct kd_cidr c, list[4];
	ck_assert_int_eq(kd_cidr_parse("10.0.0.0/33", &c), -EINVAL);
	ck_assert_int_eq(kd_cidr_parse("10.0.0.0/", &c), -EINVAL);
	ck_assert_int_eq(kd_cidr_parse("example.com/8", &c), -EINVAL);
	ck_assert_int_eq(kd_cidr_list_parse("10.0.0.0/8, fd00::/8 127.0.0.1", list, 4), 3);
	ck_assert_int_eq(kd_cidr_list_parse("", list, 4), 0);
	ck_assert_int_eq(kd_cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5", list, 4), -E2BIG);
	ck_assert_int_eq(kd_cidr_list_parse("10.0.0.0/8, nonsense", list, 4), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netaddr");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, split_host_port);
	tcase_add_test(tc, strict_host_port);
	tcase_add_test(tc, format_round_trip);
	tcase_add_test(tc, direct_access_names);
	tcase_add_test(tc, cidr_prefixes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
