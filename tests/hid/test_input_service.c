/* The worker's input service against hidd's real input socket and state, in
 * one process: RustDesk KeyEvent / MouseEvent in, HID report bytes out. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <zstd.h>

#include "hid_device.h"
#include "hid_test_util.h"
#include "input_server.h"
#include "input_service.h"
#include "input_state.h"
#include "unix_socket.h"
#include "rd_client.h"

static struct event_base *base;
static struct mem_port *kp, *mp;
static struct kd_hid_device *kdev, *mdev;
static struct kd_input_state *st;
static struct kd_input_server *srv;
static struct kd_worker *w;
static void *svc;
static char sock_path[128];

static void start_hidd(void)
{
	int fd = kd_unix_listen(sock_path, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(kd_input_server_new(base, fd, st, &srv), 0);
}

static void setup_with(const char *config)
{
	struct kd_input_devices d;
	struct kd_hid_report k0 = {.len = 8}, m0;
	const char *dir = make_temp_dir();

	base = event_base_new();
	kp = mem_port_new(KD_REPORT_KEYBOARD);
	mp = mem_port_new(KD_REPORT_MOUSE_ABS);
	ck_assert_int_eq(kd_hid_device_new(base, &kp->port, &kdev), 0);
	ck_assert_int_eq(kd_hid_device_new(base, &mp->port, &mdev), 0);
	d = (struct kd_input_devices){kdev, mdev, NULL};
	ck_assert_int_eq(kd_input_state_new(&d, &st), 0);
	kd_hid_device_set_led_cb(kdev, kd_input_state_leds, st);
	kd_hid_abs_report(0, 0, 0, 0, 0, &m0);
	kd_hid_device_start(kdev, &k0);
	kd_hid_device_start(mdev, &m0);
	snprintf(sock_path, sizeof(sock_path), "%s/hidd.sock", dir);
	start_hidd();
	w = fake_worker_new(base, dir, config);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(kd_input_service.create(w, &svc), 0);
	run_pending(base);
	ck_assert_uint_eq(kd_input_state_sessions(st), 1);
}

static void setup(void)
{
	setup_with("[video]\nwidth = 1920\nheight = 1080\n"
		   "[hid]\ntype_clipboard = on\n");
}

static void setup_de(void)
{
	setup_with("[hid]\ntarget_layout = de\n");
}

static void setup_fr(void)
{
	setup_with("[hid]\ntarget_layout = fr\n");
}

static void setup_it(void)
{
	setup_with("[hid]\ntarget_layout = it\n");
}

static void setup_unknown_layout(void)
{
	setup_with("[hid]\ntarget_layout = klingon\n");
}

static void teardown(void)
{
	if (svc)
		kd_input_service.destroy(svc);
	svc = NULL;
	run_pending(base);
	kd_input_server_free(srv);
	kd_input_state_free(st);
	kd_hid_device_destroy(kdev);
	kd_hid_device_destroy(mdev);
	fake_worker_free(w);
	event_base_free(base);
}

static void login(Hbb__OptionMessage *opt)
{
	Hbb__LoginRequest req = HBB__LOGIN_REQUEST__INIT;

	req.option = opt;
	kd_input_service.on_login(svc, &req);
}

static void send_msg(Hbb__Message *m)
{
	ck_assert(kd_input_service.on_message(svc, m));
	run_pending(base);
}

static void key_x11(uint32_t code, bool down)
{
	Hbb__Message m;
	Hbb__KeyEvent ke;

	rd_build_map_key(&m, &ke, code, down);
	send_msg(&m);
}

static void key_control(Hbb__KeyboardMode mode, int ck, bool down,
			bool press, Hbb__ControlKey *mods, size_t n_mods)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;

	ke.mode = mode;
	ke.union_case = HBB__KEY_EVENT__UNION_CONTROL_KEY;
	ke.control_key = (Hbb__ControlKey)ck;
	ke.down = down;
	ke.press = press;
	ke.modifiers = mods;
	ke.n_modifiers = n_mods;
	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = &ke;
	send_msg(&m);
}

static void key_seq(const char *text)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;

	ke.mode = HBB__KEYBOARD_MODE__Translate;
	ke.union_case = HBB__KEY_EVENT__UNION_SEQ;
	ke.seq = (char *)text;
	ke.down = true;
	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = &ke;
	send_msg(&m);
}

static void mouse(int mask, int x, int y)
{
	Hbb__Message m;
	Hbb__MouseEvent me;

	rd_build_mouse(&m, &me, mask, x, y);
	send_msg(&m);
}

/* Checks the keyboard reports written since index from. */
static void expect_kbd(size_t from, const char *const *want, size_t n)
{
	ck_assert_uint_eq(kp->n - from, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(mem_port_hex(kp, from + i), want[i]);
}

#define EXPECT_KBD(from, ...)                                                \
	do {                                                                 \
		const char *const want_[] = {__VA_ARGS__};                   \
		expect_kbd((from), want_, sizeof(want_) / sizeof(want_[0])); \
	} while (0)

#define NONE "00 00 00 00 00 00 00 00"

START_TEST(nothing_before_login)
{
	size_t k0 = kp->n, m0 = mp->n;

	key_x11(38, true);
	mouse(0, 100, 100);
	ck_assert_uint_eq(kp->n, k0);
	ck_assert_uint_eq(mp->n, m0);
}
END_TEST

START_TEST(map_mode_shifted_letters)
{
	size_t k0 = kp->n;

	login(NULL);
	key_x11(50, true);  /* ShiftLeft */
	key_x11(43, true);  /* H */
	key_x11(43, true);  /* auto-repeat: ignored */
	key_x11(43, false);
	key_x11(50, false);
	key_x11(31, true);  /* i */
	key_x11(31, false);
	key_x11(62, true);  /* ShiftRight */
	key_x11(10, true);  /* 1 -> ! */
	key_x11(10, false);
	key_x11(62, false);
	EXPECT_KBD(k0, "02 00 00 00 00 00 00 00", "02 00 0b 00 00 00 00 00",
		   "02 00 00 00 00 00 00 00", NONE, "00 00 0c 00 00 00 00 00",
		   NONE, "20 00 00 00 00 00 00 00", "20 00 1e 00 00 00 00 00",
		   "20 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(translate_text_is_typed_on_us_layout)
{
	size_t k0 = kp->n;

	login(NULL);
	key_seq("Hi!");
	EXPECT_KBD(k0, "02 00 00 00 00 00 00 00", "02 00 0b 00 00 00 00 00",
		   "02 00 00 00 00 00 00 00", NONE, "00 00 0c 00 00 00 00 00",
		   NONE, "02 00 00 00 00 00 00 00", "02 00 1e 00 00 00 00 00",
		   "02 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(ctrl_alt_del_both_ways)
{
	Hbb__ControlKey mods[] = {HBB__CONTROL_KEY__Alt,
				  HBB__CONTROL_KEY__Control};
	size_t k0 = kp->n;

	login(NULL);
	/* Toolbar button for a non-Windows peer (spec §5.2). */
	key_control(HBB__KEYBOARD_MODE__Legacy, HBB__CONTROL_KEY__Delete,
		    false, true, mods, 2);
	EXPECT_KBD(k0, "01 00 00 00 00 00 00 00", "05 00 00 00 00 00 00 00",
		   "05 00 4c 00 00 00 00 00", "05 00 00 00 00 00 00 00",
		   "01 00 00 00 00 00 00 00", NONE);
	/* ControlKey::CtrlAltDel */
	key_control(HBB__KEYBOARD_MODE__Legacy, HBB__CONTROL_KEY__CtrlAltDel,
		    true, false, NULL, 0);
	EXPECT_KBD(k0 + 6, "01 00 00 00 00 00 00 00",
		   "05 00 00 00 00 00 00 00", "05 00 4c 00 00 00 00 00",
		   "05 00 00 00 00 00 00 00", "01 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(every_control_key_reaches_the_report)
{
	login(NULL);
	for (int ck = 1; ck <= 79; ck++) {
		size_t k0 = kp->n;
		uint8_t usage = 0;
		char want[32];
		/* what the table says (test_keymap checks the table itself) */
		extern uint8_t kd_keymap_control_key(uint32_t);
		usage = kd_keymap_control_key((uint32_t)ck);
		/* Legacy: no lock sync (tapping NumLock / CapsLock here
		 * changes what the host's LEDs say for the keys after). */
		key_control(HBB__KEYBOARD_MODE__Legacy, ck, false, true, NULL,
			    0);
		if (!usage) {
			ck_assert_uint_eq(kp->n, k0);
			continue;
		}
		if (usage >= 0xE0)
			snprintf(want, sizeof(want), "%02x 00 00 00 00 00 00 00",
				 1u << (usage - 0xE0));
		else
			snprintf(want, sizeof(want), "00 00 %02x 00 00 00 00 00",
				 usage);
		ck_assert_msg(kp->n == k0 + 2, "ControlKey %d: %zu reports",
			      ck, kp->n - k0);
		ck_assert_str_eq(mem_port_hex(kp, k0), want);
		ck_assert_str_eq(mem_port_hex(kp, k0 + 1), NONE);
	}
}
END_TEST

static uint32_t hid_of(int v, int size)
{
	return (uint32_t)((int64_t)v * 32767 / (size - 1));
}

static void expect_mouse(size_t i, uint8_t buttons, uint32_t x, uint32_t y,
			 int wheel, int pan)
{
	struct kd_hid_report r;

	ck_assert_uint_lt(i, mp->n);
	kd_hid_abs_report(buttons, x, y, wheel, pan, &r);
	ck_assert_mem_eq(mp->reports[i].b, r.b, 7);
}

START_TEST(clicks_drags_and_scrolls)
{
	size_t m0 = mp->n;
	uint32_t x1 = hid_of(959, 1920), y1 = hid_of(539, 1080);
	uint32_t x2 = hid_of(1919, 1920), y2 = hid_of(0, 1080);

	login(NULL);
	mouse(0, 959, 539);             /* move */
	mouse(1 | 1 << 3, 0, 0);        /* left down: x/y ignored */
	mouse(2 | 1 << 3, 0, 0);        /* left up */
	mouse(1 | 2 << 3, 0, 0);        /* right click */
	mouse(2 | 2 << 3, 0, 0);
	mouse(1 | 1 << 3, 0, 0);        /* drag */
	mouse(0, 1000, 300);
	mouse(0, 1919, 0);
	mouse(2 | 1 << 3, 0, 0);
	mouse(3, 0, 1);                 /* wheel up */
	mouse(3, 0, -1);                /* wheel down */
	mouse(3, 1, 0);                 /* left: pan -1 */
	mouse(3, -1, 0);                /* right: pan +1 */
	ck_assert_uint_eq(mp->n - m0, 13);
	expect_mouse(m0 + 0, 0, x1, y1, 0, 0);
	expect_mouse(m0 + 1, 1, x1, y1, 0, 0);
	expect_mouse(m0 + 2, 0, x1, y1, 0, 0);
	expect_mouse(m0 + 3, 2, x1, y1, 0, 0);
	expect_mouse(m0 + 4, 0, x1, y1, 0, 0);
	expect_mouse(m0 + 5, 1, x1, y1, 0, 0);
	expect_mouse(m0 + 6, 1, hid_of(1000, 1920), hid_of(300, 1080), 0, 0);
	expect_mouse(m0 + 7, 1, x2, y2, 0, 0);
	ck_assert_uint_eq(x2, 32767);
	expect_mouse(m0 + 8, 0, x2, y2, 0, 0);
	expect_mouse(m0 + 9, 0, x2, y2, 1, 0);
	expect_mouse(m0 + 10, 0, x2, y2, -1, 0);
	expect_mouse(m0 + 11, 0, x2, y2, 0, -1);
	expect_mouse(m0 + 12, 0, x2, y2, 0, 1);
}
END_TEST

START_TEST(view_only_ignores_input)
{
	Hbb__OptionMessage opt = HBB__OPTION_MESSAGE__INIT;
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Misc misc = HBB__MISC__INIT;
	size_t k0 = kp->n, m0;

	opt.disable_keyboard = HBB__OPTION_MESSAGE__BOOL_OPTION__Yes;
	login(&opt);
	key_x11(38, true);
	key_x11(38, false);
	m0 = mp->n;
	mouse(0, 10, 10);
	ck_assert_uint_eq(kp->n, k0);
	ck_assert_uint_eq(mp->n, m0);
	/* The client switches view-only off mid-session. */
	opt.disable_keyboard = HBB__OPTION_MESSAGE__BOOL_OPTION__No;
	misc.union_case = HBB__MISC__UNION_OPTION;
	misc.option = &opt;
	m.union_case = HBB__MESSAGE__UNION_MISC;
	m.misc = &misc;
	ck_assert(!kd_input_service.on_message(svc, &m));
	key_x11(38, true);
	key_x11(38, false);
	EXPECT_KBD(k0, "00 00 04 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(session_end_releases_what_it_holds)
{
	login(NULL);
	key_x11(50, true); /* Shift */
	key_x11(38, true); /* A */
	mouse(0, 100, 100);
	mouse(1 | 1 << 3, 0, 0);
	ck_assert_str_eq(mem_port_hex(kp, kp->n - 1),
			 "02 00 04 00 00 00 00 00");
	kd_input_service.destroy(svc); /* worker dies with keys held */
	svc = NULL;
	run_pending(base);
	ck_assert_str_eq(mem_port_hex(kp, kp->n - 1), NONE);
	ck_assert_uint_eq(mp->reports[mp->n - 1].b[0], 0);
	ck_assert_uint_eq(kd_input_state_sessions(st), 0);
}
END_TEST

START_TEST(hidd_restart_resumes_input)
{
	size_t k0;

	login(NULL);
	key_x11(50, true); /* Shift held when hidd goes away */
	kd_input_server_free(srv);
	ck_assert_str_eq(mem_port_hex(kp, kp->n - 1), NONE);
	run_pending(base);
	ck_assert(!kd_input_service_connected(svc));
	start_hidd();
	/* Back-off starts at 100 ms: wait for the reconnect timer. */
	for (int i = 0; i < 50 && !kd_input_service_connected(svc); i++)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert(kd_input_service_connected(svc));
	run_pending(base);
	k0 = kp->n;
	key_x11(50, false); /* release of a key the new hidd never saw */
	key_x11(38, true);
	key_x11(38, false);
	EXPECT_KBD(k0, "00 00 04 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(caps_lock_follows_the_client_in_map_mode)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;
	Hbb__ControlKey caps[] = {HBB__CONTROL_KEY__CapsLock};
	size_t k0 = kp->n;

	login(NULL);
	/* 'a' with the client's CapsLock on; the host's LED is off. */
	ke.mode = HBB__KEYBOARD_MODE__Map;
	ke.union_case = HBB__KEY_EVENT__UNION_CHR;
	ke.chr = 38;
	ke.down = true;
	ke.modifiers = caps;
	ke.n_modifiers = 1;
	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = &ke;
	send_msg(&m);
	ke.down = false;
	send_msg(&m);
	/* The next letter, CapsLock still on: no second tap. */
	ke.chr = 56;
	ke.down = true;
	send_msg(&m);
	ke.down = false;
	send_msg(&m);
	EXPECT_KBD(k0, "00 00 39 00 00 00 00 00", NONE,
		   "00 00 04 00 00 00 00 00", NONE, "00 00 05 00 00 00 00 00",
		   NONE);
	ck_assert_uint_eq(kd_input_state_get_leds(st), 0x02);
}
END_TEST

START_TEST(typed_text_is_not_inverted_by_host_caps_lock)
{
	size_t k0;

	login(NULL);
	/* The host's CapsLock is on (say, pressed on its own keyboard). */
	kp->leds = 0x02;
	kd_input_state_leds(st, 0x02);
	k0 = kp->n;
	key_seq("aB");
	EXPECT_KBD(k0, "00 00 39 00 00 00 00 00", NONE,
		   "00 00 04 00 00 00 00 00", NONE, "02 00 00 00 00 00 00 00",
		   "02 00 05 00 00 00 00 00", "02 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(moves_merge_while_hidd_is_slow)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__MouseEvent me = HBB__MOUSE_EVENT__INIT;
	size_t m0 = mp->n, presses = 0, releases = 0;
	unsigned queued;

	login(NULL);
	m.union_case = HBB__MESSAGE__UNION_MOUSE_EVENT;
	m.mouse_event = &me;
	/* hidd does not run meanwhile: the socket fills, the worker queues. */
	for (int i = 0; i < 20000; i++) {
		me.mask = 0;
		me.x = i % 1920;
		me.y = 500;
		ck_assert(kd_input_service.on_message(svc, &m));
		if (i == 10000 || i == 15000) {
			me.mask = (i == 10000 ? 1 : 2) | 1 << 3;
			ck_assert(kd_input_service.on_message(svc, &m));
		}
	}
	me.mask = 0;
	me.x = 1919;
	me.y = 1079;
	ck_assert(kd_input_service.on_message(svc, &m));
	queued = kd_input_service_queued(svc);
	ck_assert_uint_gt(queued, 0);
	ck_assert_uint_le(queued, 5); /* moves merged, click kept */
	for (int i = 0; i < 100 && kd_input_service_queued(svc); i++)
		run_pending(base);
	run_pending(base);
	ck_assert_uint_eq(kd_input_service_queued(svc), 0);
	for (size_t i = m0; i < mp->n; i++) {
		bool down = mp->reports[i].b[0] & 1;
		bool was = i > 0 && (mp->reports[i - 1].b[0] & 1);
		presses += down && !was;
		releases += !down && was;
		if (down && !was) /* pressed where the pointer was then */
			ck_assert_uint_eq(mp->reports[i].b[1] |
						  mp->reports[i].b[2] << 8,
					  hid_of(10000 % 1920, 1920));
	}
	ck_assert_uint_eq(presses, 1);
	ck_assert_uint_eq(releases, 1);
	expect_mouse(mp->n - 1, 0, 32767, 32767, 0, 0);
}
END_TEST

START_TEST(pointer_follows_a_display_size_change)
{
	size_t m0 = mp->n;

	login(NULL);
	mouse(0, 1279, 719);
	expect_mouse(m0, 0, hid_of(1279, 1920), hid_of(719, 1080), 0, 0);
	/* The video service switched the client to 1280x720. */
	kd_input_service_display_changed(w, 1280, 720);
	mouse(0, 1279, 719);
	expect_mouse(m0 + 1, 0, 32767, 32767, 0, 0);
	mouse(0, 640, 360);
	expect_mouse(m0 + 2, 0, hid_of(640, 1280), hid_of(360, 720), 0, 0);
}
END_TEST

START_TEST(relative_moves_without_relative_mouse)
{
	size_t m0 = mp->n;

	login(NULL);
	mouse(0, 100, 100);
	mouse(5, 10, -5);      /* relative mode, no relative HID mouse */
	mouse(5, 10000, 0);    /* clamped to the screen */
	ck_assert_uint_eq(mp->n - m0, 3);
	expect_mouse(m0 + 1, 0, hid_of(110, 1920), hid_of(95, 1080), 0, 0);
	expect_mouse(m0 + 2, 0, 32767, hid_of(95, 1080), 0, 0);
}
END_TEST

static void clipboard(const void *data, size_t len, bool compress)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__Clipboard cb = HBB__CLIPBOARD__INIT;

	cb.format = HBB__CLIPBOARD_FORMAT__Text;
	cb.compress = compress;
	cb.content.data = (uint8_t *)data;
	cb.content.len = len;
	m.union_case = HBB__MESSAGE__UNION_CLIPBOARD;
	m.clipboard = &cb;
	send_msg(&m);
}

START_TEST(clipboard_text_is_typed_when_enabled)
{
	char packed[256];
	size_t k0 = kp->n, n;

	login(NULL);
	clipboard("a\r\n", 3, false);
	EXPECT_KBD(k0, "00 00 04 00 00 00 00 00", NONE,
		   "00 00 28 00 00 00 00 00", NONE);
	n = ZSTD_compress(packed, sizeof(packed), "B", 1, 3);
	ck_assert(!ZSTD_isError(n));
	clipboard(packed, n, true);
	EXPECT_KBD(k0 + 4, "02 00 00 00 00 00 00 00",
		   "02 00 05 00 00 00 00 00", "02 00 00 00 00 00 00 00",
		   NONE);
	clipboard("\x28\xb5\x2f\xfd garbage", 12, true); /* corrupt: ignored */
	ck_assert_uint_eq(kp->n, k0 + 8);
}
END_TEST

/* ---- target layouts ([hid] target_layout) ---------------------------- */

#define ALTGR "40 00 00 00 00 00 00 00"

/* hidd let go of a Shift the client had not reported for 360 s; the client
 * still holds it as far as sessiond knows. A typed capital must still come
 * out with Shift. */
START_TEST(typed_capital_after_hidd_released_a_stale_shift)
{
	size_t k0;

	login(NULL);
	key_x11(50, true); /* ShiftLeft */
	kd_input_state_set_time(st, kd_input_clock_ms() +
				    KD_INPUT_STALE_KEY_MS + 1000);
	ck_assert_uint_eq(kd_input_state_release_stale(st, KD_INPUT_STALE_KEY_MS),
			  1);
	k0 = kp->n;
	key_seq("A");
	key_x11(50, false);
	EXPECT_KBD(k0, "02 00 00 00 00 00 00 00", "02 00 04 00 00 00 00 00",
		   "02 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(de_altgr_dead_key_and_moved_letters)
{
	size_t k0 = kp->n;

	login(NULL);
	key_seq("@^zY");
	EXPECT_KBD(k0,
		   /* @ = AltGr+Q: Right Alt down, Q, Q up, Right Alt up */
		   ALTGR, "40 00 14 00 00 00 00 00", ALTGR, NONE,
		   /* ^ = dead key, then Space */
		   "00 00 35 00 00 00 00 00", NONE, "00 00 2c 00 00 00 00 00",
		   NONE,
		   /* z and y trade places with US */
		   "00 00 1c 00 00 00 00 00", NONE, "02 00 00 00 00 00 00 00",
		   "02 00 1d 00 00 00 00 00", "02 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(de_held_modifiers)
{
	size_t k0 = kp->n;

	login(NULL);
	/* The client holds Ctrl: it stays down around the AltGr chord. */
	key_x11(37, true); /* ControlLeft */
	key_seq("\xe2\x82\xac"); /* € = AltGr+E */
	key_x11(37, false);
	EXPECT_KBD(k0, "01 00 00 00 00 00 00 00", "41 00 00 00 00 00 00 00",
		   "41 00 08 00 00 00 00 00", "41 00 00 00 00 00 00 00",
		   "01 00 00 00 00 00 00 00", NONE);
	/* The client holds AltGr itself: no second press, and it stays. */
	k0 = kp->n;
	key_x11(108, true); /* AltGr */
	key_seq("@");
	EXPECT_KBD(k0, ALTGR, "40 00 14 00 00 00 00 00", ALTGR);
	/* A character without AltGr lets the held AltGr go first (as a held
	 * Shift is let go), else it would type another character. */
	k0 = kp->n;
	key_seq("a");
	key_x11(108, false); /* already up: nothing more */
	EXPECT_KBD(k0, NONE, "00 00 04 00 00 00 00 00", NONE);
	/* Shift+AltGr together are never needed on de; Shift held + AltGr
	 * character: Shift goes, AltGr comes. */
	k0 = kp->n;
	key_x11(50, true);
	key_seq("{");
	key_x11(50, false);
	EXPECT_KBD(k0, "02 00 00 00 00 00 00 00", NONE, ALTGR,
		   "40 00 24 00 00 00 00 00", ALTGR, NONE);
}
END_TEST

START_TEST(de_legacy_altgr_character_from_windows_client)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;
	Hbb__ControlKey mods[] = {HBB__CONTROL_KEY__Alt,
				  HBB__CONTROL_KEY__Control};
	size_t k0 = kp->n;

	login(NULL);
	/* AltGr+Q on a German Windows client in legacy mode: '@' with the
	 * Ctrl+Alt Windows makes of AltGr. */
	ke.mode = HBB__KEYBOARD_MODE__Legacy;
	ke.union_case = HBB__KEY_EVENT__UNION_CHR;
	ke.chr = '@';
	ke.down = true;
	ke.modifiers = mods;
	ke.n_modifiers = 2;
	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = &ke;
	send_msg(&m);
	EXPECT_KBD(k0, ALTGR, "40 00 14 00 00 00 00 00", ALTGR, NONE);
	/* Ctrl+Alt+E stays a shortcut: 'e' does not need AltGr. */
	k0 = kp->n;
	ke.chr = 'e';
	send_msg(&m);
	EXPECT_KBD(k0, "01 00 00 00 00 00 00 00", "05 00 00 00 00 00 00 00",
		   "05 00 08 00 00 00 00 00", "05 00 00 00 00 00 00 00",
		   "01 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(de_untypeable_character_is_dropped)
{
	size_t k0 = kp->n;

	login(NULL);
	key_seq("\xc3\xb1"); /* ñ */
	ck_assert_uint_eq(kp->n, k0);
	key_seq("\xc3\xb1" "a");
	EXPECT_KBD(k0, "00 00 04 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(de_session_end_releases_altgr)
{
	login(NULL);
	key_x11(108, true); /* AltGr */
	key_seq("@");
	ck_assert_str_eq(mem_port_hex(kp, kp->n - 1), ALTGR);
	kd_input_service.destroy(svc);
	svc = NULL;
	run_pending(base);
	ck_assert_str_eq(mem_port_hex(kp, kp->n - 1), NONE);
}
END_TEST

START_TEST(fr_composed_letter_and_shifted_digit)
{
	size_t k0 = kp->n;

	login(NULL);
	key_seq("\xc3\xaa" "1a"); /* ê1a */
	EXPECT_KBD(k0, "00 00 2f 00 00 00 00 00", NONE,
		   "00 00 08 00 00 00 00 00", NONE, "02 00 00 00 00 00 00 00",
		   "02 00 1e 00 00 00 00 00", "02 00 00 00 00 00 00 00", NONE,
		   "00 00 14 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(fr_host_caps_lock_off_before_digits)
{
	size_t k0;

	login(NULL);
	/* French CapsLock shifts the digit row too: turn it off first. */
	kp->leds = 0x02;
	kd_input_state_leds(st, 0x02);
	k0 = kp->n;
	key_seq("\xc3\xa9"); /* é */
	EXPECT_KBD(k0, "00 00 39 00 00 00 00 00", NONE,
		   "00 00 1f 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(fr_host_caps_lock_turned_on_between_texts)
{
	size_t k0;

	login(NULL);
	key_seq("a"); /* the host's CapsLock is off, and known to be */
	/* Then it goes on (the target's own keyboard, or the client's
	 * CapsLock key): the next digit-row character must turn it off. */
	kp->leds = 0x02;
	kd_input_state_leds(st, 0x02);
	k0 = kp->n;
	key_seq("\xc3\xa9"); /* é */
	EXPECT_KBD(k0, "00 00 39 00 00 00 00 00", NONE,
		   "00 00 1f 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(it_shift_and_altgr_together)
{
	size_t k0 = kp->n;

	login(NULL);
	key_seq("{");
	/* Shift, then AltGr, the key; released the other way round. */
	EXPECT_KBD(k0, "02 00 00 00 00 00 00 00", "42 00 00 00 00 00 00 00",
		   "42 00 2f 00 00 00 00 00", "42 00 00 00 00 00 00 00",
		   "02 00 00 00 00 00 00 00", NONE);
}
END_TEST

START_TEST(unknown_layout_types_us)
{
	size_t k0 = kp->n;

	login(NULL);
	key_seq("z@");
	EXPECT_KBD(k0, "00 00 1d 00 00 00 00 00", NONE,
		   "02 00 00 00 00 00 00 00", "02 00 1f 00 00 00 00 00",
		   "02 00 00 00 00 00 00 00", NONE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("input_service");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, nothing_before_login);
	tcase_add_test(tc, map_mode_shifted_letters);
	tcase_add_test(tc, translate_text_is_typed_on_us_layout);
	tcase_add_test(tc, ctrl_alt_del_both_ways);
	tcase_add_test(tc, every_control_key_reaches_the_report);
	tcase_add_test(tc, clicks_drags_and_scrolls);
	tcase_add_test(tc, view_only_ignores_input);
	tcase_add_test(tc, session_end_releases_what_it_holds);
	tcase_add_test(tc, hidd_restart_resumes_input);
	tcase_add_test(tc, clipboard_text_is_typed_when_enabled);
	tcase_add_test(tc, caps_lock_follows_the_client_in_map_mode);
	tcase_add_test(tc, typed_text_is_not_inverted_by_host_caps_lock);
	tcase_add_test(tc, moves_merge_while_hidd_is_slow);
	tcase_add_test(tc, relative_moves_without_relative_mouse);
	tcase_add_test(tc, pointer_follows_a_display_size_change);
	tcase_add_test(tc, typed_capital_after_hidd_released_a_stale_shift);
	suite_add_tcase(s, tc);
	tc = tcase_create("de");
	tcase_add_checked_fixture(tc, setup_de, teardown);
	tcase_add_test(tc, de_altgr_dead_key_and_moved_letters);
	tcase_add_test(tc, de_held_modifiers);
	tcase_add_test(tc, de_untypeable_character_is_dropped);
	tcase_add_test(tc, de_legacy_altgr_character_from_windows_client);
	tcase_add_test(tc, de_session_end_releases_altgr);
	suite_add_tcase(s, tc);
	tc = tcase_create("fr");
	tcase_add_checked_fixture(tc, setup_fr, teardown);
	tcase_add_test(tc, fr_composed_letter_and_shifted_digit);
	tcase_add_test(tc, fr_host_caps_lock_off_before_digits);
	tcase_add_test(tc, fr_host_caps_lock_turned_on_between_texts);
	suite_add_tcase(s, tc);
	tc = tcase_create("it");
	tcase_add_checked_fixture(tc, setup_it, teardown);
	tcase_add_test(tc, it_shift_and_altgr_together);
	suite_add_tcase(s, tc);
	tc = tcase_create("unknown_layout");
	tcase_add_checked_fixture(tc, setup_unknown_layout, teardown);
	tcase_add_test(tc, unknown_layout_types_us);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
