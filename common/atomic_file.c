#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* root (an administrator running kvmdeskctl) writes into directories a
 * daemon owns, e.g. private/ of kvmdesk-session: the file gets the
 * directory's owner, as if the daemon had written it - else the daemon
 * could not read its own password verifier. */
static int own_like_parent(const char *path, int fd)
{
	if (geteuid() != 0)
		return 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	if (fchown(fd, st.st_uid, st.st_gid) < 0)
		return -errno;
	return 0;
}

/* How the new file gets its owner: like its directory (state files) or
 * like the file it replaces (configuration). */
struct owner_rule {
	const struct stat *like; /* NULL: like the directory when root */
};

static int set_owner(const char *path, int fd, const struct owner_rule *o)
{
	if (!o->like)
		return own_like_parent(path, fd);
	if (fchown(fd, o->like->st_uid, o->like->st_gid) == 0)
		return 0;
	/* Not root: fine only when the old file was ours anyway. */
	struct stat now;
	if (fstat(fd, &now) < 0)
		return -errno;
	if (now.st_uid != o->like->st_uid || now.st_gid != o->like->st_gid)
		return -EPERM;
	return 0;
}

/* The rename reaches the disk only with its directory: a box that loses
 * power right after `kvmdeskctl init` must not come back without its keys. */
static int sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* A new file only (never one someone linked there); a stale one from a
 * process of the same pid that died is removed first. */
static int create_temp(const char *tmp, mode_t mode)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
	int fd = open(tmp, flags, mode);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, flags, mode);
	return fd < 0 ? -errno : fd;
}

static int write_replace(const char *path, const void *data, size_t len,
			 mode_t mode, const struct owner_rule *o)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = create_temp(tmp, mode);
	if (fd < 0)
		return fd;
	int r = 0;
	r = set_owner(path, fd, o);
	if (r < 0)
		goto fail;
	/* After fchown, which may clear set-id bits. */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	/* Best effort: the new content is in place whatever this says. */
	(void)sync_parent(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int kd_atomic_write(const char *path, const void *data, size_t len,
		    mode_t mode)
{
	const struct owner_rule o = { .like = NULL };
	return write_replace(path, data, len, mode, &o);
}

int kd_atomic_replace(const char *path, const void *data, size_t len,
		      const struct stat *old)
{
	const struct owner_rule o = { .like = old };
	return write_replace(path, data, len, old->st_mode & 07777, &o);
}

int kd_read_small_file(const char *path, size_t max, char **out,
		       size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	char *buf = malloc(max + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	size_t used = 0;
	for (;;) {
		ssize_t n = read(fd, buf + used, max + 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			r = -EFBIG;
			goto out;
		}
	}
	while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == '\r'))
		used--;
	buf[used] = '\0';
	*out = buf;
	buf = NULL;
	if (out_len)
		*out_len = used;
out:
	free(buf);
	close(fd);
	return r;
}

int kd_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0) {
		if (errno != EEXIST)
			return -errno;
		struct stat st;
		if (stat(buf, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return 0;
}
