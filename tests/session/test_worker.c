/* sessiond/worker: the protocol core in-process on a bufferevent pair, with
 * a stand-in monitor and two fake services, to pin down the contract of
 * worker_service.h that the video, audio and input services build on. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "config.h"
#include "frame_codec.h"
#include "log.h"
#include "password.h"
#include "secure_channel.h"
#include "signed_id.h"
#include "worker.h"

#define SALT "23456789abcdefghijkmnpqrstuvwxyz"
#define CHALLENGE "k3m9zq"
#define DEVICE_ID "123456789"

/* ---- fake services ----------------------------------------------------- */

struct fake {
	struct kd_worker *w;
	int id;
	int created, logins, messages, drained, destroyed;
	Hbb__Message__UnionCase consumes; /* returns true for this type */
	Hbb__Message__UnionCase last;
	Hbb__DisplayInfo display, *displays[1];
	Hbb__SupportedEncoding enc;
	int send_before_login;
};

static struct fake fakes[2];

static int fake_create(struct kd_worker *w, void **state, int id)
{
	struct fake *f = &fakes[id];

	f->w = w;
	f->id = id;
	f->created++;
	/* nothing may reach the client before login */
	f->send_before_login = kd_worker_send(w, &(Hbb__Message)HBB__MESSAGE__INIT);
	*state = f;
	return 0;
}

static int fake0_create(struct kd_worker *w, void **state)
{
	return fake_create(w, state, 0);
}

static int fake1_create(struct kd_worker *w, void **state)
{
	return fake_create(w, state, 1);
}

static void fake_fill(void *state, Hbb__PeerInfo *pi)
{
	struct fake *f = state;

	if (f->id != 0)
		return;
	hbb__display_info__init(&f->display);
	f->display.width = 2560;
	f->display.height = 1440;
	f->display.online = true;
	f->display.scale = 1.0;
	f->displays[0] = &f->display;
	pi->displays = f->displays;
	pi->n_displays = 1;
	hbb__supported_encoding__init(&f->enc);
	f->enc.h264 = true;
	pi->encoding = &f->enc;
}

static void fake_login(void *state, const Hbb__LoginRequest *req)
{
	struct fake *f = state;

	ck_assert_str_eq(req->my_id, "987654321");
	f->logins++;
}

static bool fake_message(void *state, const Hbb__Message *m)
{
	struct fake *f = state;

	f->messages++;
	f->last = m->union_case;
	return m->union_case == f->consumes;
}

static void fake_drained(void *state)
{
	((struct fake *)state)->drained++;
}

static void fake_destroy(void *state)
{
	((struct fake *)state)->destroyed++;
}

static const struct kd_worker_service fake0 = {
	"fake0", fake0_create, fake_fill, fake_login, fake_message,
	fake_drained, fake_destroy,
};
static const struct kd_worker_service fake1 = {
	"fake1", fake1_create, fake_fill, fake_login, fake_message,
	fake_drained, fake_destroy,
};
static const struct kd_worker_service *const fake_services[] = { &fake0,
								 &fake1, NULL };

/* ---- stand-in monitor and client side ---------------------------------- */

static struct event_base *base;
static struct bufferevent *pair[2];
static struct kd_worker *w;
static uint8_t id_pk[32], id_sk[64];
static struct {
	int signs, logins, states;
	uint8_t eph_pk[32];
	uint8_t password[64];
	size_t password_len;
	Kdipc__SessionState__State last_state;
	bool encrypted;
	bool finished;
	char codec[16];
} mon;
static struct kd_secure_channel client_ch;
static size_t test_max_payload; /* 0: the worker's default */
static struct kd_config *test_cfg; /* NULL: every key at its default */

static int to_monitor(void *ctx, const Kdipc__WorkerToMonitor *m)
{
	(void)ctx;
	switch (m->msg_case) {
	case KDIPC__WORKER_TO_MONITOR__MSG_SIGN_ID:
		mon.signs++;
		ck_assert_uint_eq(m->sign_id->ephemeral_pk.len, 32);
		memcpy(mon.eph_pk, m->sign_id->ephemeral_pk.data, 32);
		break;
	case KDIPC__WORKER_TO_MONITOR__MSG_LOGIN_CHECK:
		mon.logins++;
		mon.password_len = m->login_check->password.len;
		memcpy(mon.password, m->login_check->password.data,
		       mon.password_len);
		break;
	case KDIPC__WORKER_TO_MONITOR__MSG_STATE:
		mon.states++;
		mon.last_state = m->state->state;
		mon.encrypted = m->state->encrypted;
		snprintf(mon.codec, sizeof(mon.codec), "%s", m->state->codec);
		break;
	default:
		break;
	}
	return 0;
}

static void on_finished(void *ctx)
{
	(void)ctx;
	mon.finished = true;
}

static void spin(void)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void start_worker_with(bool secure,
			      const struct kd_worker_service *const *services)
{
	struct kd_worker_params p = { 0 };

	memset(&mon, 0, sizeof(mon));
	memset(fakes, 0, sizeof(fakes));
	fakes[0].consumes = HBB__MESSAGE__UNION_KEY_EVENT;
	kd_secure_channel_init(&client_ch, NULL);
	ck_assert_int_eq(bufferevent_pair_new(base, 0, pair), 0);
	bufferevent_enable(pair[1], EV_READ);
	p.device_id = DEVICE_ID;
	p.salt = SALT;
	p.challenge = CHALLENGE;
	p.hostname = "box";
	p.secure = secure;
	p.how = secure ? "relay" : "direct";
	p.peer_addr = "192.0.2.7:4000";
	p.conn_id = 7;
	p.display_width = 800;
	p.display_height = 600;
	p.max_payload = test_max_payload;
	p.config = test_cfg;
	p.services = services;
	p.to_monitor = to_monitor;
	p.on_finished = on_finished;
	ck_assert_int_eq(kd_worker_new(base, pair[0], &p, &w), 0);
	ck_assert_int_eq(kd_worker_start(w), 0);
	spin();
}

static void start_worker(bool secure)
{
	start_worker_with(secure, fake_services);
}

static void stop_worker(void)
{
	kd_worker_free(w);
	w = NULL;
	bufferevent_free(pair[1]);
	spin();
}

/* Sends one framed message in the given number of pieces, running the
 * worker's loop after each. */
static void client_send_pieces(const Hbb__Message *m, size_t pieces)
{
	size_t len = hbb__message__get_packed_size(m);
	size_t mac = client_ch.enabled ? KD_SECURE_MAC_BYTES : 0;
	uint8_t *buf = malloc(4 + len + mac);
	size_t hl = kd_frame_header_encode(len + mac, buf);
	size_t total = hl + len + mac, step = total / pieces + 1;

	hbb__message__pack(m, buf + hl + mac);
	kd_secure_channel_seal(&client_ch, buf + hl + mac, len, buf + hl);
	for (size_t off = 0; off < total; off += step) {
		bufferevent_write(pair[1], buf + off,
				  total - off < step ? total - off : step);
		spin();
	}
	free(buf);
}

static void client_send(const Hbb__Message *m)
{
	client_send_pieces(m, 1);
}

/* The next message the worker sent, or NULL. */
static Hbb__Message *client_recv(void)
{
	struct evbuffer *in = bufferevent_get_input(pair[1]);
	size_t avail = evbuffer_get_length(in), hl, n, plain;
	uint8_t *p;
	Hbb__Message *m;

	if (!avail)
		return NULL;
	p = evbuffer_pullup(in, -1);
	ck_assert_int_eq(kd_frame_header_decode(p, avail, 1 << 24, &hl, &n), 0);
	ck_assert_uint_ge(avail, hl + n);
	ck_assert_int_eq(kd_secure_channel_open(&client_ch, p + hl, n, p + hl,
						&plain),
			 0);
	m = hbb__message__unpack(NULL, plain, p + hl);
	ck_assert_ptr_nonnull(m);
	evbuffer_drain(in, hl + n);
	return m;
}

static Hbb__Message *client_recv_type(Hbb__Message__UnionCase t)
{
	Hbb__Message *m;

	while ((m = client_recv())) {
		if (m->union_case == t)
			return m;
		hbb__message__free_unpacked(m, NULL);
	}
	return NULL;
}

static void send_login(const char *username, const char *password)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__LoginRequest lr = HBB__LOGIN_REQUEST__INIT;
	uint8_t h1[32], resp[32];

	lr.username = (char *)username;
	lr.my_id = "987654321";
	lr.my_name = "tester";
	if (password) {
		kd_password_h1(password, strlen(password), SALT, h1);
		kd_password_response(h1, CHALLENGE, resp);
		lr.password.data = resp;
		lr.password.len = 32;
	}
	m.union_case = HBB__MESSAGE__UNION_LOGIN_REQUEST;
	m.login_request = &lr;
	client_send(&m);
}

static void monitor_says(Kdipc__LoginCheckReply__Result result)
{
	Kdipc__MonitorToWorker m = KDIPC__MONITOR_TO_WORKER__INIT;
	Kdipc__LoginCheckReply r = KDIPC__LOGIN_CHECK_REPLY__INIT;

	r.result = result;
	m.msg_case = KDIPC__MONITOR_TO_WORKER__MSG_LOGIN_CHECK;
	m.login_check = &r;
	ck_assert_int_eq(kd_worker_monitor_message(w, &m), 0);
	spin();
}

static void send_simple(Hbb__Message__UnionCase t)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;
	Hbb__MouseEvent me = HBB__MOUSE_EVENT__INIT;

	m.union_case = t;
	if (t == HBB__MESSAGE__UNION_KEY_EVENT)
		m.key_event = &ke;
	else
		m.mouse_event = &me;
	client_send(&m);
}

static void login_ok(void)
{
	Hbb__Message *m = client_recv_type(HBB__MESSAGE__UNION_HASH);

	ck_assert_ptr_nonnull(m);
	hbb__message__free_unpacked(m, NULL);
	send_login(DEVICE_ID, "pw");
	ck_assert_int_eq(mon.logins, 1);
	monitor_says(KDIPC__LOGIN_CHECK_REPLY__RESULT__OK);
}

static void setup(void)
{
	test_max_payload = 0;
	ck_assert_int_ge(sodium_init(), 0);
	kd_log_init("test_worker", LOG_ERR);
	crypto_sign_keypair(id_pk, id_sk);
	base = event_base_new();
}

static void teardown(void)
{
	if (w)
		stop_worker();
	kd_config_free(test_cfg);
	test_cfg = NULL;
	event_base_free(base);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(direct_sends_hash_first_and_probes)
{
	Hbb__Message *m;

	start_worker(false);
	ck_assert_int_eq(mon.signs, 0);
	m = client_recv();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->union_case, HBB__MESSAGE__UNION_HASH);
	ck_assert_str_eq(m->hash->salt, SALT);
	ck_assert_str_eq(m->hash->challenge, CHALLENGE);
	hbb__message__free_unpacked(m, NULL);
	m = client_recv_type(HBB__MESSAGE__UNION_TEST_DELAY);
	ck_assert_ptr_nonnull(m);
	ck_assert(!m->test_delay->from_client);
	hbb__message__free_unpacked(m, NULL);
	/* services exist before login but cannot send */
	ck_assert_int_eq(fakes[0].created, 1);
	ck_assert_int_eq(fakes[0].send_before_login, -EPERM);
}
END_TEST

START_TEST(login_fills_peer_info_from_services)
{
	Hbb__Message *m;
	const Hbb__PeerInfo *pi;

	start_worker(false);
	login_ok();
	m = client_recv_type(HBB__MESSAGE__UNION_LOGIN_RESPONSE);
	ck_assert_ptr_nonnull(m);
	pi = m->login_response->peer_info;
	ck_assert_ptr_nonnull(pi);
	ck_assert_uint_eq(pi->n_displays, 1);
	ck_assert_int_eq(pi->displays[0]->width, 2560);
	ck_assert(pi->encoding && pi->encoding->h264);
	ck_assert_str_eq(pi->hostname, "box");
	hbb__message__free_unpacked(m, NULL);
	ck_assert_int_eq(fakes[0].logins, 1);
	ck_assert_int_eq(fakes[1].logins, 1);
	ck_assert(kd_worker_authorized(w));
	ck_assert_int_eq(mon.last_state,
			 KDIPC__SESSION_STATE__STATE__AUTHORIZED);
	/* the wire password is what the monitor checks */
	ck_assert_uint_eq(mon.password_len, 32);
	kd_worker_report_codec(w, "h264");
	ck_assert_str_eq(mon.codec, "h264");
}
END_TEST

START_TEST(default_display_without_services)
{
	static const struct kd_worker_service *const none[] = { NULL };
	Hbb__Message *m;

	start_worker_with(false, none);
	login_ok();
	m = client_recv_type(HBB__MESSAGE__UNION_LOGIN_RESPONSE);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->login_response->peer_info->displays[0]->width, 800);
	ck_assert_int_eq(m->login_response->peer_info->displays[0]->height,
			 600);
	ck_assert_str_eq(m->login_response->peer_info->platform, "Linux");
	hbb__message__free_unpacked(m, NULL);
}
END_TEST

START_TEST(services_see_messages_only_after_login_in_order)
{
	start_worker(false);
	send_simple(HBB__MESSAGE__UNION_KEY_EVENT); /* before login: ignored */
	ck_assert_int_eq(fakes[0].messages, 0);
	login_ok();
	send_simple(HBB__MESSAGE__UNION_KEY_EVENT);
	ck_assert_int_eq(fakes[0].messages, 1);
	ck_assert_int_eq(fakes[1].messages, 0); /* consumed by the first */
	send_simple(HBB__MESSAGE__UNION_MOUSE_EVENT);
	ck_assert_int_eq(fakes[0].messages, 2);
	ck_assert_int_eq(fakes[1].messages, 1);
	ck_assert_int_eq(fakes[1].last, HBB__MESSAGE__UNION_MOUSE_EVENT);
}
END_TEST

START_TEST(test_delay_from_client_echoed_not_forwarded)
{
	Hbb__Message m = HBB__MESSAGE__INIT, *r;
	Hbb__TestDelay td = HBB__TEST_DELAY__INIT;

	start_worker(false);
	login_ok();
	while ((r = client_recv()))
		hbb__message__free_unpacked(r, NULL);
	td.from_client = true;
	td.time = 99;
	td.last_delay = 5;
	m.union_case = HBB__MESSAGE__UNION_TEST_DELAY;
	m.test_delay = &td;
	client_send(&m);
	r = client_recv_type(HBB__MESSAGE__UNION_TEST_DELAY);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->test_delay->from_client);
	ck_assert_int_eq(r->test_delay->time, 99);
	ck_assert_uint_eq(r->test_delay->last_delay, 5);
	hbb__message__free_unpacked(r, NULL);
	ck_assert_int_eq(fakes[0].messages, 0);
}
END_TEST

START_TEST(wrong_password_keeps_connection)
{
	Hbb__Message *m;

	start_worker(false);
	m = client_recv_type(HBB__MESSAGE__UNION_HASH);
	hbb__message__free_unpacked(m, NULL);
	send_login("10.0.0.1:21118", "bad");
	/* a second request while the first is checked is not sent on */
	send_login("10.0.0.1:21118", "bad");
	ck_assert_int_eq(mon.logins, 1);
	monitor_says(KDIPC__LOGIN_CHECK_REPLY__RESULT__WRONG_PASSWORD);
	m = client_recv_type(HBB__MESSAGE__UNION_LOGIN_RESPONSE);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->login_response->error, "Wrong Password");
	hbb__message__free_unpacked(m, NULL);
	ck_assert(!mon.finished);
	send_login("10.0.0.1:21118", "good");
	ck_assert_int_eq(mon.logins, 2);
	monitor_says(KDIPC__LOGIN_CHECK_REPLY__RESULT__OK);
	ck_assert(kd_worker_authorized(w));
}
END_TEST

START_TEST(service_close_sends_reason)
{
	Hbb__Message *m;

	start_worker(false);
	login_ok();
	kd_worker_close(fakes[1].w, NULL);
	spin();
	/* skip permission_info, the other Misc before login */
	while ((m = client_recv_type(HBB__MESSAGE__UNION_MISC)) &&
	       m->misc->union_case != HBB__MISC__UNION_CLOSE_REASON)
		hbb__message__free_unpacked(m, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->misc->close_reason, "Closed manually by the peer");
	hbb__message__free_unpacked(m, NULL);
	ck_assert_int_eq(kd_worker_send(w, &(Hbb__Message)HBB__MESSAGE__INIT),
			 -EPIPE);
}
END_TEST

START_TEST(output_drained_reaches_services)
{
	start_worker(false);
	login_ok();
	ck_assert_int_eq(kd_worker_send(w, &(Hbb__Message)HBB__MESSAGE__INIT),
			 0);
	spin();
	ck_assert_int_gt(fakes[0].drained, 0);
	ck_assert_int_gt(fakes[1].drained, 0);
}
END_TEST

/* Relay/punch start: SignedId, the client's PublicKey, then the encrypted
 * Hash; the client side keeps the session key in client_ch. */
static void secure_start_to_hash(void)
{
	Kdipc__MonitorToWorker mm = KDIPC__MONITOR_TO_WORKER__INIT;
	Kdipc__SignIdReply rep = KDIPC__SIGN_ID_REPLY__INIT;
	uint8_t blob[KD_SIGNED_ID_MAX], ep_pk[32], ec_pk[32], ec_sk[32],
		key[32], sealed[48];
	Hbb__Message pkm = HBB__MESSAGE__INIT, *m;
	Hbb__PublicKey pk = HBB__PUBLIC_KEY__INIT;
	int len;

	start_worker(true);
	ck_assert_int_eq(mon.signs, 1);
	ck_assert_ptr_null(client_recv()); /* nothing before SignedId */
	len = kd_signed_id_sign(id_sk, DEVICE_ID, mon.eph_pk, 32, blob);
	rep.signed_id.data = blob;
	rep.signed_id.len = (size_t)len;
	mm.msg_case = KDIPC__MONITOR_TO_WORKER__MSG_SIGN_ID;
	mm.sign_id = &rep;
	ck_assert_int_eq(kd_worker_monitor_message(w, &mm), 0);
	/* a second signature is a monitor bug */
	ck_assert_int_eq(kd_worker_monitor_message(w, &mm), -EPROTO);
	spin();
	m = client_recv();
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->union_case, HBB__MESSAGE__UNION_SIGNED_ID);
	ck_assert_int_eq(kd_signed_id_verify(id_pk, m->signed_id->id.data,
					     m->signed_id->id.len, DEVICE_ID,
					     ep_pk),
			 0);
	hbb__message__free_unpacked(m, NULL);
	ck_assert_ptr_null(client_recv()); /* waits for PublicKey */

	crypto_box_keypair(ec_pk, ec_sk);
	crypto_secretbox_keygen(key);
	ck_assert_int_eq(kd_session_key_seal(key, ep_pk, ec_sk, sealed), 0);
	pk.asymmetric_value.data = ec_pk;
	pk.asymmetric_value.len = 32;
	pk.symmetric_value.data = sealed;
	pk.symmetric_value.len = 48;
	pkm.union_case = HBB__MESSAGE__UNION_PUBLIC_KEY;
	pkm.public_key = &pk;
	client_send(&pkm);
	kd_secure_channel_init(&client_ch, key);
	m = client_recv();
	ck_assert_ptr_nonnull(m); /* decrypted with counter 1 */
	ck_assert_int_eq(m->union_case, HBB__MESSAGE__UNION_HASH);
	hbb__message__free_unpacked(m, NULL);
}

START_TEST(secure_handshake_then_encrypted_hash)
{
	Hbb__Message *m;

	secure_start_to_hash();
	send_login(DEVICE_ID, "pw");
	monitor_says(KDIPC__LOGIN_CHECK_REPLY__RESULT__OK);
	ck_assert(kd_worker_authorized(w));
	ck_assert(mon.encrypted);
	m = client_recv_type(HBB__MESSAGE__UNION_LOGIN_RESPONSE);
	ck_assert_ptr_nonnull(m);
	hbb__message__free_unpacked(m, NULL);
}
END_TEST

static bool says_torn(void *arg) { (void)arg; return false; }
static bool says_intact(void *arg) { (void)arg; return true; }

/* A frame overwritten in the ring while it was copied is not sent, and it
 * uses up no nonce: the next message still decrypts on the client. */
START_TEST(torn_message_not_sent_and_no_nonce_used)
{
	Hbb__Message *m, chat = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__ChatMessage text = HBB__CHAT_MESSAGE__INIT;

	secure_start_to_hash();
	send_login(DEVICE_ID, "pw");
	monitor_says(KDIPC__LOGIN_CHECK_REPLY__RESULT__OK);
	m = client_recv_type(HBB__MESSAGE__UNION_LOGIN_RESPONSE);
	ck_assert_ptr_nonnull(m);
	hbb__message__free_unpacked(m, NULL);

	text.text = "torn";
	misc.union_case = HBB__MISC__UNION_CHAT_MESSAGE;
	misc.chat_message = &text;
	chat.union_case = HBB__MESSAGE__UNION_MISC;
	chat.misc = &misc;
	ck_assert_int_eq(kd_worker_send_checked(w, &chat, says_torn, NULL),
			 -ESTALE);
	text.text = "intact";
	ck_assert_int_eq(kd_worker_send_checked(w, &chat, says_intact, NULL), 0);
	spin();
	m = client_recv_type(HBB__MESSAGE__UNION_MISC);
	while (m && m->misc->union_case != HBB__MISC__UNION_CHAT_MESSAGE) {
		hbb__message__free_unpacked(m, NULL);
		m = client_recv_type(HBB__MESSAGE__UNION_MISC);
	}
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->misc->chat_message->text, "intact");
	hbb__message__free_unpacked(m, NULL);
}
END_TEST

/* After login the real client sends its clipboard, and an image there can
 * be many MiB; the real peer takes any frame. One over our limit is dropped
 * as it arrives and the session goes on, its nonce counted. */
START_TEST(oversized_frame_after_login_is_dropped)
{
	static uint8_t big[8192];
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Clipboard cb = HBB__CLIPBOARD__INIT;

	test_max_payload = 1024;
	secure_start_to_hash();
	send_login(DEVICE_ID, "pw");
	monitor_says(KDIPC__LOGIN_CHECK_REPLY__RESULT__OK);
	ck_assert(kd_worker_authorized(w));
	cb.content.data = big;
	cb.content.len = sizeof(big);
	m.union_case = HBB__MESSAGE__UNION_CLIPBOARD;
	m.clipboard = &cb;
	client_send_pieces(&m, 5);
	ck_assert(!mon.finished);
	ck_assert_int_eq(fakes[0].messages, 0); /* dropped, not parsed */
	send_simple(HBB__MESSAGE__UNION_KEY_EVENT);
	ck_assert(!mon.finished);
	ck_assert_int_eq(fakes[0].messages, 1);
	ck_assert_int_eq(fakes[0].last, HBB__MESSAGE__UNION_KEY_EVENT);
}
END_TEST

START_TEST(oversized_frame_before_login_closes)
{
	static uint8_t big[8192];
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Clipboard cb = HBB__CLIPBOARD__INIT;

	test_max_payload = 1024;
	start_worker(false);
	cb.content.data = big;
	cb.content.len = sizeof(big);
	m.union_case = HBB__MESSAGE__UNION_CLIPBOARD;
	m.clipboard = &cb;
	client_send(&m);
	ck_assert(mon.finished);
}
END_TEST

/* What a KVM never offers: files, restart, blocking the target's input. */
#define ALWAYS_OFF                                           \
	(1u << HBB__PERMISSION_INFO__PERMISSION__File |      \
	 1u << HBB__PERMISSION_INFO__PERMISSION__Restart |   \
	 1u << HBB__PERMISSION_INFO__PERMISSION__BlockInput)

/* Bit i set: PermissionInfo i arrived before login, disabled. */
static unsigned permissions_off_before_login(void)
{
	unsigned off = 0;
	Hbb__Message *m;

	while ((m = client_recv_type(HBB__MESSAGE__UNION_MISC))) {
		if (m->misc->union_case == HBB__MISC__UNION_PERMISSION_INFO &&
		    !m->misc->permission_info->enabled)
			off |= 1u << m->misc->permission_info->permission;
		hbb__message__free_unpacked(m, NULL);
	}
	return off;
}

/* The real client syncs its clipboard (images included) and shows audio
 * controls while those permissions are on: they are announced off unless
 * the box uses them. */
START_TEST(unused_permissions_announced_off)
{
	start_worker(false);
	ck_assert_uint_eq(permissions_off_before_login(),
			  ALWAYS_OFF |
				  1u << HBB__PERMISSION_INFO__PERMISSION__Clipboard |
				  1u << HBB__PERMISSION_INFO__PERMISSION__Audio);
}
END_TEST

START_TEST(used_permissions_stay_on)
{
	static const char text[] = "[hid]\ntype_clipboard = yes\n"
				   "[audio]\nsource = alsa:hw:1\n";

	ck_assert_int_eq(kd_config_parse(text, sizeof(text) - 1, &test_cfg,
					 NULL, 0),
			 0);
	start_worker(false);
	ck_assert_uint_eq(permissions_off_before_login(), ALWAYS_OFF);
}
END_TEST

/* client.rs check_if_retry (1.4.x): an "error"/"Connection Error" box is
 * retried unless the text has one of these (lower-cased). */
static bool client_would_retry(const char *text)
{
	static const char *const stop[] = { "offline", "not exist",
					    "handshake", "failed", "resolve",
					    "mismatch", "manually",
					    "not allowed" };
	char low[128];
	size_t i;

	for (i = 0; text[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ?
					text[i] + 32 : text[i]);
	low[i] = 0;
	for (i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		if (strstr(low, stop[i]))
			return false;
	return true;
}

/* Closes that retrying cannot cure must not make the client reconnect in
 * a loop. */
START_TEST(final_close_reasons_stop_client_retry)
{
	ck_assert(!client_would_retry(KD_CLOSE_MANUALLY));
	ck_assert(!client_would_retry(KD_CLOSE_INACTIVITY));
	ck_assert(!client_would_retry(KD_CLOSE_NO_CODEC));
	/* the text used before: the client retried it forever */
	ck_assert(client_would_retry("No video codec supported by both sides"));
}
END_TEST

START_TEST(close_reason_before_login_ends)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;

	start_worker(false);
	misc.union_case = HBB__MISC__UNION_CLOSE_REASON;
	misc.close_reason = "";
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	client_send(&m);
	ck_assert(mon.finished);
	ck_assert(kd_worker_finished(w));
	ck_assert_int_eq(mon.last_state, KDIPC__SESSION_STATE__STATE__CLOSING);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, direct_sends_hash_first_and_probes);
	tcase_add_test(tc, login_fills_peer_info_from_services);
	tcase_add_test(tc, default_display_without_services);
	tcase_add_test(tc, services_see_messages_only_after_login_in_order);
	tcase_add_test(tc, test_delay_from_client_echoed_not_forwarded);
	tcase_add_test(tc, wrong_password_keeps_connection);
	tcase_add_test(tc, service_close_sends_reason);
	tcase_add_test(tc, output_drained_reaches_services);
	tcase_add_test(tc, secure_handshake_then_encrypted_hash);
	tcase_add_test(tc, torn_message_not_sent_and_no_nonce_used);
	tcase_add_test(tc, oversized_frame_after_login_is_dropped);
	tcase_add_test(tc, oversized_frame_before_login_closes);
	tcase_add_test(tc, unused_permissions_announced_off);
	tcase_add_test(tc, used_permissions_stay_on);
	tcase_add_test(tc, final_close_reasons_stop_client_retry);
	tcase_add_test(tc, close_reason_before_login_ends);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
