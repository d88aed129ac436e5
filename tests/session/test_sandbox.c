/* sessiond/sandbox and secrets: what a worker may and may not do. Each test
 * runs in its own forked process (Check's default), so the filter only
 * ever applies to that process. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include <sys/eventfd.h>
#include <signal.h>

#include "sandbox.h"
#include "secrets.h"

/* The filter is applied in a plain child that reports the first failed
 * check as its exit code (the line number): Check's own bookkeeping after a
 * test needs calls a worker must not make. */
#define CHILD_CHECK(cond)                                                  \
	do {                                                               \
		if (!(cond))                                               \
			_exit(__LINE__ & 0xff ? __LINE__ & 0xff : 1);      \
	} while (0)

static int run_sandboxed(void (*body)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (kd_sandbox_seccomp() != 0)
			_exit(255);
		body();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 256;
}

static void denied_body(void)
{
	char tmpl[] = "/tmp/kd-sandbox-XXXXXX";
	void *p;

	errno = 0;
	CHILD_CHECK(socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM);
	CHILD_CHECK(socket(AF_INET6, SOCK_DGRAM, 0) < 0);
	CHILD_CHECK(open("/tmp/kd-sandbox-should-not-exist",
			 O_WRONLY | O_CREAT, 0600) < 0 && errno == EPERM);
	CHILD_CHECK(open("/etc/passwd", O_RDONLY) < 0);
	CHILD_CHECK(mkstemp(tmpl) < 0);
	CHILD_CHECK(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) < 0 &&
		    errno == EPERM);
	CHILD_CHECK(execl("/bin/true", "true", (char *)NULL) < 0 &&
		    errno == EPERM);
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	CHILD_CHECK(p == MAP_FAILED && errno == EPERM);
	CHILD_CHECK(kill(getppid(), 0) < 0);
	{
		struct sockaddr_in sin = { .sin_family = AF_INET };
		int u = socket(AF_UNIX, SOCK_STREAM, 0);
		CHILD_CHECK(u >= 0);
		CHILD_CHECK(bind(u, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
			    errno == EPERM);
		CHILD_CHECK(listen(u, 1) < 0 && errno == EPERM);
	}

	/* what a worker needs still works */
	CHILD_CHECK(socket(AF_UNIX, SOCK_SEQPACKET, 0) >= 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK(mprotect(p, 4096, PROT_READ) == 0);
	CHILD_CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0);
	CHILD_CHECK(munmap(p, 4096) == 0);
	CHILD_CHECK(eventfd(0, EFD_CLOEXEC) >= 0);
	CHILD_CHECK(write(2, "", 0) == 0);
}

START_TEST(denied_calls_fail_with_eperm)
{
	ck_assert_int_eq(run_sandboxed(denied_body), 0);
}
END_TEST

static void loop_body(void)
{
	struct event_base *base = event_base_new();
	struct timeval tv = { 0, 1000 };

	CHILD_CHECK(base != NULL);
	CHILD_CHECK(event_base_loopexit(base, &tv) == 0);
	CHILD_CHECK(event_base_dispatch(base) == 0);
	event_base_free(base);
}

START_TEST(event_loop_runs_inside)
{
	ck_assert_int_eq(run_sandboxed(loop_body), 0);
}
END_TEST

START_TEST(secrets_are_zero_in_a_child)
{
	struct kd_secrets *s;
	int status;
	pid_t pid;

	ck_assert_int_eq(kd_secrets_new(&s), 0);
	memset(s->identity_sk, 0xA5, sizeof(s->identity_sk));
	s->has_identity = true;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* the kernel wiped the mapping: all zero, canary included */
		static const uint8_t zero[64];
		int ok = memcmp(s->identity_sk, zero, 64) == 0 &&
			 s->canary == 0 && kd_secrets_child_wipe(s) == 1;
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the monitor still has them */
	ck_assert_uint_eq(s->identity_sk[0], 0xA5);
	ck_assert_uint_ne(s->canary, 0);
	kd_secrets_free(s);
}
END_TEST

START_TEST(private_memory_is_zero_in_a_child)
{
	char *p = kd_private_alloc(10000);
	int status;
	pid_t pid;

	ck_assert_ptr_nonnull(p);
	memset(p, 'x', 10000);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 10000; i++)
			if (p[i])
				_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(p[9999], 'x');
	kd_private_free(p, 10000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, denied_calls_fail_with_eperm);
	tcase_add_test(tc, event_loop_runs_inside);
	tcase_add_test(tc, secrets_are_zero_in_a_child);
	tcase_add_test(tc, private_memory_is_zero_in_a_child);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* the filter must not leak */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
