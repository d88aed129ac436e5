/* Sockets handed over by systemd (sd_listen_fds_with_names). Each daemon
 * asks for its sockets by FileDescriptorName=; unclaimed ones are closed by
 * kd_listen_fds_done so nothing leaks into workers. */
#pragma once
#include <stdbool.h>

/* Reads $LISTEN_FDS once; returns how many were passed (0 without systemd). */
int kd_listen_fds_collect(void);
/* Takes the fd named name whose socket family is family (AF_UNIX, AF_INET
 * meaning AF_INET or AF_INET6, or 0 for any). -ENOENT if none. */
int kd_listen_fd_take(const char *name, int family);
void kd_listen_fds_done(void);
