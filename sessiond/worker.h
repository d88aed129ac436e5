/* The protocol core of a sessiond worker: one client connection from the
 * first byte to the close (spec connection §5.8, §6, §7, §8). It runs on a
 * bufferevent (a socket in production, a bufferevent pair in the fuzzer) and
 * talks to the monitor only through to_monitor / kd_worker_monitor_message,
 * so the same code runs in-process for tests. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "kvmdesk_ipc.pb-c.h"
#include "password.h"
#include "worker_service.h"

#define KD_WORKER_MAX_PAYLOAD_DEFAULT (8u << 20)
#define KD_WORKER_HANDSHAKE_TIMEOUT_MS 18000
#define KD_WORKER_IDLE_TIMEOUT_MS 30000
#define KD_WORKER_LOGIN_TIMEOUT_S_DEFAULT 60
#define KD_WORKER_SEND_STALL_MS 12000
/* Ignored messages tolerated before login; more closes the connection. */
#define KD_WORKER_PRELOGIN_IGNORED_MAX 64

/* Texts sent to the client (spec connection §7.4, §8). */
#define KD_CLOSE_MANUALLY "Closed manually by the peer"
#define KD_CLOSE_INACTIVITY "Connection failed due to inactivity"

struct kd_worker_params {
	const struct kd_config *config;
	const char *runtime_dir;
	uint64_t conn_id;
	const char *device_id;
	const char *salt;
	const char *challenge; /* chosen by the monitor, KD_CHALLENGE_LEN chars */
	const char *hostname;
	bool secure;           /* SignedId handshake first */
	const char *how;       /* "direct", "punch", "lan", "relay" */
	const char *peer_addr;
	size_t max_payload;    /* largest frame payload accepted */
	unsigned login_timeout_s;
	int display_width, display_height;
	/* NULL-terminated; NULL means kd_worker_services */
	const struct kd_worker_service *const *services;

	/* Worker -> monitor (SignIdRequest, LoginCheckRequest, SessionState);
	 * replies come back through kd_worker_monitor_message. */
	int (*to_monitor)(void *ctx, const Kdipc__WorkerToMonitor *msg);
	/* The session ended; the owner stops the loop and frees the worker
	 * later (never from inside this callback). */
	void (*on_finished)(void *ctx);
	void *ctx;
};

/* Takes ownership of bev. */
int kd_worker_new(struct event_base *base, struct bufferevent *bev,
		  const struct kd_worker_params *params, struct kd_worker **out);
/* Creates the services and sends the first message (SignIdRequest to the
 * monitor, or Hash on an insecure connection). */
int kd_worker_start(struct kd_worker *w);
/* A reply from the monitor. -EPROTO when it makes no sense in this state. */
int kd_worker_monitor_message(struct kd_worker *w,
			      const Kdipc__MonitorToWorker *msg);
bool kd_worker_finished(const struct kd_worker *w);
/* After the loop ended: writes what is still queued, blocking up to
 * timeout_ms. */
void kd_worker_flush(struct kd_worker *w, int timeout_ms);
bool kd_worker_authorized(const struct kd_worker *w);
/* For services: tells the monitor which codec this session streams, shown
 * by `kvmdeskctl status` (e.g. "h264"). No-op before login. */
void kd_worker_report_codec(struct kd_worker *w, const char *codec);
void kd_worker_free(struct kd_worker *w);
