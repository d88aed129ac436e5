/* Encoder overhead: mediad encoding its 1080p30 test pattern to H.264 for
 * one viewer (capture + libx264 ultrafast/zerolatency + ring + wake-ups),
 * against ffmpeg encoding testsrc2 1080p with the same encoder settings in
 * the same run. Prints CPU ms per frame for both and the ratio
 * ffmpeg / mediad (>= 1.0: mediad costs no more per frame than ffmpeg),
 * over ROUNDS alternating rounds, and the median ratio: single runs on a
 * shared machine scatter by +-10 %.
 *
 * "Same encoder settings" includes rate control: mediad runs libx264
 * bitrate-capped (the default quality's bitrate, VBV max rate = bitrate,
 * half a second of buffer, see encoder.h), so ffmpeg gets the same
 * -b:v/-maxrate/-bufsize instead of libx264's default CRF 23 (which spends
 * ~15 Mbit/s on testsrc2 and so costs more CPU than the capped encode).
 *
 * The two pictures must be comparably hard for the ratio to mean anything:
 * the bench prints the share of 16x16 luma blocks that change from one
 * picture to the next in each (what the encoder cannot skip).
 *
 * ffmpeg's CPU includes starting the process, mediad's does not: the bench
 * prints ffmpeg's start-up cost on its own too.
 *
 * The last line is a still screen: what mediad saves by not encoding an
 * unchanged picture (encoder.h, KD_ENCODER_STILL_REPEATS).
 *
 * Two more lines put the figure in context: ffmpeg on mediad's own pattern
 * (rawvideo on stdin: the same pixels, so the content's cost to x264 is
 * equal), once as fast as it can and once paced at 30 fps with -re like a
 * live source - on an otherwise idle machine a paced encoder costs more CPU
 * per frame than a flat-out one (cold caches, thread wake-ups). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_util.h"
#include "video_bitrate.h"
#include "encoder.h"
#include "frame_ring.h"
#include "kvmdesk_ipc.pb-c.h"
#include "media_client.h"
#include "media_util.h"
#include "source.h"

#include <libavutil/frame.h>

#define SECONDS 10
#define ROUNDS 5

/* libx264 options shared by every ffmpeg run, filled in by main(). */
static char x264_opts[256];

struct viewer {
	struct kd_media_client *mc;
	bool subscribed;
	uint64_t first, last;
};

static void on_subscribed(void *ctx, uint32_t codec, int error)
{
	struct viewer *v = ctx;

	v->subscribed = error == 0;
}

static void on_frames(void *ctx)
{
	struct viewer *v = ctx;
	uint64_t l = kd_frame_ring_latest(kd_media_client_ring(v->mc));

	if (!v->first)
		v->first = l;
	v->last = l;
}

static double children_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000.0 +
	       (double)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000.0;
}

#define W 1920
#define H 1080
#define MOTION_PICTURES 60

/* Share of 16x16 luma blocks that differ between luma planes a and b. */
static double changed_blocks(const uint8_t *a, const uint8_t *b, int stride)
{
	int changed = 0, total = (H / 16) * (W / 16);

	for (int by = 0; by < H / 16; by++)
		for (int bx = 0; bx < W / 16; bx++)
			for (int y = 0; y < 16; y++) {
				size_t o = (size_t)(by * 16 + y) * stride + bx * 16;

				if (memcmp(a + o, b + o, 16)) {
					changed++;
					break;
				}
			}
	return (double)changed / total;
}

/* Mean changed-block share over MOTION_PICTURES pictures of testsrc2. */
static double testsrc2_motion(void)
{
	size_t luma = (size_t)W * H, picture = luma * 3 / 2;
	uint8_t *prev = malloc(picture), *cur = malloc(picture);
	char cmd[256];
	double sum = 0;
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -hide_banner -loglevel error -f lavfi -i "
		 "testsrc2=size=%dx%d:rate=30 -frames:v %d -pix_fmt yuv420p "
		 "-f rawvideo -", W, H, MOTION_PICTURES + 1);
	p = popen(cmd, "r");
	if (!p || !prev || !cur || fread(prev, 1, picture, p) != picture)
		goto out;
	for (; fread(cur, 1, picture, p) == picture; n++) {
		uint8_t *t = prev;

		sum += changed_blocks(prev, cur, W);
		prev = cur;
		cur = t;
	}
out:
	if (p)
		pclose(p);
	free(prev);
	free(cur);
	return n ? sum / n : -1;
}

/* The same for mediad's pattern. */
static double testpattern_motion(void)
{
	AVFrame *f[2] = { av_frame_alloc(), av_frame_alloc() };
	double sum = 0;

	for (int i = 0; i < 2; i++) {
		f[i]->format = AV_PIX_FMT_YUV420P;
		f[i]->width = W;
		f[i]->height = H;
		av_frame_get_buffer(f[i], 1);
	}
	kd_testpattern_render(f[0], 1);
	for (int n = 2; n <= MOTION_PICTURES + 1; n++) {
		AVFrame *cur = f[n & 1], *prev = f[(n - 1) & 1];

		kd_testpattern_render(cur, (uint64_t)n);
		sum += changed_blocks(prev->data[0], cur->data[0],
				      cur->linesize[0]);
	}
	av_frame_free(&f[0]);
	av_frame_free(&f[1]);
	return sum / MOTION_PICTURES;
}

/* The same content mediad encodes, fed to ffmpeg as raw frames on stdin. */
static double ffmpeg_same_content_ms(int frames, bool paced)
{
	AVFrame *f = av_frame_alloc();
	double before = children_ms();
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -hide_banner -loglevel error %s-f rawvideo "
		 "-pix_fmt yuv420p -s 1920x1080 -r 30 -i - %s -f null -",
		 paced ? "-re " : "", x264_opts);
	p = popen(cmd, "w");

	if (!p)
		return -1;
	f->format = AV_PIX_FMT_YUV420P;
	f->width = 1920;
	f->height = 1080;
	av_frame_get_buffer(f, 1);
	for (int i = 0; i < frames; i++) {
		kd_testpattern_render(f, (uint64_t)i);
		for (int pl = 0; pl < 3; pl++) {
			int h = pl ? 540 : 1080, w = pl ? 960 : 1920;

			for (int y = 0; y < h; y++)
				fwrite(f->data[pl] + (size_t)y * f->linesize[pl],
				       1, (size_t)w, p);
		}
	}
	pclose(p);
	av_frame_free(&f);
	return children_ms() - before;
}

static double ffmpeg_cpu_ms(int frames)
{
	char cmd[512];
	double ms;

	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -hide_banner -loglevel error -f lavfi -i "
		 "testsrc2=size=1920x1080:rate=30 -frames:v %d %s -f null -",
		 frames, x264_opts);
	ms = children_ms();
	if (system(cmd) != 0)
		return -1;
	return children_ms() - ms;
}

static uint64_t pictures_done(struct kd_encoder *e)
{
	struct kd_encoder_stats st;

	kd_encoder_get_stats(e, &st);
	return st.pictures;
}

#define STILL_PICTURES 300

/* A still screen through mediad's H.264 encoder module (in this process):
 * CPU per picture when every picture differs from the last in one pixel
 * (each is encoded) and when they are identical (settled: not encoded). */
static void still_screen(uint32_t kbps)
{
	struct kd_encoder_config cfg = { .fps = 30, .bitrate_kbps = kbps };
	struct kd_frame_ring_params rp = { .codec = KDIPC__CODEC__CODEC_H264 };
	struct kd_frame_ring_writer *ring;
	struct kd_encoder *enc;
	AVFrame *f = av_frame_alloc();
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t t = kd_frame_ring_now_ns();
	double ms[2];

	if (kd_encoder_probe(KDIPC__CODEC__CODEC_H264, W, H, 30,
			     &cfg.choice) < 0 ||
	    kd_frame_ring_writer_create(&rp, &ring) < 0)
		return;
	if (kd_encoder_start(&cfg, ring, efd, &enc) < 0)
		return;
	f->format = AV_PIX_FMT_YUV420P;
	f->width = W;
	f->height = H;
	av_frame_get_buffer(f, 0);
	kd_testpattern_render(f, 1);
	for (int identical = 0; identical < 2; identical++) {
		double c0 = 0;

		for (int i = 0; i < KD_ENCODER_STILL_REPEATS + 1 +
				    STILL_PICTURES; i++) {
			uint64_t before = pictures_done(enc);

			if (i == KD_ENCODER_STILL_REPEATS + 1)
				c0 = bench_cpu_ms(getpid());
			if (!identical) {
				av_frame_make_writable(f);
				f->data[0][(size_t)f->linesize[0] * (H - 1)] ^= 1;
			}
			t += 33333333;
			kd_encoder_submit(enc, f, t);
			while (pictures_done(enc) == before)
				usleep(200);
		}
		ms[identical] = (bench_cpu_ms(getpid()) - c0) / STILL_PICTURES;
	}
	printf("still 1080p screen through the encoder: %.2f ms CPU per "
	       "picture when each differs by one pixel (encoded), %.2f ms "
	       "when identical (not encoded after %d repeats)\n", ms[0],
	       ms[1], KD_ENCODER_STILL_REPEATS);
	kd_encoder_stop(enc);
	kd_frame_ring_writer_destroy(ring);
	av_frame_free(&f);
	close(efd);
}

/* mediad's CPU per frame over SECONDS, one viewer subscribed meanwhile;
 * mediad idles (encodes nothing) before and after. */
static double mediad_ms_per_frame(struct event_base *base, pid_t pid,
				  struct viewer *v, uint64_t *frames)
{
	bool never = false;
	double cpu0, cpu1;

	v->subscribed = false;
	kd_media_client_subscribe(v->mc, KDIPC__CODEC__CODEC_H264);
	if (!kd_test_run_until(base, &v->subscribed, 10000))
		return -1;
	kd_test_run_until(base, &never, 2000); /* warm up */
	cpu0 = bench_cpu_ms(pid);
	v->first = 0;
	kd_test_run_until(base, &never, SECONDS * 1000);
	cpu1 = bench_cpu_ms(pid);
	*frames = v->last - v->first;
	kd_media_client_unsubscribe(v->mc);
	kd_test_run_until(base, &never, 500);
	return *frames ? (cpu1 - cpu0) / (double)*frames : -1;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	struct kd_test_mediad md;
	struct event_base *base = event_base_new();
	struct viewer v = { 0 };
	struct kd_media_client_callbacks cb = {
		.subscribed = on_subscribed, .frames = on_frames, .ctx = &v,
	};
	double ratio[ROUNDS], per_frame[ROUNDS], startup, same_ms, mediad_median;
	uint64_t frames = 0;
	/* What mediad opens libx264 with for a viewer that sent no quality. */
	uint32_t kbps = kd_video_bitrate_kbps(KDIPC__CODEC__CODEC_H264, false,
						1920, 1080,
						KD_ENCODER_DEFAULT_RATIO);

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(x264_opts, sizeof(x264_opts),
		 "-c:v libx264 -preset ultrafast -tune zerolatency -bf 0 "
		 "-b:v %uk -maxrate %uk -bufsize %lld", kbps, kbps,
		 (long long)KD_ENCODER_VBV_BUFFER_BITS(kbps));
	printf("encoder options on both sides: %s\n", x264_opts);

	if (kd_test_mediad_setup(&md, 1920, 1080, 30) < 0 ||
	    kd_test_mediad_start(&md) < 0) {
		fprintf(stderr, "cannot start mediad\n");
		return 1;
	}
	kd_media_client_create(base, md.sock, 1, &cb, &v.mc);
	/* Rounds alternate mediad and ffmpeg so that a noisy moment on the
	 * machine hits one round, not one side. */
	for (int r = 0; r < ROUNDS; r++) {
		double ff_ms;

		per_frame[r] = mediad_ms_per_frame(base, md.pid, &v, &frames);
		if (per_frame[r] < 0) {
			fprintf(stderr, "mediad sent no frames\n");
			return 1;
		}
		ff_ms = ffmpeg_cpu_ms((int)frames);
		ratio[r] = ff_ms / (double)frames / per_frame[r];
		printf("round %d: mediad 1080p30 testpattern %llu frames in %d s, "
		       "%.2f ms CPU/frame (%.0f %% of one core); ffmpeg testsrc2 "
		       "%.2f ms CPU/frame; ratio %.2f\n", r + 1,
		       (unsigned long long)frames, SECONDS, per_frame[r],
		       per_frame[r] * (double)frames / (SECONDS * 10.0),
		       ff_ms / (double)frames, ratio[r]);
	}
	kd_media_client_destroy(v.mc);
	kd_test_mediad_cleanup(&md);

	qsort(ratio, ROUNDS, sizeof(ratio[0]), by_value);
	qsort(per_frame, ROUNDS, sizeof(per_frame[0]), by_value);
	mediad_median = per_frame[ROUNDS / 2];
	printf("ratio ffmpeg(testsrc2)/mediad CPU per frame: median %.2f, "
	       "range %.2f-%.2f over %d rounds (goal >= 1.0)\n",
	       ratio[ROUNDS / 2], ratio[0], ratio[ROUNDS - 1], ROUNDS);
	printf("16x16 luma blocks changing per picture: testsrc2 %.1f %%, "
	       "mediad's pattern %.1f %%\n", 100 * testsrc2_motion(),
	       100 * testpattern_motion());
	/* ffmpeg's figures include starting the process (mediad's exclude
	 * it): shown so the reader can take it out. */
	startup = ffmpeg_cpu_ms(1);
	printf("ffmpeg  start-up and one picture alone: CPU %.0f ms (%.2f ms "
	       "per frame of a %llu-frame run)\n", startup,
	       startup / (double)frames, (unsigned long long)frames);
	same_ms = ffmpeg_same_content_ms((int)frames, false);
	printf("ffmpeg  mediad's own pattern as rawvideo on stdin -> same "
	       "encoder: %.2f ms CPU/frame; ratio to mediad's median %.2f\n",
	       same_ms / (double)frames,
	       same_ms / (double)frames / mediad_median);
	same_ms = ffmpeg_same_content_ms((int)frames, true);
	printf("ffmpeg  same, paced at 30 fps (-re) like a live source: "
	       "%.2f ms CPU/frame; ratio %.2f\n", same_ms / (double)frames,
	       same_ms / (double)frames / mediad_median);
	still_screen(kbps);
	event_base_free(base);
	return 0;
}
