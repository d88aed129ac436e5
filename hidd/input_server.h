/* runtime_dir/hidd.sock: one SOCK_SEQPACKET connection per sessiond worker,
 * kdipc InputEvent in, HidToWorker out. A peer that fails SO_PEERCRED or
 * sends anything malformed is closed and its keys are released; nothing
 * else is affected. */
#pragma once
#include "input_state.h"

struct event_base;
struct kd_input_server;

/* Takes listen_fd (already listening, non-blocking). */
int kd_input_server_new(struct event_base *base, int listen_fd,
			struct kd_input_state *st,
			struct kd_input_server **out);
unsigned kd_input_server_connections(const struct kd_input_server *srv);
/* Tells every worker the devices' online state (after a change). */
void kd_input_server_broadcast_status(struct kd_input_server *srv);
void kd_input_server_free(struct kd_input_server *srv);
