#include "netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool v4_mapped(const struct sockaddr_in6 *s6)
{
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
}

void kd_sockaddr_ip(const struct sockaddr *sa, char out[KD_ADDR_STR_MAX])
{
	out[0] = '\0';
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, out, KD_ADDR_STR_MAX);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (v4_mapped(s6))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out,
				  KD_ADDR_STR_MAX);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, out, KD_ADDR_STR_MAX);
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(out, KD_ADDR_STR_MAX, "unix");
	}
}

void kd_sockaddr_format(const struct sockaddr *sa, char out[KD_ADDR_STR_MAX])
{
	char ip[KD_ADDR_STR_MAX];
	kd_sockaddr_ip(sa, ip);
	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
		snprintf(out, KD_ADDR_STR_MAX, "%s", ip);
		return;
	}
	unsigned port;
	bool bracket = false;
	if (sa->sa_family == AF_INET) {
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		port = ntohs(s6->sin6_port);
		bracket = !v4_mapped(s6);
	}
	snprintf(out, KD_ADDR_STR_MAX, bracket ? "[%s]:%u" : "%s:%u", ip, port);
}

/* -EINVAL: not a number; -ERANGE: a number, but not a port. */
static int parse_port(const char *s, uint16_t *port)
{
	size_t n = strlen(s);
	if (n == 0 || strspn(s, "0123456789") != n)
		return -EINVAL;
	if (n > 5)
		return -ERANGE;
	long v = strtol(s, NULL, 10);
	if (v < 1 || v > 65535)
		return -ERANGE;
	*port = (uint16_t)v;
	return 0;
}

int kd_host_port_split(const char *text, char *host, size_t host_len,
		       uint16_t *port, uint16_t default_port)
{
	const char *host_start = text, *host_end, *port_str = NULL;
	if (!text || !*text)
		return -EINVAL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close)
			return -EINVAL;
		host_start = text + 1;
		host_end = close;
		if (close[1] == ':')
			port_str = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* Bare IPv6 literal without a port. */
			host_end = text + strlen(text);
		} else if (colon) {
			host_end = colon;
			port_str = colon + 1;
		} else {
			host_end = text + strlen(text);
		}
	}
	size_t len = (size_t)(host_end - host_start);
	if (len == 0 || len >= host_len)
		return -EINVAL;
	memcpy(host, host_start, len);
	host[len] = '\0';
	*port = default_port;
	if (port_str)
		return parse_port(port_str, port);
	return 0;
}

static bool dns_name_ok(const char *s)
{
	size_t label = 0, len = strlen(s);
	bool numeric = true;
	if (len == 0 || len > 253)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if ((*p == '-' && label == 0) || ++label > 63)
			return false;
		numeric &= isdigit((unsigned char)*p) != 0;
	}
	/* "1.2.3.999" is a broken address, not a name. */
	return !numeric;
}

int kd_host_port_parse(const char *text, char *host, size_t host_len,
		       uint16_t *port, uint16_t default_port)
{
	struct in6_addr a6;
	struct in_addr a4;
	/* The host is filled in before the port is read: a bad host is
	 * reported before a bad port. */
	int r = kd_host_port_split(text, host, host_len, port, default_port);
	if (r < 0 && r != -ERANGE)
		return r;
	bool v6 = text[0] == '[' || strchr(host, ':');
	if (v6 ? inet_pton(AF_INET6, host, &a6) != 1
	       : inet_pton(AF_INET, host, &a4) != 1 && !dns_name_ok(host))
		return -EINVAL;
	return r;
}

int kd_sockaddr_parse(const char *text, struct sockaddr_storage *out,
		      socklen_t *len)
{
	char host[KD_ADDR_STR_MAX];
	uint16_t port;
	int r = kd_host_port_split(text, host, sizeof(host), &port, 0);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

static bool is_ip_literal(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;
	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

static bool is_domain(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != '_')
			return false;
	return true;
}

bool kd_is_direct_access_name(const char *text)
{
	/* The real peer accepts an IP address with an optional port, or a
	 * "domain:port" (rustdesk connection.rs, is_ip_str / is_domain_port_str). */
	if (!text || !*text)
		return false;
	if (is_ip_literal(text))
		return true;
	char host[256];
	uint16_t port = 0;
	if (kd_host_port_split(text, host, sizeof(host), &port, 0) < 0)
		return false;
	if (port == 0)
		return false;
	return is_ip_literal(host) || is_domain(host);
}

int kd_cidr_parse(const char *text, struct kd_cidr *out)
{
	char addr[KD_ADDR_STR_MAX];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, text, len);
	addr[len] = '\0';
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	out->prefix = max;
	if (slash) {
		char *end;
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (*end || p > max)
			return -EINVAL;
		out->prefix = (unsigned)p;
	}
	return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool kd_cidr_match(const struct kd_cidr *c, const struct sockaddr *sa)
{
	const uint8_t *bytes;
	int family = sa->sa_family;
	if (family == AF_INET) {
		bytes = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		bytes = s6->sin6_addr.s6_addr;
		if (v4_mapped(s6)) {
			family = AF_INET;
			bytes += 12;
		}
	} else {
		return false;
	}
	return family == c->family && prefix_equal(bytes, c->addr, c->prefix);
}

int kd_cidr_list_parse(const char *text, struct kd_cidr *out, size_t max)
{
	size_t n = 0;
	const char *p = text;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		char item[KD_ADDR_STR_MAX + 8];
		size_t len = (size_t)(p - start);
		if (len >= sizeof(item))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		memcpy(item, start, len);
		item[len] = '\0';
		if (kd_cidr_parse(item, &out[n]) < 0)
			return -EINVAL;
		n++;
	}
	return (int)n;
}
