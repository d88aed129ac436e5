#include "audio_source.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <alsa/asoundlib.h>
#include <event2/event.h>

#include "audio_format.h"
#include "backoff.h"
#include "log.h"
#include "tone_source.h"

#define MAX_POLL_FDS 4
#define READ_CHUNK 1024 /* frames per snd_pcm_readi */

struct kd_audio_source {
	struct event_base *base;
	char *spec;
	bool tone;
	bool started;
	kd_audio_pcm_cb cb;
	void *opaque;

	/* testtone */
	struct kd_tone_source tone_gen;
	struct event *tone_timer;
	struct timespec tone_start;
	uint64_t tone_frames_sent;

	/* ALSA */
	snd_pcm_t *pcm;
	snd_pcm_format_t format;
	unsigned channels;
	unsigned rate;
	double resample_pos;
	float resample_last[2];
	struct event *poll_events[MAX_POLL_FDS];
	int n_poll;
	struct event *period_timer; /* when the fds cannot be watched */
	struct event *retry_timer;
	struct kd_backoff backoff;
	bool lost_logged; /* one line per loss, one per return */
	bool ever_opened;
};

/* ---- conversion ----------------------------------------------------- */

static float sample_at(const void *in, int format, size_t idx)
{
	switch (format) {
	case SND_PCM_FORMAT_S16_LE:
		return (float)((const int16_t *)in)[idx] / 32768.0f;
	case SND_PCM_FORMAT_S32_LE:
		return (float)((double)((const int32_t *)in)[idx] / 2147483648.0);
	default:
		return ((const float *)in)[idx];
	}
}

size_t kd_audio_convert(const void *in, size_t in_frames, int format,
			unsigned channels, unsigned rate, double *state,
			float *last, float *out, size_t out_frames)
{
	size_t written = 0;
	if (rate == KD_AUDIO_RATE) {
		for (size_t i = 0; i < in_frames && written < out_frames; i++) {
			float l = sample_at(in, format, i * channels);
			float r = channels > 1 ? sample_at(in, format, i * channels + 1) : l;
			out[2 * written] = l;
			out[2 * written + 1] = r;
			written++;
		}
		return written;
	}
	/* Linear interpolation between the previous input frame and the
	 * current one; *state is the output position in input frames, relative
	 * to the frame before in[0] (held in last). */
	const double step = (double)rate / KD_AUDIO_RATE;
	double pos = *state;
	while (written < out_frames) {
		size_t i = (size_t)floor(pos); /* 0 = last, k = in[k-1] */
		if (i >= in_frames)
			break;
		double frac = pos - (double)i;
		float a[2], b[2];
		if (i == 0) {
			a[0] = last[0];
			a[1] = last[1];
		} else {
			a[0] = sample_at(in, format, (i - 1) * channels);
			a[1] = channels > 1 ? sample_at(in, format, (i - 1) * channels + 1) : a[0];
		}
		b[0] = sample_at(in, format, i * channels);
		b[1] = channels > 1 ? sample_at(in, format, i * channels + 1) : b[0];
		out[2 * written] = (float)(a[0] + (b[0] - a[0]) * frac);
		out[2 * written + 1] = (float)(a[1] + (b[1] - a[1]) * frac);
		written++;
		pos += step;
	}
	if (in_frames > 0) {
		last[0] = sample_at(in, format, (in_frames - 1) * channels);
		last[1] = channels > 1 ? sample_at(in, format, (in_frames - 1) * channels + 1) : last[0];
	}
	*state = pos - (double)in_frames;
	return written;
}

/* ---- testtone ------------------------------------------------------- */

static uint64_t elapsed_frames(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double s = (double)(now.tv_sec - since->tv_sec) +
		   (double)(now.tv_nsec - since->tv_nsec) / 1e9;
	return (uint64_t)(s * KD_AUDIO_RATE);
}

static void on_tone_timer(evutil_socket_t fd, short what, void *arg)
{
	struct kd_audio_source *s = arg;
	/* Paced by the clock, not the timer count, so the rate never drifts. */
	uint64_t due = elapsed_frames(&s->tone_start);
	float pcm[KD_AUDIO_FRAME_SAMPLES * KD_AUDIO_CHANNELS];
	while (s->tone_frames_sent + KD_AUDIO_FRAME_SAMPLES <= due) {
		kd_tone_source_read(&s->tone_gen, pcm, KD_AUDIO_FRAME_SAMPLES);
		s->tone_frames_sent += KD_AUDIO_FRAME_SAMPLES;
		s->cb(s->opaque, pcm, KD_AUDIO_FRAME_SAMPLES);
	}
}

/* ---- ALSA ----------------------------------------------------------- */

static void alsa_close(struct kd_audio_source *s)
{
	for (int i = 0; i < s->n_poll; i++)
		event_free(s->poll_events[i]);
	s->n_poll = 0;
	if (s->period_timer)
		event_free(s->period_timer);
	s->period_timer = NULL;
	if (s->pcm)
		snd_pcm_close(s->pcm);
	s->pcm = NULL;
}

static void schedule_retry(struct kd_audio_source *s)
{
	struct timeval tv;
	uint32_t ms = kd_backoff_next(&s->backoff);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(s->retry_timer, &tv);
}

static void device_lost(struct kd_audio_source *s, int err)
{
	alsa_close(s);
	if (!s->lost_logged) {
		struct kd_log_fields f = { .message_id = KD_MSGID_CAPTURE_LOST };
		kd_log_event(LOG_WARNING, &f, "audio capture %s lost: %s; retrying",
			     s->spec, snd_strerror(err));
		s->lost_logged = true;
	}
	if (s->started)
		schedule_retry(s);
}

static void on_alsa_readable(evutil_socket_t fd, short what, void *arg);

static int negotiate(struct kd_audio_source *s)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_hw_params_alloca(&hw);
	int r = snd_pcm_hw_params_any(s->pcm, hw);
	if (r < 0)
		return r;
	r = snd_pcm_hw_params_set_access(s->pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED);
	if (r < 0)
		return r;
	static const snd_pcm_format_t formats[] = {
		SND_PCM_FORMAT_FLOAT_LE, SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S32_LE,
	};
	r = -EINVAL;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]) && r < 0; i++) {
		r = snd_pcm_hw_params_set_format(s->pcm, hw, formats[i]);
		if (r == 0)
			s->format = formats[i];
	}
	if (r < 0)
		return r;
	unsigned ch = 2;
	r = snd_pcm_hw_params_set_channels_near(s->pcm, hw, &ch);
	if (r < 0)
		return r;
	unsigned rate = KD_AUDIO_RATE;
	r = snd_pcm_hw_params_set_rate_near(s->pcm, hw, &rate, NULL);
	if (r < 0)
		return r;
	/* ~20 ms periods keep latency low without waking for every sample. */
	snd_pcm_uframes_t period = rate / 50;
	snd_pcm_hw_params_set_period_size_near(s->pcm, hw, &period, NULL);
	snd_pcm_uframes_t buffer = period * 8;
	snd_pcm_hw_params_set_buffer_size_near(s->pcm, hw, &buffer);
	r = snd_pcm_hw_params(s->pcm, hw);
	if (r < 0)
		return r;
	s->channels = ch;
	s->rate = rate;
	s->resample_pos = 0;
	memset(s->resample_last, 0, sizeof(s->resample_last));
	return 0;
}

static int alsa_open(struct kd_audio_source *s)
{
	int r = snd_pcm_open(&s->pcm, s->spec, SND_PCM_STREAM_CAPTURE,
			     SND_PCM_NONBLOCK);
	if (r < 0) {
		s->pcm = NULL;
		return r;
	}
	r = negotiate(s);
	if (r < 0)
		goto fail;
	struct pollfd pfds[MAX_POLL_FDS];
	int n = snd_pcm_poll_descriptors(s->pcm, pfds, MAX_POLL_FDS);
	if (n <= 0) {
		r = -EIO;
		goto fail;
	}
	bool watchable = true;
	for (int i = 0; i < n && watchable; i++) {
		short what = EV_PERSIST;
		if (pfds[i].events & POLLIN)
			what |= EV_READ;
		if (pfds[i].events & POLLOUT)
			what |= EV_WRITE;
		s->poll_events[i] = event_new(s->base, pfds[i].fd, what,
					      on_alsa_readable, s);
		s->n_poll++;
		if (!s->poll_events[i] || event_add(s->poll_events[i], NULL) < 0)
			watchable = false;
	}
	if (!watchable) {
		/* Some plugins (e.g. "null") hand out descriptors epoll
		 * refuses; wake once per period instead. */
		for (int i = 0; i < s->n_poll; i++)
			if (s->poll_events[i])
				event_free(s->poll_events[i]);
		s->n_poll = 0;
		s->period_timer = event_new(s->base, -1, EV_PERSIST,
					    on_alsa_readable, s);
		struct timeval tv = { 0, 20000 };
		if (!s->period_timer || event_add(s->period_timer, &tv) < 0) {
			r = -EIO;
			goto fail;
		}
	}
	r = snd_pcm_start(s->pcm);
	if (r < 0)
		goto fail;
	if (s->lost_logged || !s->ever_opened) {
		struct kd_log_fields f = { .message_id = KD_MSGID_CAPTURE_BACK };
		kd_log_event(LOG_NOTICE, &f,
			     "audio capture %s running: %u Hz, %u channel(s), %s",
			     s->spec, s->rate, s->channels,
			     snd_pcm_format_name(s->format));
	}
	s->lost_logged = false;
	s->ever_opened = true;
	kd_backoff_reset(&s->backoff);
	return 0;
fail:
	alsa_close(s);
	return r;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct kd_audio_source *s = arg;
	if (!s->started || s->pcm)
		return;
	int r = alsa_open(s);
	if (r < 0)
		device_lost(s, r);
}

static void on_alsa_readable(evutil_socket_t fd, short what, void *arg)
{
	struct kd_audio_source *s = arg;
	if (!s->pcm)
		return;
	if (snd_pcm_state(s->pcm) == SND_PCM_STATE_DISCONNECTED) {
		device_lost(s, -ENODEV);
		return;
	}
	/* Largest input: READ_CHUNK frames of 32-bit samples, any channels. */
	uint8_t in[READ_CHUNK * 8 * 4];
	size_t frame_bytes = (size_t)snd_pcm_format_physical_width(s->format) / 8 * s->channels;
	size_t max_frames = sizeof(in) / frame_bytes;
	if (max_frames > READ_CHUNK)
		max_frames = READ_CHUNK;
	/* Bounded so a device that always has data cannot starve the loop. */
	for (int round = 0; round < 16; round++) {
		snd_pcm_sframes_t got = snd_pcm_readi(s->pcm, in, max_frames);
		if (got == -EAGAIN || got == 0)
			return;
		if (got == -EPIPE || got == -ESTRPIPE || got == -EINTR) {
			/* Overrun or suspend: a gap in the audio, not an
			 * error worth a log line per event. */
			int r = snd_pcm_recover(s->pcm, (int)got, 1);
			if (r == 0)
				r = snd_pcm_start(s->pcm);
			if (r < 0 && r != -EBADFD) {
				device_lost(s, r);
				return;
			}
			continue;
		}
		if (got < 0) {
			device_lost(s, (int)got);
			return;
		}
		float out[(READ_CHUNK * KD_AUDIO_RATE / 8000 + 4) * 2];
		size_t frames = kd_audio_convert(in, (size_t)got, s->format,
						 s->channels, s->rate,
						 &s->resample_pos,
						 s->resample_last, out,
						 sizeof(out) / sizeof(out[0]) / 2);
		if (frames)
			s->cb(s->opaque, out, frames);
	}
}

/* ---- public --------------------------------------------------------- */

int kd_audio_source_new(struct event_base *base, const char *spec,
			kd_audio_pcm_cb cb, void *opaque,
			struct kd_audio_source **out)
{
	struct kd_audio_source *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base = base;
	s->cb = cb;
	s->opaque = opaque;
	s->spec = strdup(spec);
	if (!s->spec)
		goto nomem;
	s->tone = strcmp(spec, "testtone") == 0;
	if (s->tone) {
		kd_tone_source_init(&s->tone_gen, KD_TONE_DEFAULT_HZ, 0.5);
		s->tone_timer = event_new(base, -1, EV_PERSIST, on_tone_timer, s);
		if (!s->tone_timer)
			goto nomem;
	} else {
		s->retry_timer = evtimer_new(base, on_retry, s);
		if (!s->retry_timer)
			goto nomem;
		kd_backoff_init(&s->backoff, 500, 10000);
	}
	*out = s;
	return 0;
nomem:
	kd_audio_source_free(s);
	return -ENOMEM;
}

int kd_audio_source_start(struct kd_audio_source *s)
{
	if (s->started)
		return 0;
	s->started = true;
	if (s->tone) {
		clock_gettime(CLOCK_MONOTONIC, &s->tone_start);
		s->tone_frames_sent = 0;
		struct timeval tv = { 0, 10000 };
		return event_add(s->tone_timer, &tv) == 0 ? 0 : -EIO;
	}
	int r = alsa_open(s);
	if (r < 0)
		device_lost(s, r);
	return 0;
}

void kd_audio_source_stop(struct kd_audio_source *s)
{
	if (!s->started)
		return;
	s->started = false;
	if (s->tone) {
		event_del(s->tone_timer);
		return;
	}
	evtimer_del(s->retry_timer);
	alsa_close(s);
}

bool kd_audio_source_running(const struct kd_audio_source *s)
{
	return s->started && (s->tone || s->pcm);
}

const char *kd_audio_source_describe(const struct kd_audio_source *s)
{
	return s->spec;
}

void kd_audio_source_free(struct kd_audio_source *s)
{
	if (!s)
		return;
	if (s->spec)
		kd_audio_source_stop(s);
	if (s->tone_timer)
		event_free(s->tone_timer);
	if (s->retry_timer)
		event_free(s->retry_timer);
	free(s->spec);
	free(s);
}
