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
#include <linux/videodev2.h>

#include "encoder.h"
#include "frame_ring.h"
#include "media_client.h"
#include "media_util.h"
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

START_TEST(test_bitrate_table)
{
	/* spec session §3.4 table: 1920x1080 Balanced = 1388 VPX, 2777 HW
	 * H.264; 1280x720 Low = 500 VPX. */
	ck_assert_int_lt(abs((int)kd_encoder_bitrate_kbps(
		KDIPC__CODEC__CODEC_VP9, false, 1920, 1080, 0.67) - 1388), 3);
	ck_assert_int_lt(abs((int)kd_encoder_bitrate_kbps(
		KDIPC__CODEC__CODEC_H264, true, 1920, 1080, 0.67) - 2777), 3);
	ck_assert_int_lt(abs((int)kd_encoder_bitrate_kbps(
		KDIPC__CODEC__CODEC_VP8, false, 1280, 720, 0.5) - 500), 3);
	ck_assert_int_lt(abs((int)kd_encoder_bitrate_kbps(
		KDIPC__CODEC__CODEC_H265, true, 1920, 1080, 1.5) - 3846), 5);
}
END_TEST

/* A YUYV frame goes into an encoder that only takes planar formats: the
 * encoder thread converts, publishes a keyframe of the right size. */
START_TEST(test_encoder_converts_and_publishes)
{
	struct kd_encoder_choice choice;
	struct kd_frame_ring_params rp = { .codec = KDIPC__CODEC__CODEC_VP8 };
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

	ck_assert_int_eq(kd_encoder_probe(KDIPC__CODEC__CODEC_VP8, 320, 240,
					  30, &choice), 0);
	cfg.choice = choice;
	ck_assert_int_eq(kd_frame_ring_writer_create(&rp, &ring), 0);
	ck_assert_int_eq(kd_encoder_start(&cfg, ring, efd, &enc), 0);
	f->format = AV_PIX_FMT_YUYV422;
	f->width = 320;
	f->height = 240;
	ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
	memset(f->data[0], 128, (size_t)f->linesize[0] * 240);
	kd_encoder_submit(enc, f, kd_frame_ring_now_ns());
	ck_assert_int_eq(eventfd_read(efd, &n), 0); /* blocks until published */
	ck_assert_int_eq(kd_frame_ring_reader_open(kd_frame_ring_writer_fd(ring),
						   &rd), 0);
	ck_assert_int_eq(kd_frame_ring_peek(rd, 1, &fv), 0);
	ck_assert(fv.flags & KD_FRAME_FLAG_KEY);
	ck_assert_uint_eq(fv.width, 320);
	ck_assert_uint_eq(fv.height, 240);
	ck_assert(fv.encode_ns >= fv.capture_ns);
	dec = kd_test_decoder_new(KDIPC__CODEC__CODEC_VP8);
	ck_assert_int_eq(kd_test_decode(dec, fv.data, fv.size, &w, &h), 1);
	ck_assert_int_eq(w, 320);
	kd_test_decoder_free(dec);
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
	tcase_add_test(tc, test_convert_mjpeg);
	tcase_add_test(tc, test_bitrate_table);
	tcase_add_test(tc, test_encoder_converts_and_publishes);
	tcase_add_test(tc, test_choose_codec);
	tcase_add_test(tc, test_quality_ratio);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
