/* rendezvousd: glue between configuration, servers, hand-off and status. */
#include "rdvd.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_server.h"
#include "handoff.h"
#include "listen_fds.h"
#include "log.h"
#include "notify.h"
#include "server.h"

#define SERIAL_MIN 3 /* the real peer's SERIAL (spec §4.4) */

struct kd_rdvd {
	struct kd_rdvd_config cfg;
	struct kd_rdv_ctx ctx;
	struct {
		struct kd_rdv_server *servers[KD_RDVD_SERVERS_MAX];
		unsigned n_servers;
		struct kd_ctl_server *ctl;
		struct kd_notify *notify;
		struct event *status_ev;   /* deferred status refresh */
		struct event *reconfig_ev; /* deferred ConfigUpdate */
		bool network_up;           /* identity, resolver, hand-off */
		char pending[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX];
		unsigned n_pending;
		char status[1024];
	} rt;
};

/* ---- configuration ----------------------------------------------------- */

int kd_rdvd_servers_parse(const char *text,
			  char out[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX],
			  unsigned *n)
{
	*n = 0;
	while (text && *text) {
		const char *end = strchr(text, ',');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		while (len && isspace((unsigned char)*text)) {
			text++;
			len--;
		}
		while (len && isspace((unsigned char)text[len - 1]))
			len--;
		if (len) {
			if (*n == KD_RDVD_SERVERS_MAX)
				return -E2BIG;
			if (len >= KD_RDV_HOST_MAX)
				return -ENAMETOOLONG;
			memcpy(out[*n], text, len);
			out[*n][len] = '\0';
			(*n)++;
		}
		text = end ? end + 1 : NULL;
	}
	return 0;
}

static int copy_key(char *dst, size_t cap, const char *src, const char *name)
{
	if ((size_t)snprintf(dst, cap, "%s", src ? src : "") >= cap) {
		kd_err("[rendezvous] %s is too long", name);
		return -EINVAL;
	}
	return 0;
}

int kd_rdvd_config_read(const struct kd_config *cfg,
			struct kd_rdvd_config *out)
{
	long interval;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = kd_general_config_read(cfg, &out->general);
	if (rc < 0)
		return rc;
	rc = kd_rdvd_servers_parse(kd_config_get(cfg, "rendezvous", "servers"),
				   out->servers, &out->n_servers);
	if (rc < 0) {
		kd_err("[rendezvous] servers: at most %d servers of up to %d "
		       "characters", KD_RDVD_SERVERS_MAX, KD_RDV_HOST_MAX - 1);
		return -EINVAL;
	}
	for (unsigned i = 0; i < out->n_servers; i++) {
		if (kd_rdv_server_spec_check(out->servers[i]) < 0) {
			kd_err("[rendezvous] servers: cannot parse \"%s\" as "
			       "host[:port] (port 2 to 65534)",
			       out->servers[i]);
			return -EINVAL;
		}
	}
	if (copy_key(out->key, sizeof(out->key),
		     kd_config_get(cfg, "rendezvous", "key"), "key") < 0 ||
	    copy_key(out->relay, sizeof(out->relay),
		     kd_config_get(cfg, "rendezvous", "relay"), "relay") < 0 ||
	    copy_key(out->relay_key, sizeof(out->relay_key),
		     kd_config_get(cfg, "rendezvous", "relay_key"),
		     "relay_key") < 0)
		return -EINVAL;
	/* How often RegisterPeer goes out; 15 s like the real peer. hbbs
	 * calls a peer offline after 30 s, so more than 25 s is refused. */
	rc = kd_config_get_long(cfg, "rendezvous", "register_interval", 15, 1,
				25, &interval);
	if (rc < 0)
		return rc;
	out->reg_interval_ms = (uint32_t)interval * 1000u;
	return 0;
}

/* ---- status ------------------------------------------------------------ */

static void add_detail(struct kd_ctl_status *st, const char *key,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_detail(struct kd_ctl_status *st, const char *key,
		       const char *fmt, ...)
{
	char value[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	kd_ctl_status_add_detail(st, key, value);
}

/* kvmdeskctl status shows these (server.N.* per server). */
static void fill_status(void *arg, struct kd_ctl_status *st)
{
	struct kd_rdvd *d = arg;
	kd_ctl_status_set_state(st, d->rt.status);
	add_detail(st, "id", "%s", d->ctx.ident.id);
	add_detail(st, "servers", "%u", d->rt.n_servers);
	add_detail(st, "sessiond",
		   d->ctx.handoff && kd_handoff_connected(d->ctx.handoff)
			   ? "connected"
			   : "not connected");
	add_detail(st, "handed_off", "%u",
		   d->ctx.handoff ? kd_handoff_count(d->ctx.handoff) : 0);
	for (unsigned i = 0; i < d->rt.n_servers; i++) {
		struct kd_rdv_server_status s;
		char k[64];
		kd_rdv_server_status(d->rt.servers[i], &s);
		snprintf(k, sizeof(k), "server.%u.name", i);
		add_detail(st, k, "%s", s.name);
		snprintf(k, sizeof(k), "server.%u.address", i);
		add_detail(st, k, "%s", s.addr);
		snprintf(k, sizeof(k), "server.%u.registered", i);
		add_detail(st, k, "%s", s.registered ? "yes" : "no");
		snprintf(k, sizeof(k), "server.%u.state", i);
		add_detail(st, k, "%s", s.state);
		snprintf(k, sizeof(k), "server.%u.last_contact", i);
		add_detail(st, k, "%lld", (long long)s.last_contact);
		snprintf(k, sizeof(k), "server.%u.nat_type", i);
		add_detail(st, k, "%s", s.nat_type);
		snprintf(k, sizeof(k), "server.%u.answers", i);
		add_detail(st, k, "%llu", (unsigned long long)s.registrations);
	}
}

static void update_status(evutil_socket_t fd, short what, void *arg)
{
	struct kd_rdvd *d = arg;
	char line[1024];
	unsigned registered = 0;
	struct kd_rdv_server_status first = {0};

	if (d->rt.n_servers == 0) {
		snprintf(line, sizeof(line),
			 "direct IP only: no rendezvous servers configured");
	} else {
		for (unsigned i = 0; i < d->rt.n_servers; i++) {
			struct kd_rdv_server_status s;
			kd_rdv_server_status(d->rt.servers[i], &s);
			if (s.registered)
				registered++;
			else if (!first.name[0])
				first = s;
		}
		if (registered == d->rt.n_servers)
			snprintf(line, sizeof(line),
				 "registered as %s with %u of %u rendezvous "
				 "servers", d->ctx.ident.id, registered,
				 d->rt.n_servers);
		else
			snprintf(line, sizeof(line),
				 "id %s registered with %u of %u rendezvous "
				 "servers; %s: %s", d->ctx.ident.id,
				 registered, d->rt.n_servers, first.name,
				 first.state);
	}
	if (strcmp(line, d->rt.status) != 0) {
		snprintf(d->rt.status, sizeof(d->rt.status), "%s", line);
		kd_notify_status("%s", line);
	}
}

static void on_changed(void *arg)
{
	struct kd_rdvd *d = arg;
	event_active(d->rt.status_ev, EV_TIMEOUT, 0);
}

/* ---- servers ----------------------------------------------------------- */

static void stop_servers(struct kd_rdvd *d)
{
	for (unsigned i = 0; i < d->rt.n_servers; i++)
		kd_rdv_server_destroy(d->rt.servers[i]);
	d->rt.n_servers = 0;
}

static void on_config_update(void *arg, int32_t serial, char **servers,
			     size_t n);

/* Takes the server named name out of old (NULL if none is there). */
static struct kd_rdv_server *take_server(struct kd_rdv_server **old,
					 unsigned n_old, const char *name)
{
	for (unsigned i = 0; i < n_old; i++) {
		if (old[i] && strcmp(kd_rdv_server_name(old[i]), name) == 0) {
			struct kd_rdv_server *s = old[i];
			old[i] = NULL;
			return s;
		}
	}
	return NULL;
}

/* Makes the running servers match list, in its order: a server still
 * listed keeps its registration (unless restart_all), one no longer
 * listed is torn down, a new one starts registering. Shared by the
 * configuration file (start, reload) and hbbs' ConfigUpdate. Never called
 * from inside a server's own event handler. */
static void apply_servers(struct kd_rdvd *d,
			  char list[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX],
			  unsigned n, bool restart_all)
{
	struct kd_rdv_server *old[KD_RDVD_SERVERS_MAX];
	unsigned n_old = d->rt.n_servers;

	memcpy(old, d->rt.servers, sizeof(old));
	d->rt.n_servers = 0;
	for (unsigned i = 0; i < n; i++) {
		struct kd_rdv_server *s =
			restart_all ? NULL : take_server(old, n_old, list[i]);
		if (!s) {
			if (kd_rdv_server_new(&d->ctx, list[i], &s) < 0)
				continue; /* logged; the others still work */
			kd_rdv_server_on_config_update(s, on_config_update, d);
			kd_rdv_server_start(s);
		}
		d->rt.servers[d->rt.n_servers++] = s;
	}
	for (unsigned i = 0; i < n_old; i++)
		kd_rdv_server_destroy(old[i]);
	on_changed(d);
}

static void on_reconfig(evutil_socket_t fd, short what, void *arg)
{
	struct kd_rdvd *d = arg;
	apply_servers(d, d->rt.pending, d->rt.n_pending, false);
}

static void on_config_update(void *arg, int32_t serial, char **servers,
			     size_t n)
{
	struct kd_rdvd *d = arg;
	char list[KD_RDVD_SERVERS_MAX][KD_RDV_HOST_MAX];
	unsigned cnt = 0;
	bool same;

	d->ctx.serial = (uint32_t)serial;
	for (size_t i = 0; i < n && cnt < KD_RDVD_SERVERS_MAX; i++)
		if (servers[i][0] &&
		    strlen(servers[i]) < KD_RDV_HOST_MAX)
			snprintf(list[cnt++], KD_RDV_HOST_MAX, "%s",
				 servers[i]);
	/* Like the real peer: a list only counts with a serial above 3. */
	if (cnt == 0 || serial <= SERIAL_MIN)
		return;
	same = cnt == d->rt.n_servers;
	for (unsigned i = 0; same && i < cnt; i++)
		same = strcmp(kd_rdv_server_name(d->rt.servers[i]),
			      list[i]) == 0;
	if (same)
		return;
	kd_notice("rendezvous server list replaced by the server's "
		  "configuration update (serial %d); first: %s", serial,
		  list[0]);
	memcpy(d->rt.pending, list, sizeof(list));
	d->rt.n_pending = cnt;
	event_active(d->rt.reconfig_ev, EV_TIMEOUT, 0);
}

/* What registering needs: the identity (never a new one), a resolver and
 * the hand-off to sessiond. Done once, when there is a server. */
static int network_up(struct kd_rdvd *d)
{
	int rc;

	if (d->rt.network_up)
		return 0;
	rc = kd_identity_load(d->cfg.general.state_dir, &d->ctx.ident);
	if (rc < 0) {
		kd_err("cannot load the device identity from %s (%s); "
		       "run \"kvmdeskctl init\" first",
		       d->cfg.general.state_dir, strerror(-rc));
		return rc;
	}
	/* A reload retries what failed before; nothing is made twice. */
	if (!d->ctx.dns)
		d->ctx.dns = evdns_base_new(d->ctx.base,
					    EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!d->ctx.dns)
		/* No resolv.conf: numeric servers still work. */
		d->ctx.dns = evdns_base_new(d->ctx.base, 0);
	if (!d->ctx.dns)
		return -ENOMEM;
	if (!d->ctx.handoff) {
		rc = kd_handoff_new(d->ctx.base, d->cfg.general.runtime_dir,
				    &d->ctx.handoff);
		if (rc < 0)
			return rc;
	}
	d->rt.network_up = true;
	return 0;
}

static void apply_keys(struct kd_rdvd *d, const struct kd_rdvd_config *c)
{
	snprintf(d->ctx.relay, sizeof(d->ctx.relay), "%s", c->relay);
	snprintf(d->ctx.licence_key, sizeof(d->ctx.licence_key), "%s",
		 c->relay_key[0] ? c->relay_key : c->key);
	d->ctx.reg_interval_ms = c->reg_interval_ms;
}

/* ---- reload ------------------------------------------------------------ */

static void join_servers(const struct kd_rdvd_config *c, char *out,
			 size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	if (c->n_servers == 0)
		snprintf(out, len, "none (direct IP only)");
	for (unsigned i = 0; i < c->n_servers && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s",
					 i ? ", " : "", c->servers[i]);
}

static bool same_servers(const struct kd_rdvd_config *a,
			 const struct kd_rdvd_config *b)
{
	if (a->n_servers != b->n_servers)
		return false;
	for (unsigned i = 0; i < a->n_servers; i++)
		if (strcmp(a->servers[i], b->servers[i]) != 0)
			return false;
	return true;
}

static void append(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *out, size_t len, const char *fmt, ...)
{
	size_t used = strlen(out);
	va_list ap;
	if (used + 2 >= len)
		return;
	if (used)
		used += (size_t)snprintf(out + used, len - used, "; ");
	va_start(ap, fmt);
	vsnprintf(out + used, len - used, fmt, ap);
	va_end(ap);
}

/* "set", "changed", "removed" for a secret-ish value never printed. */
static const char *how_changed(const char *old, const char *now)
{
	if (!*old)
		return "set";
	if (!*now)
		return "removed";
	return "changed";
}

/* One line saying what differs between a (in effect) and b (the file). */
static void describe_changes(const struct kd_rdvd_config *a,
			     const struct kd_rdvd_config *b, char *out,
			     size_t len)
{
	char x[600], y[600];

	out[0] = '\0';
	if (!same_servers(a, b)) {
		join_servers(a, x, sizeof(x));
		join_servers(b, y, sizeof(y));
		append(out, len, "servers %s -> %s", x, y);
	}
	if (strcmp(a->key, b->key) != 0)
		append(out, len, "key %s", how_changed(a->key, b->key));
	if (strcmp(a->relay, b->relay) != 0)
		append(out, len, "relay %s -> %s", *a->relay ? a->relay
							      : "default",
		       *b->relay ? b->relay : "default");
	if (strcmp(a->relay_key, b->relay_key) != 0)
		append(out, len, "relay_key %s",
		       how_changed(a->relay_key, b->relay_key));
	if (a->reg_interval_ms != b->reg_interval_ms)
		append(out, len, "register_interval %u s -> %u s",
		       a->reg_interval_ms / 1000, b->reg_interval_ms / 1000);
	if (a->general.log_level != b->general.log_level)
		append(out, len, "log_level changed");
	if (strcmp(a->general.state_dir, b->general.state_dir) != 0 ||
	    strcmp(a->general.runtime_dir, b->general.runtime_dir) != 0)
		append(out, len, "state_dir/runtime_dir changed: takes effect "
				 "when rendezvousd restarts");
}

int kd_rdvd_reload(struct kd_rdvd *d, char *message, size_t len)
{
	struct kd_config *file = NULL;
	struct kd_rdvd_config nc;
	char buf[1024], changes[900];
	const struct kd_log_fields failed = {
		.message_id = KD_MSGID_CONFIG_RELOAD_FAILED};
	const struct kd_log_fields done = {
		.message_id = KD_MSGID_CONFIG_RELOADED};
	int rc;

	if (!message || !len) {
		message = buf;
		len = sizeof(buf);
	}
	/* A missing default file would mean built-in defaults, i.e. no
	 * servers: on reload that is a mistake to refuse, not apply. */
	rc = access(d->cfg.config_path, R_OK) < 0 ? -errno : 0;
	if (rc < 0)
		kd_err("cannot read configuration %s: %s", d->cfg.config_path,
		       strerror(-rc));
	if (rc == 0)
		rc = kd_config_load(d->cfg.config_path, &file);
	if (rc == 0)
		rc = kd_rdvd_config_read(file, &nc);
	kd_config_free(file);
	if (rc == 0 && nc.n_servers)
		rc = network_up(d);
	if (rc < 0) {
		snprintf(message, len,
			 "%s not applied (%s); the rendezvous settings in "
			 "effect stay", d->cfg.config_path,
			 rc == -EINVAL ? "invalid, see the line before"
				       : strerror(-rc));
		kd_log_event(LOG_WARNING, &failed,
			     "configuration reload failed: %s", message);
		return rc;
	}
	nc.config_path = d->cfg.config_path;
	describe_changes(&d->cfg, &nc, changes, sizeof(changes));
	bool restart_all = nc.reg_interval_ms != d->cfg.reg_interval_ms;
	bool servers_changed = !same_servers(&d->cfg, &nc) || restart_all;
	/* Directories are bound at start: they keep their values. */
	snprintf(nc.general.state_dir, sizeof(nc.general.state_dir), "%s",
		 d->cfg.general.state_dir);
	snprintf(nc.general.runtime_dir, sizeof(nc.general.runtime_dir), "%s",
		 d->cfg.general.runtime_dir);
	kd_log_set_level(nc.general.log_level);
	apply_keys(d, &nc);
	d->cfg = nc;
	if (servers_changed) {
		/* The file wins over a ConfigUpdate list not applied yet. */
		event_del(d->rt.reconfig_ev);
		apply_servers(d, nc.servers, nc.n_servers, restart_all);
	}
	snprintf(message, len, "rendezvous settings reloaded from %s: %s",
		 d->cfg.config_path, changes[0] ? changes : "no change");
	kd_log_event(LOG_NOTICE, &done, "%s", message);
	return 0;
}

static int ctl_reload(void *arg, char *message, size_t len)
{
	return kd_rdvd_reload(arg, message, len);
}

static const struct kd_ctl_ops ctl_ops = {.status = fill_status,
					  .reload = ctl_reload};

/* ---- life cycle -------------------------------------------------------- */

int kd_rdvd_new(struct event_base *base, const struct kd_rdvd_config *cfg,
		struct kd_rdvd **out)
{
	struct kd_rdvd *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->ctx.base = base;
	d->ctx.serial = SERIAL_MIN;
	d->ctx.changed = on_changed;
	d->ctx.changed_arg = d;
	apply_keys(d, cfg);
	d->rt.status_ev = event_new(base, -1, 0, update_status, d);
	d->rt.reconfig_ev = event_new(base, -1, 0, on_reconfig, d);
	if (!d->rt.status_ev || !d->rt.reconfig_ev) {
		kd_rdvd_destroy(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

int kd_rdvd_start(struct kd_rdvd *d)
{
	int rc;

	if (d->cfg.n_servers) {
		rc = network_up(d);
		if (rc < 0)
			return rc;
	}

	kd_listen_fds_collect();
	rc = kd_ctl_server_start(d->ctx.base, d->cfg.general.runtime_dir,
				 "rendezvousd", &ctl_ops, d, &d->rt.ctl);
	kd_listen_fds_done();
	if (rc < 0) {
		kd_err("cannot open the control socket in %s: %s",
		       d->cfg.general.runtime_dir, strerror(-rc));
		return rc;
	}

	apply_servers(d, d->cfg.servers, d->cfg.n_servers, false);
	update_status(-1, 0, d);
	kd_log_event(LOG_INFO,
		     &(struct kd_log_fields){
			     .message_id = KD_MSGID_DAEMON_STARTED},
		     "rendezvousd started: %s", d->rt.status);
	kd_notify_ready(d->ctx.base, d->rt.status, &d->rt.notify);
	return 0;
}

void kd_rdvd_destroy(struct kd_rdvd *d)
{
	if (!d)
		return;
	stop_servers(d);
	kd_notify_stopping(d->rt.notify);
	kd_ctl_server_destroy(d->rt.ctl);
	kd_handoff_destroy(d->ctx.handoff);
	if (d->ctx.dns)
		evdns_base_free(d->ctx.dns, 0);
	if (d->rt.status_ev)
		event_free(d->rt.status_ev);
	if (d->rt.reconfig_ev)
		event_free(d->rt.reconfig_ev);
	free(d);
}
