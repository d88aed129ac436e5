#include "input_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "log.h"

struct kd_input_session {
	struct kd_input_state *st;
	struct kd_input_session *next;
	bool hello_done;
	uint64_t worker_id;
	struct kd_hid_kbd_state kbd;
	uint8_t buttons;     /* absolute mouse */
	uint8_t rel_buttons; /* relative mouse */
	bool want_caps, want_num, sync_caps, sync_num;
	/* When each held usage last went down (or repeated), in the clock of
	 * kd_input_state_set_time(). */
	uint64_t down_at[256];
};

struct kd_input_state {
	struct kd_input_devices dev;
	struct kd_input_session *sessions;
	unsigned n_sessions;
	struct kd_hid_report kbd_sent;
	uint8_t abs_buttons_sent;
	uint32_t x, y; /* shared pointer position, 0..32767 */
	uint8_t rel_buttons_sent;
	uint8_t leds;  /* host's, or what we assume after tapping a lock */
	uint64_t now_ms;
};

int kd_input_state_new(const struct kd_input_devices *devs,
		       struct kd_input_state **out)
{
	struct kd_input_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->dev = *devs;
	/* Devices start with all-released reports (kd_hid_device_start). */
	st->kbd_sent.len = KD_HID_KBD_REPORT_LEN;
	*out = st;
	return 0;
}

static void send_kbd(struct kd_input_state *st, const struct kd_hid_report *r)
{
	st->kbd_sent = *r;
	if (st->dev.keyboard)
		kd_hid_device_send(st->dev.keyboard, r);
}

static void send_abs(struct kd_input_state *st, uint8_t buttons, int wheel,
		     int pan)
{
	struct kd_hid_report r;

	st->abs_buttons_sent = buttons;
	kd_hid_abs_report(buttons, st->x, st->y, wheel, pan, &r);
	if (st->dev.mouse)
		kd_hid_device_send(st->dev.mouse, &r);
}

static void send_rel(struct kd_input_state *st, uint8_t buttons, int dx,
		     int dy)
{
	struct kd_hid_report r;

	st->rel_buttons_sent = buttons;
	kd_hid_rel_report(buttons, dx, dy, 0, 0, &r);
	if (st->dev.relative_mouse)
		kd_hid_device_send(st->dev.relative_mouse, &r);
}

void kd_input_state_reset_devices(struct kd_input_state *st)
{
	struct kd_hid_report r;

	memset(&r, 0, sizeof(r));
	r.len = KD_HID_KBD_REPORT_LEN;
	send_kbd(st, &r);
	send_abs(st, 0, 0, 0);
	send_rel(st, 0, 0, 0);
}

void kd_input_state_leds(void *opaque, uint8_t leds)
{
	struct kd_input_state *st = opaque;

	st->leds = leds;
}

uint8_t kd_input_state_get_leds(const struct kd_input_state *st)
{
	return st->leds;
}

unsigned kd_input_state_sessions(const struct kd_input_state *st)
{
	return st->n_sessions;
}

const struct kd_input_devices *kd_input_state_devices(const struct kd_input_state *st)
{
	return &st->dev;
}

void kd_input_state_free(struct kd_input_state *st)
{
	if (!st)
		return;
	while (st->sessions)
		kd_input_session_end(st->sessions);
	free(st);
}

/* ---- combining sessions ------------------------------------------------ */

static void kbd_union(struct kd_input_state *st, struct kd_hid_kbd_state *u)
{
	memset(u, 0, sizeof(*u));
	for (struct kd_input_session *s = st->sessions; s; s = s->next)
		kd_hid_kbd_merge(u, &s->kbd);
}

/* Sends the keyboard report when the union changed; extra_down is pressed on
 * top of it (lock taps), 0 for none. */
static void update_kbd(struct kd_input_state *st, uint8_t extra_down)
{
	struct kd_hid_kbd_state u;
	struct kd_hid_report r;

	kbd_union(st, &u);
	if (extra_down)
		kd_hid_kbd_press(&u, extra_down);
	kd_hid_kbd_report(&u, &r);
	if (memcmp(r.b, st->kbd_sent.b, KD_HID_KBD_REPORT_LEN) != 0)
		send_kbd(st, &r);
}

static uint8_t buttons_union(struct kd_input_state *st, bool relative)
{
	uint8_t b = 0;

	for (struct kd_input_session *s = st->sessions; s; s = s->next)
		b |= relative ? s->rel_buttons : s->buttons;
	return b;
}

static void update_buttons(struct kd_input_state *st)
{
	uint8_t b = buttons_union(st, false);
	uint8_t rb = buttons_union(st, true);

	if (b != st->abs_buttons_sent)
		send_abs(st, b, 0, 0);
	if (rb != st->rel_buttons_sent)
		send_rel(st, rb, 0, 0);
}

/* ---- sessions ---------------------------------------------------------- */

struct kd_input_session *kd_input_session_new(struct kd_input_state *st)
{
	struct kd_input_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->st = st;
	s->next = st->sessions;
	st->sessions = s;
	st->n_sessions++;
	return s;
}

void kd_input_session_release_all(struct kd_input_session *s)
{
	memset(&s->kbd, 0, sizeof(s->kbd));
	s->buttons = 0;
	s->rel_buttons = 0;
	update_kbd(s->st, 0);
	update_buttons(s->st);
}

void kd_input_session_end(struct kd_input_session *s)
{
	struct kd_input_state *st = s->st;
	struct kd_input_session **pp;

	for (pp = &st->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	st->n_sessions--;
	/* The session is unlinked: the union no longer has its keys. */
	update_kbd(st, 0);
	update_buttons(st);
	free(s);
}

bool kd_input_session_hello_done(const struct kd_input_session *s)
{
	return s->hello_done;
}

uint64_t kd_input_session_worker_id(const struct kd_input_session *s)
{
	return s->worker_id;
}

static bool is_letter(uint8_t usage)
{
	return usage >= 0x04 && usage <= 0x1D;
}

/* Keypad digits and decimal point: what NumLock changes. */
static bool is_numlock_key(uint8_t usage)
{
	return usage >= 0x59 && usage <= 0x63;
}

static void tap(struct kd_input_state *st, uint8_t usage, uint8_t led)
{
	/* Until the host answers with its LED report, assume it toggles. */
	st->leds ^= led;
	update_kbd(st, usage);
	update_kbd(st, 0);
}

/* The real server toggles the host's lock to the client's state before the
 * key (spec §5.1); we read the host's state from the LED report. */
static void sync_locks_for(struct kd_input_session *s, bool caps, bool num)
{
	struct kd_input_state *st = s->st;

	if (s->sync_caps && caps &&
	    !!(st->leds & KD_HID_LED_CAPS_LOCK) != s->want_caps)
		tap(st, KD_HID_USAGE_CAPS_LOCK, KD_HID_LED_CAPS_LOCK);
	if (s->sync_num && num &&
	    !!(st->leds & KD_HID_LED_NUM_LOCK) != s->want_num)
		tap(st, KD_HID_USAGE_NUM_LOCK, KD_HID_LED_NUM_LOCK);
}

static void sync_locks(struct kd_input_session *s, uint8_t usage)
{
	sync_locks_for(s, is_letter(usage), is_numlock_key(usage));
}

void kd_input_session_locks_now(struct kd_input_session *s)
{
	sync_locks_for(s, true, true);
}

void kd_input_session_key(struct kd_input_session *s, uint8_t usage,
			  enum kd_key_action action)
{
	if (usage == 0)
		return;
	switch (action) {
	case KD_KEY_DOWN:
		s->down_at[usage] = s->st->now_ms;
		/* A repeated down of a held key: the host repeats itself. */
		if (kd_hid_kbd_is_down(&s->kbd, usage))
			return;
		sync_locks(s, usage);
		kd_hid_kbd_press(&s->kbd, usage);
		update_kbd(s->st, 0);
		break;
	case KD_KEY_UP:
		if (kd_hid_kbd_release(&s->kbd, usage))
			update_kbd(s->st, 0);
		break;
	case KD_KEY_PRESS:
		if (kd_hid_kbd_is_down(&s->kbd, usage))
			return;
		sync_locks(s, usage);
		kd_hid_kbd_press(&s->kbd, usage);
		update_kbd(s->st, 0);
		kd_hid_kbd_release(&s->kbd, usage);
		update_kbd(s->st, 0);
		break;
	}
}

uint64_t kd_input_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void kd_input_state_set_time(struct kd_input_state *st, uint64_t now_ms)
{
	st->now_ms = now_ms;
}

/* Releases the usages of one session whose last down is older than
 * max_ms; returns how many. */
static unsigned release_stale(struct kd_input_session *s, uint64_t max_ms)
{
	uint8_t held[8 + KD_HID_KBD_KEYS];
	unsigned n = 0, released = 0;

	for (int bit = 0; bit < 8; bit++)
		if (s->kbd.mods & (1u << bit))
			held[n++] = (uint8_t)(KD_HID_USAGE_MOD_FIRST + bit);
	for (int i = 0; i < KD_HID_KBD_KEYS; i++)
		if (s->kbd.keys[i])
			held[n++] = s->kbd.keys[i];
	for (unsigned i = 0; i < n; i++)
		if (s->st->now_ms - s->down_at[held[i]] > max_ms &&
		    kd_hid_kbd_release(&s->kbd, held[i]))
			released++;
	return released;
}

unsigned kd_input_state_release_stale(struct kd_input_state *st,
				      uint64_t max_ms)
{
	unsigned released = 0;

	for (struct kd_input_session *s = st->sessions; s; s = s->next)
		released += release_stale(s, max_ms);
	if (released)
		update_kbd(st, 0);
	return released;
}

void kd_input_session_locks(struct kd_input_session *s, bool caps, bool num,
			    bool sync_caps, bool sync_num)
{
	if (sync_caps) {
		s->sync_caps = true;
		s->want_caps = caps;
	}
	if (sync_num) {
		s->sync_num = true;
		s->want_num = num;
	}
}

void kd_input_session_mouse_abs(struct kd_input_session *s, uint32_t x,
				uint32_t y, uint8_t buttons)
{
	struct kd_input_state *st = s->st;
	uint8_t b;

	x = x > KD_HID_ABS_MAX ? KD_HID_ABS_MAX : x;
	y = y > KD_HID_ABS_MAX ? KD_HID_ABS_MAX : y;
	s->buttons = buttons;
	b = buttons_union(st, false);
	if (x == st->x && y == st->y && b == st->abs_buttons_sent)
		return;
	st->x = x;
	st->y = y;
	send_abs(st, b, 0, 0);
}

void kd_input_session_wheel(struct kd_input_session *s, int vertical,
			    int horizontal)
{
	struct kd_input_state *st = s->st;

	if (!vertical && !horizontal)
		return;
	send_abs(st, buttons_union(st, false), kd_hid_clamp8(vertical),
		 kd_hid_clamp8(horizontal));
}

static int step(int *rest)
{
	int v = kd_hid_clamp8(*rest);

	*rest -= v;
	return v;
}

void kd_input_session_mouse_rel(struct kd_input_session *s, int dx, int dy,
				uint8_t buttons)
{
	struct kd_input_state *st = s->st;

	if (!st->dev.relative_mouse)
		return;
	s->rel_buttons = buttons;
	/* Split big motion into reports the descriptor can carry. */
	do {
		int sx = step(&dx), sy = step(&dy);
		uint8_t b = buttons_union(st, true);
		if (sx || sy || b != st->rel_buttons_sent)
			send_rel(st, b, sx, sy);
	} while (dx || dy);
}

/* ---- packets ----------------------------------------------------------- */

#define MAX_MOTION 100000 /* the real server clamps relative moves to 10000 */
#define MAX_WHEEL 1000

static bool within(int32_t v, int32_t limit)
{
	return v >= -limit && v <= limit;
}

static int apply(struct kd_input_session *s, const Kdipc__InputEvent *ev)
{
	switch (ev->msg_case) {
	case KDIPC__INPUT_EVENT__MSG_KEY:
		if (!ev->key || ev->key->usage == 0 || ev->key->usage > 0xFF ||
		    (unsigned)ev->key->action > KD_KEY_PRESS)
			return -EBADMSG;
		kd_input_session_key(s, (uint8_t)ev->key->usage,
				     (enum kd_key_action)ev->key->action);
		return 0;
	case KDIPC__INPUT_EVENT__MSG_LOCKS:
		if (!ev->locks)
			return -EBADMSG;
		kd_input_session_locks(s, ev->locks->caps_lock,
				       ev->locks->num_lock,
				       ev->locks->sync_caps,
				       ev->locks->sync_num);
		if (ev->locks->apply_now)
			kd_input_session_locks_now(s);
		return 0;
	case KDIPC__INPUT_EVENT__MSG_MOUSE_ABS:
		if (!ev->mouse_abs || ev->mouse_abs->x > KD_HID_ABS_MAX ||
		    ev->mouse_abs->y > KD_HID_ABS_MAX ||
		    ev->mouse_abs->buttons > 0xFF)
			return -EBADMSG;
		kd_input_session_mouse_abs(s, ev->mouse_abs->x,
					   ev->mouse_abs->y,
					   (uint8_t)ev->mouse_abs->buttons);
		return 0;
	case KDIPC__INPUT_EVENT__MSG_WHEEL:
		if (!ev->wheel || !within(ev->wheel->vertical, MAX_WHEEL) ||
		    !within(ev->wheel->horizontal, MAX_WHEEL))
			return -EBADMSG;
		kd_input_session_wheel(s, ev->wheel->vertical,
				       ev->wheel->horizontal);
		return 0;
	case KDIPC__INPUT_EVENT__MSG_MOUSE_REL:
		if (!ev->mouse_rel || !within(ev->mouse_rel->dx, MAX_MOTION) ||
		    !within(ev->mouse_rel->dy, MAX_MOTION) ||
		    ev->mouse_rel->buttons > 0xFF)
			return -EBADMSG;
		kd_input_session_mouse_rel(s, ev->mouse_rel->dx,
					   ev->mouse_rel->dy,
					   (uint8_t)ev->mouse_rel->buttons);
		return 0;
	case KDIPC__INPUT_EVENT__MSG_RELEASE_ALL:
		kd_input_session_release_all(s);
		return 0;
	default:
		return -EBADMSG;
	}
}

int kd_input_session_packet(struct kd_input_session *s, const uint8_t *buf,
			    size_t len)
{
	Kdipc__InputEvent *ev;
	int r;

	if (len > KD_IPC_MAX_PACKET)
		return -EBADMSG;
	ev = kdipc__input_event__unpack(NULL, len, buf);
	if (!ev)
		return -EBADMSG;
	if (!s->hello_done) {
		/* Hello first, once, in our protocol version. */
		r = ev->msg_case == KDIPC__INPUT_EVENT__MSG_HELLO &&
				    kd_ipc_hello_check(ev->hello) == 0
			    ? KD_INPUT_HELLO
			    : -EPROTO;
		if (r == KD_INPUT_HELLO) {
			s->hello_done = true;
			s->worker_id = ev->hello->session_id;
		}
	} else if (ev->msg_case == KDIPC__INPUT_EVENT__MSG_HELLO) {
		r = -EPROTO;
	} else {
		r = apply(s, ev);
	}
	kdipc__input_event__free_unpacked(ev, NULL);
	return r;
}
