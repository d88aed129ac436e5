/* sd_notify helpers against a fake $NOTIFY_SOCKET: READY with STATUS, the
 * watchdog timer (only for the process systemd watches), STOPPING. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

#define WAIT_MS 5000

static char dir[64];
static char sock_path[96];
static int notify_fd = -1;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kd-notify-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/notify", dir);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	ck_assert_int_eq(bind(notify_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setenv("NOTIFY_SOCKET", sock_path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void teardown(void)
{
	close(notify_fd);
	unlink(sock_path);
	rmdir(dir);
}

static void expect_message(const char *want)
{
	struct pollfd p = { .fd = notify_fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	char buf[512];
	ssize_t n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

static void expect_nothing_queued(void)
{
	char buf[64];
	ck_assert_int_eq(recv(notify_fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
}

START_TEST(ready_status_stopping_without_watchdog)
{
	struct event_base *base = event_base_new();
	struct kd_notify *n = NULL;
	ck_assert_int_eq(kd_notify_ready(base, "listening\nsecret", &n), 0);
	expect_message("READY=1\nSTATUS=listening");
	expect_nothing_queued();
	/* No watchdog: nothing is registered on the loop. */
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	kd_notify_status("%d clients", 3);
	expect_message("STATUS=3 clients");
	kd_notify_stopping(n);
	expect_message("STOPPING=1");
	event_base_free(base);
}
END_TEST

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

START_TEST(watchdog_pings_from_the_loop)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "20000", 1);
	struct event_base *base = event_base_new();
	struct kd_notify *n = NULL;
	ck_assert_int_eq(kd_notify_ready(base, NULL, &n), 0);
	expect_message("READY=1");
	expect_message("WATCHDOG=1"); /* right away */
	expect_nothing_queued();

	/* The next ping comes from the timer while the loop runs. */
	struct event *ev = event_new(base, notify_fd, EV_READ, on_notify, base);
	event_add(ev, NULL);
	event_base_dispatch(base);
	expect_message("WATCHDOG=1");

	kd_notify_stopping(n);
	expect_message("STOPPING=1");
	/* The timer is gone with n; only our own event is left (fired). */
	event_free(ev);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_free(base);
}
END_TEST

START_TEST(watchdog_for_another_pid_is_ignored)
{
	/* A forked worker inherits the environment; it must not ping. */
	setenv("WATCHDOG_PID", "1", 1);
	setenv("WATCHDOG_USEC", "20000", 1);
	struct event_base *base = event_base_new();
	struct kd_notify *n = NULL;
	ck_assert_int_eq(kd_notify_ready(base, "x", &n), 0);
	expect_message("READY=1\nSTATUS=x");
	expect_nothing_queued();
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	kd_notify_stopping(n);
	event_base_free(base);
}
END_TEST

START_TEST(without_systemd_nothing_happens)
{
	unsetenv("NOTIFY_SOCKET");
	struct event_base *base = event_base_new();
	struct kd_notify *n = NULL;
	ck_assert_int_eq(kd_notify_ready(base, "x", &n), 0);
	kd_notify_status("y");
	kd_notify_stopping(n);
	expect_nothing_queued();
	event_base_free(base);
}
END_TEST

int main(void)
{
	kd_log_init("test_notify", LOG_ERR);
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ready_status_stopping_without_watchdog);
	tcase_add_test(tc, watchdog_pings_from_the_loop);
	tcase_add_test(tc, watchdog_for_another_pid_is_ignored);
	tcase_add_test(tc, without_systemd_nothing_happens);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
