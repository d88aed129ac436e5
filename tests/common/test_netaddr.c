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
	ck_assert_int_eq(kd_host_port_split("a:0", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split("a:70000", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split("a:12x", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split(":80", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split("[::1", host, sizeof(host), &port, 1), -EINVAL);
	ck_assert_int_eq(kd_host_port_split("", host, sizeof(host), &port, 1), -EINVAL);
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

int main(void)
{
	Suite *s = suite_create("netaddr");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, split_host_port);
	tcase_add_test(tc, format_round_trip);
	tcase_add_test(tc, direct_access_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
