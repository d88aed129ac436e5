/* The per-client sandbox of a sessiond worker, applied before the first
 * network byte is read: another user when we can, no new privileges, no
 * file growth, no new processes, and a seccomp allowlist of what a libevent
 * loop that talks over existing sockets and Unix sockets needs. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

struct kd_sandbox_user {
	bool change;   /* setgroups/setgid/setuid to uid/gid */
	uid_t uid;
	gid_t gid;
};

/* Looks up the worker user "kvmdesk-session": change = true only when we
 * are root and the user exists (as root without it, workers keep the uid). */
void kd_sandbox_user_lookup(struct kd_sandbox_user *out);

/* Applies everything; 0 or -errno. A worker that cannot be sandboxed must
 * not serve its client. */
int kd_sandbox_apply(const struct kd_sandbox_user *user);

/* Only the seccomp filter (for tests). */
int kd_sandbox_seccomp(void);
