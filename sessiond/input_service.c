#include "input_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <zstd.h>

#include "backoff.h"
#include "config.h"
#include "ipc.h"
#include "keylayout.h"
#include "keymap.h"
#include "log.h"
#include "unix_socket.h"

#define QUEUE_MAX 16384         /* events waiting for hidd, then reconnect */
#define CLIPBOARD_MAX_CHARS 4096 /* typed from one clipboard update */
#define CLIPBOARD_MAX_BYTES (64 * 1024)
#define TRACKPAD_PX_PER_NOTCH 30
#define RELATIVE_MAX 10000      /* as the real server clamps (spec §5.9) */
#define HID_ABS_MAX 32767

/* ControlKey values used as modifiers. */
#define CK_ALT 1
#define CK_CAPS_LOCK 3
#define CK_CONTROL 4
#define CK_META 23
#define CK_SHIFT 29
#define CK_NUM_LOCK 63

/* Mouse mask (spec §5.9). */
enum { MOUSE_MOVE, MOUSE_DOWN, MOUSE_UP, MOUSE_WHEEL, MOUSE_TRACKPAD,
       MOUSE_RELATIVE };

enum ev_kind { EV_KEY, EV_LOCKS, EV_ABS, EV_WHEEL, EV_REL, EV_RELEASE_ALL };
#define LOCKS_NOW 2 /* EV_LOCKS a: bit 0 CapsLock, this bit LockState.apply_now */

/* One event for hidd, packed only when it is sent so that waiting pointer
 * moves can still be merged. */
struct pending {
	uint8_t kind;
	int32_t a, b, c, d;
};

struct input_svc {
	struct kd_worker *w;
	struct event_base *base;
	char sock_path[300];
	bool type_clipboard;
	const struct kd_keylayout *layout; /* [hid] target_layout */

	/* hidd connection */
	int fd;
	bool hello_ok;
	bool lost_logged;
	struct event *read_ev, *write_ev, *retry_ev;
	struct kd_backoff backoff;
	struct pending *q;
	unsigned q_head, q_len, q_cap;
	int32_t q_buttons; /* buttons of the last pointer event queued */

	/* session */
	bool logged_in;
	bool view_only;
	int32_t disp_x, disp_y, disp_w, disp_h;

	/* what we told hidd this connection holds */
	uint8_t mods;        /* modifier bits, usage 0xE0 + bit */
	uint8_t buttons;
	bool relative_mode;  /* last pointer motion was relative */
	bool hidd_relative;  /* hidd has a relative mouse (InputStatus) */
	int32_t px, py;      /* last position, client pixels */
	uint32_t x, y;       /* last absolute position, HID units */
	int trackpad_acc;
	int8_t caps_sent, num_sent; /* -1 = not yet told */
};

static void schedule_reconnect(struct input_svc *s);
static void flush(struct input_svc *s);

/* The services of this process's workers (one, in a real worker), so other
 * services can tell us about display changes. */
static struct input_svc *instances[4];

/* ---- queue to hidd ------------------------------------------------------ */

static struct pending *q_at(struct input_svc *s, unsigned i)
{
	return &s->q[(s->q_head + i) % s->q_cap];
}

static int q_grow(struct input_svc *s)
{
	unsigned cap = s->q_cap ? s->q_cap * 2 : 64;
	struct pending *n;

	if (s->q_cap >= QUEUE_MAX)
		return -ENOBUFS;
	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (unsigned i = 0; i < s->q_len; i++)
		n[i] = *q_at(s, i);
	free(s->q);
	s->q = n;
	s->q_cap = cap;
	s->q_head = 0;
	return 0;
}

static bool fits_rel(int32_t v)
{
	return v >= -RELATIVE_MAX && v <= RELATIVE_MAX;
}

/* Pointer moves waiting behind the same buttons merge; keys, buttons and
 * wheel never do, and a waiting click keeps its position (d = 1 marks an
 * event that changes buttons). */
static bool merge_tail(struct input_svc *s, const struct pending *p)
{
	struct pending *t;

	if (!s->q_len)
		return false;
	t = q_at(s, s->q_len - 1);
	if (t->kind != p->kind || t->d)
		return false;
	if (p->kind == EV_ABS && t->c == p->c) {
		t->a = p->a;
		t->b = p->b;
		return true;
	}
	if (p->kind == EV_REL && t->c == p->c && fits_rel(t->a + p->a) &&
	    fits_rel(t->b + p->b)) {
		t->a += p->a;
		t->b += p->b;
		return true;
	}
	return false;
}

static size_t pack(const struct pending *p, uint8_t *buf)
{
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	Kdipc__KeyUsage key = KDIPC__KEY_USAGE__INIT;
	Kdipc__LockState locks = KDIPC__LOCK_STATE__INIT;
	Kdipc__MouseAbsolute abs = KDIPC__MOUSE_ABSOLUTE__INIT;
	Kdipc__MouseWheel wheel = KDIPC__MOUSE_WHEEL__INIT;
	Kdipc__MouseRelative rel = KDIPC__MOUSE_RELATIVE__INIT;
	Kdipc__ReleaseAll all = KDIPC__RELEASE_ALL__INIT;

	switch ((enum ev_kind)p->kind) {
	case EV_KEY:
		key.usage = (uint32_t)p->a;
		key.action = (Kdipc__KeyUsage__Action)p->b;
		ev.msg_case = KDIPC__INPUT_EVENT__MSG_KEY;
		ev.key = &key;
		break;
	case EV_LOCKS:
		locks.caps_lock = p->a & 1;
		locks.num_lock = p->b;
		locks.sync_caps = p->c;
		locks.sync_num = p->d;
		locks.apply_now = (p->a & LOCKS_NOW) != 0;
		ev.msg_case = KDIPC__INPUT_EVENT__MSG_LOCKS;
		ev.locks = &locks;
		break;
	case EV_ABS:
		abs.x = (uint32_t)p->a;
		abs.y = (uint32_t)p->b;
		abs.buttons = (uint32_t)p->c;
		ev.msg_case = KDIPC__INPUT_EVENT__MSG_MOUSE_ABS;
		ev.mouse_abs = &abs;
		break;
	case EV_WHEEL:
		wheel.vertical = p->a;
		wheel.horizontal = p->b;
		ev.msg_case = KDIPC__INPUT_EVENT__MSG_WHEEL;
		ev.wheel = &wheel;
		break;
	case EV_REL:
		rel.dx = p->a;
		rel.dy = p->b;
		rel.buttons = (uint32_t)p->c;
		ev.msg_case = KDIPC__INPUT_EVENT__MSG_MOUSE_REL;
		ev.mouse_rel = &rel;
		break;
	case EV_RELEASE_ALL:
		ev.msg_case = KDIPC__INPUT_EVENT__MSG_RELEASE_ALL;
		ev.release_all = &all;
		break;
	}
	return protobuf_c_message_pack(&ev.base, buf);
}

static void disconnect(struct input_svc *s, const char *why)
{
	struct kd_log_fields f = {
		.message_id = KD_MSGID_COMPONENT_LOST,
		.conn_id = kd_worker_conn_id(s->w),
	};

	if (s->fd >= 0) {
		event_del(s->read_ev);
		event_del(s->write_ev);
		close(s->fd);
		s->fd = -1;
	}
	if (!s->lost_logged) {
		kd_log_event(LOG_WARNING, &f, "hidd connection lost: %s; "
			     "input paused", why);
		s->lost_logged = true;
	}
	/* hidd released everything this connection held. */
	s->q_len = 0;
	s->q_head = 0;
	s->q_buttons = 0;
	s->hello_ok = false;
	s->mods = 0;
	s->buttons = 0;
	s->caps_sent = s->num_sent = -1;
	schedule_reconnect(s);
}

/* Sends what is queued until the socket is full. */
static void flush(struct input_svc *s)
{
	uint8_t buf[64];

	while (s->fd >= 0 && s->q_len) {
		size_t len = pack(q_at(s, 0), buf);
		int r = kd_unix_send(s->fd, buf, len, -1);
		if (r == -EAGAIN) {
			event_add(s->write_ev, NULL);
			return;
		}
		if (r < 0) {
			disconnect(s, strerror(-r));
			return;
		}
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
	}
}

static void push(struct input_svc *s, enum ev_kind kind, int32_t a, int32_t b,
		 int32_t c, int32_t d)
{
	struct pending p = {(uint8_t)kind, a, b, c, d};

	if (s->fd < 0 || !s->hello_ok)
		return; /* input paused until hidd is back */
	if (kind == EV_ABS || kind == EV_REL) {
		p.d = c != s->q_buttons;
		s->q_buttons = c;
	}
	if (merge_tail(s, &p))
		return;
	if (s->q_len == s->q_cap && q_grow(s) < 0) {
		disconnect(s, "hidd is not reading");
		return;
	}
	*q_at(s, s->q_len++) = p;
	if (s->q_len == 1)
		flush(s);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

/* ---- hidd connection ---------------------------------------------------- */

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct input_svc *s = arg;
	ProtobufCMessage *m;
	Kdipc__HidToWorker *msg;
	int r;

	for (;;) {
		r = kd_ipc_recv(s->fd, &kdipc__hid_to_worker__descriptor, &m,
				NULL);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			disconnect(s, r == -ECONNRESET ? "hidd closed it"
						       : strerror(-r));
			return;
		}
		msg = (Kdipc__HidToWorker *)m;
		if (msg->msg_case == KDIPC__HID_TO_WORKER__MSG_HELLO &&
		    kd_ipc_hello_check(msg->hello) < 0)
			r = -EPROTO;
		if (msg->msg_case == KDIPC__HID_TO_WORKER__MSG_STATUS &&
		    msg->status)
			s->hidd_relative = msg->status->relative_mouse;
		protobuf_c_message_free_unpacked(m, NULL);
		if (r < 0) {
			disconnect(s, "hidd speaks another protocol version");
			return;
		}
	}
}

static int connect_hidd(struct input_svc *s)
{
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	Kdipc__Hello hello;
	int fd, r;

	fd = kd_unix_connect(s->sock_path);
	if (fd < 0)
		return fd;
	kd_ipc_hello_init(&hello, "sessiond-worker", kd_worker_conn_id(s->w));
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_HELLO;
	ev.hello = &hello;
	r = kd_ipc_send(fd, &ev.base, -1);
	if (r < 0) {
		close(fd);
		return r;
	}
	s->fd = fd;
	s->hello_ok = true;
	event_assign(s->read_ev, s->base, fd, EV_READ | EV_PERSIST,
		     on_readable, s);
	event_assign(s->write_ev, s->base, fd, EV_WRITE, on_writable, s);
	event_add(s->read_ev, NULL);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct input_svc *s = arg;
	struct kd_log_fields f = {
		.message_id = KD_MSGID_COMPONENT_RECONNECTED,
		.conn_id = kd_worker_conn_id(s->w),
	};

	if (connect_hidd(s) < 0) {
		schedule_reconnect(s);
		return;
	}
	kd_backoff_reset(&s->backoff);
	if (s->lost_logged) {
		kd_log_event(LOG_NOTICE, &f, "hidd connection back; input "
			     "resumes");
		s->lost_logged = false;
	}
	/* Put the pointer back where the client has it. */
	if (s->logged_in && !s->view_only && (s->x || s->y))
		push(s, EV_ABS, (int32_t)s->x, (int32_t)s->y, 0, 0);
}

static void schedule_reconnect(struct input_svc *s)
{
	uint32_t ms = kd_backoff_next(&s->backoff);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(s->retry_ev, &tv);
}

/* ---- keys --------------------------------------------------------------- */

static bool is_letter(uint8_t usage)
{
	return usage >= 0x04 && usage <= 0x1D;
}

static bool is_numlock_key(uint8_t usage)
{
	return usage >= 0x59 && usage <= 0x63;
}

static bool has_modifier(const Hbb__KeyEvent *ke, int ck)
{
	for (size_t i = 0; i < ke->n_modifiers; i++)
		if ((int)ke->modifiers[i] == ck)
			return true;
	return false;
}

static uint8_t bit(uint8_t usage)
{
	return (uint8_t)(1u << (usage - KD_USAGE_LCTRL));
}

static void key(struct input_svc *s, uint8_t usage, Kdipc__KeyUsage__Action a)
{
	if (usage >= KD_USAGE_LCTRL && usage <= KD_USAGE_RGUI) {
		if (a == KDIPC__KEY_USAGE__ACTION__DOWN)
			s->mods |= bit(usage);
		else if (a == KDIPC__KEY_USAGE__ACTION__UP)
			s->mods &= (uint8_t)~bit(usage);
	}
	push(s, EV_KEY, usage, a, 0, 0);
}

/* Legacy events list Alt / Shift / Control / Meta held at the client; the
 * ones not held here are pressed around the key (toolbar Ctrl+Alt+Del). */
static uint8_t legacy_missing_mods(const struct input_svc *s,
				   const Hbb__KeyEvent *ke)
{
	static const struct { int ck; uint8_t left, right; } map[] = {
		{CK_CONTROL, KD_USAGE_LCTRL, KD_USAGE_RCTRL},
		{CK_SHIFT, KD_USAGE_LSHIFT, KD_USAGE_RSHIFT},
		{CK_ALT, KD_USAGE_LALT, KD_USAGE_RALT},
		{CK_META, KD_USAGE_LGUI, KD_USAGE_RGUI},
	};
	uint8_t missing = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (has_modifier(ke, map[i].ck) &&
		    !(s->mods & (bit(map[i].left) | bit(map[i].right))))
			missing |= bit(map[i].left);
	return missing;
}

static void mods_down(struct input_svc *s, uint8_t mods)
{
	for (int i = 0; i < 8; i++)
		if (mods & (1u << i))
			key(s, (uint8_t)(KD_USAGE_LCTRL + i),
			    KDIPC__KEY_USAGE__ACTION__DOWN);
}

static void mods_up(struct input_svc *s, uint8_t mods)
{
	for (int i = 7; i >= 0; i--)
		if (mods & (1u << i))
			key(s, (uint8_t)(KD_USAGE_LCTRL + i),
			    KDIPC__KEY_USAGE__ACTION__UP);
}

/* Press usage with mods held around it (mods already held stay). The held
 * ones go down again too: hidd lets go of a key the client has not
 * reported for 360 s, and the chord must not come out without it. */
static void chord(struct input_svc *s, uint8_t mods, uint8_t usage)
{
	uint8_t add = mods & (uint8_t)~s->mods;

	mods_down(s, mods);
	key(s, usage, KDIPC__KEY_USAGE__ACTION__PRESS);
	mods_up(s, add);
}

/* Map / Translate: the client's CapsLock / NumLock ride on letter and keypad
 * keys (spec §5.1); hidd matches the host's LEDs to them. */
static void sync_locks(struct input_svc *s, const Hbb__KeyEvent *ke,
		       uint8_t usage)
{
	bool caps = has_modifier(ke, CK_CAPS_LOCK);
	bool num = has_modifier(ke, CK_NUM_LOCK);
	bool sync_caps = is_letter(usage) && s->caps_sent != caps;
	bool sync_num = is_numlock_key(usage) && s->num_sent != num;

	if (!sync_caps && !sync_num)
		return;
	push(s, EV_LOCKS, caps, num, sync_caps, sync_num);
	if (sync_caps)
		s->caps_sent = caps;
	if (sync_num)
		s->num_sent = num;
}

static Kdipc__KeyUsage__Action action_of(const Hbb__KeyEvent *ke)
{
	return ke->press  ? KDIPC__KEY_USAGE__ACTION__PRESS
	       : ke->down ? KDIPC__KEY_USAGE__ACTION__DOWN
			  : KDIPC__KEY_USAGE__ACTION__UP;
}

static void physical_key(struct input_svc *s, const Hbb__KeyEvent *ke,
			 uint8_t usage)
{
	Kdipc__KeyUsage__Action a = action_of(ke);
	uint8_t missing = 0;

	if (!usage)
		return;
	if (ke->mode == HBB__KEYBOARD_MODE__Legacy) {
		missing = legacy_missing_mods(s, ke);
		if (usage >= KD_USAGE_LCTRL && usage <= KD_USAGE_RGUI)
			missing &= (uint8_t)~bit(usage);
	} else if (a != KDIPC__KEY_USAGE__ACTION__UP) {
		sync_locks(s, ke, usage);
	}
	if (missing && a != KDIPC__KEY_USAGE__ACTION__UP)
		chord(s, missing, usage);
	else
		key(s, usage, a);
}

/* One keystroke of a typed character: the layout's Shift / AltGr pressed
 * around the key unless the client already holds them, everything else the
 * client holds left as it is. */
static void type_stroke(struct input_svc *s, const struct kd_keystroke *ks,
			uint8_t extra_mods)
{
	uint8_t shifts = bit(KD_USAGE_LSHIFT) | bit(KD_USAGE_RSHIFT);
	uint8_t altgr = bit(KD_USAGE_RALT), want = 0;

	/* Text is typed as it reads: the host's CapsLock must be off (the
	 * next Map-mode letter brings back the client's own lock state).
	 * hidd taps it before a letter by itself once told; any other key
	 * CapsLock changes on this layout needs it done at once, each time:
	 * only hidd sees the host's lock go on again in between. */
	if (kd_keylayout_caps_sensitive(s->layout, ks->usage) &&
	    (s->caps_sent != 0 || !is_letter(ks->usage))) {
		push(s, EV_LOCKS, is_letter(ks->usage) ? 0 : LOCKS_NOW, 0, 1,
		     0);
		s->caps_sent = 0;
	}
	/* A held Shift or AltGr the character does not need would change it:
	 * let it go, as the real server does before typing text. (Right Alt
	 * is AltGr only on layouts that have one; on US it is Alt.) */
	if (!(ks->mods & KD_KEYLAYOUT_SHIFT) && (s->mods & shifts) &&
	    !extra_mods)
		mods_up(s, s->mods & shifts);
	if (!(ks->mods & KD_KEYLAYOUT_ALTGR) && (s->mods & altgr) &&
	    !extra_mods && kd_keylayout_has_altgr(s->layout))
		mods_up(s, altgr);
	if (ks->mods & KD_KEYLAYOUT_SHIFT)
		want |= bit(KD_USAGE_LSHIFT);
	if (ks->mods & KD_KEYLAYOUT_ALTGR)
		want |= altgr;
	chord(s, (uint8_t)(extra_mods | want), ks->usage);
}

/* Types one character on the target's layout ([hid] target_layout); false
 * when it has no key. A dead key goes before the letter it composes with
 * (or before Space for the accent itself); modifiers the client sends along
 * (legacy shortcuts) go with the last keystroke only. */
static bool type_char(struct input_svc *s, uint32_t cp, uint8_t extra_mods)
{
	struct kd_keystroke ks[KD_KEYLAYOUT_MAX_STROKES];
	size_t n = kd_keylayout_char(s->layout, cp, ks);
	uint8_t ctrl_alt = bit(KD_USAGE_LCTRL) | bit(KD_USAGE_LALT);

	/* Windows clients report a held AltGr as Ctrl+Alt: for a character
	 * that needs AltGr the pair is that AltGr, not a shortcut. */
	if (n && (ks[n - 1].mods & KD_KEYLAYOUT_ALTGR) &&
	    (extra_mods & ctrl_alt) == ctrl_alt)
		extra_mods &= (uint8_t)~ctrl_alt;
	for (size_t i = 0; i < n; i++)
		type_stroke(s, &ks[i], i + 1 == n ? extra_mods : 0);
	return n > 0;
}

/* Decodes one UTF-8 sequence; returns its length (0 at the end), or 1 with
 * cp = 0xFFFD for a bad byte. */
static size_t utf8_next(const uint8_t *p, size_t len, uint32_t *cp)
{
	size_t n;

	if (!len)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
					: (p[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (!n || n > len) {
		*cp = 0xFFFD;
		return 1;
	}
	*cp = p[0] & (0x7F >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		*cp = (*cp << 6) | (p[i] & 0x3F);
	}
	return n;
}

static void type_text(struct input_svc *s, const uint8_t *p, size_t len,
		      size_t max_chars)
{
	uint32_t cp, prev = 0;
	size_t n, chars = 0;

	while (chars < max_chars && (n = utf8_next(p, len, &cp)) > 0) {
		/* "\r\n" is one Return. */
		if (!(cp == '\n' && prev == '\r'))
			type_char(s, cp, 0);
		prev = cp;
		p += n;
		len -= n;
		chars++;
	}
}

static void handle_key(struct input_svc *s, const Hbb__KeyEvent *ke)
{
	bool legacy = ke->mode == HBB__KEYBOARD_MODE__Legacy;
	bool down = ke->down || ke->press;
	uint32_t c;

	switch (ke->union_case) {
	case HBB__KEY_EVENT__UNION_CONTROL_KEY:
		if (ke->control_key == KD_CONTROL_KEY_CTRL_ALT_DEL) {
			if (down)
				chord(s, bit(KD_USAGE_LCTRL) | bit(KD_USAGE_LALT),
				      KD_USAGE_DELETE);
		} else if (ke->control_key == KD_CONTROL_KEY_LOCK_SCREEN) {
			if (down)
				chord(s, bit(KD_USAGE_LGUI), KD_USAGE_L);
		} else {
			physical_key(s, ke,
				     kd_keymap_control_key(ke->control_key));
		}
		break;
	case HBB__KEY_EVENT__UNION_CHR:
		if (!legacy) {
			physical_key(s, ke, kd_keymap_x11(ke->chr));
			break;
		}
		/* Legacy: the character the client's keyboard produced,
		 * typed on each down (the client repeats downs itself). */
		if (!down)
			break;
		c = ke->chr;
		if (c >= 0x01 && c <= 0x1A && c != '\t' && c != '\n' &&
		    c != '\r' && c != '\b')
			c += 'a' - 1; /* Ctrl+letter as a control character */
		type_char(s, c, legacy_missing_mods(s, ke) &
					(uint8_t)~bit(KD_USAGE_LSHIFT));
		break;
	case HBB__KEY_EVENT__UNION_UNICODE:
		type_char(s, ke->unicode, 0);
		break;
	case HBB__KEY_EVENT__UNION_SEQ:
		if (ke->seq)
			type_text(s, (const uint8_t *)ke->seq, strlen(ke->seq),
				  CLIPBOARD_MAX_CHARS);
		break;
	default:
		break; /* win2win_hotkey: Windows peers only */
	}
}

/* ---- mouse -------------------------------------------------------------- */

static uint32_t to_hid(int32_t v, int32_t origin, int32_t size)
{
	int64_t span = size > 1 ? size - 1 : 1;
	int64_t h = ((int64_t)v - origin) * HID_ABS_MAX / span;

	return (uint32_t)(h < 0 ? 0 : h > HID_ABS_MAX ? HID_ABS_MAX : h);
}

static int32_t clamp(int32_t v, int32_t lim)
{
	return v > lim ? lim : v < -lim ? -lim : v;
}

static void move_to(struct input_svc *s, int32_t px, int32_t py)
{
	s->px = px;
	s->py = py;
	s->x = to_hid(px, s->disp_x, s->disp_w);
	s->y = to_hid(py, s->disp_y, s->disp_h);
	push(s, EV_ABS, (int32_t)s->x, (int32_t)s->y, s->buttons, 0);
}

static int32_t clamp_range(int64_t v, int32_t lo, int32_t hi)
{
	return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

static void send_buttons(struct input_svc *s)
{
	if (s->relative_mode)
		push(s, EV_REL, 0, 0, s->buttons, 0);
	else
		push(s, EV_ABS, (int32_t)s->x, (int32_t)s->y, s->buttons, 0);
}

static void handle_mouse(struct input_svc *s, const Hbb__MouseEvent *me)
{
	int type = me->mask & 7;
	uint8_t button = (uint8_t)((me->mask >> 3) & 0x1F);
	int notches;

	switch (type) {
	case MOUSE_MOVE:
		s->relative_mode = false;
		move_to(s, me->x, me->y);
		break;
	case MOUSE_DOWN: /* x, y are 0: the position is the last move's */
		if (!button || (s->buttons & button))
			break;
		s->buttons |= button;
		send_buttons(s);
		break;
	case MOUSE_UP:
		if (!(s->buttons & button))
			break;
		s->buttons &= (uint8_t)~button;
		send_buttons(s);
		break;
	case MOUSE_WHEEL:
		/* y + = up; x + = left, HID pan + = right. */
		if (me->x || me->y)
			push(s, EV_WHEEL, clamp(me->y, 127), -clamp(me->x, 127),
			     0, 0);
		break;
	case MOUSE_TRACKPAD:
		s->trackpad_acc += clamp(me->y, 10000);
		notches = s->trackpad_acc / TRACKPAD_PX_PER_NOTCH;
		if (notches) {
			s->trackpad_acc -= notches * TRACKPAD_PX_PER_NOTCH;
			push(s, EV_WHEEL, clamp(notches, 127), 0, 0, 0);
		}
		break;
	case MOUSE_RELATIVE:
		if (!s->hidd_relative) {
			/* No relative mouse on the target: move the absolute
			 * pointer by as many pixels. */
			move_to(s,
				clamp_range((int64_t)s->px +
						    clamp(me->x, RELATIVE_MAX),
					    s->disp_x, s->disp_x + s->disp_w - 1),
				clamp_range((int64_t)s->py +
						    clamp(me->y, RELATIVE_MAX),
					    s->disp_y, s->disp_y + s->disp_h - 1));
			break;
		}
		s->relative_mode = true;
		push(s, EV_REL, clamp(me->x, RELATIVE_MAX),
		     clamp(me->y, RELATIVE_MAX), s->buttons, 0);
		break;
	default:
		break;
	}
}

/* ---- clipboard ---------------------------------------------------------- */

static void type_clipboard(struct input_svc *s, const Hbb__Clipboard *cb)
{
	uint8_t *plain = NULL;
	const uint8_t *text = cb->content.data;
	size_t len = cb->content.len;

	if (cb->format != HBB__CLIPBOARD_FORMAT__Text || !len)
		return;
	if (cb->compress) {
		unsigned long long size = ZSTD_getFrameContentSize(text, len);
		size_t got;
		if (size == ZSTD_CONTENTSIZE_ERROR)
			return;
		if (size == ZSTD_CONTENTSIZE_UNKNOWN ||
		    size > CLIPBOARD_MAX_BYTES)
			size = CLIPBOARD_MAX_BYTES;
		plain = malloc((size_t)size + 1);
		if (!plain)
			return;
		got = ZSTD_decompress(plain, (size_t)size, text, len);
		if (ZSTD_isError(got)) {
			/* Too large for the bound or corrupt: type nothing. */
			free(plain);
			return;
		}
		text = plain;
		len = got;
	}
	type_text(s, text, len, CLIPBOARD_MAX_CHARS);
	free(plain);
}

/* ---- service ------------------------------------------------------------ */

static void release_all(struct input_svc *s)
{
	push(s, EV_RELEASE_ALL, 0, 0, 0, 0);
	s->mods = 0;
	s->buttons = 0;
	s->q_buttons = 0;
}

static void apply_options(struct input_svc *s, const Hbb__OptionMessage *o)
{
	bool view_only;

	if (!o || o->disable_keyboard == HBB__OPTION_MESSAGE__BOOL_OPTION__NotSet)
		return;
	view_only = o->disable_keyboard == HBB__OPTION_MESSAGE__BOOL_OPTION__Yes;
	if (view_only && !s->view_only)
		release_all(s);
	s->view_only = view_only;
}

static int svc_create(struct kd_worker *w, void **state)
{
	const struct kd_config *cfg = kd_worker_config(w);
	struct input_svc *s = calloc(1, sizeof(*s));
	long width = 1920, height = 1080;
	int r;

	if (!s)
		return -ENOMEM;
	s->w = w;
	s->base = kd_worker_base(w);
	s->fd = -1;
	s->caps_sent = s->num_sent = -1;
	snprintf(s->sock_path, sizeof(s->sock_path), "%s/hidd.sock",
		 kd_worker_runtime_dir(w));
	s->layout = kd_input_service_layout(cfg, false);
	r = kd_config_get_bool(cfg, "hid", "type_clipboard", false,
			       &s->type_clipboard);
	if (!r)
		r = kd_config_get_long(cfg, "video", "width", 1920, 16, 16384,
				       &width);
	if (!r)
		r = kd_config_get_long(cfg, "video", "height", 1080, 16, 16384,
				       &height);
	if (r) {
		free(s);
		return r;
	}
	s->disp_w = (int32_t)width;
	s->disp_h = (int32_t)height;
	kd_backoff_init(&s->backoff, 100, 5000);
	s->read_ev = calloc(1, event_get_struct_event_size());
	s->write_ev = calloc(1, event_get_struct_event_size());
	s->retry_ev = evtimer_new(s->base, on_retry, s);
	if (!s->read_ev || !s->write_ev || !s->retry_ev) {
		free(s->read_ev);
		free(s->write_ev);
		if (s->retry_ev)
			event_free(s->retry_ev);
		free(s);
		return -ENOMEM;
	}
	if (connect_hidd(s) < 0) {
		/* hidd may be restarting: input waits for it. */
		s->lost_logged = true;
		kd_log_event(LOG_WARNING,
			     &(struct kd_log_fields){
				     .message_id = KD_MSGID_COMPONENT_LOST,
				     .conn_id = kd_worker_conn_id(w)},
			     "hidd not reachable at %s; input paused",
			     s->sock_path);
		schedule_reconnect(s);
	}
	for (size_t i = 0; i < sizeof(instances) / sizeof(instances[0]); i++) {
		if (!instances[i]) {
			instances[i] = s;
			break;
		}
	}
	*state = s;
	return 0;
}

static void svc_fill_peer_info(void *state, Hbb__PeerInfo *pi)
{
	struct input_svc *s = state;
	const Hbb__DisplayInfo *d;
	size_t i;

	if (!pi->n_displays)
		return;
	i = pi->current_display >= 0 && (size_t)pi->current_display <
						 pi->n_displays
		    ? (size_t)pi->current_display
		    : 0;
	d = pi->displays[i];
	if (d && d->width > 0 && d->height > 0)
		kd_input_service_set_display(s, d->x, d->y, d->width,
					     d->height);
}

static void svc_on_login(void *state, const Hbb__LoginRequest *req)
{
	struct input_svc *s = state;

	s->logged_in = true;
	if (req)
		apply_options(s, req->option);
}

static bool svc_on_message(void *state, const Hbb__Message *msg)
{
	struct input_svc *s = state;
	bool allowed = s->logged_in && !s->view_only;

	switch (msg->union_case) {
	case HBB__MESSAGE__UNION_KEY_EVENT:
		if (allowed && msg->key_event)
			handle_key(s, msg->key_event);
		return true;
	case HBB__MESSAGE__UNION_MOUSE_EVENT:
		if (allowed && msg->mouse_event)
			handle_mouse(s, msg->mouse_event);
		return true;
	case HBB__MESSAGE__UNION_POINTER_DEVICE_EVENT:
		return true; /* touch gestures: not for a KVM */
	case HBB__MESSAGE__UNION_CLIPBOARD:
		if (!s->type_clipboard)
			return false;
		if (allowed && msg->clipboard)
			type_clipboard(s, msg->clipboard);
		return true;
	case HBB__MESSAGE__UNION_MULTI_CLIPBOARDS:
		if (!s->type_clipboard)
			return false;
		for (size_t i = 0; allowed && msg->multi_clipboards &&
				   i < msg->multi_clipboards->n_clipboards;
		     i++) {
			const Hbb__Clipboard *cb =
				msg->multi_clipboards->clipboards[i];
			if (cb && cb->format == HBB__CLIPBOARD_FORMAT__Text) {
				type_clipboard(s, cb);
				break;
			}
		}
		return true;
	case HBB__MESSAGE__UNION_MISC:
		if (msg->misc && msg->misc->union_case == HBB__MISC__UNION_OPTION)
			apply_options(s, msg->misc->option);
		return false; /* other services read options too */
	default:
		return false;
	}
}

static void svc_destroy(void *state)
{
	struct input_svc *s = state;

	if (!s)
		return;
	for (size_t i = 0; i < sizeof(instances) / sizeof(instances[0]); i++)
		if (instances[i] == s)
			instances[i] = NULL;
	/* Closing the connection makes hidd release what we hold; say it
	 * explicitly too, in case the socket outlives us in a child. */
	if (s->fd >= 0 && s->hello_ok) {
		uint8_t buf[16];
		struct pending p = {EV_RELEASE_ALL, 0, 0, 0, 0};
		kd_unix_send(s->fd, buf, pack(&p, buf), -1);
	}
	if (s->fd >= 0) {
		event_del(s->read_ev);
		event_del(s->write_ev);
		close(s->fd);
	}
	if (s->retry_ev)
		event_free(s->retry_ev);
	free(s->read_ev);
	free(s->write_ev);
	free(s->q);
	free(s);
}

const struct kd_keylayout *kd_input_service_layout(const struct kd_config *cfg,
						  bool warn)
{
	const char *name = kd_config_get_or(cfg, "hid", "target_layout", "us");
	const struct kd_keylayout *l = kd_keylayout_find(name);
	char known[64] = "";

	if (l)
		return l;
	if (warn) {
		for (size_t i = 0; kd_keylayout_at(i); i++)
			snprintf(known + strlen(known),
				 sizeof(known) - strlen(known), "%s%s",
				 i ? ", " : "",
				 kd_keylayout_name(kd_keylayout_at(i)));
		kd_warn("[hid] target_layout = %s: unknown layout (known: %s); "
			"text is typed as on a US keyboard", name, known);
	}
	return kd_keylayout_us();
}

void kd_input_service_set_display(void *state, int32_t x, int32_t y,
				  int32_t width, int32_t height)
{
	struct input_svc *s = state;

	if (width <= 0 || height <= 0)
		return;
	s->disp_x = x;
	s->disp_y = y;
	s->disp_w = width;
	s->disp_h = height;
}

void kd_input_service_display_changed(struct kd_worker *w, int32_t width,
				      int32_t height)
{
	for (size_t i = 0; i < sizeof(instances) / sizeof(instances[0]); i++)
		if (instances[i] && instances[i]->w == w)
			kd_input_service_set_display(instances[i],
						     instances[i]->disp_x,
						     instances[i]->disp_y, width,
						     height);
}

unsigned kd_input_service_queued(void *state)
{
	return ((struct input_svc *)state)->q_len;
}

bool kd_input_service_connected(void *state)
{
	return ((struct input_svc *)state)->fd >= 0;
}

const struct kd_worker_service kd_input_service = {
	.name = "input",
	.create = svc_create,
	.fill_peer_info = svc_fill_peer_info,
	.on_login = svc_on_login,
	.on_message = svc_on_message,
	.destroy = svc_destroy,
};
