/* kvmdeskctl commands that talk to the running daemons (status, sessions)
 * or check the configuration. Each returns a process exit code:
 * 0 ok, 1 the answer is "not fine" (a daemon down, a problem in the file,
 * no such session), 2 usage error. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "commands.h"
#include "json.h"
#include "kvmdesk_ipc.pb-c.h"

/* The daemons kvmdeskctl asks, in display order. */
extern const char *const kd_ctl_daemons[];
#define KD_CTL_N_DAEMONS 4
/* How long one daemon may take to answer. */
#define KD_CTL_TIMEOUT_MS 3000

int kd_ctl_status(struct kd_ctl_context *ctx, int argc, char **argv);
/* "sessions", "sessions list", "sessions close ID" */
int kd_ctl_sessions(struct kd_ctl_context *ctx, int argc, char **argv);
/* "server [show]", "server set OPTIONS", "server clear". Needs no loaded
 * configuration: set and clear create a missing file. */
int kd_ctl_server(struct kd_ctl_context *ctx, int argc, char **argv);

/* What "server set" changes; NULL = unchanged. servers "" = none (direct
 * IP only); key, relay, relay_key "" = remove the line (default again). */
struct kd_ctl_server_change {
	const char *servers;
	const char *key;
	const char *relay;
	const char *relay_key;
};
/* Validates c, then edits [rendezvous] of path (kd_config_edit_file).
 * -EINVAL with err set, the file untouched, when anything is invalid. */
int kd_ctl_server_write(const char *path, const struct kd_ctl_server_change *c,
			char *err, size_t err_len);
/* "a, b:1" -> each a valid server host[:port] (port 2-65535), at most 8;
 * out gets them joined by ", ". */
int kd_ctl_server_check_servers(const char *list, char *out, size_t out_len,
				char *err, size_t err_len);
/* Base64 of a 32-byte Ed25519 public key (hbbs' id_ed25519.pub). */
int kd_ctl_server_check_key(const char *key, char *err, size_t len);

/* Needs no loaded configuration: it reads ctx->config_path itself. */
int kd_ctl_config_check(struct kd_ctl_context *ctx, int argc, char **argv);

/* The check itself, on text (NUL-terminated, len bytes) named name, the
 * report written to out as text or JSON. Returns the exit code (0 when no
 * errors). For tests and the fuzz target. */
int kd_config_check_text(const char *name, const char *text, size_t len,
			 bool json, FILE *out);

/* Shared by status and sessions: asks one daemon for its status. 0 and
 * *reply, or -errno (see kd_ctl_call). */
int kd_ctl_query_status(const char *runtime_dir, const char *daemon,
			Kdipc__CtlReply **reply);
/* "not running", "permission denied", ... for a kd_ctl_call error. */
const char *kd_ctl_error_text(int err);
/* Local "2026-11-21 23:00:00", or with iso UTC "2026-11-21T23:00:00Z";
 * "-" for 0. */
void kd_ctl_format_time(int64_t unix_time, char *out, size_t len, bool iso);
/* rendezvousd's registration, per server: "registration: ..." lines / a
 * JSON object (null when rdv is NULL, i.e. not running). Shared by status
 * and server. */
void kd_ctl_print_registration_text(const Kdipc__StatusReply *rdv);
void kd_ctl_json_registration(struct kd_json *j,
			      const Kdipc__StatusReply *rdv);
/* sessiond's session list as a table / as a JSON array (null when
 * sessiond is NULL, i.e. not running). */
void kd_ctl_print_sessions_text(const Kdipc__StatusReply *sessiond);
void kd_ctl_json_sessions(struct kd_json *j, const Kdipc__StatusReply *sessiond);
