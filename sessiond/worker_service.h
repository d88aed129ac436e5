/* What a sessiond worker offers the services that stream to the client
 * (video, audio, input). The worker core owns the connection: handshake,
 * login, TestDelay and close_reason; every other message that arrives after
 * login goes to the services of kd_worker_services[] in order until one
 * consumes it. Everything runs on the worker's single libevent loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "message.pb-c.h"

struct kd_config;

struct kd_worker; /* opaque */
struct event_base *kd_worker_base(struct kd_worker *w);
const struct kd_config *kd_worker_config(struct kd_worker *w); /* parsed kvmdesk.conf */
const char *kd_worker_runtime_dir(struct kd_worker *w);
uint64_t kd_worker_conn_id(struct kd_worker *w);
int kd_worker_send(struct kd_worker *w, const Hbb__Message *msg); /* pack, encrypt, frame, queue; 0/-errno */
/* kd_worker_send for a msg that points into shared memory another process
 * may rewrite meanwhile (frame rings): intact(arg) is asked after the bytes
 * were copied and before they are sealed; false -> nothing is sent, -ESTALE. */
int kd_worker_send_checked(struct kd_worker *w, const Hbb__Message *msg,
			   bool (*intact)(void *arg), void *arg);
size_t kd_worker_output_queued(struct kd_worker *w);
/* The video bitrate the client's quality monitor shows (TestDelay). */
void kd_worker_set_target_bitrate(struct kd_worker *w, uint32_t kbps);             /* bytes queued, not yet written to the socket */
void kd_worker_close(struct kd_worker *w, const char *reason);   /* sends close_reason, ends session */
/* The real client reconnects by itself after a close_reason unless the text
 * has "failed", "manually", "not allowed", ... (client.rs check_if_retry):
 * a reason retrying cannot cure must carry one of them. */
#define KD_CLOSE_NO_CODEC "Connection failed: no video codec both sides support"
struct kd_worker_service {
	const char *name;
	int (*create)(struct kd_worker *w, void **state);            /* worker start, before login; may connect to daemons */
	void (*fill_peer_info)(void *state, Hbb__PeerInfo *pi);      /* just before LoginResponse; memory owned by state */
	void (*on_login)(void *state, const Hbb__LoginRequest *req); /* after LoginResponse is queued */
	bool (*on_message)(void *state, const Hbb__Message *msg);    /* post-login message; true if consumed */
	void (*on_output_drained)(void *state);                      /* output buffer fell below the low watermark */
	void (*destroy)(void *state);
};

/* NULL-terminated, in dispatch order (sessiond/services.c). */
extern const struct kd_worker_service *const kd_worker_services[];
