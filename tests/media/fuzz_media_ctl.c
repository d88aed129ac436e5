/* Fuzz target: mediad's control channels as a hostile session worker (or
 * status client) drives them. The input is a sequence of packets, each
 * [flags][len][len bytes]; flags bit 0 attaches an eventfd (as Subscribe
 * carries), bit 1 sends it on the status channel instead. Whatever comes,
 * mediad closes at most that connection, never crashes or leaks. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <libavutil/log.h>

#include "log.h"
#include "media.h"
#include "unix_socket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct kd_media *media;

static void init_once(void)
{
	struct kd_media_config cfg = { .width = 64, .height = 64, .fps = 30 };

	if (media)
		return;
	kd_log_init("fuzz_media_ctl", LOG_CRIT);
	av_log_set_level(AV_LOG_QUIET);
	strcpy(cfg.runtime_dir, "/nonexistent");
	strcpy(cfg.source, "testpattern");
	strcpy(cfg.codecs, "vp8");
	strcpy(cfg.audio_source, "none");
	base = event_base_new();
	if (kd_media_create(base, &cfg, &media) < 0)
		__builtin_trap();
}

static void spin(void)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void drain(int fd)
{
	uint8_t buf[4096];

	while (kd_unix_recv(fd, buf, sizeof(buf), NULL) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int worker[2], ctl[2];

	init_once();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, worker) < 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, ctl) < 0) {
		close(worker[0]);
		close(worker[1]);
		return 0;
	}
	kd_media_adopt(media, worker[1], false);
	kd_media_adopt(media, ctl[1], true);
	while (size >= 2) {
		uint8_t flags = data[0];
		size_t len = data[1] < size - 2 ? data[1] : size - 2;
		int efd = flags & 1 ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;

		kd_unix_send(flags & 2 ? ctl[0] : worker[0], data + 2, len, efd);
		if (efd >= 0)
			close(efd);
		data += 2 + len;
		size -= 2 + len;
		spin();
		drain(worker[0]);
		drain(ctl[0]);
	}
	close(worker[0]);
	close(ctl[0]);
	spin();
	return 0;
}
