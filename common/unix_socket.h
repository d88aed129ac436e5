/* SOCK_SEQPACKET Unix sockets between the daemons, SO_PEERCRED, and fd
 * passing with discipline: one fd per message, MSG_CMSG_CLOEXEC, extra fds
 * closed, truncation is an error. All sockets are non-blocking, CLOEXEC. */
#pragma once
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Removes a stale socket file, binds, listens; mode applied to the file. */
int kd_unix_listen(const char *path, mode_t mode);
/* Connects (blocking connect, then non-blocking fd). -errno on failure. */
int kd_unix_connect(const char *path);
int kd_unix_peercred(int fd, struct ucred *out);
/* True when the peer may talk to us: root, our own uid, or a member of our
 * group. */
int kd_unix_peer_allowed(int fd);

/* Sends one packet with an optional fd (-1 for none). Returns 0 or -errno
 * (-EAGAIN when the socket is full). */
int kd_unix_send(int sock, const void *buf, size_t len, int fd);
/* Receives one packet. Returns its length (0 = peer closed), -EAGAIN,
 * -EMSGSIZE when truncated, -EPROTO when more than one fd came (all closed).
 * *fd_out is the passed fd or -1 (fd_out may be NULL: any fd is closed). */
ssize_t kd_unix_recv(int sock, void *buf, size_t cap, int *fd_out);
