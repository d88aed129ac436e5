/* Helpers for the media tests and benches: run mediad, decode like the
 * RustDesk client does (a fresh libavcodec decoder, no extradata, every
 * packet must give one picture at once). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

struct kd_test_mediad {
	char dir[128];      /* runtime dir, also holds the config */
	char conf[192];
	char sock[192];
	char ctl_sock[192];
	char log[192];      /* mediad's stderr */
	pid_t pid;
};

/* Writes a config (testpattern width x height @ fps) in a fresh temp dir. */
int kd_test_mediad_setup(struct kd_test_mediad *t, uint32_t width,
			 uint32_t height, uint32_t fps);
/* The same with another [video] source (e.g. a device path). */
int kd_test_mediad_setup_source(struct kd_test_mediad *t, const char *source,
				uint32_t width, uint32_t height, uint32_t fps);
/* How many lines of mediad's log contain needle. */
int kd_test_mediad_log_count(const struct kd_test_mediad *t,
			     const char *needle);
/* Starts build_dir/mediad/mediad -c conf and waits until its socket
 * accepts (up to 10 s). */
int kd_test_mediad_start(struct kd_test_mediad *t);
void kd_test_mediad_kill(struct kd_test_mediad *t, int sig);
void kd_test_mediad_cleanup(struct kd_test_mediad *t);

/* Runs base until *flag is true or timeout_ms passes; returns *flag. */
bool kd_test_run_until(struct event_base *base, const bool *flag,
		       int timeout_ms);
uint64_t kd_test_now_ms(void);

struct kd_test_decoder;
/* codec is a Kdipc__Codec. NULL when no decoder exists. */
struct kd_test_decoder *kd_test_decoder_new(uint32_t codec);
/* Decodes one packet. Returns the number of pictures it gave (the client
 * needs exactly 1), or -1 on a decode error. *w, *h: the picture size. */
int kd_test_decode(struct kd_test_decoder *d, const uint8_t *data,
		   size_t size, int *w, int *h);
/* AVPixelFormat of the last decoded picture. */
int kd_test_decoder_format(const struct kd_test_decoder *d);
void kd_test_decoder_free(struct kd_test_decoder *d);
