#include "hid_device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"

#define RETRY_MS 1000
/* A host that takes no report for this long is asleep or gone without the
 * gadget noticing: we say so, and keep only the current state so that no
 * stale keystrokes are typed when it wakes up. */
#define STALL_MS 2000

struct kd_hid_device {
	struct event_base *base;
	struct kd_hid_port *port;
	struct kd_report_queue queue;
	struct kd_hid_report current; /* newest state, resent after "gone" */
	bool have_current;
	bool is_open;
	bool online;       /* last write reached the host */
	bool waiting;      /* a write would block; wait_ev armed */
	bool gone_logged;  /* one line per gone/back transition */
	struct event *wait_ev;  /* POLLOUT on fd, or a timer */
	struct event *read_ev;  /* LED output reports */
	struct event *retry_ev;
	struct event *stall_ev;
	kd_hid_led_cb led_cb;
	void *led_opaque;
	struct kd_hid_device_stats stats;
};

static const char *const kind_names[] = {"keyboard", "mouse",
					 "relative mouse"};

static void pump(struct kd_hid_device *d);
static void check_leds(struct kd_hid_device *d);

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct kd_hid_device *d = arg;

	d->waiting = false;
	evtimer_del(d->stall_ev);
	pump(d);
}

static void log_gone(struct kd_hid_device *d, const char *why)
{
	struct kd_log_fields f = {.message_id = KD_MSGID_HID_TARGET_GONE};

	d->online = false;
	if (d->gone_logged)
		return;
	d->gone_logged = true;
	d->stats.gone++; /* transitions, not retries */
	kd_log_event(LOG_WARNING, &f, "%s %s: %s", kind_names[d->port->kind],
		     d->port->path, why);
}

static void on_stall(evutil_socket_t fd, short what, void *arg)
{
	struct kd_hid_device *d = arg;

	if (!d->waiting)
		return;
	log_gone(d, "target host takes no reports (asleep or unplugged), "
		    "keeping the current state");
	kd_report_queue_collapse(&d->queue);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	check_leds(arg);
}

/* Opens the node; the keyboard's LED output reports are read from then on. */
static int open_port(struct kd_hid_device *d)
{
	int r = d->port->ops->open(d->port);

	if (r < 0)
		return r;
	d->is_open = true;
	if (d->port->fd >= 0 && d->port->kind == KD_REPORT_KEYBOARD) {
		event_assign(d->read_ev, d->base, d->port->fd,
			     EV_READ | EV_PERSIST, on_readable, d);
		event_add(d->read_ev, NULL);
	}
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct kd_hid_device *d = arg;

	if (!d->is_open && open_port(d) < 0) {
		struct timeval tv = {RETRY_MS / 1000, 0};
		evtimer_add(d->retry_ev, &tv);
		return;
	}
	/* Resend the current state: whatever the host last saw is stale. */
	kd_report_queue_collapse(&d->queue);
	if (!kd_report_queue_peek(&d->queue) && d->have_current)
		kd_report_queue_push(&d->queue, &d->current);
	pump(d);
}

static void close_port(struct kd_hid_device *d)
{
	if (event_initialized(d->read_ev))
		event_del(d->read_ev);
	if (event_initialized(d->wait_ev))
		event_del(d->wait_ev);
	d->waiting = false;
	if (d->is_open)
		d->port->ops->close(d->port);
	d->is_open = false;
}

static void set_gone(struct kd_hid_device *d, int err)
{
	struct timeval tv = {RETRY_MS / 1000, 0};

	log_gone(d, err == KD_HID_GONE
			    ? "target host gone, keeping state until it returns"
			    : strerror(-err));
	evtimer_del(d->stall_ev);
	/* The node may vanish with the gadget; reopen it cleanly later. */
	close_port(d);
	kd_report_queue_collapse(&d->queue);
	evtimer_add(d->retry_ev, &tv);
}

static void set_online(struct kd_hid_device *d)
{
	struct kd_log_fields f = {.message_id = KD_MSGID_HID_TARGET_BACK};

	if (d->online)
		return;
	d->online = true;
	if (d->gone_logged) {
		d->gone_logged = false;
		kd_log_event(LOG_NOTICE, &f, "%s %s: target host is back",
			     kind_names[d->port->kind], d->port->path);
	}
}

static void wait_writable(struct kd_hid_device *d)
{
	d->waiting = true;
	d->stats.would_block++;
	if (d->port->fd >= 0) {
		struct timeval stall = {STALL_MS / 1000, 0};
		event_assign(d->wait_ev, d->base, d->port->fd, EV_WRITE,
			     on_writable, d);
		event_add(d->wait_ev, NULL);
		evtimer_add(d->stall_ev, &stall);
	} else {
		uint64_t us = d->port->ops->busy_for_us
				      ? d->port->ops->busy_for_us(d->port)
				      : 1000;
		struct timeval tv = {(time_t)(us / 1000000),
				     (suseconds_t)(us % 1000000)};
		evtimer_assign(d->wait_ev, d->base, on_writable, d);
		evtimer_add(d->wait_ev, &tv);
	}
}

static void pump(struct kd_hid_device *d)
{
	const struct kd_hid_report *r;

	while (d->is_open && !d->waiting &&
	       (r = kd_report_queue_peek(&d->queue))) {
		int ret = d->port->ops->write(d->port, r);
		if (ret == KD_HID_WOULD_BLOCK) {
			wait_writable(d);
			return;
		}
		if (ret != 0) {
			set_gone(d, ret);
			return;
		}
		kd_report_queue_pop(&d->queue);
		d->stats.written++;
		set_online(d);
		if (d->port->fd < 0)
			check_leds(d); /* file backend: LEDs follow writes */
	}
}

static void check_leds(struct kd_hid_device *d)
{
	uint8_t leds;

	if (!d->is_open || !d->port->ops->read_leds ||
	    d->port->kind != KD_REPORT_KEYBOARD)
		return;
	if (d->port->ops->read_leds(d->port, &leds) > 0 && d->led_cb)
		d->led_cb(d->led_opaque, leds);
}

int kd_hid_device_new(struct event_base *base, struct kd_hid_port *port,
		      struct kd_hid_device **out)
{
	struct kd_hid_device *d = calloc(1, sizeof(*d));

	if (!d) {
		port->ops->destroy(port);
		return -ENOMEM;
	}
	d->base = base;
	d->port = port;
	kd_report_queue_init(&d->queue, port->kind);
	d->wait_ev = calloc(1, event_get_struct_event_size());
	d->read_ev = calloc(1, event_get_struct_event_size());
	d->retry_ev = evtimer_new(base, on_retry, d);
	d->stall_ev = evtimer_new(base, on_stall, d);
	if (!d->wait_ev || !d->read_ev || !d->retry_ev || !d->stall_ev) {
		kd_hid_device_destroy(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

void kd_hid_device_set_led_cb(struct kd_hid_device *d, kd_hid_led_cb cb,
			      void *opaque)
{
	d->led_cb = cb;
	d->led_opaque = opaque;
}

int kd_hid_device_start(struct kd_hid_device *d, const struct kd_hid_report *r)
{
	int ret;

	d->current = *r;
	d->have_current = true;
	kd_report_queue_push(&d->queue, r);
	ret = open_port(d);
	if (ret < 0)
		set_gone(d, ret); /* retried every second */
	else
		pump(d);
	return 0;
}

void kd_hid_device_send(struct kd_hid_device *d, const struct kd_hid_report *r)
{
	d->current = *r;
	d->have_current = true;
	kd_report_queue_push(&d->queue, r);
	if (!d->is_open)
		kd_report_queue_collapse(&d->queue);
	pump(d);
}

bool kd_hid_device_online(const struct kd_hid_device *d)
{
	return d->online;
}

unsigned kd_hid_device_pending(const struct kd_hid_device *d)
{
	return d->queue.count;
}

enum kd_report_kind kd_hid_device_kind(const struct kd_hid_device *d)
{
	return d->port->kind;
}

void kd_hid_device_stats(const struct kd_hid_device *d,
			 struct kd_hid_device_stats *out)
{
	*out = d->stats;
	out->merged = d->queue.merged;
	out->collapsed = d->queue.collapsed;
}

void kd_hid_device_destroy(struct kd_hid_device *d)
{
	if (!d)
		return;
	if (d->wait_ev && event_initialized(d->wait_ev))
		event_del(d->wait_ev);
	if (d->read_ev && event_initialized(d->read_ev))
		event_del(d->read_ev);
	free(d->wait_ev);
	free(d->read_ev);
	if (d->retry_ev)
		event_free(d->retry_ev);
	if (d->stall_ev)
		event_free(d->stall_ev);
	if (d->is_open)
		d->port->ops->close(d->port);
	d->port->ops->destroy(d->port);
	free(d);
}
