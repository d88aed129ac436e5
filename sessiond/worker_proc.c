/* Child side of the sessiond fork: everything between fork() and _exit(). */
#include "worker_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipc.h"
#include "log.h"

struct proc_ctx {
	struct event_base *base;
	struct kd_worker *worker;
	int monitor_fd;
	struct event *monitor_ev, *term_ev;
};

/* SIGTERM (systemd stopping the whole unit) ends the session politely. A
 * self-pipe rather than an evsignal: the monitor's libevent signal state
 * was inherited and belongs to another base. */
static int term_pipe[2] = { -1, -1 };

static void on_sigterm(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(term_pipe[1], &c, 1) < 0)
		(void)0;
	errno = saved;
}

static int close_fd_range(unsigned first, unsigned last)
{
	if (first > last)
		return 0;
	return (int)syscall(SYS_close_range, first, last, 0);
}

static void close_other_fds(int keep_a, int keep_b)
{
	unsigned lo = (unsigned)(keep_a < keep_b ? keep_a : keep_b);
	unsigned hi = (unsigned)(keep_a < keep_b ? keep_b : keep_a);

	/* 0-2 stay; close_range where the kernel has it, else a loop */
	if (close_fd_range(3, lo - 1) < 0 || close_fd_range(lo + 1, hi - 1) < 0 ||
	    close_fd_range(hi + 1, ~0u) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (int fd = 3; fd < (max > 0 ? max : 1024); fd++)
			if (fd != keep_a && fd != keep_b)
				close(fd);
	}
}

static void reset_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1,
				    SIGUSR2 };
	sigset_t none;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int to_monitor(void *arg, const Kdipc__WorkerToMonitor *msg)
{
	struct proc_ctx *pc = arg;

	return kd_ipc_send(pc->monitor_fd, &msg->base, -1);
}

static void on_finished(void *arg)
{
	struct proc_ctx *pc = arg;

	event_base_loopbreak(pc->base);
}

static void on_monitor(evutil_socket_t fd, short what, void *arg)
{
	struct proc_ctx *pc = arg;
	ProtobufCMessage *m = NULL;
	int r;

	(void)what;
	r = kd_ipc_recv(fd, &kdipc__monitor_to_worker__descriptor, &m, NULL);
	if (r == -EAGAIN)
		return;
	if (r < 0) {
		/* the monitor is gone (restart): end politely */
		event_del(pc->monitor_ev);
		kd_worker_close(pc->worker, KD_CLOSE_MANUALLY);
		return;
	}
	r = kd_worker_monitor_message(pc->worker,
				      (Kdipc__MonitorToWorker *)m);
	protobuf_c_message_free_unpacked(m, NULL);
	if (r < 0) {
		kd_err("worker: unexpected message from the monitor");
		event_base_loopbreak(pc->base);
	}
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	struct proc_ctx *pc = arg;

	char buf[16];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (pc->worker)
		kd_worker_close(pc->worker, KD_CLOSE_MANUALLY);
}

/* Let the last bytes reach the client and read what it still sends, so the
 * close is a FIN, not a reset that could discard our last message. */
static void graceful_close(int fd)
{
	char buf[4096];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec start, now;

	shutdown(fd, SHUT_WR);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long ms;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 +
		     (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= 500 || poll(&p, 1, (int)(500 - ms)) <= 0)
			break;
		if (read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
}

_Noreturn void kd_worker_proc_main(struct kd_worker_proc *wp)
{
	struct proc_ctx pc = { .monitor_fd = wp->monitor_fd };
	Kdipc__WorkerToMonitor hello_msg = KDIPC__WORKER_TO_MONITOR__INIT;
	Kdipc__Hello hello = KDIPC__HELLO__INIT;
	struct bufferevent *bev;
	int conn_fd = wp->conn_fd, r;

	reset_signals();
	if (!kd_secrets_child_wipe(wp->secrets))
		kd_warn("worker: the kernel did not wipe the secrets on fork; "
			"wiped them by hand");
	wp->secrets = NULL;
	close_other_fds(conn_fd, wp->monitor_fd);
	tzset(); /* before the sandbox forbids opening /etc/localtime */

	pc.base = event_base_new();
	if (!pc.base)
		_exit(1);
	pc.monitor_ev = event_new(pc.base, wp->monitor_fd, EV_READ | EV_PERSIST,
				  on_monitor, &pc);
	if (pipe2(term_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		_exit(1);
	pc.term_ev = event_new(pc.base, term_pipe[0], EV_READ | EV_PERSIST,
			       on_term, &pc);
	if (!pc.monitor_ev || !pc.term_ev || event_add(pc.term_ev, NULL) < 0)
		_exit(1);
	{
		struct sigaction sa = { .sa_handler = on_sigterm };
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGTERM, &sa, NULL);
	}

	r = kd_sandbox_apply(&wp->user);
	if (r < 0)
		_exit(1); /* fail closed: never serve a client unsandboxed */

	evutil_make_socket_nonblocking(conn_fd);
	bev = bufferevent_socket_new(pc.base, conn_fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		_exit(1);
	wp->params.to_monitor = to_monitor;
	wp->params.on_finished = on_finished;
	wp->params.ctx = &pc;
	kd_ipc_hello_init(&hello, "sessiond-worker", wp->params.conn_id);
	hello_msg.msg_case = KDIPC__WORKER_TO_MONITOR__MSG_HELLO;
	hello_msg.hello = &hello;
	if (kd_ipc_send(wp->monitor_fd, &hello_msg.base, -1) < 0)
		_exit(1);
	/* the worker now owns bev (and the socket with it) */
	conn_fd = dup(conn_fd);
	if (kd_worker_new(pc.base, bev, &wp->params, &pc.worker) < 0)
		_exit(1);
	event_add(pc.monitor_ev, NULL);
	if (kd_worker_start(pc.worker) == 0 || !kd_worker_finished(pc.worker))
		event_base_dispatch(pc.base);
	kd_worker_flush(pc.worker, 1000);
	if (conn_fd >= 0)
		graceful_close(conn_fd);
	kd_worker_free(pc.worker);
	_exit(0);
}
