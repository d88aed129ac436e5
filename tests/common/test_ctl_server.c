/* The control socket server: Hello first, status and close_session answered,
 * anything malformed closes that connection only, SO_PEERCRED, systemd
 * sockets. The server runs in a child process (its own event loop); the
 * test is the client. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl_server.h"
#include "ipc.h"
#include "log.h"
#include "unix_socket.h"

/* Generous bound so a broken server fails the test instead of hanging it;
 * nothing here depends on timing. */
#define WAIT_MS 5000

static char dir[64];
static char path[96];
static pid_t server_pid;

/* ---- the daemon side --------------------------------------------------- */

struct fake_daemon {
	bool session_open;
	struct event_base *base;
};

static void fake_status(void *data, struct kd_ctl_status *st)
{
	struct fake_daemon *d = data;
	kd_ctl_status_set_state(st, "2 clients\nsecond line dropped by nobody");
	kd_ctl_status_add_detail(st, "registration", "registered");
	kd_ctl_status_add_detail(st, "server", "127.0.0.1:21116");
	if (d->session_open) {
		struct kd_ctl_session s = {
			.conn_id = 7,
			.peer_id = "123456789",
			.peer_addr = "127.0.0.1:50000",
			.how = "relay",
			.authorized = true,
			.since_unix = 1700000000,
			.codec = "vp9",
			.peer_name = NULL,
		};
		kd_ctl_status_add_session(st, &s);
	}
}

static int fake_close(void *data, uint64_t conn_id)
{
	struct fake_daemon *d = data;
	if (conn_id != 7 || !d->session_open)
		return KD_CTL_NO_SESSION;
	d->session_open = false;
	return 0;
}

static int reloads;

static int fake_reload(void *data, char *message, size_t len)
{
	reloads++;
	snprintf(message, len, "reload %d", reloads);
	return reloads == 1 ? 0 : -EINVAL;
}

static const struct kd_ctl_ops fake_ops = {
	.status = fake_status,
	.close_session = fake_close,
	.reload = fake_reload,
};

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Forks the server; returns once it listens. before_start runs in the
 * child (to fake systemd). */
static void start_server(const char *component, void (*before_start)(void))
{
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		close(ready[0]);
		kd_log_init("test", LOG_ERR);
		if (before_start)
			before_start();
		struct fake_daemon d = { .session_open = true };
		d.base = event_base_new();
		struct event *term = evsignal_new(d.base, SIGTERM, on_term, d.base);
		event_add(term, NULL);
		struct kd_ctl_server *srv = NULL;
		int r = kd_ctl_server_start(d.base, dir, component, &fake_ops,
					    &d, &srv);
		char ok = r == 0 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1 || r < 0)
			_exit(1);
		close(ready[1]);
		event_base_dispatch(d.base);
		kd_ctl_server_destroy(srv);
		event_free(term);
		event_base_free(d.base);
		_exit(0);
	}
	close(ready[1]);
	char ok = 0;
	ck_assert_int_eq(read(ready[0], &ok, 1), 1);
	ck_assert_int_eq(ok, 'y');
	close(ready[0]);
}

static int stop_server(void)
{
	int status = 0;
	kill(server_pid, SIGTERM);
	waitpid(server_pid, &status, 0);
	return status;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kd-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(kd_ctl_socket_path(dir, "test", path, sizeof(path)), 0);
	ck_assert_str_eq(path + strlen(dir), "/test-ctl.sock");
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* ---- client helpers ---------------------------------------------------- */

static Kdipc__CtlReply *call_status(void)
{
	Kdipc__CtlReply *reply = NULL;
	ck_assert_int_eq(kd_ctl_call_status(path, WAIT_MS, &reply), 0);
	ck_assert_int_eq(reply->msg_case, KDIPC__CTL_REPLY__MSG_STATUS);
	return reply;
}

static int call_close(uint64_t id)
{
	int error = 1;
	ck_assert_int_eq(kd_ctl_call_close_session(path, id, WAIT_MS, &error),
			 0);
	return error;
}

static void send_hello(int fd, uint32_t version)
{
	Kdipc__Hello hello;
	kd_ipc_hello_init(&hello, "test", 0);
	hello.protocol_version = version;
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	req.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	req.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(fd, &req.base, -1), 0);
}

static void send_status_request(int fd)
{
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	ck_assert_int_eq(kd_ipc_send(fd, &req.base, -1), 0);
}

/* Next reply on fd, or NULL when the server closed the connection. */
static Kdipc__CtlReply *next_reply(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	ProtobufCMessage *m = NULL;
	int r = kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, &m, NULL);
	if (r == -ECONNRESET)
		return NULL;
	ck_assert_int_eq(r, 0);
	return (Kdipc__CtlReply *)m;
}

static int hello_done_connection(void)
{
	int fd = kd_unix_connect(path);
	ck_assert_int_ge(fd, 0);
	send_hello(fd, KD_IPC_PROTOCOL_VERSION);
	Kdipc__CtlReply *r = next_reply(fd);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->msg_case, KDIPC__CTL_REPLY__MSG_HELLO);
	ck_assert_str_eq(r->hello->component, "test");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return fd;
}

static void assert_closed_by_server(int fd)
{
	ck_assert_ptr_null(next_reply(fd));
	close(fd);
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(status_reports_what_the_daemon_fills)
{
	start_server("test", NULL);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0660);

	Kdipc__CtlReply *reply = call_status();
	Kdipc__StatusReply *s = reply->status;
	ck_assert_str_eq(s->component, "test");
	ck_assert_int_eq(s->pid, server_pid);
	ck_assert_str_eq(s->state, "2 clients\nsecond line dropped by nobody");
	ck_assert_uint_eq(s->n_details, 2);
	ck_assert_str_eq(s->details[0]->key, "registration");
	ck_assert_str_eq(s->details[0]->value, "registered");
	ck_assert_uint_eq(s->n_sessions, 1);
	ck_assert_uint_eq(s->sessions[0]->conn_id, 7);
	ck_assert_str_eq(s->sessions[0]->peer_id, "123456789");
	ck_assert_str_eq(s->sessions[0]->peer_addr, "127.0.0.1:50000");
	ck_assert_str_eq(s->sessions[0]->how, "relay");
	ck_assert(s->sessions[0]->authorized);
	ck_assert_int_eq(s->sessions[0]->since_unix, 1700000000);
	ck_assert_str_eq(s->sessions[0]->codec, "vp9");
	ck_assert_str_eq(s->sessions[0]->peer_name, "");
	protobuf_c_message_free_unpacked(&reply->base, NULL);

	ck_assert_int_eq(stop_server(), 0);
	/* The server removes the socket file it created. */
	ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

START_TEST(close_session_reaches_the_daemon)
{
	start_server("test", NULL);
	ck_assert_int_eq(call_close(8), -ENOENT);
	ck_assert_int_eq(call_close(7), 0);
	ck_assert_int_eq(call_close(7), -ENOENT);
	Kdipc__CtlReply *reply = call_status();
	ck_assert_uint_eq(reply->status->n_sessions, 0);
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	stop_server();
}
END_TEST

START_TEST(reload_reaches_the_daemon)
{
	start_server("test", NULL);
	int error = 1;
	char msg[64] = "";
	ck_assert_int_eq(kd_ctl_call_reload(path, WAIT_MS, &error, msg,
					    sizeof(msg)), 0);
	ck_assert_int_eq(error, 0);
	ck_assert_str_eq(msg, "reload 1");
	ck_assert_int_eq(kd_ctl_call_reload(path, WAIT_MS, &error, msg,
					    sizeof(msg)), 0);
	ck_assert_int_eq(error, -EINVAL);
	ck_assert_str_eq(msg, "reload 2");
	stop_server();
}
END_TEST

START_TEST(many_requests_on_one_connection)
{
	start_server("test", NULL);
	int fd = hello_done_connection();
	for (int i = 0; i < 3; i++) {
		send_status_request(fd);
		Kdipc__CtlReply *r = next_reply(fd);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->msg_case, KDIPC__CTL_REPLY__MSG_STATUS);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	close(fd);
	stop_server();
}
END_TEST

START_TEST(request_before_hello_closes)
{
	start_server("test", NULL);
	int fd = kd_unix_connect(path);
	ck_assert_int_ge(fd, 0);
	send_status_request(fd);
	assert_closed_by_server(fd);
	stop_server();
}
END_TEST

START_TEST(wrong_version_closes)
{
	start_server("test", NULL);
	int fd = kd_unix_connect(path);
	ck_assert_int_ge(fd, 0);
	send_hello(fd, KD_IPC_PROTOCOL_VERSION + 1);
	assert_closed_by_server(fd);
	stop_server();
}
END_TEST

START_TEST(second_hello_closes)
{
	start_server("test", NULL);
	int fd = hello_done_connection();
	send_hello(fd, KD_IPC_PROTOCOL_VERSION);
	assert_closed_by_server(fd);
	stop_server();
}
END_TEST

/* Garbage, an empty request and a passed fd each close only the connection
 * that sent them: a connection opened before still gets answers. */
START_TEST(malformed_closes_only_that_connection)
{
	start_server("test", NULL);
	int good = hello_done_connection();

	int bad = hello_done_connection();
	static const unsigned char garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	ck_assert_int_eq(kd_unix_send(bad, garbage, sizeof(garbage), -1), 0);
	assert_closed_by_server(bad);

	bad = hello_done_connection();
	Kdipc__CtlRequest empty = KDIPC__CTL_REQUEST__INIT;
	ck_assert_int_eq(kd_ipc_send(bad, &empty.base, -1), 0);
	assert_closed_by_server(bad);

	bad = hello_done_connection();
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	ck_assert_int_eq(kd_ipc_send(bad, &req.base, p[0]), 0);
	close(p[0]);
	close(p[1]);
	assert_closed_by_server(bad);

	send_status_request(good);
	Kdipc__CtlReply *r = next_reply(good);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->msg_case, KDIPC__CTL_REPLY__MSG_STATUS);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	close(good);
	ck_assert_int_eq(stop_server(), 0);
}
END_TEST

/* A peer that is not root, not our user and not in our group is refused,
 * even when the file mode would let it connect. Needs root to be another
 * user. */
START_TEST(foreign_user_refused)
{
	if (geteuid() != 0)
		return; /* cannot become another user: nothing to check */
	start_server("test", NULL);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(chmod(path, 0666), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(2);
		int fd = kd_unix_connect(path);
		if (fd < 0)
			_exit(3);
		/* The server may close before our Hello goes out: EPIPE is the
		 * same refusal. No ck_assert here: this is a child process. */
		Kdipc__Hello hello;
		kd_ipc_hello_init(&hello, "test", 0);
		Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
		req.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
		req.hello = &hello;
		int r = kd_ipc_send(fd, &req.base, -1);
		if (r == -EPIPE || r == -ECONNRESET)
			_exit(0);
		if (r < 0)
			_exit(6);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, WAIT_MS) != 1)
			_exit(4);
		char buf[64];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		_exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 5);
	}
	int status;
	waitpid(child, &status, 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The daemon itself is unaffected. */
	Kdipc__CtlReply *reply = call_status();
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	stop_server();
}
END_TEST

/* Fakes systemd: a listening socket named "test-ctl" at fd 3. */
static void pass_systemd_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 8) < 0 || dup2(fd, 3) < 0)
		_exit(10);
	if (fd != 3)
		close(fd);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "test-ctl", 1);
}

START_TEST(takes_the_systemd_socket)
{
	start_server("test", pass_systemd_socket);
	Kdipc__CtlReply *reply = call_status();
	ck_assert_str_eq(reply->status->component, "test");
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	ck_assert_int_eq(stop_server(), 0);
	/* systemd's socket file is systemd's: the daemon leaves it. */
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
}
END_TEST

START_TEST(no_daemon_is_enoent)
{
	Kdipc__CtlReply *reply = NULL;
	ck_assert_int_eq(kd_ctl_call_status(path, WAIT_MS, &reply), -ENOENT);
	int error = 1;
	ck_assert_int_eq(kd_ctl_call_close_session(path, 7, WAIT_MS, &error),
			 -ENOENT);
	ck_assert_int_eq(error, 1);
}
END_TEST

START_TEST(socket_path_too_long)
{
	char out[20];
	ck_assert_int_eq(kd_ctl_socket_path("/run/kvmdesk", "sessiond", out,
					    sizeof(out)),
			 -ENAMETOOLONG);
	ck_assert_int_eq(kd_ctl_socket_path("/r", "hidd", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/r/hidd-ctl.sock");
}
END_TEST

/* At most KD_CTL_MAX_CLIENTS at once; the next is closed at once and the
 * daemon goes on serving the others. */
START_TEST(client_limit)
{
	start_server("test", NULL);
	int fds[KD_CTL_MAX_CLIENTS];
	for (int i = 0; i < KD_CTL_MAX_CLIENTS; i++)
		fds[i] = hello_done_connection();
	int extra = kd_unix_connect(path);
	ck_assert_int_ge(extra, 0);
	assert_closed_by_server(extra);
	close(fds[0]);
	/* The slot is free again once the server saw the close. */
	send_status_request(fds[1]);
	Kdipc__CtlReply *r = next_reply(fds[1]);
	ck_assert_ptr_nonnull(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	fds[0] = hello_done_connection();
	for (int i = 0; i < KD_CTL_MAX_CLIENTS; i++)
		close(fds[i]);
	ck_assert_int_eq(stop_server(), 0);
}
END_TEST

/* A daemon that hangs (never accepts, never answers) costs kvmdeskctl its
 * timeout, not forever: once with the connection queued, once with the
 * backlog full so that connect() itself cannot complete. */
START_TEST(hung_daemon_times_out)
{
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	Kdipc__CtlReply *reply = NULL;
	ck_assert_int_eq(kd_ctl_call_status(path, 100, &reply), -ETIMEDOUT);

	int queued[64], n = 0;
	while (n < 64) {
		int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(c);
			break;
		}
		queued[n++] = c;
	}
	ck_assert_int_lt(n, 64); /* the backlog is full now */
	ck_assert_int_eq(kd_ctl_call_status(path, 100, &reply), -ETIMEDOUT);
	while (n > 0)
		close(queued[--n]);
	close(l);
}
END_TEST

START_TEST(bad_arguments)
{
	struct event_base *base = event_base_new();
	struct kd_ctl_server *srv = NULL;
	struct kd_ctl_ops no_status = { 0 };
	ck_assert_int_eq(kd_ctl_server_start(base, dir, "test", &no_status,
					     NULL, &srv),
			 -EINVAL);
	ck_assert_int_eq(kd_ctl_server_start(base, dir,
					     "a-component-name-that-is-too-long",
					     &fake_ops, NULL, &srv),
			 -EINVAL);
	kd_ctl_server_destroy(NULL);
	event_base_free(base);
}
END_TEST

int main(void)
{
	kd_log_init("test_ctl_server", LOG_ERR);
	Suite *s = suite_create("ctl_server");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, status_reports_what_the_daemon_fills);
	tcase_add_test(tc, close_session_reaches_the_daemon);
	tcase_add_test(tc, reload_reaches_the_daemon);
	tcase_add_test(tc, many_requests_on_one_connection);
	tcase_add_test(tc, request_before_hello_closes);
	tcase_add_test(tc, wrong_version_closes);
	tcase_add_test(tc, second_hello_closes);
	tcase_add_test(tc, malformed_closes_only_that_connection);
	tcase_add_test(tc, foreign_user_refused);
	tcase_add_test(tc, takes_the_systemd_socket);
	tcase_add_test(tc, no_daemon_is_enoent);
	tcase_add_test(tc, socket_path_too_long);
	tcase_add_test(tc, client_limit);
	tcase_add_test(tc, hung_daemon_times_out);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
