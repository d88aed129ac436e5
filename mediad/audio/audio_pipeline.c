#include "audio_pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "audio_source.h"
#include "frame_ring.h"
#include "kvmdesk_ipc.pb-c.h"
#include "log.h"
#include "opus_encoder.h"

/* 128 packets of 10 ms: a listener may lag 1.28 s before it is lapped,
 * more than the 1 s after which sessiond drops stale audio anyway. */
#define AUDIO_RING_SLOTS 128
#define AUDIO_RING_DATA (256u * 1024u)
#define MAX_LISTENERS 256

struct listener {
	const void *key;
	int efd;
};

struct kd_audio_pipeline {
	struct kd_audio_source *source;
	struct kd_opus_encoder enc;
	bool enc_ready;
	struct kd_frame_ring_writer *ring;
	struct listener listeners[MAX_LISTENERS];
	unsigned n_listeners;
	uint64_t capture_ns; /* when the PCM now being encoded arrived */
};

static void on_packet(void *opaque, const uint8_t *packet, size_t len,
		      uint64_t pts_ms)
{
	struct kd_audio_pipeline *p = opaque;
	struct kd_frame_meta meta = {
		.key = true,
		.pts_ms = (int64_t)pts_ms,
		.capture_ns = p->capture_ns,
		.encode_ns = kd_frame_ring_now_ns(),
	};
	if (kd_frame_ring_write(p->ring, &meta, packet, len) < 0)
		return;
	for (unsigned i = 0; i < p->n_listeners; i++)
		eventfd_write(p->listeners[i].efd, 1);
}

static void on_pcm(void *opaque, const float *pcm, size_t frames)
{
	struct kd_audio_pipeline *p = opaque;
	p->capture_ns = kd_frame_ring_now_ns();
	kd_opus_encoder_push(&p->enc, pcm, frames);
}

int kd_audio_pipeline_create(struct event_base *base, const char *spec,
			     struct kd_audio_pipeline **out)
{
	struct kd_audio_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	struct kd_frame_ring_params rp = {
		.slot_count = AUDIO_RING_SLOTS,
		.data_size = AUDIO_RING_DATA,
		.codec = KDIPC__CODEC__CODEC_OPUS,
	};
	int r = kd_frame_ring_writer_create(&rp, &p->ring);
	if (r < 0)
		goto fail;
	r = kd_opus_encoder_init(&p->enc, on_packet, p);
	if (r < 0)
		goto fail;
	p->enc_ready = true;
	r = kd_audio_source_new(base, spec, on_pcm, p, &p->source);
	if (r < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	kd_audio_pipeline_destroy(p);
	return r;
}

void kd_audio_pipeline_destroy(struct kd_audio_pipeline *p)
{
	if (!p)
		return;
	kd_audio_source_free(p->source);
	for (unsigned i = 0; i < p->n_listeners; i++)
		close(p->listeners[i].efd);
	if (p->enc_ready)
		kd_opus_encoder_destroy(&p->enc);
	kd_frame_ring_writer_destroy(p->ring);
	free(p);
}

int kd_audio_pipeline_ring_fd(const struct kd_audio_pipeline *p)
{
	return kd_frame_ring_writer_fd(p->ring);
}

int kd_audio_pipeline_subscribe(struct kd_audio_pipeline *p, const void *key,
				int efd)
{
	for (unsigned i = 0; i < p->n_listeners; i++) {
		if (p->listeners[i].key == key) {
			close(p->listeners[i].efd);
			p->listeners[i].efd = efd;
			return 0;
		}
	}
	if (p->n_listeners == MAX_LISTENERS) {
		close(efd);
		return -EMFILE;
	}
	p->listeners[p->n_listeners++] = (struct listener){ key, efd };
	if (p->n_listeners == 1) {
		int r = kd_audio_source_start(p->source);
		if (r < 0) {
			kd_audio_pipeline_unsubscribe(p, key);
			return r;
		}
	}
	return 0;
}

void kd_audio_pipeline_unsubscribe(struct kd_audio_pipeline *p,
				   const void *key)
{
	for (unsigned i = 0; i < p->n_listeners; i++) {
		if (p->listeners[i].key != key)
			continue;
		close(p->listeners[i].efd);
		p->listeners[i] = p->listeners[--p->n_listeners];
		/* Nobody listens: stop capturing and encoding. */
		if (p->n_listeners == 0)
			kd_audio_source_stop(p->source);
		return;
	}
}

unsigned kd_audio_pipeline_listeners(const struct kd_audio_pipeline *p)
{
	return p->n_listeners;
}

const char *kd_audio_pipeline_source(const struct kd_audio_pipeline *p)
{
	return kd_audio_source_describe(p->source);
}
