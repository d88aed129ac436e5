/* /dev/hidgN of the Linux USB gadget f_hid function (spec §6.5). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hid_backend.h"

static int hidg_open(struct kd_hid_port *p)
{
	/* The keyboard is read for LED output reports too. */
	int flags = p->kind == KD_REPORT_KEYBOARD ? O_RDWR : O_WRONLY;
	int fd = open(p->path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	p->fd = fd;
	return 0;
}

static void hidg_close(struct kd_hid_port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int hidg_write(struct kd_hid_port *p, const struct kd_hid_report *r)
{
	ssize_t n = write(p->fd, r->b, r->len);

	if (n == (ssize_t)r->len)
		return 0;
	if (n >= 0)
		return -EIO; /* f_hid writes a report whole or not at all */
	if (errno == EAGAIN || errno == EINTR)
		return KD_HID_WOULD_BLOCK;
	if (errno == ESHUTDOWN || errno == ENODEV || errno == EPIPE)
		return KD_HID_GONE;
	return -errno;
}

static int hidg_read_leds(struct kd_hid_port *p, uint8_t *leds)
{
	uint8_t buf[8];
	int got = 0;
	ssize_t n;

	/* f_hid keeps only the newest output report; drain whatever is
	 * there and keep the last byte. */
	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		*leds = buf[0];
		got = 1;
	}
	return got;
}

static void hidg_destroy(struct kd_hid_port *p)
{
	hidg_close(p);
	free(p);
}

static const struct kd_hid_port_ops hidg_ops = {
	.name = "hidg",
	.open = hidg_open,
	.close = hidg_close,
	.write = hidg_write,
	.read_leds = hidg_read_leds,
	.destroy = hidg_destroy,
};

struct kd_hid_port *kd_hid_port_hidg_new(const char *path,
					 enum kd_report_kind kind)
{
	struct kd_hid_port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->ops = &hidg_ops;
	p->kind = kind;
	p->fd = -1;
	strncpy(p->path, path, sizeof(p->path) - 1);
	return p;
}
