/* Helpers shared by the hid tests: a memory HID port that records reports
 * and can pretend to be busy or gone, and a stand-in sessiond worker for the
 * input service. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hid_backend.h"

struct event_base;
struct kd_worker;

#define MEM_PORT_MAX 4096

struct mem_port {
	struct kd_hid_port port;
	struct kd_hid_report reports[MEM_PORT_MAX];
	size_t n;
	bool busy;    /* writes return KD_HID_WOULD_BLOCK */
	bool gone;    /* writes return KD_HID_GONE */
	bool open_fails;
	unsigned opens;
	uint8_t leds; /* toggled on lock key presses, like a host */
	bool leds_changed;
	struct kd_hid_report prev;
};

struct mem_port *mem_port_new(enum kd_report_kind kind);
/* Last report, or NULL. */
const struct kd_hid_report *mem_port_last(const struct mem_port *m);
/* Formats report i as hex "00 00 04 00 00 00 00 00". */
const char *mem_port_hex(const struct mem_port *m, size_t i);

/* A sessiond worker stand-in: kd_worker_* for the input service. */
struct kd_worker *fake_worker_new(struct event_base *base,
				  const char *runtime_dir,
				  const char *config_text);
void fake_worker_free(struct kd_worker *w);

/* Runs the loop until nothing is ready (no timers waited for). */
void run_pending(struct event_base *base);
/* Makes a fresh directory under /tmp; returns its path (static buffer). */
const char *make_temp_dir(void);
