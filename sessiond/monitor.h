/* The sessiond monitor: holds the identity secret key and the password
 * verifier, listens (direct-IP TCP, hand-off and control Unix sockets),
 * forks one sandboxed worker per client and answers its few requests, each
 * only in the state where it makes sense. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "netaddr.h"

#define KD_DIRECT_ALLOW_MAX 32

struct kd_monitor;

struct kd_monitor_settings {
	const struct kd_config *config;
	struct kd_general_config general;
	char listen[128];          /* [session] listen */
	bool direct_ip;            /* [session] direct_ip */
	/* [session] direct_ip_allow: networks direct-IP clients may come
	 * from; none = any */
	struct kd_cidr direct_allow[KD_DIRECT_ALLOW_MAX];
	size_t n_direct_allow;
	size_t max_payload;        /* [session] max_frame_size */
	unsigned login_timeout_s;  /* [session] login_timeout */
	unsigned max_connections;  /* [session] max_connections */
	int display_width, display_height; /* [video] width, height */
};

/* Reads [session] and [video] (the [general] part must be filled). */
int kd_monitor_settings_read(const struct kd_config *cfg,
			     struct kd_monitor_settings *out);

/* Loads the secrets, opens the sockets. */
int kd_monitor_new(const struct kd_monitor_settings *s, struct kd_monitor **out);
/* Runs until SIGTERM/SIGINT and every worker is gone. */
int kd_monitor_run(struct kd_monitor *m);
void kd_monitor_free(struct kd_monitor *m);
