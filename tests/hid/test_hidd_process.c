/* Integration: the real hidd binary with the file backend, driven by the
 * worker's input service (as a session worker runs it). Checks the exact
 * report bytes a /dev/hidgN would have received. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hid_report.h"
#include "hid_test_util.h"
#include "input_service.h"
#include "ipc.h"
#include "unix_socket.h"
#include "harness.h"
#include "rd_client.h"

static char dir[64], cfg_path[128], kbd_path[128], mouse_path[128];
static char sock_path[128], ctl_path[128];
static pid_t hidd_pid = -1;

static void write_config(void)
{
	FILE *f;

	snprintf(cfg_path, sizeof(cfg_path), "%s/kvmdesk.conf", dir);
	snprintf(kbd_path, sizeof(kbd_path), "%s/files/keyboard", dir);
	snprintf(mouse_path, sizeof(mouse_path), "%s/files/mouse", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/hidd.sock", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/hidd-ctl.sock", dir);
	f = fopen(cfg_path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[general]\nstate_dir = %s\nruntime_dir = %s\n"
		   "log_level = info\n"
		   "[video]\nwidth = 1920\nheight = 1080\n"
		   "[hid]\nbackend = file\nfile_dir = %s/files\n",
		dir, dir, dir);
	fclose(f);
	snprintf(kbd_path, sizeof(kbd_path), "%s/files", dir);
	mkdir(kbd_path, 0755);
	snprintf(kbd_path, sizeof(kbd_path), "%s/files/keyboard", dir);
}

static void start_hidd(void)
{
	const char *build = getenv("KD_BUILD_DIR");
	char exe[512];
	struct stat sb;

	ck_assert_ptr_nonnull(build);
	snprintf(exe, sizeof(exe), "%s/hidd/hidd", build);
	unlink(sock_path);
	hidd_pid = fork();
	ck_assert_int_ge(hidd_pid, 0);
	if (hidd_pid == 0) {
		execl(exe, "hidd", "-c", cfg_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && stat(sock_path, &sb) != 0; i++)
		usleep(10000);
	ck_assert_int_eq(stat(sock_path, &sb), 0);
}

static void stop_hidd(int sig)
{
	int status;

	if (hidd_pid <= 0)
		return;
	kill(hidd_pid, sig);
	waitpid(hidd_pid, &status, 0);
	hidd_pid = -1;
}

/* Runs base (if any) until path holds at least size bytes, 5 s at most. */
static void wait_size(struct event_base *base, const char *path, size_t size)
{
	for (int i = 0; i < 5000 && kd_harness_file_size(path) < size; i++) {
		if (base)
			event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert_uint_ge(kd_harness_file_size(path), size);
}

static int recv_reply(int fd, ProtobufCMessage **m)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	return kd_ipc_recv(fd, &kdipc__ctl_reply__descriptor, m, NULL);
}

static void setup(void)
{
	strcpy(dir, make_temp_dir());
	write_config();
	start_hidd();
}

static void teardown(void)
{
	stop_hidd(SIGTERM);
}

/* A worker's input service, logged in. */
struct client {
	struct event_base *base;
	struct kd_worker *w;
	void *svc;
};

static void client_start(struct client *c)
{
	Hbb__LoginRequest req = HBB__LOGIN_REQUEST__INIT;

	c->base = event_base_new();
	c->w = fake_worker_new(c->base, dir,
			       "[video]\nwidth = 1920\nheight = 1080\n");
	ck_assert_int_eq(kd_input_service.create(c->w, &c->svc), 0);
	kd_input_service.on_login(c->svc, &req);
}

static void client_stop(struct client *c)
{
	kd_input_service.destroy(c->svc);
	fake_worker_free(c->w);
	event_base_free(c->base);
}

static void map_key(struct client *c, uint32_t x11, bool down)
{
	Hbb__Message m;
	Hbb__KeyEvent ke;

	rd_build_map_key(&m, &ke, x11, down);
	kd_input_service.on_message(c->svc, &m);
}

static void control_key(struct client *c, int ck, bool down)
{
	Hbb__Message m = HBB__MESSAGE__INIT;
	Hbb__KeyEvent ke = HBB__KEY_EVENT__INIT;

	ke.union_case = HBB__KEY_EVENT__UNION_CONTROL_KEY;
	ke.control_key = (Hbb__ControlKey)ck;
	ke.down = down;
	m.union_case = HBB__MESSAGE__UNION_KEY_EVENT;
	m.key_event = &ke;
	kd_input_service.on_message(c->svc, &m);
}

static void mouse(struct client *c, int mask, int x, int y)
{
	Hbb__Message m;
	Hbb__MouseEvent me;

	rd_build_mouse(&m, &me, mask, x, y);
	kd_input_service.on_message(c->svc, &m);
}

/* The sentence, as X11 keycodes of a US keyboard: 0 = Shift pressed for
 * the next key. */
static const struct {
	char c;
	uint8_t x11, usage;
	bool shift;
} sentence[] = {
	{'H', 43, 0x0B, true},  {'e', 26, 0x08, false}, {'l', 46, 0x0F, false},
	{'l', 46, 0x0F, false}, {'o', 32, 0x12, false}, {',', 59, 0x36, false},
	{' ', 65, 0x2C, false}, {'W', 25, 0x1A, true},  {'o', 32, 0x12, false},
	{'r', 27, 0x15, false}, {'l', 46, 0x0F, false}, {'d', 40, 0x07, false},
	{'!', 10, 0x1E, true},
};

static void append_kbd(uint8_t *buf, size_t *n, uint8_t mods, uint8_t key)
{
	memset(buf + *n, 0, 8);
	buf[*n] = mods;
	buf[*n + 2] = key;
	*n += 8;
}

START_TEST(starts_with_all_released_reports)
{
	uint8_t buf[64], zero[8] = {0};

	wait_size(NULL, kbd_path, 8);
	wait_size(NULL, mouse_path, 7);
	ck_assert_uint_eq(kd_harness_read_file(kbd_path, buf, sizeof(buf)), 8);
	ck_assert_mem_eq(buf, zero, 8);
	ck_assert_uint_eq(kd_harness_read_file(mouse_path, buf, sizeof(buf)), 7);
	ck_assert_mem_eq(buf, zero, 7);
}
END_TEST

START_TEST(types_a_sentence_and_ctrl_alt_del)
{
	struct client c;
	uint8_t want[2048], got[4096];
	size_t n = 0;

	append_kbd(want, &n, 0, 0); /* hidd's start */
	client_start(&c);
	for (size_t i = 0; i < sizeof(sentence) / sizeof(sentence[0]); i++) {
		if (sentence[i].shift) {
			map_key(&c, 50, true);
			append_kbd(want, &n, 0x02, 0);
		}
		map_key(&c, sentence[i].x11, true);
		map_key(&c, sentence[i].x11, false);
		append_kbd(want, &n, sentence[i].shift ? 0x02 : 0,
			   sentence[i].usage);
		append_kbd(want, &n, sentence[i].shift ? 0x02 : 0, 0);
		if (sentence[i].shift) {
			map_key(&c, 50, false);
			append_kbd(want, &n, 0, 0);
		}
	}
	control_key(&c, 100, true); /* CtrlAltDel */
	append_kbd(want, &n, 0x01, 0);
	append_kbd(want, &n, 0x05, 0);
	append_kbd(want, &n, 0x05, 0x4C);
	append_kbd(want, &n, 0x05, 0);
	append_kbd(want, &n, 0x01, 0);
	append_kbd(want, &n, 0x00, 0);
	wait_size(c.base, kbd_path, n);
	usleep(50000); /* nothing more may arrive */
	ck_assert_uint_eq(kd_harness_read_file(kbd_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	client_stop(&c);
}
END_TEST

static void append_abs(uint8_t *buf, size_t *n, uint8_t b, int x, int y,
		       int wheel, int pan)
{
	struct kd_hid_report r;

	kd_hid_abs_report(b, (uint32_t)((int64_t)x * 32767 / 1919),
			  (uint32_t)((int64_t)y * 32767 / 1079), wheel, pan,
			  &r);
	memcpy(buf + *n, r.b, 7);
	*n += 7;
}

START_TEST(clicks_drags_scrolls)
{
	struct client c;
	uint8_t want[1024], got[2048];
	size_t n = 0;

	append_abs(want, &n, 0, 0, 0, 0, 0); /* hidd's start */
	client_start(&c);
	mouse(&c, 0, 100, 200);
	append_abs(want, &n, 0, 100, 200, 0, 0);
	mouse(&c, 1 | 1 << 3, 0, 0); /* click */
	mouse(&c, 2 | 1 << 3, 0, 0);
	append_abs(want, &n, 1, 100, 200, 0, 0);
	append_abs(want, &n, 0, 100, 200, 0, 0);
	mouse(&c, 1 | 1 << 3, 0, 0); /* drag */
	mouse(&c, 0, 500, 600);
	mouse(&c, 0, 1919, 1079);
	mouse(&c, 2 | 1 << 3, 0, 0);
	append_abs(want, &n, 1, 100, 200, 0, 0);
	append_abs(want, &n, 1, 500, 600, 0, 0);
	append_abs(want, &n, 1, 1919, 1079, 0, 0);
	append_abs(want, &n, 0, 1919, 1079, 0, 0);
	mouse(&c, 3, 0, 1);  /* up */
	mouse(&c, 3, 0, -1); /* down */
	mouse(&c, 3, -1, 0); /* right */
	mouse(&c, 3, 1, 0);  /* left */
	append_abs(want, &n, 0, 1919, 1079, 1, 0);
	append_abs(want, &n, 0, 1919, 1079, -1, 0);
	append_abs(want, &n, 0, 1919, 1079, 0, 1);
	append_abs(want, &n, 0, 1919, 1079, 0, -1);
	wait_size(c.base, mouse_path, n);
	usleep(50000);
	ck_assert_uint_eq(kd_harness_read_file(mouse_path, got, sizeof(got)), n);
	ck_assert_mem_eq(got, want, n);
	client_stop(&c);
}
END_TEST

START_TEST(killed_session_leaves_nothing_pressed)
{
	uint8_t buf[4096], zero[8] = {0}, shift_a[8] = {2, 0, 4, 0, 0, 0, 0, 0};
	size_t n;
	int status;
	pid_t child = fork();

	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct client c;
		client_start(&c);
		map_key(&c, 50, true); /* Shift */
		map_key(&c, 38, true); /* A */
		for (;;) {
			event_base_loop(c.base, EVLOOP_NONBLOCK);
			usleep(1000);
		}
	}
	wait_size(NULL, kbd_path, 3 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_mem_eq(buf + n - 8, shift_a, 8);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	wait_size(NULL, kbd_path, 4 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_uint_eq(n, 4 * 8);
	ck_assert_mem_eq(buf + n - 8, zero, 8);
}
END_TEST

START_TEST(hidd_killed_and_restarted_input_resumes)
{
	struct client c;
	uint8_t buf[4096], zero[8] = {0}, a[8] = {0, 0, 4, 0, 0, 0, 0, 0};
	size_t n;

	client_start(&c);
	map_key(&c, 50, true); /* Shift held when hidd dies */
	wait_size(c.base, kbd_path, 2 * 8);
	stop_hidd(SIGKILL);
	/* The worker notices hidd is gone... */
	for (int i = 0; i < 5000 && kd_input_service_connected(c.svc); i++) {
		event_base_loop(c.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert(!kd_input_service_connected(c.svc));
	start_hidd();
	/* The new hidd starts with an all-released report. */
	wait_size(c.base, kbd_path, 3 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_mem_eq(buf + n - 8, zero, 8);
	/* The same session reconnects (back-off from 100 ms). */
	for (int i = 0; i < 5000 && !kd_input_service_connected(c.svc); i++) {
		event_base_loop(c.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert(kd_input_service_connected(c.svc));
	map_key(&c, 50, false);
	map_key(&c, 38, true);
	map_key(&c, 38, false);
	wait_size(c.base, kbd_path, 5 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_uint_eq(n, 5 * 8);
	ck_assert_mem_eq(buf + 3 * 8, a, 8);
	ck_assert_mem_eq(buf + 4 * 8, zero, 8);
	client_stop(&c);
}
END_TEST

START_TEST(malformed_peer_is_closed_alone)
{
	struct client c;
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	Kdipc__Hello hello;
	uint8_t buf[4096], garbage[] = {0x12, 0x05, 0xFF, 0xFF, 0xFF};
	char one;
	size_t n;
	int bad;

	client_start(&c);
	map_key(&c, 50, true);
	wait_size(c.base, kbd_path, 2 * 8);
	bad = kd_unix_connect(sock_path);
	ck_assert_int_ge(bad, 0);
	kd_ipc_hello_init(&hello, "test", 7);
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_HELLO;
	ev.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(bad, &ev.base, -1), 0);
	ck_assert_int_eq(kd_unix_send(bad, garbage, sizeof(garbage), -1), 0);
	/* hidd hangs up on it... */
	fcntl(bad, F_SETFL, 0);
	for (;;) {
		ssize_t r = recv(bad, &one, 1, 0);
		if (r <= 0)
			break;
	}
	close(bad);
	/* ...and the good session still types with Shift held. */
	map_key(&c, 38, true);
	wait_size(c.base, kbd_path, 3 * 8);
	n = kd_harness_read_file(kbd_path, buf, sizeof(buf));
	ck_assert_uint_eq(buf[n - 8], 0x02);
	ck_assert_uint_eq(buf[n - 6], 0x04);
	client_stop(&c);
}
END_TEST

START_TEST(control_socket_answers_status)
{
	Kdipc__CtlRequest req = KDIPC__CTL_REQUEST__INIT;
	Kdipc__StatusRequest sr = KDIPC__STATUS_REQUEST__INIT;
	Kdipc__Hello hello;
	ProtobufCMessage *m = NULL;
	Kdipc__CtlReply *rep;
	int fd = kd_unix_connect(ctl_path);
	int r;

	ck_assert_int_ge(fd, 0);
	kd_ipc_hello_init(&hello, "kvmdeskctl", 0);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	req.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(fd, &req.base, -1), 0);
	ck_assert_int_eq(recv_reply(fd, &m), 0);
	ck_assert_int_eq(((Kdipc__CtlReply *)m)->msg_case,
			 KDIPC__CTL_REPLY__MSG_HELLO);
	protobuf_c_message_free_unpacked(m, NULL);
	req.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	req.status = &sr;
	ck_assert_int_eq(kd_ipc_send(fd, &req.base, -1), 0);
	r = recv_reply(fd, &m);
	ck_assert_int_eq(r, 0);
	rep = (Kdipc__CtlReply *)m;
	ck_assert_int_eq(rep->msg_case, KDIPC__CTL_REPLY__MSG_STATUS);
	ck_assert_str_eq(rep->status->component, "hidd");
	ck_assert_int_eq(rep->status->pid, hidd_pid);
	ck_assert_ptr_nonnull(strstr(rep->status->state, "keyboard online"));
	protobuf_c_message_free_unpacked(m, NULL);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hidd_process");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, starts_with_all_released_reports);
	tcase_add_test(tc, types_a_sentence_and_ctrl_alt_del);
	tcase_add_test(tc, clicks_drags_scrolls);
	tcase_add_test(tc, killed_session_leaves_nothing_pressed);
	tcase_add_test(tc, hidd_killed_and_restarted_input_resumes);
	tcase_add_test(tc, malformed_peer_is_closed_alone);
	tcase_add_test(tc, control_socket_answers_status);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
