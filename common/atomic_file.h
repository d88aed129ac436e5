/* Small state files written so that a crash leaves the old or the new
 * content, never a mix: temp file in the same directory, fsync, rename. */
#pragma once
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Run as root, the new file gets the owner and group of its directory
 * (state files stay readable by the daemon owning the state directory). */
int kd_atomic_write(const char *path, const void *data, size_t len,
		    mode_t mode);
/* Like kd_atomic_write for a file that exists (old: its fstat): the new
 * one keeps its mode, owner and group (kvmdesk.conf stays readable by the
 * daemons' group). -EPERM when we cannot give it that owner. */
int kd_atomic_replace(const char *path, const void *data, size_t len,
		      const struct stat *old);
/* Reads at most max bytes (NUL-terminated, trailing newline stripped) into a
 * malloc'd buffer. -EFBIG when larger. */
int kd_read_small_file(const char *path, size_t max, char **out,
		       size_t *out_len);
/* mkdir -p with mode for the last component. */
int kd_mkdir_p(const char *path, mode_t mode);
