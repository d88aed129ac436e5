/* kvmdeskctl server: the [rendezvous] settings in kvmdesk.conf - show them
 * (with rendezvousd's live registration), change them (validated, written
 * atomically with only the changed lines touched) and have rendezvousd
 * reload them. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin_cmds.h"
#include "config_edit.h"
#include "ctl_server.h"
#include "json.h"
#include "netaddr.h"

#define HBBS_PORT 21116
#define HBBR_PORT 21117
/* rendezvousd's limits (KD_RDVD_SERVERS_MAX, KD_RDV_HOST_MAX,
 * KD_RDV_KEY_MAX). */
#define SERVERS_MAX 8
#define HOST_MAX 256
#define KEY_MAX 128
/* Like the README's install: the daemons run as their own users, and a
 * file made by root in a root-owned /etc/kvmdesk gets root's group. */
#define NEW_CONFIG_MODE 0644

/* ---- validation -------------------------------------------------------- */

static int bad(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int check_host_port(const char *what, const char *text,
			   uint16_t default_port, uint16_t min_port,
			   uint16_t max_port, char *err, size_t len)
{
	char host[HOST_MAX];
	uint16_t port;
	if (strlen(text) >= HOST_MAX)
		return bad(err, len, "%s '%s' is longer than %d characters",
			   what, text, HOST_MAX - 1);
	int r = kd_host_port_parse(text, host, sizeof(host), &port,
				   default_port);
	if (r == -ERANGE || (r == 0 && (port < min_port || port > max_port)))
		return bad(err, len, "%s '%s': the port must be a number from "
			   "%u to %u", what, text, (unsigned)min_port,
			   (unsigned)max_port);
	if (r < 0)
		return bad(err, len, "%s '%s' is not host[:port] (a DNS name, "
			   "an IPv4 address or [IPv6 address], then "
			   "optionally ':' and a port)", what, text);
	return 0;
}

int kd_ctl_server_check_servers(const char *list, char *out, size_t out_len,
				char *err, size_t err_len)
{
	char copy[SERVERS_MAX * HOST_MAX];
	unsigned n = 0;
	size_t used = 0;
	if (strlen(list) >= sizeof(copy))
		return bad(err, err_len, "the server list is too long");
	snprintf(copy, sizeof(copy), "%s", list);
	out[0] = '\0';
	for (char *save, *item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		item += strspn(item, " \t");
		char *end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*item)
			continue;
		if (++n > SERVERS_MAX)
			return bad(err, err_len, "at most %d servers",
				   SERVERS_MAX);
		/* hbbs answers the NAT test on its port - 1; its relay's
		 * default port is its port + 1. */
		int r = check_host_port("server", item, HBBS_PORT, 2, 65534,
					err, err_len);
		if (r < 0)
			return r;
		int w = snprintf(out + used, out_len - used, "%s%s",
				 used ? ", " : "", item);
		if (w < 0 || (size_t)w >= out_len - used)
			return bad(err, err_len, "the server list is too long");
		used += (size_t)w;
	}
	return 0;
}

int kd_ctl_server_check_key(const char *key, char *err, size_t len)
{
	unsigned char bin[64];
	size_t n = 0;
	if (sodium_base642bin(bin, sizeof(bin), key, strlen(key), NULL, &n,
			      NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != crypto_sign_PUBLICKEYBYTES)
		return bad(err, len, "the key must be the rendezvous server's "
			   "Ed25519 public key: base64 of 32 bytes, as hbbs "
			   "prints it and stores it in id_ed25519.pub");
	return 0;
}

int kd_ctl_server_write(const char *path, const struct kd_ctl_server_change *c,
			char *err, size_t err_len)
{
	char servers[SERVERS_MAX * (HOST_MAX + 2)];
	struct kd_config_change changes[4];
	size_t n = 0;
	int r;

	if (c->servers) {
		r = kd_ctl_server_check_servers(c->servers, servers,
						sizeof(servers), err, err_len);
		if (r < 0)
			return r;
		changes[n++] = (struct kd_config_change){ "servers", servers };
	}
	if (c->key && *c->key) {
		r = kd_ctl_server_check_key(c->key, err, err_len);
		if (r < 0)
			return r;
	}
	if (c->relay && *c->relay) {
		r = check_host_port("relay", c->relay, HBBR_PORT, 1, 65535, err,
				    err_len);
		if (r < 0)
			return r;
	}
	if (c->relay_key && strlen(c->relay_key) >= KEY_MAX)
		return bad(err, err_len, "the relay_key is longer than %d "
			   "characters", KEY_MAX - 1);
	/* "" removes the key: its default applies again. */
	if (c->key)
		changes[n++] = (struct kd_config_change){
			"key", *c->key ? c->key : NULL };
	if (c->relay)
		changes[n++] = (struct kd_config_change){
			"relay", *c->relay ? c->relay : NULL };
	if (c->relay_key)
		changes[n++] = (struct kd_config_change){
			"relay_key", *c->relay_key ? c->relay_key : NULL };
	if (n == 0)
		return bad(err, err_len, "nothing to change");
	return kd_config_edit_file(path, "rendezvous", changes, n,
				   NEW_CONFIG_MODE, err, err_len);
}

/* ---- show -------------------------------------------------------------- */

struct settings {
	char servers[SERVERS_MAX][HOST_MAX];
	unsigned n_servers;
	const char *key;        /* NULL when unset */
	const char *relay;      /* NULL when unset */
	char relay_default[HOST_MAX + 8];
	bool relay_key_set;
	bool direct_ip;
	const char *direct_ip_text;
};

static void read_settings(const struct kd_config *cfg, struct settings *s)
{
	char joined[SERVERS_MAX * (HOST_MAX + 2)], err[256];
	const char *list = kd_config_get(cfg, "rendezvous", "servers");
	memset(s, 0, sizeof(*s));
	/* Shown as the file says even when it is invalid; config check
	 * explains problems. */
	if (list && kd_ctl_server_check_servers(list, joined, sizeof(joined),
						err, sizeof(err)) < 0)
		snprintf(joined, sizeof(joined), "%s", list);
	else if (!list)
		joined[0] = '\0';
	char *save;
	for (char *item = strtok_r(joined, ",", &save);
	     item && s->n_servers < SERVERS_MAX;
	     item = strtok_r(NULL, ",", &save)) {
		item += strspn(item, " \t");
		if (*item)
			snprintf(s->servers[s->n_servers++], HOST_MAX, "%s",
				 item);
	}
	s->key = kd_config_get(cfg, "rendezvous", "key");
	if (s->key && !*s->key)
		s->key = NULL;
	s->relay = kd_config_get(cfg, "rendezvous", "relay");
	if (s->relay && !*s->relay)
		s->relay = NULL;
	const char *rk = kd_config_get(cfg, "rendezvous", "relay_key");
	s->relay_key_set = rk && *rk;
	/* rendezvousd's fallback: the first server's host, its port + 1
	 * (21117 for hbbs on 21116), unless hbbs names a relay. */
	char host[HOST_MAX];
	uint16_t port;
	if (s->n_servers &&
	    kd_host_port_parse(s->servers[0], host, sizeof(host), &port,
			       HBBS_PORT) == 0)
		snprintf(s->relay_default, sizeof(s->relay_default),
			 strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
			 (unsigned)port + 1);
	s->direct_ip = true;
	s->direct_ip_text = kd_config_get(cfg, "session", "direct_ip");
	if (kd_config_get_bool(cfg, "session", "direct_ip", true,
			       &s->direct_ip) < 0)
		s->direct_ip = false;
}

static void show_text(const char *path, const struct settings *s,
		      const Kdipc__StatusReply *rdv, int rdv_error)
{
	printf("configuration: %s\n", path);
	printf("servers:       ");
	for (unsigned i = 0; i < s->n_servers; i++)
		printf("%s%s", i ? ", " : "", s->servers[i]);
	printf("%s\n", s->n_servers ? "" : "none (direct IP only)");
	printf("key:           %s\n", s->key ? s->key : "not set");
	if (s->relay)
		printf("relay:         %s\n", s->relay);
	else if (s->relay_default[0])
		printf("relay:         default: the one hbbs names, else %s\n",
		       s->relay_default);
	else
		printf("relay:         not set\n");
	printf("relay_key:     %s\n", s->relay_key_set
					  ? "set (not shown)"
					  : "not set (the key is sent)");
	printf("direct_ip:     %s%s\n", s->direct_ip ? "on" : "off",
	       s->direct_ip_text ? "" : " (default)");
	printf("\n");
	if (rdv_error < 0 && rdv_error != -ENOENT && rdv_error != -ECONNREFUSED)
		printf("rendezvousd: %s\n", kd_ctl_error_text(rdv_error));
	kd_ctl_print_registration_text(rdv);
}

static int show_json(const char *path, const struct settings *s,
		     const Kdipc__StatusReply *rdv, int rdv_error)
{
	struct kd_json j;
	kd_json_init(&j, stdout);
	kd_json_begin_object(&j);
	kd_json_key(&j, "file");
	kd_json_string(&j, path);
	kd_json_key(&j, "servers");
	kd_json_begin_array(&j);
	for (unsigned i = 0; i < s->n_servers; i++)
		kd_json_string(&j, s->servers[i]);
	kd_json_end_array(&j);
	kd_json_key(&j, "key");
	kd_json_string(&j, s->key);
	kd_json_key(&j, "relay");
	kd_json_string(&j, s->relay);
	kd_json_key(&j, "relay_default");
	kd_json_string(&j, s->relay_default[0] ? s->relay_default : NULL);
	kd_json_key(&j, "relay_key_set");
	kd_json_bool(&j, s->relay_key_set);
	kd_json_key(&j, "direct_ip");
	kd_json_bool(&j, s->direct_ip);
	kd_json_key(&j, "rendezvousd");
	kd_json_begin_object(&j);
	kd_json_key(&j, "up");
	kd_json_bool(&j, rdv != NULL);
	kd_json_key(&j, "error");
	kd_json_string(&j, rdv ? NULL : kd_ctl_error_text(rdv_error));
	kd_json_key(&j, "registration");
	kd_ctl_json_registration(&j, rdv);
	kd_json_end_object(&j);
	kd_json_end_object(&j);
	return kd_json_finish(&j);
}

static int server_show(struct kd_ctl_context *ctx)
{
	struct kd_config *cfg = NULL;
	struct kd_general_config general;
	struct settings s;
	Kdipc__CtlReply *reply = NULL;

	if (kd_config_load(ctx->config_path, &cfg) < 0 ||
	    kd_general_config_read(cfg, &general) < 0) {
		kd_config_free(cfg);
		return 1;
	}
	read_settings(cfg, &s);
	int err = kd_ctl_query_status(general.runtime_dir, "rendezvousd",
				      &reply);
	const Kdipc__StatusReply *rdv = err == 0 ? reply->status : NULL;
	int r = 0;
	if (ctx->json)
		r = show_json(ctx->config_path, &s, rdv, err);
	else
		show_text(ctx->config_path, &s, rdv, err);
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	kd_config_free(cfg);
	return r < 0 || fflush(stdout) != 0 ? 1 : 0;
}

/* ---- set / clear ------------------------------------------------------- */

/* Asks rendezvousd to reload; the exit code. */
static int request_reload(struct kd_ctl_context *ctx)
{
	struct kd_config *cfg = NULL;
	struct kd_general_config general;
	char path[320], message[512] = "";
	int error = 0, r;

	if (kd_config_load(ctx->config_path, &cfg) < 0 ||
	    kd_general_config_read(cfg, &general) < 0) {
		kd_config_free(cfg);
		return 1;
	}
	kd_config_free(cfg);
	r = kd_ctl_socket_path(general.runtime_dir, "rendezvousd", path,
			       sizeof(path));
	if (r == 0)
		r = kd_ctl_call_reload(path, KD_CTL_TIMEOUT_MS, &error,
				       message, sizeof(message));
	bool absent = r == -ENOENT || r == -ECONNREFUSED;
	if (r == 0 && error < 0 && !message[0])
		snprintf(message, sizeof(message), "%s", strerror(-error));
	if (ctx->json) {
		struct kd_json j;
		kd_json_init(&j, stdout);
		kd_json_begin_object(&j);
		kd_json_key(&j, "file");
		kd_json_string(&j, ctx->config_path);
		kd_json_key(&j, "written");
		kd_json_bool(&j, true);
		kd_json_key(&j, "reloaded");
		kd_json_bool(&j, r == 0 && error == 0);
		kd_json_key(&j, "message");
		kd_json_string(&j, r == 0 ? message
				   : absent ? "rendezvousd is not running; the "
					      "change applies when it next "
					      "starts"
					    : kd_ctl_error_text(r));
		kd_json_end_object(&j);
		kd_json_finish(&j);
	} else if (r == 0 && error < 0) {
		fprintf(stderr, "kvmdeskctl: rendezvousd did not apply the "
			"change: %s\n", message);
	} else if (r == 0) {
		printf("rendezvousd: %s\n", message);
	} else if (absent) {
		printf("rendezvousd is not running; the change applies when "
		       "it next starts\n");
	} else {
		fprintf(stderr, "kvmdeskctl: cannot ask rendezvousd to reload "
			"(%s); the change applies after \"systemctl reload "
			"kvmdesk-rendezvousd\"\n", kd_ctl_error_text(r));
	}
	if (fflush(stdout) != 0)
		return 1;
	return (r == 0 && error == 0) || absent ? 0 : 1;
}

static int apply(struct kd_ctl_context *ctx,
		 const struct kd_ctl_server_change *c)
{
	char err[512] = "";
	if (kd_ctl_server_write(ctx->config_path, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmdeskctl: %s; %s not changed\n", err,
			ctx->config_path);
		return 1;
	}
	if (!ctx->json)
		printf("%s: [rendezvous] updated\n", ctx->config_path);
	return request_reload(ctx);
}

static int server_set(struct kd_ctl_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "servers", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "relay", required_argument, NULL, 'r' },
		{ "relay-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	struct kd_ctl_server_change c = { 0 };
	bool bad_option = false;
	int opt;

	/* argv[-1] is "set": getopt skips argv[0]. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, "", options, NULL)) !=
	       -1) {
		switch (opt) {
		case 's': c.servers = optarg; break;
		case 'k': c.key = optarg; break;
		case 'r': c.relay = optarg; break;
		case 'K': c.relay_key = optarg; break;
		default:
			fprintf(stderr, "kvmdeskctl: server set: unknown option "
				"or missing value\n");
			bad_option = true;
			break;
		}
	}
	if (bad_option || optind != argc + 1 ||
	    !(c.servers || c.key || c.relay || c.relay_key)) {
		fprintf(stderr, "usage: kvmdeskctl server set [--servers "
			"HOST[:PORT][,...]] [--key BASE64] [--relay "
			"HOST[:PORT]] [--relay-key KEY]\n");
		return 2;
	}
	return apply(ctx, &c);
}

int kd_ctl_server(struct kd_ctl_context *ctx, int argc, char **argv)
{
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "show") == 0))
		return server_show(ctx);
	if (strcmp(argv[0], "set") == 0)
		return server_set(ctx, argc - 1, argv + 1);
	if (argc == 1 && strcmp(argv[0], "clear") == 0) {
		/* Direct IP only: nothing of the old servers' stays. */
		const struct kd_ctl_server_change c = {
			.servers = "", .key = "", .relay = "", .relay_key = "",
		};
		return apply(ctx, &c);
	}
	fprintf(stderr, "kvmdeskctl: usage: server [show], server set "
		"OPTIONS, server clear\n");
	return 2;
}
