/* Unit tests of mediad's pieces that need no device: V4L2 format choice and
 * buffer conversion (YUYV, NV12, YUV420, MJPEG), the bitrate table, the
 * encoder thread fed a format it must convert, and the video service's codec
 * choice and quality mapping. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <linux/videodev2.h>

#include "encoder.h"
#include "video_bitrate.h"
#include "frame_ring.h"
#include "media_client.h"
#include "media_util.h"
#include "mjpeg_decoder.h"
#include <event2/event.h>
#include "paramsets.h"
#include "source.h"
#include "v4l2_format.h"
#include "video_service.h"

START_TEST(test_choose_exact_size_best_format)
{
	struct kd_v4l2_candidate c[] = {
		{ V4L2_PIX_FMT_MJPEG, 1920, 1080 },
		{ V4L2_PIX_FMT_YUYV, 1920, 1080 },
		{ V4L2_PIX_FMT_NV12, 1280, 720 },
		{ v4l2_fourcc('R', 'G', 'B', '3'), 1920, 1080 },
	}, out;

	ck_assert_int_eq(kd_v4l2_choose(c, 4, 1920, 1080, &out), 0);
	ck_assert_uint_eq(out.fourcc, V4L2_PIX_FMT_YUYV);
	ck_assert_uint_eq(out.width, 1920);
	ck_assert_int_eq(kd_v4l2_choose(c, 4, 1280, 720, &out), 0);
	ck_assert_uint_eq(out.fourcc, V4L2_PIX_FMT_NV12);
}
END_TEST

START_TEST(test_choose_nearest_size_and_unusable)
{
	struct kd_v4l2_candidate c[] = {
		{ V4L2_PIX_FMT_MJPEG, 640, 480 },
		{ V4L2_PIX_FMT_MJPEG, 1280, 720 },
		{ V4L2_PIX_FMT_MJPEG, 3840, 2160 },
	}, rgb[] = { { v4l2_fourcc('R', 'G', 'B', '3'), 1920, 1080 } }, out;

	ck_assert_int_eq(kd_v4l2_choose(c, 3, 1920, 1080, &out), 0);
	ck_assert_uint_eq(out.width, 1280);
	ck_assert_int_eq(kd_v4l2_choose(rgb, 1, 1920, 1080, &out), -ENOTSUP);
	ck_assert_int_eq(kd_v4l2_choose(c, 0, 1920, 1080, &out), -ENOTSUP);
}
END_TEST

START_TEST(test_convert_yuyv_with_padding)
{
	struct kd_v4l2_converter cv = { 0 };
	uint32_t w = 64, h = 32, bpl = 160;
	uint8_t *buf = calloc(bpl * h, 1);
	AVFrame *f = NULL;

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w * 2; x++)
			buf[y * bpl + x] = (uint8_t)(x + y);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUYV, w, h, bpl, buf,
					 bpl * h, &f), 0);
	ck_assert_int_eq(f->format, AV_PIX_FMT_YUYV422);
	ck_assert_int_eq(f->width, 64);
	ck_assert_int_eq(f->height, 32);
	for (uint32_t y = 0; y < h; y++)
		ck_assert_int_eq(memcmp(f->data[0] + y * f->linesize[0],
					buf + y * bpl, w * 2), 0);
	/* A short buffer (signal glitch) is refused, not read past. */
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUYV, w, h, bpl, buf,
					 bpl * h - 1, &f), -EBADMSG);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUYV, w, h, 64, buf,
					 bpl * h, &f), -EBADMSG);
	free(buf);
	kd_v4l2_converter_free(&cv);
}
END_TEST

START_TEST(test_convert_nv12_and_yuv420)
{
	struct kd_v4l2_converter cv = { 0 };
	uint32_t w = 32, h = 16;
	uint8_t buf[32 * 16 * 3 / 2];
	AVFrame *f = NULL;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_NV12, w, h, 0, buf,
					 sizeof(buf), &f), 0);
	ck_assert_int_eq(f->format, AV_PIX_FMT_NV12);
	ck_assert_int_eq(f->data[0][5 * f->linesize[0] + 7], buf[5 * 32 + 7]);
	ck_assert_int_eq(f->data[1][3 * f->linesize[1] + 9],
			 buf[32 * 16 + 3 * 32 + 9]);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUV420, w, h, 0, buf,
					 sizeof(buf), &f), 0);
	ck_assert_int_eq(f->format, AV_PIX_FMT_YUV420P);
	ck_assert_int_eq(f->data[1][2 * f->linesize[1] + 3],
			 buf[32 * 16 + 2 * 16 + 3]);
	ck_assert_int_eq(f->data[2][2 * f->linesize[2] + 3],
			 buf[32 * 16 + 16 * 8 + 2 * 16 + 3]);
	kd_v4l2_converter_free(&cv);
}
END_TEST

/* Every pooled frame still held by an encoder: the source skips. */
START_TEST(test_pool_exhaustion_skips)
{
	struct kd_v4l2_converter cv = { 0 };
	uint8_t buf[16 * 16 * 2];
	AVFrame *held[KD_SOURCE_POOL], *f = NULL;

	memset(buf, 1, sizeof(buf));
	for (int i = 0; i < KD_SOURCE_POOL; i++) {
		ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUYV, 16, 16,
						 0, buf, sizeof(buf), &f), 0);
		held[i] = av_frame_clone(f);
	}
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUYV, 16, 16, 0, buf,
					 sizeof(buf), &f), -EAGAIN);
	av_frame_free(&held[0]);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_YUYV, 16, 16, 0, buf,
					 sizeof(buf), &f), 0);
	for (int i = 1; i < KD_SOURCE_POOL; i++)
		av_frame_free(&held[i]);
	kd_v4l2_converter_free(&cv);
}
END_TEST

static AVPacket *make_jpeg(int w, int h)
{
	const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *ctx = avcodec_alloc_context3(enc);
	AVFrame *f = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();

	ctx->width = w;
	ctx->height = h;
	ctx->pix_fmt = AV_PIX_FMT_YUVJ422P;
	ctx->time_base = (AVRational){ 1, 30 };
	ck_assert_int_eq(avcodec_open2(ctx, enc, NULL), 0);
	f->format = ctx->pix_fmt;
	f->width = w;
	f->height = h;
	ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
	for (int p = 0; p < 3; p++)
		memset(f->data[p], 100 + p * 20,
		       (size_t)f->linesize[p] * (size_t)h);
	f->pts = 0;
	ck_assert_int_eq(avcodec_send_frame(ctx, f), 0);
	ck_assert_int_eq(avcodec_receive_packet(ctx, pkt), 0);
	av_frame_free(&f);
	avcodec_free_context(&ctx);
	return pkt;
}

START_TEST(test_convert_mjpeg)
{
	struct kd_v4l2_converter cv = { 0 };
	AVPacket *pkt = make_jpeg(320, 240);
	AVFrame *f = NULL;
	uint8_t junk[4096];

	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_MJPEG, 320, 240, 0,
					 pkt->data, (size_t)pkt->size, &f), 0);
	ck_assert_int_eq(f->width, 320);
	ck_assert_int_eq(f->height, 240);
	ck_assert_int_eq(f->format, AV_PIX_FMT_YUVJ422P);
	ck_assert_int_lt(abs(f->data[0][100] - 100), 3);
	/* A broken JPEG (torn capture) is a skipped frame, not a crash. */
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_MJPEG, 320, 240, 0,
					 junk, sizeof(junk), &f), -EBADMSG);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_MJPEG, 320, 240, 0,
					 pkt->data, (size_t)pkt->size / 3, &f),
			 -EBADMSG);
	ck_assert_int_eq(kd_v4l2_convert(&cv, V4L2_PIX_FMT_MJPEG, 320, 240, 0,
					 pkt->data, (size_t)pkt->size, &f), 0);
	av_packet_free(&pkt);
	kd_v4l2_converter_free(&cv);
}
END_TEST

struct mj_result {
	bool got;
	int w, h;
	uint64_t ns;
};

static void on_mj(void *ctx, const AVFrame *f, uint64_t ns)
{
	struct mj_result *r = ctx;

	r->got = true;
	r->w = f->width;
	r->h = f->height;
	r->ns = ns;
}

/* MJPEG decoded on a thread, handed back to the loop; broken JPEGs are
 * counted and produce nothing. */
START_TEST(test_mjpeg_decoder_thread)
{
	struct event_base *base = event_base_new();
	struct kd_mjpeg_decoder *d;
	struct mj_result r = { 0 };
	AVPacket *pkt = make_jpeg(320, 240);
	uint8_t junk[2048];
	bool never = false;

	ck_assert_int_eq(kd_mjpeg_decoder_create(base, on_mj, &r, &d), 0);
	kd_mjpeg_decoder_submit(d, pkt->data, (size_t)pkt->size, 1234);
	ck_assert(kd_test_run_until(base, &r.got, 5000));
	ck_assert_int_eq(r.w, 320);
	ck_assert_int_eq(r.h, 240);
	ck_assert_uint_eq(r.ns, 1234);
	r.got = false;
	memset(junk, 0x33, sizeof(junk));
	kd_mjpeg_decoder_submit(d, junk, sizeof(junk), 5);
	kd_test_run_until(base, &never, 200);
	ck_assert(!r.got);
	ck_assert_uint_eq(kd_mjpeg_decoder_errors(d), 1);
	kd_mjpeg_decoder_destroy(d);
	av_packet_free(&pkt);
	event_base_free(base);
}
END_TEST

START_TEST(test_bitrate_table)
{
	/* spec session §3.4 table: 1920x1080 Balanced = 1388 VPX, 2777 HW
	 * H.264; 1280x720 Low = 500 VPX. */
	ck_assert_int_lt(abs((int)kd_video_bitrate_kbps(
		KDIPC__CODEC__CODEC_VP9, false, 1920, 1080, 0.67) - 1388), 3);
	ck_assert_int_lt(abs((int)kd_video_bitrate_kbps(
		KDIPC__CODEC__CODEC_H264, true, 1920, 1080, 0.67) - 2777), 3);
	ck_assert_int_lt(abs((int)kd_video_bitrate_kbps(
		KDIPC__CODEC__CODEC_VP8, false, 1280, 720, 0.5) - 500), 3);
	ck_assert_int_lt(abs((int)kd_video_bitrate_kbps(
		KDIPC__CODEC__CODEC_H265, true, 1920, 1080, 1.5) - 3846), 5);
}
END_TEST

/* A YUYV frame goes into an encoder that only takes planar formats: the
 * encoder thread converts, publishes a keyframe of the right size. */
static void encode_and_check(uint32_t codec, int in_fmt)
{
	struct kd_encoder_choice choice;
	struct kd_frame_ring_params rp = { .codec = codec };
	struct kd_frame_ring_writer *ring;
	struct kd_frame_ring_reader *rd;
	struct kd_encoder *enc;
	struct kd_encoder_config cfg = { .fps = 30 };
	struct kd_frame_view fv;
	struct kd_test_decoder *dec;
	int efd = eventfd(0, EFD_CLOEXEC);
	AVFrame *f = av_frame_alloc();
	eventfd_t n;
	int w = 0, h = 0;

	ck_assert_int_eq(kd_encoder_probe(codec, 320, 240,
					  30, &choice), 0);
	cfg.choice = choice;
	ck_assert_int_eq(kd_frame_ring_writer_create(&rp, &ring), 0);
	ck_assert_int_eq(kd_encoder_start(&cfg, ring, efd, &enc), 0);
	f->format = in_fmt;
	f->width = 320;
	f->height = 240;
	ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
	for (int p = 0; p < 4 && f->data[p]; p++)
		memset(f->data[p], 128, (size_t)f->linesize[p] *
		       (size_t)(p ? 240 >> av_pix_fmt_desc_get(in_fmt)->log2_chroma_h
				  : 240));
	kd_encoder_submit(enc, f, kd_frame_ring_now_ns());
	ck_assert_int_eq(eventfd_read(efd, &n), 0); /* blocks until published */
	ck_assert_int_eq(kd_frame_ring_reader_open(kd_frame_ring_writer_fd(ring),
						   &rd), 0);
	ck_assert_int_eq(kd_frame_ring_peek(rd, 1, &fv), 0);
	ck_assert(fv.flags & KD_FRAME_FLAG_KEY);
	ck_assert_uint_eq(fv.width, 320);
	ck_assert_uint_eq(fv.height, 240);
	ck_assert(fv.encode_ns >= fv.capture_ns);
	dec = kd_test_decoder_new(codec);
	ck_assert_int_eq(kd_test_decode(dec, fv.data, fv.size, &w, &h), 1);
	ck_assert_int_eq(w, 320);
	/* clients get 4:2:0 whatever the capture format */
	ck_assert(kd_test_decoder_format(dec) == AV_PIX_FMT_YUV420P ||
		  kd_test_decoder_format(dec) == AV_PIX_FMT_YUVJ420P);
	kd_test_decoder_free(dec);
	kd_encoder_stop(enc);
	kd_frame_ring_reader_destroy(rd);
	kd_frame_ring_writer_destroy(ring);
	av_frame_free(&f);
	close(efd);
}

START_TEST(test_encoder_converts_and_publishes)
{
	encode_and_check(KDIPC__CODEC__CODEC_VP8, AV_PIX_FMT_YUYV422);
	/* libx264 would take 4:2:2 as is; clients need 4:2:0 */
	encode_and_check(KDIPC__CODEC__CODEC_H264, AV_PIX_FMT_YUVJ422P);
	encode_and_check(KDIPC__CODEC__CODEC_H264, AV_PIX_FMT_NV12);
}
END_TEST

/* The source changes size (an HDMI mode switch): the encoder reopens and
 * the first frame at the new size is a keyframe; a keyframe request is
 * honoured on the next frame. */
START_TEST(test_encoder_resize_and_keyframe_request)
{
	struct kd_encoder_choice choice;
	struct kd_frame_ring_params rp = { .codec = KDIPC__CODEC__CODEC_H264 };
	struct kd_frame_ring_writer *ring;
	struct kd_frame_ring_reader *rd;
	struct kd_encoder *enc;
	struct kd_encoder_config cfg = { .fps = 30 };
	struct kd_frame_view fv;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
	static const struct { int w, h; bool want_key, ask_key; } steps[] = {
		{ 320, 240, true, false }, { 320, 240, false, false },
		{ 640, 360, true, false }, { 640, 360, false, false },
		{ 640, 360, true, true }, { 640, 360, false, false },
	};
	uint64_t t = kd_frame_ring_now_ns();
	eventfd_t n;

	ck_assert_int_eq(kd_encoder_probe(KDIPC__CODEC__CODEC_H264, 320, 240,
					  30, &choice), 0);
	cfg.choice = choice;
	ck_assert_int_eq(kd_frame_ring_writer_create(&rp, &ring), 0);
	ck_assert_int_eq(kd_frame_ring_reader_open(kd_frame_ring_writer_fd(ring),
						   &rd), 0);
	ck_assert_int_eq(kd_encoder_start(&cfg, ring, efd, &enc), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		AVFrame *f = av_frame_alloc();

		f->format = AV_PIX_FMT_YUV420P;
		f->width = steps[i].w;
		f->height = steps[i].h;
		ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
		for (int p = 0; p < 3; p++)
			memset(f->data[p], (int)(60 + i * 20),
			       (size_t)f->linesize[p] * (size_t)(p ? f->height / 2
								 : f->height));
		if (steps[i].ask_key)
			kd_encoder_request_keyframe(enc);
		t += 40000000; /* 25 fps: never skipped by the fps ceiling */
		kd_encoder_submit(enc, f, t);
		ck_assert_int_eq(eventfd_read(efd, &n), 0);
		ck_assert_int_eq(kd_frame_ring_peek(rd, i + 1, &fv), 0);
		ck_assert_uint_eq(fv.width, (uint32_t)steps[i].w);
		ck_assert_msg(!!(fv.flags & KD_FRAME_FLAG_KEY) == steps[i].want_key,
			      "frame %zu key flag", i);
		av_frame_free(&f);
	}
	kd_encoder_stop(enc);
	kd_frame_ring_reader_destroy(rd);
	kd_frame_ring_writer_destroy(ring);
	close(efd);
}
END_TEST

static uint64_t pictures_done(struct kd_encoder *enc)
{
	struct kd_encoder_stats st;

	kd_encoder_get_stats(enc, &st);
	return st.pictures;
}

static void submit_and_wait(struct kd_encoder *enc, AVFrame *f, uint64_t *t)
{
	uint64_t before = pictures_done(enc);

	*t += 40000000; /* 25 fps: never over the fps ceiling */
	kd_encoder_submit(enc, f, *t);
	for (int i = 0; i < 2000 && pictures_done(enc) == before; i++)
		usleep(1000);
	ck_assert_uint_eq(pictures_done(enc), before + 1);
}

/* A still screen (HDMI capture repeats the same picture): the picture is
 * encoded KD_ENCODER_STILL_REPEATS more times, then not at all, until it
 * changes or a keyframe is asked for. */
START_TEST(test_encoder_still_screen)
{
	struct kd_encoder_choice choice;
	struct kd_frame_ring_params rp = { .codec = KDIPC__CODEC__CODEC_H264 };
	struct kd_frame_ring_writer *ring;
	struct kd_frame_ring_reader *rd;
	struct kd_encoder *enc;
	struct kd_encoder_config cfg = { .fps = 30 };
	struct kd_encoder_stats st;
	struct kd_frame_view fv;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	AVFrame *f = av_frame_alloc();
	uint64_t t = kd_frame_ring_now_ns();

	ck_assert_int_eq(kd_encoder_probe(KDIPC__CODEC__CODEC_H264, 320, 240,
					  30, &choice), 0);
	cfg.choice = choice;
	ck_assert_int_eq(kd_frame_ring_writer_create(&rp, &ring), 0);
	ck_assert_int_eq(kd_frame_ring_reader_open(kd_frame_ring_writer_fd(ring),
						   &rd), 0);
	ck_assert_int_eq(kd_encoder_start(&cfg, ring, efd, &enc), 0);
	f->format = AV_PIX_FMT_YUV420P;
	f->width = 320;
	f->height = 240;
	ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
	kd_testpattern_render(f, 1);

	for (int i = 0; i < 1 + KD_ENCODER_STILL_REPEATS + 5; i++)
		submit_and_wait(enc, f, &t);
	kd_encoder_get_stats(enc, &st);
	ck_assert_uint_eq(st.frames, 1 + KD_ENCODER_STILL_REPEATS);
	ck_assert_uint_eq(st.unchanged, 5);

	/* A viewer asks for a keyframe: the still picture is sent again. */
	kd_encoder_request_keyframe(enc);
	submit_and_wait(enc, f, &t);
	kd_encoder_get_stats(enc, &st);
	ck_assert_uint_eq(st.frames, 2 + KD_ENCODER_STILL_REPEATS);
	ck_assert_int_eq(kd_frame_ring_peek(rd, st.frames, &fv), 0);
	ck_assert(fv.flags & KD_FRAME_FLAG_KEY);
	submit_and_wait(enc, f, &t);
	kd_encoder_get_stats(enc, &st);
	ck_assert_uint_eq(st.unchanged, 6);

	/* One changed pixel, at the very end of the last plane: encoded, and
	 * the count of repeats starts again. */
	ck_assert_int_eq(av_frame_make_writable(f), 0);
	f->data[2][(size_t)f->linesize[2] * 119 + 159] ^= 0x40;
	for (int i = 0; i < 1 + KD_ENCODER_STILL_REPEATS + 2; i++)
		submit_and_wait(enc, f, &t);
	kd_encoder_get_stats(enc, &st);
	ck_assert_uint_eq(st.frames, 3 + 2 * KD_ENCODER_STILL_REPEATS);
	ck_assert_uint_eq(st.unchanged, 8);

	kd_encoder_stop(enc);
	kd_frame_ring_reader_destroy(rd);
	kd_frame_ring_writer_destroy(ring);
	av_frame_free(&f);
	close(efd);
}
END_TEST

static struct kd_media_status offers(int n, const uint32_t *codecs,
				     const bool *hw)
{
	struct kd_media_status st = { .width = 640, .height = 360 };

	for (int i = 0; i < n; i++) {
		st.codecs[i].codec = codecs[i];
		st.codecs[i].hardware = hw ? hw[i] : false;
	}
	st.n_codecs = (uint32_t)n;
	return st;
}

START_TEST(test_choose_codec)
{
	uint32_t all[] = { KDIPC__CODEC__CODEC_H264, KDIPC__CODEC__CODEC_H265,
			   KDIPC__CODEC__CODEC_VP8, KDIPC__CODEC__CODEC_VP9,
			   KDIPC__CODEC__CODEC_AV1 };
	bool hw265[] = { false, true, false, false, false };
	struct kd_media_status st = offers(5, all, NULL);
	Hbb__SupportedDecoding sd = HBB__SUPPORTED_DECODING__INIT;

	/* No SupportedDecoding: VP9 only (spec §2.3). */
	ck_assert_uint_eq(kd_video_choose_codec(NULL, &st),
			  KDIPC__CODEC__CODEC_VP9);
	sd.ability_vp9 = sd.ability_vp8 = sd.ability_h264 = sd.ability_h265 =
		sd.ability_av1 = 1;
	ck_assert_uint_eq(kd_video_choose_codec(&sd, &st),
			  KDIPC__CODEC__CODEC_H264);
	sd.prefer = HBB__SUPPORTED_DECODING__PREFER_CODEC__AV1;
	ck_assert_uint_eq(kd_video_choose_codec(&sd, &st),
			  KDIPC__CODEC__CODEC_AV1);
	/* a preference the client cannot decode is ignored */
	sd.ability_av1 = 0;
	ck_assert_uint_eq(kd_video_choose_codec(&sd, &st),
			  KDIPC__CODEC__CODEC_H264);
	sd.prefer = 0;
	sd.ability_h264 = 0;
	ck_assert_uint_eq(kd_video_choose_codec(&sd, &st),
			  KDIPC__CODEC__CODEC_VP8);
	/* hardware first */
	st = offers(5, all, hw265);
	sd.ability_h264 = 1;
	ck_assert_uint_eq(kd_video_choose_codec(&sd, &st),
			  KDIPC__CODEC__CODEC_H265);
	/* nothing in common */
	st = offers(1, all, NULL);
	sd.ability_h264 = 0;
	ck_assert_uint_eq(kd_video_choose_codec(&sd, &st), 0);
}
END_TEST

START_TEST(test_quality_ratio)
{
	Hbb__OptionMessage o = HBB__OPTION_MESSAGE__INIT;

	ck_assert_uint_eq(kd_video_quality_ratio(&o), 0);
	o.image_quality = HBB__IMAGE_QUALITY__Best;
	ck_assert_uint_eq(kd_video_quality_ratio(&o), 1500);
	o.image_quality = HBB__IMAGE_QUALITY__Balanced;
	ck_assert_uint_eq(kd_video_quality_ratio(&o), 670);
	o.image_quality = HBB__IMAGE_QUALITY__Low;
	ck_assert_uint_eq(kd_video_quality_ratio(&o), 500);
	o.image_quality = HBB__IMAGE_QUALITY__NotSet;
	o.custom_image_quality = 50 << 8;  /* 50 % -> 1.0 */
	ck_assert_uint_eq(kd_video_quality_ratio(&o), 1000);
	o.custom_image_quality = 5 << 8;   /* clamped to 0.2 */
	ck_assert_uint_eq(kd_video_quality_ratio(&o), 200);
	o.custom_image_quality = 4000 << 8; /* clamped to 40 */
	ck_assert_uint_eq(kd_video_quality_ratio(&o), 40000);
}
END_TEST

START_TEST(test_paramsets_h264)
{
	struct kd_paramsets ps;
	/* SPS (3-byte start code), PPS, IDR slice */
	static const uint8_t key_with[] = {
		0, 0, 1, 0x67, 0x42, 0x00, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x38,
		0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00 };
	static const uint8_t idr_only[] = { 0, 0, 0, 1, 0x65, 0x88, 0x80 };
	static const uint8_t p_slice[] = { 0, 0, 0, 1, 0x41, 0x9a, 0x02 };
	static const uint8_t want[] = { 0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1f,
					0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80 };

	kd_paramsets_init(&ps, false);
	ck_assert(!kd_paramsets_scan(&ps, idr_only, sizeof(idr_only)));
	ck_assert_uint_eq(kd_paramsets_prefix(&ps, idr_only, sizeof(idr_only)),
			  0); /* nothing known yet */
	ck_assert(kd_paramsets_scan(&ps, key_with, sizeof(key_with)));
	ck_assert_uint_eq(kd_paramsets_prefix(&ps, key_with, sizeof(key_with)),
			  0);
	ck_assert_uint_eq(ps.len, sizeof(want));
	ck_assert_int_eq(memcmp(ps.buf, want, sizeof(want)), 0);
	ck_assert(!kd_paramsets_scan(&ps, p_slice, sizeof(p_slice)));
	ck_assert_uint_eq(ps.len, sizeof(want)); /* kept */
	ck_assert_uint_eq(kd_paramsets_prefix(&ps, idr_only, sizeof(idr_only)),
			  sizeof(want));
}
END_TEST

START_TEST(test_paramsets_hevc)
{
	struct kd_paramsets ps;
	/* VPS (32), SPS (33), PPS (34), IDR_W_RADL (19) */
	static const uint8_t key[] = {
		0, 0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 0, 1, 0x42, 0x01, 0x01,
		0, 0, 0, 1, 0x44, 0x01, 0xc1, 0, 0, 0, 1, 0x26, 0x01, 0xaf };
	static const uint8_t idr[] = { 0, 0, 0, 1, 0x26, 0x01, 0xaf, 0x10 };

	kd_paramsets_init(&ps, true);
	ck_assert(kd_paramsets_scan(&ps, key, sizeof(key)));
	ck_assert_uint_eq(ps.len, 21);
	ck_assert_uint_eq(kd_paramsets_prefix(&ps, idr, sizeof(idr)), 21);
	ck_assert_uint_eq(kd_paramsets_prefix(&ps, key, sizeof(key)), 0);
	/* garbage without start codes: nothing found, nothing kept */
	ck_assert(!kd_paramsets_scan(&ps, (const uint8_t *)"\x42\x01", 2));
	ck_assert_uint_eq(ps.len, 21);
}
END_TEST

/* The test pattern source redraws only what changes (luma each picture,
 * chroma once per pool frame): every picture it hands out must still equal
 * a full render of that picture number, pool frames reused or not. */
struct tp_check {
	AVFrame *ref, *held;
	uint64_t n;
	int mismatches;
	bool done;
};

static bool same_picture(const AVFrame *a, const AVFrame *b)
{
	for (int p = 0; p < 3; p++) {
		int h = p ? a->height / 2 : a->height;
		int w = p ? a->width / 2 : a->width;

		for (int y = 0; y < h; y++)
			if (memcmp(a->data[p] + (size_t)y * a->linesize[p],
				   b->data[p] + (size_t)y * b->linesize[p],
				   (size_t)w))
				return false;
	}
	return true;
}

static void tp_frame(void *ctx, const AVFrame *f, uint64_t capture_ns)
{
	struct tp_check *c = ctx;

	kd_testpattern_render(c->ref, ++c->n);
	c->mismatches += !same_picture(f, c->ref);
	/* Hold every third picture for a tick: the pool hands out its
	 * other frames too. */
	av_frame_free(&c->held);
	if (c->n % 3 == 0)
		c->held = av_frame_clone(f);
	/* Scribble on the reference so a stale plane cannot match by luck. */
	memset(c->ref->data[1], 0, (size_t)c->ref->linesize[1] * 4);
	if (c->n == 12)
		c->done = true;
}

START_TEST(test_testpattern_source_matches_full_render)
{
	struct event_base *base = event_base_new();
	struct tp_check c = { .ref = av_frame_alloc() };
	struct kd_source_callbacks cb = { .frame = tp_frame, .ctx = &c };
	struct kd_source *src;

	c.ref->format = AV_PIX_FMT_YUV420P;
	c.ref->width = 64;
	c.ref->height = 48;
	ck_assert_int_eq(av_frame_get_buffer(c.ref, 0), 0);
	ck_assert_int_eq(kd_testpattern_create(base, 64, 48, 120, &cb, &src), 0);
	kd_source_set_active(src, true);
	while (!c.done)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(c.mismatches, 0);
	kd_source_destroy(src);
	av_frame_free(&c.held);
	av_frame_free(&c.ref);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("media_units");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_choose_exact_size_best_format);
	tcase_add_test(tc, test_choose_nearest_size_and_unusable);
	tcase_add_test(tc, test_convert_yuyv_with_padding);
	tcase_add_test(tc, test_convert_nv12_and_yuv420);
	tcase_add_test(tc, test_pool_exhaustion_skips);
	tcase_add_test(tc, test_testpattern_source_matches_full_render);
	tcase_add_test(tc, test_convert_mjpeg);
	tcase_add_test(tc, test_bitrate_table);
	tcase_add_test(tc, test_mjpeg_decoder_thread);
	tcase_add_test(tc, test_encoder_converts_and_publishes);
	tcase_add_test(tc, test_choose_codec);
	tcase_add_test(tc, test_quality_ratio);
	tcase_add_test(tc, test_paramsets_h264);
	tcase_add_test(tc, test_encoder_resize_and_keyframe_request);
	tcase_add_test(tc, test_encoder_still_screen);
	tcase_add_test(tc, test_paramsets_hevc);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
