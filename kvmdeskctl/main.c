/* kvmdeskctl: the administrator's tool. Wires sub-commands to the config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin_cmds.h"
#include "commands.h"
#include "log.h"

static const struct kd_ctl_command commands[] = {
	{ "init", "create the device id, uuid and keys if missing", kd_ctl_init },
	{ "id", "print the device id", kd_ctl_id },
	{ "pubkey", "print the Ed25519 public key (base64)", kd_ctl_pubkey },
	{ "password set", "read a new password from standard input", kd_ctl_password_set },
	{ "status", "daemons, registration, sessions", kd_ctl_status },
	{ "sessions", "list sessions; 'sessions close ID' closes one", kd_ctl_sessions },
	{ "config check", "check the configuration file", kd_ctl_config_check },
	{ "server", "rendezvous settings: 'server', 'server set ...', 'server clear'",
	  kd_ctl_server },
};

/* Matches "password set" against argv words; returns words consumed. */
static int match(const char *name, int argc, char **argv)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", name);
	int used = 0;
	for (char *save, *w = strtok_r(buf, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (used >= argc || strcmp(argv[used], w) != 0)
			return 0;
		used++;
	}
	return used;
}

static void usage(void)
{
	printf("Usage: kvmdeskctl [-c FILE] [--json] COMMAND\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-16s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
	struct kd_ctl_context ctx = { 0 };
	int next;
	/* --json may come before the command. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			ctx.json = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(char *));
			argc--;
			i--;
		}
	}
	int r = kd_cmdline_parse(argc, argv, "[--json] COMMAND", &ctx.config_path, &next);
	if (r != 0) {
		if (r > 0)
			usage();
		return r > 0 ? 0 : 2;
	}
	if (next >= argc) {
		usage();
		return 2;
	}
	kd_log_init("kvmdeskctl", LOG_WARNING);
	if (sodium_init() < 0)
		return 1;
	const struct kd_ctl_command *cmd = NULL;
	int used = 0;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && !cmd; i++) {
		used = match(commands[i].name, argc - next, argv + next);
		if (used)
			cmd = &commands[i];
	}
	if (!cmd) {
		fprintf(stderr, "kvmdeskctl: unknown command '%s'\n", argv[next]);
		usage();
		return 2;
	}
	/* config check reports a broken file itself, line by line; server
	 * set creates a missing one. */
	if (cmd->run != kd_ctl_config_check && cmd->run != kd_ctl_server &&
	    (kd_config_load(ctx.config_path, &ctx.config) < 0 ||
	     kd_general_config_read(ctx.config, &ctx.general) < 0)) {
		kd_config_free(ctx.config);
		return 1;
	}
	r = cmd->run(&ctx, argc - next - used, argv + next + used);
	kd_config_free(ctx.config);
	return r;
}
