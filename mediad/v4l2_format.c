/* V4L2 format choice and buffer -> AVFrame conversion. */
#include "v4l2_format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/videodev2.h>
#include <libavcodec/avcodec.h>

int kd_v4l2_format_rank(uint32_t fourcc)
{
	switch (fourcc) {
	case V4L2_PIX_FMT_NV12: return 4;
	case V4L2_PIX_FMT_YUV420: return 3;
	case V4L2_PIX_FMT_YUYV: return 2;
	case V4L2_PIX_FMT_MJPEG:
	case V4L2_PIX_FMT_JPEG: return 1;
	default: return 0;
	}
}

int kd_v4l2_choose(const struct kd_v4l2_candidate *c, size_t n,
		   uint32_t want_width, uint32_t want_height,
		   struct kd_v4l2_candidate *out)
{
	double want = (double)want_width * want_height;
	const struct kd_v4l2_candidate *best = NULL;
	double best_diff = 0;
	int best_rank = 0;

	for (size_t i = 0; i < n; i++) {
		int rank = kd_v4l2_format_rank(c[i].fourcc);
		double diff = (double)c[i].width * c[i].height - want;

		if (!rank || !c[i].width || !c[i].height)
			continue;
		if (c[i].width == want_width && c[i].height == want_height)
			diff = -1; /* the exact size beats any other */
		else if (diff < 0)
			diff = -diff;
		if (!best || diff < best_diff ||
		    (diff == best_diff && rank > best_rank)) {
			best = &c[i];
			best_diff = diff;
			best_rank = rank;
		}
	}
	if (!best)
		return -ENOTSUP;
	*out = *best;
	return 0;
}

static void copy_plane(uint8_t *dst, int dst_stride, const uint8_t *src,
		       size_t src_stride, size_t row_bytes, int rows)
{
	for (int r = 0; r < rows; r++)
		memcpy(dst + (size_t)r * dst_stride, src + (size_t)r * src_stride,
		       row_bytes);
}

static int convert_raw(struct kd_v4l2_converter *cv, uint32_t fourcc,
		       uint32_t w, uint32_t h, uint32_t bpl,
		       const uint8_t *data, size_t len, AVFrame **out)
{
	int fmt;
	size_t need, min_bpl;
	AVFrame *f;

	switch (fourcc) {
	case V4L2_PIX_FMT_YUYV:
		fmt = AV_PIX_FMT_YUYV422;
		min_bpl = (size_t)w * 2;
		break;
	case V4L2_PIX_FMT_NV12:
		fmt = AV_PIX_FMT_NV12;
		min_bpl = w;
		break;
	default:
		fmt = AV_PIX_FMT_YUV420P;
		min_bpl = w;
		break;
	}
	if (!bpl)
		bpl = (uint32_t)min_bpl;
	if (bpl < min_bpl || w % 2 || h % 2)
		return -EBADMSG;
	need = fourcc == V4L2_PIX_FMT_YUYV ? (size_t)bpl * h
					   : (size_t)bpl * h * 3 / 2;
	if (len < need)
		return -EBADMSG;
	f = kd_frame_pool_get(&cv->pool, fmt, (int)w, (int)h);
	if (!f)
		return -EAGAIN;
	if (fourcc == V4L2_PIX_FMT_YUYV) {
		copy_plane(f->data[0], f->linesize[0], data, bpl, min_bpl,
			   (int)h);
	} else if (fourcc == V4L2_PIX_FMT_NV12) {
		copy_plane(f->data[0], f->linesize[0], data, bpl, w, (int)h);
		copy_plane(f->data[1], f->linesize[1], data + (size_t)bpl * h,
			   bpl, w, (int)h / 2);
	} else {
		const uint8_t *u = data + (size_t)bpl * h;
		const uint8_t *v = u + (size_t)(bpl / 2) * (h / 2);

		copy_plane(f->data[0], f->linesize[0], data, bpl, w, (int)h);
		copy_plane(f->data[1], f->linesize[1], u, bpl / 2, w / 2,
			   (int)h / 2);
		copy_plane(f->data[2], f->linesize[2], v, bpl / 2, w / 2,
			   (int)h / 2);
	}
	*out = f;
	return 0;
}

static int decode_mjpeg(struct kd_v4l2_converter *cv, const uint8_t *data,
			size_t len, AVFrame **out)
{
	AVPacket *pkt;
	int r;

	if (!cv->mjpeg) {
		const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);

		if (!dec)
			return -ENOTSUP;
		cv->mjpeg = avcodec_alloc_context3(dec);
		if (!cv->mjpeg)
			return -ENOMEM;
		cv->mjpeg->thread_count = 1;
		if (avcodec_open2(cv->mjpeg, dec, NULL) < 0) {
			avcodec_free_context(&cv->mjpeg);
			return -ENOTSUP;
		}
	}
	if (!cv->decoded && !(cv->decoded = av_frame_alloc()))
		return -ENOMEM;
	pkt = av_packet_alloc();
	if (!pkt)
		return -ENOMEM;
	/* The packet borrows the mmap buffer: the decoder copies what it
	 * keeps. Short or broken JPEGs are common on signal glitches. */
	pkt->data = (uint8_t *)data;
	pkt->size = (int)len;
	r = avcodec_send_packet(cv->mjpeg, pkt);
	av_packet_free(&pkt);
	if (r < 0)
		return -EBADMSG;
	av_frame_unref(cv->decoded);
	r = avcodec_receive_frame(cv->mjpeg, cv->decoded);
	if (r < 0 || cv->decoded->decode_error_flags)
		return -EBADMSG;
	*out = cv->decoded;
	return 0;
}

int kd_v4l2_convert(struct kd_v4l2_converter *cv, uint32_t fourcc,
		    uint32_t width, uint32_t height, uint32_t bytesperline,
		    const uint8_t *data, size_t len, AVFrame **out)
{
	if (!len || len > (256u << 20))
		return -EBADMSG;
	if (fourcc == V4L2_PIX_FMT_MJPEG || fourcc == V4L2_PIX_FMT_JPEG)
		return decode_mjpeg(cv, data, len, out);
	if (!kd_v4l2_format_rank(fourcc))
		return -ENOTSUP;
	return convert_raw(cv, fourcc, width, height, bytesperline, data, len,
			   out);
}

void kd_v4l2_converter_free(struct kd_v4l2_converter *cv)
{
	avcodec_free_context(&cv->mjpeg);
	av_frame_free(&cv->decoded);
	kd_frame_pool_free(&cv->pool);
}
