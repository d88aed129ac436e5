/* AddrMangle (spec connection §5.1), including the worked example. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr_mangle.h"

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

START_TEST(worked_example)
{
	/* 203.0.113.7:51234 at tm = 0x12345678 -> 9A 1E F1 AC 68 24 86 AE 4A 33 */
	static const uint8_t want[] = {0x9A, 0x1E, 0xF1, 0xAC, 0x68,
				       0x24, 0x86, 0xAE, 0x4A, 0x33};
	struct sockaddr_in a = v4("203.0.113.7", 51234);
	uint8_t out[KD_ADDR_MANGLE_MAX];
	int n = kd_addr_mangle_encode_at((struct sockaddr *)&a, 0x12345678,
					 out);
	ck_assert_int_eq(n, 10);
	ck_assert_mem_eq(out, want, sizeof(want));

	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_addr_mangle_decode(want, sizeof(want), &ss, &len),
			 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	struct sockaddr_in *d = (struct sockaddr_in *)&ss;
	ck_assert_uint_eq(d->sin_addr.s_addr, a.sin_addr.s_addr);
	ck_assert_uint_eq(ntohs(d->sin_port), 51234);
	ck_assert_uint_eq(kd_addr_mangle_port(&ss), 51234);
}
END_TEST

START_TEST(roundtrip_many_times)
{
	const char *ips[] = {"0.0.0.0", "127.0.0.1", "255.255.255.255",
			     "10.1.2.3", "192.168.100.200"};
	uint16_t ports[] = {0, 1, 21116, 65535};
	uint32_t tms[] = {0, 1, 0xFFFF, 0x10000, 0xFFFFFFFF, 0x80000000};
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 4; j++)
			for (size_t k = 0; k < 6; k++) {
				struct sockaddr_in a = v4(ips[i], ports[j]);
				uint8_t out[KD_ADDR_MANGLE_MAX];
				int n = kd_addr_mangle_encode_at(
					(struct sockaddr *)&a, tms[k], out);
				ck_assert_int_ge(n, 0);
				ck_assert_int_le(n, 16);
				struct sockaddr_storage ss;
				socklen_t len;
				ck_assert_int_eq(kd_addr_mangle_decode(
							 out, (size_t)n, &ss,
							 &len),
						 0);
				struct sockaddr_in *d = (struct sockaddr_in *)&ss;
				ck_assert_uint_eq(d->sin_addr.s_addr,
						  a.sin_addr.s_addr);
				if (n) /* all-zero encodes to nothing */
					ck_assert_uint_eq(ntohs(d->sin_port),
							  ports[j]);
			}
}
END_TEST

START_TEST(now_roundtrip_differs)
{
	struct sockaddr_in a = v4("198.51.100.9", 4242);
	uint8_t x[KD_ADDR_MANGLE_MAX];
	int n = kd_addr_mangle_encode((struct sockaddr *)&a, x);
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_addr_mangle_decode(x, (size_t)n, &ss, &len), 0);
	ck_assert_uint_eq(kd_addr_mangle_port(&ss), 4242);
}
END_TEST

START_TEST(ipv6_and_mapped)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_port = htons(0x1234)};
	inet_pton(AF_INET6, "2001:db8::1", &a.sin6_addr);
	uint8_t out[KD_ADDR_MANGLE_MAX];
	ck_assert_int_eq(kd_addr_mangle_encode_at((struct sockaddr *)&a, 7,
						  out),
			 18);
	ck_assert_uint_eq(out[16], 0x34); /* port little-endian */
	ck_assert_uint_eq(out[17], 0x12);
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_addr_mangle_decode(out, 18, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_mem_eq(&((struct sockaddr_in6 *)&ss)->sin6_addr,
			 &a.sin6_addr, 16);
	ck_assert_uint_eq(kd_addr_mangle_port(&ss), 0x1234);

	/* ::ffff:203.0.113.7 is encoded like the IPv4 address. */
	inet_pton(AF_INET6, "::ffff:203.0.113.7", &a.sin6_addr);
	a.sin6_port = htons(51234);
	int n = kd_addr_mangle_encode_at((struct sockaddr *)&a, 0x12345678,
					 out);
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(out[0], 0x9A);
}
END_TEST

START_TEST(bad_lengths)
{
	uint8_t buf[32] = {0};
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(kd_addr_mangle_decode(buf, 0, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(kd_addr_mangle_port(&ss), 0);
	ck_assert_int_eq(kd_addr_mangle_decode(buf, 17, &ss, &len), -EINVAL);
	ck_assert_int_eq(kd_addr_mangle_decode(buf, 19, &ss, &len), -EINVAL);
	ck_assert_int_eq(kd_addr_mangle_decode(buf, 32, &ss, &len), -EINVAL);
	ck_assert_int_eq(kd_addr_mangle_decode(buf, 16, &ss, &len), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addr_mangle");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, worked_example);
	tcase_add_test(tc, roundtrip_many_times);
	tcase_add_test(tc, now_roundtrip_differs);
	tcase_add_test(tc, ipv6_and_mapped);
	tcase_add_test(tc, bad_lengths);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
