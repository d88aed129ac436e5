/* Integration test helpers (see harness.h). Tests may block: they are not
 * daemons. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "frame_codec.h"
#include "identity.h"
#include "ipc.h"
#include "netaddr.h"
#include "unix_socket.h"

static const char *build_dir(void)
{
	const char *b = getenv("KD_BUILD_DIR");
	return b ? b : ".";
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool port_free(int port, int type)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, type, 0);
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

int h_pick_ports(void)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)now_ms();
	for (int tries = 0; tries < 200; tries++) {
		/* 26000-32000: below the ephemeral range (32768+), where
		 * other tests' outgoing connections cannot take it
		 * meanwhile, and apart from kd_harness_free_port's ports */
		int p = 26001 + (int)(rand_r(&seed) % 5998);
		if (port_free(p - 1, SOCK_STREAM) && port_free(p, SOCK_STREAM) &&
		    port_free(p, SOCK_DGRAM) && port_free(p + 1, SOCK_STREAM))
			return p;
	}
	ck_abort_msg("no free ports");
	return -1;
}

/* A failed ck_assert ends the forked test with exit(), skipping the
 * teardown fixture: clean up from atexit so no daemon outlives the test. */
#define ENVS_MAX 8
static struct h_env *envs[ENVS_MAX];
static pid_t envs_owner;

static void cleanup_all(void)
{
	if (getpid() != envs_owner)
		return;
	for (int i = 0; i < ENVS_MAX; i++)
		if (envs[i])
			h_env_fini(envs[i]);
}

void h_env_track(struct h_env *e)
{
	if (envs_owner != getpid()) {
		memset(envs, 0, sizeof(envs));
		envs_owner = getpid();
		atexit(cleanup_all);
	}
	for (int i = 0; i < ENVS_MAX; i++)
		if (envs[i] == e || !envs[i]) {
			envs[i] = e;
			return;
		}
}

void h_env_init(struct h_env *e, const char *name, const char *rdv_extra)
{
	memset(e, 0, sizeof(*e));
	h_env_track(e);
	snprintf(e->dir, sizeof(e->dir), "%s/tests/rendezvous/%s.%d",
		 build_dir(), name, (int)getpid());
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(mkdir(e->dir, 0700), 0);
	snprintf(e->state, sizeof(e->state), "%s/state", e->dir);
	/* Unix socket paths are short (108 bytes): runtime_dir in /tmp. */
	snprintf(e->run, sizeof(e->run), "/tmp/kd-rdv-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->run));
	snprintf(e->conf, sizeof(e->conf), "%s/kvmdesk.conf", e->dir);
	ck_assert_int_eq(mkdir(e->state, 0700), 0);
	bool created;
	ck_assert_int_eq(kd_identity_init(e->state, &created), 0);
	e->port = h_pick_ports();
	e->relay_port = e->port + 1;
	e->notify_fd = -1;
	snprintf(e->hbbs.log, sizeof(e->hbbs.log), "%s/hbbs.log", e->dir);
	snprintf(e->rdv.log, sizeof(e->rdv.log), "%s/rendezvousd.log", e->dir);
	snprintf(e->host, sizeof(e->host), "127.0.0.1");
	snprintf(e->servers, sizeof(e->servers), "127.0.0.1:%d", e->port);
	snprintf(e->extra, sizeof(e->extra), "%s", rdv_extra ? rdv_extra : "");
	h_write_conf(e);
}

void h_env_use_v6(struct h_env *e)
{
	snprintf(e->host, sizeof(e->host), "::1");
	snprintf(e->servers, sizeof(e->servers), "[::1]:%d", e->port);
	h_write_conf(e);
}

void h_write_conf(struct h_env *e)
{
	FILE *f = fopen(e->conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[general]\nstate_dir = %s\nruntime_dir = %s\n"
		"log_level = debug\n\n[rendezvous]\n"
		"servers = %s\nregister_interval = 1\n%s\n",
		e->state, e->run, e->servers, e->extra);
	/* The administrator copies hbbs' public key into the config. */
	if (e->hbbs_pk[0])
		fprintf(f, "key = %s\n", e->hbbs_pk);
	fclose(f);
}

static pid_t spawn(char *const argv[], const char *log, const char *notify)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (notify)
			setenv("NOTIFY_SOCKET", notify, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void h_start_hbbs(struct h_env *e, const char *const *extra)
{
	char exe[512], port[16], rport[16], key[400], db[400];
	snprintf(exe, sizeof(exe), "%s/tests/rendezvous/fake_hbbs",
		 build_dir());
	snprintf(port, sizeof(port), "%d", e->port);
	snprintf(rport, sizeof(rport), "%d", e->relay_port);
	snprintf(key, sizeof(key), "%s/hbbs.key", e->dir);
	snprintf(db, sizeof(db), "%s/hbbs.db", e->dir);
	char *argv[32] = {exe, "--port", port, "--relay-port", rport,
			  "--key-file", key, "--db", db, "--bind", e->host};
	int n = 11;
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	int before = h_count_lines(e->hbbs.log, "READY");
	e->hbbs.pid = spawn(argv, e->hbbs.log, NULL);
	ck_assert_msg(h_wait_lines(e->hbbs.log, "READY", before + 1, 5000) > 0,
		      "fake_hbbs did not start");
	char line[256];
	ck_assert(h_last_line(e->hbbs.log, "PUBKEY ", line, sizeof(line)));
	snprintf(e->hbbs_pk, sizeof(e->hbbs_pk), "%.60s", line + 7);
	h_write_conf(e);
}

void h_start_rdv(struct h_env *e)
{
	char exe[512];
	snprintf(exe, sizeof(exe), "%s/rendezvousd/rendezvousd", build_dir());
	char *argv[] = {exe, "-c", e->conf, NULL};
	int before = h_count_lines(e->rdv.log, "rendezvousd started");
	char notify[400];
	snprintf(notify, sizeof(notify), "%s/notify", e->run);
	e->rdv.pid = spawn(argv, e->rdv.log, e->notify_fd >= 0 ? notify : NULL);
	ck_assert_msg(h_wait_lines(e->rdv.log, "rendezvousd started",
				   before + 1, 5000) > 0,
		      "rendezvousd did not start");
}

void h_stop(struct h_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	int st;
	for (int i = 0; i < 500; i++) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	p->pid = 0;
}

void h_notify_listen(struct h_env *e)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	ck_assert_uint_lt(strlen(e->run) + 8, sizeof(a.sun_path));
	memcpy(a.sun_path, e->run, strlen(e->run));
	memcpy(a.sun_path + strlen(e->run), "/notify", 8);
	e->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			      0);
	ck_assert_int_eq(bind(e->notify_fd, (struct sockaddr *)&a, sizeof(a)),
			 0);
}

void h_notify_read(struct h_env *e, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (;;) {
		char buf[1024];
		ssize_t n = recv(e->notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return;
		buf[n] = '\0';
		used += (size_t)snprintf(out + used, cap - used, "%s\n", buf);
		if (used >= cap)
			return;
	}
}

void h_env_fini(struct h_env *e)
{
	h_stop(&e->rdv);
	h_stop(&e->hbbs);
	if (e->notify_fd >= 0)
		close(e->notify_fd);
	e->notify_fd = -1;
	/* Logs go to stderr (meson shows them when the test failed), then
	 * everything is removed. */
	char cmd[1200];
	if (e->dir[0]) {
		snprintf(cmd, sizeof(cmd),
			 "for f in '%s'/*.log; do [ -f \"$f\" ] && "
			 "echo \"---- $f\" && tail -n 40 \"$f\"; done >&2; "
			 "rm -rf '%s'", e->dir, e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", e->dir);
	}
	if (e->run[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->run);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", e->run);
	}
	e->dir[0] = e->run[0] = '\0';
}

int h_count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

int h_wait_lines(const char *path, const char *needle, int min,
		 int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	do {
		int n = h_count_lines(path, needle);
		if (n >= min)
			return n;
		usleep(20000);
	} while (now_ms() < end);
	return -1;
}

bool h_last_line(const char *path, const char *needle, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	bool found = false;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, cap, "%s", line);
			found = true;
		}
	fclose(f);
	return found;
}

void h_read_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

int h_tcp_connect(const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	do {
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, sa, len) == 0)
			return fd;
		close(fd);
		usleep(20000);
	} while (now_ms() < end);
	return -1;
}

int h_send_frame(int fd, Hbb__RendezvousMessage *msg)
{
	uint8_t buf[4096];
	size_t n = hbb__rendezvous_message__get_packed_size(msg);
	size_t hl = kd_frame_header_encode(n, buf);
	hbb__rendezvous_message__pack(msg, buf + hl);
	return write(fd, buf, hl + n) == (ssize_t)(hl + n) ? 0 : -1;
}

static bool read_full(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

Hbb__RendezvousMessage *h_hbbs_ask(const struct h_env *e, const char *bind_ip,
				   Hbb__RendezvousMessage *msg, int timeout_ms,
				   int *conn_out)
{
	struct sockaddr_storage a;
	socklen_t alen;
	char text[128];
	snprintf(text, sizeof(text), strchr(e->host, ':') ? "[%s]:%d" : "%s:%d",
		 e->host, e->port);
	ck_assert_int_eq(kd_sockaddr_parse(text, &a, &alen), 0);
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind_ip) {
		struct sockaddr_in b = {.sin_family = AF_INET};
		inet_pton(AF_INET, bind_ip, &b.sin_addr);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	}
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, alen), 0);
	ck_assert_int_eq(h_send_frame(fd, msg), 0);
	uint8_t hdr[4], body[4096];
	size_t hl, pl;
	Hbb__RendezvousMessage *m = NULL;
	if (!read_full(fd, hdr, 1, timeout_ms))
		goto out;
	hl = (hdr[0] & 3) + 1;
	if (hl > 1 && !read_full(fd, hdr + 1, hl - 1, timeout_ms))
		goto out;
	if (kd_frame_header_decode(hdr, hl, sizeof(body), &hl, &pl) != 0 ||
	    !read_full(fd, body, pl, timeout_ms))
		goto out;
	m = hbb__rendezvous_message__unpack(NULL, pl, body);
out:
	if (conn_out)
		*conn_out = fd;
	else
		close(fd);
	return m;
}

int h_sessiond_listen(const struct h_env *e)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/sessiond.sock", e->run);
	int fd = kd_unix_listen(path, 0600);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static bool wait_in(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1;
}

int h_sessiond_accept(int listen_fd, int timeout_ms)
{
	if (!wait_in(listen_fd, timeout_ms))
		return -1;
	int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ck_assert_int_ge(c, 0);
	ck_assert(wait_in(c, 2000));
	ProtobufCMessage *pm;
	int fd = -1;
	ck_assert_int_eq(kd_ipc_recv(c, &kdipc__rendezvous_to_session__descriptor,
				     &pm, &fd),
			 0);
	Kdipc__RendezvousToSession *m = (Kdipc__RendezvousToSession *)pm;
	ck_assert_int_eq(m->msg_case, KDIPC__RENDEZVOUS_TO_SESSION__MSG_HELLO);
	ck_assert_int_eq(kd_ipc_hello_check(m->hello), 0);
	ck_assert_str_eq(m->hello->component, "rendezvousd");
	ck_assert_int_eq(fd, -1);
	protobuf_c_message_free_unpacked(pm, NULL);
	return c;
}

int h_sessiond_recv(int conn, int timeout_ms, char *how, size_t how_cap,
		    char *peer, size_t peer_cap, bool *secure)
{
	if (!wait_in(conn, timeout_ms))
		return -1;
	ProtobufCMessage *pm;
	int fd = -1;
	ck_assert_int_eq(kd_ipc_recv(conn,
				     &kdipc__rendezvous_to_session__descriptor,
				     &pm, &fd),
			 0);
	Kdipc__RendezvousToSession *m = (Kdipc__RendezvousToSession *)pm;
	ck_assert_int_eq(m->msg_case, KDIPC__RENDEZVOUS_TO_SESSION__MSG_HANDOFF);
	ck_assert_int_ge(fd, 0);
	snprintf(how, how_cap, "%s", m->handoff->how);
	snprintf(peer, peer_cap, "%s", m->handoff->peer_addr);
	*secure = m->handoff->secure;
	protobuf_c_message_free_unpacked(pm, NULL);
	/* The daemon's socket is non-blocking; the test reads blocking. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static bool one_way(int a, int b, const char *text)
{
	size_t len = strlen(text);
	uint8_t buf[256];
	if (write(a, text, len) != (ssize_t)len)
		return false;
	if (!read_full(b, buf, len, 3000))
		return false;
	return memcmp(buf, text, len) == 0;
}

bool h_pipe_check(int a, int b, const char *text)
{
	return one_way(a, b, text) && one_way(b, a, text);
}

bool h_ctl_status(const struct h_env *e, const char *key, char *value,
		  size_t cap, char *state, size_t state_cap)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/rendezvousd-ctl.sock", e->run);
	int fd = kd_unix_connect(path);
	bool ok = false;
	if (fd < 0)
		return false;
	Kdipc__Hello hello;
	Kdipc__CtlRequest rq = KDIPC__CTL_REQUEST__INIT;
	kd_ipc_hello_init(&hello, "test", 0);
	rq.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	rq.hello = &hello;
	ProtobufCMessage *pm = NULL;
	if (kd_ipc_send(fd, &rq.base, -1) < 0 || !wait_in(fd, 2000) ||
	    kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, &pm, NULL) < 0)
		goto out;
	protobuf_c_message_free_unpacked(pm, NULL);
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	rq.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	rq.status = &sr;
	if (kd_ipc_send(fd, &rq.base, -1) < 0 || !wait_in(fd, 2000) ||
	    kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, &pm, NULL) < 0)
		goto out;
	Kdipc__CtlReply *r = (Kdipc__CtlReply *)pm;
	if (r->msg_case == KDIPC__CTL_REPLY__MSG_STATUS) {
		value[0] = '\0';
		for (size_t i = 0; i < r->status->n_details; i++)
			if (strcmp(r->status->details[i]->key, key) == 0)
				snprintf(value, cap, "%s",
					 r->status->details[i]->value);
		if (state)
			snprintf(state, state_cap, "%s", r->status->state);
		ok = true;
	}
	protobuf_c_message_free_unpacked(pm, NULL);
out:
	close(fd);
	return ok;
}
