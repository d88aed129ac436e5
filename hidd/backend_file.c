/* Appends the exact bytes a /dev/hidgN write would carry to a file, so tests
 * and benchmarks can check what the host would have received. It can pretend
 * to be a host that polls every poll_us (writes in between get "EAGAIN"), and
 * it toggles Num/Caps/Scroll Lock LEDs on key presses the way a host does. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hid_backend.h"

struct file_port {
	struct kd_hid_port port;
	int file;
	uint32_t poll_us;
	uint64_t last_write_us;
	struct kd_hid_report prev;
	uint8_t leds;
	bool leds_changed;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int file_open(struct kd_hid_port *p)
{
	struct file_port *f = (struct file_port *)p;

	f->file = open(p->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		       0644);
	return f->file < 0 ? -errno : 0;
}

static void file_close(struct kd_hid_port *p)
{
	struct file_port *f = (struct file_port *)p;

	if (f->file >= 0)
		close(f->file);
	f->file = -1;
}

static bool newly_pressed(const struct kd_hid_report *prev,
			  const struct kd_hid_report *r, uint8_t usage)
{
	bool before = false, now = false;

	for (int i = 2; i < KD_HID_KBD_REPORT_LEN; i++) {
		before |= prev->b[i] == usage;
		now |= r->b[i] == usage;
	}
	return now && !before;
}

/* What a host does with its lock keys. */
static void toggle_leds(struct file_port *f, const struct kd_hid_report *r)
{
	uint8_t before = f->leds;

	if (newly_pressed(&f->prev, r, KD_HID_USAGE_NUM_LOCK))
		f->leds ^= KD_HID_LED_NUM_LOCK;
	if (newly_pressed(&f->prev, r, KD_HID_USAGE_CAPS_LOCK))
		f->leds ^= KD_HID_LED_CAPS_LOCK;
	if (newly_pressed(&f->prev, r, 0x47))
		f->leds ^= KD_HID_LED_SCROLL_LOCK;
	f->leds_changed |= f->leds != before;
	f->prev = *r;
}

static int file_write(struct kd_hid_port *p, const struct kd_hid_report *r)
{
	struct file_port *f = (struct file_port *)p;
	uint64_t now = 0;
	ssize_t n;

	if (f->poll_us) {
		now = now_us();
		if (f->last_write_us && now - f->last_write_us < f->poll_us)
			return KD_HID_WOULD_BLOCK;
	}
	n = write(f->file, r->b, r->len);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)r->len)
		return -EIO;
	f->last_write_us = now;
	if (p->kind == KD_REPORT_KEYBOARD)
		toggle_leds(f, r);
	return 0;
}

static int file_read_leds(struct kd_hid_port *p, uint8_t *leds)
{
	struct file_port *f = (struct file_port *)p;

	if (!f->leds_changed)
		return 0;
	f->leds_changed = false;
	*leds = f->leds;
	return 1;
}

static uint64_t file_busy_for_us(struct kd_hid_port *p)
{
	struct file_port *f = (struct file_port *)p;
	uint64_t since = now_us() - f->last_write_us;

	return since >= f->poll_us ? 0 : f->poll_us - since;
}

static void file_destroy(struct kd_hid_port *p)
{
	file_close(p);
	free(p);
}

static const struct kd_hid_port_ops file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.write = file_write,
	.read_leds = file_read_leds,
	.busy_for_us = file_busy_for_us,
	.destroy = file_destroy,
};

struct kd_hid_port *kd_hid_port_file_new(const char *path,
					 enum kd_report_kind kind,
					 uint32_t poll_us)
{
	struct file_port *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->port.ops = &file_ops;
	f->port.kind = kind;
	f->port.fd = -1; /* regular files cannot be polled */
	f->file = -1;
	f->poll_us = poll_us;
	strncpy(f->port.path, path, sizeof(f->port.path) - 1);
	return &f->port;
}
