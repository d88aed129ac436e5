/* Non-blocking socket helpers for the punch, LAN and relay flows. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* TCP socket of family, non-blocking and CLOEXEC; with reuse set,
 * SO_REUSEADDR and SO_REUSEPORT are on (spec §5.3 step 1: the punch, the
 * hbbs report and the listener share one local address). Bound to local if
 * given. Returns the fd or -errno. */
int kd_rdv_tcp_socket(int family, bool reuse, const struct sockaddr *local,
		      socklen_t local_len);
/* Starts a connect; 0 when connected or in progress, -errno otherwise. */
int kd_rdv_tcp_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* Pending SO_ERROR as -errno (0 = connected). */
int kd_rdv_sock_error(int fd);
/* Writes what it can of buf[*off..len); 0 when all is written,
 * 1 (try again when writable), or -errno. */
int kd_rdv_write_some(int fd, const uint8_t *buf, size_t len, size_t *off);
/* Length of a sockaddr of that family. */
socklen_t kd_rdv_sa_len(const struct sockaddr *sa);
/* Sets the port of an AF_INET / AF_INET6 address. */
void kd_rdv_sa_set_port(struct sockaddr *sa, uint16_t port);
uint16_t kd_rdv_sa_port(const struct sockaddr *sa);
/* Same IP and port (IPv4-mapped IPv6 equals its IPv4). */
bool kd_rdv_sa_equal(const struct sockaddr *a, const struct sockaddr *b);
