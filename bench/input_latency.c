/* Input latency: RustDesk KeyEvent sent by the test client -> report bytes
 * written by hidd (file backend), through the real sessiond worker, over
 * loopback; next to a plain TCP ping-pong round trip measured in the same
 * run. Then a 1000 Hz mouse stream against a hidd whose file backend
 * pretends to be a host polling every 10 ms (USB full speed) and every
 * 1 ms (high speed): reports per poll interval and the final position.
 *
 *   KD_BUILD_DIR=build build/bench/bench_input_latency [N]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ipc.h"
#include "unix_socket.h"
#include "rd_client.h"

#define PASSWORD "Passw0rd!"
#define T_MS 5000

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void percentiles(const char *what, int64_t *ns, size_t n,
			double *p99_out)
{
	qsort(ns, n, sizeof(ns[0]), cmp_i64);
	printf("%-34s n=%zu  p50 %7.1f us  p99 %7.1f us  max %8.1f us\n",
	       what, n, ns[n / 2] / 1e3, ns[n * 99 / 100] / 1e3,
	       ns[n - 1] / 1e3);
	if (p99_out)
		*p99_out = ns[n * 99 / 100] / 1e3;
}

static size_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

static int start(struct kd_harness *h, const char *extra)
{
	char path[512];

	if (kd_harness_setup(h, extra, PASSWORD) < 0)
		return -1;
	mkdir(h->file_dir, 0755);
	if (kd_harness_start(h, "hidd") <= 0)
		return -1;
	snprintf(path, sizeof(path), "%s/hidd.sock", h->runtime_dir);
	if (kd_harness_wait_file(path, T_MS) < 0)
		return -1;
	if (kd_harness_start(h, "sessiond") <= 0)
		return -1;
	snprintf(path, sizeof(path), "%s/sessiond-ctl.sock", h->runtime_dir);
	return kd_harness_wait_file(path, T_MS);
}

static struct rd_client *login(struct kd_harness *h)
{
	struct rd_client_opts o;
	struct rd_client *c = NULL;
	Hbb__Message *m = NULL;
	char dialed[64];
	int fd;

	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", h->port);
	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", h->port, NULL, T_MS);
	if (fd < 0 || rd_client_new(fd, &o, &c) < 0 ||
	    rd_client_handshake(c, T_MS) < 0 ||
	    rd_client_login(c, PASSWORD, T_MS, &m) < 0) {
		fprintf(stderr, "login failed\n");
		exit(1);
	}
	hbb__message__free_unpacked(m, NULL);
	return c;
}

static void send_key(struct rd_client *c, uint32_t x11, bool down)
{
	Hbb__Message m;
	Hbb__KeyEvent ke;

	rd_build_map_key(&m, &ke, x11, down);
	rd_client_send(c, &m);
}

static void send_mouse(struct rd_client *c, int mask, int x, int y)
{
	Hbb__Message m;
	Hbb__MouseEvent me;

	rd_build_mouse(&m, &me, mask, x, y);
	rd_client_send(c, &m);
}

/* Answers keep-alive probes so the session stays up. */
static void drain(struct rd_client *c)
{
	int err;
	Hbb__Message *m;

	while ((m = rd_client_recv(c, 0, &err)))
		hbb__message__free_unpacked(m, NULL);
}

/* Waits until path holds size bytes; inotify wakes us on each write. */
static int wait_size(int ino, const char *path, size_t size)
{
	char buf[4096];
	int64_t end = now_ns() + 2000000000LL;

	while (file_size(path) < size) {
		struct pollfd p = {.fd = ino, .events = POLLIN};
		if (now_ns() > end)
			return -ETIMEDOUT;
		if (poll(&p, 1, 100) > 0)
			(void)!read(ino, buf, sizeof(buf));
	}
	return 0;
}

/* A loopback TCP echo server in its own process, like the daemons. */
static int echo_connect(pid_t *pid)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, one = 1;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		char b;
		int cfd = accept(lfd, NULL, NULL);
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (cfd >= 0 && read(cfd, &b, 1) == 1)
			if (write(cfd, &b, 1) != 1)
				break;
		_exit(0);
	}
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* KeyEvents and TCP round trips interleaved, so both see the same load. */
static double key_latency(struct kd_harness *h, size_t n, double *tcp_p99)
{
	char kbd[512], b = 'x';
	struct rd_client *c = login(h);
	int64_t *lat = calloc(n, sizeof(int64_t));
	int64_t *rtt = calloc(n, sizeof(int64_t));
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	pid_t echo_pid;
	int echo = echo_connect(&echo_pid);
	size_t size;
	double p99;

	if (echo < 0) {
		fprintf(stderr, "echo server: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(kbd, sizeof(kbd), "%s/keyboard", h->file_dir);
	inotify_add_watch(ino, kbd, IN_MODIFY);
	/* Warm up: first connection, page cache. */
	size = file_size(kbd) + 16;
	send_key(c, 38, true);
	send_key(c, 38, false);
	if (wait_size(ino, kbd, size) < 0) {
		fprintf(stderr, "no reports: is hidd running?\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = now_ns();
		send_key(c, 38, i % 2 == 0); /* A down, A up, ... */
		size += 8;
		if (wait_size(ino, kbd, size) < 0) {
			fprintf(stderr, "report %zu never arrived\n", i);
			kd_harness_dump_log(h, "hidd");
			kd_harness_dump_log(h, "sessiond");
			kd_harness_cleanup(h);
			exit(1);
		}
		lat[i] = now_ns() - t0;
		t0 = now_ns();
		if (write(echo, &b, 1) != 1 || read(echo, &b, 1) != 1)
			exit(1);
		rtt[i] = now_ns() - t0;
		if (i % 256 == 0)
			drain(c);
	}
	percentiles("KeyEvent -> report written", lat, n, &p99);
	percentiles("TCP ping-pong round trip", rtt, n, tcp_p99);
	close(echo);
	waitpid(echo_pid, NULL, 0);
	free(lat);
	free(rtt);
	close(ino);
	rd_client_free(c);
	return p99;
}

/* The last hop alone: a kdipc KeyUsage straight to hidd.sock, as a worker
 * sends it, until the report is in the file. */
static void hidd_alone(struct kd_harness *h, size_t n)
{
	char kbd[512], sock[512];
	int64_t *lat = calloc(n, sizeof(int64_t));
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), fd;
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	Kdipc__KeyUsage key = KDIPC__KEY_USAGE__INIT;
	Kdipc__Hello hello;
	size_t size;

	snprintf(kbd, sizeof(kbd), "%s/keyboard", h->file_dir);
	snprintf(sock, sizeof(sock), "%s/hidd.sock", h->runtime_dir);
	inotify_add_watch(ino, kbd, IN_MODIFY);
	fd = kd_unix_connect(sock);
	if (fd < 0)
		exit(1);
	kd_ipc_hello_init(&hello, "bench", 0);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_HELLO;
	ev.hello = &hello;
	kd_ipc_send(fd, &ev.base, -1);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_KEY;
	ev.key = &key;
	key.usage = 0x05;
	size = file_size(kbd);
	for (size_t i = 0; i < n; i++) {
		int64_t t0 = now_ns();
		key.action = i % 2 == 0 ? KDIPC__KEY_USAGE__ACTION__DOWN
					: KDIPC__KEY_USAGE__ACTION__UP;
		kd_ipc_send(fd, &ev.base, -1);
		size += 8;
		if (wait_size(ino, kbd, size) < 0)
			exit(1);
		lat[i] = now_ns() - t0;
	}
	percentiles("hidd alone: InputEvent -> report", lat, n, NULL);
	close(fd);
	close(ino);
	free(lat);
}

/* 1000 Hz of moves for 2 s against a host polling every poll_us. */
static int mouse_stream(unsigned poll_us)
{
	struct kd_harness h;
	char extra[128], mouse[512];
	uint8_t last[7];
	struct rd_client *c;
	int64_t t0, next;
	size_t before, reports;
	unsigned moves = 2000, intervals;
	int fd, x = 0, y = 0, ok;

	snprintf(extra, sizeof(extra), "[video]\nwidth = 1920\nheight = 1080\n"
				       "[hid]\nfile_poll_us = %u\n", poll_us);
	if (start(&h, extra) < 0) {
		fprintf(stderr, "daemons did not start\n");
		kd_harness_cleanup(&h);
		return 1;
	}
	snprintf(mouse, sizeof(mouse), "%s/mouse", h.file_dir);
	c = login(&h);
	before = file_size(mouse);
	t0 = next = now_ns();
	for (unsigned i = 0; i < moves; i++) {
		x = (int)(i % 1920);
		y = (int)((i * 7) % 1080);
		send_mouse(c, 0, x, y);
		next += 1000000; /* 1 ms */
		while (now_ns() < next)
			drain(c);
	}
	/* Let the last report go out. */
	usleep(poll_us * 3 + 50000);
	drain(c);
	reports = (file_size(mouse) - before) / 7;
	intervals = (unsigned)((now_ns() - t0) / 1000 / poll_us) + 1;
	fd = open(mouse, O_RDONLY);
	if (pread(fd, last, 7, (off_t)(file_size(mouse) - 7)) != 7)
		memset(last, 0, sizeof(last));
	close(fd);
	ok = (uint32_t)(last[1] | last[2] << 8) ==
		     (uint32_t)((int64_t)x * 32767 / 1919) &&
	     (uint32_t)(last[3] | last[4] << 8) ==
		     (uint32_t)((int64_t)y * 32767 / 1079);
	printf("mouse 1000 Hz, host polls every %5u us: %u moves -> %zu "
	       "reports in %u poll intervals (%s), final position %s\n",
	       poll_us, moves, reports, intervals,
	       reports <= intervals ? "<= 1 per interval" : "TOO MANY",
	       ok ? "exact" : "WRONG");
	rd_client_free(c);
	kd_harness_cleanup(&h);
	return reports <= intervals && ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	struct kd_harness h;
	double key_p99, tcp_p99;
	int rc = 0;

	if (n < 100)
		n = 100;
	{
		/* Figures on a shared 2-core box swing with its load. */
		char load[64] = "";
		FILE *f = fopen("/proc/loadavg", "r");
		if (f && fgets(load, sizeof(load), f))
			printf("load average: %s", load);
		if (f)
			fclose(f);
	}
	if (start(&h, "[video]\nwidth = 1920\nheight = 1080\n") < 0) {
		fprintf(stderr, "daemons did not start\n");
		kd_harness_cleanup(&h);
		return 1;
	}
	key_p99 = key_latency(&h, n, &tcp_p99);
	hidd_alone(&h, n);
	kd_harness_cleanup(&h);
	printf("p99 ratio input/TCP: %.2f (goal <= 3)\n", key_p99 / tcp_p99);
	rc |= mouse_stream(10000);
	rc |= mouse_stream(1000);
	return rc;
}
