/* Address parsing and printing shared by every daemon. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define KD_ADDR_STR_MAX 64 /* "[v6]:port" fits */

/* "ip:port" or "[v6]:port" */
void kd_sockaddr_format(const struct sockaddr *sa, char out[KD_ADDR_STR_MAX]);
/* Just the ip, IPv4-mapped IPv6 shown as IPv4. */
void kd_sockaddr_ip(const struct sockaddr *sa, char out[KD_ADDR_STR_MAX]);
/* Parses "host[:port]" / "[v6][:port]" into host and port (default_port if
 * absent). -EINVAL if malformed, -ERANGE when the port is a number but not
 * 1-65535 (host is filled in then). */
int kd_host_port_split(const char *text, char *host, size_t host_len,
		       uint16_t *port, uint16_t default_port);
/* The strict form for what an administrator types (kvmdeskctl): host is a
 * DNS name (letters, digits, '-', '_', labels of 1 to 63 separated by
 * dots) or an IP literal, an IPv6 literal in brackets when a port follows
 * ("[v6]:port"; a bare "v6" has no port). -EINVAL when malformed, -ERANGE
 * when the port is not 1-65535. */
int kd_host_port_parse(const char *text, char *host, size_t host_len,
		       uint16_t *port, uint16_t default_port);
/* Numeric "ip:port" to sockaddr; -EINVAL if not numeric. */
int kd_sockaddr_parse(const char *text, struct sockaddr_storage *out,
		      socklen_t *len);
/* True if text looks like what a client sends as LoginRequest.username for
 * direct IP access: an IP address with optional port, or "domain:port"
 * (spec connection §7.3 step 6). */
bool kd_is_direct_access_name(const char *text);

/* An address prefix, "192.168.1.0/24" or "fd00::/8" (a bare address is a
 * /32 or /128). IPv4-mapped IPv6 peers match IPv4 prefixes. */
struct kd_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

int kd_cidr_parse(const char *text, struct kd_cidr *out);
bool kd_cidr_match(const struct kd_cidr *c, const struct sockaddr *sa);
/* Parses "prefix, prefix ..." (commas and/or spaces) into out (capacity
 * max); returns how many, or -EINVAL / -E2BIG. */
int kd_cidr_list_parse(const char *text, struct kd_cidr *out, size_t max);
