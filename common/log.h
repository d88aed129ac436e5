/* Logging: structured journal entries when stderr is the journal (or
 * KVMDESK_LOG=journal), plain lines on stderr otherwise. One line per event an
 * administrator cares about; never per frame or per key. */
#pragma once
#include <stdint.h>
#include <syslog.h>

#include "log_ids.h"

/* Context fields attached to an event. Any member may be NULL / 0. */
struct kd_log_fields {
	const char *message_id;   /* KD_MSGID_* */
	const char *peer_id;      /* KVMDESK_PEER_ID: the client's RustDesk id */
	const char *peer_addr;    /* KVMDESK_PEER_ADDR */
	const char *session_kind; /* KVMDESK_SESSION_KIND: direct/punch/lan/relay */
	uint64_t conn_id;         /* KVMDESK_CONN_ID, 0 = none */
};

/* ident is the program name (SYSLOG_IDENTIFIER); level a LOG_* value. */
void kd_log_init(const char *ident, int level);
void kd_log_set_level(int level);
int kd_log_get_level(void);
/* "err", "warning", "notice", "info", "debug" -> LOG_*; -EINVAL otherwise. */
int kd_log_level_parse(const char *name);

void kd_log_event(int prio, const struct kd_log_fields *fields,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define kd_log(prio, ...) kd_log_event((prio), NULL, __VA_ARGS__)
#define kd_err(...) kd_log(LOG_ERR, __VA_ARGS__)
#define kd_warn(...) kd_log(LOG_WARNING, __VA_ARGS__)
#define kd_notice(...) kd_log(LOG_NOTICE, __VA_ARGS__)
#define kd_info(...) kd_log(LOG_INFO, __VA_ARGS__)
#define kd_debug(...) kd_log(LOG_DEBUG, __VA_ARGS__)
