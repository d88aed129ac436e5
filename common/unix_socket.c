#include "unix_socket.h"

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

int kd_unix_listen(const char *path, mode_t mode)
{
	struct sockaddr_un addr;
	int r = fill_addr(&addr, path);
	if (r < 0)
		return r;
	/* Started by hand, a daemon may be the first to use runtime_dir
	 * (under systemd, RuntimeDirectory= made it). */
	char dir[sizeof(addr.sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = kd_mkdir_p(dir, 0755);
		if (r < 0)
			return r;
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a crashed predecessor would make bind fail. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int kd_unix_connect(const char *path)
{
	struct sockaddr_un addr;
	int r = fill_addr(&addr, path);
	if (r < 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A local connect completes or fails at once; only then go
	 * non-blocking. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int kd_unix_peercred(int fd, struct ucred *out)
{
	socklen_t len = sizeof(*out);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len) < 0)
		return -errno;
	return 0;
}

int kd_unix_peer_allowed(int fd)
{
	struct ucred cred;
	int r = kd_unix_peercred(fd, &cred);
	if (r < 0)
		return r;
	if (cred.uid == 0 || cred.uid == geteuid() || cred.gid == getegid())
		return 1;
	/* Members of our group (kvmdesk) may talk to us even with another
	 * primary group: the units put every daemon in it. */
	gid_t groups[64];
	int n = getgroups(64, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == cred.gid)
			return 1;
	return 0;
}

int kd_unix_send(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n == (ssize_t)len ? 0 : -EMSGSIZE;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static void close_received_fds(struct msghdr *msg, int *keep)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (keep && *keep == -1 && n == 1) {
				*keep = fd;
				continue;
			}
			close(fd);
		}
	}
}

ssize_t kd_unix_recv(int sock, void *buf, size_t cap, int *fd_out)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	/* Room for a few fds so that a misbehaving peer's extras are seen and
	 * closed rather than silently truncated into our fd table. */
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	if (fd_out)
		*fd_out = -1;
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;

	int fds_seen = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			fds_seen += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fds_seen > 1) {
		close_received_fds(&msg, NULL);
		return (msg.msg_flags & MSG_TRUNC) ? -EMSGSIZE : -EPROTO;
	}
	int fd = -1;
	close_received_fds(&msg, fd_out ? &fd : NULL);
	if (fd_out)
		*fd_out = fd;
	return n;
}
