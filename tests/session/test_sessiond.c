/* sessiond against the RustDesk test client on loopback: direct IP and
 * hand-off logins, wrong passwords and the throttle, refused session kinds,
 * garbage and oversized frames, the control socket and a polite stop. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "ctl_server.h"
#include "frame_codec.h"
#include "harness.h"
#include "rd_client.h"

#define PASSWORD "Passw0rd!"
#define T_MS 5000

static struct kd_harness H;
static char dialed[64];

static void start_sessiond(const char *extra)
{
	ck_assert_int_eq(kd_harness_setup(&H, extra, PASSWORD), 0);
	ck_assert_int_eq(kd_harness_start_daemon(&H, "sessiond",
						 "sessiond-ctl.sock", 5000), 0);
	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", H.port);
}

static void setup(void)
{
	start_sessiond("[video]\nwidth = 1280\nheight = 720\n");
}

static void teardown(void)
{
	if (getenv("KD_TEST_VERBOSE"))
		kd_harness_dump_log(&H, "sessiond");
	kd_harness_cleanup(&H);
}

/* A direct-IP client from the given loopback source address, Hash read. */
static struct rd_client *direct_client(const char *src)
{
	struct rd_client_opts o;
	struct rd_client *c;
	int fd;

	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", H.port, src, T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	/* the first message on direct IP is Hash, in clear (spec §5.8) */
	ck_assert_int_eq(rd_client_handshake(c, T_MS), 0);
	ck_assert(!rd_client_encrypted(c));
	ck_assert_uint_eq(strlen(rd_client_challenge(c)), 6);
	ck_assert_uint_eq(strlen(rd_client_salt(c)), 32);
	return c;
}

static Hbb__LoginResponse *login(struct rd_client *c, const char *pw,
				 Hbb__Message **holder)
{
	ck_assert_int_eq(rd_client_login(c, pw, T_MS, holder), 0);
	return (*holder)->login_response;
}

static void check_peer_info(const Hbb__LoginResponse *lr)
{
	const Hbb__PeerInfo *pi;

	ck_assert_int_eq(lr->union_case, HBB__LOGIN_RESPONSE__UNION_PEER_INFO);
	pi = lr->peer_info;
	ck_assert_str_eq(pi->platform, "Linux");
	ck_assert_str_eq(pi->version, "1.4.9");
	ck_assert_str_eq(pi->username, "kvmdesk");
	ck_assert_uint_eq(pi->n_displays, 1);
	ck_assert_int_eq(pi->current_display, 0);
	ck_assert_int_eq(pi->displays[0]->width, 1280);
	ck_assert_int_eq(pi->displays[0]->height, 720);
	ck_assert(pi->displays[0]->online);
	ck_assert(pi->displays[0]->scale == 1.0);
}

/* Logs in with the right password and checks the PeerInfo answer. */
static void login_ok(struct rd_client *c)
{
	Hbb__Message *m;

	check_peer_info(login(c, PASSWORD, &m));
	hbb__message__free_unpacked(m, NULL);
}

/* The next LoginResponse is the given error. */
static void login_refused(struct rd_client *c, const char *error)
{
	Hbb__Message *m = rd_client_recv_type(
		c, HBB__MESSAGE__UNION_LOGIN_RESPONSE, T_MS, NULL);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->login_response->union_case,
			 HBB__LOGIN_RESPONSE__UNION_ERROR);
	ck_assert_str_eq(m->login_response->error, error);
	hbb__message__free_unpacked(m, NULL);
}

START_TEST(direct_login_gets_peer_info)
{
	struct rd_client *c = direct_client("127.0.0.1");
	Hbb__Message *m;

	login_ok(c);
	/* keep-alive probes keep coming after login, and are echoed */
	m = rd_client_recv_type(c, HBB__MESSAGE__UNION_TEST_DELAY, 3000, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert(!m->test_delay->from_client);
	hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
}
END_TEST

START_TEST(wrong_then_right_on_same_connection)
{
	struct rd_client *c = direct_client("127.0.0.2");
	Hbb__Message *m;
	Hbb__LoginResponse *lr = login(c, "nope", &m);

	ck_assert_int_eq(lr->union_case, HBB__LOGIN_RESPONSE__UNION_ERROR);
	ck_assert_str_eq(lr->error, "Wrong Password");
	hbb__message__free_unpacked(m, NULL);
	login_ok(c);
	rd_client_free(c);
}
END_TEST

START_TEST(empty_password_gets_no_reply)
{
	struct rd_client *c = direct_client("127.0.0.1");
	Hbb__Message *m;
	int err = 0;

	/* the real peer shows its accept window and waits: no answer */
	ck_assert_int_eq(rd_client_send_login(c, NULL, NULL, NULL), 0);
	m = rd_client_recv_type(c, HBB__MESSAGE__UNION_LOGIN_RESPONSE, 1500,
				&err);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(err, -ETIMEDOUT);
	login_ok(c);
	rd_client_free(c);
}
END_TEST

static void wait_for_fresh_minute_window(void)
{
	/* the throttle counts per wall-clock minute: keep the test inside one */
	time_t t = time(NULL);

	if (t % 60 > 45)
		sleep((unsigned)(61 - t % 60));
}

START_TEST(eighth_wrong_try_is_throttled)
{
	struct rd_client *c;
	Hbb__Message *m;
	Hbb__LoginResponse *lr;

	wait_for_fresh_minute_window();
	c = direct_client("127.0.0.3");
	for (int i = 0; i < 7; i++) {
		lr = login(c, "wrong", &m);
		ck_assert_str_eq(lr->error, "Wrong Password");
		hbb__message__free_unpacked(m, NULL);
	}
	lr = login(c, "wrong", &m);
	ck_assert_int_eq(lr->union_case, HBB__LOGIN_RESPONSE__UNION_ERROR);
	ck_assert_str_eq(lr->error, "Please try 1 minute later");
	hbb__message__free_unpacked(m, NULL);
	/* a blocked attempt does not check the password, even a right one */
	lr = login(c, PASSWORD, &m);
	ck_assert_str_eq(lr->error, "Please try 1 minute later");
	hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);

	/* the same address on a new connection is blocked too; another
	 * address is not */
	c = direct_client("127.0.0.3");
	lr = login(c, PASSWORD, &m);
	ck_assert_str_eq(lr->error, "Please try 1 minute later");
	hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
	c = direct_client("127.0.0.4");
	login_ok(c);
	rd_client_free(c);
}
END_TEST

/* ---- hand-off ---------------------------------------------------------- */

static struct rd_client *handed_off_client(bool secure, const char *dial_id,
					   const uint8_t *pk)
{
	struct rd_client_opts o;
	struct rd_client *c;
	int cfd = -1, sfd = -1;

	ck_assert_int_eq(kd_harness_tcp_pair("127.0.0.5", &cfd, &sfd), 0);
	ck_assert_int_eq(kd_harness_handoff(&H, sfd, secure, "relay"), 0);
	rd_client_opts_default(&o);
	o.dialed = dial_id;
	o.secure = secure;
	o.identity_pk = pk;
	ck_assert_int_eq(rd_client_new(cfd, &o, &c), 0);
	ck_assert_int_eq(rd_client_handshake(c, T_MS), 0);
	return c;
}

START_TEST(secure_handoff_encrypts_and_logs_in)
{
	struct rd_client *c = handed_off_client(true, H.device_id, H.pubkey);
	Hbb__Message *m;

	ck_assert(rd_client_signature_ok(c));
	ck_assert(rd_client_encrypted(c));
	login_ok(c);
	m = rd_client_recv_type(c, HBB__MESSAGE__UNION_TEST_DELAY, 3000, NULL);
	ck_assert_ptr_nonnull(m);
	hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
}
END_TEST

START_TEST(secure_handoff_wrong_key_falls_back_to_clear)
{
	uint8_t other[32];
	struct rd_client *c;

	memcpy(other, H.pubkey, 32);
	other[0] ^= 0x55;
	/* like the real client (case B): empty PublicKey, unencrypted */
	c = handed_off_client(true, H.device_id, other);
	ck_assert(!rd_client_signature_ok(c));
	ck_assert(!rd_client_encrypted(c));
	login_ok(c);
	rd_client_free(c);
}
END_TEST

START_TEST(secure_handoff_client_without_key_gets_clear_session)
{
	/* case A: the client has no signed pk, sends an empty message */
	struct rd_client *c = handed_off_client(true, H.device_id, NULL);

	ck_assert(!rd_client_encrypted(c));
	login_ok(c);
	rd_client_free(c);
}
END_TEST

START_TEST(secure_handoff_other_id_gets_clear_session)
{
	/* case C: the signature is ours but for another id than dialed */
	struct rd_client *c = handed_off_client(true, "555555555", H.pubkey);

	ck_assert(!rd_client_signature_ok(c));
	ck_assert(!rd_client_encrypted(c));
	/* dialing another id is "Offline" for us */
	ck_assert_int_eq(rd_client_send_login(c, PASSWORD, NULL, NULL), 0);
	login_refused(c, "Offline");
	rd_client_free(c);
}
END_TEST

START_TEST(insecure_handoff_sends_hash_first)
{
	struct rd_client *c = handed_off_client(false, H.device_id, NULL);

	ck_assert(!rd_client_encrypted(c));
	login_ok(c);
	rd_client_free(c);
}
END_TEST

/* ---- refusals ---------------------------------------------------------- */

struct kind_case {
	int kind;
	const char *error;
};

static const struct kind_case kinds[] = {
	{ HBB__LOGIN_REQUEST__UNION_FILE_TRANSFER,
	  "No permission of file transfer" },
	{ HBB__LOGIN_REQUEST__UNION_VIEW_CAMERA,
	  "No permission of viewing camera" },
	{ HBB__LOGIN_REQUEST__UNION_TERMINAL, "No permission of terminal" },
	{ HBB__LOGIN_REQUEST__UNION_PORT_FORWARD,
	  "No permission of IP tunneling" },
};

static void set_kind(Hbb__LoginRequest *lr, void *arg)
{
	static Hbb__FileTransfer ft = HBB__FILE_TRANSFER__INIT;
	static Hbb__ViewCamera vc = HBB__VIEW_CAMERA__INIT;
	static Hbb__Terminal term = HBB__TERMINAL__INIT;
	static Hbb__PortForward pf = HBB__PORT_FORWARD__INIT;
	const struct kind_case *k = arg;

	lr->union_case = (Hbb__LoginRequest__UnionCase)k->kind;
	switch (k->kind) {
	case HBB__LOGIN_REQUEST__UNION_FILE_TRANSFER:
		ft.dir = "/";
		lr->file_transfer = &ft;
		break;
	case HBB__LOGIN_REQUEST__UNION_VIEW_CAMERA:
		lr->view_camera = &vc;
		break;
	case HBB__LOGIN_REQUEST__UNION_TERMINAL:
		lr->terminal = &term;
		break;
	default:
		pf.host = "127.0.0.1";
		pf.port = 22;
		lr->port_forward = &pf;
		break;
	}
}

START_TEST(session_kinds_refused)
{
	const struct kind_case *k = &kinds[_i];
	struct rd_client *c = direct_client("127.0.0.1");

	ck_assert_int_eq(rd_client_send_login(c, PASSWORD, set_kind,
					      (void *)k),
			 0);
	login_refused(c, k->error);
	ck_assert_int_eq(rd_client_wait_closed(c, 4000, NULL, 0), 0);
	rd_client_free(c);
}
END_TEST

static void set_username(Hbb__LoginRequest *lr, void *arg)
{
	lr->username = arg;
}

START_TEST(unknown_username_is_offline)
{
	struct rd_client *c = direct_client("127.0.0.1");
	Hbb__Message *m;

	ck_assert_int_eq(rd_client_send_login(c, PASSWORD, set_username,
					      "someone-else"),
			 0);
	login_refused(c, "Offline");
	ck_assert_int_eq(rd_client_wait_closed(c, 4000, NULL, 0), 0);
	rd_client_free(c);

	/* our own id is fine on direct IP too */
	c = direct_client("127.0.0.1");
	ck_assert_int_eq(rd_client_send_login(c, PASSWORD, set_username,
					      H.device_id),
			 0);
	m = rd_client_recv_type(c, HBB__MESSAGE__UNION_LOGIN_RESPONSE, T_MS,
				NULL);
	ck_assert_ptr_nonnull(m);
	check_peer_info(m->login_response);
	hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
}
END_TEST

static void set_my_id(Hbb__LoginRequest *lr, void *arg)
{
	lr->my_id = arg;
}

START_TEST(scope_change_not_allowed)
{
	struct rd_client *c = direct_client("127.0.0.6");
	char reason[128];

	ck_assert_int_eq(rd_client_send_login(c, NULL, set_my_id, "111111111"),
			 0);
	ck_assert_int_eq(rd_client_send_login(c, PASSWORD, set_my_id,
					      "222222222"),
			 0);
	login_refused(c, "Connection not allowed");
	ck_assert_int_eq(rd_client_wait_closed(c, 4000, reason, sizeof(reason)),
			 0);
	rd_client_free(c);
}
END_TEST

/* ---- bad input --------------------------------------------------------- */

/* A session that still works echoes a client's TestDelay probe. */
static void assert_probe_echoed(struct rd_client *c, int64_t time)
{
	Hbb__Message probe = HBB__MESSAGE__INIT, *m;
	Hbb__TestDelay td = HBB__TEST_DELAY__INIT;

	td.from_client = true;
	td.time = time;
	probe.union_case = HBB__MESSAGE__UNION_TEST_DELAY;
	probe.test_delay = &td;
	ck_assert_int_eq(rd_client_send(c, &probe), 0);
	for (;;) {
		m = rd_client_recv_type(c, HBB__MESSAGE__UNION_TEST_DELAY, T_MS,
					NULL);
		ck_assert_ptr_nonnull(m);
		if (m->test_delay->from_client)
			break;
		hbb__message__free_unpacked(m, NULL);
	}
	ck_assert_int_eq(m->test_delay->time, time);
	hbb__message__free_unpacked(m, NULL);
}

START_TEST(garbage_closes_only_that_connection)
{
	struct rd_client *good = direct_client("127.0.0.1");
	struct rd_client *bad = direct_client("127.0.0.1");
	/* a frame whose payload is not a Message (wire type 7) */
	static const uint8_t junk[] = { 0x10, 0x0f, 0xff, 0xff, 0xff };

	login_ok(good);
	ck_assert_int_eq(rd_client_send_raw(bad, junk, sizeof(junk)), 0);
	ck_assert_int_eq(rd_client_wait_closed(bad, 3000, NULL, 0), 0);
	rd_client_free(bad);

	/* the other session still answers */
	assert_probe_echoed(good, 4242);
	rd_client_free(good);
}
END_TEST

START_TEST(oversized_frame_header_closes)
{
	struct rd_client *c = direct_client("127.0.0.1");
	uint8_t hdr[KD_FRAME_HEADER_MAX];
	size_t hl = kd_frame_header_encode(64u << 20, hdr);

	ck_assert_uint_eq(hl, 4);
	/* only the header: the limit is enforced before any payload */
	ck_assert_int_eq(rd_client_send_raw(c, hdr, hl), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, 3000, NULL, 0), 0);
	rd_client_free(c);
}
END_TEST

START_TEST(wrong_message_before_login_is_ignored)
{
	struct rd_client *c = direct_client("127.0.0.1");
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;

	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = &ke;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
	login_ok(c);
	rd_client_free(c);

	/* a flood of them closes the connection */
	c = direct_client("127.0.0.1");
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(rd_client_send(c, &m), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, 3000, NULL, 0), 0);
	rd_client_free(c);
}
END_TEST

START_TEST(peer_only_message_from_client_closes)
{
	struct rd_client *c = direct_client("127.0.0.1");
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Hash h = HBB__HASH__INIT;

	login_ok(c);
	h.salt = "x";
	h.challenge = "y";
	m.union_case = HBB__MESSAGE__UNION_HASH;
	m.hash = &h;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, 3000, NULL, 0), 0);
	rd_client_free(c);
}
END_TEST

START_TEST(client_close_reason_ends_session)
{
	struct rd_client *c = direct_client("127.0.0.1");
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;

	login_ok(c);
	misc.union_case = HBB__MISC__UNION_CLOSE_REASON;
	misc.close_reason = "";
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, 3000, NULL, 0), 0);
	rd_client_free(c);
}
END_TEST

START_TEST(one_address_cannot_take_every_slot)
{
	struct rd_client *held[8], *c;
	struct rd_client_opts o;
	int fd, r;

	for (int i = 0; i < 8; i++)
		held[i] = direct_client("127.0.0.8");
	/* the ninth connection from there is closed without a Hash */
	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", H.port, "127.0.0.8", T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	r = rd_client_handshake(c, T_MS);
	ck_assert_int_eq(r, -ECONNRESET);
	rd_client_free(c);
	/* others are served */
	c = direct_client("127.0.0.9");
	rd_client_free(c);
	for (int i = 0; i < 8; i++)
		rd_client_free(held[i]);
}
END_TEST

/* ---- the worker sandbox, seen from outside ----------------------------- */

static bool status_has(pid_t pid, const char *line)
{
	char path[64], buf[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(buf, sizeof(buf), f))
		if (strncmp(buf, line, strlen(line)) == 0)
			found = true;
	fclose(f);
	return found;
}

START_TEST(worker_runs_sandboxed)
{
	struct rd_client *c = direct_client("127.0.0.1");
	char path[96];
	int n = 0, pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
		 (int)H.procs[0].pid, (int)H.procs[0].pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fscanf(f, "%d", &pid) == 1) {
		ck_assert(status_has(pid, "NoNewPrivs:\t1"));
		ck_assert(status_has(pid, "Seccomp:\t2"));
		n++;
	}
	fclose(f);
	ck_assert_int_ge(n, 1);
	/* and the monitor itself is not */
	ck_assert(status_has(H.procs[0].pid, "Seccomp:\t0"));
	rd_client_free(c);
}
END_TEST

static int children_of(pid_t pid, int *out, int max)
{
	char path[96];
	int n = 0, c;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &c) == 1)
		out[n++] = c;
	fclose(f);
	return n;
}

START_TEST(a_dead_worker_takes_only_its_session)
{
	struct rd_client *a = direct_client("127.0.0.10"), *b;
	int before[64], after[64], nb, na, victim = -1;

	login_ok(a);
	usleep(200 * 1000);
	nb = children_of(H.procs[0].pid, before, 64);
	b = direct_client("127.0.0.11");
	login_ok(b);
	na = children_of(H.procs[0].pid, after, 64);
	for (int i = 0; i < na; i++) {
		bool old = false;
		for (int j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old)
			victim = after[i];
	}
	ck_assert_int_gt(victim, 0);
	/* as if an exploit crashed it */
	ck_assert_int_eq(kill(victim, SIGSEGV), 0);
	ck_assert_int_eq(rd_client_wait_closed(b, 3000, NULL, 0), 0);
	rd_client_free(b);

	assert_probe_echoed(a, 77);
	rd_client_free(a);
}
END_TEST

/* ---- control socket and stop ------------------------------------------ */

static const char *ctl_path(void)
{
	static char path[512];

	ck_assert_int_eq(kd_ctl_socket_path(H.runtime_dir, "sessiond", path,
					    sizeof(path)),
			 0);
	return path;
}

static int ctl_close_session(uint64_t conn_id)
{
	int error = 1;

	ck_assert_int_eq(kd_ctl_call_close_session(ctl_path(), conn_id, T_MS,
						   &error),
			 0);
	return error;
}

START_TEST(ctl_status_lists_sessions_and_closes_one)
{
	struct rd_client *c = direct_client("127.0.0.7");
	char reason[128];
	Kdipc__CtlReply *rep = NULL;
	uint64_t conn_id = 0;

	login_ok(c);
	usleep(100 * 1000);
	ck_assert_int_eq(kd_ctl_call_status(ctl_path(), T_MS, &rep), 0);
	ck_assert_str_eq(rep->status->component, "sessiond");
	ck_assert_int_eq(rep->status->pid, H.procs[0].pid);
	ck_assert_str_ne(rep->status->state, "");
	for (size_t i = 0; i < rep->status->n_sessions; i++) {
		Kdipc__SessionInfo *si = rep->status->sessions[i];
		if (si->authorized && strncmp(si->peer_addr, "127.0.0.7:", 10) == 0) {
			conn_id = si->conn_id;
			ck_assert_str_eq(si->how, "direct");
			ck_assert_str_eq(si->peer_id, "987654321");
			ck_assert_int_gt(si->since_unix, 0);
		}
	}
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	ck_assert_uint_ne(conn_id, 0);

	ck_assert_int_eq(ctl_close_session(conn_id + 1000), -ENOENT);
	ck_assert_int_eq(ctl_close_session(conn_id), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, 3000, reason, sizeof(reason)),
			 0);
	ck_assert_str_eq(reason, "Closed manually by the peer");
	rd_client_free(c);
}
END_TEST

/* true once pid is a zombie or gone */
static bool daemon_exits(pid_t pid, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		char path[64], buf[256];
		FILE *f;
		char *p;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (!f)
			return true;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		p = p ? strrchr(buf, ')') : NULL;
		if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
			return true;
		usleep(20000);
	}
	return false;
}

START_TEST(sigterm_closes_sessions_politely)
{
	struct rd_client *c = direct_client("127.0.0.1");
	char reason[128];
	pid_t pid = H.procs[0].pid;

	login_ok(c);
	/* the test runs in a child of the harness: signal, don't reap */
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, 3000, reason, sizeof(reason)),
			 0);
	ck_assert(daemon_exits(pid, 5000));
	/* "manually": the client does not reconnect (spec connection §8) */
	ck_assert_str_eq(reason, "Closed manually by the peer");
	rd_client_free(c);
}
END_TEST

/* ---- deadlines (sessiond started with login_timeout = 5) --------------- */

static void setup_deadline(void)
{
	start_sessiond("[session]\nlogin_timeout = 5\n[video]\nwidth = 1280\n"
		       "height = 720\n");
}

START_TEST(no_login_within_deadline_closes)
{
	struct rd_client *c = direct_client("127.0.0.1");
	char reason[128];

	/* the client keeps answering probes, but never logs in */
	ck_assert_int_eq(rd_client_wait_closed(c, 9000, reason, sizeof(reason)),
			 0);
	ck_assert_str_eq(reason, "Connection failed due to inactivity");
	rd_client_free(c);
}
END_TEST

START_TEST(slowloris_partial_frame_closes)
{
	struct rd_client *c = direct_client("127.0.0.1");
	static const uint8_t partial[] = { 0x03, 0x00 }; /* half a header */

	char buf[4096];
	int fd = rd_client_fd(c);
	ssize_t n;

	ck_assert_int_eq(rd_client_send_raw(c, partial, sizeof(partial)), 0);
	/* read without answering anything: the frame never completes */
	for (int waited = 0;; waited += 100) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ck_assert_int_lt(waited, 9000);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
	}
	rd_client_free(c);
}
END_TEST

/* ---- dual stack --------------------------------------------------------- */

static void setup_dual_stack(void)
{
	char extra[192];

	/* the harness picked a free port; listen on [::] with it instead */
	uint16_t port = kd_harness_free_port();
	snprintf(extra, sizeof(extra),
		 "[session]\nlisten = [::]:%u\n[video]\nwidth = 1280\n"
		 "height = 720\n", port);
	start_sessiond(extra);
	H.port = port;
	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", H.port);
}

START_TEST(dual_stack_listener_takes_ipv4)
{
	struct rd_client *c = direct_client("127.0.0.1");

	login_ok(c);
	rd_client_free(c);
}
END_TEST

/* ---- direct IP switched off -------------------------------------------- */

static void setup_no_direct(void)
{
	start_sessiond("[session]\ndirect_ip = off\n[video]\nwidth = 1280\n"
		       "height = 720\n");
}

START_TEST(direct_ip_off_closes_the_port_not_the_handoff)
{
	struct rd_client *c;

	ck_assert_int_eq(rd_client_tcp_connect("127.0.0.1", H.port, NULL, 2000),
			 -ECONNREFUSED);
	c = handed_off_client(true, H.device_id, H.pubkey);
	ck_assert(rd_client_encrypted(c));
	login_ok(c);
	rd_client_free(c);
}
END_TEST

/* ---- direct IP restricted to listed networks ---------------------------- */

static void setup_allow_list(void)
{
	start_sessiond("[session]\ndirect_ip_allow = 10.0.0.0/8, 127.0.0.2/32\n"
		       "[video]\nwidth = 1280\nheight = 720\n");
}

START_TEST(direct_ip_only_from_allowed_networks)
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *m;
	char reason[128];

	/* 127.0.0.1 is not listed: closed before a single byte is sent */
	rd_client_opts_default(&o);
	o.dialed = dialed;
	int fd = rd_client_tcp_connect("127.0.0.1", H.port, "127.0.0.1", T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	ck_assert_int_eq(rd_client_wait_closed(c, T_MS, reason, sizeof(reason)), 0);
	rd_client_free(c);

	/* 127.0.0.2 is: a normal login */
	c = direct_client("127.0.0.2");
	check_peer_info(login(c, PASSWORD, &m));
	hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
}
END_TEST

static Suite *sessiond_suite(void)
{
	Suite *s = suite_create("sessiond");
	TCase *tc = tcase_create("login");
	TCase *thr = tcase_create("throttle");
	TCase *stop = tcase_create("stop");
	TCase *dl = tcase_create("deadline");
	TCase *ds = tcase_create("dual_stack");
	TCase *nd = tcase_create("no_direct");
	TCase *al = tcase_create("allow_list");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, direct_login_gets_peer_info);
	tcase_add_test(tc, wrong_then_right_on_same_connection);
	tcase_add_test(tc, empty_password_gets_no_reply);
	tcase_add_test(tc, secure_handoff_encrypts_and_logs_in);
	tcase_add_test(tc, secure_handoff_wrong_key_falls_back_to_clear);
	tcase_add_test(tc, insecure_handoff_sends_hash_first);
	tcase_add_test(tc, secure_handoff_client_without_key_gets_clear_session);
	tcase_add_test(tc, secure_handoff_other_id_gets_clear_session);
	tcase_add_loop_test(tc, session_kinds_refused, 0,
			    sizeof(kinds) / sizeof(kinds[0]));
	tcase_add_test(tc, unknown_username_is_offline);
	tcase_add_test(tc, scope_change_not_allowed);
	tcase_add_test(tc, garbage_closes_only_that_connection);
	tcase_add_test(tc, oversized_frame_header_closes);
	tcase_add_test(tc, wrong_message_before_login_is_ignored);
	tcase_add_test(tc, client_close_reason_ends_session);
	tcase_add_test(tc, peer_only_message_from_client_closes);
	tcase_add_test(tc, worker_runs_sandboxed);
	tcase_add_test(tc, one_address_cannot_take_every_slot);
	tcase_add_test(tc, a_dead_worker_takes_only_its_session);
	tcase_add_test(tc, ctl_status_lists_sessions_and_closes_one);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(thr, setup, teardown);
	tcase_set_timeout(thr, 90);
	tcase_add_test(thr, eighth_wrong_try_is_throttled);
	suite_add_tcase(s, thr);

	tcase_add_unchecked_fixture(stop, setup, teardown);
	tcase_set_timeout(stop, 30);
	tcase_add_test(stop, sigterm_closes_sessions_politely);
	suite_add_tcase(s, stop);

	tcase_add_unchecked_fixture(dl, setup_deadline, teardown);
	tcase_set_timeout(dl, 30);
	tcase_add_test(dl, no_login_within_deadline_closes);
	tcase_add_test(dl, slowloris_partial_frame_closes);
	suite_add_tcase(s, dl);

	tcase_add_unchecked_fixture(ds, setup_dual_stack, teardown);
	tcase_set_timeout(ds, 30);
	tcase_add_test(ds, dual_stack_listener_takes_ipv4);
	suite_add_tcase(s, ds);

	tcase_add_unchecked_fixture(nd, setup_no_direct, teardown);
	tcase_set_timeout(nd, 30);
	tcase_add_test(nd, direct_ip_off_closes_the_port_not_the_handoff);
	suite_add_tcase(s, nd);

	tcase_add_unchecked_fixture(al, setup_allow_list, teardown);
	tcase_set_timeout(al, 30);
	tcase_add_test(al, direct_ip_only_from_allowed_networks);
	suite_add_tcase(s, al);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sessiond_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
