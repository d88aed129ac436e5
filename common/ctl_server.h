/* The control socket every daemon offers to kvmdeskctl:
 * runtime_dir/<component>-ctl.sock, SOCK_SEQPACKET, mode 0660, one kdipc
 * CtlRequest / CtlReply envelope per packet (proto/kvmdesk_ipc.proto).
 *
 * A client must be allowed by kd_unix_peer_allowed (root, our uid, our
 * group), send Hello first (we answer Hello), then any number of status,
 * close_session or reload requests, each answered with one CtlReply. Anything else -
 * a second Hello, a request before Hello, an unparsable packet, a packet
 * carrying an fd - closes that connection only.
 *
 * Use from a daemon (one libevent loop):
 *
 *     static void fill(void *data, struct kd_ctl_status *st) {
 *             kd_ctl_status_set_state(st, "registered with hbbs");
 *             kd_ctl_status_add_detail(st, "server", "hbbs.example:21116");
 *     }
 *     static const struct kd_ctl_ops ops = { .status = fill };
 *     kd_listen_fds_collect();          // before kd_listen_fds_done()
 *     r = kd_ctl_server_start(base, cfg.runtime_dir, "rendezvousd", &ops,
 *                             daemon, &ctl);
 *     ...
 *     kd_ctl_server_destroy(ctl);       // on shutdown
 *
 * When systemd passed a socket named "<component>-ctl" it is used instead
 * of binding the path. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "kvmdesk_ipc.pb-c.h"

#define KD_CTL_MAX_CLIENTS 16
/* A connection with no request for this long is closed. */
#define KD_CTL_IDLE_TIMEOUT_S 30
#define KD_CTL_SOCKET_MODE 0660
/* A close_session callback's answer when there is no such session. */
#define KD_CTL_NO_SESSION (-ENOENT)

struct kd_ctl_server;
/* What a status callback fills; owned by the server. */
struct kd_ctl_status;

/* A session as kvmdeskctl shows it. Strings are copied; NULL = "". */
struct kd_ctl_session {
	uint64_t conn_id;
	const char *peer_id;
	const char *peer_addr;
	const char *how;        /* "direct", "punch", "lan", "relay" */
	bool authorized;
	int64_t since_unix;
	const char *codec;      /* "vp9", ... or "" */
	const char *peer_name;
};

struct kd_ctl_ops {
	/* Required. component and pid are preset; fill state, details and
	 * sessions with the kd_ctl_status_* helpers. Must not block. */
	void (*status)(void *data, struct kd_ctl_status *st);
	/* Optional (NULL: every close_session is answered -EOPNOTSUPP).
	 * Returns 0 or a negative errno, KD_CTL_NO_SESSION when unknown. */
	int (*close_session)(void *data, uint64_t conn_id);
	/* Optional (NULL: every reload is answered -EOPNOTSUPP). Re-reads
	 * the configuration; returns 0 or a negative errno (-EINVAL: invalid
	 * file, old settings kept) and says what happened in message. */
	int (*reload)(void *data, char *message, size_t len);
};

/* Listens (or takes the systemd socket) and registers with base. ops and
 * data must outlive the server. 0 or -errno. */
int kd_ctl_server_start(struct event_base *base, const char *runtime_dir,
			const char *component, const struct kd_ctl_ops *ops,
			void *data, struct kd_ctl_server **out);
/* Closes every connection, removes the socket file if we bound it. NULL ok. */
void kd_ctl_server_destroy(struct kd_ctl_server *srv);
/* The socket path (for logs and tests). */
const char *kd_ctl_server_path(const struct kd_ctl_server *srv);

/* Status helpers for the callback. Strings are copied. They return 0 or
 * -ENOMEM; on failure the reply just lacks that item. */
int kd_ctl_status_set_state(struct kd_ctl_status *st, const char *state);
int kd_ctl_status_add_detail(struct kd_ctl_status *st, const char *key,
			     const char *value);
int kd_ctl_status_add_session(struct kd_ctl_status *st,
			      const struct kd_ctl_session *session);

/* Client side (kvmdeskctl, tests): connects to path, exchanges Hello, sends
 * req, waits up to timeout_ms for the reply. Returns 0 and *reply (free with
 * protobuf_c_message_free_unpacked), -ENOENT / -ECONNREFUSED when the daemon
 * is not there, -ETIMEDOUT, -EPROTO on a wrong answer, or another -errno. */
int kd_ctl_call(const char *path, const Kdipc__CtlRequest *req,
		int timeout_ms, Kdipc__CtlReply **reply);
/* kd_ctl_call with a StatusRequest: on success (*reply)->status is set. */
int kd_ctl_call_status(const char *path, int timeout_ms,
		       Kdipc__CtlReply **reply);
/* kd_ctl_call with a CloseSession for conn_id. On success (0) *error is the
 * daemon's answer: 0, KD_CTL_NO_SESSION or another -errno. */
int kd_ctl_call_close_session(const char *path, uint64_t conn_id,
			      int timeout_ms, int *error);

/* kd_ctl_call with a Reload. On success (0) *error is the daemon's answer
 * (0 or -errno) and message (may be NULL) what it said. */
int kd_ctl_call_reload(const char *path, int timeout_ms, int *error,
		       char *message, size_t len);

/* runtime_dir/<component>-ctl.sock into out. 0 or -ENAMETOOLONG. */
int kd_ctl_socket_path(const char *runtime_dir, const char *component,
		       char *out, size_t len);
