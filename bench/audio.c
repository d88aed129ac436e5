/* Audio figures for issue "Audio":
 *  1. capture-to-socket latency of one audio frame: mediad's audio pipeline
 *     (test tone -> Opus -> ring) read the way a session worker reads it,
 *     framed, encrypted and written to a socket, in one process; time from
 *     the PCM's arrival (capture_ns) to the end of write(), p50 / p99 over
 *     1000 packets;
 *  2. CPU per listener: mediad + sessiond (monitor and workers) CPU over
 *     10 s with 1 and with 8 logged-in clients receiving audio (video kept
 *     negligible: 64x64 VP8 at 1 fps).
 * Usage: KD_BUILD_DIR=build build/bench/bench_audio */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "audio_pipeline.h"
#include "frame_codec.h"
#include "frame_ring.h"
#include "harness.h"
#include "log.h"
#include "message.pb-c.h"
#include "rd_client.h"
#include "secure_channel.h"

#define SAMPLES 1000

struct latency_run {
	struct event_base *base;
	struct kd_frame_ring_reader *ring;
	struct kd_secure_channel ch;
	int efd, sock_w, sock_r;
	uint64_t next;
	double ms[SAMPLES];
	int n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct latency_run *L = arg;
	eventfd_t v;
	eventfd_read(L->efd, &v);
	uint64_t latest = kd_frame_ring_latest(L->ring);
	if (!L->next)
		L->next = latest;
	while (L->next <= latest && L->n < SAMPLES) {
		struct kd_frame_view fv;
		if (kd_frame_ring_peek(L->ring, L->next, &fv) != 0)
			break;
		L->next++;
		uint8_t packet[4000], plain[4100], sealed[4200];
		memcpy(packet, fv.data, fv.size);
		if (kd_frame_ring_verify(L->ring, &fv) != 0)
			continue;
		Hbb__Message m = HBB__MESSAGE__INIT;
		Hbb__AudioFrame af = HBB__AUDIO_FRAME__INIT;
		af.data.data = packet;
		af.data.len = fv.size;
		m.union_case = HBB__MESSAGE__UNION_AUDIO_FRAME;
		m.audio_frame = &af;
		size_t len = hbb__message__pack(&m, plain);
		uint8_t hdr[KD_FRAME_HEADER_MAX];
		size_t clen = kd_secure_channel_seal(&L->ch, plain, len, sealed);
		size_t hl = kd_frame_header_encode(clen, hdr);
		struct iovec iov[2] = { { hdr, hl }, { sealed, clen } };
		if (writev(L->sock_w, iov, 2) < 0)
			perror("writev");
		L->ms[L->n++] = (double)(kd_frame_ring_now_ns() - fv.capture_ns) / 1e6;
		char drain[8192];
		while (read(L->sock_r, drain, sizeof(drain)) > 0)
			;
	}
	if (L->n >= SAMPLES)
		event_base_loopbreak(L->base);
}

static int capture_to_socket(void)
{
	struct latency_run L = { 0 };
	struct kd_audio_pipeline *p;
	L.base = event_base_new();
	if (kd_audio_pipeline_create(L.base, "testtone", &p) < 0)
		return -1;
	L.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (kd_frame_ring_reader_open(kd_audio_pipeline_ring_fd(p), &L.ring) < 0)
		return -1;
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	L.sock_w = sv[0];
	L.sock_r = sv[1];
	uint8_t key[32];
	randombytes_buf(key, sizeof(key));
	kd_secure_channel_init(&L.ch, key);
	kd_audio_pipeline_subscribe(p, &L, dup(L.efd));
	struct event *ev = event_new(L.base, L.efd, EV_READ | EV_PERSIST, on_wake, &L);
	event_add(ev, NULL);
	event_base_dispatch(L.base);
	qsort(L.ms, (size_t)L.n, sizeof(double), cmp_double);
	printf("audio capture-to-socket latency over %d packets: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
	       L.n, L.ms[L.n / 2], L.ms[L.n * 99 / 100], L.ms[L.n - 1]);
	event_free(ev);
	kd_frame_ring_reader_destroy(L.ring);
	kd_audio_pipeline_destroy(p);
	event_base_free(L.base);
	return 0;
}

/* ---- CPU per listener ---- */

static atomic_bool stop_clients;
static atomic_long audio_frames;

static void *client_thread(void *arg)
{
	struct rd_client *c = arg;
	while (!atomic_load(&stop_clients)) {
		int err;
		Hbb__Message *m = rd_client_recv(c, 200, &err);
		if (!m) {
			if (err == -ETIMEDOUT)
				continue;
			break;
		}
		if (m->union_case == HBB__MESSAGE__UNION_AUDIO_FRAME)
			atomic_fetch_add(&audio_frames, 1);
		hbb__message__free_unpacked(m, NULL);
	}
	return NULL;
}

/* utime + stime of every process in process group pgrp, in clock ticks. */
static long group_ticks(pid_t pgrp)
{
	long total = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[300], buf[1024];
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		char *p = strrchr(buf, ')');
		if (!p)
			continue;
		int pg;
		long ut, st;
		/* state ppid pgrp session tty tpgid flags minflt cminflt
		 * majflt cmajflt utime stime */
		if (sscanf(p + 2, "%*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
			   &pg, &ut, &st) == 3 && pg == pgrp)
			total += ut + st;
	}
	closedir(d);
	return total;
}

static pid_t proc_pid(struct kd_harness *h, const char *name)
{
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (h->procs[i].pid > 0 && !strcmp(h->procs[i].name, name))
			return h->procs[i].pid;
	return -1;
}

static double cpu_percent_with(struct kd_harness *h, int clients, long *frames)
{
	struct rd_client *cs[16];
	pthread_t th[16];
	char dialed[64];
	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", h->port);
	for (int i = 0; i < clients; i++) {
		struct rd_client_opts o;
		Hbb__Message *lr = NULL;
		rd_client_opts_default(&o);
		o.dialed = dialed;
		int fd = rd_client_tcp_connect("127.0.0.1", h->port, NULL, 5000);
		if (fd < 0 || rd_client_new(fd, &o, &cs[i]) < 0 ||
		    rd_client_handshake(cs[i], 5000) < 0 ||
		    rd_client_login(cs[i], "BenchPass1", 5000, &lr) < 0) {
			fprintf(stderr, "client %d could not log in\n", i);
			exit(1);
		}
		hbb__message__free_unpacked(lr, NULL);
	}
	atomic_store(&stop_clients, false);
	for (int i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, client_thread, cs[i]);
	sleep(2); /* settle: subscriptions, first keyframes */
	pid_t m = proc_pid(h, "mediad"), s = proc_pid(h, "sessiond");
	long t0 = group_ticks(m) + group_ticks(s);
	atomic_store(&audio_frames, 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	sleep(10);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long t1 = group_ticks(m) + group_ticks(s);
	*frames = atomic_load(&audio_frames);
	atomic_store(&stop_clients, true);
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		rd_client_free(cs[i]);
	}
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return 100.0 * (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / secs;
}

int main(void)
{
	kd_log_init("bench_audio", LOG_WARNING);
	if (sodium_init() < 0 || capture_to_socket() < 0)
		return 1;
	struct kd_harness h;
	if (kd_harness_setup(&h,
		"[video]\nsource = testpattern\nwidth = 64\nheight = 64\nfps = 1\ncodecs = vp8\n"
		"[audio]\nsource = testtone\n", "BenchPass1") < 0)
		return 1;
	char sock[512];
	kd_harness_start(&h, "mediad");
	snprintf(sock, sizeof(sock), "%s/mediad.sock", h.runtime_dir);
	kd_harness_wait_file(sock, 10000);
	kd_harness_start(&h, "sessiond");
	kd_harness_wait_port(h.port, 5000);
	long f1, f8;
	double one = cpu_percent_with(&h, 1, &f1);
	sleep(1);
	double eight = cpu_percent_with(&h, 8, &f8);
	printf("CPU (mediad + sessiond, %% of one core): 1 listener %.2f %% (%ld frames/10 s), "
	       "8 listeners %.2f %% (%ld frames/10 s); per extra listener %.3f %%\n",
	       one, f1, eight, f8, (eight - one) / 7.0);
	kd_harness_cleanup(&h);
	return 0;
}
