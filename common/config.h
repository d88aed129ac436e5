/* kvmdesk.conf: INI sections, "key = value" lines, '#' or ';' comments.
 * Each daemon reads [general] and its own section (DESIGN.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define KD_CONFIG_MAX_SIZE (256 * 1024)

struct kd_config;

/* Loads path. -ENOENT if missing (except the default path, KD_DEFAULT_CONFIG:
 * without it every key has its default); -EINVAL on a syntax error, which is logged
 * with its line number. */
int kd_config_load(const char *path, struct kd_config **out);
/* Parses text (for tests and fuzzing); err gets a message on -EINVAL. */
int kd_config_parse(const char *text, size_t len, struct kd_config **out,
		    char *err, size_t err_len);
void kd_config_free(struct kd_config *cfg);

/* NULL when absent. Later duplicates win. */
const char *kd_config_get(const struct kd_config *cfg, const char *section,
			  const char *key);
const char *kd_config_get_or(const struct kd_config *cfg, const char *section,
			     const char *key, const char *def);
/* 0 and *out = def when absent; -EINVAL (logged) when not a number in
 * [min, max]. */
int kd_config_get_long(const struct kd_config *cfg, const char *section,
		       const char *key, long def, long min, long max,
		       long *out);
/* Accepts on/off, yes/no, true/false, 1/0. */
int kd_config_get_bool(const struct kd_config *cfg, const char *section,
		       const char *key, bool def, bool *out);

/* Calls fn for every "key = value" line in file order, with its line
 * number (kvmdeskctl config check reports unknown keys by line). */
void kd_config_foreach(const struct kd_config *cfg,
		       void (*fn)(void *data, const char *section,
				  const char *key, const char *value,
				  unsigned line),
		       void *data);

/* [general], shared by every program. */
struct kd_general_config {
	char state_dir[256];
	char runtime_dir[256];
	int log_level;
};

int kd_general_config_read(const struct kd_config *cfg,
			   struct kd_general_config *out);

/* Common command line: "-c FILE" / "--config FILE"; also -h, -V. Returns 0
 * and sets *config_path (default KD_DEFAULT_CONFIG); 1 when the program should
 * exit 0 (help/version printed); -EINVAL on a usage error (printed).
 * *next_arg is the index of the first non-option argument (next_arg may be
 * NULL for programs that take none). */
int kd_cmdline_parse(int argc, char **argv, const char *usage_extra,
		     const char **config_path, int *next_arg);
