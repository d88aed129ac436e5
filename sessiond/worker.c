/* sessiond worker core: framing, secure handshake, login, keep-alive, close
 * (spec connection §5.8, §6.2-6.5, §7, §8; session §2.6, §7). */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <sodium.h>

#include "config.h"
#include "frame_codec.h"
#include "ipc.h"
#include "kd_build_config.h"
#include "log.h"
#include "netaddr.h"
#include "secure_channel.h"

#define OUTPUT_LOW_WATERMARK (256u * 1024)
#define OUTPUT_HARD_LIMIT (64u << 20)
#define CLOSE_GRACE_MS 1000

enum worker_state {
	WS_NEW,         /* not started */
	WS_SIGNING,     /* waiting for the monitor's SignIdReply */
	WS_WAIT_PUBKEY, /* SignedId sent, waiting for PublicKey (18 s) */
	WS_LOGIN,       /* Hash sent, waiting for a good LoginRequest */
	WS_AUTHORIZED,
	WS_CLOSING,     /* last message queued, flushing */
	WS_DONE,
};

struct kd_worker {
	struct kd_worker_params p;
	char *device_id, *salt, *challenge, *hostname, *how, *peer_addr,
		*runtime_dir;
	struct event_base *base;
	struct bufferevent *bev;
	enum worker_state state;

	struct kd_secure_channel ch;
	uint8_t eph_pk[crypto_box_PUBLICKEYBYTES];
	uint8_t eph_sk[crypto_box_SECRETKEYBYTES];

	/* login */
	bool scope_set;
	int scope_kind;
	char *scope_my_id;
	Hbb__Message *pending_login; /* LoginRequest being checked */
	char *peer_id, *peer_name;
	unsigned ignored_before_login;

	/* an oversized frame being dropped as it arrives */
	size_t skip_left;
	bool skip_logged;

	/* keep-alive and timeouts (monotonic ms) */
	struct event *tick, *close_timer;
	uint64_t start_ms, last_recv_ms, probe_sent_ms, out_progress_ms;
	bool probe_outstanding;
	uint32_t last_delay;
	uint32_t target_bitrate; /* kbps, from the video service */

	/* services */
	size_t n_services;
	const struct kd_worker_service *const *svc;
	void **svc_state;
	bool *svc_active;

	char end_reason[128];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct kd_log_fields log_fields(const struct kd_worker *w,
				       const char *msgid)
{
	struct kd_log_fields f = {
		.message_id = msgid,
		.peer_id = w->peer_id,
		.peer_addr = w->peer_addr,
		.session_kind = w->how,
		.conn_id = w->p.conn_id,
	};
	return f;
}

/* ---- accessors of worker_service.h ------------------------------------ */

struct event_base *kd_worker_base(struct kd_worker *w)
{
	return w->base;
}

const struct kd_config *kd_worker_config(struct kd_worker *w)
{
	return w->p.config;
}

const char *kd_worker_runtime_dir(struct kd_worker *w)
{
	return w->runtime_dir;
}

uint64_t kd_worker_conn_id(struct kd_worker *w)
{
	return w->p.conn_id;
}

size_t kd_worker_output_queued(struct kd_worker *w)
{
	return evbuffer_get_length(bufferevent_get_output(w->bev));
}

bool kd_worker_finished(const struct kd_worker *w)
{
	return w->state == WS_DONE;
}

bool kd_worker_authorized(const struct kd_worker *w)
{
	return w->state == WS_AUTHORIZED;
}

/* ---- ending ------------------------------------------------------------ */

static void report_state_codec(struct kd_worker *w,
			       Kdipc__SessionState__State st, const char *codec)
{
	Kdipc__WorkerToMonitor m = KDIPC__WORKER_TO_MONITOR__INIT;
	Kdipc__SessionState s = KDIPC__SESSION_STATE__INIT;

	s.state = st;
	s.peer_id = w->peer_id ? w->peer_id : "";
	s.peer_name = w->peer_name ? w->peer_name : "";
	s.reason = w->end_reason;
	s.encrypted = w->ch.enabled;
	s.codec = (char *)(codec ? codec : "");
	m.msg_case = KDIPC__WORKER_TO_MONITOR__MSG_STATE;
	m.state = &s;
	if (w->p.to_monitor)
		(void)w->p.to_monitor(w->p.ctx, &m);
}

static void report_state(struct kd_worker *w, Kdipc__SessionState__State st)
{
	report_state_codec(w, st, NULL);
}

void kd_worker_report_codec(struct kd_worker *w, const char *codec)
{
	if (w->state == WS_AUTHORIZED)
		report_state_codec(w, KDIPC__SESSION_STATE__STATE__AUTHORIZED,
				   codec);
}

static void set_reason(struct kd_worker *w, const char *reason)
{
	if (!w->end_reason[0] && reason)
		snprintf(w->end_reason, sizeof(w->end_reason), "%s", reason);
}

/* The session is over: nothing more is read or written. */
static void finish(struct kd_worker *w, const char *reason)
{
	if (w->state == WS_DONE)
		return;
	set_reason(w, reason);
	w->state = WS_DONE;
	bufferevent_disable(w->bev, EV_READ | EV_WRITE);
	if (w->tick)
		event_del(w->tick);
	if (w->close_timer)
		event_del(w->close_timer);
	report_state(w, KDIPC__SESSION_STATE__STATE__CLOSING);
	if (w->p.on_finished)
		w->p.on_finished(w->p.ctx);
}

/* Stops reading, lets what is queued go out, then finishes. */
static void linger_then_finish(struct kd_worker *w, const char *reason,
			       unsigned delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	if (w->state >= WS_CLOSING)
		return;
	set_reason(w, reason);
	w->state = WS_CLOSING;
	bufferevent_disable(w->bev, EV_READ);
	event_add(w->close_timer, &tv);
}

/* Bad bytes or a protocol violation from the client: one log line, close. */
static void protocol_error(struct kd_worker *w, const char *what)
{
	struct kd_log_fields f = log_fields(w, KD_MSGID_PROTOCOL_ERROR);

	kd_log_event(LOG_WARNING, &f, "connection %llu from %s: %s, closing",
		     (unsigned long long)w->p.conn_id, w->peer_addr, what);
	finish(w, what);
}

/* ---- output ------------------------------------------------------------ */

/* intact (may be NULL) runs after msg was copied into the output buffer
 * and before it is sealed: msg may point into memory another process
 * rewrites (the frame ring), and a copy that turned out torn is dropped
 * without using up a nonce. */
static int send_message_checked(struct kd_worker *w, const Hbb__Message *msg,
				bool (*intact)(void *arg), void *arg)
{
	struct evbuffer *out = bufferevent_get_output(w->bev);
	struct evbuffer_iovec vec;
	uint8_t hdr[KD_FRAME_HEADER_MAX];
	size_t plain_len, wire_len, hl, mac;
	uint8_t *base;

	plain_len = hbb__message__get_packed_size(msg);
	mac = w->ch.enabled ? KD_SECURE_MAC_BYTES : 0;
	wire_len = plain_len + mac;
	/* max_payload bounds what we accept; what we send (key frames) is
	 * only bounded by the 30-bit frame length, like the real peer */
	if (evbuffer_get_length(out) > OUTPUT_HARD_LIMIT)
		return -ENOBUFS;
	hl = kd_frame_header_encode(wire_len, hdr);
	if (!hl)
		return -EMSGSIZE;
	if (evbuffer_reserve_space(out, (ev_ssize_t)(hl + wire_len), &vec, 1) < 1)
		return -ENOMEM;
	base = vec.iov_base;
	memcpy(base, hdr, hl);
	/* pack behind room for the MAC, then seal in place */
	hbb__message__pack(msg, base + hl + mac);
	if (intact && !intact(arg))
		return -ESTALE; /* the reserved space is never committed */
	kd_secure_channel_seal(&w->ch, base + hl + mac, plain_len, base + hl);
	vec.iov_len = hl + wire_len;
	if (evbuffer_commit_space(out, &vec, 1) < 0)
		return -ENOMEM;
	return 0;
}

static int send_message(struct kd_worker *w, const Hbb__Message *msg)
{
	return send_message_checked(w, msg, NULL, NULL);
}

int kd_worker_send_checked(struct kd_worker *w, const Hbb__Message *msg,
			   bool (*intact)(void *arg), void *arg)
{
	if (w->state == WS_CLOSING || w->state == WS_DONE)
		return -EPIPE;
	if (w->state != WS_AUTHORIZED)
		return -EPERM; /* nothing but login traffic before login */
	return send_message_checked(w, msg, intact, arg);
}

void kd_worker_set_target_bitrate(struct kd_worker *w, uint32_t kbps)
{
	w->target_bitrate = kbps;
}

int kd_worker_send(struct kd_worker *w, const Hbb__Message *msg)
{
	return kd_worker_send_checked(w, msg, NULL, NULL);
}

static void send_or_finish(struct kd_worker *w, const Hbb__Message *msg)
{
	int r = send_message(w, msg);

	if (r < 0) {
		kd_warn("connection %llu: cannot queue a message: %s",
			(unsigned long long)w->p.conn_id, strerror(-r));
		finish(w, "send failed");
	}
}

static void send_close_reason(struct kd_worker *w, const char *reason)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;

	misc.union_case = HBB__MISC__UNION_CLOSE_REASON;
	misc.close_reason = (char *)reason;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	(void)send_message(w, &m);
}

void kd_worker_close(struct kd_worker *w, const char *reason)
{
	if (w->state >= WS_CLOSING)
		return;
	if (!reason || !reason[0])
		reason = KD_CLOSE_MANUALLY;
	/* Only once the channel is settled can the client read it. */
	if (w->state >= WS_LOGIN)
		send_close_reason(w, reason);
	linger_then_finish(w, reason, CLOSE_GRACE_MS);
}

static void send_login_error(struct kd_worker *w, const char *error)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__LoginResponse lr = HBB__LOGIN_RESPONSE__INIT;

	lr.union_case = HBB__LOGIN_RESPONSE__UNION_ERROR;
	lr.error = (char *)error;
	m.union_case = HBB__MESSAGE__UNION_LOGIN_RESPONSE;
	m.login_response = &lr;
	send_or_finish(w, &m);
}

/* The real peer sends the error, waits a second, then drops the socket. */
static void refuse_login(struct kd_worker *w, const char *error)
{
	struct kd_log_fields f = log_fields(w, KD_MSGID_LOGIN_FAILED);

	kd_log_event(LOG_NOTICE, &f, "connection %llu from %s refused: %s",
		     (unsigned long long)w->p.conn_id, w->peer_addr, error);
	send_login_error(w, error);
	linger_then_finish(w, error, CLOSE_GRACE_MS);
}

/* ---- handshake --------------------------------------------------------- */

static void send_permission_off(struct kd_worker *w,
				Hbb__PermissionInfo__Permission which)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__PermissionInfo perm = HBB__PERMISSION_INFO__INIT;

	if (w->state == WS_DONE)
		return;
	perm.permission = which;
	perm.enabled = false;
	misc.union_case = HBB__MISC__UNION_PERMISSION_INFO;
	misc.permission_info = &perm;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	send_or_finish(w, &m);
}

static void send_hash(struct kd_worker *w)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Hash h = HBB__HASH__INIT;
	bool typed = false;

	h.salt = w->salt;
	h.challenge = w->challenge;
	m.union_case = HBB__MESSAGE__UNION_HASH;
	m.hash = &h;
	send_or_finish(w, &m);
	if (w->state == WS_DONE)
		return;
	w->state = WS_LOGIN;

	/* Like the real peer, one PermissionInfo per disabled permission
	 * (spec connection §7.1 step 3). A KVM has no file system to offer.
	 * The client syncs its clipboard (images too, many MiB) only while
	 * the clipboard permission is on (ui_session_interface.rs,
	 * is_text_clipboard_required): it is on only when [hid]
	 * type_clipboard makes use of it. No audio source: audio off.
	 * (Clients since 1.2 ignore permission values they do not know.) */
	send_permission_off(w, HBB__PERMISSION_INFO__PERMISSION__File);
	/* No ATX control: "Restart remote device" would do nothing; the
	 * target's own input cannot be blocked from here. */
	send_permission_off(w, HBB__PERMISSION_INFO__PERMISSION__Restart);
	send_permission_off(w, HBB__PERMISSION_INFO__PERMISSION__BlockInput);
	if (kd_config_get_bool(w->p.config, "hid", "type_clipboard", false,
			       &typed) < 0 || !typed)
		send_permission_off(w,
				    HBB__PERMISSION_INFO__PERMISSION__Clipboard);
	if (strcmp(kd_config_get_or(w->p.config, "audio", "source", "none"),
		   "none") == 0)
		send_permission_off(w, HBB__PERMISSION_INFO__PERMISSION__Audio);
	if (w->state == WS_DONE)
		return;
	/* first keep-alive tick at once, then every second */
	event_active(w->tick, EV_TIMEOUT, 0);
}

static void send_signed_id(struct kd_worker *w, const uint8_t *blob, size_t len)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__SignedId sid = HBB__SIGNED_ID__INIT;

	sid.id.data = (uint8_t *)blob;
	sid.id.len = len;
	m.union_case = HBB__MESSAGE__UNION_SIGNED_ID;
	m.signed_id = &sid;
	send_or_finish(w, &m);
	if (w->state == WS_DONE)
		return;
	w->state = WS_WAIT_PUBKEY;
	bufferevent_enable(w->bev, EV_READ);
}

/* Spec connection §6.4, one row at a time. */
static void handle_handshake_reply(struct kd_worker *w, const uint8_t *data,
				   size_t len)
{
	Hbb__Message *m = hbb__message__unpack(NULL, len, data);
	uint8_t key[KD_SECURE_KEY_BYTES];

	if (!m) {
		protocol_error(w, "handshake reply does not parse");
		return;
	}
	if (m->union_case == HBB__MESSAGE__UNION_PUBLIC_KEY) {
		const Hbb__PublicKey *pk = m->public_key;

		if (pk->asymmetric_value.len == 32) {
			if (kd_session_key_open(pk->symmetric_value.data,
						pk->symmetric_value.len,
						pk->asymmetric_value.data,
						w->eph_sk, key) < 0) {
				hbb__message__free_unpacked(m, NULL);
				protocol_error(w, "Handshake failed");
				return;
			}
			kd_secure_channel_init(&w->ch, key);
			sodium_memzero(key, sizeof(key));
		} else if (pk->asymmetric_value.len != 0) {
			hbb__message__free_unpacked(m, NULL);
			protocol_error(w, "Handshake failed: bad public key");
			return;
		} else {
			kd_notice("connection %llu from %s: client could not "
				  "verify our key, continuing UNENCRYPTED",
				  (unsigned long long)w->p.conn_id,
				  w->peer_addr);
		}
	} else {
		kd_notice("connection %llu from %s: client skipped the key "
			  "exchange, continuing UNENCRYPTED",
			  (unsigned long long)w->p.conn_id, w->peer_addr);
	}
	hbb__message__free_unpacked(m, NULL);
	sodium_memzero(w->eph_sk, sizeof(w->eph_sk));
	send_hash(w);
}

/* ---- login ------------------------------------------------------------- */

static const char *refused_kind(int kind)
{
	switch (kind) {
	case HBB__LOGIN_REQUEST__UNION_FILE_TRANSFER:
		return "No permission of file transfer";
	case HBB__LOGIN_REQUEST__UNION_VIEW_CAMERA:
		return "No permission of viewing camera";
	case HBB__LOGIN_REQUEST__UNION_TERMINAL:
		return "No permission of terminal";
	case HBB__LOGIN_REQUEST__UNION_PORT_FORWARD:
		return "No permission of IP tunneling";
	default:
		return "Connection not allowed";
	}
}

static char *dup_bounded(const char *s, size_t max)
{
	return strndup(s ? s : "", max);
}

static void handle_login_request(struct kd_worker *w, Hbb__Message *msg,
				 bool *keep)
{
	const Hbb__LoginRequest *lr = msg->login_request;
	Kdipc__WorkerToMonitor out = KDIPC__WORKER_TO_MONITOR__INIT;
	Kdipc__LoginCheckRequest req = KDIPC__LOGIN_CHECK_REQUEST__INIT;
	const char *my_id = lr->my_id ? lr->my_id : "";

	if (w->pending_login)
		return; /* one check at a time; the client waits for the answer */

	/* scope latch (spec connection §7.3 step 3) */
	if (!w->scope_set) {
		w->scope_set = true;
		w->scope_kind = lr->union_case;
		w->scope_my_id = dup_bounded(my_id, 256);
	} else if (w->scope_kind != (int)lr->union_case ||
		   strcmp(w->scope_my_id ? w->scope_my_id : "", my_id) != 0) {
		refuse_login(w, "Connection not allowed");
		return;
	}
	free(w->peer_id);
	free(w->peer_name);
	w->peer_id = dup_bounded(my_id, 64);
	w->peer_name = dup_bounded(lr->my_name, 64);

	if (lr->union_case != HBB__LOGIN_REQUEST__UNION__NOT_SET) {
		refuse_login(w, refused_kind(lr->union_case));
		return;
	}
	if (!lr->username ||
	    (strcmp(lr->username, w->device_id) != 0 &&
	     !kd_is_direct_access_name(lr->username))) {
		refuse_login(w, "Offline");
		return;
	}
	/* Empty password: the real peer shows its accept window and waits.
	 * We have no window; the client may still send a password. */
	if (lr->password.len == 0)
		return;

	req.password.data = lr->password.data;
	req.password.len = lr->password.len > 64 ? 64 : lr->password.len;
	req.peer_ip = w->peer_addr;
	req.peer_id = w->peer_id;
	req.peer_name = w->peer_name;
	out.msg_case = KDIPC__WORKER_TO_MONITOR__MSG_LOGIN_CHECK;
	out.login_check = &req;
	if (!w->p.to_monitor || w->p.to_monitor(w->p.ctx, &out) < 0) {
		finish(w, "monitor unreachable");
		return;
	}
	w->pending_login = msg;
	*keep = true;
}

static void add_default_display(struct kd_worker *w, Hbb__PeerInfo *pi,
				Hbb__DisplayInfo *d, Hbb__DisplayInfo **list)
{
	hbb__display_info__init(d);
	d->x = 0;
	d->y = 0;
	d->width = w->p.display_width;
	d->height = w->p.display_height;
	d->name = "KVM";
	d->online = true;
	/* the HDMI capture already shows the target's pointer (session §5.11) */
	d->cursor_embedded = true;
	d->scale = 1.0;
	list[0] = d;
	pi->displays = list;
	pi->n_displays = 1;
	pi->current_display = 0;
}

static void authorize(struct kd_worker *w)
{
	Hbb__Message *req = w->pending_login;
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__LoginResponse resp = HBB__LOGIN_RESPONSE__INIT;
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;
	Hbb__Features features = HBB__FEATURES__INIT;
	Hbb__DisplayInfo display, *displays[1];

	/* the monitor logged the login; it logs the session on our report */
	w->pending_login = NULL;
	w->state = WS_AUTHORIZED;

	pi.username = "kvmdesk";
	pi.hostname = w->hostname;
	pi.platform = "Linux";
	pi.version = KD_RUSTDESK_VERSION;
	pi.features = &features;
	for (size_t i = 0; i < w->n_services; i++)
		if (w->svc_active[i] && w->svc[i]->fill_peer_info)
			w->svc[i]->fill_peer_info(w->svc_state[i], &pi);
	if (pi.n_displays == 0)
		add_default_display(w, &pi, &display, displays);

	resp.union_case = HBB__LOGIN_RESPONSE__UNION_PEER_INFO;
	resp.peer_info = &pi;
	m.union_case = HBB__MESSAGE__UNION_LOGIN_RESPONSE;
	m.login_response = &resp;
	send_or_finish(w, &m);
	if (w->state == WS_DONE)
		goto out;
	report_state(w, KDIPC__SESSION_STATE__STATE__AUTHORIZED);
	for (size_t i = 0; i < w->n_services && w->state == WS_AUTHORIZED; i++)
		if (w->svc_active[i] && w->svc[i]->on_login)
			w->svc[i]->on_login(w->svc_state[i],
					    req->login_request);
out:
	hbb__message__free_unpacked(req, NULL);
}

/* ---- keep-alive -------------------------------------------------------- */

static void send_probe(struct kd_worker *w)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__TestDelay td = HBB__TEST_DELAY__INIT;

	td.from_client = false;
	td.last_delay = w->last_delay;
	td.target_bitrate = w->target_bitrate;
	m.union_case = HBB__MESSAGE__UNION_TEST_DELAY;
	m.test_delay = &td;
	send_or_finish(w, &m);
	w->probe_outstanding = true;
	w->probe_sent_ms = now_ms();
}

static void handle_test_delay(struct kd_worker *w, const Hbb__Message *msg)
{
	const Hbb__TestDelay *td = msg->test_delay;

	if (td->from_client) {
		send_or_finish(w, msg); /* echo unchanged */
		return;
	}
	if (w->probe_outstanding) {
		uint64_t rtt = now_ms() - w->probe_sent_ms;
		w->last_delay = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
		w->probe_outstanding = false;
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kd_worker *w = arg;
	uint64_t now = now_ms();
	size_t queued;

	(void)fd;
	(void)what;
	switch (w->state) {
	case WS_SIGNING:
	case WS_WAIT_PUBKEY:
		if (now - w->start_ms >= KD_WORKER_HANDSHAKE_TIMEOUT_MS)
			protocol_error(w, "handshake timed out");
		return;
	case WS_LOGIN:
		if (now - w->start_ms >= (uint64_t)w->p.login_timeout_s * 1000) {
			kd_notice("connection %llu from %s: no login within "
				  "%u s, closing",
				  (unsigned long long)w->p.conn_id,
				  w->peer_addr, w->p.login_timeout_s);
			kd_worker_close(w, KD_CLOSE_INACTIVITY);
			return;
		}
		break;
	case WS_AUTHORIZED:
		break;
	default:
		return;
	}
	if (now - w->last_recv_ms >= KD_WORKER_IDLE_TIMEOUT_MS) {
		kd_notice("connection %llu from %s: nothing received for 30 s, "
			  "closing", (unsigned long long)w->p.conn_id,
			  w->peer_addr);
		finish(w, "Timeout");
		return;
	}
	queued = kd_worker_output_queued(w);
	if (queued == 0)
		w->out_progress_ms = now;
	else if (now - w->out_progress_ms >= KD_WORKER_SEND_STALL_MS) {
		kd_notice("connection %llu from %s: client stopped reading, "
			  "closing", (unsigned long long)w->p.conn_id,
			  w->peer_addr);
		finish(w, "send stalled");
		return;
	}
	if (!w->probe_outstanding)
		send_probe(w);
}

/* ---- input ------------------------------------------------------------- */

static bool give_to_services(struct kd_worker *w, const Hbb__Message *m)
{
	for (size_t i = 0; i < w->n_services && w->state == WS_AUTHORIZED; i++)
		if (w->svc_active[i] && w->svc[i]->on_message &&
		    w->svc[i]->on_message(w->svc_state[i], m))
			return true;
	return false;
}

static void ignore_before_login(struct kd_worker *w)
{
	if (++w->ignored_before_login > KD_WORKER_PRELOGIN_IGNORED_MAX)
		protocol_error(w, "too many messages before login");
}

/* What only a peer sends; a client that sends it is not a RustDesk client. */
static bool peer_only(Hbb__Message__UnionCase c)
{
	switch (c) {
	case HBB__MESSAGE__UNION_SIGNED_ID:
	case HBB__MESSAGE__UNION_PUBLIC_KEY:
	case HBB__MESSAGE__UNION_VIDEO_FRAME:
	case HBB__MESSAGE__UNION_LOGIN_RESPONSE:
	case HBB__MESSAGE__UNION_HASH:
	case HBB__MESSAGE__UNION_CURSOR_DATA:
	case HBB__MESSAGE__UNION_CURSOR_POSITION:
	case HBB__MESSAGE__UNION_CURSOR_ID:
	case HBB__MESSAGE__UNION_PEER_INFO:
		return true;
	default:
		return false;
	}
}

static void dispatch(struct kd_worker *w, Hbb__Message *m)
{
	bool keep = false;

	if (peer_only(m->union_case)) {
		char what[64];
		snprintf(what, sizeof(what), "client sent message type %d",
			 (int)m->union_case);
		hbb__message__free_unpacked(m, NULL);
		protocol_error(w, what);
		return;
	}
	switch (m->union_case) {
	case HBB__MESSAGE__UNION_MISC:
		if (m->misc->union_case == HBB__MISC__UNION_CLOSE_REASON) {
			kd_info("connection %llu: client closed (%s)",
				(unsigned long long)w->p.conn_id,
				m->misc->close_reason[0] ?
					m->misc->close_reason : "no reason");
			finish(w, "Peer close");
		} else if (w->state == WS_AUTHORIZED) {
			give_to_services(w, m);
		} else {
			ignore_before_login(w);
		}
		break;
	case HBB__MESSAGE__UNION_TEST_DELAY:
		handle_test_delay(w, m);
		break;
	case HBB__MESSAGE__UNION_LOGIN_REQUEST:
		if (w->state == WS_LOGIN)
			handle_login_request(w, m, &keep);
		break;
	default:
		if (w->state == WS_AUTHORIZED)
			give_to_services(w, m);
		else
			ignore_before_login(w);
		break;
	}
	if (!keep)
		hbb__message__free_unpacked(m, NULL);
}

static void handle_frame(struct kd_worker *w, uint8_t *data, size_t len)
{
	Hbb__Message *m;
	size_t plain_len;

	w->last_recv_ms = now_ms();
	if (w->state == WS_WAIT_PUBKEY) {
		handle_handshake_reply(w, data, len);
		return;
	}
	if (kd_secure_channel_open(&w->ch, data, len, data, &plain_len) < 0) {
		protocol_error(w, "decryption error");
		return;
	}
	m = hbb__message__unpack(NULL, plain_len, data);
	if (!m) {
		protocol_error(w, "a frame does not parse as a Message");
		return;
	}
	dispatch(w, m);
}

/* A frame larger than we keep. Before login nothing legitimate is big, so
 * it closes. After login the real client does send big ones (an image on
 * its clipboard; the real peer accepts any 30-bit frame), so such a frame is
 * dropped as it streams in, never buffered, and the session goes on.
 * Returns false when the connection was closed. */
static bool start_skip(struct kd_worker *w, struct evbuffer *in,
		       const uint8_t *hdr, size_t got)
{
	size_t hl, n;

	if (w->state != WS_AUTHORIZED ||
	    kd_frame_header_decode(hdr, got, KD_FRAME_PAYLOAD_MAX, &hl, &n) < 0) {
		protocol_error(w, "frame larger than the limit");
		return false;
	}
	if (!w->skip_logged) {
		kd_notice("connection %llu from %s: dropping a %zu-byte message "
			  "(limit %zu)", (unsigned long long)w->p.conn_id,
			  w->peer_addr, n, w->p.max_payload);
		w->skip_logged = true;
	}
	/* it still took its place in the nonce sequence */
	kd_secure_channel_skip(&w->ch, n);
	evbuffer_drain(in, hl);
	w->skip_left = n;
	return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct kd_worker *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t limit = w->p.max_payload + KD_SECURE_MAC_BYTES;

	while (w->state == WS_WAIT_PUBKEY || w->state == WS_LOGIN ||
	       w->state == WS_AUTHORIZED) {
		uint8_t hdr[KD_FRAME_HEADER_MAX];
		size_t avail = evbuffer_get_length(in), hl, n;
		ev_ssize_t got;
		uint8_t *data;
		int r;

		if (w->skip_left) {
			n = avail < w->skip_left ? avail : w->skip_left;
			if (!n)
				return;
			evbuffer_drain(in, n);
			w->skip_left -= n;
			w->last_recv_ms = now_ms();
			continue;
		}
		got = evbuffer_copyout(in, hdr, avail < sizeof(hdr) ? avail :
								     sizeof(hdr));
		if (got <= 0)
			return;
		r = kd_frame_header_decode(hdr, (size_t)got, limit, &hl, &n);
		if (r == KD_FRAME_INCOMPLETE)
			return;
		if (r < 0) {
			if (!start_skip(w, in, hdr, (size_t)got))
				return;
			continue;
		}
		if (avail < hl + n)
			return; /* slow senders are caught by the timeouts */
		evbuffer_drain(in, hl);
		data = n ? evbuffer_pullup(in, (ev_ssize_t)n) : hdr;
		if (!data) {
			finish(w, "out of memory");
			return;
		}
		handle_frame(w, data, n);
		evbuffer_drain(in, n);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct kd_worker *w = arg;

	(void)bev;
	w->out_progress_ms = now_ms();
	/* CLOSING ends by its timer, like the real peer's one-second pause */
	for (size_t i = 0; i < w->n_services && w->state == WS_AUTHORIZED; i++)
		if (w->svc_active[i] && w->svc[i]->on_output_drained)
			w->svc[i]->on_output_drained(w->svc_state[i]);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct kd_worker *w = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		finish(w, "Reset by the peer");
	else if (what & BEV_EVENT_ERROR)
		finish(w, "connection error");
}

static void on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, NULL);
}

static void on_output_progress(struct evbuffer *buf,
			       const struct evbuffer_cb_info *info, void *arg)
{
	struct kd_worker *w = arg;

	(void)buf;
	if (info->n_deleted)
		w->out_progress_ms = now_ms();
}

/* ---- life cycle -------------------------------------------------------- */

int kd_worker_new(struct event_base *base, struct bufferevent *bev,
		  const struct kd_worker_params *params, struct kd_worker **out)
{
	struct kd_worker *w = calloc(1, sizeof(*w));
	struct timeval second = { 1, 0 };
	size_t n = 0;

	if (!w) {
		bufferevent_free(bev);
		return -ENOMEM;
	}
	w->p = *params;
	w->base = base;
	w->bev = bev;
	w->device_id = strdup(params->device_id ? params->device_id : "");
	w->salt = strdup(params->salt ? params->salt : "");
	w->challenge = strdup(params->challenge ? params->challenge : "");
	w->hostname = strdup(params->hostname ? params->hostname : "kvmdesk");
	w->how = strdup(params->how ? params->how : "direct");
	w->peer_addr = strdup(params->peer_addr ? params->peer_addr : "?");
	w->runtime_dir = strdup(params->runtime_dir ? params->runtime_dir : "");
	if (!w->p.max_payload)
		w->p.max_payload = KD_WORKER_MAX_PAYLOAD_DEFAULT;
	if (!w->p.login_timeout_s)
		w->p.login_timeout_s = KD_WORKER_LOGIN_TIMEOUT_S_DEFAULT;
	if (w->p.display_width <= 0 || w->p.display_height <= 0) {
		w->p.display_width = 1920;
		w->p.display_height = 1080;
	}
	w->svc = params->services ? params->services : kd_worker_services;
	while (w->svc[n])
		n++;
	w->n_services = n;
	w->svc_state = calloc(n + 1, sizeof(*w->svc_state));
	w->svc_active = calloc(n + 1, sizeof(*w->svc_active));
	w->tick = event_new(base, -1, EV_PERSIST, on_tick, w);
	w->close_timer = evtimer_new(base, on_close_timer, w);
	if (!w->device_id || !w->salt || !w->challenge || !w->hostname ||
	    !w->how || !w->peer_addr || !w->runtime_dir || !w->svc_state ||
	    !w->svc_active || !w->tick || !w->close_timer) {
		kd_worker_free(w);
		return -ENOMEM;
	}
	kd_secure_channel_init(&w->ch, NULL);
	w->start_ms = w->last_recv_ms = w->out_progress_ms = now_ms();
	bufferevent_setcb(bev, on_read, on_write, on_event, w);
	bufferevent_setwatermark(bev, EV_WRITE, OUTPUT_LOW_WATERMARK, 0);
	bufferevent_setwatermark(bev, EV_READ, 0,
				 w->p.max_payload + KD_SECURE_MAC_BYTES +
					 KD_FRAME_HEADER_MAX);
	evbuffer_add_cb(bufferevent_get_output(bev), on_output_progress, w);
	event_add(w->tick, &second);
	*out = w;
	return 0;
}

static void create_services(struct kd_worker *w)
{
	for (size_t i = 0; i < w->n_services; i++) {
		int r = 0;

		if (w->svc[i]->create)
			r = w->svc[i]->create(w, &w->svc_state[i]);
		if (r < 0)
			kd_warn("connection %llu: service %s unavailable: %s",
				(unsigned long long)w->p.conn_id,
				w->svc[i]->name, strerror(-r));
		else
			w->svc_active[i] = true;
	}
}

int kd_worker_start(struct kd_worker *w)
{
	Kdipc__WorkerToMonitor m = KDIPC__WORKER_TO_MONITOR__INIT;
	Kdipc__SignIdRequest req = KDIPC__SIGN_ID_REQUEST__INIT;

	if (w->state != WS_NEW)
		return -EALREADY;
	create_services(w);
	if (!w->p.secure) {
		/* Direct IP: no SignedId, no encryption, Hash first (§5.8). */
		bufferevent_enable(w->bev, EV_READ | EV_WRITE);
		send_hash(w);
		return 0;
	}
	crypto_box_keypair(w->eph_pk, w->eph_sk);
	w->state = WS_SIGNING;
	/* nothing is read until SignedId went out */
	bufferevent_disable(w->bev, EV_READ);
	bufferevent_enable(w->bev, EV_WRITE);
	req.ephemeral_pk.data = w->eph_pk;
	req.ephemeral_pk.len = sizeof(w->eph_pk);
	m.msg_case = KDIPC__WORKER_TO_MONITOR__MSG_SIGN_ID;
	m.sign_id = &req;
	if (!w->p.to_monitor || w->p.to_monitor(w->p.ctx, &m) < 0) {
		finish(w, "monitor unreachable");
		return -EPIPE;
	}
	return 0;
}

static void handle_login_check(struct kd_worker *w,
			       const Kdipc__LoginCheckReply *r)
{
	switch (r->result) {
	case KDIPC__LOGIN_CHECK_REPLY__RESULT__OK:
		authorize(w);
		return;
	case KDIPC__LOGIN_CHECK_REPLY__RESULT__THROTTLED:
		send_login_error(w, r->error && r->error[0] ?
					    r->error :
					    "Please try 1 minute later");
		break;
	default:
		send_login_error(w, "Wrong Password");
		break;
	}
	hbb__message__free_unpacked(w->pending_login, NULL);
	w->pending_login = NULL;
}

int kd_worker_monitor_message(struct kd_worker *w,
			      const Kdipc__MonitorToWorker *msg)
{
	switch (msg->msg_case) {
	case KDIPC__MONITOR_TO_WORKER__MSG_HELLO:
		return kd_ipc_hello_check(msg->hello);
	case KDIPC__MONITOR_TO_WORKER__MSG_SIGN_ID:
		if (w->state != WS_SIGNING)
			return w->state == WS_DONE ? 0 : -EPROTO;
		send_signed_id(w, msg->sign_id->signed_id.data,
			       msg->sign_id->signed_id.len);
		return 0;
	case KDIPC__MONITOR_TO_WORKER__MSG_LOGIN_CHECK:
		if (!w->pending_login)
			return w->state >= WS_CLOSING ? 0 : -EPROTO;
		if (w->state != WS_LOGIN) {
			hbb__message__free_unpacked(w->pending_login, NULL);
			w->pending_login = NULL;
			return 0;
		}
		handle_login_check(w, msg->login_check);
		return 0;
	case KDIPC__MONITOR_TO_WORKER__MSG_CLOSE:
		kd_worker_close(w, msg->close->reason);
		return 0;
	default:
		return -EPROTO;
	}
}

void kd_worker_flush(struct kd_worker *w, int timeout_ms)
{
	struct evbuffer *out = bufferevent_get_output(w->bev);
	evutil_socket_t fd = bufferevent_getfd(w->bev);
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	while (fd >= 0 && evbuffer_get_length(out) > 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		uint64_t now = now_ms();

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			return;
		if (evbuffer_write(out, fd) < 0 && errno != EAGAIN &&
		    errno != EINTR)
			return;
	}
}

void kd_worker_free(struct kd_worker *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_services; i++)
		if (w->svc_active && w->svc_active[i] && w->svc[i]->destroy)
			w->svc[i]->destroy(w->svc_state[i]);
	if (w->pending_login)
		hbb__message__free_unpacked(w->pending_login, NULL);
	if (w->tick)
		event_free(w->tick);
	if (w->close_timer)
		event_free(w->close_timer);
	if (w->bev)
		bufferevent_free(w->bev);
	kd_secure_channel_wipe(&w->ch);
	sodium_memzero(w->eph_sk, sizeof(w->eph_sk));
	free(w->svc_state);
	free(w->svc_active);
	free(w->scope_my_id);
	free(w->peer_id);
	free(w->peer_name);
	free(w->device_id);
	free(w->salt);
	free(w->challenge);
	free(w->hostname);
	free(w->how);
	free(w->peer_addr);
	free(w->runtime_dir);
	free(w);
}
