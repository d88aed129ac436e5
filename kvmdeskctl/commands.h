/* kvmdeskctl sub-commands. Each returns a process exit code. */
#pragma once
#include <stdbool.h>

#include "config.h"

struct kd_ctl_context {
	const char *config_path;
	struct kd_config *config;
	struct kd_general_config general;
	bool json;
};

struct kd_ctl_command {
	const char *name;    /* "password set" style names are matched word by word */
	const char *summary;
	int (*run)(struct kd_ctl_context *ctx, int argc, char **argv);
};

int kd_ctl_init(struct kd_ctl_context *ctx, int argc, char **argv);
int kd_ctl_id(struct kd_ctl_context *ctx, int argc, char **argv);
int kd_ctl_pubkey(struct kd_ctl_context *ctx, int argc, char **argv);
int kd_ctl_password_set(struct kd_ctl_context *ctx, int argc, char **argv);
