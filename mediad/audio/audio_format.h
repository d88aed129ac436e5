/* What the audio path hands to the encoder, whatever the source: 48 kHz,
 * stereo, interleaved float in [-1, 1] — the format the real peer encodes on
 * Linux (spec session §4) and announces as Misc.audio_format{48000, 2}. */
#pragma once

#define KD_AUDIO_RATE 48000
#define KD_AUDIO_CHANNELS 2
/* One Opus frame: 10 ms. */
#define KD_AUDIO_FRAME_SAMPLES (KD_AUDIO_RATE / 100)
