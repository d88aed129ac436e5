/* See mjpeg_decoder.h. */
#include "mjpeg_decoder.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <libavutil/frame.h>
#include <linux/videodev2.h>

#include "v4l2_format.h"

struct kd_mjpeg_decoder {
	kd_mjpeg_frame_fn fn;
	void *ctx;
	int efd;
	struct event *ev;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock. */
	uint8_t *in;           /* JPEG waiting to be decoded */
	size_t in_len, in_cap;
	uint64_t in_ns;
	AVFrame *out;          /* decoded, waiting for the loop */
	uint64_t out_ns;
	bool stop;
	uint64_t errors;

	/* Decoder thread only. */
	struct kd_v4l2_converter conv;
	uint8_t *work;
	size_t work_cap;
};

static void *decode_thread(void *arg)
{
	struct kd_mjpeg_decoder *d = arg;

	for (;;) {
		uint8_t *tmp;
		size_t len, cap;
		uint64_t ns;
		AVFrame *f = NULL, *ref;
		int r;

		pthread_mutex_lock(&d->lock);
		while (!d->stop && !d->in_len)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->stop) {
			pthread_mutex_unlock(&d->lock);
			return NULL;
		}
		/* Swap buffers: the loop fills the other one meanwhile. */
		tmp = d->work;
		cap = d->work_cap;
		d->work = d->in;
		d->work_cap = d->in_cap;
		d->in = tmp;
		d->in_cap = cap;
		len = d->in_len;
		d->in_len = 0;
		ns = d->in_ns;
		pthread_mutex_unlock(&d->lock);

		r = kd_v4l2_convert(&d->conv, V4L2_PIX_FMT_MJPEG, 0, 0, 0,
				    d->work, len, &f);
		ref = r == 0 ? av_frame_clone(f) : NULL;
		pthread_mutex_lock(&d->lock);
		if (!ref) {
			d->errors++;
		} else {
			av_frame_free(&d->out);
			d->out = ref;
			d->out_ns = ns;
		}
		pthread_mutex_unlock(&d->lock);
		if (ref)
			eventfd_write(d->efd, 1);
	}
}

static void on_decoded(evutil_socket_t fd, short what, void *arg)
{
	struct kd_mjpeg_decoder *d = arg;
	AVFrame *f;
	uint64_t ns;
	eventfd_t n;

	eventfd_read(fd, &n);
	pthread_mutex_lock(&d->lock);
	f = d->out;
	ns = d->out_ns;
	d->out = NULL;
	pthread_mutex_unlock(&d->lock);
	if (f) {
		d->fn(d->ctx, f, ns);
		av_frame_free(&f);
	}
}

int kd_mjpeg_decoder_create(struct event_base *base, kd_mjpeg_frame_fn fn,
			    void *ctx, struct kd_mjpeg_decoder **out)
{
	struct kd_mjpeg_decoder *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->efd = -1;
	d->fn = fn;
	d->ctx = ctx;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->efd < 0)
		goto fail;
	d->ev = event_new(base, d->efd, EV_READ | EV_PERSIST, on_decoded, d);
	if (!d->ev || event_add(d->ev, NULL) < 0 ||
	    pthread_create(&d->thread, NULL, decode_thread, d))
		goto fail;
	d->started = true;
	*out = d;
	return 0;
fail:
	kd_mjpeg_decoder_destroy(d);
	return -ENOMEM;
}

void kd_mjpeg_decoder_submit(struct kd_mjpeg_decoder *d, const uint8_t *jpeg,
			     size_t len, uint64_t capture_ns)
{
	pthread_mutex_lock(&d->lock);
	if (len > d->in_cap) {
		uint8_t *nb = realloc(d->in, len);

		if (!nb) {
			pthread_mutex_unlock(&d->lock);
			return;
		}
		d->in = nb;
		d->in_cap = len;
	}
	memcpy(d->in, jpeg, len);
	d->in_len = len;
	d->in_ns = capture_ns;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

uint64_t kd_mjpeg_decoder_errors(struct kd_mjpeg_decoder *d)
{
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	n = d->errors;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void kd_mjpeg_decoder_destroy(struct kd_mjpeg_decoder *d)
{
	if (!d)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	if (d->ev)
		event_free(d->ev);
	if (d->efd >= 0)
		close(d->efd);
	av_frame_free(&d->out);
	kd_v4l2_converter_free(&d->conv);
	free(d->in);
	free(d->work);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}
