/* rendezvousd: registers the box with hbbs and turns hbbs' notifications
 * into connected sockets for sessiond (DESIGN.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "rdvd.h"

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;
	kd_log_event(LOG_INFO,
		     &(struct kd_log_fields){
			     .message_id = KD_MSGID_DAEMON_STOPPING},
		     "rendezvousd stopping (signal %d)", (int)sig);
	event_base_loopexit(base, NULL);
}

static void on_hangup(evutil_socket_t sig, short what, void *arg)
{
	kd_rdvd_reload(arg, NULL, 0);
}

int main(int argc, char **argv)
{
	const char *config_path;
	struct kd_config *cfg = NULL;
	struct kd_rdvd_config rc_cfg;
	struct kd_rdvd *d = NULL;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	int next, rc, status = EXIT_FAILURE;

	kd_log_init("rendezvousd", LOG_INFO);
	rc = kd_cmdline_parse(argc, argv, "", &config_path, &next);
	if (rc != 0)
		return rc > 0 ? EXIT_SUCCESS : 2;
	rc = kd_config_load(config_path, &cfg);
	if (rc < 0) {
		kd_err("cannot load %s: %s", config_path, strerror(-rc));
		return EXIT_FAILURE;
	}
	if (kd_rdvd_config_read(cfg, &rc_cfg) < 0)
		goto out;
	rc_cfg.config_path = config_path;
	kd_log_set_level(rc_cfg.general.log_level);
	signal(SIGPIPE, SIG_IGN);

	base = event_base_new();
	if (!base)
		goto out;
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 ||
	    event_add(sigint, NULL) < 0)
		goto out;
	if (kd_rdvd_new(base, &rc_cfg, &d) < 0)
		goto out;
	/* systemctl reload (ExecReload= sends SIGHUP); caught before start
	 * so an early one cannot end the daemon. */
	sighup = evsignal_new(base, SIGHUP, on_hangup, d);
	if (!sighup || event_add(sighup, NULL) < 0 || kd_rdvd_start(d) < 0)
		goto out;
	event_base_dispatch(base);
	status = EXIT_SUCCESS;
out:
	kd_rdvd_destroy(d);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	if (base)
		event_base_free(base);
	kd_config_free(cfg);
	return status;
}
