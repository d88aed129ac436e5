/* The sessiond video service against a fake worker and a fake mediad (a
 * frame ring this test writes itself): codec choice at login, keyframe
 * first, SwitchDisplay before a keyframe of a new size, flow control when the
 * client's socket is full, a lapped reader, refresh, quality options. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "frame_ring.h"
#include "input_service.h"
#include "ipc.h"
#include "media_util.h"
#include "unix_socket.h"
#include "video_bitrate.h"
#include "video_service.h"

/* ---- fake worker ---- */

#define MAX_SENT 64

struct kd_worker {
	struct event_base *base;
	char runtime_dir[128];
	size_t queued;
	Hbb__Message *sent[MAX_SENT];
	int n_sent;
	char closed[128];
};

struct event_base *kd_worker_base(struct kd_worker *w) { return w->base; }
const struct kd_config *kd_worker_config(struct kd_worker *w) { return NULL; }
const char *kd_worker_runtime_dir(struct kd_worker *w) { return w->runtime_dir; }
uint64_t kd_worker_conn_id(struct kd_worker *w) { return 42; }
size_t kd_worker_output_queued(struct kd_worker *w) { return w->queued; }

/* Like the real worker: the bytes are copied first, then intact() decides
 * whether they go out. */
int kd_worker_send_checked(struct kd_worker *w, const Hbb__Message *msg,
			   bool (*intact)(void *arg), void *arg)
{
	size_t n = hbb__message__get_packed_size(msg);
	uint8_t *buf = malloc(n);

	hbb__message__pack(msg, buf);
	if (intact && !intact(arg)) {
		free(buf);
		return -ESTALE;
	}
	ck_assert_int_lt(w->n_sent, MAX_SENT);
	w->sent[w->n_sent++] = hbb__message__unpack(NULL, n, buf);
	free(buf);
	return 0;
}

int kd_worker_send(struct kd_worker *w, const Hbb__Message *msg)
{
	return kd_worker_send_checked(w, msg, NULL, NULL);
}

void kd_worker_close(struct kd_worker *w, const char *reason)
{
	snprintf(w->closed, sizeof(w->closed), "%s", reason);
}

static uint32_t reported_kbps;
void kd_worker_set_target_bitrate(struct kd_worker *w, uint32_t kbps)
{
	reported_kbps = kbps;
}

/* The input service learns the new display size from the video service;
 * this worker has none. */
static int32_t input_display_w, input_display_h;
void kd_input_service_display_changed(struct kd_worker *w, int32_t width,
				      int32_t height)
{
	input_display_w = width;
	input_display_h = height;
}

static void clear_sent(struct kd_worker *w)
{
	for (int i = 0; i < w->n_sent; i++)
		hbb__message__free_unpacked(w->sent[i], NULL);
	w->n_sent = 0;
}

/* ---- fake mediad ---- */

struct fake_mediad {
	int lfd, cfd;
	struct event *lev, *cev;
	int efd;                 /* the subscriber's eventfd */
	uint32_t subscribed_codec;
	int keyframe_requests;
	uint32_t ratio, fps;
	struct kd_frame_ring_writer *ring;
};

static struct fake_mediad M;
static struct kd_worker W;

static void send_media(Kdipc__MediaToWorker *m, int fd)
{
	ck_assert_int_eq(kd_ipc_send(M.cfd, &m->base, fd), 0);
}

/* MediaStatus 640x360 with H.264 and (n_encoders == 2) VP8. */
static void send_status(size_t n_encoders)
{
	Kdipc__MediaToWorker rep = KDIPC__MEDIA_TO_WORKER__INIT;
	Kdipc__MediaStatus st = KDIPC__MEDIA_STATUS__INIT;
	Kdipc__SourceMode mode = KDIPC__SOURCE_MODE__INIT;
	Kdipc__EncoderInfo e1 = KDIPC__ENCODER_INFO__INIT,
			   e2 = KDIPC__ENCODER_INFO__INIT, *es[2] = { &e1, &e2 };

	mode.width = 640;
	mode.height = 360;
	mode.fps = 30;
	mode.source = "testpattern";
	mode.signal = true;
	e1.codec = KDIPC__CODEC__CODEC_H264;
	e1.encoder = "libx264";
	e2.codec = KDIPC__CODEC__CODEC_VP8;
	e2.encoder = "libvpx";
	st.mode = &mode;
	st.n_encoders = n_encoders;
	st.encoders = es;
	rep.msg_case = KDIPC__MEDIA_TO_WORKER__MSG_STATUS;
	rep.status = &st;
	send_media(&rep, -1);
}

static void on_media_msg(evutil_socket_t fd, short what, void *arg)
{
	ProtobufCMessage *msg;
	int pfd = -1;

	while (kd_ipc_recv(fd, &kdipc__worker_to_media__descriptor, &msg,
			   &pfd) == 0) {
		Kdipc__WorkerToMedia *w = (Kdipc__WorkerToMedia *)msg;
		Kdipc__MediaToWorker rep = KDIPC__MEDIA_TO_WORKER__INIT;

		switch (w->msg_case) {
		case KDIPC__WORKER_TO_MEDIA__MSG_HELLO: {
			Kdipc__Hello h;

			kd_ipc_hello_init(&h, "mediad", 0);
			rep.msg_case = KDIPC__MEDIA_TO_WORKER__MSG_HELLO;
			rep.hello = &h;
			send_media(&rep, -1);
			send_status(2);
			break;
		}
		case KDIPC__WORKER_TO_MEDIA__MSG_SUBSCRIBE: {
			Kdipc__SubscribeReply sr = KDIPC__SUBSCRIBE_REPLY__INIT;
			struct kd_frame_ring_params p = {
				.slot_count = 8, .data_size = 1 << 20,
				.codec = w->subscribe->codec };

			ck_assert_int_ge(pfd, 0);
			M.efd = pfd;
			M.subscribed_codec = w->subscribe->codec;
			kd_frame_ring_writer_destroy(M.ring);
			ck_assert_int_eq(kd_frame_ring_writer_create(&p, &M.ring), 0);
			sr.codec = w->subscribe->codec;
			rep.msg_case = KDIPC__MEDIA_TO_WORKER__MSG_SUBSCRIBED;
			rep.subscribed = &sr;
			send_media(&rep, kd_frame_ring_writer_fd(M.ring));
			break;
		}
		case KDIPC__WORKER_TO_MEDIA__MSG_KEYFRAME:
			M.keyframe_requests++;
			break;
		case KDIPC__WORKER_TO_MEDIA__MSG_QUALITY:
			M.ratio = w->quality->ratio_permille;
			M.fps = w->quality->fps;
			break;
		default:
			break;
		}
		protobuf_c_message_free_unpacked(msg, NULL);
	}
}

static void on_media_accept(evutil_socket_t fd, short what, void *arg)
{
	M.cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	M.cev = event_new(W.base, M.cfd, EV_READ | EV_PERSIST, on_media_msg,
			  NULL);
	event_add(M.cev, NULL);
}

static void spin(int ms)
{
	bool never = false;

	kd_test_run_until(W.base, &never, ms);
}

/* Publishes a frame of the given size; the first byte says which. */
static void publish(uint8_t tag, bool key, uint32_t w, uint32_t h, bool wake)
{
	uint8_t data[1000];
	struct kd_frame_meta m = { .key = key, .pts_ms = tag, .width = w,
				   .height = h };

	memset(data, tag, sizeof(data));
	ck_assert_int_gt(kd_frame_ring_write(M.ring, &m, data, sizeof(data)), 0);
	if (wake)
		eventfd_write(M.efd, 1);
}

static const Hbb__EncodedVideoFrame *frame_of(int i)
{
	ck_assert_int_lt(i, W.n_sent);
	ck_assert_int_eq(W.sent[i]->union_case, HBB__MESSAGE__UNION_VIDEO_FRAME);
	ck_assert_int_eq(W.sent[i]->video_frame->union_case,
			 M.subscribed_codec == KDIPC__CODEC__CODEC_H264
				 ? HBB__VIDEO_FRAME__UNION_H264S
				 : HBB__VIDEO_FRAME__UNION_VP8S);
	ck_assert_uint_eq(W.sent[i]->video_frame->h264s->n_frames, 1);
	return W.sent[i]->video_frame->h264s->frames[0];
}

static void *state;

static void setup(void)
{
	char path[256];

	memset(&W, 0, sizeof(W));
	memset(&M, 0, sizeof(M));
	M.efd = M.cfd = -1;
	W.base = event_base_new();
	snprintf(W.runtime_dir, sizeof(W.runtime_dir), "/tmp/kd-vs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(W.runtime_dir));
	snprintf(path, sizeof(path), "%s/mediad.sock", W.runtime_dir);
	M.lfd = kd_unix_listen(path, 0600);
	ck_assert_int_ge(M.lfd, 0);
	M.lev = event_new(W.base, M.lfd, EV_READ | EV_PERSIST, on_media_accept,
			  NULL);
	event_add(M.lev, NULL);
	ck_assert_int_eq(kd_video_service.create(&W, &state), 0);
	spin(100);
}

static void teardown(void)
{
	char path[256];

	kd_video_service.destroy(state);
	clear_sent(&W);
	if (M.cev)
		event_free(M.cev);
	event_free(M.lev);
	close(M.lfd);
	if (M.cfd >= 0)
		close(M.cfd);
	if (M.efd >= 0)
		close(M.efd);
	kd_frame_ring_writer_destroy(M.ring);
	event_base_free(W.base);
	snprintf(path, sizeof(path), "%s/mediad.sock", W.runtime_dir);
	unlink(path);
	rmdir(W.runtime_dir);
}

static void login(void)
{
	Hbb__LoginRequest lr = HBB__LOGIN_REQUEST__INIT;
	Hbb__OptionMessage opt = HBB__OPTION_MESSAGE__INIT;
	Hbb__SupportedDecoding sd = HBB__SUPPORTED_DECODING__INIT;

	sd.ability_vp8 = sd.ability_vp9 = sd.ability_h264 = sd.ability_h265 = 1;
	opt.supported_decoding = &sd;
	opt.image_quality = HBB__IMAGE_QUALITY__Best;
	lr.option = &opt;
	kd_video_service.on_login(state, &lr);
	spin(100);
	ck_assert_uint_eq(M.subscribed_codec, KDIPC__CODEC__CODEC_H264);
}

START_TEST(test_peer_info_from_mediad)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;

	kd_video_service.fill_peer_info(state, &pi);
	ck_assert_uint_eq(pi.n_displays, 1);
	ck_assert_int_eq(pi.displays[0]->width, 640);
	ck_assert_int_eq(pi.displays[0]->height, 360);
	ck_assert(pi.encoding->h264);
	ck_assert(pi.encoding->vp8);
	ck_assert(!pi.encoding->h265);
	ck_assert(!pi.encoding->av1);
	/* nothing is subscribed (encoded) before login */
	ck_assert_uint_eq(M.subscribed_codec, 0);
}
END_TEST

START_TEST(test_key_first_then_stream)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	ck_assert_uint_eq(M.ratio, 1500); /* Best */
	publish(1, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 0); /* a P-frame cannot start a stream */
	publish(2, true, 640, 360, true);
	publish(3, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 2);
	ck_assert(frame_of(0)->key);
	ck_assert_int_eq(frame_of(0)->pts, 2);
	ck_assert_uint_eq(frame_of(0)->data.len, 1000);
	ck_assert_int_eq(frame_of(0)->data.data[0], 2);
	ck_assert(!frame_of(1)->key);
	ck_assert_int_eq(W.sent[1]->video_frame->display, 0);
}
END_TEST

START_TEST(test_switch_display_before_new_size)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	publish(1, true, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1);
	/* a P-frame of another size is never sent */
	publish(2, false, 1280, 720, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1);
	publish(3, true, 1280, 720, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 3);
	ck_assert_int_eq(W.sent[1]->union_case, HBB__MESSAGE__UNION_MISC);
	ck_assert_int_eq(W.sent[1]->misc->union_case,
			 HBB__MISC__UNION_SWITCH_DISPLAY);
	ck_assert_int_eq(W.sent[1]->misc->switch_display->width, 1280);
	/* Pointer coordinates follow the new size (spec session §5.9). */
	ck_assert_int_eq(input_display_w, 1280);
	ck_assert_int_eq(input_display_h, 720);
	ck_assert_int_eq(W.sent[1]->misc->switch_display->height, 720);
	ck_assert(frame_of(2)->key);
}
END_TEST

START_TEST(test_slow_client_drops_to_keyframe)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;
	int req;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	publish(1, true, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1);
	req = M.keyframe_requests;
	W.queued = 4u << 20; /* the socket is not draining */
	publish(2, false, 640, 360, true);
	publish(3, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1);
	ck_assert_int_eq(M.keyframe_requests, req + 1);
	W.queued = 0;
	kd_video_service.on_output_drained(state);
	publish(4, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1); /* still waiting for the keyframe */
	publish(5, true, 640, 360, true);
	publish(6, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 3);
	ck_assert(frame_of(1)->key);
	ck_assert_int_eq(frame_of(1)->data.data[0], 5);
	ck_assert_int_eq(frame_of(2)->data.data[0], 6);
	/* Falling behind again at once: no second keyframe request within a
	 * second (every viewer would pay for it), but one after it. */
	req = M.keyframe_requests;
	W.queued = 4u << 20;
	publish(7, false, 640, 360, true);
	spin(50);
	W.queued = 0;
	publish(8, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(M.keyframe_requests, req);
	spin(1000);
	publish(9, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(M.keyframe_requests, req + 1);
	ck_assert_int_eq(W.n_sent, 3);
}
END_TEST

/* A client falls behind while the screen is still (mediad publishes
 * nothing): the keyframe request deferred by the one-per-second limit is
 * still sent once the second has passed. */
START_TEST(test_deferred_key_request_without_frames)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;
	int req;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	publish(1, true, 640, 360, true);
	spin(50);
	W.queued = 4u << 20;
	publish(2, false, 640, 360, true);
	spin(50);
	W.queued = 0;
	publish(3, true, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 2);
	req = M.keyframe_requests;
	W.queued = 4u << 20;
	publish(4, false, 640, 360, true);
	spin(50);
	W.queued = 0;
	kd_video_service.on_output_drained(state);
	ck_assert_int_eq(M.keyframe_requests, req);
	spin(1200); /* nothing published meanwhile */
	ck_assert_int_eq(M.keyframe_requests, req + 1);
}
END_TEST

START_TEST(test_lapped_reader_resyncs)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;
	int req;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	publish(1, true, 640, 360, true);
	spin(50);
	req = M.keyframe_requests;
	/* 20 frames into 8 slots before the reader wakes up */
	for (int i = 0; i < 20; i++)
		publish((uint8_t)(10 + i), false, 640, 360, false);
	eventfd_write(M.efd, 1);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1);
	ck_assert_int_ge(M.keyframe_requests, req + 1);
	publish(40, true, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 2);
	ck_assert_int_eq(frame_of(1)->data.data[0], 40);
}
END_TEST

START_TEST(test_refresh_and_options)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	Hbb__OptionMessage opt = HBB__OPTION_MESSAGE__INIT;
	int req;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	publish(1, true, 640, 360, true);
	spin(50);
	req = M.keyframe_requests;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	misc.union_case = HBB__MISC__UNION_REFRESH_VIDEO;
	misc.refresh_video = true;
	ck_assert(kd_video_service.on_message(state, &m));
	spin(50);
	ck_assert_int_eq(M.keyframe_requests, req + 1);
	publish(2, false, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 1); /* P-frames wait for the refresh key */
	publish(3, true, 640, 360, true);
	spin(50);
	ck_assert_int_eq(W.n_sent, 2);
	/* Options are read, not consumed: audio and input need them too. */
	misc.union_case = HBB__MISC__UNION_OPTION;
	misc.option = &opt;
	opt.custom_image_quality = 50 << 8;
	opt.custom_fps = 20;
	uint32_t best_kbps = reported_kbps;
	ck_assert(!kd_video_service.on_message(state, &m));
	spin(50);
	ck_assert_uint_eq(M.ratio, 1000);
	ck_assert_uint_eq(M.fps, 20);
	/* TestDelay.target_bitrate follows the quality (spec §3.4 table). */
	ck_assert_uint_gt(best_kbps, 0);
	ck_assert_uint_lt(reported_kbps, best_kbps);
	ck_assert_uint_eq(reported_kbps,
			  kd_video_bitrate_kbps(KDIPC__CODEC__CODEC_H264, false,
						640, 360, 1.0));
	opt.custom_fps = 500; /* out of range: ignored */
	opt.custom_image_quality = 0;
	ck_assert(!kd_video_service.on_message(state, &m));
	spin(50);
	ck_assert_uint_eq(M.fps, 20);
	/* Other messages are left to other services. */
	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	ck_assert(!kd_video_service.on_message(state, &m));
}
END_TEST

START_TEST(test_encoding_update_after_login)
{
	Hbb__PeerInfo pi = HBB__PEER_INFO__INIT;

	kd_video_service.fill_peer_info(state, &pi);
	login();
	clear_sent(&W);
	send_status(2); /* unchanged: nothing to say */
	spin(50);
	ck_assert_int_eq(W.n_sent, 0);
	send_status(1); /* VP8 gone (e.g. mediad restarted with codecs=h264) */
	spin(50);
	ck_assert_int_eq(W.n_sent, 1);
	ck_assert_int_eq(W.sent[0]->misc->union_case,
			 HBB__MISC__UNION_SUPPORTED_ENCODING);
	ck_assert(W.sent[0]->misc->supported_encoding->h264);
	ck_assert(!W.sent[0]->misc->supported_encoding->vp8);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("video_service");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_peer_info_from_mediad);
	tcase_add_test(tc, test_key_first_then_stream);
	tcase_add_test(tc, test_switch_display_before_new_size);
	tcase_add_test(tc, test_slow_client_drops_to_keyframe);
	tcase_add_test(tc, test_deferred_key_request_without_frames);
	tcase_add_test(tc, test_lapped_reader_resyncs);
	tcase_add_test(tc, test_refresh_and_options);
	tcase_add_test(tc, test_encoding_update_after_login);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
