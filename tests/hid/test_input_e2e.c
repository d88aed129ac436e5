/* End to end: the RustDesk test client logs in to the real sessiond, whose
 * worker forwards input to the real hidd (file backend). The report files
 * must hold exactly what a USB host would have received. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_server.h"
#include "harness.h"
#include "ipc.h"
#include "rd_client.h"
#include "unix_socket.h"

#define PASSWORD "Passw0rd!"
#define T_MS 5000
#define WIDTH 1280
#define HEIGHT 720

static struct kd_harness H;
static char kbd_path[400], mouse_path[400];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup_with(const char *extra)
{
	char conf[256];

	snprintf(conf, sizeof(conf), "[video]\nwidth = 1280\nheight = 720\n%s",
		 extra);
	ck_assert_int_eq(kd_harness_setup(&H, conf, PASSWORD), 0);
	snprintf(kbd_path, sizeof(kbd_path), "%s/keyboard", H.file_dir);
	snprintf(mouse_path, sizeof(mouse_path), "%s/mouse", H.file_dir);
	mkdir(H.file_dir, 0755);
	ck_assert_int_eq(kd_harness_start_daemon(&H, "hidd", "hidd.sock", T_MS), 0);
	ck_assert_int_eq(kd_harness_start_daemon(&H, "sessiond",
						 "sessiond-ctl.sock", T_MS), 0);
}

static void setup(void)
{
	setup_with("");
}

static void setup_de(void)
{
	setup_with("[hid]\ntarget_layout = de\n");
}

static void setup_unknown_layout(void)
{
	setup_with("[hid]\ntarget_layout = dvorak\n");
}

static void teardown(void)
{
	if (getenv("KD_TEST_VERBOSE")) {
		kd_harness_dump_log(&H, "hidd");
		kd_harness_dump_log(&H, "sessiond");
	}
	kd_harness_cleanup(&H);
}

static struct rd_client *logged_in_client(void)
{
	struct rd_client_opts o;
	struct rd_client *c;
	Hbb__Message *m = NULL;
	char dialed[64];
	int fd;

	snprintf(dialed, sizeof(dialed), "127.0.0.1:%u", H.port);
	rd_client_opts_default(&o);
	o.dialed = dialed;
	fd = rd_client_tcp_connect("127.0.0.1", H.port, NULL, T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rd_client_new(fd, &o, &c), 0);
	ck_assert_int_eq(rd_client_handshake(c, T_MS), 0);
	ck_assert_int_eq(rd_client_login(c, PASSWORD, T_MS, &m), 0);
	ck_assert_int_eq(m->login_response->union_case,
			 HBB__LOGIN_RESPONSE__UNION_PEER_INFO);
	ck_assert_str_eq(m->login_response->peer_info->platform, "Linux");
	hbb__message__free_unpacked(m, NULL);
	return c;
}

/* Reads (and drops) what the peer sends, answering keep-alive probes. */
static void pump(struct rd_client *c, int ms)
{
	int64_t end = now_ms() + ms;

	while (c && now_ms() < end) {
		int err;
		Hbb__Message *m = rd_client_recv(c, 5, &err);
		if (m)
			hbb__message__free_unpacked(m, NULL);
	}
	if (!c)
		usleep((useconds_t)ms * 1000);
}

static void wait_size(struct rd_client *c, const char *path, size_t size)
{
	int64_t end = now_ms() + T_MS;

	while (kd_harness_file_size(path) < size && now_ms() < end)
		pump(c, 5);
	if (kd_harness_file_size(path) < size) {
		kd_harness_dump_log(&H, "hidd");
		kd_harness_dump_log(&H, "sessiond");
	}
	ck_assert_uint_ge(kd_harness_file_size(path), size);
}

static void send_key(struct rd_client *c, Hbb__KeyEvent *ke)
{
	Hbb__Message m = HBB__MESSAGE__INIT;

	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = ke;
	ck_assert_int_eq(rd_client_send(c, &m), 0);
}

static void map_key(struct rd_client *c, uint32_t x11, bool down)
{
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;

	ke.mode = HBB__KEYBOARD_MODE__Map;
	ke.union_case = HBB__KEY_EVENT__UNION_CHR;
	ke.chr = x11;
	ke.down = down;
	send_key(c, &ke);
}

static void mouse(struct rd_client *c, int mask, int x, int y)
{
	Hbb__Message m;
	Hbb__MouseEvent me;

	rd_build_mouse(&m, &me, mask, x, y);
	ck_assert_int_eq(rd_client_send(c, &m), 0);
}

static void append_kbd(uint8_t *buf, size_t *n, uint8_t mods, uint8_t key)
{
	memset(buf + *n, 0, 8);
	buf[*n] = mods;
	buf[*n + 2] = key;
	*n += 8;
}

static void append_abs(uint8_t *buf, size_t *n, uint8_t b, int x, int y,
		       int wheel, int pan)
{
	uint32_t hx = (uint32_t)((int64_t)x * 32767 / (WIDTH - 1));
	uint32_t hy = (uint32_t)((int64_t)y * 32767 / (HEIGHT - 1));
	uint8_t *p = buf + *n;

	p[0] = b;
	p[1] = (uint8_t)(hx & 0xFF);
	p[2] = (uint8_t)(hx >> 8);
	p[3] = (uint8_t)(hy & 0xFF);
	p[4] = (uint8_t)(hy >> 8);
	p[5] = (uint8_t)(int8_t)wheel;
	p[6] = (uint8_t)(int8_t)pan;
	*n += 7;
}

/* "Hello, World!" on a US keyboard, as a Linux client sends it in Map mode
 * to a "Linux" peer: X11 keycodes; Shift (50) around capitals and '!'. */
static const struct {
	uint8_t x11, usage;
	bool shift;
} sentence[] = {
	{43, 0x0B, true},  {26, 0x08, false}, {46, 0x0F, false},
	{46, 0x0F, false}, {32, 0x12, false}, {59, 0x36, false},
	{65, 0x2C, false}, {25, 0x1A, true},  {32, 0x12, false},
	{27, 0x15, false}, {46, 0x0F, false}, {40, 0x07, false},
	{10, 0x1E, true},
};

START_TEST(sentence_and_ctrl_alt_del)
{
	struct rd_client *c = logged_in_client();
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;
	Hbb__ControlKey mods[] = {HBB__CONTROL_KEY__Alt,
				  HBB__CONTROL_KEY__Control};
	uint8_t want[2048], got[4096];
	size_t n = 0;

	append_kbd(want, &n, 0, 0); /* hidd starts all released */
	for (size_t i = 0; i < sizeof(sentence) / sizeof(sentence[0]); i++) {
		if (sentence[i].shift) {
			map_key(c, 50, true);
			append_kbd(want, &n, 0x02, 0);
		}
		map_key(c, sentence[i].x11, true);
		map_key(c, sentence[i].x11, false);
		append_kbd(want, &n, sentence[i].shift ? 0x02 : 0,
			   sentence[i].usage);
		append_kbd(want, &n, sentence[i].shift ? 0x02 : 0, 0);
		if (sentence[i].shift) {
			map_key(c, 50, false);
			append_kbd(want, &n, 0, 0);
		}
	}
	/* The toolbar's Ctrl+Alt+Del for a non-Windows peer (spec §5.2). */
	ke.union_case = HBB__KEY_EVENT__UNION_CONTROL_KEY;
	ke.control_key = HBB__CONTROL_KEY__Delete;
	ke.press = true;
	ke.modifiers = mods;
	ke.n_modifiers = 2;
	send_key(c, &ke);
	append_kbd(want, &n, 0x01, 0);
	append_kbd(want, &n, 0x05, 0);
	append_kbd(want, &n, 0x05, 0x4C);
	append_kbd(want, &n, 0x05, 0);
	append_kbd(want, &n, 0x01, 0);
	append_kbd(want, &n, 0x00, 0);
	wait_size(c, kbd_path, n);
	pump(c, 100); /* nothing more may arrive */
	ck_assert_uint_eq(kd_harness_read_file(kbd_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	rd_client_free(c);
}
END_TEST

START_TEST(clicks_drags_scrolls)
{
	struct rd_client *c = logged_in_client();
	uint8_t want[1024], got[2048];
	size_t n = 0;

	append_abs(want, &n, 0, 0, 0, 0, 0);
	mouse(c, 0, 640, 360);
	mouse(c, 1 | 1 << 3, 0, 0); /* left click; x/y of down/up are 0 */
	mouse(c, 2 | 1 << 3, 0, 0);
	append_abs(want, &n, 0, 640, 360, 0, 0);
	append_abs(want, &n, 1, 640, 360, 0, 0);
	append_abs(want, &n, 0, 640, 360, 0, 0);
	mouse(c, 1 | 2 << 3, 0, 0); /* right click */
	mouse(c, 2 | 2 << 3, 0, 0);
	append_abs(want, &n, 2, 640, 360, 0, 0);
	append_abs(want, &n, 0, 640, 360, 0, 0);
	mouse(c, 1 | 1 << 3, 0, 0); /* drag to the far corner */
	mouse(c, 0, 900, 500);
	mouse(c, 0, 1279, 719);
	mouse(c, 2 | 1 << 3, 0, 0);
	append_abs(want, &n, 1, 640, 360, 0, 0);
	append_abs(want, &n, 1, 900, 500, 0, 0);
	append_abs(want, &n, 1, 1279, 719, 0, 0);
	append_abs(want, &n, 0, 1279, 719, 0, 0);
	mouse(c, 3, 0, 1);  /* wheel up */
	mouse(c, 3, 0, -1); /* wheel down */
	mouse(c, 3, -1, 0); /* scroll right: RustDesk x = -1 -> AC Pan +1 */
	mouse(c, 3, 1, 0);  /* scroll left */
	append_abs(want, &n, 0, 1279, 719, 1, 0);
	append_abs(want, &n, 0, 1279, 719, -1, 0);
	append_abs(want, &n, 0, 1279, 719, 0, 1);
	append_abs(want, &n, 0, 1279, 719, 0, -1);
	wait_size(c, mouse_path, n);
	pump(c, 100);
	ck_assert_uint_eq(kd_harness_read_file(mouse_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	ck_assert_uint_eq(got[n - 7 + 1] | got[n - 7 + 2] << 8, 32767);
	rd_client_free(c);
}
END_TEST

static pid_t harness_pid(const char *name)
{
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (H.procs[i].pid && !strcmp(H.procs[i].name, name))
			return H.procs[i].pid;
	return -1;
}

/* sessiond's forked workers: processes whose parent is the monitor. */
static int kill_workers(pid_t monitor)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int killed = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[300], buf[512], *p;
		int fd;
		ssize_t n;
		long ppid;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%*c %ld", &ppid) != 1)
			continue;
		if (ppid == monitor) {
			kill((pid_t)atol(e->d_name), SIGKILL);
			killed++;
		}
	}
	closedir(d);
	return killed;
}

START_TEST(killed_session_leaves_nothing_pressed)
{
	struct rd_client *c = logged_in_client();
	uint8_t buf[256], zero[8] = {0}, shift_a[8] = {2, 0, 4, 0, 0, 0, 0, 0};
	size_t n;

	map_key(c, 50, true); /* Shift */
	map_key(c, 38, true); /* A */
	wait_size(c, kbd_path, 3 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_mem_eq(buf + n - 8, shift_a, 8);
	ck_assert_int_ge(kill_workers(harness_pid("sessiond")), 1);
	wait_size(NULL, kbd_path, 4 * 8);
	pump(NULL, 100);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_uint_eq(n, 4 * 8);
	ck_assert_mem_eq(buf + n - 8, zero, 8);
	rd_client_free(c);
}
END_TEST

START_TEST(dropped_connection_leaves_nothing_pressed)
{
	struct rd_client *c = logged_in_client();
	uint8_t buf[256], zero[8] = {0};
	size_t n;

	map_key(c, 50, true);
	map_key(c, 38, true);
	mouse(c, 0, 10, 10);
	mouse(c, 1 | 1 << 3, 0, 0);
	wait_size(c, kbd_path, 3 * 8);
	wait_size(c, mouse_path, 3 * 7);
	rd_client_free(c); /* the client goes away with keys held */
	wait_size(NULL, kbd_path, 4 * 8);
	wait_size(NULL, mouse_path, 4 * 7);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_mem_eq(buf + n - 8, zero, 8);
	n = kd_harness_read_file(mouse_path, buf, sizeof(buf));
	ck_assert_uint_eq(buf[n - 7], 0);
}
END_TEST

/* hidd's status line, via its control socket. */
static void hidd_state(char *out, size_t len)
{
	char path[512];
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__CtlReply *rep = NULL;

	out[0] = 0;
	snprintf(path, sizeof(path), "%s/hidd-ctl.sock", H.runtime_dir);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	if (kd_ctl_call(path, &req, 2000, &rep) < 0)
		return;
	if (rep->msg_case == KDIPC__CTL_REPLY__MSG_STATUS)
		snprintf(out, len, "%s", rep->status->state);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
}

START_TEST(hidd_killed_and_restarted_input_resumes)
{
	struct rd_client *c = logged_in_client();
	uint8_t buf[256], zero[8] = {0}, b[8] = {0, 0, 5, 0, 0, 0, 0, 0};
	char state[256] = "";
	pid_t pid = harness_pid("hidd");
	int64_t end;
	size_t n;

	map_key(c, 50, true); /* Shift held when hidd dies */
	wait_size(c, kbd_path, 2 * 8);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < KD_HARNESS_MAX_PROCS; i++)
		if (H.procs[i].pid == pid)
			H.procs[i].pid = 0;
	ck_assert_int_gt(kd_harness_start(&H, "hidd"), 0);
	/* The new hidd starts with an all-released report... */
	wait_size(c, kbd_path, 3 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_mem_eq(buf + n - 8, zero, 8);
	/* ...and the session's worker reconnects to it (back-off). */
	end = now_ms() + T_MS;
	while (!strstr(state, "1 session") && now_ms() < end) {
		pump(c, 20);
		hidd_state(state, sizeof(state));
	}
	ck_assert_msg(strstr(state, "1 session"), "hidd says: %s", state);
	map_key(c, 50, false); /* released where the new hidd never saw it */
	map_key(c, 56, true);  /* B */
	map_key(c, 56, false);
	wait_size(c, kbd_path, 5 * 8);
	pump(c, 100);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_uint_eq(n, 5 * 8);
	ck_assert_mem_eq(buf + 3 * 8, b, 8);
	ck_assert_mem_eq(buf + 4 * 8, zero, 8);
	rd_client_free(c);
}
END_TEST

static void send_seq(struct rd_client *c, const char *text)
{
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;

	/* As a mobile client's soft keyboard sends text (spec §5.2). */
	ke.mode = HBB__KEYBOARD_MODE__Legacy;
	ke.union_case = HBB__KEY_EVENT__UNION_SEQ;
	ke.seq = (char *)text;
	send_key(c, &ke);
}

/* A key typed alone, and one with a modifier byte around it. */
static void append_tap(uint8_t *buf, size_t *n, uint8_t usage)
{
	append_kbd(buf, n, 0, usage);
	append_kbd(buf, n, 0, 0);
}

static void append_chord(uint8_t *buf, size_t *n, uint8_t mods, uint8_t usage)
{
	append_kbd(buf, n, mods, 0);
	append_kbd(buf, n, mods, usage);
	append_kbd(buf, n, mods, 0);
	append_kbd(buf, n, 0, 0);
}

START_TEST(german_target_types_text_with_its_keys)
{
	struct rd_client *c = logged_in_client();
	uint8_t want[2048], got[4096];
	size_t n = 0;

	append_kbd(want, &n, 0, 0);       /* hidd starts all released */
	append_chord(want, &n, 0x02, 0x1C); /* Z: Shift + the key US calls Y */
	append_tap(want, &n, 0x2F);       /* ü */
	append_tap(want, &n, 0x15);       /* r */
	append_tap(want, &n, 0x0C);       /* i */
	append_tap(want, &n, 0x06);       /* c */
	append_tap(want, &n, 0x0B);       /* h */
	append_tap(want, &n, 0x2C);       /* space */
	append_chord(want, &n, 0x40, 0x14); /* @: AltGr (Right Alt) + Q */
	append_tap(want, &n, 0x2C);       /* space */
	append_tap(want, &n, 0x1E);       /* 1 */
	append_tap(want, &n, 0x27);       /* 0 */
	append_chord(want, &n, 0x40, 0x08); /* €: AltGr + E */
	send_seq(c, "Z\xc3\xbcrich @ 10\xe2\x82\xac");
	wait_size(c, kbd_path, n);
	pump(c, 100); /* nothing more may arrive */
	ck_assert_uint_eq(kd_harness_read_file(kbd_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	/* Map mode sends positions: the same keycodes as on any layout. */
	map_key(c, 29, true); /* X11 KeyY */
	map_key(c, 29, false);
	append_tap(want, &n, 0x1C);
	wait_size(c, kbd_path, n);
	pump(c, 100);
	ck_assert_uint_eq(kd_harness_read_file(kbd_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	rd_client_free(c);
}
END_TEST

static unsigned count(const char *hay, const char *needle)
{
	unsigned k = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		k++;
	return k;
}

START_TEST(unknown_layout_warns_once_and_types_us)
{
	struct rd_client *c = logged_in_client();
	struct rd_client *c2 = logged_in_client();
	uint8_t want[256], got[512], log[65536];
	size_t n = 0, len;

	append_kbd(want, &n, 0, 0);
	append_tap(want, &n, 0x1D); /* z where US has it */
	send_seq(c, "z");
	wait_size(c, kbd_path, n);
	pump(c, 100);
	ck_assert_uint_eq(kd_harness_read_file(kbd_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	rd_client_free(c);
	rd_client_free(c2);
	len = kd_harness_read_file(kd_harness_path(&H, "sessiond.log"), log,
				   sizeof(log) - 1);
	log[len] = 0;
	/* Once at start, not once per session. */
	ck_assert_msg(count((const char *)log, "target_layout = dvorak") == 1,
		      "sessiond log:\n%s", log);
	ck_assert_ptr_nonnull(strstr((const char *)log, "US keyboard"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("input_e2e");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sentence_and_ctrl_alt_del);
	tcase_add_test(tc, clicks_drags_scrolls);
	tcase_add_test(tc, killed_session_leaves_nothing_pressed);
	tcase_add_test(tc, dropped_connection_leaves_nothing_pressed);
	tcase_add_test(tc, hidd_killed_and_restarted_input_resumes);
	suite_add_tcase(s, tc);
	tc = tcase_create("layout_de");
	tcase_add_checked_fixture(tc, setup_de, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, german_target_types_text_with_its_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("layout_unknown");
	tcase_add_checked_fixture(tc, setup_unknown_layout, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unknown_layout_warns_once_and_types_us);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
