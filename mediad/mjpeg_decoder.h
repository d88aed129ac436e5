/* MJPEG decoding off the event loop: a 1080p JPEG takes milliseconds to
 * decode, so a thread does it and hands the picture back to the loop
 * through an eventfd. Latest wins on both sides: the capture never waits. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct AVFrame;
struct event_base;

typedef void (*kd_mjpeg_frame_fn)(void *ctx, const struct AVFrame *f,
				  uint64_t capture_ns);

struct kd_mjpeg_decoder;

int kd_mjpeg_decoder_create(struct event_base *base, kd_mjpeg_frame_fn fn,
			    void *ctx, struct kd_mjpeg_decoder **out);
/* Copies the JPEG; one still waiting to be decoded is replaced. */
void kd_mjpeg_decoder_submit(struct kd_mjpeg_decoder *d, const uint8_t *jpeg,
			     size_t len, uint64_t capture_ns);
/* Broken JPEGs so far (a glitching capture), for status and tests. */
uint64_t kd_mjpeg_decoder_errors(struct kd_mjpeg_decoder *d);
void kd_mjpeg_decoder_destroy(struct kd_mjpeg_decoder *d);
