/* Internals shared by monitor.c (sockets, processes, signals),
 * monitor_worker.c (the worker channel), monitor_handoff.c (the hand-off
 * socket) and monitor_ctl.c (the control socket's answers). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "identity.h"
#include "monitor.h"
#include "netaddr.h"
#include "password.h"
#include "sandbox.h"
#include "secrets.h"
#include "throttle.h"

struct monitor_worker {
	struct kd_monitor *m;
	struct monitor_worker *next;
	pid_t pid;
	uint64_t conn_id;
	int fd; /* socketpair to the worker, -1 once closed */
	struct event *ev;
	bool hello, secure, signed_id, login_ok, authorized, encrypted,
		killed, reaped;
	char challenge[KD_CHALLENGE_LEN + 1];
	char ip[KD_ADDR_STR_MAX], addr[KD_ADDR_STR_MAX], how[16];
	char peer_id[64], peer_name[64], codec[16], reason[128];
	time_t since;
	struct timespec authorized_at;
};

/* A connection on the hand-off socket. */
struct monitor_peer {
	struct kd_monitor *m;
	struct monitor_peer *next;
	int fd;
	struct event *ev;
	bool hello;
};

struct kd_monitor {
	struct kd_monitor_settings s;
	struct event_base *base;
	struct kd_secrets *secrets;
	struct kd_identity identity;
	struct kd_throttle *throttle;
	struct kd_sandbox_user worker_user;
	char hostname[256];

	int tcp_fd[2];
	struct event *tcp_ev[2];
	int handoff_fd;
	char handoff_path[300]; /* set when we made the file */
	struct event *handoff_ev;
	struct monitor_peer *peers;
	struct kd_ctl_server *ctl;

	struct monitor_worker *workers;
	unsigned n_workers;
	uint64_t next_conn_id;

	struct event *sig_term, *sig_int, *sig_chld, *watchdog, *stop_timer;
	bool stopping;
	bool notify_ready;
};

/* monitor.c */
int monitor_spawn_worker(struct kd_monitor *m, int conn_fd, const char *how,
			 const char *peer_addr, bool secure);
void monitor_status_changed(struct kd_monitor *m);
void monitor_status_line(const struct kd_monitor *m, char *out, size_t len);

/* monitor_worker.c */
void monitor_worker_readable(evutil_socket_t fd, short what, void *arg);
void monitor_worker_kill(struct monitor_worker *w, const char *why);
void monitor_worker_close_channel(struct monitor_worker *w);
int monitor_worker_request_close(struct monitor_worker *w, const char *reason);
void monitor_worker_reaped(struct monitor_worker *w, int status);

/* monitor_handoff.c */
void monitor_accept_peer(evutil_socket_t fd, short what, void *arg);
void monitor_peers_free(struct kd_monitor *m);

/* monitor_ctl.c: serves sessiond-ctl.sock on m->base (call between
 * kd_listen_fds_collect and kd_listen_fds_done). 0 or -errno. */
int monitor_ctl_start(struct kd_monitor *m);
