/* The hand-off channel to sessiond (runtime_dir/sessiond.sock,
 * SOCK_SEQPACKET): Hello once per connection, then one
 * RendezvousToSession{handoff} per connected socket with the fd attached.
 * Reconnects with back-off when sessiond restarts; sockets that arrive while
 * it is away wait a few seconds in a short queue, then are dropped. */
#pragma once
#include <stdbool.h>

#include <event2/event.h>

struct kd_handoff;

int kd_handoff_new(struct event_base *base, const char *runtime_dir,
		   struct kd_handoff **out);
void kd_handoff_destroy(struct kd_handoff *h);

/* Takes ownership of fd (closed here in every case). how is "punch", "lan"
 * or "relay"; peer_addr the client's address. 0, or -EAGAIN when the queue
 * is full and the socket was dropped. */
int kd_handoff_send(struct kd_handoff *h, int fd, const char *how,
		    const char *peer_addr, bool secure);

bool kd_handoff_connected(const struct kd_handoff *h);
unsigned kd_handoff_count(const struct kd_handoff *h); /* sockets handed */
