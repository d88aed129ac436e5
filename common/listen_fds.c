#include "listen_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "unix_socket.h"

static struct {
	int count;
	char **names;
	bool *taken;
	bool collected;
} passed;

int kd_listen_fds_collect(void)
{
	if (passed.collected)
		return passed.count;
	passed.collected = true;
	int n = sd_listen_fds_with_names(1, &passed.names);
	if (n < 0) {
		kd_warn("ignoring sockets passed by systemd: %s", strerror(-n));
		return 0;
	}
	passed.count = n;
	passed.taken = calloc((size_t)(n ? n : 1), sizeof(bool));
	return n;
}

static int socket_family(int fd)
{
	int family = 0;
	socklen_t len = sizeof(family);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0)
		return -errno;
	return family;
}

int kd_listen_fd_take(const char *name, int family)
{
	kd_listen_fds_collect();
	for (int i = 0; i < passed.count; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (passed.taken[i] || !passed.names ||
		    strcmp(passed.names[i], name) != 0)
			continue;
		int f = socket_family(fd);
		bool ok = family == 0 || f == family ||
			  (family == AF_INET && f == AF_INET6);
		if (!ok) {
			kd_warn("socket '%s' from systemd has the wrong address "
				"family; ignored", name);
			continue;
		}
		passed.taken[i] = true;
		return fd;
	}
	return -ENOENT;
}

void kd_listen_fds_done(void)
{
	for (int i = 0; i < passed.count; i++) {
		if (!passed.taken[i]) {
			kd_warn("closing unexpected socket '%s' from systemd",
				passed.names ? passed.names[i] : "?");
			close(SD_LISTEN_FDS_START + i);
		}
		if (passed.names)
			free(passed.names[i]);
	}
	free(passed.names);
	free(passed.taken);
	passed.names = NULL;
	passed.taken = NULL;
	passed.count = 0;
}

int kd_listen_unix(const char *runtime_dir, const char *name, mode_t mode,
		   char *bound_path, size_t bound_len)
{
	if (bound_path && bound_len)
		bound_path[0] = '\0';
	int fd = kd_listen_fd_take(name, AF_UNIX);
	if (fd >= 0) {
		int flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
		return fd;
	}
	char path[512];
	if (snprintf(path, sizeof(path), "%s/%s.sock", runtime_dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = kd_unix_listen(path, mode);
	if (fd < 0) {
		kd_err("cannot listen on %s: %s", path, strerror(-fd));
		return fd;
	}
	if (bound_path && bound_len)
		snprintf(bound_path, bound_len, "%s", path);
	return fd;
}
