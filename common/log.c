#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static struct {
	char ident[32];
	int level;
	bool journal;
} log_state = { "kvmdesk", LOG_INFO, false };

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM to "dev:ino" of stderr when it is connected to
 * the journal: only then do structured fields go to sd_journal. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("KVMDESK_LOG");
	if (env && strcmp(env, "journal") == 0)
		return true;
	if (env && strcmp(env, "stderr") == 0)
		return false;
	const char *stream = getenv("JOURNAL_STREAM");
	if (!stream)
		return false;
	unsigned long long dev, ino;
	if (sscanf(stream, "%llu:%llu", &dev, &ino) != 2)
		return false;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void kd_log_init(const char *ident, int level)
{
	snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	log_state.level = level;
	log_state.journal = stderr_is_journal();
}

void kd_log_set_level(int level)
{
	log_state.level = level;
}

int kd_log_get_level(void)
{
	return log_state.level;
}

int kd_log_level_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] && strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	return -EINVAL;
}

static void log_to_journal(int prio, const struct kd_log_fields *f,
			   const char *message)
{
	char buf[8][160];
	struct iovec iov[10];
	int n = 0;

#define ADD_FIELD(...)                                                   \
	do {                                                             \
		int len_ = snprintf(buf[n], sizeof(buf[n]), __VA_ARGS__); \
		if (len_ >= (int)sizeof(buf[n]))                         \
			len_ = (int)sizeof(buf[n]) - 1;                  \
		iov[n].iov_base = buf[n];                                \
		iov[n].iov_len = (size_t)len_;                           \
		n++;                                                     \
	} while (0)

	ADD_FIELD("PRIORITY=%d", prio);
	ADD_FIELD("SYSLOG_IDENTIFIER=%s", log_state.ident);
	if (f && f->message_id)
		ADD_FIELD("MESSAGE_ID=%s", f->message_id);
	if (f && f->peer_id && *f->peer_id)
		ADD_FIELD("KVMDESK_PEER_ID=%s", f->peer_id);
	if (f && f->peer_addr && *f->peer_addr)
		ADD_FIELD("KVMDESK_PEER_ADDR=%s", f->peer_addr);
	if (f && f->session_kind && *f->session_kind)
		ADD_FIELD("KVMDESK_SESSION_KIND=%s", f->session_kind);
	if (f && f->conn_id)
		ADD_FIELD("KVMDESK_CONN_ID=%llu", (unsigned long long)f->conn_id);
#undef ADD_FIELD
	/* MESSAGE= is not length-limited like the fields above. */
	static const char prefix[] = "MESSAGE=";
	char *msg = malloc(sizeof(prefix) + strlen(message));
	if (!msg)
		return;
	strcpy(msg, prefix);
	strcat(msg, message);
	iov[n].iov_base = msg;
	iov[n].iov_len = strlen(msg);
	n++;
	sd_journal_sendv(iov, n);
	free(msg);
}

static void log_to_stderr(int prio, const struct kd_log_fields *f,
			  const char *message)
{
	char context[256] = "";
	size_t used = 0;
	if (f && f->conn_id)
		used += (size_t)snprintf(context + used, sizeof(context) - used,
					 " conn=%llu",
					 (unsigned long long)f->conn_id);
	if (f && f->peer_addr && *f->peer_addr && used < sizeof(context))
		used += (size_t)snprintf(context + used, sizeof(context) - used,
					 " addr=%s", f->peer_addr);
	if (f && f->peer_id && *f->peer_id && used < sizeof(context))
		used += (size_t)snprintf(context + used, sizeof(context) - used,
					 " peer=%s", f->peer_id);
	if (f && f->session_kind && *f->session_kind && used < sizeof(context))
		snprintf(context + used, sizeof(context) - used, " kind=%s",
			 f->session_kind);
	const char *lvl = prio >= 0 && prio <= LOG_DEBUG ? level_names[prio] : "?";
	fprintf(stderr, "%s[%d]: <%s> %s%s%s\n", log_state.ident, (int)getpid(),
		lvl, message, *context ? " |" : "", context);
}

void kd_log_event(int prio, const struct kd_log_fields *fields,
		  const char *fmt, ...)
{
	if (prio > log_state.level)
		return;
	int saved_errno = errno;
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (log_state.journal)
		log_to_journal(prio, fields, message);
	else
		log_to_stderr(prio, fields, message);
	errno = saved_errno;
}
