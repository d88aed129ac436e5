/* mediad's audio path, encoded once for every listener: source -> Opus ->
 * an audio frame ring (common/frame_ring.h, codec CODEC_OPUS, every packet a
 * "key" frame since each decodes on its own). Capture and encoding run only
 * while at least one listener is subscribed. Listeners are woken through the
 * eventfd they passed with Subscribe, like video readers. */
#pragma once
#include <stdint.h>

struct event_base;
struct kd_audio_pipeline;

/* spec: [audio] source ("testtone" or an ALSA device). */
int kd_audio_pipeline_create(struct event_base *base, const char *spec,
			     struct kd_audio_pipeline **out);
void kd_audio_pipeline_destroy(struct kd_audio_pipeline *p);
/* The ring's memfd (owned by the pipeline) to pass to a listener. */
int kd_audio_pipeline_ring_fd(const struct kd_audio_pipeline *p);
/* key identifies the listener (its connection); efd is taken over. A second
 * subscribe with the same key replaces its eventfd. 0 or -errno. */
int kd_audio_pipeline_subscribe(struct kd_audio_pipeline *p, const void *key,
				int efd);
void kd_audio_pipeline_unsubscribe(struct kd_audio_pipeline *p,
				   const void *key);
unsigned kd_audio_pipeline_listeners(const struct kd_audio_pipeline *p);
const char *kd_audio_pipeline_source(const struct kd_audio_pipeline *p);
