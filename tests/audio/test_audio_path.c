/* The audio path from source to Opus packets: the test tone comes out of a
 * real libopus decoder at the right pitch, the silence gate, the sample
 * format / rate conversion, and ALSA's code path against its null device. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <alsa/asoundlib.h>
#include <event2/event.h>
#include <opus/opus.h>

#include "audio_source.h"
#include "log.h"
#include "opus_encoder.h"
#include "tone_measure.h"
#include "tone_source.h"

struct packets {
	OpusDecoder *dec;
	float *pcm; /* decoded, stereo */
	size_t frames, cap;
	size_t count;
	uint64_t last_pts;
};

static void on_packet(void *opaque, const uint8_t *p, size_t len, uint64_t pts)
{
	struct packets *ps = opaque;
	ck_assert_uint_le(len, KD_OPUS_MAX_PACKET);
	if (ps->count)
		ck_assert_uint_gt(pts, ps->last_pts);
	ps->last_pts = pts;
	ps->count++;
	if (!ps->dec)
		return;
	if (ps->frames + 5760 > ps->cap) {
		ps->cap = (ps->cap + 5760) * 2;
		ps->pcm = realloc(ps->pcm, ps->cap * 2 * sizeof(float));
	}
	int n = opus_decode_float(ps->dec, p, (opus_int32)len,
				  ps->pcm + ps->frames * 2, 5760, 0);
	ck_assert_int_gt(n, 0);
	ps->frames += (size_t)n;
}

static double measure_hz(const float *pcm, size_t frames, size_t skip, int channel)
{
	double hz = kd_tone_measure_hz(pcm, frames, skip, channel);
	ck_assert(hz > 0);
	return hz;
}

START_TEST(tone_survives_opus_at_its_pitch)
{
	struct packets ps = { 0 };
	int err;
	ps.dec = opus_decoder_create(48000, 2, &err);
	ck_assert_int_eq(err, OPUS_OK);
	struct kd_opus_encoder enc;
	ck_assert_int_eq(kd_opus_encoder_init(&enc, on_packet, &ps), 0);
	struct kd_tone_source tone;
	kd_tone_source_init(&tone, 440.0, 0.5);
	/* 2 s in odd-sized pieces, as a capture device delivers them. */
	float buf[777 * 2];
	size_t total = 0;
	while (total < 2 * 48000) {
		kd_tone_source_read(&tone, buf, 777);
		ck_assert_int_eq(kd_opus_encoder_push(&enc, buf, 777), 0);
		total += 777;
	}
	ck_assert_uint_eq(ps.count, total / 480); /* one packet per 10 ms */
	ck_assert_uint_eq(ps.last_pts, (ps.count - 1) * 10);
	double hz_l = measure_hz(ps.pcm, ps.frames, 4800, 0);
	double hz_r = measure_hz(ps.pcm, ps.frames, 4800, 1);
	ck_assert_msg(fabs(hz_l - 440.0) < 4.4, "left channel at %.2f Hz", hz_l);
	ck_assert_msg(fabs(hz_r - 440.0) < 4.4, "right channel at %.2f Hz", hz_r);
	kd_opus_encoder_destroy(&enc);
	opus_decoder_destroy(ps.dec);
	free(ps.pcm);
}
END_TEST

START_TEST(silence_gate_closes_after_800_frames_and_reopens)
{
	struct packets ps = { 0 };
	struct kd_opus_encoder enc;
	ck_assert_int_eq(kd_opus_encoder_init(&enc, on_packet, &ps), 0);
	float zero[480 * 2] = { 0 };
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(kd_opus_encoder_push(&enc, zero, 480), 0);
	ck_assert_uint_eq(ps.count, KD_OPUS_SILENCE_FRAMES - 1);
	ck_assert(kd_opus_encoder_gated(&enc));
	float sound[480 * 2];
	struct kd_tone_source tone;
	kd_tone_source_init(&tone, 1000.0, 0.1);
	kd_tone_source_read(&tone, sound, 480);
	sound[0] = 0.01f; /* a non-zero first sample */
	ck_assert_int_eq(kd_opus_encoder_push(&enc, sound, 480), 0);
	ck_assert_uint_eq(ps.count, KD_OPUS_SILENCE_FRAMES);
	ck_assert(!kd_opus_encoder_gated(&enc));
	/* pts keeps counting real time through the gap. */
	ck_assert_uint_eq(ps.last_pts, 1000 * 10);
	kd_opus_encoder_destroy(&enc);
}
END_TEST

START_TEST(convert_mono_s16_44100_to_48k_stereo)
{
	/* 1 s of a 1 kHz sine, S16 mono at 44.1 kHz, in 441-frame pieces. */
	int16_t in[441];
	float out[2 * 600];
	float *all = malloc(2 * 49000 * sizeof(float));
	size_t produced = 0;
	double state = 0;
	float last[2] = { 0, 0 };
	for (int chunk = 0; chunk < 100; chunk++) {
		for (int i = 0; i < 441; i++) {
			double t = (chunk * 441 + i) / 44100.0;
			in[i] = (int16_t)(16000 * sin(2 * M_PI * 1000 * t));
		}
		size_t n = kd_audio_convert(in, 441, SND_PCM_FORMAT_S16_LE, 1,
					    44100, &state, last, out, 600);
		memcpy(all + produced * 2, out, n * 2 * sizeof(float));
		produced += n;
	}
	ck_assert_int_le(labs((long)produced - 48000), 2);
	for (size_t i = 0; i < produced; i++)
		ck_assert_float_eq(all[2 * i], all[2 * i + 1]);
	double hz = measure_hz(all, produced, 100, 0);
	ck_assert_msg(fabs(hz - 1000.0) < 2.0, "converted tone at %.2f Hz", hz);
	free(all);
}
END_TEST

START_TEST(convert_same_rate_stereo_float_is_exact)
{
	float in[4] = { 0.25f, -0.5f, 1.0f, -1.0f };
	float out[4];
	double state = 0;
	float last[2] = { 0 };
	ck_assert_uint_eq(kd_audio_convert(in, 2, SND_PCM_FORMAT_FLOAT_LE, 2,
					   48000, &state, last, out, 2), 2);
	ck_assert_mem_eq(in, out, sizeof(in));
	int32_t in32[2] = { INT32_MIN, 1 << 30 };
	ck_assert_uint_eq(kd_audio_convert(in32, 2, SND_PCM_FORMAT_S32_LE, 1,
					   48000, &state, last, out, 2), 2);
	ck_assert_float_eq(out[0], -1.0f);
	ck_assert_float_eq(out[2], 0.5f);
}
END_TEST

struct capture {
	size_t frames;
	struct event_base *base;
};

static void on_pcm(void *opaque, const float *pcm, size_t frames)
{
	struct capture *c = opaque;
	c->frames += frames;
	if (c->frames >= 4800)
		event_base_loopbreak(c->base);
}

START_TEST(testtone_source_paced_by_clock)
{
	struct event_base *base = event_base_new();
	struct capture c = { 0, base };
	struct kd_audio_source *s;
	ck_assert_int_eq(kd_audio_source_new(base, "testtone", on_pcm, &c, &s), 0);
	ck_assert(!kd_audio_source_running(s));
	ck_assert_int_eq(kd_audio_source_start(s), 0);
	ck_assert(kd_audio_source_running(s));
	struct timeval limit = { 5, 0 };
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_uint_ge(c.frames, 4800);
	ck_assert_uint_eq(c.frames % 480, 0);
	kd_audio_source_stop(s);
	ck_assert(!kd_audio_source_running(s));
	kd_audio_source_free(s);
	event_base_free(base);
}
END_TEST

START_TEST(alsa_missing_device_is_retried_not_fatal)
{
	struct event_base *base = event_base_new();
	struct capture c = { 0, base };
	struct kd_audio_source *s;
	ck_assert_int_eq(kd_audio_source_new(base, "hw:97,0", on_pcm, &c, &s), 0);
	ck_assert_int_eq(kd_audio_source_start(s), 0);
	ck_assert(!kd_audio_source_running(s));
	struct timeval limit = { 0, 300000 };
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_uint_eq(c.frames, 0);
	kd_audio_source_free(s);
	event_base_free(base);
}
END_TEST

START_TEST(alsa_null_device_negotiates_and_delivers)
{
	/* ALSA's "null" plugin is a real PCM: open, hw_params negotiation,
	 * poll descriptors and reads all run through alsa-lib. */
	snd_pcm_t *probe;
	if (snd_pcm_open(&probe, "null", SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK) < 0) {
		fprintf(stderr, "SKIP: ALSA null PCM unavailable\n");
		return;
	}
	snd_pcm_close(probe);
	struct event_base *base = event_base_new();
	struct capture c = { 0, base };
	struct kd_audio_source *s;
	ck_assert_int_eq(kd_audio_source_new(base, "null", on_pcm, &c, &s), 0);
	ck_assert_int_eq(kd_audio_source_start(s), 0);
	ck_assert(kd_audio_source_running(s));
	struct timeval limit = { 3, 0 };
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_uint_ge(c.frames, 4800);
	kd_audio_source_free(s);
	event_base_free(base);
}
END_TEST

int main(void)
{
	kd_log_init("test", LOG_CRIT);
	Suite *s = suite_create("audio");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, tone_survives_opus_at_its_pitch);
	tcase_add_test(tc, silence_gate_closes_after_800_frames_and_reopens);
	tcase_add_test(tc, convert_mono_s16_44100_to_48k_stereo);
	tcase_add_test(tc, convert_same_rate_stereo_float_is_exact);
	tcase_add_test(tc, testtone_source_paced_by_clock);
	tcase_add_test(tc, alsa_missing_device_is_retried_not_fatal);
	tcase_add_test(tc, alsa_null_device_negotiates_and_delivers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
