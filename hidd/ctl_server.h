/* runtime_dir/hidd-ctl.sock: answers kdipc CtlRequest status for
 * kvmdeskctl. Hello first; anything else before it closes the connection. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct kd_ctl_server;

/* Fills the one-line state and details of a StatusReply. */
typedef void (*kd_ctl_status_fn)(void *opaque, char *state, size_t state_len,
				 char details[][2][64], size_t *n_details,
				 size_t max_details);

int kd_ctl_server_new(struct event_base *base, int listen_fd,
		      const char *component, kd_ctl_status_fn status,
		      void *opaque, struct kd_ctl_server **out);
void kd_ctl_server_free(struct kd_ctl_server *srv);
