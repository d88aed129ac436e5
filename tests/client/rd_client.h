/* A RustDesk test client in C that behaves like the real desktop client
 * (spec connection §5.8, §6.3, §7.2, §8): on direct IP it sends the address
 * it dialed as LoginRequest.username and runs no handshake; on a brokered
 * connection it verifies SignedId against the peer's identity key and the
 * dialed id, sends PublicKey with a sealed random session key and encrypts
 * from then on (or, like the real client, sends an empty PublicKey and
 * stays in clear when the SignedId does not verify). It lists the codecs it
 * decodes in supported_decoding, never sets video_ack_required, and echoes
 * the peer's TestDelay probes unchanged.
 *
 * Blocking I/O with timeouts: meant for tests and benchmarks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.pb-c.h"

struct rd_client_opts {
	const char *dialed;          /* what the user typed: id or "host:port" */
	bool secure;                 /* expect SignedId (punch/LAN/relay) */
	const uint8_t *identity_pk;  /* 32 bytes, `kvmdeskctl pubkey` decoded */
	const char *my_id;
	const char *my_name;
	/* supported_decoding abilities (desktop default: all 1) */
	int ability_vp8, ability_vp9, ability_av1, ability_h264, ability_h265;
	size_t max_payload;          /* largest frame accepted (default 64 MiB) */
};

void rd_client_opts_default(struct rd_client_opts *o);

/* TCP connect to host:port (numeric), optionally from bind_ip; returns the
 * fd or -errno. */
int rd_client_tcp_connect(const char *host, uint16_t port, const char *bind_ip,
			  int timeout_ms);

struct rd_client;

/* Takes ownership of fd. */
int rd_client_new(int fd, const struct rd_client_opts *o, struct rd_client **out);
void rd_client_free(struct rd_client *c);
int rd_client_fd(const struct rd_client *c);

/* Runs the handshake (secure mode) and reads Hash. 0, -ETIMEDOUT,
 * -ECONNRESET, -EBADMSG (first message of the wrong type). */
int rd_client_handshake(struct rd_client *c, int timeout_ms);
bool rd_client_encrypted(const struct rd_client *c);
bool rd_client_signature_ok(const struct rd_client *c);
const char *rd_client_salt(const struct rd_client *c);
const char *rd_client_challenge(const struct rd_client *c);

/* Builds the LoginRequest the real client sends (password NULL or "" =
 * empty); tweak may change it before it is sent. */
typedef void (*rd_login_tweak_fn)(Hbb__LoginRequest *lr, void *arg);
int rd_client_send_login(struct rd_client *c, const char *password,
			 rd_login_tweak_fn tweak, void *arg);
/* Sends a login and waits for the LoginResponse (freed with
 * hbb__message__free_unpacked). */
int rd_client_login(struct rd_client *c, const char *password, int timeout_ms,
		    Hbb__Message **response);

int rd_client_send(struct rd_client *c, const Hbb__Message *m);
/* Bytes as they are, no framing and no encryption. */
int rd_client_send_raw(struct rd_client *c, const void *buf, size_t len);

/* The next message (any type). Peer TestDelay probes are echoed before they
 * are returned. NULL with *err = -ETIMEDOUT, -ECONNRESET, -EBADMSG. */
Hbb__Message *rd_client_recv(struct rd_client *c, int timeout_ms, int *err);
/* The next message of one type; others are skipped (probes echoed). */
Hbb__Message *rd_client_recv_type(struct rd_client *c,
				  Hbb__Message__UnionCase type, int timeout_ms,
				  int *err);
/* 0 once the peer closed the connection (anything received is dropped,
 * a close_reason is copied to reason), -ETIMEDOUT otherwise. */
int rd_client_wait_closed(struct rd_client *c, int timeout_ms, char *reason,
			  size_t reason_len);

/* Input as the real desktop client encodes it toward a "Linux" peer, built
 * in caller-owned storage (nothing to free). Map mode: chr is the X11
 * keycode (spec session §5.3). mask = type | buttons << 3 (§5.9). */
void rd_build_map_key(Hbb__Message *m, Hbb__KeyEvent *ke, uint32_t x11,
		      bool down);
void rd_build_mouse(Hbb__Message *m, Hbb__MouseEvent *me, int32_t mask,
		    int32_t x, int32_t y);
