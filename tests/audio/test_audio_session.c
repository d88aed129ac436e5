/* Integration: mediad with the test tone + sessiond + the RustDesk test
 * client. A logged-in client gets Misc.audio_format{48000, 2} and then Opus
 * AudioFrames that libopus decodes to the 440 Hz tone; disable_audio stops
 * them and re-enabling sends the format again; audio comes back on the same
 * session after mediad is killed and restarted. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opus/opus.h>

#include "harness.h"
#include "rd_client.h"
#include "tone_measure.h"

#define PASSWORD "Aud10Pass"
#define T_MS 5000

static struct kd_harness Hn;
static char dialed[64];

static void start_mediad(void)
{
	ck_assert_int_eq(kd_harness_start_daemon(&Hn, "mediad", "mediad.sock", 10000), 0);
}

static void setup(void)
{
	ck_assert_int_eq(kd_harness_setup(&Hn,
		"[video]\nsource = testpattern\nwidth = 320\nheight = 180\nfps = 10\n"
		"[audio]\nsource = testtone\n", PASSWORD), 0);
	start_mediad();
	ck_assert_int_eq(kd_harness_start_daemon(&Hn, "sessiond", "sessiond-ctl.sock", 5000), 0);
	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", Hn.port);
}

static void teardown(void)
{
	if (getenv("KD_TEST_VERBOSE")) {
		kd_harness_dump_log(&Hn, "mediad");
		kd_harness_dump_log(&Hn, "sessiond");
	}
	kd_harness_cleanup(&Hn);
}

static struct rd_client *logged_in(void)
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *lr = NULL;
	rd_client_opts_default(&o);
	o.dialed = dialed;
	int fd = rd_client_tcp_connect("127.0.0.1", Hn.port, NULL, T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	ck_assert_int_eq(rd_client_handshake(c, T_MS), 0);
	ck_assert_int_eq(rd_client_login(c, PASSWORD, T_MS, &lr), 0);
	ck_assert_int_eq(lr->login_response->union_case,
			 HBB__LOGIN_RESPONSE__UNION_PEER_INFO);
	hbb__message__free_unpacked(lr, NULL);
	return c;
}

/* Waits for Misc.audio_format; fails if an AudioFrame comes first. */
static void expect_format(struct rd_client *c, int timeout_ms)
{
	for (;;) {
		int err = 0;
		Hbb__Message *m = rd_client_recv(c, timeout_ms, &err);
		ck_assert_msg(m != NULL, "no audio_format (err %d)", err);
		ck_assert_msg(m->union_case != HBB__MESSAGE__UNION_AUDIO_FRAME,
			      "AudioFrame before audio_format");
		if (m->union_case == HBB__MESSAGE__UNION_MISC &&
		    m->misc->union_case == HBB__MISC__UNION_AUDIO_FORMAT) {
			ck_assert_uint_eq(m->misc->audio_format->sample_rate, 48000);
			ck_assert_uint_eq(m->misc->audio_format->channels, 2);
			hbb__message__free_unpacked(m, NULL);
			return;
		}
		hbb__message__free_unpacked(m, NULL);
	}
}

/* Receives n AudioFrames and decodes them; returns the measured pitch. */
static double receive_tone(struct rd_client *c, int n)
{
	int err;
	OpusDecoder *dec = opus_decoder_create(48000, 2, &err);
	ck_assert_int_eq(err, OPUS_OK);
	float *pcm = malloc((size_t)n * 5760 * 2 * sizeof(float));
	size_t frames = 0;
	for (int i = 0; i < n; i++) {
		Hbb__Message *m = rd_client_recv_type(
			c, HBB__MESSAGE__UNION_AUDIO_FRAME, T_MS, &err);
		ck_assert_msg(m != NULL, "AudioFrame %d missing (err %d)", i, err);
		int got = opus_decode_float(dec, m->audio_frame->data.data,
					    (opus_int32)m->audio_frame->data.len,
					    pcm + frames * 2, 5760, 0);
		ck_assert_msg(got > 0, "AudioFrame %d does not decode: %s", i,
			      opus_strerror(got));
		frames += (size_t)got;
		hbb__message__free_unpacked(m, NULL);
	}
	double hz = kd_tone_measure_hz(pcm, frames, 4800, 0);
	free(pcm);
	opus_decoder_destroy(dec);
	return hz;
}

static void send_disable_audio(struct rd_client *c, bool disable)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__OptionMessage opt = HBB__OPTION_MESSAGE__INIT;
	opt.disable_audio = disable ? HBB__OPTION_MESSAGE__BOOL_OPTION__Yes
				    : HBB__OPTION_MESSAGE__BOOL_OPTION__No;
	misc.union_case = HBB__MISC__UNION_OPTION;
	misc.option = &opt;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
}

/* Counts AudioFrames arriving within ms. */
static int count_audio(struct rd_client *c, int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int n = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		int left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
				      (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return n;
		int err;
		Hbb__Message *m = rd_client_recv(c, left, &err);
		if (!m)
			return n;
		if (m->union_case == HBB__MESSAGE__UNION_AUDIO_FRAME)
			n++;
		hbb__message__free_unpacked(m, NULL);
	}
}

START_TEST(test_tone_reaches_client_at_440_hz)
{
	struct rd_client *c = logged_in();
	expect_format(c, T_MS);
	double hz = receive_tone(c, 150); /* 1.5 s */
	ck_assert_msg(fabs(hz - 440.0) <= 4.4, "tone measured at %.2f Hz", hz);
	rd_client_free(c);
}
END_TEST

START_TEST(test_disable_and_enable_audio)
{
	struct rd_client *c = logged_in();
	expect_format(c, T_MS);
	ck_assert_int_gt(count_audio(c, 300), 10);
	send_disable_audio(c, true);
	count_audio(c, 300); /* what was already in flight */
	ck_assert_int_eq(count_audio(c, 700), 0);
	send_disable_audio(c, false);
	expect_format(c, T_MS);
	double hz = receive_tone(c, 100);
	ck_assert_msg(fabs(hz - 440.0) <= 4.4, "tone measured at %.2f Hz", hz);
	rd_client_free(c);
}
END_TEST

START_TEST(test_audio_survives_mediad_restart)
{
	struct rd_client *c = logged_in();
	expect_format(c, T_MS);
	ck_assert_int_gt(count_audio(c, 300), 10);
	ck_assert_int_ge(kd_harness_stop(&Hn, "mediad", 0), 0);
	count_audio(c, 300);
	start_mediad();
	expect_format(c, 3000);
	double hz = receive_tone(c, 100);
	ck_assert_msg(fabs(hz - 440.0) <= 4.4, "tone measured at %.2f Hz", hz);
	rd_client_free(c);
}
END_TEST

START_TEST(test_voice_call_is_declined)
{
	/* A KVM cannot play the client's microphone: the call is declined at
	 * once instead of leaving the client waiting. */
	struct rd_client *c = logged_in();
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__VoiceCallRequest req = HBB__VOICE_CALL_REQUEST__INIT;
	req.req_timestamp = 1234567;
	req.is_connect = true;
	m.union_case = HBB__MESSAGE__UNION_VOICE_CALL_REQUEST;
	m.voice_call_request = &req;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
	int err;
	Hbb__Message *r = rd_client_recv_type(
		c, HBB__MESSAGE__UNION_VOICE_CALL_RESPONSE, T_MS, &err);
	ck_assert_msg(r != NULL, "no VoiceCallResponse (err %d)", err);
	ck_assert(!r->voice_call_response->accepted);
	ck_assert_int_eq(r->voice_call_response->req_timestamp, 1234567);
	hbb__message__free_unpacked(r, NULL);
	rd_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("audio_session");
	TCase *tc = tcase_create("session");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tone_reaches_client_at_440_hz);
	tcase_add_test(tc, test_disable_and_enable_audio);
	tcase_add_test(tc, test_audio_survives_mediad_restart);
	tcase_add_test(tc, test_voice_call_is_declined);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
