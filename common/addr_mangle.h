/* RustDesk's AddrMangle (spec connection §5.1): the obfuscated socket
 * address carried in PunchHole.socket_addr, LocalAddr.local_addr and
 * friends. IPv4 mixes the address with the current time in microseconds so
 * routers do not rewrite it; IPv6 is 16 address bytes + port (LE). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define KD_ADDR_MANGLE_MAX 18

/* Encodes sa (AF_INET, or AF_INET6; IPv4-mapped IPv6 is encoded as IPv4)
 * with tm as the 32-bit microsecond clock. Returns the encoded length
 * (1..18), or -EAFNOSUPPORT. */
int kd_addr_mangle_encode_at(const struct sockaddr *sa, uint32_t tm,
			     uint8_t out[KD_ADDR_MANGLE_MAX]);
/* Same with tm = now. */
int kd_addr_mangle_encode(const struct sockaddr *sa,
			  uint8_t out[KD_ADDR_MANGLE_MAX]);

/* Decodes buf into *out (AF_INET or AF_INET6). An empty buffer decodes to
 * 0.0.0.0:0 as in the real code ("no address"); a length above 16 other
 * than 18 is -EINVAL. Bounded: reads at most len bytes, len is arbitrary. */
int kd_addr_mangle_decode(const uint8_t *buf, size_t len,
			  struct sockaddr_storage *out, socklen_t *out_len);

/* Port of a decoded address (0 = "no address"). */
uint16_t kd_addr_mangle_port(const struct sockaddr_storage *ss);
