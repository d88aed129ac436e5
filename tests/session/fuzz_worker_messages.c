/* Fuzz target: the worker core in-process, no sockets. The first input
 * byte picks the connection kind (bit 0: secure hand-off); the rest is what
 * the client sends, fed through a bufferevent pair in chunks. A stand-in
 * monitor signs with a fixed key and accepts any 32-byte password whose
 * first byte is odd, so the fuzzer reaches the post-login code too. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "ipc.h"
#include "log.h"
#include "signed_id.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct stub {
	Kdipc__MonitorToWorker replies[8];
	Kdipc__SignIdReply sign[8];
	Kdipc__LoginCheckReply login[8];
	uint8_t blob[8][KD_SIGNED_ID_MAX];
	int n;
	bool finished;
	bool killed; /* a request the real monitor would kill the worker for */
	bool signed_once;
};

static uint8_t id_sk[64];

static int to_monitor(void *arg, const Kdipc__WorkerToMonitor *msg)
{
	struct stub *s = arg;
	Kdipc__MonitorToWorker *r;

	if (s->n >= 8)
		return 0;
	r = &s->replies[s->n];
	kdipc__monitor_to_worker__init(r);
	switch (msg->msg_case) {
	case KDIPC__WORKER_TO_MONITOR__MSG_SIGN_ID: {
		int len;
		if (s->signed_once || msg->sign_id->ephemeral_pk.len != 32) {
			s->killed = true;
			return 0;
		}
		s->signed_once = true;
		len = kd_signed_id_sign(id_sk, "123456789",
					msg->sign_id->ephemeral_pk.data, 32,
					s->blob[s->n]);
		assert(len > 0);
		kdipc__sign_id_reply__init(&s->sign[s->n]);
		s->sign[s->n].signed_id.data = s->blob[s->n];
		s->sign[s->n].signed_id.len = (size_t)len;
		r->msg_case = KDIPC__MONITOR_TO_WORKER__MSG_SIGN_ID;
		r->sign_id = &s->sign[s->n];
		break;
	}
	case KDIPC__WORKER_TO_MONITOR__MSG_LOGIN_CHECK: {
		const ProtobufCBinaryData *pw = &msg->login_check->password;
		/* the worker never asks without a password or with > 64 bytes */
		assert(pw->len > 0 && pw->len <= 64);
		kdipc__login_check_reply__init(&s->login[s->n]);
		s->login[s->n].result =
			pw->len == 32 && (pw->data[0] & 1) ?
				KDIPC__LOGIN_CHECK_REPLY__RESULT__OK :
				KDIPC__LOGIN_CHECK_REPLY__RESULT__WRONG_PASSWORD;
		r->msg_case = KDIPC__MONITOR_TO_WORKER__MSG_LOGIN_CHECK;
		r->login_check = &s->login[s->n];
		break;
	}
	default:
		return 0; /* SessionState: nothing to answer */
	}
	s->n++;
	return 0;
}

static void on_finished(void *arg)
{
	((struct stub *)arg)->finished = true;
}

static void answer(struct kd_worker *w, struct stub *s)
{
	for (int i = 0; i < s->n; i++)
		(void)kd_worker_monitor_message(w, &s->replies[i]);
	s->n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	struct bufferevent *pair[2];
	struct kd_worker_params p = { 0 };
	struct kd_worker *w;
	struct stub s = { 0 };
	size_t off = 1;

	if (!base) {
		uint8_t pk[32];
		kd_log_init("fuzz", getenv("KD_FUZZ_VERBOSE") ? LOG_DEBUG : LOG_EMERG);
		if (sodium_init() < 0)
			abort();
		crypto_sign_seed_keypair(pk, id_sk, (const uint8_t[32]){ 7 });
		base = event_base_new();
	}
	if (size < 1)
		return 0;
	if (bufferevent_pair_new(base, 0, pair) < 0)
		abort();
	bufferevent_enable(pair[1], EV_READ);
	p.device_id = "123456789";
	p.salt = "23456789abcdefghijkmnpqrstuvwxyz";
	p.challenge = "abcdef";
	p.hostname = "fuzz";
	p.secure = data[0] & 1;
	p.how = p.secure ? "relay" : "direct";
	p.peer_addr = "192.0.2.1:1234";
	p.max_payload = 1u << 20;
	p.conn_id = 1;
	p.to_monitor = to_monitor;
	p.on_finished = on_finished;
	p.ctx = &s;
	if (kd_worker_new(base, pair[0], &p, &w) < 0)
		abort();
	(void)kd_worker_start(w);
	answer(w, &s);
	event_base_loop(base, EVLOOP_NONBLOCK);
	while (off < size && !s.finished && !s.killed) {
		/* chunk sizes vary so partial frames are exercised */
		size_t chunk = 1 + (data[off - 1] % 97);
		if (chunk > size - off)
			chunk = size - off;
		bufferevent_write(pair[1], data + off, chunk);
		off += chunk;
		for (int i = 0; i < 3; i++) {
			event_base_loop(base, EVLOOP_NONBLOCK);
			answer(w, &s);
		}
		evbuffer_drain(bufferevent_get_input(pair[1]),
			       evbuffer_get_length(
				       bufferevent_get_input(pair[1])));
	}
	assert(!s.killed);
	kd_worker_free(w);
	bufferevent_free(pair[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
