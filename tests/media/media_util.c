#include "media_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libavcodec/avcodec.h>

#include "kvmdesk_ipc.pb-c.h"
#include "unix_socket.h"

uint64_t kd_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int kd_test_mediad_setup(struct kd_test_mediad *t, uint32_t width,
			 uint32_t height, uint32_t fps)
{
	return kd_test_mediad_setup_source(t, "testpattern", width, height, fps);
}

int kd_test_mediad_log_count(const struct kd_test_mediad *t,
			     const char *needle)
{
	FILE *f = fopen(t->log, "r");
	char line[1024];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

int kd_test_mediad_setup_source(struct kd_test_mediad *t, const char *source,
				uint32_t width, uint32_t height, uint32_t fps)
{
	FILE *f;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/kd-media-XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->conf, sizeof(t->conf), "%s/kvmdesk.conf", t->dir);
	snprintf(t->sock, sizeof(t->sock), "%s/mediad.sock", t->dir);
	snprintf(t->ctl_sock, sizeof(t->ctl_sock), "%s/mediad-ctl.sock",
		 t->dir);
	snprintf(t->log, sizeof(t->log), "%s/mediad.log", t->dir);
	f = fopen(t->conf, "w");
	if (!f)
		return -errno;
	fprintf(f, "[general]\nruntime_dir = %s\nstate_dir = %s\n"
		   "log_level = info\n\n[video]\nsource = %s\n"
		   "width = %u\nheight = %u\nfps = %u\n",
		t->dir, t->dir, source, width, height, fps);
	fclose(f);
	return 0;
}

int kd_test_mediad_start(struct kd_test_mediad *t)
{
	const char *build = getenv("KD_BUILD_DIR");
	char bin[512];

	snprintf(bin, sizeof(bin), "%s/mediad/mediad", build ? build : ".");
	unlink(t->sock);
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0) {
		int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0600);

		if (fd >= 0)
			dup2(fd, 2);
		execl(bin, "mediad", "-c", t->conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		int fd = kd_unix_connect(t->sock);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

void kd_test_mediad_kill(struct kd_test_mediad *t, int sig)
{
	if (t->pid > 0) {
		kill(t->pid, sig);
		waitpid(t->pid, NULL, 0);
		t->pid = 0;
	}
}

void kd_test_mediad_cleanup(struct kd_test_mediad *t)
{
	kd_test_mediad_kill(t, SIGTERM);
	unlink(t->sock);
	unlink(t->ctl_sock);
	if (getenv("KD_TEST_VERBOSE")) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", t->log);
		if (system(cmd) < 0)
			perror("cat");
	}
	unlink(t->conf);
	unlink(t->log);
	rmdir(t->dir);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

bool kd_test_run_until(struct event_base *base, const bool *flag,
		       int timeout_ms)
{
	bool expired = false;
	struct event *t = evtimer_new(base, on_timeout, &expired);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	evtimer_add(t, &tv);
	while (!*flag && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

struct kd_test_decoder {
	int format;
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
};

static const char *const *decoder_names(uint32_t codec)
{
	static const char *const h264[] = { "h264", NULL };
	static const char *const h265[] = { "hevc", NULL };
	static const char *const vp8[] = { "vp8", "libvpx", NULL };
	static const char *const vp9[] = { "vp9", "libvpx-vp9", NULL };
	static const char *const av1[] = { "libdav1d", "libaom-av1", NULL };
	static const char *const none[] = { NULL };

	switch (codec) {
	case KDIPC__CODEC__CODEC_H264: return h264;
	case KDIPC__CODEC__CODEC_H265: return h265;
	case KDIPC__CODEC__CODEC_VP8: return vp8;
	case KDIPC__CODEC__CODEC_VP9: return vp9;
	case KDIPC__CODEC__CODEC_AV1: return av1;
	default: return none;
	}
}

struct kd_test_decoder *kd_test_decoder_new(uint32_t codec)
{
	for (const char *const *n = decoder_names(codec); *n; n++) {
		const AVCodec *c = avcodec_find_decoder_by_name(*n);
		struct kd_test_decoder *d;

		if (!c)
			continue;
		d = calloc(1, sizeof(*d));
		d->ctx = avcodec_alloc_context3(c);
		d->ctx->thread_count = 1;
		d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
		if (avcodec_open2(d->ctx, c, NULL) < 0) {
			avcodec_free_context(&d->ctx);
			free(d);
			continue;
		}
		d->pkt = av_packet_alloc();
		d->frame = av_frame_alloc();
		return d;
	}
	return NULL;
}

int kd_test_decode(struct kd_test_decoder *d, const uint8_t *data,
		   size_t size, int *w, int *h)
{
	int pictures = 0, r;

	d->pkt->data = (uint8_t *)data;
	d->pkt->size = (int)size;
	r = avcodec_send_packet(d->ctx, d->pkt);
	d->pkt->data = NULL;
	d->pkt->size = 0;
	if (r < 0)
		return -1;
	while ((r = avcodec_receive_frame(d->ctx, d->frame)) == 0) {
		if (d->frame->decode_error_flags)
			return -1;
		*w = d->frame->width;
		*h = d->frame->height;
		d->format = d->frame->format;
		pictures++;
		av_frame_unref(d->frame);
	}
	if (r != AVERROR(EAGAIN))
		return -1;
	return pictures;
}

int kd_test_decoder_format(const struct kd_test_decoder *d)
{
	return d->format;
}

void kd_test_decoder_free(struct kd_test_decoder *d)
{
	if (!d)
		return;
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	free(d);
}
