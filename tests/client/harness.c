/* Integration-test harness (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ipc.h"
#include "rd_client.h"
#include "unix_socket.h"

static struct kd_harness *registered[8];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void cleanup_all(void)
{
	for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++)
		if (registered[i])
			kd_harness_cleanup(registered[i]);
}

static void on_fatal_signal(int sig)
{
	cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void register_harness(struct kd_harness *h)
{
	static bool hooked;

	if (!hooked) {
		hooked = true;
		atexit(cleanup_all);
		signal(SIGTERM, on_fatal_signal);
		signal(SIGINT, on_fatal_signal);
	}
	for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++)
		if (!registered[i]) {
			registered[i] = h;
			return;
		}
}

static const char *build_dir(void)
{
	const char *d = getenv("KD_BUILD_DIR");

	return d && d[0] ? d : ".";
}

/* A free loopback port in 20000-25999: below the kernel's ephemeral range
 * (32768 and up), where another test's outgoing connection could take it
 * between this check and the daemon's bind, and apart from the stand-in
 * hbbs ports (tests/rendezvous, 26000-32000). */
uint16_t kd_harness_free_port(void)
{
	static unsigned calls;
	unsigned seed = (unsigned)getpid() * 2654435761u ^
			(unsigned)now_ms() ^ ++calls * 40503u;

	for (int tries = 0; tries < 200; tries++) {
		uint16_t port = (uint16_t)(20000 + rand_r(&seed) % 6000);
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons(port) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool ok;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = fd >= 0 &&
		     bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	return 0;
}

const char *kd_harness_path(const struct kd_harness *h, const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", h->dir, name);
	return buf;
}

int kd_harness_ctl(struct kd_harness *h, const char *input, char *out,
		   size_t out_len, const char *const *args)
{
	char exe[512];
	const char *argv[16];
	int in_pipe[2], out_pipe[2], status, n = 0;
	size_t got = 0;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/kvmdeskctl/kvmdeskctl", build_dir());
	argv[n++] = exe;
	argv[n++] = "-c";
	argv[n++] = h->conf_path;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(in_pipe[0], 0);
		dup2(out_pipe[1], 1);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	if (input && write(in_pipe[1], input, strlen(input)) < 0)
		(void)0;
	close(in_pipe[1]);
	for (;;) {
		char tmp[256];
		ssize_t r = read(out_pipe[0], tmp, sizeof(tmp));
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && out && got + 1 < out_len; i++)
			out[got++] = tmp[i];
	}
	if (out && out_len)
		out[got] = 0;
	close(out_pipe[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = 0;
}

int kd_harness_set_password(struct kd_harness *h, const char *password)
{
	static const char *const args[] = { "password", "set", NULL };
	char input[256];
	int r;

	snprintf(input, sizeof(input), "%s\n", password);
	r = kd_harness_ctl(h, input, NULL, 0, args);
	if (r != 0)
		fprintf(stderr, "harness: kvmdeskctl password set: %d\n", r);
	return r == 0 ? 0 : -EIO;
}

static int write_conf(struct kd_harness *h, const char *extra)
{
	FILE *f = fopen(h->conf_path, "w");

	if (!f)
		return -errno;
	fprintf(f,
		"[general]\n"
		"state_dir = %s\n"
		"runtime_dir = %s\n"
		"log_level = debug\n"
		"\n"
		"[session]\n"
		"listen = 127.0.0.1:%u\n"
		"direct_ip = on\n"
		"\n"
		"[video]\n"
		"source = testpattern\n"
		"\n"
		"[hid]\n"
		"backend = file\n"
		"file_dir = %s\n",
		h->state_dir, h->runtime_dir, h->port, h->file_dir);
	if (extra)
		fprintf(f, "\n%s\n", extra);
	return fclose(f) == 0 ? 0 : -errno;
}

int kd_harness_setup(struct kd_harness *h, const char *extra_conf,
		     const char *password)
{
	static const char *const init[] = { "init", NULL };
	static const char *const id[] = { "id", NULL };
	static const char *const pubkey[] = { "pubkey", NULL };
	char tmpl[] = "/tmp/kvmdesk-test-XXXXXX";
	size_t pk_len = 0;
	int r;

	memset(h, 0, sizeof(*h));
	h->owner = getpid();
	if (!mkdtemp(tmpl))
		return -errno;
	snprintf(h->dir, sizeof(h->dir), "%s", tmpl);
	register_harness(h);
	snprintf(h->conf_path, sizeof(h->conf_path), "%s/kvmdesk.conf", h->dir);
	snprintf(h->state_dir, sizeof(h->state_dir), "%s/state", h->dir);
	snprintf(h->runtime_dir, sizeof(h->runtime_dir), "%s/run", h->dir);
	snprintf(h->file_dir, sizeof(h->file_dir), "%s/hid", h->dir);
	mkdir(h->runtime_dir, 0755);
	mkdir(h->file_dir, 0755);
	h->port = kd_harness_free_port();
	r = write_conf(h, extra_conf);
	if (r < 0)
		return r;
	r = kd_harness_ctl(h, NULL, NULL, 0, init);
	if (r != 0) {
		fprintf(stderr, "harness: kvmdeskctl init failed: %d\n", r);
		return -EIO;
	}
	if (kd_harness_ctl(h, NULL, h->device_id, sizeof(h->device_id), id) ||
	    kd_harness_ctl(h, NULL, h->pubkey_b64, sizeof(h->pubkey_b64),
			   pubkey))
		return -EIO;
	chomp(h->device_id);
	chomp(h->pubkey_b64);
	if (sodium_init() < 0 ||
	    sodium_base642bin(h->pubkey, sizeof(h->pubkey), h->pubkey_b64,
			      strlen(h->pubkey_b64), NULL, &pk_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    pk_len != 32) {
		fprintf(stderr, "harness: bad pubkey '%s'\n", h->pubkey_b64);
		return -EINVAL;
	}
	if (password)
		return kd_harness_set_password(h, password);
	return 0;
}

pid_t kd_harness_start(struct kd_harness *h, const char *name)
{
	char exe[512], log[512];
	int slot = -1;
	pid_t pid;

	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (!h->procs[i].pid) {
			slot = i;
			break;
		}
	if (slot < 0)
		return -ENOSPC;
	snprintf(exe, sizeof(exe), "%s/%s/%s", build_dir(), name, name);
	snprintf(log, sizeof(log), "%s/%s.log", h->dir, name);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0)
			dup2(fd, 2);
		execl(exe, name, "-c", h->conf_path, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	snprintf(h->procs[slot].name, sizeof(h->procs[slot].name), "%s", name);
	h->procs[slot].pid = pid;
	return pid;
}

static int stop_slot(struct kd_harness *h, int i, int timeout_ms)
{
	pid_t pid = h->procs[i].pid;
	int64_t deadline = now_ms() + timeout_ms;
	int status = 0;

	if (!pid)
		return -ENOENT;
	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			break;
		if (now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ms(10);
	}
	/* whatever is left in the group (workers) goes too */
	kill(-pid, SIGKILL);
	h->procs[i].pid = 0;
	return status;
}

int kd_harness_stop(struct kd_harness *h, const char *name, int timeout_ms)
{
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (h->procs[i].pid && strcmp(h->procs[i].name, name) == 0)
			return stop_slot(h, i, timeout_ms);
	return -ENOENT;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void kd_harness_cleanup(struct kd_harness *h)
{
	if (!h->dir[0] || h->owner != getpid())
		return;
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (h->procs[i].pid)
			stop_slot(h, i, 2000);
	if (!getenv("KD_KEEP_TEST_DIR"))
		nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	h->dir[0] = 0;
	for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++)
		if (registered[i] == h)
			registered[i] = NULL;
}

int kd_harness_wait_port(uint16_t port, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 &&
			 connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(20);
	}
}

int kd_harness_wait_file(const char *path, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct stat st;

	while (stat(path, &st) < 0) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(20);
	}
	return 0;
}

void kd_harness_dump_log(const struct kd_harness *h, const char *name)
{
	char path[512], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.log", h->dir, name);
	f = fopen(path, "r");
	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

int kd_harness_tcp_pair(const char *src_ip, int *client_fd, int *server_fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;

	*client_fd = *server_fd = -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&sin, &len) < 0) {
		r = -errno;
		goto out;
	}
	*client_fd = rd_client_tcp_connect("127.0.0.1", ntohs(sin.sin_port),
					   src_ip, 5000);
	if (*client_fd < 0) {
		r = *client_fd;
		goto out;
	}
	*server_fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*server_fd < 0)
		r = -errno;
out:
	if (l >= 0)
		close(l);
	return r;
}

int kd_harness_handoff(struct kd_harness *h, int server_fd, bool secure,
		       const char *how)
{
	char path[512];
	Kdipc__RendezvousToSession m = KDIPC__RENDEZVOUS_TO_SESSION__INIT;
	Kdipc__Hello hello = KDIPC__HELLO__INIT;
	Kdipc__Handoff ho = KDIPC__HANDOFF__INIT;
	int s, r;

	snprintf(path, sizeof(path), "%s/sessiond.sock", h->runtime_dir);
	s = kd_unix_connect(path);
	if (s < 0) {
		close(server_fd);
		return s;
	}
	kd_ipc_hello_init(&hello, "rendezvousd", 0);
	m.msg_case = KDIPC__RENDEZVOUS_TO_SESSION__MSG_HELLO;
	m.hello = &hello;
	r = kd_ipc_send(s, &m.base, -1);
	ho.how = (char *)how;
	ho.peer_addr = "";
	ho.secure = secure;
	m.msg_case = KDIPC__RENDEZVOUS_TO_SESSION__MSG_HANDOFF;
	m.handoff = &ho;
	if (r == 0)
		r = kd_ipc_send(s, &m.base, server_fd);
	close(server_fd);
	/* queued packets are read before the hang-up is seen */
	close(s);
	return r;
}

int kd_harness_start_daemon(struct kd_harness *h, const char *name,
			    const char *socket_name, int timeout_ms)
{
	char path[600];

	if (kd_harness_start(h, name) <= 0)
		return -ECHILD;
	snprintf(path, sizeof(path), "%s/%s", h->runtime_dir, socket_name);
	if (kd_harness_wait_file(path, timeout_ms) < 0) {
		fprintf(stderr, "%s did not create %s within %d ms\n", name,
			socket_name, timeout_ms);
		kd_harness_dump_log(h, name);
		return -ETIMEDOUT;
	}
	return 0;
}

size_t kd_harness_file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

size_t kd_harness_read_file(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, cap);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}
