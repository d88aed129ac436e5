/* mediad: captures video once, encodes it once per codec in use, and hands
 * the frames to every session worker through shared-memory rings. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libavutil/log.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "listen_fds.h"
#include "log.h"
#include "media.h"

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

int main(int argc, char **argv)
{
	const char *config_path;
	int next_arg;
	struct kd_config *cfg = NULL;
	struct kd_media_config mc;
	struct kd_media *media = NULL;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *watchdog = NULL;
	struct kd_general_config general;
	uint64_t wd_usec = 0;
	char status[256];
	int r, exit_code = EXIT_FAILURE;

	kd_log_init("mediad", LOG_INFO);
	r = kd_cmdline_parse(argc, argv, "", &config_path, &next_arg);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	r = kd_config_load(config_path, &cfg);
	if (r < 0) {
		kd_err("cannot load %s: %s", config_path, strerror(-r));
		return EXIT_FAILURE;
	}
	if (kd_general_config_read(cfg, &general) < 0 ||
	    kd_media_config_read(cfg, &mc) < 0)
		goto out;
	kd_log_set_level(general.log_level);
	av_log_set_level(general.log_level >= LOG_DEBUG ? AV_LOG_INFO
							: AV_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	kd_listen_fds_collect();
	base = event_base_new();
	if (!base || kd_media_create(base, &mc, &media) < 0 ||
	    kd_media_listen(media) < 0)
		goto out;
	kd_listen_fds_done();
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	if (sd_watchdog_enabled(0, &wd_usec) > 0) {
		struct timeval tv = { (time_t)(wd_usec / 2000000),
				      (suseconds_t)(wd_usec / 2 % 1000000) };

		watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
		event_add(watchdog, &tv);
	}
	kd_media_status_line(media, status, sizeof(status));
	kd_log_event(LOG_INFO, &(struct kd_log_fields){
			     .message_id = KD_MSGID_DAEMON_STARTED },
		     "mediad started: %s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	event_base_dispatch(base);
	sd_notify(0, "STOPPING=1");
	kd_log_event(LOG_INFO, &(struct kd_log_fields){
			     .message_id = KD_MSGID_DAEMON_STOPPING },
		     "mediad stopping");
	exit_code = EXIT_SUCCESS;
out:
	if (watchdog)
		event_free(watchdog);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	kd_media_destroy(media);
	if (base)
		event_base_free(base);
	kd_config_free(cfg);
	return exit_code;
}
