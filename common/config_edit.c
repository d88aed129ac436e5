/* Line-preserving edits of kvmdesk.conf (see config_edit.h). The file is
 * first parsed with the daemons' own parser, so the line classification
 * below only ever sees lines that parser accepts. */
#include "config_edit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "config.h"

#define CHANGES_MAX 16

enum line_kind { LINE_OTHER, LINE_SECTION, LINE_KEY };

/* One line of the file, positions relative to its start. */
struct line_info {
	enum line_kind kind;
	char name[64];     /* section or key */
	size_t len;        /* without '\n' */
	bool has_newline;
	size_t eq;         /* LINE_KEY: offset of '=' */
	size_t value;      /* LINE_KEY: first character after the blanks */
	size_t tail;       /* blanks before a comment, or the '\r', or len */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Same rule as the parser: '#' or ';' at the start or after a blank. */
static size_t comment_start(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((s[i] == '#' || s[i] == ';') &&
		    (i == 0 || isspace((unsigned char)s[i - 1])))
			return i;
	return len;
}

static void copy_name(char *dst, size_t cap, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void classify(const char *s, size_t len, bool has_newline,
		     struct line_info *li)
{
	memset(li, 0, sizeof(*li));
	li->len = len;
	li->has_newline = has_newline;
	size_t end = comment_start(s, len);
	size_t first = 0;
	while (first < end && isspace((unsigned char)s[first]))
		first++;
	if (first == end)
		return;
	if (s[first] == '[') {
		const char *close = memchr(s + first, ']', end - first);
		if (close) {
			li->kind = LINE_SECTION;
			copy_name(li->name, sizeof(li->name), s + first + 1,
				  (size_t)(close - s) - first - 1);
		}
		return;
	}
	const char *eq = memchr(s + first, '=', end - first);
	if (!eq)
		return;
	li->kind = LINE_KEY;
	li->eq = (size_t)(eq - s);
	copy_name(li->name, sizeof(li->name), s + first, li->eq - first);
	li->value = li->eq + 1;
	while (li->value < end && is_blank(s[li->value]))
		li->value++;
	/* What follows the value: the blanks before a comment, a '\r'. */
	li->tail = end;
	while (li->tail > li->value && is_blank(s[li->tail - 1]))
		li->tail--;
	if (end == len && li->tail < len && s[len - 1] == '\r') {
		/* No comment: keep only the '\r', drop trailing blanks. */
		li->tail = len - 1;
	} else if (end == len) {
		li->tail = len;
	}
}

static const struct kd_config_change *
find_change(const struct kd_config_change *ch, size_t n, const char *key,
	    size_t *index)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ch[i].key, key) == 0) {
			*index = i;
			return &ch[i];
		}
	return NULL;
}

static void write_key_line(FILE *f, const struct kd_config_change *c)
{
	fprintf(f, "%s =%s%s\n", c->key, *c->value ? " " : "", c->value);
}

static void rewrite_line(FILE *f, const char *s, const struct line_info *li,
			 const char *value)
{
	/* "  key =" as it was, the blanks after '=' as they were. */
	size_t sep = li->value - li->eq - 1;
	fwrite(s, 1, li->eq + 1, f);
	if (*value) {
		if (sep && li->value < li->tail)
			fwrite(s + li->eq + 1, 1, sep, f);
		else
			fputc(' ', f);
		fputs(value, f);
	}
	/* A comment needs a blank before it, else it joins the value. */
	if (li->tail < li->len && !is_blank(s[li->tail]))
		fputc(' ', f);
	fwrite(s + li->tail, 1, li->len - li->tail, f);
	if (li->has_newline)
		fputc('\n', f);
}

static int check_values(const struct kd_config_change *ch, size_t n,
			char *err, size_t err_len)
{
	if (n > CHANGES_MAX) {
		snprintf(err, err_len, "too many changes");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = ch[i].value;
		if (v && strpbrk(v, "\r\n")) {
			snprintf(err, err_len, "%s: a value cannot span lines",
				 ch[i].key);
			return -EINVAL;
		}
	}
	return 0;
}

/* The daemons must read back exactly what was meant. */
static int verify(const char *text, size_t len, const char *section,
		  const struct kd_config_change *ch, size_t n, char *err,
		  size_t err_len)
{
	struct kd_config *cfg = NULL;
	char perr[128] = "";
	int r = kd_config_parse(text, len, &cfg, perr, sizeof(perr));
	if (r < 0) {
		snprintf(err, err_len, "the edited file would not parse: %s",
			 perr);
		return r;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *got = kd_config_get(cfg, section, ch[i].key);
		bool ok = ch[i].value ? got && strcmp(got, ch[i].value) == 0
				      : got == NULL;
		if (!ok) {
			/* The value is not repeated: it may be secret. */
			snprintf(err, err_len,
				 "%s: the value cannot be written so that it "
				 "reads back the same (no leading or trailing "
				 "blanks, no '#' or ';' after a blank)",
				 ch[i].key);
			r = -EINVAL;
		}
	}
	kd_config_free(cfg);
	return r;
}

int kd_config_edit(const char *text, size_t len, const char *section,
		   const struct kd_config_change *changes, size_t n_changes,
		   char **out, size_t *out_len, char *err, size_t err_len)
{
	struct kd_config *cfg = NULL;
	char perr[128] = "";
	char *buf = NULL;
	size_t buf_len = 0;
	bool found[CHANGES_MAX] = { false };
	size_t insert_at = SIZE_MAX; /* end of the line to insert after */
	bool section_seen = false;
	int r = check_values(changes, n_changes, err, err_len);
	if (r < 0)
		return r;
	r = kd_config_parse(text, len, &cfg, perr, sizeof(perr));
	kd_config_free(cfg);
	if (r < 0) {
		snprintf(err, err_len, "%s", perr);
		return r;
	}

	/* Pass 1: which keys exist, where the section's last key line is. */
	bool in_section = false;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - text) - pos : len - pos;
		struct line_info li;
		classify(text + pos, line_len, nl != NULL, &li);
		size_t next = pos + line_len + (nl ? 1 : 0);
		if (li.kind == LINE_SECTION) {
			in_section = strcmp(li.name, section) == 0;
			if (in_section) {
				section_seen = true;
				insert_at = next;
			}
		} else if (li.kind == LINE_KEY && in_section) {
			size_t i;
			if (find_change(changes, n_changes, li.name, &i))
				found[i] = true;
			insert_at = next;
		}
		pos = next;
	}

	FILE *f = open_memstream(&buf, &buf_len);
	if (!f)
		return -ENOMEM;
	/* Pass 2: copy, rewriting or dropping the changed keys' lines. */
	in_section = false;
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos;
		struct line_info li;
		classify(line, line_len, nl != NULL, &li);
		size_t next = pos + line_len + (nl ? 1 : 0);
		const struct kd_config_change *c = NULL;
		size_t i;
		if (li.kind == LINE_SECTION)
			in_section = strcmp(li.name, section) == 0;
		else if (li.kind == LINE_KEY && in_section)
			c = find_change(changes, n_changes, li.name, &i);
		if (!c)
			fwrite(line, 1, next - pos, f);
		else if (c->value)
			rewrite_line(f, line, &li, c->value);
		if (next == insert_at) {
			if (!nl)
				fputc('\n', f);
			for (i = 0; i < n_changes; i++)
				if (!found[i] && changes[i].value)
					write_key_line(f, &changes[i]);
		}
		pos = next;
	}
	if (!section_seen) {
		bool any = false;
		for (size_t i = 0; i < n_changes; i++)
			any |= changes[i].value != NULL;
		if (any) {
			if (len && text[len - 1] != '\n')
				fputc('\n', f);
			if (len)
				fputc('\n', f);
			fprintf(f, "[%s]\n", section);
			for (size_t i = 0; i < n_changes; i++)
				if (changes[i].value)
					write_key_line(f, &changes[i]);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r = verify(buf, buf_len, section, changes, n_changes, err, err_len);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*out_len = buf_len;
	return 0;
}

/* The whole file, byte for byte (kd_read_small_file strips the last
 * newline), and its stat. */
static int read_exact(const char *path, char **text, size_t *len,
		      struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	char *buf = NULL;
	if (fstat(fd, st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		r = -EINVAL;
		goto out;
	}
	buf = malloc(KD_CONFIG_MAX_SIZE + 2);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	size_t used = 0;
	for (;;) {
		ssize_t n = read(fd, buf + used, KD_CONFIG_MAX_SIZE + 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > KD_CONFIG_MAX_SIZE) {
			r = -EFBIG;
			goto out;
		}
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

int kd_config_edit_file(const char *path, const char *section,
			const struct kd_config_change *changes,
			size_t n_changes, mode_t new_mode, char *err,
			size_t err_len)
{
	char real[PATH_MAX];
	char *text = NULL, *edited = NULL;
	size_t len = 0, edited_len = 0;
	struct stat st;
	bool exists = true;

	/* Replace a symlink's target, not the link. */
	if (!realpath(path, real)) {
		if (errno != ENOENT) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			return -errno;
		}
		snprintf(real, sizeof(real), "%s", path);
	}
	int r = read_exact(real, &text, &len, &st);
	if (r == -ENOENT) {
		exists = false;
		r = 0;
	}
	if (r < 0) {
		snprintf(err, err_len, "cannot read %s: %s", path,
			 r == -EINVAL ? "not a regular file" : strerror(-r));
		goto out;
	}
	r = kd_config_edit(text ? text : "", len, section, changes, n_changes,
			   &edited, &edited_len, err, err_len);
	if (r < 0)
		goto out;
	if (exists && edited_len == len && memcmp(edited, text, len) == 0)
		goto out;
	if (exists)
		r = kd_atomic_replace(real, edited, edited_len, &st);
	else
		r = kd_atomic_write(real, edited, edited_len, new_mode);
	if (r < 0)
		snprintf(err, err_len, "cannot write %s: %s", path,
			 strerror(-r));
out:
	free(text);
	free(edited);
	return r;
}
