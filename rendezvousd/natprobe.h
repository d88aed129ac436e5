/* NAT type test (spec connection §4.7): TestNatRequest to hbbs:port and,
 * from the same local address, to hbbs:port-1; equal reported ports mean a
 * port-preserving ("asymmetric") NAT, different ones a symmetric NAT. */
#pragma once
#include <sys/socket.h>

#include "rdv_ctx.h"

struct kd_natprobe;

/* done gets HBB__NAT_TYPE__ASYMMETRIC / SYMMETRIC, or -errno. It is never
 * called from inside kd_natprobe_start, and not after destroy. */
typedef void (*kd_natprobe_done_fn)(void *arg, int result);

int kd_natprobe_start(struct kd_rdv_ctx *ctx, const struct sockaddr *hbbs,
		      socklen_t len, kd_natprobe_done_fn done, void *arg,
		      struct kd_natprobe **out);
void kd_natprobe_destroy(struct kd_natprobe *p);
