/* The worker's video service: subscribes to mediad's ring of the codec this
 * client should get, and streams it as VideoFrame messages (spec session
 * §2, §3). Flow control: at most ~one frame's worth queued on the socket;
 * a slow client skips frames (never slowing anybody else down) and resumes
 * at a keyframe it asks mediad for. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "message.pb-c.h"
#include "worker_service.h"

struct kd_media_status;

extern const struct kd_worker_service kd_video_service;

/* Codec for a client (spec session §2.3, adapted to a KVM): only codecs
 * mediad offers and the client decodes (no SupportedDecoding = VP9 only);
 * the client's prefer wins when usable; otherwise a hardware encoder first,
 * then by software cost H.264 > VP8 > VP9 > H.265 > AV1. Returns a
 * Kdipc__Codec, 0 when nothing fits. */
uint32_t kd_video_choose_codec(const Hbb__SupportedDecoding *sd,
			       const struct kd_media_status *offers);

/* Bitrate ratio from ImageQuality / custom_image_quality (spec §3.4) in
 * thousandths; 0 when the option sets nothing. */
uint32_t kd_video_quality_ratio(const Hbb__OptionMessage *opt);
