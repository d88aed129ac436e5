#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "unix_socket.h"

START_TEST(round_trip_with_fd)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	Kdipc__Hello hello;
	kd_ipc_hello_init(&hello, "test", 42);
	Kdipc__RendezvousToSession env = KDIPC__RENDEZVOUS_TO_SESSION__INIT;
	env.msg_case = KDIPC__RENDEZVOUS_TO_SESSION__MSG_HELLO;
	env.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(sv[0], &env.base, -1), 0);

	Kdipc__Handoff h = KDIPC__HANDOFF__INIT;
	h.how = "relay";
	h.peer_addr = "198.51.100.4:5000";
	h.secure = true;
	env.msg_case = KDIPC__RENDEZVOUS_TO_SESSION__MSG_HANDOFF;
	env.handoff = &h;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(kd_ipc_send(sv[0], &env.base, p[0]), 0);

	ProtobufCMessage *m;
	int fd;
	ck_assert_int_eq(kd_ipc_recv(sv[1], &kdipc__rendezvous_to_session__descriptor, &m, &fd), 0);
	Kdipc__RendezvousToSession *got = (Kdipc__RendezvousToSession *)m;
	ck_assert_int_eq(got->msg_case, KDIPC__RENDEZVOUS_TO_SESSION__MSG_HELLO);
	ck_assert_int_eq(kd_ipc_hello_check(got->hello), 0);
	ck_assert_str_eq(got->hello->component, "test");
	ck_assert_int_eq(fd, -1);
	protobuf_c_message_free_unpacked(m, NULL);

	ck_assert_int_eq(kd_ipc_recv(sv[1], &kdipc__rendezvous_to_session__descriptor, &m, &fd), 0);
	got = (Kdipc__RendezvousToSession *)m;
	ck_assert_int_eq(got->msg_case, KDIPC__RENDEZVOUS_TO_SESSION__MSG_HANDOFF);
	ck_assert_str_eq(got->handoff->peer_addr, "198.51.100.4:5000");
	ck_assert(got->handoff->secure);
	ck_assert_int_ge(fd, 0);
	close(fd);
	protobuf_c_message_free_unpacked(m, NULL);
	ck_assert_int_eq(kd_ipc_recv(sv[1], &kdipc__rendezvous_to_session__descriptor, &m, &fd), -EAGAIN);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	ck_assert_int_eq(kd_ipc_recv(sv[1], &kdipc__rendezvous_to_session__descriptor, &m, &fd), -ECONNRESET);
	close(sv[1]);
}
END_TEST

START_TEST(garbage_and_version_rejected)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	/* Field 1 as a length-delimited field whose length runs past the end. */
	const uint8_t garbage[] = { 0x0a, 0x7f, 0x01 };
	ck_assert_int_eq(kd_unix_send(sv[0], garbage, sizeof(garbage), -1), 0);
	ProtobufCMessage *m;
	int fd;
	ck_assert_int_eq(kd_ipc_recv(sv[1], &kdipc__input_event__descriptor, &m, &fd), -EBADMSG);

	Kdipc__Hello hello;
	kd_ipc_hello_init(&hello, "x", 0);
	hello.protocol_version = KD_IPC_PROTOCOL_VERSION + 1;
	ck_assert_int_eq(kd_ipc_hello_check(&hello), -EPROTO);
	ck_assert_int_eq(kd_ipc_hello_check(NULL), -EPROTO);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(oversized_message_refused)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	static char big[KD_IPC_MAX_PACKET + 10];
	memset(big, 'a', sizeof(big) - 1);
	Kdipc__Hello hello;
	kd_ipc_hello_init(&hello, big, 0);
	Kdipc__InputEvent ev = KDIPC__INPUT_EVENT__INIT;
	ev.msg_case = KDIPC__INPUT_EVENT__MSG_HELLO;
	ev.hello = &hello;
	ck_assert_int_eq(kd_ipc_send(sv[0], &ev.base, -1), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, round_trip_with_fd);
	tcase_add_test(tc, garbage_and_version_rejected);
	tcase_add_test(tc, oversized_message_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
