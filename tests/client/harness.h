/* Integration-test harness: a temporary kvmdesk installation (config,
 * state, runtime dir, a free loopback port), kvmdeskctl init / password
 * set, daemons started from $KD_BUILD_DIR in their own process groups and
 * always cleaned up, even when a test fails. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KD_HARNESS_MAX_PROCS 8

struct kd_harness {
	char dir[256];
	char conf_path[300];
	char state_dir[300], runtime_dir[300], file_dir[300];
	uint16_t port;            /* [session] listen = 127.0.0.1:port */
	char device_id[64];       /* kvmdeskctl id */
	char pubkey_b64[128];     /* kvmdeskctl pubkey */
	uint8_t pubkey[32];
	struct {
		char name[32];
		pid_t pid;
	} procs[KD_HARNESS_MAX_PROCS];
	pid_t owner;              /* only this process cleans up */
};

/* Creates the directory and kvmdesk.conf (extra_conf appended, may be
 * NULL), runs kvmdeskctl init and, when password is not NULL, password
 * set. 0 or -errno (details on stderr). */
int kd_harness_setup(struct kd_harness *h, const char *extra_conf,
		     const char *password);
int kd_harness_set_password(struct kd_harness *h, const char *password);
/* Starts $KD_BUILD_DIR/<name>/<name> -c conf, stderr to <dir>/<name>.log. */
pid_t kd_harness_start(struct kd_harness *h, const char *name);
/* Starts a daemon and waits until runtime_dir/socket_name exists; on
 * failure its log goes to stderr. 0, or -ETIMEDOUT / -errno. */
int kd_harness_start_daemon(struct kd_harness *h, const char *name,
			    const char *socket_name, int timeout_ms);
/* SIGTERM to the daemon's process group, then SIGKILL after timeout_ms;
 * returns the daemon's exit status (or -errno). */
int kd_harness_stop(struct kd_harness *h, const char *name, int timeout_ms);
/* Kills every process group, removes the directory. Idempotent. */
void kd_harness_cleanup(struct kd_harness *h);

int kd_harness_wait_port(uint16_t port, int timeout_ms);
int kd_harness_wait_file(const char *path, int timeout_ms);
uint16_t kd_harness_free_port(void);
/* Size of a file (0 when missing), and up to cap of its first bytes (the
 * file backend's report logs, for instance). */
size_t kd_harness_file_size(const char *path);
size_t kd_harness_read_file(const char *path, uint8_t *buf, size_t cap);
/* Path of a file in the harness dir (static buffer). */
const char *kd_harness_path(const struct kd_harness *h, const char *name);
/* Prints <dir>/<name>.log to stderr (for failed tests). */
void kd_harness_dump_log(const struct kd_harness *h, const char *name);
/* A connected loopback TCP pair: *client_fd bound to src_ip (e.g.
 * "127.0.0.5"), *server_fd the accepted end. */
int kd_harness_tcp_pair(const char *src_ip, int *client_fd, int *server_fd);
/* Plays rendezvousd: connects to runtime_dir/sessiond.sock, sends Hello and
 * Handoff{how, secure} with server_fd (always closed). */
int kd_harness_handoff(struct kd_harness *h, int server_fd, bool secure,
		       const char *how);

/* Runs kvmdeskctl -c conf args..., stdin from input (may be NULL), stdout
 * into out. Returns the exit status or -errno. */
int kd_harness_ctl(struct kd_harness *h, const char *input, char *out,
		   size_t out_len, const char *const *args);
