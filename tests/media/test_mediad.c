/* Integration: the real mediad (testpattern 640x360@30) seen through the
 * worker's link (common/media_client): every codec it offers decodes, a
 * refresh gives a keyframe quickly, mediad can be killed and restarted under
 * a subscriber, and bad peers lose only their own connection. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "frame_ring.h"
#include "ipc.h"
#include "kvmdesk_ipc.pb-c.h"
#include "media_client.h"
#include "media_util.h"
#include "unix_socket.h"

#define W 640
#define H 360

struct viewer {
	struct event_base *base;
	struct kd_media_client *mc;
	struct kd_test_decoder *dec;
	uint32_t codec;
	bool got_status, subscribed, lost;
	int sub_error;
	uint64_t next;          /* next frame wanted */
	bool need_key;
	int frames, keyframes, errors, bad_size, no_picture, dropped;
	int target;
	bool done;
	bool saw_key;           /* set when a keyframe arrives */
	uint64_t key_at_ms;
};

static void v_status(void *ctx, const struct kd_media_status *st)
{
	struct viewer *v = ctx;

	v->got_status = true;
}

static void v_subscribed(void *ctx, uint32_t codec, int error)
{
	struct viewer *v = ctx;
	struct kd_frame_ring_reader *r = kd_media_client_ring(v->mc);

	v->subscribed = error == 0;
	v->sub_error = error;
	v->lost = false;
	v->need_key = true;
	/* Start at what is newest now; a keyframe is on its way. */
	v->next = r ? kd_frame_ring_latest(r) + 1 : 1;
	kd_test_decoder_free(v->dec);
	v->dec = kd_test_decoder_new(codec);
}

static void v_frames(void *ctx)
{
	struct viewer *v = ctx;
	struct kd_frame_ring_reader *r = kd_media_client_ring(v->mc);
	uint8_t *copy;

	for (;;) {
		struct kd_frame_view fv;
		int ret = kd_frame_ring_peek(r, v->next, &fv);
		int w = 0, h = 0, n;

		if (ret == KD_FRAME_RING_EMPTY)
			return;
		if (ret == KD_FRAME_RING_LAPPED) {
			v->dropped++;
			v->need_key = true;
			v->next = kd_frame_ring_latest(r);
			kd_media_client_request_keyframe(v->mc);
			continue;
		}
		ck_assert_int_eq(ret, 0);
		copy = malloc(fv.size);
		memcpy(copy, fv.data, fv.size);
		v->next = fv.seq + 1;
		if (kd_frame_ring_verify(r, &fv) != 0) {
			free(copy);
			v->dropped++;
			v->need_key = true;
			continue;
		}
		if (fv.flags & KD_FRAME_FLAG_KEY) {
			v->keyframes++;
			v->saw_key = true;
			v->key_at_ms = kd_test_now_ms();
			v->need_key = false;
		}
		if (!v->need_key && !v->done) {
			n = kd_test_decode(v->dec, copy, fv.size, &w, &h);
			if (n < 0)
				v->errors++;
			else if (n != 1)
				v->no_picture++;
			else if (w != W || h != H)
				v->bad_size++;
			ck_assert_uint_eq(fv.width, W);
			ck_assert_uint_eq(fv.height, H);
			if (++v->frames >= v->target)
				v->done = true;
		}
		free(copy);
	}
}

static void v_lost(void *ctx)
{
	struct viewer *v = ctx;

	v->lost = true;
	v->subscribed = false;
}

static void viewer_init(struct viewer *v, struct event_base *base,
			const char *sock)
{
	struct kd_media_client_callbacks cb = {
		.status = v_status, .subscribed = v_subscribed,
		.frames = v_frames, .lost = v_lost, .ctx = v,
	};

	memset(v, 0, sizeof(*v));
	v->base = base;
	ck_assert_int_eq(kd_media_client_create(base, sock, 7, &cb, &v->mc), 0);
	ck_assert(kd_test_run_until(base, &v->got_status, 5000));
}

static void viewer_free(struct viewer *v)
{
	kd_media_client_destroy(v->mc);
	kd_test_decoder_free(v->dec);
}

static struct kd_test_mediad md;

static void setup(void)
{
	ck_assert_int_eq(kd_test_mediad_setup(&md, W, H, 30), 0);
	ck_assert_int_eq(kd_test_mediad_start(&md), 0);
}

static void teardown(void)
{
	kd_test_mediad_cleanup(&md);
}

START_TEST(test_status_offers_codecs)
{
	struct event_base *base = event_base_new();
	struct viewer v;
	const struct kd_media_status *st;

	viewer_init(&v, base, md.sock);
	st = kd_media_client_status(v.mc);
	ck_assert_uint_eq(st->width, W);
	ck_assert_uint_eq(st->height, H);
	ck_assert_uint_eq(st->fps, 30);
	ck_assert(st->signal);
	ck_assert_str_eq(st->source, "testpattern");
	/* VP9 is every client's baseline (spec session 1.2). */
	ck_assert(kd_media_client_offers(v.mc, KDIPC__CODEC__CODEC_VP9));
	ck_assert(kd_media_client_offers(v.mc, KDIPC__CODEC__CODEC_H264));
	viewer_free(&v);
	event_base_free(base);
}
END_TEST

/* _i: index into the codecs; those mediad does not offer are skipped. */
START_TEST(test_codec_decodes)
{
	static const uint32_t codecs[] = {
		KDIPC__CODEC__CODEC_H264, KDIPC__CODEC__CODEC_H265,
		KDIPC__CODEC__CODEC_VP8, KDIPC__CODEC__CODEC_VP9,
		KDIPC__CODEC__CODEC_AV1,
	};
	struct event_base *base = event_base_new();
	struct viewer v;
	uint32_t codec = codecs[_i];

	viewer_init(&v, base, md.sock);
	if (!kd_media_client_offers(v.mc, codec)) {
		fprintf(stderr, "codec %u not offered: skipped\n", codec);
		goto out;
	}
	v.target = 60;
	ck_assert_int_eq(kd_media_client_subscribe(v.mc, codec), 0);
	ck_assert(kd_test_run_until(base, &v.subscribed, 5000));
	ck_assert_ptr_nonnull(v.dec);
	ck_assert(kd_test_run_until(base, &v.done, 20000));
	ck_assert_int_eq(v.frames, 60);
	ck_assert_int_ge(v.keyframes, 1);
	ck_assert_int_eq(v.errors, 0);
	ck_assert_int_eq(v.no_picture, 0);
	ck_assert_int_eq(v.bad_size, 0);
out:
	viewer_free(&v);
	event_base_free(base);
}
END_TEST

START_TEST(test_refresh_keyframe_fast)
{
	struct event_base *base = event_base_new();
	struct viewer v;
	uint64_t asked;

	viewer_init(&v, base, md.sock);
	v.target = 1000000;
	kd_media_client_subscribe(v.mc, KDIPC__CODEC__CODEC_H264);
	ck_assert(kd_test_run_until(base, &v.subscribed, 5000));
	ck_assert(kd_test_run_until(base, &v.saw_key, 3000));
	for (int i = 0; i < 5; i++) {
		bool never = false;

		kd_test_run_until(base, &never, 300); /* stream P-frames */
		v.saw_key = false;
		asked = kd_test_now_ms();
		ck_assert_int_eq(kd_media_client_request_keyframe(v.mc), 0);
		ck_assert(kd_test_run_until(base, &v.saw_key, 1000));
		ck_assert_msg(v.key_at_ms - asked <= 200,
			      "keyframe after %llu ms",
			      (unsigned long long)(v.key_at_ms - asked));
	}
	ck_assert_int_eq(v.errors, 0);
	viewer_free(&v);
	event_base_free(base);
}
END_TEST

START_TEST(test_restart_mediad)
{
	struct event_base *base = event_base_new();
	struct viewer v;
	uint64_t t0;
	int before;

	viewer_init(&v, base, md.sock);
	v.target = 1000000;
	kd_media_client_subscribe(v.mc, KDIPC__CODEC__CODEC_VP9);
	ck_assert(kd_test_run_until(base, &v.subscribed, 5000));
	ck_assert(kd_test_run_until(base, &v.saw_key, 3000));
	kd_test_mediad_kill(&md, SIGKILL);
	ck_assert(kd_test_run_until(base, &v.lost, 3000));
	ck_assert_int_eq(kd_test_mediad_start(&md), 0);
	t0 = kd_test_now_ms();
	v.saw_key = false;
	before = v.frames;
	ck_assert(kd_test_run_until(base, &v.saw_key, 3000));
	ck_assert_msg(kd_test_now_ms() - t0 < 3000, "no frames within 3 s");
	{
		bool never = false;

		kd_test_run_until(base, &never, 500);
	}
	ck_assert_int_gt(v.frames, before + 5);
	ck_assert_int_eq(v.errors, 0);
	ck_assert_int_eq(v.no_picture, 0);
	viewer_free(&v);
	event_base_free(base);
}
END_TEST

/* Garbage, or an fd on the wrong message, closes that connection only. */
START_TEST(test_malformed_closes_only_that_connection)
{
	struct event_base *base = event_base_new();
	struct viewer v;
	int bad = kd_unix_connect(md.sock), n = 0;
	char buf[256];
	bool never = false;

	viewer_init(&v, base, md.sock);
	v.target = 1000000;
	kd_media_client_subscribe(v.mc, KDIPC__CODEC__CODEC_VP8);
	ck_assert(kd_test_run_until(base, &v.subscribed, 5000));
	ck_assert_int_ge(bad, 0);
	ck_assert_int_eq(kd_unix_send(bad, "\xff\xff\xff\xff garbage", 12, -1),
			 0);
	/* mediad closes it: recv returns 0 (after nothing). */
	for (int i = 0; i < 200; i++) {
		ssize_t r = kd_unix_recv(bad, buf, sizeof(buf), NULL);

		if (r == 0) {
			n = 1;
			break;
		}
		usleep(10000);
	}
	ck_assert_int_eq(n, 1);
	close(bad);
	kd_test_run_until(base, &never, 500);
	ck_assert(!v.lost);
	n = v.frames;
	kd_test_run_until(base, &never, 500);
	ck_assert_int_gt(v.frames, n);
	viewer_free(&v);
	event_base_free(base);
}
END_TEST

/* Waits until mediad closes fd (recv 0), skipping what it sent first. */
static bool closed_by_peer(int fd)
{
	char buf[4096];

	for (int i = 0; i < 300; i++) {
		ssize_t r = kd_unix_recv(fd, buf, sizeof(buf), NULL);

		if (r == 0)
			return true;
		if (r == -EAGAIN)
			usleep(10000);
	}
	return false;
}

/* Subscribe must carry an eventfd: a pipe (which could block mediad's
 * loop when full) closes that connection. */
START_TEST(test_subscribe_with_pipe_refused)
{
	int fd = kd_unix_connect(md.sock), p[2];
	Kdipc__WorkerToMedia m = KDIPC__WORKER_TO_MEDIA__INIT;
	Kdipc__Subscribe sub = KDIPC__SUBSCRIBE__INIT;
	Kdipc__Hello hello;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pipe(p), 0);
	kd_ipc_hello_init(&hello, "sessiond-worker", 9);
	m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_HELLO;
	m.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(fd, &m.base, -1), 0);
	sub.codec = KDIPC__CODEC__CODEC_VP8;
	m.msg_case = KDIPC__WORKER_TO_MEDIA__MSG_SUBSCRIBE;
	m.subscribe = &sub;
	ck_assert_int_eq(kd_ipc_send(fd, &m.base, p[1]), 0);
	ck_assert(closed_by_peer(fd));
	close(fd);
	close(p[0]);
	close(p[1]);
	/* mediad is still there for everybody else */
	fd = kd_unix_connect(md.sock);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

/* mediad's one-line state from its control socket. */
static void ctl_state(char *out, size_t len)
{
	int fd = kd_unix_connect(md.ctl_sock);
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__Hello hello;
	int got = 0;

	ck_assert_int_ge(fd, 0);
	kd_ipc_hello_init(&hello, "kvmdeskctl", 0);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	req.hello = &hello;
	kd_ipc_send(fd, &req.base, -1);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	kd_ipc_send(fd, &req.base, -1);
	for (int i = 0; i < 500 && got < 2; i++) {
		ProtobufCMessage *msg = NULL;
		int r = kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, &msg,
				    NULL);

		if (r == -EAGAIN) {
			usleep(10000);
			continue;
		}
		ck_assert_int_eq(r, 0);
		if (((Kdipc__CtlReply *)msg)->msg_case ==
		    KDIPC__CTL_REPLY__MSG_STATUS)
			snprintf(out, len, "%s",
				 ((Kdipc__CtlReply *)msg)->status->state);
		protobuf_c_message_free_unpacked(msg, NULL);
		got++;
	}
	close(fd);
}

/* Encoding happens only while somebody watches. */
START_TEST(test_no_viewer_no_encoder)
{
	struct event_base *base = event_base_new();
	struct viewer v;
	char line[256];
	bool never = false;

	ctl_state(line, sizeof(line));
	ck_assert_ptr_null(strstr(line, "vp8:"));
	viewer_init(&v, base, md.sock);
	v.target = 1000000;
	kd_media_client_subscribe(v.mc, KDIPC__CODEC__CODEC_VP8);
	ck_assert(kd_test_run_until(base, &v.subscribed, 5000));
	ctl_state(line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "vp8:1"));
	kd_media_client_unsubscribe(v.mc);
	kd_test_run_until(base, &never, 200);
	ctl_state(line, sizeof(line));
	ck_assert_msg(strstr(line, "vp8:") == NULL, "still encoding: %s", line);
	viewer_free(&v);
	event_base_free(base);
}
END_TEST

START_TEST(test_ctl_status)
{
	int fd = kd_unix_connect(md.ctl_sock);
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__Hello hello;
	ProtobufCMessage *msg = NULL;
	Kdipc__CtlReply *rep;
	int r = -EAGAIN;

	ck_assert_int_ge(fd, 0);
	kd_ipc_hello_init(&hello, "kvmdeskctl", 0);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	req.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(fd, &req.base, -1), 0);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	ck_assert_int_eq(kd_ipc_send(fd, &req.base, -1), 0);
	for (int got = 0; got < 2;) {
		r = kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, &msg, NULL);
		if (r == -EAGAIN) {
			usleep(10000);
			continue;
		}
		ck_assert_int_eq(r, 0);
		rep = (Kdipc__CtlReply *)msg;
		if (got++ == 0) {
			ck_assert_int_eq(rep->msg_case,
					 KDIPC__CTL_REPLY__MSG_HELLO);
		} else {
			ck_assert_int_eq(rep->msg_case,
					 KDIPC__CTL_REPLY__MSG_STATUS);
			ck_assert_str_eq(rep->status->component, "mediad");
			ck_assert_int_eq(rep->status->pid, md.pid);
			ck_assert_ptr_nonnull(strstr(rep->status->state,
						     "testpattern 640x360@30"));
			ck_assert_int_ge(rep->status->n_details, 2);
		}
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	close(fd);
}
END_TEST

/* A capture device that is not there: mediad still starts, offers its
 * encoders, reports no signal, retries in the background and says so once
 * - not once per retry. */
START_TEST(test_missing_device_logged_once)
{
	struct kd_test_mediad dev;
	struct event_base *base = event_base_new();
	struct viewer v;
	bool never = false;

	ck_assert_int_eq(kd_test_mediad_setup_source(&dev, "/dev/video-kd-none",
						     W, H, 30), 0);
	ck_assert_int_eq(kd_test_mediad_start(&dev), 0);
	viewer_init(&v, base, dev.sock);
	ck_assert(!kd_media_client_status(v.mc)->signal);
	ck_assert(kd_media_client_offers(v.mc, KDIPC__CODEC__CODEC_VP8));
	v.target = 1;
	kd_media_client_subscribe(v.mc, KDIPC__CODEC__CODEC_VP8);
	ck_assert(kd_test_run_until(base, &v.subscribed, 5000));
	kd_test_run_until(base, &never, 3000); /* several retries */
	ck_assert_int_eq(v.frames, 0);
	ck_assert_int_eq(kd_test_mediad_log_count(&dev, "lost"), 1);
	viewer_free(&v);
	event_base_free(base);
	kd_test_mediad_cleanup(&dev);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad");
	TCase *tc = tcase_create("integration");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_status_offers_codecs);
	tcase_add_loop_test(tc, test_codec_decodes, 0, 5);
	tcase_add_test(tc, test_refresh_keyframe_fast);
	tcase_add_test(tc, test_restart_mediad);
	tcase_add_test(tc, test_malformed_closes_only_that_connection);
	tcase_add_test(tc, test_ctl_status);
	tcase_add_test(tc, test_no_viewer_no_encoder);
	tcase_add_test(tc, test_subscribe_with_pipe_refused);
	tcase_add_test(tc, test_missing_device_logged_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
