#include "hid_backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"

static int copy(char *dst, size_t cap, const char *src, const char *key)
{
	if (strlen(src) >= cap) {
		kd_err("[hid] %s is too long", key);
		return -EINVAL;
	}
	strcpy(dst, src);
	return 0;
}

int kd_hid_backend_config_read(const struct kd_config *cfg,
			       struct kd_hid_backend_config *out)
{
	long poll_us;
	int r;

	memset(out, 0, sizeof(*out));
	r = copy(out->backend, sizeof(out->backend),
		 kd_config_get_or(cfg, "hid", "backend", "hidg"), "backend");
	if (r)
		return r;
	if (strcmp(out->backend, "hidg") && strcmp(out->backend, "uinput") &&
	    strcmp(out->backend, "file")) {
		kd_err("[hid] backend = %s: expected hidg, uinput or file",
		       out->backend);
		return -EINVAL;
	}
	r = copy(out->keyboard, sizeof(out->keyboard),
		 kd_config_get_or(cfg, "hid", "keyboard", "/dev/hidg0"),
		 "keyboard");
	if (!r)
		r = copy(out->mouse, sizeof(out->mouse),
			 kd_config_get_or(cfg, "hid", "mouse", "/dev/hidg1"),
			 "mouse");
	if (!r)
		r = copy(out->relative_mouse, sizeof(out->relative_mouse),
			 kd_config_get_or(cfg, "hid", "relative_mouse", ""),
			 "relative_mouse");
	if (!r)
		r = copy(out->file_dir, sizeof(out->file_dir),
			 kd_config_get_or(cfg, "hid", "file_dir", ""),
			 "file_dir");
	if (r)
		return r;
	r = kd_config_get_long(cfg, "hid", "file_poll_us", 0, 0, 1000000,
			       &poll_us);
	if (r)
		return r;
	out->file_poll_us = (uint32_t)poll_us;
	if (!strcmp(out->backend, "file") && !out->file_dir[0]) {
		kd_err("[hid] backend = file needs file_dir");
		return -EINVAL;
	}
	return 0;
}

struct kd_hid_port *kd_hid_port_create(const struct kd_hid_backend_config *bc,
				       enum kd_report_kind kind, int *err)
{
	char path[300];
	const char *dev = kind == KD_REPORT_KEYBOARD  ? bc->keyboard
			  : kind == KD_REPORT_MOUSE_ABS ? bc->mouse
							: bc->relative_mouse;
	struct kd_hid_port *p = NULL;

	*err = 0;
	if (!strcmp(bc->backend, "file")) {
		/* The file backend always has all three; the relative one
		 * only receives reports when a session sends relative moves. */
		static const char *const names[] = {"keyboard", "mouse",
						    "relative_mouse"};
		snprintf(path, sizeof(path), "%s/%s", bc->file_dir,
			 names[kind]);
		p = kd_hid_port_file_new(path, kind, bc->file_poll_us);
	} else if (!strcmp(bc->backend, "uinput")) {
		if (kind == KD_REPORT_MOUSE_REL && !dev[0])
			return NULL;
		p = kd_hid_port_uinput_new("/dev/uinput", kind);
	} else {
		if (!dev[0])
			return NULL;
		p = kd_hid_port_hidg_new(dev, kind);
	}
	if (!p)
		*err = -ENOMEM;
	return p;
}
