/* Registration with one hbbs over UDP (spec connection §4.2, §4.7, §5.2). */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_mangle.h"
#include "backoff.h"
#include "flows.h"
#include "log.h"
#include "natprobe.h"
#include "hbbs_msg.h"
#include "netaddr.h"
#include "rdv_sock.h"
#include "rdv_wire.h"

/* The real peer's schedule for REG_INTERVAL = 15 s: MIN_REG_TIMEOUT 3 s,
 * MAX_REG_TIMEOUT 30 s, DNS_INTERVAL 60 s. [rendezvous] register_interval
 * scales all of it, so a short interval (tests) keeps the same shape. */
#define MIN_REG_TIMEOUT_MS(s) ((s)->ctx->reg_interval_ms / 5)
#define MAX_REG_TIMEOUT_MS(s) ((s)->ctx->reg_interval_ms * 2)
#define DNS_INTERVAL_MS(s) ((int64_t)(s)->ctx->reg_interval_ms * 4)
#define FAILS_LOST 2              /* hbbs drops us after 30 s = 2 intervals */
#define FAILS_RECREATE 4
#define DUP_WINDOW_MS 100         /* spec §5.2 step 1 */
#define PK_MIN_GAP_MS 2000        /* never RegisterPk faster than this */
#define REFUSED_RETRY_MIN_MS 15000
#define REFUSED_RETRY_MAX_MS 300000
#define NAT_RETRY_MAX_S 300

enum reg_state {
	ST_RESOLVING,
	ST_RESOLVE_FAILED,
	ST_REGISTERING,
	ST_REGISTERED,
	ST_UNREACHABLE,
	ST_REFUSED,
};

struct dup_filter {
	struct sockaddr_storage addr;
	int64_t at_ms;
};

struct kd_rdv_server {
	struct kd_rdv_ctx *ctx;
	char name[KD_RDV_HOST_MAX];
	char host[KD_RDV_HOST_MAX];
	uint16_t port;
	kd_rdv_config_update_fn config_update;
	void *config_update_arg;

	struct {
		enum reg_state state;
		int refusal;             /* last RegisterPkResponse result */
		int fd;                  /* the long-lived UDP socket */
		struct event *udp_ev;
		struct event *tick;
		struct evdns_getaddrinfo_request *dns;
		/* Destroyed while dns was pending: the cancelled lookup's
		 * callback, which libevent runs later, frees the struct. */
		bool dying;
		struct event *dns_retry;
		struct kd_backoff dns_backoff;
		char dns_error[96];
		struct sockaddr_storage addr;
		socklen_t addr_len;
		char addr_str[KD_ADDR_STR_MAX];
		bool key_confirmed;
		int64_t last_sent_ms;    /* 0 = nothing outstanding */
		int64_t last_resp_ms;    /* 0 = never */
		int64_t last_pk_ms;
		int64_t pk_not_before_ms;
		int64_t recreated_ms;
		time_t last_contact;
		uint32_t reg_timeout_ms;
		int fails;
		int64_t bad_warned_ms;   /* last warning about a bad datagram */
		bool recreated_once;     /* in this outage */
		uint64_t answers;
		struct kd_backoff refused_backoff;
		int nat_type;
		struct kd_natprobe *nat;
		struct event *nat_retry;
		unsigned nat_attempts;
		struct dup_filter dup_punch;  /* PunchHole and FetchLocalAddr */
		struct dup_filter dup_relay;  /* RequestRelay */
		struct kd_flows *flows;
	} rt;
};

int64_t kd_rdv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void resolve(struct kd_rdv_server *s);

static void set_state(struct kd_rdv_server *s, enum reg_state st)
{
	if (s->rt.state == st)
		return;
	s->rt.state = st;
	kd_rdv_ctx_changed(s->ctx);
}

static void send_msg(struct kd_rdv_server *s, Hbb__RendezvousMessage *m)
{
	uint8_t buf[KD_RDV_MSG_MAX];
	int n = kd_rdv_wire_pack(m, buf, sizeof(buf));
	if (n < 0 || s->rt.fd < 0)
		return;
	if (sendto(s->rt.fd, buf, (size_t)n, 0, (struct sockaddr *)&s->rt.addr,
		   s->rt.addr_len) < 0)
		kd_debug("hbbs %s: sendto: %s", s->name, strerror(errno));
}

static void send_register_peer(struct kd_rdv_server *s)
{
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RegisterPeer rp = HBB__REGISTER_PEER__INIT;
	rp.id = s->ctx->ident.id;
	rp.serial = (int32_t)s->ctx->serial;
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PEER;
	m.register_peer = &rp;
	send_msg(s, &m);
	s->rt.last_sent_ms = kd_rdv_now_ms();
}

/* Returns false when a RegisterPk may not be sent yet (refusal back-off). */
static bool send_register_pk(struct kd_rdv_server *s)
{
	int64_t now = kd_rdv_now_ms();
	if (now < s->rt.pk_not_before_ms ||
	    (s->rt.last_pk_ms && now - s->rt.last_pk_ms < PK_MIN_GAP_MS))
		return false;
	Hbb__RendezvousMessage m = HBB__RENDEZVOUS_MESSAGE__INIT;
	Hbb__RegisterPk pk = HBB__REGISTER_PK__INIT;
	pk.id = s->ctx->ident.id;
	pk.uuid.data = (uint8_t *)s->ctx->ident.uuid;
	pk.uuid.len = strlen(s->ctx->ident.uuid);
	pk.pk.data = s->ctx->ident.public_key;
	pk.pk.len = sizeof(s->ctx->ident.public_key);
	m.union_case = HBB__RENDEZVOUS_MESSAGE__UNION_REGISTER_PK;
	m.register_pk = &pk;
	send_msg(s, &m);
	s->rt.last_sent_ms = now;
	s->rt.last_pk_ms = now;
	return true;
}

static void mark_response(struct kd_rdv_server *s)
{
	s->rt.last_sent_ms = 0;
	s->rt.fails = 0;
	s->rt.recreated_once = false;
	s->rt.reg_timeout_ms = MIN_REG_TIMEOUT_MS(s);
	s->rt.last_resp_ms = kd_rdv_now_ms();
	s->rt.last_contact = time(NULL);
	s->rt.answers++;
}

static void set_registered(struct kd_rdv_server *s)
{
	if (s->rt.state == ST_REGISTERED)
		return;
	kd_log_event(LOG_NOTICE,
		     &(struct kd_log_fields){.message_id = KD_MSGID_REGISTERED},
		     "registered with rendezvous server %s (%s) as id %s",
		     s->name, s->rt.addr_str, s->ctx->ident.id);
	s->rt.refusal = -1;
	kd_backoff_reset(&s->rt.refused_backoff);
	set_state(s, ST_REGISTERED);
}

static void lose_registration(struct kd_rdv_server *s, enum reg_state st,
			      const char *why)
{
	if (s->rt.state == ST_REGISTERED)
		kd_log_event(LOG_WARNING,
			     &(struct kd_log_fields){
				     .message_id = KD_MSGID_REGISTRATION_LOST},
			     "registration with rendezvous server %s lost: %s",
			     s->name, why);
	set_state(s, st);
}

/* ---- answers from hbbs ------------------------------------------------- */

static void on_pk_response(struct kd_rdv_server *s, int result)
{
	mark_response(s);
	if (result == HBB__REGISTER_PK_RESPONSE__RESULT__OK) {
		s->rt.key_confirmed = true;
		s->rt.pk_not_before_ms = 0;
		/* hbbs stores our address on RegisterPk only when something
		 * changed; a RegisterPeer now makes sure it has it (otherwise
		 * we would look offline until the next interval, §4.3). */
		send_register_peer(s);
		return;
	}
	s->rt.key_confirmed = false;
	uint32_t delay = kd_backoff_next(&s->rt.refused_backoff);
	if (result == HBB__REGISTER_PK_RESPONSE__RESULT__NOT_DEPLOYED &&
	    delay < 30000)
		delay = 30000;
	s->rt.pk_not_before_ms = kd_rdv_now_ms() + delay;
	bool repeated = s->rt.state == ST_REFUSED && s->rt.refusal == result;
	s->rt.refusal = result;
	if (repeated) {
		kd_debug("hbbs %s refused our key again (%s)", s->name,
			 kd_rdv_pk_result_name(result));
		return;
	}
	char why[96];
	snprintf(why, sizeof(why), "key refused (%s)",
		 kd_rdv_pk_result_name(result));
	lose_registration(s, ST_REFUSED, why);
	kd_log_event(LOG_ERR,
		     &(struct kd_log_fields){
			     .message_id = KD_MSGID_REGISTRATION_REFUSED},
		     "rendezvous server %s refused to register id %s: %s "
		     "(%s); retrying in %u s",
		     s->name, s->ctx->ident.id,
		     kd_rdv_pk_result_explain(result),
		     kd_rdv_pk_result_name(result), delay / 1000);
}

static void on_peer_response(struct kd_rdv_server *s, bool request_pk)
{
	mark_response(s);
	if (!request_pk) {
		set_registered(s);
		return;
	}
	/* hbbs does not know our key (it restarted, or our IP changed) and
	 * did not store our address: send RegisterPk now (§4.2). */
	s->rt.key_confirmed = false;
	if (s->rt.state == ST_REGISTERED)
		lose_registration(s, ST_REGISTERING,
				  "the server asked for our key again");
	send_register_pk(s);
}

static bool dup_check(struct dup_filter *f, const struct sockaddr_storage *a)
{
	int64_t now = kd_rdv_now_ms();
	bool dup = f->at_ms && now - f->at_ms < DUP_WINDOW_MS &&
		   kd_rdv_sa_equal((const struct sockaddr *)&f->addr,
				   (const struct sockaddr *)a);
	f->addr = *a;
	f->at_ms = now;
	return dup;
}

static void start_flow(struct kd_rdv_server *s, enum kd_flow_kind kind,
		       const struct kd_hbbs_msg *n)
{
	struct kd_flow_params p = {
		.kind = kind,
		.hbbs = s->rt.addr,
		.hbbs_len = s->rt.addr_len,
		.client_mangled = n->client_mangled,
		.client_mangled_len = n->client_mangled_len,
		.hbbs_host = s->host,
		.hbbs_port = s->port,
		.relay_server = n->relay_server,
		.relay_uuid = n->uuid,
		.secure = n->secure,
		.nat_type = s->rt.nat_type,
	};
	kd_flows_start(s->rt.flows, &p);
	kd_rdv_ctx_changed(s->ctx);
}

static void on_punch_hole(struct kd_rdv_server *s, const struct kd_hbbs_msg *n)
{
	if (dup_check(&s->rt.dup_punch, &n->client))
		return;
	/* spec §5.2 step 5 */
	bool relay = n->nat_type == HBB__NAT_TYPE__SYMMETRIC ||
		     s->rt.nat_type == HBB__NAT_TYPE__SYMMETRIC ||
		     n->force_relay;
	/* udp_port > 0 asks for the Pro-only UDP/KCP punch, which we do not
	 * speak: the TCP punch is the closest thing (§5.10). */
	start_flow(s, relay ? KD_FLOW_RELAY : KD_FLOW_PUNCH, n);
}

static void on_config_update(struct kd_rdv_server *s,
			     const struct kd_hbbs_msg *n)
{
	if (n->serial <= (int32_t)s->ctx->serial)
		return;
	kd_notice("rendezvous server %s sent a configuration update "
		  "(serial %d, %zu servers)", s->name, n->serial,
		  n->n_servers);
	char *list[KD_HBBS_MSG_SERVERS_MAX];
	for (size_t i = 0; i < n->n_servers; i++)
		list[i] = (char *)n->servers[i];
	if (s->config_update)
		s->config_update(s->config_update_arg, n->serial, list,
				 n->n_servers);
}

static void dispatch(struct kd_rdv_server *s, const struct kd_hbbs_msg *n)
{
	switch (n->kind) {
	case KD_HBBS_MSG_REGISTER_PEER_RESPONSE:
		on_peer_response(s, n->request_pk);
		break;
	case KD_HBBS_MSG_REGISTER_PK_RESPONSE:
		on_pk_response(s, n->pk_result);
		break;
	case KD_HBBS_MSG_PUNCH_HOLE:
		on_punch_hole(s, n);
		break;
	case KD_HBBS_MSG_FETCH_LOCAL_ADDR:
		if (!dup_check(&s->rt.dup_punch, &n->client))
			start_flow(s, KD_FLOW_LAN, n);
		break;
	case KD_HBBS_MSG_REQUEST_RELAY:
		if (!dup_check(&s->rt.dup_relay, &n->client))
			start_flow(s, KD_FLOW_RELAY_ANSWER, n);
		break;
	case KD_HBBS_MSG_CONFIG_UPDATE:
		on_config_update(s, n);
		break;
	case KD_HBBS_MSG_OTHER:
		kd_debug("hbbs %s: ignoring message %d", s->name,
			 n->type_number);
		break;
	}
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct kd_rdv_server *s = arg;
	uint8_t buf[KD_RDV_MSG_MAX + 1];
	struct kd_hbbs_msg *n = malloc(sizeof(*n));

	if (!n)
		return;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t len = recvfrom(s->rt.fd, buf, sizeof(buf), MSG_TRUNC,
				       (struct sockaddr *)&from, &from_len);
		if (len < 0)
			break;
		/* Only hbbs may steer us (the real peer does not check). */
		if (!kd_rdv_sa_equal((struct sockaddr *)&from,
				     (struct sockaddr *)&s->rt.addr)) {
			char a[KD_ADDR_STR_MAX];
			kd_sockaddr_format((struct sockaddr *)&from, a);
			kd_debug("hbbs %s: dropping a datagram from %s", s->name,
				 a);
			continue;
		}
		const char *why = "longer than any hbbs message";
		if ((size_t)len > KD_RDV_MSG_MAX ||
		    kd_hbbs_msg_parse(buf, (size_t)len, n, &why) < 0) {
			/* A warning a minute at most; the rest at debug. */
			int64_t now = kd_rdv_now_ms();
			bool warn = !s->rt.bad_warned_ms ||
				    now - s->rt.bad_warned_ms >= 60000;
			if (warn)
				s->rt.bad_warned_ms = now;
			kd_log_event(warn ? LOG_WARNING : LOG_DEBUG,
				     &(struct kd_log_fields){
					     .message_id =
						     KD_MSGID_PROTOCOL_ERROR},
				     "hbbs %s sent a bad datagram (%zd bytes: "
				     "%s); ignored", s->name, len, why);
			continue;
		}
		dispatch(s, n);
	}
	free(n);
}

/* ---- the registration timer ------------------------------------------- */

static void close_socket(struct kd_rdv_server *s)
{
	if (s->rt.udp_ev) {
		event_free(s->rt.udp_ev);
		s->rt.udp_ev = NULL;
	}
	if (s->rt.fd >= 0)
		close(s->rt.fd);
	s->rt.fd = -1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kd_rdv_server *s = arg;
	int64_t now = kd_rdv_now_ms();

	if (s->rt.fd < 0)
		return;
	bool expired = !s->rt.last_resp_ms ||
		       now - s->rt.last_resp_ms >= s->ctx->reg_interval_ms;
	bool timeout = s->rt.last_sent_ms &&
		       now - s->rt.last_sent_ms >= s->rt.reg_timeout_ms;
	if (!timeout && (s->rt.last_sent_ms || !expired))
		return;
	if (timeout) {
		s->rt.fails++;
		s->rt.last_sent_ms = 0;
		if (s->rt.reg_timeout_ms < MAX_REG_TIMEOUT_MS(s))
			s->rt.reg_timeout_ms += MIN_REG_TIMEOUT_MS(s);
		if (s->rt.fails >= FAILS_LOST &&
		    s->rt.state != ST_REFUSED) {
			char why[96];
			snprintf(why, sizeof(why),
				 "no answer to %d registrations", s->rt.fails);
			lose_registration(s, ST_UNREACHABLE, why);
		}
		if (s->rt.fails >= FAILS_RECREATE &&
		    now - s->rt.recreated_ms >= DNS_INTERVAL_MS(s)) {
			/* Said once per outage; then once a minute at debug. */
			kd_log(s->rt.recreated_once ? LOG_DEBUG : LOG_INFO,
			       "hbbs %s: no answer %d times, re-resolving and "
			       "opening a new socket", s->name, s->rt.fails);
			s->rt.recreated_once = true;
			/* fails keeps counting, as in the real peer: the next
			 * re-creation comes one DNS interval later. */
			s->rt.recreated_ms = now;
			close_socket(s);
			resolve(s);
			return;
		}
	}
	if (!s->rt.key_confirmed)
		send_register_pk(s);
	else
		send_register_peer(s);
}

/* ---- NAT type test ----------------------------------------------------- */

static void nat_schedule_retry(struct kd_rdv_server *s)
{
	unsigned n = s->rt.nat_attempts < 9 ? s->rt.nat_attempts : 9;
	unsigned secs = (2u << n) - 1u; /* 1, 3, 7, 15, ... (§4.7) */
	if (secs > NAT_RETRY_MAX_S)
		secs = NAT_RETRY_MAX_S;
	struct timeval tv = {secs, 0};
	event_add(s->rt.nat_retry, &tv);
}

static void on_nat_done(void *arg, int result)
{
	struct kd_rdv_server *s = arg;
	kd_natprobe_destroy(s->rt.nat);
	s->rt.nat = NULL;
	if (result < 0) {
		if (s->rt.nat_attempts == 0)
			kd_notice("hbbs %s: NAT type test failed (%s); "
				  "retrying with back-off", s->name,
				  strerror(-result));
		nat_schedule_retry(s);
		s->rt.nat_attempts++;
		return;
	}
	s->rt.nat_type = result;
	kd_info("hbbs %s: NAT type %s", s->name, kd_rdv_nat_name(result));
	kd_rdv_ctx_changed(s->ctx);
}

static void nat_start(struct kd_rdv_server *s)
{
	if (s->rt.nat || s->rt.nat_type != HBB__NAT_TYPE__UNKNOWN_NAT ||
	    !s->rt.addr_len)
		return;
	int rc = kd_natprobe_start(s->ctx, (struct sockaddr *)&s->rt.addr,
				   s->rt.addr_len, on_nat_done, s, &s->rt.nat);
	if (rc < 0) {
		nat_schedule_retry(s);
		s->rt.nat_attempts++;
	}
}

static void on_nat_retry(evutil_socket_t fd, short what, void *arg)
{
	nat_start(arg);
}

/* ---- resolution and the socket ---------------------------------------- */

static int open_socket(struct kd_rdv_server *s)
{
	s->rt.fd = socket(s->rt.addr.ss_family,
			  SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->rt.fd < 0)
		return -errno;
	s->rt.udp_ev = event_new(s->ctx->base, s->rt.fd, EV_READ | EV_PERSIST,
				 on_udp, s);
	if (!s->rt.udp_ev)
		return -ENOMEM;
	event_add(s->rt.udp_ev, NULL);
	return 0;
}

static void on_dns_retry(evutil_socket_t fd, short what, void *arg)
{
	resolve(arg);
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct kd_rdv_server *s = arg;
	s->rt.dns = NULL;
	if (s->rt.dying) {
		if (res)
			evutil_freeaddrinfo(res);
		free(s);
		return;
	}
	if (result == EVUTIL_EAI_CANCEL)
		return;
	if (result != 0 || !res) {
		snprintf(s->rt.dns_error, sizeof(s->rt.dns_error), "%s",
			 evutil_gai_strerror(result));
		if (s->rt.state != ST_RESOLVE_FAILED)
			kd_warn("cannot resolve rendezvous server %s: %s; "
				"retrying", s->name, s->rt.dns_error);
		lose_registration(s, ST_RESOLVE_FAILED, "name resolution");
		uint32_t ms = kd_backoff_next(&s->rt.dns_backoff);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		event_add(s->rt.dns_retry, &tv);
		return;
	}
	kd_backoff_reset(&s->rt.dns_backoff);
	memcpy(&s->rt.addr, res->ai_addr, res->ai_addrlen);
	s->rt.addr_len = (socklen_t)res->ai_addrlen;
	evutil_freeaddrinfo(res);
	kd_sockaddr_format((struct sockaddr *)&s->rt.addr, s->rt.addr_str);
	int rc = open_socket(s);
	if (rc < 0) {
		kd_err("hbbs %s: cannot open a UDP socket: %s", s->name,
		       strerror(-rc));
		close_socket(s);
		struct timeval tv = {5, 0};
		event_add(s->rt.dns_retry, &tv);
		return;
	}
	if (s->rt.state == ST_RESOLVING || s->rt.state == ST_RESOLVE_FAILED)
		set_state(s, ST_REGISTERING);
	s->rt.last_sent_ms = 0;
	s->rt.last_resp_ms = 0; /* register at the next tick */
	nat_start(s);
	on_tick(-1, 0, s);
}

static void resolve(struct kd_rdv_server *s)
{
	char port[8];
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_DGRAM,
					.ai_protocol = IPPROTO_UDP};
	snprintf(port, sizeof(port), "%u", s->port);
	/* May call on_resolved before returning (numeric hosts). */
	struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(
		s->ctx->dns, s->host, port, &hints, on_resolved, s);
	if (req)
		s->rt.dns = req;
}

/* ---- public ------------------------------------------------------------ */

int kd_rdv_server_spec_check(const char *spec)
{
	char host[KD_RDV_HOST_MAX];
	uint16_t port;
	if (kd_host_port_split(spec, host, sizeof(host), &port,
			       KD_RDV_DEFAULT_PORT) < 0 ||
	    !host[0] || port < 2 || port > 65534)
		return -EINVAL; /* the NAT test uses port - 1, the relay port + 1 */
	return 0;
}

const char *kd_rdv_server_name(const struct kd_rdv_server *s)
{
	return s->name;
}

int kd_rdv_server_new(struct kd_rdv_ctx *ctx, const char *spec,
		      struct kd_rdv_server **out)
{
	struct kd_rdv_server *s = calloc(1, sizeof(*s));
	int rc;
	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->rt.fd = -1;
	s->rt.refusal = -1;
	s->rt.reg_timeout_ms = MIN_REG_TIMEOUT_MS(s);
	s->rt.state = ST_RESOLVING;
	snprintf(s->name, sizeof(s->name), "%s", spec);
	rc = kd_host_port_split(spec, s->host, sizeof(s->host), &s->port,
				KD_RDV_DEFAULT_PORT);
	if (rc < 0 || kd_rdv_server_spec_check(spec) < 0) {
		kd_err("[rendezvous] servers: cannot parse \"%s\" as "
		       "host[:port]", spec);
		rc = -EINVAL;
		goto fail;
	}
	kd_backoff_init(&s->rt.dns_backoff, 1000, 60000);
	kd_backoff_init(&s->rt.refused_backoff, REFUSED_RETRY_MIN_MS,
			REFUSED_RETRY_MAX_MS);
	rc = kd_flows_new(ctx, &s->rt.flows);
	if (rc < 0)
		goto fail;
	s->rt.tick = event_new(ctx->base, -1, EV_PERSIST, on_tick, s);
	s->rt.dns_retry = event_new(ctx->base, -1, 0, on_dns_retry, s);
	s->rt.nat_retry = event_new(ctx->base, -1, 0, on_nat_retry, s);
	if (!s->rt.tick || !s->rt.dns_retry || !s->rt.nat_retry) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	kd_rdv_server_destroy(s);
	return rc;
}

int kd_rdv_server_start(struct kd_rdv_server *s)
{
	/* The real peer ticks once a second; shorter intervals (tests) tick
	 * faster so the schedule stays accurate. */
	uint32_t ms = s->ctx->reg_interval_ms / 4;
	if (ms > 1000)
		ms = 1000;
	if (ms < 50)
		ms = 50;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	s->rt.recreated_ms = kd_rdv_now_ms();
	event_add(s->rt.tick, &tv);
	resolve(s);
	return 0;
}

void kd_rdv_server_destroy(struct kd_rdv_server *s)
{
	if (!s)
		return;
	kd_natprobe_destroy(s->rt.nat);
	kd_flows_destroy(s->rt.flows);
	close_socket(s);
	if (s->rt.tick)
		event_free(s->rt.tick);
	if (s->rt.dns_retry)
		event_free(s->rt.dns_retry);
	if (s->rt.nat_retry)
		event_free(s->rt.nat_retry);
	if (s->rt.dns) {
		/* libevent still calls on_resolved (EVUTIL_EAI_CANCEL), from
		 * the loop: s must outlive that call, which frees it. */
		s->rt.dying = true;
		evdns_getaddrinfo_cancel(s->rt.dns);
		return;
	}
	free(s);
}

void kd_rdv_server_on_config_update(struct kd_rdv_server *s,
				    kd_rdv_config_update_fn fn, void *arg)
{
	s->config_update = fn;
	s->config_update_arg = arg;
}

void kd_rdv_server_status(const struct kd_rdv_server *s,
			  struct kd_rdv_server_status *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", s->name);
	snprintf(out->addr, sizeof(out->addr), "%s",
		 s->rt.addr_len ? s->rt.addr_str : "");
	out->registered = s->rt.state == ST_REGISTERED;
	out->last_contact = s->rt.last_contact;
	out->nat_type = kd_rdv_nat_name(s->rt.nat_type);
	out->registrations = s->rt.answers;
	switch (s->rt.state) {
	case ST_RESOLVING:
		snprintf(out->state, sizeof(out->state), "resolving %s",
			 s->host);
		break;
	case ST_RESOLVE_FAILED:
		snprintf(out->state, sizeof(out->state),
			 "not registered: cannot resolve %s (%s)", s->host,
			 s->rt.dns_error);
		break;
	case ST_REGISTERING:
		snprintf(out->state, sizeof(out->state),
			 "registering (waiting for the server)");
		break;
	case ST_REGISTERED:
		snprintf(out->state, sizeof(out->state), "registered");
		break;
	case ST_UNREACHABLE:
		snprintf(out->state, sizeof(out->state),
			 "not registered: no answer from the server, retrying");
		break;
	case ST_REFUSED:
		snprintf(out->state, sizeof(out->state),
			 "not registered: key refused (%s): %s",
			 kd_rdv_pk_result_name(s->rt.refusal),
			 kd_rdv_pk_result_explain(s->rt.refusal));
		break;
	}
}
