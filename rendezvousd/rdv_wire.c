/* RendezvousMessage framing and bounded parsing. */
#include "rdv_wire.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "frame_codec.h"

Hbb__RendezvousMessage *kd_rdv_wire_parse(const uint8_t *buf, size_t len)
{
	if (len > KD_RDV_MSG_MAX)
		return NULL;
	return hbb__rendezvous_message__unpack(NULL, len, buf);
}

int kd_rdv_wire_pack(const Hbb__RendezvousMessage *msg, uint8_t *buf,
		     size_t cap)
{
	size_t n = hbb__rendezvous_message__get_packed_size(msg);
	if (n > cap)
		return -EMSGSIZE;
	return (int)hbb__rendezvous_message__pack(msg, buf);
}

int kd_rdv_wire_pack_frame(const Hbb__RendezvousMessage *msg, uint8_t *buf,
			   size_t cap)
{
	uint8_t hdr[KD_FRAME_HEADER_MAX];
	size_t n = hbb__rendezvous_message__get_packed_size(msg);
	size_t hl = kd_frame_header_encode(n, hdr);

	if (hl == 0 || hl + n > cap)
		return -EMSGSIZE;
	memcpy(buf, hdr, hl);
	hbb__rendezvous_message__pack(msg, buf + hl);
	return (int)(hl + n);
}

int kd_rdv_frame_take(struct kd_rdv_frame_reader *r,
		      Hbb__RendezvousMessage **out)
{
	size_t hl, pl;
	int rc = kd_frame_header_decode(r->buf, r->len, KD_RDV_MSG_MAX, &hl,
					&pl);
	if (rc < 0)
		return -EBADMSG;
	if (rc == KD_FRAME_INCOMPLETE || r->len < hl + pl)
		return KD_RDV_WIRE_AGAIN;

	*out = hbb__rendezvous_message__unpack(NULL, pl, r->buf + hl);
	memmove(r->buf, r->buf + hl + pl, r->len - hl - pl);
	r->len -= hl + pl;
	return *out ? 0 : -EBADMSG;
}

int kd_rdv_frame_read(int fd, struct kd_rdv_frame_reader *r,
		      Hbb__RendezvousMessage **out)
{
	int rc = kd_rdv_frame_take(r, out);
	if (rc != KD_RDV_WIRE_AGAIN)
		return rc;
	if (r->len >= sizeof(r->buf))
		return -EBADMSG;

	ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? KD_RDV_WIRE_AGAIN
							   : -errno;
	r->len += (size_t)n;
	return kd_rdv_frame_take(r, out);
}

const char *kd_rdv_pk_result_name(int result)
{
	switch (result) {
	case HBB__REGISTER_PK_RESPONSE__RESULT__OK: return "OK";
	case HBB__REGISTER_PK_RESPONSE__RESULT__UUID_MISMATCH: return "UUID_MISMATCH";
	case HBB__REGISTER_PK_RESPONSE__RESULT__ID_EXISTS: return "ID_EXISTS";
	case HBB__REGISTER_PK_RESPONSE__RESULT__TOO_FREQUENT: return "TOO_FREQUENT";
	case HBB__REGISTER_PK_RESPONSE__RESULT__INVALID_ID_FORMAT: return "INVALID_ID_FORMAT";
	case HBB__REGISTER_PK_RESPONSE__RESULT__NOT_SUPPORT: return "NOT_SUPPORT";
	case HBB__REGISTER_PK_RESPONSE__RESULT__SERVER_ERROR: return "SERVER_ERROR";
	case HBB__REGISTER_PK_RESPONSE__RESULT__NOT_DEPLOYED: return "NOT_DEPLOYED";
	default: return "UNKNOWN";
	}
}

const char *kd_rdv_pk_result_explain(int result)
{
	switch (result) {
	case HBB__REGISTER_PK_RESPONSE__RESULT__OK:
		return "key accepted";
	case HBB__REGISTER_PK_RESPONSE__RESULT__UUID_MISMATCH:
		return "this id is registered on the server by another machine "
		       "(different uuid or key), or is shorter than 6 "
		       "characters; kvmdesk keeps its id - delete the old entry "
		       "on the server or give this box another id";
	case HBB__REGISTER_PK_RESPONSE__RESULT__ID_EXISTS:
		return "the server says this id already exists";
	case HBB__REGISTER_PK_RESPONSE__RESULT__TOO_FREQUENT:
		return "the server throttles key registrations from this "
		       "address (too many in a short time)";
	case HBB__REGISTER_PK_RESPONSE__RESULT__INVALID_ID_FORMAT:
		return "the server rejects the format of this id";
	case HBB__REGISTER_PK_RESPONSE__RESULT__NOT_SUPPORT:
		return "the server does not support key registration this way";
	case HBB__REGISTER_PK_RESPONSE__RESULT__SERVER_ERROR:
		return "the server had an internal error";
	case HBB__REGISTER_PK_RESPONSE__RESULT__NOT_DEPLOYED:
		return "the server (RustDesk Server Pro) says this device is "
		       "not deployed";
	default:
		return "the server answered with a result this version does "
		       "not know";
	}
}

const char *kd_rdv_nat_name(int nat_type)
{
	switch (nat_type) {
	case HBB__NAT_TYPE__ASYMMETRIC: return "asymmetric";
	case HBB__NAT_TYPE__SYMMETRIC: return "symmetric";
	default: return "unknown";
	}
}
