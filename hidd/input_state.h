/* What every session holds and what the host is told: the union of all
 * sessions' keys and buttons, one shared absolute pointer position, and the
 * host's lock LEDs for CapsLock / NumLock sync.
 *
 * A session's messages (kdipc InputEvent, one per packet) are parsed and
 * applied by kd_input_session_packet(), which is also the fuzz entry point:
 * it never trusts the bytes and tells the caller to close the connection on
 * anything malformed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hid_device.h"

struct kd_input_state;
struct kd_input_session;

/* Devices may be NULL (absent); the state does not own them. */
struct kd_input_devices {
	struct kd_hid_device *keyboard;
	struct kd_hid_device *mouse;
	struct kd_hid_device *relative_mouse;
};

int kd_input_state_new(const struct kd_input_devices *devs,
		       struct kd_input_state **out);
/* Sends all-released reports to every device (start and shutdown). */
void kd_input_state_reset_devices(struct kd_input_state *st);
/* The host's LED output report changed (wire as kd_hid_led_cb). */
void kd_input_state_leds(void *st, uint8_t leds);
uint8_t kd_input_state_get_leds(const struct kd_input_state *st);
unsigned kd_input_state_sessions(const struct kd_input_state *st);
const struct kd_input_devices *kd_input_state_devices(const struct kd_input_state *st);
void kd_input_state_free(struct kd_input_state *st);

struct kd_input_session *kd_input_session_new(struct kd_input_state *st);
/* Releases everything the session holds, then frees it. */
void kd_input_session_end(struct kd_input_session *s);
bool kd_input_session_hello_done(const struct kd_input_session *s);
uint64_t kd_input_session_worker_id(const struct kd_input_session *s);

/* Applies one packet. 0 = fine; KD_INPUT_HELLO = the packet was a valid
 * Hello (caller answers it); -EBADMSG / -EPROTO = close this connection. */
#define KD_INPUT_HELLO 1
int kd_input_session_packet(struct kd_input_session *s, const uint8_t *buf,
			    size_t len);

/* Direct calls, also used by the packet handler. */
enum kd_key_action { KD_KEY_UP = 0, KD_KEY_DOWN = 1, KD_KEY_PRESS = 2 };
void kd_input_session_key(struct kd_input_session *s, uint8_t usage,
			  enum kd_key_action action);
/* The clock (ms, monotonic) that key downs are stamped with: set before
 * each packet is applied. */
void kd_input_state_set_time(struct kd_input_state *st, uint64_t now_ms);
/* CLOCK_MONOTONIC in ms, what hidd passes to kd_input_state_set_time(). */
uint64_t kd_input_clock_ms(void);
/* A key whose down was neither released nor repeated for max_ms is let go,
 * as the real server does after 360 s (spec session §5.1): a key the client
 * stopped reporting must not stay pressed on the target for good. Returns
 * how many were released. */
#define KD_INPUT_STALE_KEY_MS (360u * 1000u)
unsigned kd_input_state_release_stale(struct kd_input_state *st,
				      uint64_t max_ms);
void kd_input_session_locks(struct kd_input_session *s, bool caps, bool num,
			    bool sync_caps, bool sync_num);
/* Taps CapsLock / NumLock now where the host's LEDs differ from what the
 * session asked for, instead of before its next letter / keypad key. */
void kd_input_session_locks_now(struct kd_input_session *s);
void kd_input_session_mouse_abs(struct kd_input_session *s, uint32_t x,
				uint32_t y, uint8_t buttons);
void kd_input_session_wheel(struct kd_input_session *s, int vertical,
			    int horizontal);
void kd_input_session_mouse_rel(struct kd_input_session *s, int dx, int dy,
				uint8_t buttons);
void kd_input_session_release_all(struct kd_input_session *s);
