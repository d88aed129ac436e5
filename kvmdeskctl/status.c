/* kvmdeskctl status: each daemon up or down (does it answer on its control
 * socket), the registration with hbbs (rendezvousd's "registration" detail),
 * and the open sessions (sessiond's list). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin_cmds.h"
#include "ctl_server.h"
#include "json.h"

const char *const kd_ctl_daemons[KD_CTL_N_DAEMONS] = {
	"rendezvousd", "sessiond", "mediad", "hidd",
};

int kd_ctl_query_status(const char *runtime_dir, const char *daemon,
			Kdipc__CtlReply **reply)
{
	char path[320];
	int r = kd_ctl_socket_path(runtime_dir, daemon, path, sizeof(path));
	if (r < 0)
		return r;
	return kd_ctl_call_status(path, KD_CTL_TIMEOUT_MS, reply);
}

const char *kd_ctl_error_text(int err)
{
	switch (err) {
	case -ENOENT:
	case -ECONNREFUSED:
		return "not running";
	case -EACCES:
	case -EPERM:
		return "permission denied (run as root or a member of group kvmdesk)";
	case -ETIMEDOUT:
		return "does not answer";
	case -EPROTO:
	case -ECONNRESET:
		return "answered something unexpected (version mismatch?)";
	default:
		return strerror(-err);
	}
}

void kd_ctl_format_time(int64_t unix_time, char *out, size_t len, bool iso)
{
	if (unix_time <= 0) {
		snprintf(out, len, "-");
		return;
	}
	time_t t = (time_t)unix_time;
	struct tm tm;
	if (iso)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	strftime(out, len, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S",
		 &tm);
}

static const char *detail(const Kdipc__StatusReply *s, const char *key)
{
	for (size_t i = 0; s && i < s->n_details; i++)
		if (strcmp(s->details[i]->key, key) == 0)
			return s->details[i]->value;
	return NULL;
}

/* rendezvousd reports each server as details "server.N.KEY". */
#define MAX_SERVERS 16

static const char *server_detail(const Kdipc__StatusReply *s, unsigned i,
				 const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "server.%u.%s", i, key);
	return detail(s, k);
}

/* ---- text -------------------------------------------------------------- */

/* Peer-controlled strings (names, ids) go to a terminal: control
 * characters and invalid UTF-8 become '?'. width counts bytes, which is
 * close enough for the ASCII columns it pads. */
static void print_clean(const char *str, int width)
{
	char buf[256];
	size_t n = 0;
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	while (*s && n + 5 < sizeof(buf)) {
		size_t len = kd_utf8_valid_len(s);
		if (len == 0 || *s < 0x20 || *s == 0x7f) {
			buf[n++] = '?';
			s++;
			continue;
		}
		memcpy(buf + n, s, len);
		n += len;
		s += len;
	}
	buf[n] = '\0';
	printf("%-*s", width, buf);
}

void kd_ctl_print_sessions_text(const Kdipc__StatusReply *sessiond)
{
	if (!sessiond) {
		printf("sessions: unknown (sessiond is not running)\n");
		return;
	}
	if (sessiond->n_sessions == 0) {
		printf("sessions: none\n");
		return;
	}
	printf("%-6s %-12s %-24s %-7s %-5s %-19s %-6s %s\n", "ID", "PEER ID",
	       "ADDRESS", "KIND", "LOGIN", "SINCE", "CODEC", "NAME");
	for (size_t i = 0; i < sessiond->n_sessions; i++) {
		const Kdipc__SessionInfo *s = sessiond->sessions[i];
		char since[32];
		kd_ctl_format_time(s->since_unix, since, sizeof(since), false);
		printf("%-6llu ", (unsigned long long)s->conn_id);
		print_clean(*s->peer_id ? s->peer_id : "-", 12);
		printf(" ");
		print_clean(s->peer_addr, 24);
		printf(" ");
		print_clean(s->how, 7);
		printf(" %-5s %-19s ", s->authorized ? "yes" : "no", since);
		print_clean(*s->codec ? s->codec : "-", 6);
		printf(" ");
		print_clean(s->peer_name, 0);
		printf("\n");
	}
}

void kd_ctl_print_registration_text(const Kdipc__StatusReply *rdv)
{
	printf("registration: ");
	if (!rdv) {
		printf("unknown (rendezvousd is not running)\n");
	} else {
		const char *reg = detail(rdv, "registration");
		const char *server = detail(rdv, "server");
		print_clean(reg ? reg : rdv->state, 0);
		if (server) {
			printf(" (server ");
			print_clean(server, 0);
			printf(")");
		}
		printf("\n");
		for (unsigned i = 0; i < MAX_SERVERS; i++) {
			const char *name = server_detail(rdv, i, "name");
			if (!name)
				break;
			const char *v;
			printf("  ");
			print_clean(name, 0);
			if ((v = server_detail(rdv, i, "address")) && *v) {
				printf(" (");
				print_clean(v, 0);
				printf(")");
			}
			v = server_detail(rdv, i, "registered");
			printf(": %s", v && strcmp(v, "yes") == 0
					       ? "registered"
					       : "not registered");
			if ((v = server_detail(rdv, i, "state")) && *v) {
				printf(", ");
				print_clean(v, 0);
			}
			if ((v = server_detail(rdv, i, "nat_type")) && *v) {
				printf(", NAT ");
				print_clean(v, 0);
			}
			printf("\n");
		}
	}
}

static void print_text(Kdipc__CtlReply *const replies[], const int errors[])
{
	for (int i = 0; i < KD_CTL_N_DAEMONS; i++) {
		printf("%-12s ", kd_ctl_daemons[i]);
		if (errors[i] < 0) {
			printf("down   %s\n", kd_ctl_error_text(errors[i]));
			continue;
		}
		const Kdipc__StatusReply *s = replies[i]->status;
		printf("up     pid %-7d ", (int)s->pid);
		print_clean(s->state, 0);
		printf("\n");
	}
	printf("\n");
	kd_ctl_print_registration_text(replies[0] ? replies[0]->status : NULL);
	printf("\n");
	kd_ctl_print_sessions_text(replies[1] ? replies[1]->status : NULL);
}

/* ---- JSON -------------------------------------------------------------- */

void kd_ctl_json_sessions(struct kd_json *j, const Kdipc__StatusReply *sessiond)
{
	if (!sessiond) {
		kd_json_null(j);
		return;
	}
	kd_json_begin_array(j);
	for (size_t i = 0; i < sessiond->n_sessions; i++) {
		const Kdipc__SessionInfo *s = sessiond->sessions[i];
		char since[32];
		kd_ctl_format_time(s->since_unix, since, sizeof(since), true);
		kd_json_begin_object(j);
		kd_json_key(j, "conn_id");
		kd_json_uint(j, s->conn_id);
		kd_json_key(j, "peer_id");
		kd_json_string(j, s->peer_id);
		kd_json_key(j, "peer_addr");
		kd_json_string(j, s->peer_addr);
		kd_json_key(j, "how");
		kd_json_string(j, s->how);
		kd_json_key(j, "authorized");
		kd_json_bool(j, s->authorized);
		kd_json_key(j, "since_unix");
		kd_json_int(j, s->since_unix);
		kd_json_key(j, "since");
		kd_json_string(j, s->since_unix > 0 ? since : NULL);
		kd_json_key(j, "codec");
		kd_json_string(j, s->codec);
		kd_json_key(j, "peer_name");
		kd_json_string(j, s->peer_name);
		kd_json_end_object(j);
	}
	kd_json_end_array(j);
}

static void json_details(struct kd_json *j, const Kdipc__StatusReply *s)
{
	kd_json_begin_object(j);
	for (size_t i = 0; i < s->n_details; i++) {
		kd_json_key(j, s->details[i]->key);
		kd_json_string(j, s->details[i]->value);
	}
	kd_json_end_object(j);
}

void kd_ctl_json_registration(struct kd_json *j,
			      const Kdipc__StatusReply *rdv)
{
	if (rdv) {
		const char *reg = detail(rdv, "registration");
		kd_json_begin_object(j);
		kd_json_key(j, "state");
		kd_json_string(j, reg ? reg : rdv->state);
		kd_json_key(j, "id");
		kd_json_string(j, detail(rdv, "id"));
		kd_json_key(j, "server");
		kd_json_string(j, detail(rdv, "server"));
		kd_json_key(j, "servers");
		kd_json_begin_array(j);
		for (unsigned i = 0; i < MAX_SERVERS; i++) {
			const char *name = server_detail(rdv, i, "name");
			if (!name)
				break;
			const char *registered =
				server_detail(rdv, i, "registered");
			kd_json_begin_object(j);
			kd_json_key(j, "name");
			kd_json_string(j, name);
			kd_json_key(j, "address");
			kd_json_string(j, server_detail(rdv, i, "address"));
			kd_json_key(j, "registered");
			kd_json_bool(j, registered &&
						 strcmp(registered, "yes") == 0);
			kd_json_key(j, "state");
			kd_json_string(j, server_detail(rdv, i, "state"));
			kd_json_key(j, "nat_type");
			kd_json_string(j, server_detail(rdv, i, "nat_type"));
			kd_json_end_object(j);
		}
		kd_json_end_array(j);
		kd_json_end_object(j);
	} else {
		kd_json_null(j);
	}
}

static int print_json(Kdipc__CtlReply *const replies[], const int errors[])
{
	struct kd_json j;
	kd_json_init(&j, stdout);
	kd_json_begin_object(&j);
	kd_json_key(&j, "daemons");
	kd_json_begin_array(&j);
	for (int i = 0; i < KD_CTL_N_DAEMONS; i++) {
		const Kdipc__StatusReply *s =
			errors[i] < 0 ? NULL : replies[i]->status;
		kd_json_begin_object(&j);
		kd_json_key(&j, "name");
		kd_json_string(&j, kd_ctl_daemons[i]);
		kd_json_key(&j, "up");
		kd_json_bool(&j, s != NULL);
		kd_json_key(&j, "pid");
		if (s)
			kd_json_int(&j, s->pid);
		else
			kd_json_null(&j);
		kd_json_key(&j, "state");
		kd_json_string(&j, s ? s->state : NULL);
		kd_json_key(&j, "details");
		if (s)
			json_details(&j, s);
		else
			kd_json_null(&j);
		kd_json_key(&j, "error");
		kd_json_string(&j, s ? NULL : kd_ctl_error_text(errors[i]));
		kd_json_end_object(&j);
	}
	kd_json_end_array(&j);

	kd_json_key(&j, "registration");
	kd_ctl_json_registration(&j, replies[0] ? replies[0]->status : NULL);
	kd_json_key(&j, "sessions");
	kd_ctl_json_sessions(&j, replies[1] ? replies[1]->status : NULL);
	kd_json_end_object(&j);
	return kd_json_finish(&j);
}

int kd_ctl_status(struct kd_ctl_context *ctx, int argc, char **argv)
{
	if (argc != 0) {
		fprintf(stderr, "kvmdeskctl: status takes no arguments\n");
		return 2;
	}
	Kdipc__CtlReply *replies[KD_CTL_N_DAEMONS] = { 0 };
	int errors[KD_CTL_N_DAEMONS];
	bool all_up = true;
	for (int i = 0; i < KD_CTL_N_DAEMONS; i++) {
		errors[i] = kd_ctl_query_status(ctx->general.runtime_dir,
						kd_ctl_daemons[i], &replies[i]);
		if (errors[i] < 0)
			all_up = false;
	}
	int r = 0;
	if (ctx->json)
		r = print_json(replies, errors);
	else
		print_text(replies, errors);
	for (int i = 0; i < KD_CTL_N_DAEMONS; i++)
		if (replies[i])
			protobuf_c_message_free_unpacked(&replies[i]->base, NULL);
	if (r < 0 || fflush(stdout) != 0)
		return 1;
	return all_up ? 0 : 1;
}
