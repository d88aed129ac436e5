/* Typed messages between the daemons: one protobuf-c envelope per
 * SOCK_SEQPACKET packet (proto/kvmdesk_ipc.proto). A packet that does not
 * unpack, is too large, or carries an unexpected fd ends that connection and
 * nothing else. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "kvmdesk_ipc.pb-c.h"

#define KD_IPC_PROTOCOL_VERSION 1
#define KD_IPC_MAX_PACKET (64 * 1024)

/* Packs and sends msg with an optional fd (-1). 0 or -errno; -EMSGSIZE when
 * it would exceed KD_IPC_MAX_PACKET. */
int kd_ipc_send(int sock, const ProtobufCMessage *msg, int fd);

/* Receives one packet and unpacks it as desc. Returns 0 with *out (free with
 * protobuf_c_message_free_unpacked), -ECONNRESET on orderly close, -EAGAIN,
 * -EBADMSG when it does not parse, or another -errno. *fd_out as in
 * kd_unix_recv. */
int kd_ipc_recv(int sock, const ProtobufCMessageDescriptor *desc,
		ProtobufCMessage **out, int *fd_out);

/* Fills a Hello for this side. */
void kd_ipc_hello_init(Kdipc__Hello *hello, const char *component,
		       uint64_t session_id);
/* 0 if hello is present and speaks our version, else -EPROTO. */
int kd_ipc_hello_check(const Kdipc__Hello *hello);
