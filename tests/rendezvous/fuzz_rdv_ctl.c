/* libFuzzer target: one packet on rendezvousd's control socket, through the
 * same receive path (kd_ipc_recv on a SOCK_SEQPACKET socket) and the same
 * checks the daemon applies. */
#include <assert.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_seeds.h"
#include "ipc.h"
#include "unix_socket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (size > KD_IPC_MAX_PACKET ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	if (kd_unix_send(sv[0], data, size, -1) == 0) {
		ProtobufCMessage *pm = NULL;
		if (kd_ipc_recv(sv[1], &kdipc__ctl_request__descriptor, &pm,
				NULL) == 0) {
			Kdipc__CtlRequest *rq = (Kdipc__CtlRequest *)pm;
			if (rq->msg_case == KDIPC__CTL_REQUEST__MSG_HELLO)
				(void)kd_ipc_hello_check(rq->hello);
			protobuf_c_message_free_unpacked(pm, NULL);
		}
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

void fuzz_seeds(fuzz_seed_fn emit)
{
	uint8_t buf[256];
	Kdipc__Hello hello;
	Kdipc__CtlRequest rq = KDIPC__CTL_REQUEST__INIT;
	kd_ipc_hello_init(&hello, "kvmdeskctl", 0);
	rq.msg_case = KDIPC__CTL_REQUEST__MSG_HELLO;
	rq.hello = &hello;
	size_t n = kdipc__ctl_request__pack(&rq, buf);
	emit(buf, n);
	Kdipc__StatusRequest st = KDIPC__STATUS_REQUEST__INIT;
	rq.msg_case = KDIPC__CTL_REQUEST__MSG_STATUS;
	rq.status = &st;
	n = kdipc__ctl_request__pack(&rq, buf);
	emit(buf, n);
	Kdipc__Reload rl = KDIPC__RELOAD__INIT;
	rq.msg_case = KDIPC__CTL_REQUEST__MSG_RELOAD;
	rq.reload = &rl;
	n = kdipc__ctl_request__pack(&rq, buf);
	emit(buf, n);
}
