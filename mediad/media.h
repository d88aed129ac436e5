/* mediad's core: one video source, one encoder pipeline per codec in use,
 * the worker control socket (runtime_dir/mediad.sock, WorkerToMedia /
 * MediaToWorker) and the administrator's status socket
 * (runtime_dir/mediad-ctl.sock, CtlRequest / CtlReply). Two sockets because
 * each channel has exactly one envelope type (proto/kvmdesk_ipc.proto).
 *
 * Worker channel, in order:
 *   worker: Hello            mediad: Hello, MediaStatus (again on changes)
 *   worker: Subscribe{codec} + eventfd   mediad: SubscribeReply + ring memfd
 *   worker: RequestKeyframe / SetQuality / Unsubscribe, any time after.
 * Anything else (no Hello first, an fd on another message, a Subscribe
 * without eventfd, a message that does not parse) closes that connection. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvmdesk_ipc.pb-c.h"

struct event_base;
struct kd_config;

#define KD_MEDIA_CODECS 6 /* indexes by Kdipc__Codec, 1..5 used */

struct kd_media_config {
	char runtime_dir[256];
	char source[256];     /* "testpattern" or a V4L2 device path */
	uint32_t width;
	uint32_t height;
	uint32_t fps;
	char codecs[128];     /* [video] codecs: comma list, "" = all found */
	char audio_source[256]; /* [audio] source: ALSA device, testtone, none */
};

/* Reads [general] runtime_dir, [video] and [audio]. 0 or -EINVAL (logged). */
int kd_media_config_read(const struct kd_config *cfg,
			 struct kd_media_config *out);

struct kd_media;

/* Probes encoders and creates the source (not yet capturing). */
int kd_media_create(struct event_base *base, const struct kd_media_config *cfg,
		    struct kd_media **out);
/* Binds (or takes from systemd: "mediad", "mediad-ctl") both sockets. */
int kd_media_listen(struct kd_media *m);
void kd_media_destroy(struct kd_media *m);
/* Treats a connected SOCK_SEQPACKET fd (taken over) as an accepted worker
 * (ctl false) or status (ctl true) connection: for tests and fuzzing. */
int kd_media_adopt(struct kd_media *m, int fd, bool ctl);

/* One line, also sd_notify STATUS: "testpattern 1920x1080@30, h264:2". */
void kd_media_status_line(struct kd_media *m, char *buf, size_t len);
