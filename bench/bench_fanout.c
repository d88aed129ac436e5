/* Fan-out: CPU of mediad + sessiond (monitor and every worker) while 1, 8
 * and 32 RustDesk test clients watch one 1080p30 H.264 stream over loopback.
 * The frame is encoded once; each extra viewer costs one copy out of the
 * ring, one protobuf pack and one socket write per frame. Goal: 32 viewers
 * <= 1.3 x one viewer. */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "harness.h"
#include "media_util.h"
#include "rd_client.h"

#define PASSWORD "BenchPass1"
#define SECONDS 10

static struct kd_harness H;
static char dialed[64];
static atomic_bool stop;
static atomic_long frames_total;
static atomic_int ready, failed;
/* sessiond refuses a ninth connection from one address that has not
 * logged in yet (sshd's MaxStartups idea): viewers log in a few at a time. */
static sem_t logging_in;
#define LOGINS_AT_ONCE 4

static void prefer_h264(Hbb__LoginRequest *lr, void *arg)
{
	lr->option->supported_decoding->prefer =
		HBB__SUPPORTED_DECODING__PREFER_CODEC__H264;
}

static void *viewer(void *arg)
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *m;
	int fd, err;

	rd_client_opts_default(&o);
	o.dialed = dialed;
	sem_wait(&logging_in);
	fd = rd_client_tcp_connect("127.0.0.1", H.port, NULL, 5000);
	if (fd < 0 || rd_client_new(fd, &o, &c) < 0 ||
	    rd_client_handshake(c, 5000) < 0 ||
	    rd_client_send_login(c, PASSWORD, prefer_h264, NULL) < 0) {
		sem_post(&logging_in);
		fprintf(stderr, "viewer: login failed\n");
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	m = rd_client_recv_type(c, HBB__MESSAGE__UNION_LOGIN_RESPONSE, 5000,
				&err);
	sem_post(&logging_in);
	if (!m) {
		fprintf(stderr, "viewer: no login response\n");
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	hbb__message__free_unpacked(m, NULL);
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&stop)) {
		m = rd_client_recv_type(c, HBB__MESSAGE__UNION_VIDEO_FRAME, 1000,
					&err);
		if (m) {
			atomic_fetch_add(&frames_total, 1);
			hbb__message__free_unpacked(m, NULL);
		}
	}
	rd_client_free(c);
	return NULL;
}

static pid_t proc_pid(const char *name)
{
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (!strcmp(H.procs[i].name, name))
			return H.procs[i].pid;
	return -1;
}

static double run(int n, double *fps_per_viewer)
{
	pthread_t t[64];
	pid_t med = proc_pid("mediad"), ses = proc_pid("sessiond");
	double m0, m1, s0, s1;
	int kids;
	long f0;

	atomic_store(&stop, false);
	atomic_store(&ready, 0);
	atomic_store(&failed, 0);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, viewer, NULL);
	while (atomic_load(&ready) + atomic_load(&failed) < n)
		usleep(10000);
	if (atomic_load(&failed)) {
		fprintf(stderr, "%d of %d viewers could not log in\n",
			atomic_load(&failed), n);
		exit(1);
	}
	sleep(2);
	f0 = atomic_load(&frames_total);
	m0 = bench_cpu_ms(med);
	s0 = bench_cpu_tree_ms(ses, NULL);
	sleep(SECONDS);
	m1 = bench_cpu_ms(med);
	s1 = bench_cpu_tree_ms(ses, &kids);
	printf("   mediad %.1f %%, sessiond monitor + %d workers %.1f %%\n",
	       (m1 - m0) / SECONDS / 10.0, kids, (s1 - s0) / SECONDS / 10.0);
	*fps_per_viewer = (double)(atomic_load(&frames_total) - f0) / n /
			  SECONDS;
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	sleep(1);
	return (m1 - m0 + s1 - s0) / SECONDS / 10.0; /* % of one core */
}

int main(void)
{
	static const int counts[] = { 1, 8, 32 };
	double cpu[3], fps;
	char sock[512];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sem_init(&logging_in, 0, LOGINS_AT_ONCE);
	if (kd_harness_setup(&H, "[general]\nlog_level = info\n[video]\n"
			     "source = testpattern\nwidth = 1920\n"
			     "height = 1080\nfps = 30\n", PASSWORD) < 0)
		return 1;
	kd_harness_start(&H, "mediad");
	snprintf(sock, sizeof(sock), "%s/mediad.sock", H.runtime_dir);
	kd_harness_wait_file(sock, 10000);
	kd_harness_start(&H, "sessiond");
	kd_harness_wait_port(H.port, 5000);
	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", H.port);
	for (int i = 0; i < 3; i++) {
		cpu[i] = run(counts[i], &fps);
		printf("%2d viewer(s): mediad+sessiond CPU %.1f %% of one core, "
		       "%.1f fps per viewer\n", counts[i], cpu[i], fps);
	}
	printf("32 viewers / 1 viewer CPU: %.2f (goal <= 1.3)\n", cpu[2] / cpu[0]);
	kd_harness_cleanup(&H);
	return 0;
}
