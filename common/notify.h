/* sd_notify for the daemons: READY=1 with a STATUS line, WATCHDOG=1 from a
 * libevent timer at half of WatchdogSec= (so a stuck loop gets the daemon
 * restarted), STOPPING=1. Without systemd (no $NOTIFY_SOCKET) every call
 * does nothing and succeeds.
 *
 *     kd_notify_ready(base, "listening on 0.0.0.0:21118", &notify);
 *     ... event_base_dispatch(base) ...
 *     kd_notify_stopping(notify);
 */
#pragma once
#include <event2/event.h>

struct kd_notify;

/* Sends READY=1 and STATUS=status (may be NULL) and, when the unit has a
 * watchdog for this process, arms the keep-alive timer on base.
 * 0 or -errno (the daemon may go on without). */
int kd_notify_ready(struct event_base *base, const char *status,
		    struct kd_notify **out);
/* STATUS=... whenever the one-line state changes (not per event). */
void kd_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Sends STOPPING=1, stops the timer and frees n (NULL ok: still sends). */
void kd_notify_stopping(struct kd_notify *n);
