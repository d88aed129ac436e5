/* The rendezvousd daemon: configuration, the servers it registers with,
 * the hand-off to sessiond, the control socket and sd_notify. main.c only
 * wires this to a loop. */
#pragma once
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "rdv_ctx.h"

#define KD_RDVD_SERVERS_MAX 8

struct kd_rdvd_config {
	struct kd_general_config general;
	char servers[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX];
	unsigned n_servers;
	char key[KD_RDV_KEY_MAX];
	char relay[KD_RDV_HOST_MAX];
	char relay_key[KD_RDV_KEY_MAX];
	uint32_t reg_interval_ms;
	/* The file kd_rdvd_reload re-reads; set by the caller after
	 * kd_rdvd_config_read, must outlive the daemon. */
	const char *config_path;
};

/* Reads [general] and [rendezvous]; -EINVAL (logged) on a bad value. */
int kd_rdvd_config_read(const struct kd_config *cfg,
			struct kd_rdvd_config *out);
/* Splits "a, b:1, [v6]:2" into out; -E2BIG when there are too many. */
int kd_rdvd_servers_parse(const char *text,
			  char out[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX],
			  unsigned *n);

struct kd_rdvd;

int kd_rdvd_new(struct event_base *base, const struct kd_rdvd_config *cfg,
		struct kd_rdvd **out);
/* Loads the identity, opens the sockets, starts registering. */
int kd_rdvd_start(struct kd_rdvd *d);
void kd_rdvd_destroy(struct kd_rdvd *d);
/* SIGHUP and the control socket's reload: re-reads config_path and applies
 * a changed [rendezvous]: registrations with servers no longer listed end,
 * new servers are registered with (same identity), key / relay / relay_key
 * apply to the next connection. Open sessions (sessiond's) are untouched.
 * An unusable file changes nothing and returns -EINVAL. One journal line
 * either way; message (may be NULL) gets the same text. */
int kd_rdvd_reload(struct kd_rdvd *d, char *message, size_t len);
