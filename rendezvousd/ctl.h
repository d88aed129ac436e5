/* rendezvousd's control socket (runtime_dir/rendezvousd-ctl.sock): answers
 * kdipc CtlRequest{hello} with CtlReply{hello}, then CtlRequest{status} with
 * a StatusReply whose details map carries the per-server registration. */
#pragma once
#include <stddef.h>

#include <event2/event.h>

#define KD_CTL_DETAILS_MAX 64

struct kd_ctl_status {
	char state[1024];
	size_t n;
	struct {
		char key[64];
		char value[384];
	} details[KD_CTL_DETAILS_MAX];
};

void kd_ctl_status_add(struct kd_ctl_status *st, const char *key,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef void (*kd_ctl_status_fn)(void *arg, struct kd_ctl_status *st);

struct kd_ctl;

/* listen_fd >= 0: a socket from systemd; otherwise path is bound. */
int kd_ctl_new(struct event_base *base, int listen_fd, const char *path,
	       kd_ctl_status_fn fn, void *arg, struct kd_ctl **out);
void kd_ctl_destroy(struct kd_ctl *c);
