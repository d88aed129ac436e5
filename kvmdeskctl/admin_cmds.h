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
/* sessiond's session list as a table / as a JSON array (null when
 * sessiond is NULL, i.e. not running). */
void kd_ctl_print_sessions_text(const Kdipc__StatusReply *sessiond);
void kd_ctl_json_sessions(struct kd_json *j, const Kdipc__StatusReply *sessiond);
