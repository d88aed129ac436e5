/* Punch, LAN and relay flows (spec connection §5.2-§5.6). Each step is a
 * non-blocking socket with one event; a flow holds at most two sockets at a
 * time and always ends within CONNECT_TIMEOUT per phase. */
#include "flows.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <sodium.h>

#include "addr_mangle.h"
#include "handoff.h"
#include "kd_build_config.h"
#include "log.h"
#include "netaddr.h"
#include "rdv_sock.h"
#include "rdv_wire.h"

#define CONNECT_TIMEOUT_MS 18000 /* the real peer's CONNECT_TIMEOUT */
#define PUNCH_SYN_MS 30          /* spec §5.3 step 2 */
#define FLOWS_MAX 32             /* per server; more means a flood */

enum phase {
	PH_REPORT_CONNECT,
	PH_PUNCH_SYN,
	PH_REPORT_WRITE,
	PH_ACCEPT,
	PH_RELAY_RESOLVE,
	PH_RELAY_CONNECT,
	PH_RELAY_WRITE,
};

struct flow {
	TAILQ_ENTRY(flow) link;
	struct kd_flows *owner;
	enum kd_flow_kind kind;
	enum phase phase;
	bool secure;
	uint8_t mangled[64];
	size_t mangled_len;
	struct sockaddr_storage client;
	char client_str[KD_ADDR_STR_MAX];
	struct sockaddr_storage hbbs;
	socklen_t hbbs_len;
	char relay[KD_RDV_HOST_MAX];
	char uuid[64];
	int nat_type;
	struct sockaddr_storage local;
	socklen_t local_len;
	int fd;            /* the socket of the current phase */
	int punch_fd;      /* the 30 ms SYN towards the client */
	int listen_fd;     /* listener on L (punch, LAN) */
	struct event *ev;  /* on fd */
	struct event *listen_ev;
	struct event *timer;
	struct evdns_getaddrinfo_request *dns;
	bool dying; /* freed by on_relay_resolved: the lookup was pending */
	uint8_t out[1024];
	size_t out_len, out_off;
};

struct kd_flows {
	struct kd_rdv_ctx *ctx;
	TAILQ_HEAD(, flow) flows;
	unsigned active;
};

static const char *kind_name(enum kd_flow_kind k)
{
	switch (k) {
	case KD_FLOW_PUNCH: return "punch";
	case KD_FLOW_LAN: return "lan";
	default: return "relay";
	}
}

static void flow_free(struct flow *fl)
{
	if (fl->ev)
		event_free(fl->ev);
	if (fl->timer)
		event_free(fl->timer);
	if (fl->fd >= 0)
		close(fl->fd);
	if (fl->punch_fd >= 0)
		close(fl->punch_fd);
	if (fl->listen_ev)
		event_free(fl->listen_ev);
	if (fl->listen_fd >= 0)
		close(fl->listen_fd);
	TAILQ_REMOVE(&fl->owner->flows, fl, link);
	fl->owner->active--;
	if (fl->dns) {
		/* libevent still calls on_relay_resolved (EVUTIL_EAI_CANCEL),
		 * later, from the loop: that call frees fl. */
		fl->dying = true;
		evdns_getaddrinfo_cancel(fl->dns);
		return;
	}
	free(fl);
}

static void flow_fail(struct flow *fl, const char *what, int err)
{
	kd_log_event(LOG_WARNING,
		     &(struct kd_log_fields){
			     .peer_addr = fl->client_str,
			     .session_kind = kind_name(fl->kind)},
		     "%s connection for client %s failed: %s%s%s",
		     kind_name(fl->kind), fl->client_str, what,
		     err ? ": " : "", err ? strerror(-err) : "");
	flow_free(fl);
}

static void on_event(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

/* Watches fd for what, with the phase deadline (ms; 0 = keep the timer). */
static int watch(struct flow *fl, short what, uint32_t deadline_ms)
{
	if (fl->ev)
		event_free(fl->ev);
	fl->ev = event_new(fl->owner->ctx->base, fl->fd, what, on_event, fl);
	if (!fl->ev || event_add(fl->ev, NULL) < 0)
		return -ENOMEM;
	if (deadline_ms) {
		struct timeval tv = {deadline_ms / 1000,
				     (deadline_ms % 1000) * 1000};
		event_add(fl->timer, &tv);
	}
	return 0;
}

static void close_fd(struct flow *fl)
{
	if (fl->ev) {
		event_free(fl->ev);
		fl->ev = NULL;
	}
	if (fl->fd >= 0)
		close(fl->fd);
	fl->fd = -1;
}

/* ---- building the report to hbbs ------------------------------------- */

static int build_report(struct flow *fl)
{
	const struct kd_rdv_ctx *ctx = fl->owner->ctx;
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__PunchHoleSent phs = HBB__PUNCH_HOLE_SENT__INIT;
	Hbb__LocalAddr la = HBB__LOCAL_ADDR__INIT;
	Hbb__RelayResponse rr = HBB__RELAY_RESPONSE__INIT;
	uint8_t client_enc[KD_ADDR_MANGLE_MAX], local_enc[KD_ADDR_MANGLE_MAX];
	char *id = (char *)ctx->ident.id;
	char *version = (char *)KD_RUSTDESK_VERSION;

	switch (fl->kind) {
	case KD_FLOW_PUNCH:
		phs.socket_addr.data = fl->mangled;
		phs.socket_addr.len = fl->mangled_len;
		phs.id = id;
		phs.relay_server = fl->relay;
		phs.nat_type = fl->nat_type;
		phs.version = version;
		m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_PUNCH_HOLE_SENT;
		m.punch_hole_sent = &phs;
		break;
	case KD_FLOW_LAN: {
		int n1 = kd_addr_mangle_encode((struct sockaddr *)&fl->client,
					       client_enc);
		int n2 = kd_addr_mangle_encode((struct sockaddr *)&fl->local,
					       local_enc);
		if (n1 < 0 || n2 < 0)
			return -EAFNOSUPPORT;
		la.socket_addr.data = client_enc;
		la.socket_addr.len = (size_t)n1;
		la.local_addr.data = local_enc;
		la.local_addr.len = (size_t)n2;
		la.relay_server = fl->relay;
		la.id = id;
		la.version = version;
		m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_LOCAL_ADDR;
		m.local_addr = &la;
		break;
	}
	case KD_FLOW_RELAY:
	case KD_FLOW_RELAY_ANSWER:
		rr.socket_addr.data = fl->mangled;
		rr.socket_addr.len = fl->mangled_len;
		rr.version = version;
		/* Our id lets hbbs put its signature of our key in the
		 * forwarded answer (spec §6.9). The real peer sets uuid,
		 * relay_server and id only when it initiates the relay. */
		rr.union_case = HBB__RELAY_RESPONSE__UNION_ID;
		rr.id = id;
		if (fl->kind == KD_FLOW_RELAY) {
			rr.uuid = fl->uuid;
			rr.relay_server = fl->relay;
		}
		m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_RELAY_RESPONSE;
		m.relay_response = &rr;
		break;
	}
	int n = kd_rdv_wire_pack_frame(&m, fl->out, sizeof(fl->out));
	if (n < 0)
		return n;
	fl->out_len = (size_t)n;
	fl->out_off = 0;
	return 0;
}

static int build_relay_join(struct flow *fl)
{
	const struct kd_rdv_ctx *ctx = fl->owner->ctx;
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RequestRelay rq = HBB__REQUEST_RELAY__INIT;

	rq.uuid = fl->uuid;
	rq.licence_key = (char *)ctx->licence_key;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REQUEST_RELAY;
	m.request_relay = &rq;
	int n = kd_rdv_wire_pack_frame(&m, fl->out, sizeof(fl->out));
	if (n < 0)
		return n;
	fl->out_len = (size_t)n;
	fl->out_off = 0;
	return 0;
}

/* ---- phases ----------------------------------------------------------- */

static void start_relay(struct flow *fl);

static void start_report(struct flow *fl)
{
	fl->phase = PH_REPORT_CONNECT;
	fl->fd = kd_rdv_tcp_socket(fl->hbbs.ss_family, true, NULL, 0);
	if (fl->fd < 0) {
		flow_fail(fl, "cannot create a socket", fl->fd);
		return;
	}
	int rc = kd_rdv_tcp_connect(fl->fd, (struct sockaddr *)&fl->hbbs,
				    fl->hbbs_len);
	if (rc < 0 || watch(fl, EV_WRITE, CONNECT_TIMEOUT_MS) < 0) {
		if (fl->kind == KD_FLOW_LAN) {
			close_fd(fl);
			fl->kind = KD_FLOW_RELAY;
			kd_flows_new_uuid(fl->uuid);
			start_report(fl);
			return;
		}
		flow_fail(fl, "cannot reach hbbs over TCP", rc);
	}
}

static void write_report(struct flow *fl)
{
	fl->phase = PH_REPORT_WRITE;
	int rc = build_report(fl);
	if (rc < 0) {
		flow_fail(fl, "cannot build the message to hbbs", rc);
		return;
	}
	rc = kd_rdv_write_some(fl->fd, fl->out, fl->out_len, &fl->out_off);
	if (rc < 0) {
		flow_fail(fl, "sending to hbbs", rc);
		return;
	}
	if (rc == 0) {
		on_event(fl->fd, EV_WRITE, fl);
		return;
	}
	watch(fl, EV_WRITE, CONNECT_TIMEOUT_MS);
}

static void on_listen_ev(evutil_socket_t fd, short what, void *arg);

/* Listens on L. Done before the report goes to hbbs when the kernel lets
 * the listener share L with the hbbs connection (SO_REUSEPORT), so a
 * client that is quick to connect is not refused; else after it closed. */
static int open_listener(struct flow *fl)
{
	int fd = kd_rdv_tcp_socket(fl->local.ss_family, true,
				   (struct sockaddr *)&fl->local,
				   fl->local_len);
	if (fd < 0)
		return fd;
	if (listen(fd, 4) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	fl->listen_ev = event_new(fl->owner->ctx->base, fd,
				  EV_READ | EV_PERSIST, on_listen_ev, fl);
	if (!fl->listen_ev) {
		close(fd);
		return -ENOMEM;
	}
	fl->listen_fd = fd;
	event_add(fl->listen_ev, NULL);
	return 0;
}

static void start_listen(struct flow *fl)
{
	fl->phase = PH_ACCEPT;
	if (fl->listen_fd < 0) {
		int rc = open_listener(fl);
		if (rc < 0) {
			flow_fail(fl, "cannot listen on the punched address",
				  rc);
			return;
		}
	}
	struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, 0};
	event_add(fl->timer, &tv);
}

static void on_report_connected(struct flow *fl)
{
	int err = kd_rdv_sock_error(fl->fd);
	fl->local_len = sizeof(fl->local);
	if (!err && getsockname(fl->fd, (struct sockaddr *)&fl->local,
				&fl->local_len) < 0)
		err = -errno;
	if (err) {
		if (fl->kind == KD_FLOW_LAN) {
			/* spec §5.4 step 3: no LAN report, try the relay. */
			close_fd(fl);
			fl->kind = KD_FLOW_RELAY;
			kd_flows_new_uuid(fl->uuid);
			start_report(fl);
			return;
		}
		flow_fail(fl, "connecting to hbbs", err);
		return;
	}
	if (fl->kind == KD_FLOW_LAN)
		open_listener(fl); /* failure: retried after the report */
	if (fl->kind != KD_FLOW_PUNCH) {
		write_report(fl);
		return;
	}
	/* spec §5.3 step 2: a SYN from L towards the client opens our NAT for
	 * it; the result does not matter. */
	fl->phase = PH_PUNCH_SYN;
	fl->punch_fd = kd_rdv_tcp_socket(fl->local.ss_family, true,
					 (struct sockaddr *)&fl->local,
					 fl->local_len);
	if (fl->punch_fd >= 0)
		kd_rdv_tcp_connect(fl->punch_fd,
				   (struct sockaddr *)&fl->client,
				   kd_rdv_sa_len((struct sockaddr *)&fl->client));
	event_del(fl->ev);
	struct timeval tv = {0, PUNCH_SYN_MS * 1000};
	event_add(fl->timer, &tv);
}

static void handed_off(struct flow *fl, int fd, const char *how)
{
	struct kd_handoff *h = fl->owner->ctx->handoff;
	const char *msgid = fl->kind == KD_FLOW_RELAY ||
					    fl->kind == KD_FLOW_RELAY_ANSWER
				    ? KD_MSGID_RELAY_ESTABLISHED
				    : KD_MSGID_PUNCH_ESTABLISHED;
	kd_log_event(LOG_INFO,
		     &(struct kd_log_fields){.message_id = msgid,
					     .peer_addr = fl->client_str,
					     .session_kind = how},
		     "%s connection for client %s ready%s%s, handing it to "
		     "sessiond", how, fl->client_str,
		     fl->kind >= KD_FLOW_RELAY ? " via relay " : "",
		     fl->kind >= KD_FLOW_RELAY ? fl->relay : "");
	kd_handoff_send(h, fd, how, fl->client_str, fl->secure);
}

static void on_accept(struct flow *fl)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd = accept4(fl->listen_fd, (struct sockaddr *)&peer, &len,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		flow_fail(fl, "accept", -errno);
		return;
	}
	/* The real peer accepts any source here (spec §5.3 step 5). */
	kd_sockaddr_format((struct sockaddr *)&peer, fl->client_str);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	handed_off(fl, fd, kind_name(fl->kind));
	flow_free(fl);
}

static void on_relay_resolved(int result, struct evutil_addrinfo *res,
			      void *arg)
{
	struct flow *fl = arg;
	fl->dns = NULL;
	if (fl->dying) {
		/* flow_free ran: only the struct is left (its owner may be
		 * gone too). */
		if (res)
			evutil_freeaddrinfo(res);
		free(fl);
		return;
	}
	if (result == EVUTIL_EAI_CANCEL)
		return;
	if (result != 0 || !res) {
		kd_log_event(LOG_WARNING, NULL,
			     "cannot resolve relay server %s: %s", fl->relay,
			     evutil_gai_strerror(result));
		flow_free(fl);
		return;
	}
	fl->phase = PH_RELAY_CONNECT;
	fl->fd = kd_rdv_tcp_socket(res->ai_family, false, NULL, 0);
	int rc = fl->fd < 0 ? fl->fd
			    : kd_rdv_tcp_connect(fl->fd, res->ai_addr,
						 (socklen_t)res->ai_addrlen);
	evutil_freeaddrinfo(res);
	if (rc < 0 || watch(fl, EV_WRITE, CONNECT_TIMEOUT_MS) < 0)
		flow_fail(fl, "connecting to the relay", rc);
}

static void start_relay(struct flow *fl)
{
	char host[KD_RDV_HOST_MAX], port[8];
	uint16_t p;
	fl->phase = PH_RELAY_RESOLVE;
	if (kd_host_port_split(fl->relay, host, sizeof(host), &p,
			       KD_RDV_RELAY_PORT) < 0) {
		flow_fail(fl, "bad relay server name", -EINVAL);
		return;
	}
	snprintf(port, sizeof(port), "%u", p);
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM};
	struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, 0};
	event_add(fl->timer, &tv);
	/* May call back at once (numeric host), with fl->dns still NULL. */
	struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(
		fl->owner->ctx->dns, host, port, &hints, on_relay_resolved, fl);
	if (req)
		fl->dns = req;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct flow *fl = arg;
	int rc;

	switch (fl->phase) {
	case PH_REPORT_CONNECT:
		on_report_connected(fl);
		return;
	case PH_REPORT_WRITE:
		rc = kd_rdv_write_some(fl->fd, fl->out, fl->out_len,
				       &fl->out_off);
		if (rc == 1)
			return;
		if (rc < 0) {
			flow_fail(fl, "sending to hbbs", rc);
			return;
		}
		/* spec §5.3 step 4: hbbs closes after reading; so do we. */
		close_fd(fl);
		if (fl->kind == KD_FLOW_PUNCH || fl->kind == KD_FLOW_LAN)
			start_listen(fl);
		else
			start_relay(fl);
		return;
	case PH_RELAY_CONNECT:
		rc = kd_rdv_sock_error(fl->fd);
		if (rc < 0 || (rc = build_relay_join(fl)) < 0) {
			flow_fail(fl, "connecting to the relay", rc);
			return;
		}
		fl->phase = PH_RELAY_WRITE;
		/* fall through */
	case PH_RELAY_WRITE:
		rc = kd_rdv_write_some(fl->fd, fl->out, fl->out_len,
				       &fl->out_off);
		if (rc == 1) {
			watch(fl, EV_WRITE, 0);
			return;
		}
		if (rc < 0) {
			flow_fail(fl, "sending to the relay", rc);
			return;
		}
		int one = 1;
		setsockopt(fl->fd, IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
		event_free(fl->ev);
		fl->ev = NULL;
		handed_off(fl, fl->fd, "relay");
		fl->fd = -1;
		flow_free(fl);
		return;
	default:
		return;
	}
}

static void on_listen_ev(evutil_socket_t fd, short what, void *arg)
{
	on_accept(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct flow *fl = arg;
	if (fl->phase == PH_PUNCH_SYN) {
		if (fl->punch_fd >= 0)
			close(fl->punch_fd);
		fl->punch_fd = -1;
		open_listener(fl); /* failure: retried after the report */
		write_report(fl);
		return;
	}
	if (fl->phase == PH_ACCEPT) {
		/* spec §5.4 step 3: only logged; the client falls back to
		 * the relay itself. */
		kd_log_event(LOG_NOTICE,
			     &(struct kd_log_fields){
				     .peer_addr = fl->client_str,
				     .session_kind = kind_name(fl->kind)},
			     "client %s did not connect to the %s address "
			     "within %d s", fl->client_str,
			     kind_name(fl->kind), CONNECT_TIMEOUT_MS / 1000);
		flow_free(fl);
		return;
	}
	flow_fail(fl, "timed out", -ETIMEDOUT);
}

/* ---- public ----------------------------------------------------------- */

void kd_flows_pick_relay(const char *local_override, const char *suggested,
			 const char *hbbs_host, uint16_t hbbs_port,
			 char *out, size_t out_len)
{
	if (local_override && *local_override)
		snprintf(out, out_len, "%s", local_override);
	else if (suggested && *suggested)
		snprintf(out, out_len, "%s", suggested);
	else if (strchr(hbbs_host, ':'))
		snprintf(out, out_len, "[%s]:%u", hbbs_host,
			 (unsigned)hbbs_port + 1);
	else
		snprintf(out, out_len, "%s:%u", hbbs_host,
			 (unsigned)hbbs_port + 1);
}

void kd_flows_new_uuid(char out[37])
{
	uint8_t b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

int kd_flows_new(struct kd_rdv_ctx *ctx, struct kd_flows **out)
{
	struct kd_flows *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ctx = ctx;
	TAILQ_INIT(&f->flows);
	*out = f;
	return 0;
}

void kd_flows_destroy(struct kd_flows *f)
{
	if (!f)
		return;
	while (!TAILQ_EMPTY(&f->flows))
		flow_free(TAILQ_FIRST(&f->flows));
	free(f);
}

unsigned kd_flows_active(const struct kd_flows *f)
{
	return f->active;
}

int kd_flows_start(struct kd_flows *f, const struct kd_flow_params *p)
{
	struct flow *fl;
	socklen_t clen;
	if (f->active >= FLOWS_MAX) {
		kd_warn("%u connection requests already in progress; ignoring "
			"another one from hbbs", f->active);
		return -EBUSY;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return -ENOMEM;
	fl->owner = f;
	fl->fd = fl->punch_fd = fl->listen_fd = -1;
	fl->kind = p->kind;
	fl->nat_type = p->nat_type;
	/* Every connection brokered by hbbs runs the SignedId handshake,
	 * except a client-initiated relay the client asked to be insecure. */
	fl->secure = p->kind == KD_FLOW_RELAY_ANSWER ? p->secure : true;
	if (p->client_mangled_len > sizeof(fl->mangled) ||
	    kd_addr_mangle_decode(p->client_mangled, p->client_mangled_len,
				  &fl->client, &clen) < 0) {
		free(fl);
		kd_warn("hbbs sent a malformed client address (%zu bytes); "
			"ignored", p->client_mangled_len);
		return -EBADMSG;
	}
	memcpy(fl->mangled, p->client_mangled, p->client_mangled_len);
	fl->mangled_len = p->client_mangled_len;
	kd_sockaddr_format((struct sockaddr *)&fl->client, fl->client_str);
	memcpy(&fl->hbbs, &p->hbbs, sizeof(fl->hbbs));
	fl->hbbs_len = p->hbbs_len;
	if (p->kind == KD_FLOW_RELAY_ANSWER)
		/* spec §5.6 step 3: the relay the client chose. */
		kd_flows_pick_relay(NULL, p->relay_server, p->hbbs_host,
				    p->hbbs_port, fl->relay,
				    sizeof(fl->relay));
	else
		kd_flows_pick_relay(f->ctx->relay, p->relay_server,
				    p->hbbs_host, p->hbbs_port, fl->relay,
				    sizeof(fl->relay));
	if (p->kind == KD_FLOW_RELAY_ANSWER)
		snprintf(fl->uuid, sizeof(fl->uuid), "%s",
			 p->relay_uuid ? p->relay_uuid : "");
	else if (p->kind == KD_FLOW_RELAY)
		kd_flows_new_uuid(fl->uuid);
	/* spec §5.4 step 2: the LAN path needs IPv4 on both ends. */
	if (p->kind == KD_FLOW_LAN && (fl->hbbs.ss_family != AF_INET ||
				       fl->client.ss_family != AF_INET)) {
		fl->kind = KD_FLOW_RELAY;
		kd_flows_new_uuid(fl->uuid);
	}
	fl->timer = event_new(f->ctx->base, -1, 0, on_timer, fl);
	if (!fl->timer) {
		free(fl);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&f->flows, fl, link);
	f->active++;
	kd_info("%s request for client %s from hbbs", kind_name(fl->kind),
		fl->client_str);
	start_report(fl);
	return 0;
}
