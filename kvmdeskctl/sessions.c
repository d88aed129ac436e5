/* kvmdeskctl sessions [list] | sessions close ID: sessiond's open sessions,
 * and closing one through sessiond's control socket. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_cmds.h"
#include "ctl_server.h"

static int list(struct kd_ctl_context *ctx)
{
	Kdipc__CtlReply *reply = NULL;
	int r = kd_ctl_query_status(ctx->general.runtime_dir, "sessiond",
				    &reply);
	const Kdipc__StatusReply *s = r < 0 ? NULL : reply->status;
	if (ctx->json) {
		struct kd_json j;
		kd_json_init(&j, stdout);
		kd_json_begin_object(&j);
		kd_json_key(&j, "sessions");
		kd_ctl_json_sessions(&j, s);
		kd_json_key(&j, "error");
		kd_json_string(&j, s ? NULL : kd_ctl_error_text(r));
		kd_json_end_object(&j);
		if (kd_json_finish(&j) < 0 && r >= 0)
			r = -EIO;
	} else if (s) {
		kd_ctl_print_sessions_text(s);
	} else {
		fprintf(stderr, "kvmdeskctl: sessiond: %s\n",
			kd_ctl_error_text(r));
	}
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	return r < 0 ? 1 : 0;
}

static int parse_id(const char *text, uint64_t *id)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v == 0)
		return -EINVAL;
	*id = v;
	return 0;
}

static int close_one(struct kd_ctl_context *ctx, const char *id_text)
{
	uint64_t id;
	if (parse_id(id_text, &id) < 0) {
		fprintf(stderr, "kvmdeskctl: '%s' is not a session id (see "
				"kvmdeskctl status)\n", id_text);
		return 2;
	}
	char path[320];
	int answer = 0;
	int r = kd_ctl_socket_path(ctx->general.runtime_dir, "sessiond", path,
				   sizeof(path));
	if (r == 0)
		r = kd_ctl_call_close_session(path, id, KD_CTL_TIMEOUT_MS,
					      &answer);
	const char *error = NULL;
	char buf[160];
	if (r < 0) {
		snprintf(buf, sizeof(buf), "sessiond %s", kd_ctl_error_text(r));
		error = buf;
	} else if (answer == KD_CTL_NO_SESSION) {
		error = "no such session";
	} else if (answer < 0) {
		error = strerror(-answer);
	}
	if (ctx->json) {
		struct kd_json j;
		kd_json_init(&j, stdout);
		kd_json_begin_object(&j);
		kd_json_key(&j, "conn_id");
		kd_json_uint(&j, id);
		kd_json_key(&j, "closed");
		kd_json_bool(&j, error == NULL);
		kd_json_key(&j, "error");
		kd_json_string(&j, error);
		kd_json_end_object(&j);
		kd_json_finish(&j);
	} else if (error) {
		fprintf(stderr, "kvmdeskctl: session %" PRIu64 ": %s\n", id,
			error);
	} else {
		printf("closed session %" PRIu64 "\n", id);
	}
	return error ? 1 : 0;
}

int kd_ctl_sessions(struct kd_ctl_context *ctx, int argc, char **argv)
{
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "list") == 0))
		return list(ctx);
	if (argc == 2 && strcmp(argv[0], "close") == 0)
		return close_one(ctx, argv[1]);
	fprintf(stderr, "Usage: kvmdeskctl sessions [list]\n"
			"       kvmdeskctl sessions close ID\n");
	return 2;
}
