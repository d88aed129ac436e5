#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "atomic_file.h"
#include "kd_build_config.h"
#include "log.h"

#define NAME_MAX_LEN 64
#define VALUE_MAX_LEN 1024
#define ENTRIES_MAX 512

struct config_entry {
	char section[NAME_MAX_LEN];
	char key[NAME_MAX_LEN];
	char *value;
	unsigned line;
};

struct kd_config {
	struct config_entry *entries;
	size_t count;
};

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* A '#' or ';' starts a comment at the line start or after white space, so
 * values such as base64 keys ending in "=" or paths keep their characters. */
static void strip_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == '#' || *p == ';') &&
		    (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return false;
	return true;
}

int kd_config_parse(const char *text, size_t len, struct kd_config **out,
		    char *err, size_t err_len)
{
	if (len > KD_CONFIG_MAX_SIZE) {
		snprintf(err, err_len, "file larger than %d bytes",
			 KD_CONFIG_MAX_SIZE);
		return -EINVAL;
	}
	struct kd_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	char section[NAME_MAX_LEN] = "";
	unsigned line_no = 0;
	size_t pos = 0;
	int r = 0;
	char line[VALUE_MAX_LEN + NAME_MAX_LEN + 8];

	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		line_no++;
		size_t line_len = end - pos;
		if (line_len >= sizeof(line)) {
			snprintf(err, err_len, "line %u: too long", line_no);
			r = -EINVAL;
			goto fail;
		}
		memcpy(line, text + pos, line_len);
		line[line_len] = '\0';
		pos = end + 1;
		if (memchr(line, '\0', line_len)) {
			snprintf(err, err_len, "line %u: NUL byte", line_no);
			r = -EINVAL;
			goto fail;
		}
		strip_comment(line);
		char *s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] != '\0') {
				snprintf(err, err_len,
					 "line %u: malformed section header",
					 line_no);
				r = -EINVAL;
				goto fail;
			}
			*close = '\0';
			char *name = trim(s + 1);
			if (!valid_name(name)) {
				snprintf(err, err_len,
					 "line %u: bad section name", line_no);
				r = -EINVAL;
				goto fail;
			}
			snprintf(section, sizeof(section), "%s", name);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, err_len, "line %u: expected key = value",
				 line_no);
			r = -EINVAL;
			goto fail;
		}
		*eq = '\0';
		char *key = trim(s);
		char *value = trim(eq + 1);
		if (!valid_name(key) || !*section) {
			snprintf(err, err_len, "line %u: %s", line_no,
				 *section ? "bad key name"
					  : "key outside a [section]");
			r = -EINVAL;
			goto fail;
		}
		if (cfg->count >= ENTRIES_MAX) {
			snprintf(err, err_len, "line %u: too many keys", line_no);
			r = -EINVAL;
			goto fail;
		}
		if (cfg->count % 16 == 0) {
			struct config_entry *n = realloc(
				cfg->entries, (cfg->count + 16) * sizeof(*n));
			if (!n) {
				r = -ENOMEM;
				goto fail;
			}
			cfg->entries = n;
		}
		struct config_entry *e = &cfg->entries[cfg->count];
		snprintf(e->section, sizeof(e->section), "%s", section);
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->value = strdup(value);
		e->line = line_no;
		if (!e->value) {
			r = -ENOMEM;
			goto fail;
		}
		cfg->count++;
	}
	*out = cfg;
	return 0;
fail:
	kd_config_free(cfg);
	return r;
}

int kd_config_load(const char *path, struct kd_config **out)
{
	char *text = NULL;
	size_t len = 0;
	int r = kd_read_small_file(path, KD_CONFIG_MAX_SIZE, &text, &len);
	if (r == -ENOENT && strcmp(path, KD_DEFAULT_CONFIG) == 0) {
		/* A box set up with defaults needs no file; a file named on
		 * the command line must exist. */
		kd_notice("no %s; using built-in defaults", path);
		return kd_config_parse("", 0, out, NULL, 0);
	}
	if (r < 0) {
		kd_err("cannot read configuration %s: %s", path, strerror(-r));
		return r;
	}
	char err[256] = "";
	r = kd_config_parse(text, len, out, err, sizeof(err));
	free(text);
	if (r == -EINVAL)
		kd_err("configuration %s: %s", path, err);
	return r;
}

void kd_config_free(struct kd_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->count; i++)
		free(cfg->entries[i].value);
	free(cfg->entries);
	free(cfg);
}

const char *kd_config_get(const struct kd_config *cfg, const char *section,
			  const char *key)
{
	if (!cfg)
		return NULL;
	for (size_t i = cfg->count; i-- > 0;) {
		const struct config_entry *e = &cfg->entries[i];
		if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0)
			return e->value;
	}
	return NULL;
}

void kd_config_foreach(const struct kd_config *cfg,
		       void (*fn)(void *data, const char *section,
				  const char *key, const char *value,
				  unsigned line),
		       void *data)
{
	for (size_t i = 0; cfg && i < cfg->count; i++) {
		const struct config_entry *e = &cfg->entries[i];
		fn(data, e->section, e->key, e->value, e->line);
	}
}

const char *kd_config_get_or(const struct kd_config *cfg, const char *section,
			     const char *key, const char *def)
{
	const char *v = kd_config_get(cfg, section, key);
	return v ? v : def;
}

int kd_config_get_long(const struct kd_config *cfg, const char *section,
		       const char *key, long def, long min, long max,
		       long *out)
{
	const char *v = kd_config_get(cfg, section, key);
	if (!v || !*v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		kd_err("[%s] %s = %s: expected a number from %ld to %ld",
		       section, key, v, min, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int kd_config_get_bool(const struct kd_config *cfg, const char *section,
		       const char *key, bool def, bool *out)
{
	const char *v = kd_config_get(cfg, section, key);
	if (!v || !*v) {
		*out = def;
		return 0;
	}
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	kd_err("[%s] %s = %s: expected on or off", section, key, v);
	return -EINVAL;
}

static int copy_path(char *dst, size_t cap, const char *value,
		     const char *key)
{
	if (!*value || value[0] != '/' || strlen(value) >= cap) {
		kd_err("[general] %s = %s: expected an absolute path", key,
		       value);
		return -EINVAL;
	}
	snprintf(dst, cap, "%s", value);
	return 0;
}

int kd_general_config_read(const struct kd_config *cfg,
			   struct kd_general_config *out)
{
	int r = copy_path(out->state_dir, sizeof(out->state_dir),
			  kd_config_get_or(cfg, "general", "state_dir",
					   "/var/lib/kvmdesk"),
			  "state_dir");
	if (r < 0)
		return r;
	r = copy_path(out->runtime_dir, sizeof(out->runtime_dir),
		      kd_config_get_or(cfg, "general", "runtime_dir",
				       "/run/kvmdesk"),
		      "runtime_dir");
	if (r < 0)
		return r;
	const char *level = kd_config_get_or(cfg, "general", "log_level", "info");
	int lvl = kd_log_level_parse(level);
	if (lvl < 0) {
		kd_err("[general] log_level = %s: expected err, warning, "
		       "notice, info or debug", level);
		return -EINVAL;
	}
	out->log_level = lvl;
	return 0;
}

int kd_cmdline_parse(int argc, char **argv, const char *usage_extra,
		     const char **config_path, int *next_arg)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = argc > 0 ? argv[0] : "kvmdesk";
	*config_path = KD_DEFAULT_CONFIG;
	optind = 0; /* glibc: full re-initialisation */
	int c;
	while ((c = getopt_long(argc, argv, "+c:hV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config_path = optarg;
			break;
		case 'h':
			printf("Usage: %s [-c FILE]%s%s\n"
			       "  -c, --config FILE  configuration (default %s)\n"
			       "  -h, --help         this text\n"
			       "  -V, --version      print the version\n",
			       prog, usage_extra ? " " : "",
			       usage_extra ? usage_extra : "",
			       KD_DEFAULT_CONFIG);
			return 1;
		case 'V':
			printf("%s %s\n", prog, KD_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return -EINVAL;
		}
	}
	if (next_arg)
		*next_arg = optind;
	return 0;
}
