#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "commands.h"
#include "identity.h"
#include "password.h"

#define PASSWORD_MAX 128

int kd_ctl_init(struct kd_ctl_context *ctx, int argc, char **argv)
{
	bool created;
	int r = kd_identity_init(ctx->general.state_dir, &created);
	if (r < 0) {
		fprintf(stderr, "kvmdeskctl: cannot create the identity in %s: %s\n",
			ctx->general.state_dir, strerror(-r));
		return 1;
	}
	/* Creates the stable password salt too (no password yet). */
	struct kd_password_verifier v;
	r = kd_password_load(ctx->general.state_dir, &v);
	sodium_memzero(&v, sizeof(v));
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "kvmdeskctl: cannot read the password verifier: %s\n",
			strerror(-r));
		return 1;
	}
	struct kd_identity id;
	r = kd_identity_load(ctx->general.state_dir, &id);
	if (r < 0) {
		fprintf(stderr, "kvmdeskctl: identity unreadable: %s\n", strerror(-r));
		return 1;
	}
	if (created)
		printf("created identity %s in %s\n", id.id, ctx->general.state_dir);
	else
		printf("identity %s already exists in %s; unchanged\n", id.id,
		       ctx->general.state_dir);
	return 0;
}

static int load_identity(struct kd_ctl_context *ctx, struct kd_identity *id)
{
	int r = kd_identity_load(ctx->general.state_dir, id);
	if (r < 0) {
		fprintf(stderr, "kvmdeskctl: no identity in %s (%s); run 'kvmdeskctl init'\n",
			ctx->general.state_dir, strerror(-r));
		return -1;
	}
	return 0;
}

int kd_ctl_id(struct kd_ctl_context *ctx, int argc, char **argv)
{
	struct kd_identity id;
	if (load_identity(ctx, &id) < 0)
		return 1;
	if (ctx->json)
		printf("{\"id\":\"%s\"}\n", id.id);
	else
		printf("%s\n", id.id);
	return 0;
}

int kd_ctl_pubkey(struct kd_ctl_context *ctx, int argc, char **argv)
{
	struct kd_identity id;
	if (load_identity(ctx, &id) < 0)
		return 1;
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof(b64), id.public_key, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	if (ctx->json)
		printf("{\"pubkey\":\"%s\"}\n", b64);
	else
		printf("%s\n", b64);
	return 0;
}

/* One line from stdin; with a terminal, asks twice without echo. */
static int read_password(char *out, size_t cap)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios saved, quiet;
	if (tty) {
		tcgetattr(STDIN_FILENO, &saved);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "New password: ");
	}
	int r = 0;
	if (!fgets(out, (int)cap, stdin))
		r = ferror(stdin) ? -EIO : -ENODATA;
	if (tty) {
		char again[PASSWORD_MAX + 2];
		fprintf(stderr, "\nRepeat: ");
		if (r == 0 && (!fgets(again, sizeof(again), stdin) ||
			       strcmp(again, out) != 0))
			r = -EINVAL;
		sodium_memzero(again, sizeof(again));
		fprintf(stderr, "\n");
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	}
	if (r < 0)
		return r;
	size_t len = strlen(out);
	if (len == cap - 1 && out[len - 1] != '\n')
		return -E2BIG;
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return len == 0 ? -ENODATA : 0;
}

int kd_ctl_password_set(struct kd_ctl_context *ctx, int argc, char **argv)
{
	char password[PASSWORD_MAX + 2];
	int r = read_password(password, sizeof(password));
	if (r < 0) {
		const char *why = r == -E2BIG ? "longer than 128 bytes"
				  : r == -ENODATA ? "empty"
				  : r == -EINVAL ? "the two entries differ"
						  : "could not be read";
		fprintf(stderr, "kvmdeskctl: password not changed: %s\n", why);
		sodium_memzero(password, sizeof(password));
		return 1;
	}
	r = kd_password_set(ctx->general.state_dir, password, strlen(password));
	sodium_memzero(password, sizeof(password));
	if (r < 0) {
		fprintf(stderr, "kvmdeskctl: cannot store the password verifier in %s: %s\n",
			ctx->general.state_dir, strerror(-r));
		return 1;
	}
	printf("password set; clients that remembered the old one must log in again\n");
	return 0;
}
