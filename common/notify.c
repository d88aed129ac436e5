#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"

struct kd_notify {
	struct event *watchdog;
	uint64_t interval_usec;
};

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

/* Status text goes on one line: systemd ends the field at a newline. */
static void send_status(const char *prefix, const char *status)
{
	char line[256];
	snprintf(line, sizeof(line), "%s", status);
	line[strcspn(line, "\n")] = '\0';
	sd_notifyf(0, "%sSTATUS=%s", prefix, line);
}

int kd_notify_ready(struct event_base *base, const char *status,
		    struct kd_notify **out)
{
	struct kd_notify *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (status)
		send_status("READY=1\n", status);
	else
		sd_notify(0, "READY=1");

	/* Only when WATCHDOG_PID is us: forked workers never ping. */
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);
	if (r > 0 && usec > 0) {
		n->interval_usec = usec / 2;
		struct timeval tv = {
			.tv_sec = (time_t)(n->interval_usec / 1000000),
			.tv_usec = (suseconds_t)(n->interval_usec % 1000000),
		};
		n->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, n);
		if (!n->watchdog || event_add(n->watchdog, &tv) < 0) {
			kd_err("cannot arm the systemd watchdog timer");
			if (n->watchdog)
				event_free(n->watchdog);
			free(n);
			return -ENOMEM;
		}
		sd_notify(0, "WATCHDOG=1");
	} else if (r < 0) {
		kd_warn("ignoring WATCHDOG_USEC: %s", strerror(-r));
	}
	*out = n;
	return 0;
}

void kd_notify_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	send_status("", buf);
}

void kd_notify_stopping(struct kd_notify *n)
{
	sd_notify(0, "STOPPING=1");
	if (!n)
		return;
	if (n->watchdog)
		event_free(n->watchdog);
	free(n);
}
