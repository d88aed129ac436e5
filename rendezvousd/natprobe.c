/* NAT type test, two short TCP exchanges with hbbs. */
#include "natprobe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rdv_sock.h"
#include "rdv_wire.h"

#define PROBE_TIMEOUT_S 18

struct kd_natprobe {
	struct kd_rdv_ctx *ctx;
	kd_natprobe_done_fn done;
	void *arg;
	struct sockaddr_storage hbbs;
	socklen_t hbbs_len;
	struct {
		int step; /* 0: hbbs:port, 1: hbbs:port-1 */
		bool connected;
		int fd;
		struct event *ev;
		struct event *timer;
		struct sockaddr_storage local;
		socklen_t local_len;
		uint8_t out[64];
		size_t out_len, out_off;
		struct kd_rdv_frame_reader reader;
		int port[2];
	} rt;
};

static void on_event(evutil_socket_t fd, short what, void *arg);

static void finish(struct kd_natprobe *p, int result)
{
	event_del(p->rt.timer);
	if (p->rt.ev) {
		event_free(p->rt.ev);
		p->rt.ev = NULL;
	}
	if (p->rt.fd >= 0)
		close(p->rt.fd);
	p->rt.fd = -1;
	p->done(p->arg, result);
}

static int start_step(struct kd_natprobe *p)
{
	struct sockaddr_storage target = p->hbbs;
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__TestNatRequest rq = HBB__TEST_NAT_REQUEST__INIT;

	if (p->rt.step == 1)
		kd_rdv_sa_set_port((struct sockaddr *)&target,
				   (uint16_t)(kd_rdv_sa_port(
						      (struct sockaddr *)&target) -
					      1));
	p->rt.fd = kd_rdv_tcp_socket(
		target.ss_family, true,
		p->rt.step ? (struct sockaddr *)&p->rt.local : NULL,
		p->rt.step ? p->rt.local_len : 0);
	if (p->rt.fd < 0)
		return p->rt.fd;
	int rc = kd_rdv_tcp_connect(p->rt.fd, (struct sockaddr *)&target,
				    p->hbbs_len);
	if (rc < 0)
		return rc;
	rq.serial = (int32_t)p->ctx->serial;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_TEST_NAT_REQUEST;
	m.test_nat_request = &rq;
	rc = kd_rdv_wire_pack_frame(&m, p->rt.out, sizeof(p->rt.out));
	if (rc < 0)
		return rc;
	p->rt.out_len = (size_t)rc;
	p->rt.out_off = 0;
	p->rt.connected = false;
	p->rt.reader.len = 0;
	if (p->rt.ev)
		event_free(p->rt.ev);
	p->rt.ev = event_new(p->ctx->base, p->rt.fd, EV_WRITE, on_event, p);
	if (!p->rt.ev)
		return -ENOMEM;
	event_add(p->rt.ev, NULL);
	return 0;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct kd_natprobe *p = arg;
	int rc;

	if (!p->rt.connected) {
		rc = kd_rdv_sock_error(p->rt.fd);
		if (rc < 0) {
			finish(p, rc);
			return;
		}
		p->rt.connected = true;
		if (p->rt.step == 0) {
			p->rt.local_len = sizeof(p->rt.local);
			getsockname(p->rt.fd, (struct sockaddr *)&p->rt.local,
				    &p->rt.local_len);
		}
	}
	if (p->rt.out_off < p->rt.out_len) {
		rc = kd_rdv_write_some(p->rt.fd, p->rt.out, p->rt.out_len,
				       &p->rt.out_off);
		if (rc < 0) {
			finish(p, rc);
			return;
		}
		event_free(p->rt.ev);
		p->rt.ev = event_new(p->ctx->base, p->rt.fd,
				     (short)(rc ? EV_WRITE : EV_READ |
							     EV_PERSIST),
				     on_event, p);
		event_add(p->rt.ev, NULL);
		return;
	}
	Hbb__RendezvousMessage *m = NULL;
	rc = kd_rdv_frame_read(p->rt.fd, &p->rt.reader, &m);
	if (rc == KD_RDV_WIRE_AGAIN)
		return;
	if (rc < 0) {
		finish(p, rc);
		return;
	}
	if (m->union_case != HBB__RENDEZVOUS_MESSAGE__UNION_TEST_NAT_RESPONSE) {
		hbb__rendezvous_message__free_unpacked(m, NULL);
		finish(p, -EBADMSG);
		return;
	}
	p->rt.port[p->rt.step] = m->test_nat_response->port;
	hbb__rendezvous_message__free_unpacked(m, NULL);
	event_free(p->rt.ev);
	p->rt.ev = NULL;
	close(p->rt.fd);
	p->rt.fd = -1;
	if (p->rt.step == 0) {
		p->rt.step = 1;
		rc = start_step(p);
		if (rc < 0)
			finish(p, rc);
		return;
	}
	finish(p, p->rt.port[0] == p->rt.port[1] ? HBB__NAT_TYPE__ASYMMETRIC
						 : HBB__NAT_TYPE__SYMMETRIC);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	finish(arg, -ETIMEDOUT);
}

int kd_natprobe_start(struct kd_rdv_ctx *ctx, const struct sockaddr *hbbs,
		      socklen_t len, kd_natprobe_done_fn done, void *arg,
		      struct kd_natprobe **out)
{
	struct kd_natprobe *p = calloc(1, sizeof(*p));
	int rc;
	if (!p)
		return -ENOMEM;
	p->ctx = ctx;
	p->done = done;
	p->arg = arg;
	memcpy(&p->hbbs, hbbs, len);
	p->hbbs_len = len;
	p->rt.fd = -1;
	p->rt.timer = event_new(ctx->base, -1, 0, on_timeout, p);
	if (!p->rt.timer) {
		rc = -ENOMEM;
		goto fail;
	}
	struct timeval tv = {PROBE_TIMEOUT_S, 0};
	event_add(p->rt.timer, &tv);
	rc = start_step(p);
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	kd_natprobe_destroy(p);
	return rc;
}

void kd_natprobe_destroy(struct kd_natprobe *p)
{
	if (!p)
		return;
	if (p->rt.ev)
		event_free(p->rt.ev);
	if (p->rt.timer)
		event_free(p->rt.timer);
	if (p->rt.fd >= 0)
		close(p->rt.fd);
	free(p);
}
