/* RendezvousMessage on the wire (spec connection §2): bare protobuf in UDP
 * datagrams, BytesCodec frames on TCP to hbbs/hbbr. Everything that parses
 * bytes from the network is here, bounded, and fuzzed
 * (tests/rendezvous/fuzz_*.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "rendezvous.pb-c.h"

/* hbbs never sends anything near this; a longer datagram or frame is bogus. */
#define KD_RDV_MSG_MAX 4096

/* Unpacks one datagram. NULL when it is longer than KD_RDV_MSG_MAX or does
 * not parse. Free with hbb__rendezvous_message__free_unpacked(m, NULL). */
Hbb__RendezvousMessage *kd_rdv_wire_parse(const uint8_t *buf, size_t len);

/* Packs msg into buf (capacity cap). Returns the length, or -EMSGSIZE. */
int kd_rdv_wire_pack(const Hbb__RendezvousMessage *msg, uint8_t *buf,
		     size_t cap);
/* Same with a BytesCodec header in front (for TCP). */
int kd_rdv_wire_pack_frame(const Hbb__RendezvousMessage *msg, uint8_t *buf,
			   size_t cap);

/* Incremental reader for one TCP stream from hbbs: feed bytes, take frames. */
struct kd_rdv_frame_reader {
	uint8_t buf[KD_RDV_MSG_MAX + 4];
	size_t len;
};

/* Reads what the non-blocking fd has. 0 with *out set when a whole message
 * arrived (the rest stays buffered), KD_RDV_WIRE_AGAIN when more bytes are
 * needed, -ECONNRESET on EOF, -EBADMSG on an oversized or unparsable frame,
 * other -errno on read errors. */
#define KD_RDV_WIRE_AGAIN 1
int kd_rdv_frame_read(int fd, struct kd_rdv_frame_reader *r,
		      Hbb__RendezvousMessage **out);
/* The parsing half of kd_rdv_frame_read, for buffers (and fuzzing): takes at
 * most one message from r. */
int kd_rdv_frame_take(struct kd_rdv_frame_reader *r,
		      Hbb__RendezvousMessage **out);

/* Human name of a RegisterPkResponse result and what it means for an
 * administrator. */
const char *kd_rdv_pk_result_name(int result);
const char *kd_rdv_pk_result_explain(int result);
const char *kd_rdv_nat_name(int nat_type);
