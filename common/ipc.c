#include "ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unix_socket.h"

int kd_ipc_send(int sock, const ProtobufCMessage *msg, int fd)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (len > KD_IPC_MAX_PACKET)
		return -EMSGSIZE;
	uint8_t stack_buf[1024];
	uint8_t *buf = len <= sizeof(stack_buf) ? stack_buf : malloc(len);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	int r = kd_unix_send(sock, buf, len, fd);
	if (buf != stack_buf)
		free(buf);
	return r;
}

int kd_ipc_recv(int sock, const ProtobufCMessageDescriptor *desc,
		ProtobufCMessage **out, int *fd_out)
{
	static __thread uint8_t buf[KD_IPC_MAX_PACKET];
	int fd = -1;
	ssize_t n = kd_unix_recv(sock, buf, sizeof(buf), fd_out ? &fd : NULL);
	if (fd_out)
		*fd_out = -1;
	if (n < 0)
		return (int)n;
	if (n == 0) {
		if (fd >= 0)
			close(fd);
		return -ECONNRESET;
	}
	ProtobufCMessage *m =
		protobuf_c_message_unpack(desc, NULL, (size_t)n, buf);
	if (!m) {
		if (fd >= 0)
			close(fd);
		return -EBADMSG;
	}
	*out = m;
	if (fd_out)
		*fd_out = fd;
	return 0;
}

void kd_ipc_hello_init(Kdipc__Hello *hello, const char *component,
		       uint64_t session_id)
{
	kdipc__hello__init(hello);
	hello->protocol_version = KD_IPC_PROTOCOL_VERSION;
	hello->component = (char *)component;
	hello->session_id = session_id;
}

int kd_ipc_hello_check(const Kdipc__Hello *hello)
{
	if (!hello || hello->protocol_version != KD_IPC_PROTOCOL_VERSION)
		return -EPROTO;
	return 0;
}
