/* Ring-to-socket latency: a writer thread publishes 100 KB frames into a
 * frame ring and bumps an eventfd, as mediad's encoder does; the reader
 * wakes on the eventfd, copies and verifies the frame, packs it as a
 * RustDesk VideoFrame (the worker's path minus encryption) and writes it to
 * a loopback TCP socket; a receiver thread reads whole messages and records
 * receive time - publish time. Prints p50/p99/max over 2000 frames. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame_codec.h"
#include "frame_ring.h"
#include "message.pb-c.h"

#define FRAMES 2000
#define SIZE (100 * 1024)
#define INTERVAL_US 5000

static struct kd_frame_ring_writer *ring;
static int efd;
static uint64_t lat_ns[FRAMES];

static void *writer(void *arg)
{
	uint8_t *payload = malloc(SIZE);

	memset(payload, 0x42, SIZE);
	for (int i = 0; i < FRAMES; i++) {
		struct kd_frame_meta m = { .key = i % 100 == 0, .pts_ms = i,
					   .width = 1920, .height = 1080 };

		m.capture_ns = m.encode_ns = kd_frame_ring_now_ns();
		kd_frame_ring_write(ring, &m, payload, SIZE);
		eventfd_write(efd, 1);
		usleep(INTERVAL_US);
	}
	free(payload);
	return NULL;
}

static int read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void *receiver(void *arg)
{
	int fd = *(int *)arg;
	uint8_t *buf = malloc(SIZE + 4096);

	for (int i = 0; i < FRAMES; i++) {
		uint8_t hdr[4];
		size_t hl, n;
		Hbb__Message *m;

		/* RustDesk framing: header length from the low 2 bits */
		if (read_full(fd, hdr, 1) < 0)
			break;
		hl = (hdr[0] & 3) + 1;
		if (hl > 1 && read_full(fd, hdr + 1, hl - 1) < 0)
			break;
		kd_frame_header_decode(hdr, hl, SIZE + 4096, &hl, &n);
		if (read_full(fd, buf, n) < 0)
			break;
		m = hbb__message__unpack(NULL, n, buf);
		if (m) {
			uint64_t pub;

			memcpy(&pub, m->video_frame->h264s->frames[0]->data.data,
			       8);
			lat_ns[i] = kd_frame_ring_now_ns() - pub;
			hbb__message__free_unpacked(m, NULL);
		}
	}
	free(buf);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct kd_frame_ring_params p = { .codec = 4 };
	struct kd_frame_ring_reader *r;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int lfd, cfd, sfd, one = 1;
	pthread_t wt, rt;
	uint64_t next = 1;
	uint8_t *copy = malloc(SIZE), *out = malloc(SIZE + 4096);
	int sent = 0;

	kd_frame_ring_writer_create(&p, &ring);
	kd_frame_ring_reader_open(kd_frame_ring_writer_fd(ring), &r);
	efd = eventfd(0, EFD_CLOEXEC);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listen(lfd, 1);
	getsockname(lfd, (struct sockaddr *)&a, &al);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	connect(cfd, (struct sockaddr *)&a, sizeof(a));
	sfd = accept(lfd, NULL, NULL);
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_create(&rt, NULL, receiver, &cfd);
	pthread_create(&wt, NULL, writer, NULL);
	while (sent < FRAMES) {
		struct pollfd pfd = { efd, POLLIN, 0 };
		eventfd_t n;

		poll(&pfd, 1, 1000);
		eventfd_read(efd, &n);
		for (;;) {
			struct kd_frame_view fv;
			Hbb__Message m = HBB__MESSAGE__INIT;
			Hbb__VideoFrame vf = HBB__VIDEO_FRAME__INIT;
			Hbb__EncodedVideoFrames efs = HBB__ENCODED_VIDEO_FRAMES__INIT;
			Hbb__EncodedVideoFrame ef = HBB__ENCODED_VIDEO_FRAME__INIT;
			Hbb__EncodedVideoFrame *efp = &ef;
			uint8_t hdr[KD_FRAME_HEADER_MAX];
			size_t len, hl;

			if (kd_frame_ring_peek(r, next, &fv) != 0)
				break;
			memcpy(copy, fv.data, fv.size);
			if (kd_frame_ring_verify(r, &fv) != 0) {
				next++;
				continue;
			}
			memcpy(copy, &fv.publish_ns, 8);
			ef.data.data = copy;
			ef.data.len = fv.size;
			ef.key = fv.flags & KD_FRAME_FLAG_KEY;
			ef.pts = fv.pts_ms;
			efs.n_frames = 1;
			efs.frames = &efp;
			vf.union_case = HBB__VIDEO_FRAME__UNION_H264S;
			vf.h264s = &efs;
			m.union_case = HBB__MESSAGE__UNION_VIDEO_FRAME;
			m.video_frame = &vf;
			len = hbb__message__get_packed_size(&m);
			hl = kd_frame_header_encode(len, hdr);
			memcpy(out, hdr, hl);
			hbb__message__pack(&m, out + hl);
			if (write(sfd, out, hl + len) != (ssize_t)(hl + len))
				return 1;
			next++;
			sent++;
		}
	}
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	qsort(lat_ns, FRAMES, sizeof(lat_ns[0]), cmp);
	printf("ring -> VideoFrame -> loopback TCP, %d frames of %d bytes: "
	       "p50 %.1f us, p99 %.1f us, max %.1f us\n", FRAMES, SIZE,
	       lat_ns[FRAMES / 2] / 1000.0, lat_ns[FRAMES * 99 / 100] / 1000.0,
	       lat_ns[FRAMES - 1] / 1000.0);
	free(copy);
	free(out);
	kd_frame_ring_reader_destroy(r);
	kd_frame_ring_writer_destroy(ring);
	return 0;
}
