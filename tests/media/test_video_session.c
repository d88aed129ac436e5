/* Integration: mediad (testpattern 640x360@30) + sessiond + the RustDesk
 * test client over loopback. A logged-in client gets a stream of every codec
 * it can ask for, decodable picture by picture at the source size; a refresh
 * gives a keyframe quickly; killing and restarting mediad pauses the picture
 * but keeps the session. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kvmdesk_ipc.pb-c.h"
#include "media_util.h"
#include "rd_client.h"

#define PASSWORD "Vide0Pass"
#define T_MS 5000
#define W 640
#define H 360

static struct kd_harness Hn;
static char dialed[64];

static void start_mediad(void)
{
	char sock[512];

	ck_assert_int_gt(kd_harness_start(&Hn, "mediad"), 0);
	snprintf(sock, sizeof(sock), "%s/mediad.sock", Hn.runtime_dir);
	if (kd_harness_wait_file(sock, 10000) < 0) {
		kd_harness_dump_log(&Hn, "mediad");
		ck_abort_msg("mediad did not come up");
	}
}

static void setup(void)
{
	char ctl[512];

	ck_assert_int_eq(kd_harness_setup(&Hn,
		"[video]\nsource = testpattern\nwidth = 640\nheight = 360\n"
		"fps = 30\n", PASSWORD), 0);
	start_mediad();
	ck_assert_int_gt(kd_harness_start(&Hn, "sessiond"), 0);
	snprintf(ctl, sizeof(ctl), "%s/sessiond-ctl.sock", Hn.runtime_dir);
	if (kd_harness_wait_file(ctl, 5000) < 0) {
		kd_harness_dump_log(&Hn, "sessiond");
		ck_abort_msg("sessiond did not come up");
	}
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

struct want {
	int prefer;
};

static void tweak_prefer(Hbb__LoginRequest *lr, void *arg)
{
	lr->option->supported_decoding->prefer = ((struct want *)arg)->prefer;
}

static struct rd_client *logged_in(int prefer, Hbb__PeerInfo **pi_out,
				   Hbb__Message **holder)
{
	struct rd_client_opts o;
	struct rd_client *c;
	struct want w = { prefer };
	int fd, err = 0;

	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", Hn.port, NULL, T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	ck_assert_int_eq(rd_client_handshake(c, T_MS), 0);
	ck_assert_int_eq(rd_client_send_login(c, PASSWORD, tweak_prefer, &w),
			 0);
	*holder = rd_client_recv_type(c, HBB__MESSAGE__UNION_LOGIN_RESPONSE,
				      T_MS, &err);
	ck_assert_ptr_nonnull(*holder);
	ck_assert_int_eq((*holder)->login_response->union_case,
			 HBB__LOGIN_RESPONSE__UNION_PEER_INFO);
	*pi_out = (*holder)->login_response->peer_info;
	return c;
}

static uint32_t frame_codec(const Hbb__VideoFrame *vf)
{
	switch (vf->union_case) {
	case HBB__VIDEO_FRAME__UNION_H264S: return KDIPC__CODEC__CODEC_H264;
	case HBB__VIDEO_FRAME__UNION_H265S: return KDIPC__CODEC__CODEC_H265;
	case HBB__VIDEO_FRAME__UNION_VP8S: return KDIPC__CODEC__CODEC_VP8;
	case HBB__VIDEO_FRAME__UNION_VP9S: return KDIPC__CODEC__CODEC_VP9;
	case HBB__VIDEO_FRAME__UNION_AV1S: return KDIPC__CODEC__CODEC_AV1;
	default: return 0;
	}
}

/* Receives one VideoFrame; checks the framing rules of spec §3.2. */
static Hbb__Message *recv_frame(struct rd_client *c, int timeout_ms,
				const Hbb__EncodedVideoFrame **ef)
{
	int err = 0;
	Hbb__Message *m = rd_client_recv_type(c, HBB__MESSAGE__UNION_VIDEO_FRAME,
					      timeout_ms, &err);

	if (!m)
		return NULL;
	ck_assert_int_eq(m->video_frame->display, 0);
	ck_assert_ptr_nonnull(m->video_frame->vp9s);
	/* exactly one access unit per VideoFrame */
	ck_assert_uint_eq(m->video_frame->vp9s->n_frames, 1);
	*ef = m->video_frame->vp9s->frames[0];
	return m;
}

static const struct {
	uint32_t codec;
	int prefer;
	bool offered_flag_needed;
} codecs[] = {
	{ KDIPC__CODEC__CODEC_H264, HBB__SUPPORTED_DECODING__PREFER_CODEC__H264, true },
	{ KDIPC__CODEC__CODEC_H265, HBB__SUPPORTED_DECODING__PREFER_CODEC__H265, true },
	{ KDIPC__CODEC__CODEC_VP8, HBB__SUPPORTED_DECODING__PREFER_CODEC__VP8, true },
	{ KDIPC__CODEC__CODEC_VP9, HBB__SUPPORTED_DECODING__PREFER_CODEC__VP9, false },
	{ KDIPC__CODEC__CODEC_AV1, HBB__SUPPORTED_DECODING__PREFER_CODEC__AV1, true },
};

static bool peer_offers(const Hbb__PeerInfo *pi, uint32_t codec)
{
	const Hbb__SupportedEncoding *e = pi->encoding;

	switch (codec) {
	case KDIPC__CODEC__CODEC_H264: return e && e->h264;
	case KDIPC__CODEC__CODEC_H265: return e && e->h265;
	case KDIPC__CODEC__CODEC_VP8: return e && e->vp8;
	case KDIPC__CODEC__CODEC_AV1: return e && e->av1;
	default: return true; /* VP9: implied */
	}
}

START_TEST(test_every_codec_decodes)
{
	Hbb__Message *lr;
	Hbb__PeerInfo *pi;
	struct rd_client *c = logged_in(codecs[_i].prefer, &pi, &lr);
	struct kd_test_decoder *dec;
	int frames = 0, errors = 0, no_pic = 0, bad_size = 0;

	ck_assert_uint_eq(pi->n_displays, 1);
	ck_assert_int_eq(pi->displays[0]->width, W);
	ck_assert_int_eq(pi->displays[0]->height, H);
	if (!peer_offers(pi, codecs[_i].codec)) {
		fprintf(stderr, "codec %u not offered: skipped\n",
			codecs[_i].codec);
		goto out;
	}
	dec = kd_test_decoder_new(codecs[_i].codec);
	ck_assert_ptr_nonnull(dec);
	while (frames < 60) {
		const Hbb__EncodedVideoFrame *ef;
		Hbb__Message *m = recv_frame(c, T_MS, &ef);
		int w = 0, h = 0, n;

		ck_assert_msg(m != NULL, "only %d frames", frames);
		ck_assert_uint_eq(frame_codec(m->video_frame),
				  codecs[_i].codec);
		if (frames == 0)
			ck_assert_msg(ef->key, "stream must start with a key");
		n = kd_test_decode(dec, ef->data.data, ef->data.len, &w, &h);
		if (n < 0)
			errors++;
		else if (n != 1)
			no_pic++;
		else if (w != W || h != H)
			bad_size++;
		frames++;
		hbb__message__free_unpacked(m, NULL);
	}
	ck_assert_int_eq(errors, 0);
	ck_assert_int_eq(no_pic, 0);
	ck_assert_int_eq(bad_size, 0);
	kd_test_decoder_free(dec);
out:
	hbb__message__free_unpacked(lr, NULL);
	rd_client_free(c);
}
END_TEST

static void send_refresh(struct rd_client *c)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;

	misc.union_case = HBB__MISC__UNION_REFRESH_VIDEO;
	misc.refresh_video = true;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
}

/* Reads frames until a keyframe; returns ms waited or -1. */
static long wait_key(struct rd_client *c, int timeout_ms, int *frames)
{
	uint64_t t0 = kd_test_now_ms();

	while (kd_test_now_ms() - t0 < (uint64_t)timeout_ms) {
		const Hbb__EncodedVideoFrame *ef;
		Hbb__Message *m = recv_frame(c, timeout_ms, &ef);
		bool key;

		if (!m)
			return -1;
		key = ef->key;
		hbb__message__free_unpacked(m, NULL);
		if (frames)
			(*frames)++;
		if (key)
			return (long)(kd_test_now_ms() - t0);
	}
	return -1;
}

START_TEST(test_refresh_gives_keyframe)
{
	Hbb__Message *lr;
	Hbb__PeerInfo *pi;
	struct rd_client *c = logged_in(HBB__SUPPORTED_DECODING__PREFER_CODEC__Auto,
					&pi, &lr);

	ck_assert_int_ge(wait_key(c, T_MS, NULL), 0);
	for (int i = 0; i < 5; i++) {
		long ms;
		int n = 0;

		/* some P-frames first */
		for (int k = 0; k < 5; k++) {
			const Hbb__EncodedVideoFrame *ef;
			Hbb__Message *m = recv_frame(c, T_MS, &ef);

			ck_assert_ptr_nonnull(m);
			hbb__message__free_unpacked(m, NULL);
		}
		send_refresh(c);
		ms = wait_key(c, 1000, &n);
		ck_assert_msg(ms >= 0 && ms <= 200, "keyframe after %ld ms", ms);
	}
	hbb__message__free_unpacked(lr, NULL);
	rd_client_free(c);
}
END_TEST

static pid_t proc_pid(const char *name)
{
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (!strcmp(Hn.procs[i].name, name))
			return Hn.procs[i].pid;
	return -1;
}

START_TEST(test_mediad_restart_keeps_session)
{
	Hbb__Message *lr;
	Hbb__PeerInfo *pi;
	struct rd_client *c = logged_in(HBB__SUPPORTED_DECODING__PREFER_CODEC__VP8,
					&pi, &lr);
	struct kd_test_decoder *dec = kd_test_decoder_new(KDIPC__CODEC__CODEC_VP8);
	pid_t pid = proc_pid("mediad");
	uint64_t t0;
	int after = 0;

	ck_assert_int_ge(wait_key(c, T_MS, NULL), 0);
	ck_assert_int_gt(pid, 0);
	kill(pid, SIGKILL);
	kd_harness_stop(&Hn, "mediad", 1000);
	/* drain what was in flight */
	{
		const Hbb__EncodedVideoFrame *ef;
		Hbb__Message *m;

		while ((m = recv_frame(c, 300, &ef)))
			hbb__message__free_unpacked(m, NULL);
	}
	start_mediad();
	t0 = kd_test_now_ms();
	/* The first frame after the restart is a keyframe, then a stream. */
	for (;;) {
		const Hbb__EncodedVideoFrame *ef;
		Hbb__Message *m = recv_frame(c, 3000, &ef);
		int w, h;

		ck_assert_msg(m != NULL, "no frames %d ms after restart",
			      (int)(kd_test_now_ms() - t0));
		if (after == 0) {
			ck_assert_msg(kd_test_now_ms() - t0 < 3000,
				      "first frame after %d ms",
				      (int)(kd_test_now_ms() - t0));
			ck_assert(ef->key);
			kd_test_decoder_free(dec);
			dec = kd_test_decoder_new(KDIPC__CODEC__CODEC_VP8);
		}
		ck_assert_int_eq(kd_test_decode(dec, ef->data.data,
						 ef->data.len, &w, &h), 1);
		hbb__message__free_unpacked(m, NULL);
		if (++after == 30)
			break;
	}
	kd_test_decoder_free(dec);
	hbb__message__free_unpacked(lr, NULL);
	rd_client_free(c);
}
END_TEST

/* A client that never reads does not slow another one down. */
START_TEST(test_stalled_client_does_not_slow_others)
{
	Hbb__Message *lr1, *lr2;
	Hbb__PeerInfo *pi;
	struct rd_client *stalled = logged_in(HBB__SUPPORTED_DECODING__PREFER_CODEC__H264,
					      &pi, &lr1);
	struct rd_client *c = logged_in(HBB__SUPPORTED_DECODING__PREFER_CODEC__H264,
					&pi, &lr2);
	struct kd_test_decoder *dec = kd_test_decoder_new(KDIPC__CODEC__CODEC_H264);
	uint64_t t0;
	int frames = 0;

	ck_assert_int_ge(wait_key(c, T_MS, NULL), 0);
	t0 = kd_test_now_ms();
	/* 3 s at 30 fps with the other client not reading at all */
	while (kd_test_now_ms() - t0 < 3000) {
		const Hbb__EncodedVideoFrame *ef;
		Hbb__Message *m = recv_frame(c, T_MS, &ef);

		ck_assert_ptr_nonnull(m);
		hbb__message__free_unpacked(m, NULL);
		frames++;
	}
	ck_assert_msg(frames >= 60, "only %d frames in 3 s", frames);
	/* The stalled one, reading again, resumes at a keyframe. */
	ck_assert_int_ge(wait_key(stalled, T_MS, NULL), 0);
	kd_test_decoder_free(dec);
	hbb__message__free_unpacked(lr1, NULL);
	hbb__message__free_unpacked(lr2, NULL);
	rd_client_free(c);
	rd_client_free(stalled);
}
END_TEST

/* A later SupportedDecoding (the client found it cannot decode H.264)
 * switches the stream to another codec, starting with a keyframe. */
START_TEST(test_codec_change_mid_session)
{
	Hbb__Message *lr;
	Hbb__PeerInfo *pi;
	struct rd_client *c = logged_in(HBB__SUPPORTED_DECODING__PREFER_CODEC__H264,
					&pi, &lr);
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__OptionMessage opt = HBB__OPTION_MESSAGE__INIT;
	Hbb__SupportedDecoding sd = HBB__SUPPORTED_DECODING__INIT;
	struct kd_test_decoder *dec = kd_test_decoder_new(KDIPC__CODEC__CODEC_VP8);
	bool switched = false;
	int decoded = 0;

	ck_assert_int_ge(wait_key(c, T_MS, NULL), 0);
	sd.ability_vp8 = sd.ability_vp9 = sd.ability_av1 = 1;
	sd.ability_h264 = 0; /* what the real client sends after a failure */
	sd.ability_h265 = 0;
	sd.prefer = HBB__SUPPORTED_DECODING__PREFER_CODEC__VP8;
	opt.supported_decoding = &sd;
	misc.union_case = HBB__MISC__UNION_OPTION;
	misc.option = &opt;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
	while (decoded < 20) {
		const Hbb__EncodedVideoFrame *ef;
		Hbb__Message *f = recv_frame(c, T_MS, &ef);
		int w, h;

		ck_assert_ptr_nonnull(f);
		if (frame_codec(f->video_frame) == KDIPC__CODEC__CODEC_VP8) {
			if (!switched)
				ck_assert_msg(ef->key, "new codec starts with a key");
			switched = true;
			ck_assert_int_eq(kd_test_decode(dec, ef->data.data,
							 ef->data.len, &w, &h), 1);
			decoded++;
		} else {
			ck_assert_msg(!switched, "old codec after the switch");
		}
		hbb__message__free_unpacked(f, NULL);
	}
	kd_test_decoder_free(dec);
	hbb__message__free_unpacked(lr, NULL);
	rd_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("video_session");
	TCase *tc = tcase_create("integration");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, test_every_codec_decodes, 0, 5);
	tcase_add_test(tc, test_refresh_gives_keyframe);
	tcase_add_test(tc, test_mediad_restart_keeps_session);
	tcase_add_test(tc, test_stalled_client_does_not_slow_others);
	tcase_add_test(tc, test_codec_change_mid_session);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
