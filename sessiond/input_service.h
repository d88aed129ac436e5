/* The worker's input service: turns the client's KeyEvent / MouseEvent (and,
 * when [hid] type_clipboard = on, clipboard text) into kdipc InputEvents for
 * hidd (spec session §5; DESIGN.md "Input").
 *
 * Keys are sent as HID usages, so hidd needs no keymap: ControlKey per §5.6,
 * Map / Translate codes as X11 keycodes (we announce platform "Linux", §5.8),
 * characters typed on the target's layout ([hid] target_layout, default US;
 * common/keylayout.h), with Shift / AltGr pressed around the key. Input is
 * forwarded only after login and while the client has not asked for
 * view-only (disable_keyboard = Yes).
 *
 * The connection to hidd is non-blocking; when hidd is slow the service
 * queues events and merges pointer moves (never keys or buttons). When hidd
 * goes away it reconnects with back-off; hidd has released everything the
 * old connection held, so nothing stays stuck. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "worker_service.h"

struct kd_config;
struct kd_keylayout;

extern const struct kd_worker_service kd_input_service;

/* The layout [hid] target_layout names; US when it names none we know,
 * with one warning in the log when warn is set (sessiond asks once at
 * start; each worker asks again without warning). */
const struct kd_keylayout *kd_input_service_layout(const struct kd_config *cfg,
						  bool warn);

/* The display the client's coordinates refer to (normally taken from the
 * PeerInfo the worker sends; callable when the video size changes). */
void kd_input_service_set_display(void *state, int32_t x, int32_t y,
				  int32_t width, int32_t height);
/* The video service announced a new display size to the client (Misc
 * switch_display): pointer coordinates from now on refer to it. Finds the
 * input service of worker w; does nothing when it has none. */
void kd_input_service_display_changed(struct kd_worker *w, int32_t width,
				      int32_t height);
/* For tests and status: events waiting for hidd, and whether connected. */
unsigned kd_input_service_queued(void *state);
bool kd_input_service_connected(void *state);
