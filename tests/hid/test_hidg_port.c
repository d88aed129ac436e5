/* The hidg backend's device semantics (spec §6.5) against a FIFO standing
 * in for /dev/hidgN: a full FIFO is a host that has not polled (EAGAIN,
 * wait for POLLOUT), a FIFO without reader is a host that went away (the
 * write fails, the node is closed and reopened later, then the current
 * state is sent). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "hid_backend.h"
#include "hid_device.h"
#include "hid_test_util.h"

static struct event_base *base;
static struct kd_hid_device *dev;
static char fifo[128];
static int reader = -1;

static void setup(void)
{
	struct kd_hid_report r0;

	snprintf(fifo, sizeof(fifo), "%s/hidg1", make_temp_dir());
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	reader = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(reader, 0);
	fcntl(reader, F_SETPIPE_SZ, 4096);
	base = event_base_new();
	ck_assert_int_eq(kd_hid_device_new(base,
					   kd_hid_port_hidg_new(
						   fifo, KD_REPORT_MOUSE_ABS),
					   &dev),
			 0);
	kd_hid_abs_report(0, 0, 0, 0, 0, &r0);
	kd_hid_device_start(dev, &r0);
}

static void teardown(void)
{
	kd_hid_device_destroy(dev);
	event_base_free(base);
	if (reader >= 0)
		close(reader);
	unlink(fifo);
}

static size_t drain(uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(reader, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void move(uint8_t buttons, uint32_t x, uint32_t y)
{
	struct kd_hid_report r;

	kd_hid_abs_report(buttons, x, y, 0, 0, &r);
	kd_hid_device_send(dev, &r);
}

START_TEST(full_fifo_coalesces_and_flushes_on_pollout)
{
	static uint8_t buf[1 << 20];
	struct kd_hid_device_stats st;
	size_t n;
	uint32_t i;

	/* Fill the pipe until writes would block. */
	for (i = 1; kd_hid_device_pending(dev) == 0 && i < 100000; i++)
		move(0, i, i);
	ck_assert_uint_gt(kd_hid_device_pending(dev), 0);
	/* While blocked: a click and many moves. */
	move(1, 5000, 5000);
	for (uint32_t k = 0; k < 1000; k++)
		move(1, 6000 + k, 7000);
	move(0, 6999, 7000);
	move(0, 32767, 1);
	ck_assert_uint_le(kd_hid_device_pending(dev), 5);
	kd_hid_device_stats(dev, &st);
	ck_assert_uint_ge(st.would_block, 1);
	/* The host polls: everything waiting goes out in order. */
	n = drain(buf, sizeof(buf));
	for (int k = 0; k < 10 && kd_hid_device_pending(dev); k++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		n += drain(buf + n, sizeof(buf) - n);
	}
	ck_assert_uint_eq(kd_hid_device_pending(dev), 0);
	ck_assert_uint_eq(n % 7, 0);
	/* Last four: the pending move, press at 5000, drag end, release,
	 * then the final position. */
	ck_assert_uint_eq(buf[n - 7], 0);
	ck_assert_uint_eq(buf[n - 6] | buf[n - 5] << 8, 32767);
	ck_assert_uint_eq(buf[n - 4] | buf[n - 3] << 8, 1);
	ck_assert_uint_eq(buf[n - 14], 0);
	ck_assert_uint_eq(buf[n - 13] | buf[n - 12] << 8, 6999);
	ck_assert_uint_eq(buf[n - 21], 1);
	ck_assert_uint_eq(buf[n - 20] | buf[n - 19] << 8, 6999);
	ck_assert_uint_eq(buf[n - 28], 1);
	ck_assert_uint_eq(buf[n - 27] | buf[n - 26] << 8, 5000);
	ck_assert(kd_hid_device_online(dev));
}
END_TEST

START_TEST(host_gone_then_back_gets_current_state)
{
	uint8_t buf[64];
	struct kd_hid_device_stats st;

	close(reader); /* the host goes away */
	reader = -1;
	move(0, 100, 100);
	ck_assert(!kd_hid_device_online(dev));
	move(1, 200, 300); /* state changes while it is away */
	move(0, 400, 500);
	kd_hid_device_stats(dev, &st);
	ck_assert_uint_eq(st.gone, 1);
	/* A retry while still away changes nothing. */
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert(!kd_hid_device_online(dev));
	reader = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(reader, 0);
	event_base_loop(base, EVLOOP_ONCE); /* the 1 s retry */
	ck_assert(kd_hid_device_online(dev));
	/* Only the current state, once. */
	ck_assert_uint_eq(drain(buf, sizeof(buf)), 7);
	ck_assert_uint_eq(buf[0], 0);
	ck_assert_uint_eq(buf[1] | buf[2] << 8, 400);
	ck_assert_uint_eq(buf[3] | buf[4] << 8, 500);
}
END_TEST

START_TEST(stalled_host_is_reported_and_keeps_only_current_state)
{
	static uint8_t buf[1 << 16];
	size_t n;

	for (uint32_t i = 1; kd_hid_device_pending(dev) == 0 && i < 100000;
	     i++)
		move(0, i, i);
	move(1, 300, 300);
	move(0, 300, 300);
	move(0, 1234, 4321);
	ck_assert_uint_gt(kd_hid_device_pending(dev), 1);
	ck_assert(kd_hid_device_online(dev));
	event_base_loop(base, EVLOOP_ONCE); /* nobody reads for 2 s */
	ck_assert(!kd_hid_device_online(dev));
	ck_assert_uint_eq(kd_hid_device_pending(dev), 1);
	n = drain(buf, sizeof(buf)); /* the host wakes up */
	for (int k = 0; k < 10 && kd_hid_device_pending(dev); k++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		n += drain(buf + n, sizeof(buf) - n);
	}
	ck_assert(kd_hid_device_online(dev));
	ck_assert_uint_eq(buf[n - 7], 0);
	ck_assert_uint_eq(buf[n - 6] | buf[n - 5] << 8, 1234);
	ck_assert_uint_eq(buf[n - 4] | buf[n - 3] << 8, 4321);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hidg_port");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, full_fifo_coalesces_and_flushes_on_pollout);
	tcase_add_test(tc, host_gone_then_back_gets_current_state);
	tcase_add_test(tc, stalled_host_is_reported_and_keeps_only_current_state);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
