/* The worker's audio service (spec session §4): subscribes to mediad's Opus
 * ring, sends Misc.audio_format{48000, 2} before the first AudioFrame of
 * every (re)subscription, then one AudioFrame per packet. disable_audio is
 * honoured both ways; audio older than 1 s is dropped, never sent late. */
#pragma once
#include "worker_service.h"

extern const struct kd_worker_service kd_audio_service;
