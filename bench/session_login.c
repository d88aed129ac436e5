/* Benchmark: connect-to-LoginResponse time of sessiond on loopback (direct
 * IP and secure hand-off), and the memory of the monitor and of one idle
 * worker. Run: KD_BUILD_DIR=build build/bench/bench_session_login [N] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rd_client.h"

#define PASSWORD "bench-password"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The "<field> N kB" line of a /proc/PID file. */
static long proc_kib(int pid, const char *file, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0) {
			kib = strtol(line + n, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static long rss_kib(int pid)
{
	return proc_kib(pid, "status", "VmRSS:");
}

/* Proportional set size: shared copy-on-write pages split among sharers. */
static long pss_kib(int pid)
{
	return proc_kib(pid, "smaps_rollup", "Pss:");
}

static int first_child(int pid)
{
	char path[96];
	int child = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = -1;
		fclose(f);
	}
	return child;
}

static int login_once(struct kd_harness *h, const char *dialed, double *us)
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *m = NULL;
	double t0 = now_us();
	int fd, r;

	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", h->port, NULL, 5000);
	if (fd < 0)
		return fd;
	r = rd_client_new(fd, &o, &c);
	if (r < 0)
		return r;
	r = rd_client_handshake(c, 5000);
	if (r == 0)
		r = rd_client_login(c, PASSWORD, 5000, &m);
	if (r == 0 && m->login_response->union_case !=
			      HBB__LOGIN_RESPONSE__UNION_PEER_INFO)
		r = -EACCES;
	*us = now_us() - t0;
	if (m)
		hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
	return r;
}

/* Secure hand-off: from handing the socket over to LoginResponse, with the
 * SignedId check, the key exchange and encryption. */
static int secure_login_once(struct kd_harness *h, double *us)
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *m = NULL;
	int cfd, sfd, r;
	double t0;

	r = kd_harness_tcp_pair("127.0.0.2", &cfd, &sfd);
	if (r < 0)
		return r;
	t0 = now_us();
	r = kd_harness_handoff(h, sfd, true, "relay");
	if (r < 0)
		return r;
	rd_client_opts_default(&o);
	o.dialed = h->device_id;
	o.secure = true;
	o.identity_pk = h->pubkey;
	r = rd_client_new(cfd, &o, &c);
	if (r < 0)
		return r;
	r = rd_client_handshake(c, 5000);
	if (r == 0 && !rd_client_encrypted(c))
		r = -EPROTO;
	if (r == 0)
		r = rd_client_login(c, PASSWORD, 5000, &m);
	if (r == 0 && m->login_response->union_case !=
			      HBB__LOGIN_RESPONSE__UNION_PEER_INFO)
		r = -EACCES;
	*us = now_us() - t0;
	if (m)
		hbb__message__free_unpacked(m, NULL);
	rd_client_free(c);
	return r;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	struct kd_harness h;
	double *t = calloc((size_t)n, sizeof(*t));
	char dialed[64], ctl[512];
	struct rd_client_opts o;
	struct rd_client *idle = NULL;
	int pid, worker, fd;

	if (!t || n < 1 || kd_harness_setup(&h, NULL, PASSWORD) < 0)
		return 1;
	pid = kd_harness_start(&h, "sessiond");
	snprintf(ctl, sizeof(ctl), "%s/sessiond-ctl.sock", h.runtime_dir);
	if (pid < 0 || kd_harness_wait_file(ctl, 5000) < 0) {
		kd_harness_dump_log(&h, "sessiond");
		return 1;
	}
	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", h.port);
	usleep(200 * 1000);
	printf("sessiond monitor RSS before any client: %ld KiB\n",
	       rss_kib(pid));

	/* one warm-up, then n sequential logins */
	if (login_once(&h, dialed, &t[0]) < 0) {
		kd_harness_dump_log(&h, "sessiond");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int r = login_once(&h, dialed, &t[i]);
		if (r < 0) {
			fprintf(stderr, "login %d failed: %s\n", i, strerror(-r));
			kd_harness_dump_log(&h, "sessiond");
			return 1;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("direct IP connect -> LoginResponse over %d logins: median %.0f us, "
	       "p90 %.0f us, min %.0f us, max %.0f us\n",
	       n, t[n / 2], t[(n * 9) / 10], t[0], t[n - 1]);

	for (int i = 0; i < n; i++) {
		int r = secure_login_once(&h, &t[i]);
		if (r < 0) {
			fprintf(stderr, "secure login %d failed: %s\n", i,
				strerror(-r));
			kd_harness_dump_log(&h, "sessiond");
			return 1;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("secure hand-off -> LoginResponse (SignedId, key exchange, "
	       "encrypted) over %d logins: median %.0f us, p90 %.0f us, "
	       "min %.0f us, max %.0f us\n",
	       n, t[n / 2], t[(n * 9) / 10], t[0], t[n - 1]);

	/* an idle, logged-in session: its worker's memory */
	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", h.port, NULL, 5000);
	if (fd >= 0 && rd_client_new(fd, &o, &idle) == 0 &&
	    rd_client_handshake(idle, 5000) == 0) {
		Hbb__Message *m = NULL;
		if (rd_client_login(idle, PASSWORD, 5000, &m) == 0)
			hbb__message__free_unpacked(m, NULL);
	}
	usleep(1500 * 1000);
	worker = first_child(pid);
	printf("sessiond monitor with one session: RSS %ld KiB, PSS %ld KiB\n",
	       rss_kib(pid), pss_kib(pid));
	printf("idle logged-in worker: RSS %ld KiB, PSS %ld KiB (pid %d)\n",
	       worker > 0 ? rss_kib(worker) : -1L,
	       worker > 0 ? pss_kib(worker) : -1L, worker);
	rd_client_free(idle);
	kd_harness_cleanup(&h);
	free(t);
	return 0;
}
