#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unix_socket.h"

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

START_TEST(listen_connect_peercred)
{
	char dir[] = "/tmp/kd-us-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/x.sock", dir);
	int l = kd_unix_listen(path, 0660);
	ck_assert_int_ge(l, 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	/* A stale socket file from a crashed run does not block a restart. */
	int l2 = kd_unix_listen(path, 0660);
	ck_assert_int_ge(l2, 0);
	close(l);
	int c = kd_unix_connect(path);
	ck_assert_int_ge(c, 0);
	int s = accept4(l2, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(s, 0);
	struct ucred cred;
	ck_assert_int_eq(kd_unix_peercred(s, &cred), 0);
	ck_assert_int_eq(cred.pid, getpid());
	ck_assert_int_eq(kd_unix_peer_allowed(s), 1);
	close(c);
	close(s);
	close(l2);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(kd_unix_connect(path), -ENOENT);
}
END_TEST

START_TEST(fd_passing)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(kd_unix_send(sv[0], "hello", 5, pipefd[1]), 0);
	char buf[16];
	int fd;
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, sizeof(buf), &fd), 5);
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	char c;
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	close(fd);

	/* No fd: fd_out is -1. Nothing queued: -EAGAIN. */
	ck_assert_int_eq(kd_unix_send(sv[0], "a", 1, -1), 0);
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, sizeof(buf), &fd), 1);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, sizeof(buf), &fd), -EAGAIN);

	/* A caller that expects no fd gets any passed fd closed. */
	ck_assert_int_eq(kd_unix_send(sv[0], "b", 1, pipefd[1]), 0);
	int before = dup(0);
	close(before);
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, sizeof(buf), NULL), 1);
	ck_assert(!fd_is_open(before));

	/* Truncation is an error, not a partial message. */
	ck_assert_int_eq(kd_unix_send(sv[0], "0123456789", 10, -1), 0);
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, 4, &fd), -EMSGSIZE);
	close(sv[0]);
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, sizeof(buf), &fd), 0);
	close(sv[1]);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

START_TEST(two_fds_rejected_and_closed)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	int fds[2] = { dup(0), dup(0) };
	char data = 'x';
	struct iovec iov = { &data, 1 };
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr a;
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.b,
			      .msg_controllen = sizeof(control.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	ck_assert_int_eq(sendmsg(sv[0], &msg, 0), 1);
	close(fds[0]);
	close(fds[1]);
	int fd;
	char buf[4];
	ck_assert_int_eq(kd_unix_recv(sv[1], buf, sizeof(buf), &fd), -EPROTO);
	ck_assert_int_eq(fd, -1);
	/* Both received copies were closed: the lowest free fd is reused. */
	int probe = dup(0);
	ck_assert_int_le(probe, fds[1]);
	close(probe);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("unix_socket");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, listen_connect_peercred);
	tcase_add_test(tc, fd_passing);
	tcase_add_test(tc, two_fds_rejected_and_closed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
