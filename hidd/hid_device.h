/* One HID device (keyboard, absolute or relative mouse) as the event loop
 * sees it: the newest state to send, the reports waiting for the host, and
 * whether the host is there.
 *
 * A report is written at once when the device is idle. On "would block" the
 * device waits for POLLOUT (or the file backend's simulated poll) and
 * coalesces what comes meanwhile (report_queue.h). On "gone" it closes the
 * node, logs once, and retries every second: it reopens and sends the
 * current state; the first report that goes through logs "back". */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "hid_backend.h"
#include "report_queue.h"

struct event_base;

struct kd_hid_device;

/* Called with the host's LED byte whenever it changes (keyboard only). */
typedef void (*kd_hid_led_cb)(void *opaque, uint8_t leds);

struct kd_hid_device_stats {
	uint64_t written;
	uint64_t would_block;
	uint64_t merged;
	uint64_t collapsed;
	uint64_t gone;
};

/* Takes ownership of port. */
int kd_hid_device_new(struct event_base *base, struct kd_hid_port *port,
		      struct kd_hid_device **out);
void kd_hid_device_set_led_cb(struct kd_hid_device *d, kd_hid_led_cb cb,
			      void *opaque);
/* Opens the node and sends r as the first report (the all-released state at
 * start). A node that cannot be opened yet is retried like a gone host. */
int kd_hid_device_start(struct kd_hid_device *d, const struct kd_hid_report *r);
void kd_hid_device_send(struct kd_hid_device *d, const struct kd_hid_report *r);
bool kd_hid_device_online(const struct kd_hid_device *d);
/* Reports not yet taken by the host. */
unsigned kd_hid_device_pending(const struct kd_hid_device *d);
enum kd_report_kind kd_hid_device_kind(const struct kd_hid_device *d);
void kd_hid_device_stats(const struct kd_hid_device *d,
			 struct kd_hid_device_stats *out);
void kd_hid_device_destroy(struct kd_hid_device *d);
