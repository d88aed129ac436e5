/* Where reports go. One port per device (keyboard, absolute mouse, relative
 * mouse); the device (hid_device.h) drives it from the event loop.
 *
 *   hidg    /dev/hidgN of a USB gadget (spec §6.5): O_NONBLOCK writes,
 *           EAGAIN = host has not polled yet, ESHUTDOWN = host gone.
 *   uinput  virtual evdev devices, for a plain Linux box.
 *   file    appends the exact bytes a hidg write would carry to a file; can
 *           pretend to be a host polling every N microseconds (tests and
 *           bench), and toggles its LEDs like a host does. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report_queue.h"

struct kd_config;

/* Expected outcomes of a write besides 0 and -errno. */
#define KD_HID_WOULD_BLOCK 1 /* retry when writable */
#define KD_HID_GONE 2        /* host went away: close, reopen later */

struct kd_hid_port;

struct kd_hid_port_ops {
	const char *name;
	int (*open)(struct kd_hid_port *p);
	void (*close)(struct kd_hid_port *p);
	/* 0, KD_HID_WOULD_BLOCK, KD_HID_GONE or -errno. */
	int (*write)(struct kd_hid_port *p, const struct kd_hid_report *r);
	/* Keyboard only: 1 and *leds when an LED report was read, 0 if none. */
	int (*read_leds)(struct kd_hid_port *p, uint8_t *leds);
	/* When fd < 0 after KD_HID_WOULD_BLOCK: microseconds until writable. */
	uint64_t (*busy_for_us)(struct kd_hid_port *p);
	void (*destroy)(struct kd_hid_port *p);
};

struct kd_hid_port {
	const struct kd_hid_port_ops *ops;
	enum kd_report_kind kind;
	char path[256];
	int fd; /* for POLLOUT / POLLIN waits; -1 if none */
};

struct kd_hid_backend_config {
	char backend[16];        /* "hidg", "uinput", "file" */
	char keyboard[256];
	char mouse[256];
	char relative_mouse[256]; /* empty = none */
	char file_dir[256];
	uint32_t file_poll_us;   /* file: pretend host poll interval, 0 = none */
};

/* Reads [hid]. -EINVAL (logged) on a bad value. */
int kd_hid_backend_config_read(const struct kd_config *cfg,
			       struct kd_hid_backend_config *out);

/* Makes the port for kind, or NULL when this backend has no such device
 * (e.g. no relative mouse configured). -errno via *err. */
struct kd_hid_port *kd_hid_port_create(const struct kd_hid_backend_config *bc,
				       enum kd_report_kind kind, int *err);

struct kd_hid_port *kd_hid_port_hidg_new(const char *path,
					 enum kd_report_kind kind);
struct kd_hid_port *kd_hid_port_file_new(const char *path,
					 enum kd_report_kind kind,
					 uint32_t poll_us);
struct kd_hid_port *kd_hid_port_uinput_new(const char *path,
					   enum kd_report_kind kind);
/* evdev code for a keyboard-page usage, 0 if none (uinput backend). */
uint16_t kd_hid_usage_to_evdev(uint8_t usage);
