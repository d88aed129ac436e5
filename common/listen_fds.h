/* Sockets handed over by systemd (sd_listen_fds_with_names). Each daemon
 * asks for its sockets by FileDescriptorName=; unclaimed ones are closed by
 * kd_listen_fds_done so nothing leaks into workers. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads $LISTEN_FDS once; returns how many were passed (0 without systemd). */
int kd_listen_fds_collect(void);
/* Takes the fd named name whose socket family is family (AF_UNIX, AF_INET
 * meaning AF_INET or AF_INET6, or 0 for any). -ENOENT if none. */
int kd_listen_fd_take(const char *name, int family);
void kd_listen_fds_done(void);

/* A daemon's Unix listening socket: the one systemd passed as name, else
 * runtime_dir/<name>.sock bound here with mode. Non-blocking either way.
 * bound_path (may be NULL) gets the path when we created the file (so the
 * daemon removes it at exit), "" otherwise. Failures are logged; -errno. */
int kd_listen_unix(const char *runtime_dir, const char *name, mode_t mode,
		   char *bound_path, size_t bound_len);
