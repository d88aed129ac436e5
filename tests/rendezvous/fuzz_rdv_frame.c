/* libFuzzer target: the TCP byte stream from hbbs (NAT test answers) as
 * rendezvousd's frame reader takes it, fed in chunks whose sizes come from
 * the input. */
#include <assert.h>
#include <string.h>

#include "fuzz_seeds.h"
#include "rdv_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kd_rdv_frame_reader r;
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;
	r.len = 0;
	while (size) {
		size_t n = chunk < size ? chunk : size;
		if (n > sizeof(r.buf) - r.len)
			n = sizeof(r.buf) - r.len;
		if (n == 0)
			return 0; /* the daemon closes here (-EBADMSG) */
		memcpy(r.buf + r.len, data, n);
		r.len += n;
		data += n;
		size -= n;
		for (;;) {
			Hbb__RendezvousMessage *m = NULL;
			int rc = kd_rdv_frame_take(&r, &m);
			if (rc == KD_RDV_WIRE_AGAIN)
				break;
			if (rc < 0)
				return 0;
			assert(m);
			if (m->union_case ==
			    HBB__RENDEZVOUS_MESSAGE__UNION_TEST_NAT_RESPONSE)
				(void)m->test_nat_response->port;
			hbb__rendezvous_message__free_unpacked(m, NULL);
			assert(r.len <= sizeof(r.buf));
		}
	}
	return 0;
}

void fuzz_seeds(fuzz_seed_fn emit)
{
	uint8_t buf[64];
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__TestNatResponse tn = HBB__TEST_NAT_RESPONSE__INIT;
	tn.port = 48142;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_TEST_NAT_RESPONSE;
	m.test_nat_response = &tn;
	buf[0] = 3; /* chunks of 4 bytes */
	int n = kd_rdv_wire_pack_frame(&m, buf + 1, sizeof(buf) - 1);
	if (n > 0) {
		emit(buf, (size_t)n + 1);
		/* two frames back to back, then an empty frame */
		memcpy(buf + 1 + n, buf + 1, (size_t)n);
		buf[1 + 2 * n] = 0;
		emit(buf, 2 * (size_t)n + 2);
	}
	static const uint8_t oversized[] = {0, 0x03, 0xFF, 0xFF, 0xFF};
	emit(oversized, sizeof(oversized));
}
