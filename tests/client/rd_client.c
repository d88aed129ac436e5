/* RustDesk test client (see rd_client.h). */
#include "rd_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "frame_codec.h"
#include "password.h"
#include "secure_channel.h"
#include "signed_id.h"

struct rd_client {
	struct rd_client_opts o;
	char *dialed, *my_id, *my_name;
	uint8_t identity_pk[32];
	bool have_identity_pk;
	int fd;
	struct kd_secure_channel ch;
	bool signature_ok;
	char salt[128], challenge[64];
	uint8_t *in;
	size_t in_len, in_cap;
	uint64_t session_id;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rd_client_opts_default(struct rd_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->my_id = "987654321";
	o->my_name = "rd-test-client";
	o->ability_vp8 = o->ability_vp9 = o->ability_av1 = 1;
	o->ability_h264 = o->ability_h265 = 1;
	o->max_payload = 64u << 20;
}

int rd_client_tcp_connect(const char *host, uint16_t port, const char *bind_ip,
			  int timeout_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	struct pollfd p;
	int fd, r, err = 0;
	socklen_t el = sizeof(err);

	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind_ip) {
		struct sockaddr_in b = { .sin_family = AF_INET };
		if (inet_pton(AF_INET, bind_ip, &b.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0) {
			r = -errno ? -errno : -EINVAL;
			close(fd);
			return r;
		}
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
	    errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	p.fd = fd;
	p.events = POLLOUT;
	r = poll(&p, 1, timeout_ms);
	if (r <= 0) {
		close(fd);
		return r == 0 ? -ETIMEDOUT : -errno;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		close(fd);
		return -err;
	}
	r = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &r, sizeof(r));
	return fd;
}

int rd_client_new(int fd, const struct rd_client_opts *o, struct rd_client **out)
{
	struct rd_client *c = calloc(1, sizeof(*c));

	if (!c || sodium_init() < 0) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->o = *o;
	if (!c->o.max_payload)
		c->o.max_payload = 64u << 20;
	c->dialed = strdup(o->dialed ? o->dialed : "");
	c->my_id = strdup(o->my_id ? o->my_id : "");
	c->my_name = strdup(o->my_name ? o->my_name : "");
	if (o->identity_pk) {
		memcpy(c->identity_pk, o->identity_pk, 32);
		c->have_identity_pk = true;
	}
	c->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	kd_secure_channel_init(&c->ch, NULL);
	randombytes_buf(&c->session_id, sizeof(c->session_id));
	*out = c;
	return 0;
}

void rd_client_free(struct rd_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	kd_secure_channel_wipe(&c->ch);
	free(c->in);
	free(c->dialed);
	free(c->my_id);
	free(c->my_name);
	free(c);
}

int rd_client_fd(const struct rd_client *c)
{
	return c->fd;
}

bool rd_client_encrypted(const struct rd_client *c)
{
	return c->ch.enabled;
}

bool rd_client_signature_ok(const struct rd_client *c)
{
	return c->signature_ok;
}

const char *rd_client_salt(const struct rd_client *c)
{
	return c->salt;
}

const char *rd_client_challenge(const struct rd_client *c)
{
	return c->challenge;
}

/* ---- raw I/O ----------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (poll(&pf, 1, 5000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int rd_client_send_raw(struct rd_client *c, const void *buf, size_t len)
{
	return write_all(c->fd, buf, len);
}

int rd_client_send(struct rd_client *c, const Hbb__Message *m)
{
	size_t len = hbb__message__get_packed_size(m);
	size_t mac = c->ch.enabled ? KD_SECURE_MAC_BYTES : 0;
	uint8_t *buf = malloc(KD_FRAME_HEADER_MAX + len + mac);
	size_t hl;
	int r;

	if (!buf)
		return -ENOMEM;
	hl = kd_frame_header_encode(len + mac, buf);
	hbb__message__pack(m, buf + hl + mac);
	kd_secure_channel_seal(&c->ch, buf + hl + mac, len, buf + hl);
	r = write_all(c->fd, buf, hl + len + mac);
	free(buf);
	return r;
}

/* Reads until one whole frame is buffered; returns its payload in *frame
 * (valid until the next read) or -errno. */
static int read_frame(struct rd_client *c, int64_t deadline, uint8_t **frame,
		      size_t *len, size_t *consumed)
{
	for (;;) {
		size_t hl, n;
		int r = kd_frame_header_decode(c->in, c->in_len,
					       c->o.max_payload + 16, &hl, &n);
		if (r < 0)
			return -EBADMSG;
		if (r == 0 && c->in_len >= hl + n) {
			*frame = c->in + hl;
			*len = n;
			*consumed = hl + n;
			return 0;
		}
		if (c->in_cap - c->in_len < 65536) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
			uint8_t *p = realloc(c->in, cap);
			if (!p)
				return -ENOMEM;
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t got = recv(c->fd, c->in + c->in_len,
				   c->in_cap - c->in_len, 0);
		if (got > 0) {
			c->in_len += (size_t)got;
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		int64_t left = deadline - now_ms();
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pf, 1, (int)left);
		if (r == 0)
			return -ETIMEDOUT;
	}
}

static void consume(struct rd_client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

static Hbb__Message *read_message(struct rd_client *c, int64_t deadline,
				  bool decrypt, int *err)
{
	uint8_t *frame = NULL;
	size_t len = 0, consumed = 0, plain = 0;
	Hbb__Message *m;
	int r = read_frame(c, deadline, &frame, &len, &consumed);

	if (r < 0) {
		*err = r;
		return NULL;
	}
	if (decrypt &&
	    kd_secure_channel_open(&c->ch, frame, len, frame, &plain) < 0) {
		*err = -EBADMSG;
		return NULL;
	}
	if (!decrypt)
		plain = len;
	m = hbb__message__unpack(NULL, plain, frame);
	consume(c, consumed);
	if (!m)
		*err = -EBADMSG;
	return m;
}

Hbb__Message *rd_client_recv(struct rd_client *c, int timeout_ms, int *err)
{
	int dummy;
	Hbb__Message *m;

	if (!err)
		err = &dummy;
	m = read_message(c, now_ms() + timeout_ms, true, err);
	if (m && m->union_case == HBB__MESSAGE__UNION_TEST_DELAY &&
	    !m->test_delay->from_client)
		(void)rd_client_send(c, m); /* the real client echoes probes */
	return m;
}

Hbb__Message *rd_client_recv_type(struct rd_client *c,
				  Hbb__Message__UnionCase type, int timeout_ms,
				  int *err)
{
	int64_t deadline = now_ms() + timeout_ms;
	int dummy;

	if (!err)
		err = &dummy;
	for (;;) {
		int64_t left = deadline - now_ms();
		Hbb__Message *m;

		if (left < 0)
			left = 0;
		m = rd_client_recv(c, (int)left, err);
		if (!m)
			return NULL;
		if (m->union_case == type)
			return m;
		hbb__message__free_unpacked(m, NULL);
	}
}

int rd_client_wait_closed(struct rd_client *c, int timeout_ms, char *reason,
			  size_t reason_len)
{
	int64_t deadline = now_ms() + timeout_ms;

	if (reason && reason_len)
		reason[0] = 0;
	for (;;) {
		int err = 0;
		int64_t left = deadline - now_ms();
		Hbb__Message *m = rd_client_recv(c, left > 0 ? (int)left : 0,
						 &err);
		if (!m) {
			if (err == -ECONNRESET)
				return 0;
			if (err == -ETIMEDOUT)
				return -ETIMEDOUT;
			/* undecodable rest: wait for the close itself */
			c->in_len = 0;
			if (now_ms() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (reason && m->union_case == HBB__MESSAGE__UNION_MISC &&
		    m->misc->union_case == HBB__MISC__UNION_CLOSE_REASON)
			snprintf(reason, reason_len, "%s",
				 m->misc->close_reason);
		hbb__message__free_unpacked(m, NULL);
	}
}

/* ---- handshake and login ---------------------------------------------- */

static int send_public_key(struct rd_client *c, const uint8_t ep_pk[32])
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__PublicKey pk = HBB__PUBLIC_KEY__INIT;
	uint8_t ec_pk[32], ec_sk[32], key[32], sealed[48];
	int r;

	m.union_case = HBB__MESSAGE__UNION_PUBLIC_KEY;
	m.public_key = &pk;
	if (!ep_pk) /* could not verify the peer: empty PublicKey, in clear */
		return rd_client_send(c, &m);
	crypto_box_keypair(ec_pk, ec_sk);
	crypto_secretbox_keygen(key);
	if (kd_session_key_seal(key, ep_pk, ec_sk, sealed) < 0)
		return -EINVAL;
	pk.asymmetric_value.data = ec_pk;
	pk.asymmetric_value.len = 32;
	pk.symmetric_value.data = sealed;
	pk.symmetric_value.len = 48;
	r = rd_client_send(c, &m);
	if (r == 0)
		kd_secure_channel_init(&c->ch, key);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ec_sk, sizeof(ec_sk));
	return r;
}

/* The real client's choices (spec connection §6.6): no key to check with
 * (case A) -> an empty Message at once, SignedId ignored later; signature
 * does not verify (B) -> empty PublicKey; id inside differs (C) -> empty
 * Message; otherwise the key exchange. */
static int secure_handshake(struct rd_client *c, int64_t deadline)
{
	Hbb__Message empty = HBB__MESSAGE__INIT;
	uint8_t ep_pk[32];
	int err = 0, r;
	Hbb__Message *m;

	if (!c->have_identity_pk)
		return rd_client_send(c, &empty);
	m = read_message(c, deadline, false, &err);
	if (!m)
		return err;
	if (m->union_case != HBB__MESSAGE__UNION_SIGNED_ID) {
		/* the real client logs "invalid message type" and drops it */
		hbb__message__free_unpacked(m, NULL);
		return -EBADMSG;
	}
	if (kd_signed_id_verify(c->identity_pk, m->signed_id->id.data,
				m->signed_id->id.len, NULL, ep_pk) < 0) {
		r = send_public_key(c, NULL);
	} else if (kd_signed_id_verify(c->identity_pk, m->signed_id->id.data,
				       m->signed_id->id.len, c->dialed,
				       ep_pk) < 0) {
		r = rd_client_send(c, &empty);
	} else {
		c->signature_ok = true;
		r = send_public_key(c, ep_pk);
	}
	hbb__message__free_unpacked(m, NULL);
	return r;
}

int rd_client_handshake(struct rd_client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	Hbb__Message *m;
	int err = 0, r;

	if (c->o.secure) {
		r = secure_handshake(c, deadline);
		if (r < 0)
			return r;
	}
	m = read_message(c, deadline, true, &err);
	if (m && c->o.secure && !c->have_identity_pk &&
	    m->union_case == HBB__MESSAGE__UNION_SIGNED_ID) {
		hbb__message__free_unpacked(m, NULL); /* case A: ignored */
		m = read_message(c, deadline, true, &err);
	}
	if (!m)
		return err;
	if (m->union_case != HBB__MESSAGE__UNION_HASH) {
		hbb__message__free_unpacked(m, NULL);
		return -EBADMSG;
	}
	snprintf(c->salt, sizeof(c->salt), "%s", m->hash->salt);
	snprintf(c->challenge, sizeof(c->challenge), "%s", m->hash->challenge);
	hbb__message__free_unpacked(m, NULL);
	return 0;
}

int rd_client_send_login(struct rd_client *c, const char *password,
			 rd_login_tweak_fn tweak, void *arg)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__LoginRequest lr = HBB__LOGIN_REQUEST__INIT;
	Hbb__OptionMessage opt = HBB__OPTION_MESSAGE__INIT;
	Hbb__SupportedDecoding dec = HBB__SUPPORTED_DECODING__INIT;
	uint8_t h1[32], resp[32];

	lr.username = c->dialed;
	lr.my_id = c->my_id;
	lr.my_name = c->my_name;
	lr.version = "1.4.9";
	lr.my_platform = "Linux";
	lr.session_id = c->session_id;
	lr.video_ack_required = false;
	if (password && password[0]) {
		kd_password_h1(password, strlen(password), c->salt, h1);
		kd_password_response(h1, c->challenge, resp);
		lr.password.data = resp;
		lr.password.len = sizeof(resp);
	}
	dec.ability_vp8 = c->o.ability_vp8;
	dec.ability_vp9 = c->o.ability_vp9;
	dec.ability_av1 = c->o.ability_av1;
	dec.ability_h264 = c->o.ability_h264;
	dec.ability_h265 = c->o.ability_h265;
	dec.prefer = HBB__SUPPORTED_DECODING__PREFER_CODEC__Auto;
	opt.supported_decoding = &dec;
	lr.option = &opt;
	if (tweak)
		tweak(&lr, arg);
	m.union_case = HBB__MESSAGE__UNION_LOGIN_REQUEST;
	m.login_request = &lr;
	return rd_client_send(c, &m);
}

int rd_client_login(struct rd_client *c, const char *password, int timeout_ms,
		    Hbb__Message **response)
{
	int r = rd_client_send_login(c, password, NULL, NULL);

	if (r < 0)
		return r;
	*response = rd_client_recv_type(c, HBB__MESSAGE__UNION_LOGIN_RESPONSE,
					timeout_ms, &r);
	return *response ? 0 : r;
}

void rd_build_map_key(Hbb__Message *m, Hbb__KeyEvent *ke, uint32_t x11,
		      bool down)
{
	hbb__message__init(m);
	hbb__key_event__init(ke);
	ke->mode = HBB__KEYBOARD_MODE__Map;
	ke->union_case = HBB__KEY_EVENT__UNION_CHR;
	ke->chr = x11;
	ke->down = down;
	m->union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m->key_event = ke;
}

void rd_build_mouse(Hbb__Message *m, Hbb__MouseEvent *me, int32_t mask,
		    int32_t x, int32_t y)
{
	hbb__message__init(m);
	hbb__mouse_event__init(me);
	me->mask = mask;
	me->x = x;
	me->y = y;
	m->union_case = HBB__MESSAGE__UNION_MOUSE_EVENT;
	m->mouse_event = me;
}
