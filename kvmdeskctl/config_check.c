/* kvmdeskctl config check: parses the file with the daemons' own parser,
 * checks every known key's value and reports unknown sections and keys with
 * their line numbers.
 *
 * The table below is the list of every key kvmdesk knows. When a daemon
 * learns a new key, add it here and to man/kvmdesk.conf.5.in;
 * tests/ops/check_conf_keys.py checks that both agree. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <sodium.h>

#include "admin_cmds.h"
#include "atomic_file.h"
#include "config.h"
#include "keylayout.h"
#include "log.h"
#include "netaddr.h"

enum value_kind {
	V_PATH,          /* absolute path */
	V_CODECS,        /* vp8, vp9, av1, h264, h265 separated by , or space */
	V_LOG_LEVEL,
	V_HOST_PORT_LIST, /* host[:port], ... (may be empty) */
	V_HOST_PORT,     /* host[:port] (may be empty) */
	V_KEY32,         /* base64 of 32 bytes (may be empty) */
	V_ADDR,          /* numeric ip:port */
	V_NETWORKS,      /* address prefixes, e.g. 192.168.1.0/24 (may be empty) */
	V_BOOL,
	V_VIDEO_SOURCE,  /* testpattern or an absolute path */
	V_INT,
	V_CHOICE,        /* one of choices, '|' separated */
	V_LAYOUT,        /* a keyboard layout of common/keylayout.h */
	V_TEXT,          /* anything (may be empty) */
	V_NONEMPTY,
};

struct known_key {
	const char *section;
	const char *key;
	enum value_kind kind;
	long min, max;          /* V_INT; V_TEXT: max length when max > 0 */
	const char *choices;    /* V_CHOICE */
};

/* KEYS: one line per key, grouped by section (see kvmdesk.conf(5)). */
static const struct known_key known_keys[] = {
	{ "general", "state_dir", V_PATH, 0, 0, NULL },
	{ "general", "runtime_dir", V_PATH, 0, 0, NULL },
	{ "general", "log_level", V_LOG_LEVEL, 0, 0, NULL },
	{ "rendezvous", "servers", V_HOST_PORT_LIST, 0, 0, NULL },
	{ "rendezvous", "key", V_KEY32, 0, 0, NULL },
	{ "rendezvous", "relay", V_HOST_PORT, 0, 0, NULL },
	{ "rendezvous", "relay_key", V_TEXT, 0, 127, NULL }, /* KD_RDV_KEY_MAX */
	{ "rendezvous", "register_interval", V_INT, 1, 25, NULL },
	{ "session", "listen", V_ADDR, 0, 0, NULL },
	{ "session", "direct_ip", V_BOOL, 0, 0, NULL },
	{ "session", "direct_ip_allow", V_NETWORKS, 0, 0, NULL },
	{ "session", "login_timeout", V_INT, 5, 3600, NULL },
	{ "session", "max_connections", V_INT, 1, 1024, NULL },
	{ "session", "max_frame_size", V_INT, 64 * 1024, 64L << 20, NULL },
	{ "video", "source", V_VIDEO_SOURCE, 0, 0, NULL },
	{ "video", "width", V_INT, 16, 7680, NULL },
	{ "video", "height", V_INT, 16, 4320, NULL },
	{ "video", "fps", V_INT, 1, 120, NULL },
	{ "video", "codecs", V_CODECS, 0, 0, NULL },
	{ "audio", "source", V_NONEMPTY, 0, 0, NULL },
	{ "hid", "backend", V_CHOICE, 0, 0, "hidg|uinput|file" },
	{ "hid", "keyboard", V_PATH, 0, 0, NULL },
	{ "hid", "mouse", V_PATH, 0, 0, NULL },
	{ "hid", "file_dir", V_PATH, 0, 0, NULL },
	{ "hid", "relative_mouse", V_TEXT, 0, 0, NULL },
	{ "hid", "file_poll_us", V_INT, 0, 1000000, NULL },
	{ "hid", "type_clipboard", V_BOOL, 0, 0, NULL },
	{ "hid", "target_layout", V_LAYOUT, 0, 0, NULL },
};
#define N_KNOWN (sizeof(known_keys) / sizeof(known_keys[0]))

#define MAX_PROBLEMS 200
#define MAX_SEEN 512

struct problem {
	unsigned line; /* 0: the file as a whole */
	unsigned order;
	char section[64];
	char key[64];
	bool error;    /* false: warning */
	char message[192];
};

struct seen_key {
	const char *section;
	const char *key;
	unsigned line;
};

struct check {
	struct problem problems[MAX_PROBLEMS];
	size_t n_problems;
	size_t n_omitted;
	struct seen_key seen[MAX_SEEN];
	size_t n_seen;
	size_t n_keys;
};

static void add_problem(struct check *c, unsigned line, const char *section,
			const char *key, bool error, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void add_problem(struct check *c, unsigned line, const char *section,
			const char *key, bool error, const char *fmt, ...)
{
	if (c->n_problems >= MAX_PROBLEMS) {
		c->n_omitted++;
		return;
	}
	struct problem *p = &c->problems[c->n_problems];
	p->order = (unsigned)c->n_problems++;
	p->line = line;
	p->error = error;
	snprintf(p->section, sizeof(p->section), "%s", section ? section : "");
	snprintf(p->key, sizeof(p->key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < N_KNOWN; i++)
		if (strcmp(known_keys[i].section, section) == 0)
			return true;
	return false;
}

static const struct known_key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < N_KNOWN; i++)
		if (strcmp(known_keys[i].section, section) == 0 &&
		    strcmp(known_keys[i].key, key) == 0)
			return &known_keys[i];
	return NULL;
}

/* ---- value checks: NULL when fine, else what is wrong ------------------ */

static bool choice_ok(const char *choices, const char *value)
{
	size_t len = strlen(value);
	for (const char *p = choices; *p;) {
		size_t n = strcspn(p, "|");
		if (n == len && strncmp(p, value, n) == 0)
			return true;
		p += n + (p[n] == '|');
	}
	return false;
}

static bool host_port_ok(const char *text, uint16_t default_port)
{
	char host[256];
	uint16_t port;
	/* The same rule as kvmdeskctl server set. */
	return kd_host_port_parse(text, host, sizeof(host), &port,
				  default_port) == 0;
}

static const char *check_host_port_list(const char *value, char *buf,
					size_t len)
{
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", value);
	for (char *save, *item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*item))
			item++;
		char *end = item + strlen(item);
		while (end > item && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!host_port_ok(item, 21116)) {
			snprintf(buf, len,
				 "'%s' is not host[:port] (servers are "
				 "separated by commas)", item);
			return buf;
		}
	}
	return NULL;
}

static const char *check_codecs(const char *value, char *buf, size_t len)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", value);
	for (char *save, *c = strtok_r(copy, ", \t", &save); c;
	     c = strtok_r(NULL, ", \t", &save)) {
		if (!choice_ok("vp8|vp9|av1|h264|h265", c)) {
			snprintf(buf, len, "unknown codec '%s' (vp8, vp9, av1, "
					   "h264, h265)", c);
			return buf;
		}
	}
	return NULL;
}

static const char *check_value(const struct known_key *k, const char *v,
			       char *buf, size_t len)
{
	switch (k->kind) {
	case V_PATH:
		if (v[0] != '/' || strlen(v) >= 256)
			return "expected an absolute path";
		return NULL;
	case V_CODECS:
		return check_codecs(v, buf, len);
	case V_LOG_LEVEL:
		if (kd_log_level_parse(v) < 0)
			return "expected err, warning, notice, info or debug";
		return NULL;
	case V_HOST_PORT_LIST:
		return check_host_port_list(v, buf, len);
	case V_HOST_PORT:
		if (*v && !host_port_ok(v, 21117))
			return "expected host[:port]";
		return NULL;
	case V_KEY32: {
		if (!*v)
			return NULL;
		unsigned char key[64];
		size_t n = 0;
		if (sodium_base642bin(key, sizeof(key), v, strlen(v), NULL, &n,
				      NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    n != 32)
			return "expected the server's public key: base64 of "
			       "32 bytes (id_ed25519.pub)";
		return NULL;
	}
	case V_ADDR: {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (kd_sockaddr_parse(v, &ss, &sl) < 0)
			return "expected a numeric address:port, e.g. "
			       "0.0.0.0:21118 or [::]:21118";
		return NULL;
	}
	case V_NETWORKS: {
		struct kd_cidr nets[32];
		if (kd_cidr_list_parse(v, nets, 32) < 0)
			return "expected up to 32 networks such as "
			       "192.168.1.0/24 or fd00::/8";
		return NULL;
	}
	case V_BOOL:
		if (!choice_ok("on|off|yes|no|true|false|1|0", v) &&
		    !choice_ok("ON|OFF|YES|NO|TRUE|FALSE|On|Off|Yes|No|True|False",
			       v))
			return "expected on or off";
		return NULL;
	case V_VIDEO_SOURCE:
		if (strcmp(v, "testpattern") != 0 && v[0] != '/')
			return "expected a device path (/dev/video0) or "
			       "testpattern";
		return NULL;
	case V_INT: {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (!*v || errno || *end || n < k->min || n > k->max) {
			snprintf(buf, len, "expected a number from %ld to %ld",
				 k->min, k->max);
			return buf;
		}
		return NULL;
	}
	case V_CHOICE:
		if (!choice_ok(k->choices, v)) {
			snprintf(buf, len, "expected one of %s", k->choices);
			for (char *p = buf; *p; p++)
				if (*p == '|')
					*p = ',';
			return buf;
		}
		return NULL;
	case V_LAYOUT:
		if (!kd_keylayout_find(v)) {
			int n = snprintf(buf, len, "unknown layout (known:");
			for (size_t i = 0; kd_keylayout_at(i) && n > 0 &&
					   (size_t)n < len;
			     i++)
				n += snprintf(buf + n, len - (size_t)n, "%s %s",
					      i ? "," : "",
					      kd_keylayout_name(kd_keylayout_at(i)));
			if (n > 0 && (size_t)n < len)
				snprintf(buf + n, len - (size_t)n, ")");
			return buf;
		}
		return NULL;
	case V_NONEMPTY:
		return *v ? NULL : "must not be empty";
	case V_TEXT:
		if (k->max > 0 && strlen(v) > (size_t)k->max) {
			snprintf(buf, len, "longer than %ld characters", k->max);
			return buf;
		}
		return NULL;
	}
	return NULL;
}

/* ---- walking the file -------------------------------------------------- */

static void visit(void *data, const char *section, const char *key,
		  const char *value, unsigned line)
{
	struct check *c = data;
	c->n_keys++;
	if (!section_known(section))
		return; /* reported once, at its header */
	const struct known_key *k = find_key(section, key);
	if (!k) {
		add_problem(c, line, section, key, true, "unknown key");
		return;
	}
	for (size_t i = 0; i < c->n_seen; i++) {
		if (c->seen[i].section == k->section && c->seen[i].key == k->key) {
			add_problem(c, line, section, key, false,
				    "given again (line %u); this line wins",
				    c->seen[i].line);
			c->seen[i].line = line;
			goto check;
		}
	}
	if (c->n_seen < MAX_SEEN)
		c->seen[c->n_seen++] =
			(struct seen_key){ k->section, k->key, line };
check:;
	char buf[160];
	const char *why = check_value(k, value, buf, sizeof(buf));
	/* A long value is cut short so the reason still fits the message. */
	if (why)
		add_problem(c, line, section, key, true, "%s = %.60s%s: %s",
			    key, value, strlen(value) > 60 ? "..." : "", why);
}

/* Section headers are found in the text: an unknown section is reported
 * once, even when it holds no keys. The parser already accepted the
 * syntax, so a header is a trimmed line starting with '['. */
static void check_sections(struct check *c, const char *text)
{
	unsigned line = 0;
	for (const char *p = text; *p;) {
		line++;
		size_t n = strcspn(p, "\n");
		const char *s = p, *e = p + n;
		while (s < e && isspace((unsigned char)*s))
			s++;
		if (s < e && *s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			char name[64] = "";
			if (close) {
				const char *a = s + 1, *b = close;
				while (a < b && isspace((unsigned char)*a))
					a++;
				while (b > a && isspace((unsigned char)b[-1]))
					b--;
				snprintf(name, sizeof(name), "%.*s",
					 (int)(b - a), a);
			}
			if (!section_known(name))
				add_problem(c, line, name, NULL, true,
					    "unknown section [%s]", name);
		}
		p = e + (*e == '\n');
	}
}

static void check_combinations(struct check *c, const struct kd_config *cfg)
{
	const char *backend = kd_config_get(cfg, "hid", "backend");
	if (backend && strcmp(backend, "file") == 0 &&
	    !kd_config_get(cfg, "hid", "file_dir"))
		add_problem(c, 0, "hid", "file_dir", true,
			    "backend = file needs file_dir");
	const char *servers = kd_config_get(cfg, "rendezvous", "servers");
	const char *key = kd_config_get(cfg, "rendezvous", "key");
	if (servers && *servers && (!key || !*key))
		add_problem(c, 0, "rendezvous", "key", false,
			    "servers without key: clients cannot check this "
			    "device's identity against the server");
}

/* ---- output ------------------------------------------------------------ */

/* By line, the file-wide problems (line 0) last, else in finding order. */
static int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	unsigned lx = x->line ? x->line : ~0u, ly = y->line ? y->line : ~0u;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

static size_t count_errors(const struct check *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_problems; i++)
		n += c->problems[i].error;
	return n;
}

static void print_text(const struct check *c, const char *path, FILE *out)
{
	for (size_t i = 0; i < c->n_problems; i++) {
		const struct problem *p = &c->problems[i];
		if (p->line)
			fprintf(out, "%s:%u: ", path, p->line);
		else
			fprintf(out, "%s: ", path);
		fprintf(out, "%s: ", p->error ? "error" : "warning");
		if (p->key[0])
			fprintf(out, "[%s] ", p->section);
		if (p->key[0] && !strstr(p->message, " = "))
			fprintf(out, "%s: ", p->key);
		fprintf(out, "%s\n", p->message);
	}
	if (c->n_omitted)
		fprintf(out, "%s: %zu more problems not shown\n", path, c->n_omitted);
	size_t errors = count_errors(c);
	if (errors == 0)
		fprintf(out, "%s: ok (%zu keys)\n", path, c->n_keys);
	else
		fprintf(out, "%s: %zu error%s\n", path, errors, errors == 1 ? "" : "s");
}

static int print_json(const struct check *c, const char *path, FILE *out)
{
	struct kd_json j;
	kd_json_init(&j, out);
	kd_json_begin_object(&j);
	kd_json_key(&j, "file");
	kd_json_string(&j, path);
	kd_json_key(&j, "ok");
	kd_json_bool(&j, count_errors(c) == 0);
	kd_json_key(&j, "keys");
	kd_json_uint(&j, c->n_keys);
	kd_json_key(&j, "problems");
	kd_json_begin_array(&j);
	for (size_t i = 0; i < c->n_problems; i++) {
		const struct problem *p = &c->problems[i];
		kd_json_begin_object(&j);
		kd_json_key(&j, "line");
		if (p->line)
			kd_json_uint(&j, p->line);
		else
			kd_json_null(&j);
		kd_json_key(&j, "section");
		kd_json_string(&j, p->section[0] ? p->section : NULL);
		kd_json_key(&j, "key");
		kd_json_string(&j, p->key[0] ? p->key : NULL);
		kd_json_key(&j, "severity");
		kd_json_string(&j, p->error ? "error" : "warning");
		kd_json_key(&j, "message");
		kd_json_string(&j, p->message);
		kd_json_end_object(&j);
	}
	kd_json_end_array(&j);
	kd_json_key(&j, "omitted");
	kd_json_uint(&j, c->n_omitted);
	kd_json_end_object(&j);
	return kd_json_finish(&j);
}

/* Checks text (NUL-terminated, len bytes) and reports on out. */
static int report(struct check *c, const char *name, bool json, FILE *out)
{
	qsort(c->problems, c->n_problems, sizeof(c->problems[0]), problem_cmp);
	int r = 0;
	if (json)
		r = print_json(c, name, out);
	else
		print_text(c, name, out);
	if (fflush(out) != 0)
		r = -EIO;
	return (count_errors(c) == 0 && r == 0) ? 0 : 1;
}

int kd_config_check_text(const char *name, const char *text, size_t len,
			 bool json, FILE *out)
{
	struct check *c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	struct kd_config *cfg = NULL;
	char err[256] = "";
	int r = kd_config_parse(text, len, &cfg, err, sizeof(err));
	if (r < 0) {
		unsigned line = 0;
		const char *msg = err[0] ? err : strerror(-r);
		int used = 0;
		if (sscanf(err, "line %u: %n", &line, &used) == 1 && used > 0)
			msg = err + used;
		add_problem(c, line, NULL, NULL, true, "%s", msg);
	} else {
		check_sections(c, text);
		kd_config_foreach(cfg, visit, c);
		check_combinations(c, cfg);
	}
	int status = report(c, name, json, out);
	kd_config_free(cfg);
	free(c);
	return status;
}

int kd_ctl_config_check(struct kd_ctl_context *ctx, int argc, char **argv)
{
	if (argc != 0) {
		fprintf(stderr, "kvmdeskctl: config check takes no arguments "
				"(use -c FILE)\n");
		return 2;
	}
	const char *path = ctx->config_path;
	char *text = NULL;
	size_t len = 0;
	int r = kd_read_small_file(path, KD_CONFIG_MAX_SIZE, &text, &len);
	if (r < 0) {
		struct check *c = calloc(1, sizeof(*c));
		if (!c)
			return 1;
		add_problem(c, 0, NULL, NULL, true, "cannot read: %s",
			    r == -EFBIG ? "file too large" : strerror(-r));
		int status = report(c, path, ctx->json, stdout);
		free(c);
		return status;
	}
	int status = kd_config_check_text(path, text, len, ctx->json, stdout);
	free(text);
	return status;
}
