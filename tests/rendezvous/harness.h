/* Helpers for rendezvousd's integration tests: processes, ports, log
 * files, a minimal RustDesk client side towards the stand-in hbbs/hbbr, and a
 * fake sessiond hand-off listener. Loopback only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "rendezvous.pb-c.h"

struct h_proc {
	pid_t pid;
	char log[512];
};

/* A scratch directory with state/, run/, and a config for rendezvousd. */
struct h_env {
	char dir[256];
	char conf[320];
	char state[300];
	char run[300];
	int port;        /* fake hbbs UDP+TCP; NAT test on port-1 */
	int relay_port;  /* fake hbbr */
	char hbbs_pk[64]; /* base64, as printed by fake_hbbs */
	char host[64];    /* where fake_hbbs listens: 127.0.0.1 or ::1 */
	char servers[512]; /* [rendezvous] servers */
	char extra[512];   /* more [rendezvous] lines */
	int notify_fd;     /* NOTIFY_SOCKET for rendezvousd, -1 = none */
	struct h_proc hbbs;
	struct h_proc rdv;
};

/* Makes the directory, picks free ports, creates the identity (like
 * kvmdeskctl init), writes the config (extra lines appended to
 * [rendezvous]). */
void h_env_init(struct h_env *e, const char *name, const char *rdv_extra);
/* A port P with P-1, P (TCP and UDP) and P+1 free on 127.0.0.1. */
int h_pick_ports(void);
/* Rewrites the config (servers, extra lines, and key once known). */
void h_write_conf(struct h_env *e);
/* Serves fake_hbbs on ::1 instead of 127.0.0.1 (call before starting). */
void h_env_use_v6(struct h_env *e);
/* Gives rendezvousd a NOTIFY_SOCKET (call before h_start_rdv). */
void h_notify_listen(struct h_env *e);
/* Concatenates the sd_notify datagrams received so far into out. */
void h_notify_read(struct h_env *e, char *out, size_t cap);
/* Cleans e up at exit too (h_env_init does it; for hand-made envs). */
void h_env_track(struct h_env *e);
/* Stops every process, removes nothing (logs stay for debugging). */
void h_env_fini(struct h_env *e);

/* Starts fake_hbbs with extra arguments (NULL-terminated list) and waits for
 * READY; fills e->hbbs_pk. */
void h_start_hbbs(struct h_env *e, const char *const *extra);
void h_start_rdv(struct h_env *e);
/* SIGTERM, wait. */
void h_stop(struct h_proc *p);

/* Waits up to timeout_ms for a line containing needle in path; counts the
 * lines from the start of the file. Returns the number of matching lines
 * (>= min) or -1 on timeout. */
int h_wait_lines(const char *path, const char *needle, int min,
		 int timeout_ms);
int h_count_lines(const char *path, const char *needle);
/* Copies the last line containing needle into out; false if none. */
bool h_last_line(const char *path, const char *needle, char *out, size_t cap);

/* Reads the identity files. */
void h_read_file(const char *path, char *out, size_t cap);

/* Client side of hbbs: connects from bind_ip (NULL = any) to the fake
 * hbbs, sends msg, waits up to timeout_ms for one RendezvousMessage.
 * Returns it (free with hbb__rendezvous_message__free_unpacked) or NULL.
 * *conn_out (if not NULL) keeps the connection open for the caller. */
Hbb__RendezvousMessage *h_hbbs_ask(const struct h_env *e, const char *bind_ip,
				   Hbb__RendezvousMessage *msg, int timeout_ms,
				   int *conn_out);
/* Blocking TCP connect with retries for up to timeout_ms. -1 on failure. */
int h_tcp_connect(const struct sockaddr *sa, socklen_t len, int timeout_ms);
/* Sends one framed RendezvousMessage. */
int h_send_frame(int fd, Hbb__RendezvousMessage *msg);

/* Fake sessiond: listens on run/sessiond.sock. */
int h_sessiond_listen(const struct h_env *e);
/* Accepts a hand-off connection and checks the Hello. -1 on timeout. */
int h_sessiond_accept(int listen_fd, int timeout_ms);
/* Receives one hand-off: returns the fd and fills how/peer/secure. */
int h_sessiond_recv(int conn, int timeout_ms, char *how, size_t how_cap,
		    char *peer, size_t peer_cap, bool *secure);

/* Writes buf on a, reads it back on b (both directions), true if equal. */
bool h_pipe_check(int a, int b, const char *text);

/* Queries rendezvousd's control socket; fills the value of key (or "" when
 * absent) and the state line. false when the socket does not answer. */
bool h_ctl_status(const struct h_env *e, const char *key, char *value,
		  size_t cap, char *state, size_t state_cap);
