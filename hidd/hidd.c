#include "hidd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "ctl_server.h"
#include "hid_backend.h"
#include "input_server.h"
#include "input_state.h"
#include "listen_fds.h"
#include "log.h"
#include "notify.h"
#include "unix_socket.h"

#define STATUS_EVERY_S 5

struct kd_hidd {
	struct kd_general_config general;
	struct kd_hid_backend_config hid;
	struct event_base *base;
	struct kd_hid_device *dev[3]; /* by enum kd_report_kind */
	struct kd_input_state *state;
	struct kd_input_server *input;
	struct kd_ctl_server *ctl;
	struct kd_notify *notify;
	struct event *sig_term, *sig_int, *tick;
	char last_status[256];
	/* online bits last told to workers */
	unsigned online_mask;
};

static void status_line(struct kd_hidd *h, char *out, size_t len)
{
	struct kd_input_devices d = {h->dev[0], h->dev[1], h->dev[2]};

	snprintf(out, len, "backend %s; keyboard %s; mouse %s; %u session(s)",
		 h->hid.backend,
		 d.keyboard && kd_hid_device_online(d.keyboard) ? "online"
								 : "offline",
		 d.mouse && kd_hid_device_online(d.mouse) ? "online"
							  : "offline",
		 kd_input_state_sessions(h->state));
}

static void ctl_status(void *data, struct kd_ctl_status *st)
{
	static const char *const names[] = {"keyboard", "mouse",
					    "relative_mouse"};
	struct kd_hidd *h = data;
	char line[256];

	status_line(h, line, sizeof(line));
	kd_ctl_status_set_state(st, line);
	kd_ctl_status_add_detail(st, "backend", h->hid.backend);
	for (int k = 0; k < 3; k++) {
		struct kd_hid_device_stats s;
		char key[64];
		if (!h->dev[k])
			continue;
		kd_hid_device_stats(h->dev[k], &s);
		kd_ctl_status_add_detail(st, names[k],
					 kd_hid_device_online(h->dev[k])
						 ? "online"
						 : "offline");
		snprintf(key, sizeof(key), "%s_reports", names[k]);
		snprintf(line, sizeof(line),
			 "%llu written, %llu merged, %llu busy, %llu gone",
			 (unsigned long long)s.written,
			 (unsigned long long)s.merged,
			 (unsigned long long)s.would_block,
			 (unsigned long long)s.gone);
		kd_ctl_status_add_detail(st, key, line);
	}
	snprintf(line, sizeof(line), "0x%02x",
		 kd_input_state_get_leds(h->state));
	kd_ctl_status_add_detail(st, "leds", line);
}

static const struct kd_ctl_ops ctl_ops = {.status = ctl_status};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kd_hidd *h = arg;
	char line[256];
	unsigned mask = 0;

	unsigned stale;

	kd_input_state_set_time(h->state, kd_input_clock_ms());
	stale = kd_input_state_release_stale(h->state, KD_INPUT_STALE_KEY_MS);
	if (stale)
		kd_log_event(LOG_NOTICE, &(struct kd_log_fields){
				     .message_id = KD_MSGID_HID_KEYS_RELEASED},
			     "released %u key(s) held for more than %u s "
			     "without the client repeating or releasing them",
			     stale, KD_INPUT_STALE_KEY_MS / 1000);
	for (int k = 0; k < 3; k++)
		if (h->dev[k] && kd_hid_device_online(h->dev[k]))
			mask |= 1u << k;
	if (mask != h->online_mask) {
		h->online_mask = mask;
		kd_input_server_broadcast_status(h->input);
	}
	status_line(h, line, sizeof(line));
	if (strcmp(line, h->last_status)) {
		snprintf(h->last_status, sizeof(h->last_status), "%s", line);
		kd_notify_status("%s", line);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kd_hidd *h = arg;

	kd_log_event(LOG_INFO,
		     &(struct kd_log_fields){
			     .message_id = KD_MSGID_DAEMON_STOPPING},
		     "stopping on signal %d", (int)sig);
	event_base_loopbreak(h->base);
}

static int make_devices(struct kd_hidd *h)
{
	for (int k = 0; k < 3; k++) {
		int err;
		struct kd_hid_port *p =
			kd_hid_port_create(&h->hid, (enum kd_report_kind)k, &err);
		if (!p) {
			if (err)
				return err;
			continue;
		}
		err = kd_hid_device_new(h->base, p, &h->dev[k]);
		if (err)
			return err;
	}
	return 0;
}

int kd_hidd_new(const struct kd_config *cfg, struct kd_hidd **out)
{
	struct kd_hidd *h = calloc(1, sizeof(*h));
	struct kd_input_devices devs;
	int r;

	if (!h)
		return -ENOMEM;
	r = kd_general_config_read(cfg, &h->general);
	if (!r)
		r = kd_hid_backend_config_read(cfg, &h->hid);
	if (r)
		goto fail;
	h->base = event_base_new();
	if (!h->base) {
		r = -ENOMEM;
		goto fail;
	}
	r = make_devices(h);
	if (r)
		goto fail;
	devs = (struct kd_input_devices){h->dev[0], h->dev[1], h->dev[2]};
	r = kd_input_state_new(&devs, &h->state);
	if (r)
		goto fail;
	if (h->dev[KD_REPORT_KEYBOARD])
		kd_hid_device_set_led_cb(h->dev[KD_REPORT_KEYBOARD],
					 kd_input_state_leds, h->state);
	*out = h;
	return 0;
fail:
	kd_hidd_free(h);
	return r;
}

static int start(struct kd_hidd *h)
{
	struct kd_hid_report rel0, kbd0, abs0;
	struct timeval tick = {STATUS_EVERY_S, 0};
	int fd, r;

	kd_listen_fds_collect();
	fd = kd_listen_unix(h->general.runtime_dir, "hidd", 0660, NULL, 0);
	if (fd < 0)
		return fd;
	r = kd_input_server_new(h->base, fd, h->state, &h->input);
	if (r)
		return r;
	r = kd_ctl_server_start(h->base, h->general.runtime_dir, "hidd",
				&ctl_ops, h, &h->ctl);
	if (r) {
		kd_err("control socket: %s", strerror(-r));
		return r;
	}
	kd_listen_fds_done();

	/* Whatever a previous hidd left pressed goes up first. */
	memset(&kbd0, 0, sizeof(kbd0));
	kbd0.len = KD_HID_KBD_REPORT_LEN;
	kd_hid_abs_report(0, 0, 0, 0, 0, &abs0);
	kd_hid_rel_report(0, 0, 0, 0, 0, &rel0);
	const struct kd_hid_report *first[3] = {&kbd0, &abs0, &rel0};
	for (int k = 0; k < 3; k++)
		if (h->dev[k])
			kd_hid_device_start(h->dev[k], first[k]);

	h->sig_term = evsignal_new(h->base, SIGTERM, on_signal, h);
	h->sig_int = evsignal_new(h->base, SIGINT, on_signal, h);
	h->tick = event_new(h->base, -1, EV_PERSIST, on_tick, h);
	if (!h->sig_term || !h->sig_int || !h->tick)
		return -ENOMEM;
	event_add(h->sig_term, NULL);
	event_add(h->sig_int, NULL);
	event_add(h->tick, &tick);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int kd_hidd_run(struct kd_hidd *h)
{
	char line[256];
	int r = start(h);

	if (r)
		return r;
	status_line(h, line, sizeof(line));
	kd_log_event(LOG_INFO,
		     &(struct kd_log_fields){
			     .message_id = KD_MSGID_DAEMON_STARTED},
		     "hidd started: %s", line);
	snprintf(h->last_status, sizeof(h->last_status), "%s", line);
	kd_notify_ready(h->base, line, &h->notify);
	event_base_dispatch(h->base);
	kd_notify_stopping(h->notify);
	h->notify = NULL;
	/* Sessions end: their keys go up before we exit. */
	kd_input_server_free(h->input);
	h->input = NULL;
	kd_input_state_reset_devices(h->state);
	return 0;
}

void kd_hidd_free(struct kd_hidd *h)
{
	if (!h)
		return;
	kd_input_server_free(h->input);
	kd_ctl_server_destroy(h->ctl);
	kd_input_state_free(h->state);
	for (int k = 0; k < 3; k++)
		kd_hid_device_destroy(h->dev[k]);
	if (h->sig_term)
		event_free(h->sig_term);
	if (h->sig_int)
		event_free(h->sig_int);
	if (h->tick)
		event_free(h->tick);
	if (h->base)
		event_base_free(h->base);
	free(h);
}
