/* AddrMangle, spec connection §5.1 (hbb_common AddrMangle::encode/decode). */
#include "addr_mangle.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

__extension__ typedef unsigned __int128 u128;

static int encode_v4(const uint8_t octets[4], uint16_t port, uint32_t tm,
		     uint8_t out[KD_ADDR_MANGLE_MAX])
{
	/* Octet 1 is the least significant byte, as u32::from_le_bytes. */
	u128 ip = (u128)octets[0] | (u128)octets[1] << 8 |
		  (u128)octets[2] << 16 | (u128)octets[3] << 24;
	u128 t = tm;
	u128 v = ((ip + t) << 49) | (t << 17) | ((u128)port + (t & 0xFFFF));
	int len = 0;

	for (int i = 0; i < 16; i++) {
		out[i] = (uint8_t)(v >> (8 * i));
		if (out[i])
			len = i + 1;
	}
	return len; /* trailing zero bytes dropped */
}

int kd_addr_mangle_encode_at(const struct sockaddr *sa, uint32_t tm,
			     uint8_t out[KD_ADDR_MANGLE_MAX])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return encode_v4((const uint8_t *)&in->sin_addr,
				 ntohs(in->sin_port), tm, out);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		uint16_t port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return encode_v4(in6->sin6_addr.s6_addr + 12, port, tm,
					 out);
		memcpy(out, in6->sin6_addr.s6_addr, 16);
		out[16] = (uint8_t)(port & 0xFF);
		out[17] = (uint8_t)(port >> 8);
		return 18;
	}
	return -EAFNOSUPPORT;
}

int kd_addr_mangle_encode(const struct sockaddr *sa,
			  uint8_t out[KD_ADDR_MANGLE_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t us = (uint64_t)ts.tv_sec * 1000000u +
		      (uint64_t)ts.tv_nsec / 1000u;
	return kd_addr_mangle_encode_at(sa, (uint32_t)us, out);
}

int kd_addr_mangle_decode(const uint8_t *buf, size_t len,
			  struct sockaddr_storage *out, socklen_t *out_len)
{
	memset(out, 0, sizeof(*out));
	if (len > 16) {
		if (len != 18)
			return -EINVAL;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		in6->sin6_family = AF_INET6;
		memcpy(in6->sin6_addr.s6_addr, buf, 16);
		in6->sin6_port = htons((uint16_t)(buf[16] | buf[17] << 8));
		*out_len = sizeof(*in6);
		return 0;
	}

	u128 n = 0;
	for (size_t i = 0; i < len; i++)
		n |= (u128)buf[i] << (8 * i);
	uint32_t tm = (uint32_t)(n >> 17);
	uint32_t ip = (uint32_t)(n >> 49) - tm; /* mod 2^32 */
	uint16_t port = (uint16_t)((uint32_t)(n & 0xFFFFFF) - (tm & 0xFFFF));

	struct sockaddr_in *in = (struct sockaddr_in *)out;
	in->sin_family = AF_INET;
	uint8_t *o = (uint8_t *)&in->sin_addr;
	o[0] = (uint8_t)ip;
	o[1] = (uint8_t)(ip >> 8);
	o[2] = (uint8_t)(ip >> 16);
	o[3] = (uint8_t)(ip >> 24);
	in->sin_port = htons(len ? port : 0);
	*out_len = sizeof(*in);
	return 0;
}

uint16_t kd_addr_mangle_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}
