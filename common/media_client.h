/* A session worker's link to mediad (runtime_dir/mediad.sock, kdipc
 * WorkerToMedia / MediaToWorker; channel rules in mediad/media.h).
 *
 * One subscription at a time (the codec this session streams). The link
 * reconnects with back-off when mediad goes away and, once it is back,
 * subscribes again to the same codec on its own: the caller sees lost(),
 * then status() and subscribed() again with a fresh ring. Usable under the
 * worker's seccomp filter: AF_UNIX sockets, eventfd, mmap PROT_READ. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct kd_frame_ring_reader;

#define KD_MEDIA_MAX_CODECS 8

struct kd_media_status {
	uint32_t width;
	uint32_t height;
	uint32_t fps;
	bool signal;
	char source[64];
	uint32_t n_codecs;
	struct {
		uint32_t codec;   /* Kdipc__Codec */
		bool hardware;
		char encoder[32];
	} codecs[KD_MEDIA_MAX_CODECS];
};

struct kd_media_client_callbacks {
	void (*status)(void *ctx, const struct kd_media_status *st);
	/* error 0: kd_media_client_ring() is the new ring of codec. */
	void (*subscribed)(void *ctx, uint32_t codec, int error);
	/* The writer published one or more frames. */
	void (*frames)(void *ctx);
	/* mediad went away; the ring is gone; reconnecting. */
	void (*lost)(void *ctx);
	void *ctx;
};

struct kd_media_client;

/* Connects now if it can; otherwise keeps trying with back-off. */
int kd_media_client_create(struct event_base *base, const char *socket_path,
			   uint64_t session_id,
			   const struct kd_media_client_callbacks *cb,
			   struct kd_media_client **out);
void kd_media_client_destroy(struct kd_media_client *c);

bool kd_media_client_ready(const struct kd_media_client *c); /* hello done */
const struct kd_media_status *kd_media_client_status(
	const struct kd_media_client *c);
bool kd_media_client_offers(const struct kd_media_client *c, uint32_t codec);

/* Subscribes to codec (replacing any current subscription). Also remembered
 * for reconnects. 0 or -errno (-ENOTCONN: will happen after reconnect). */
int kd_media_client_subscribe(struct kd_media_client *c, uint32_t codec);
void kd_media_client_unsubscribe(struct kd_media_client *c);
int kd_media_client_request_keyframe(struct kd_media_client *c);
/* ratio_permille per spec session §3.4 (670 = Balanced); fps 0 = source. */
int kd_media_client_set_quality(struct kd_media_client *c,
				uint32_t ratio_permille, uint32_t fps);
/* The mapped ring of the current subscription, or NULL. */
struct kd_frame_ring_reader *kd_media_client_ring(struct kd_media_client *c);
uint32_t kd_media_client_codec(const struct kd_media_client *c);
