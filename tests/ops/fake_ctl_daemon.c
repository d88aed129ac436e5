/* Stands in for the daemons' control sockets in kvmdeskctl's tests:
 *     fake_ctl_daemon RUNTIME_DIR NAME...
 * serves RUNTIME_DIR/NAME-ctl.sock for each NAME with kd_ctl_server, prints
 * "ready" once all listen, runs until SIGTERM. "sessiond" has one session
 * (id 7) that close_session removes; "rendezvousd" reports a registration
 * and answers reload requests ("fake reload N"). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl_server.h"
#include "log.h"

#define MAX_NAMES 8

struct fake {
	const char *name;
	bool session_open;
	unsigned reloads;
};

static void fill(void *data, struct kd_ctl_status *st)
{
	struct fake *f = data;
	if (strcmp(f->name, "rendezvousd") == 0) {
		/* What the real rendezvousd reports. */
		kd_ctl_status_set_state(st, "registered as 123456789 with 1 of "
					    "1 rendezvous servers");
		kd_ctl_status_add_detail(st, "id", "123456789");
		kd_ctl_status_add_detail(st, "server.0.name", "hbbs.test");
		kd_ctl_status_add_detail(st, "server.0.address",
					 "127.0.0.1:21116");
		kd_ctl_status_add_detail(st, "server.0.registered", "yes");
		kd_ctl_status_add_detail(st, "server.0.state", "registered");
		kd_ctl_status_add_detail(st, "server.0.nat_type", "asymmetric");
	} else if (strcmp(f->name, "sessiond") == 0) {
		kd_ctl_status_set_state(st, f->session_open ? "1 session"
							    : "no sessions");
		if (f->session_open) {
			/* A name a client chose: quotes, a newline, bad UTF-8. */
			struct kd_ctl_session s = {
				.conn_id = 7,
				.peer_id = "987654321",
				.peer_addr = "127.0.0.1:50123",
				.how = "direct",
				.authorized = true,
				.since_unix = 1700000000,
				.codec = "vp9",
				.peer_name = "eve \"the\"\nadmin \xff",
			};
			kd_ctl_status_add_session(st, &s);
		}
	} else {
		kd_ctl_status_set_state(st, "running");
	}
}

static int close_session(void *data, uint64_t id)
{
	struct fake *f = data;
	if (strcmp(f->name, "sessiond") != 0 || id != 7 || !f->session_open)
		return KD_CTL_NO_SESSION;
	f->session_open = false;
	return 0;
}

static int reload(void *data, char *message, size_t len)
{
	struct fake *f = data;
	if (strcmp(f->name, "rendezvousd") != 0)
		return -EOPNOTSUPP;
	snprintf(message, len, "fake reload %u", ++f->reloads);
	return 0;
}

static const struct kd_ctl_ops ops = { .status = fill,
				       .close_session = close_session,
				       .reload = reload };

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc - 2 > MAX_NAMES) {
		fprintf(stderr, "usage: %s RUNTIME_DIR NAME...\n", argv[0]);
		return 2;
	}
	kd_log_init("fake_ctl_daemon", LOG_WARNING);
	struct event_base *base = event_base_new();
	struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
	event_add(term, NULL);
	event_add(intr, NULL);
	struct fake fakes[MAX_NAMES];
	struct kd_ctl_server *servers[MAX_NAMES] = { 0 };
	int n = argc - 2, status = 0;
	for (int i = 0; i < n; i++) {
		fakes[i] = (struct fake){ argv[i + 2], true, 0 };
		if (kd_ctl_server_start(base, argv[1], argv[i + 2], &ops,
					&fakes[i], &servers[i]) < 0) {
			status = 1;
			goto out;
		}
	}
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
out:
	for (int i = 0; i < n; i++)
		kd_ctl_server_destroy(servers[i]);
	event_free(term);
	event_free(intr);
	event_base_free(base);
	return status;
}
