#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void kd_json_init(struct kd_json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->first[0] = true;
}

/* Separator before a value (or a key) at the current level. */
static void before_value(struct kd_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->out);
	j->first[j->depth] = false;
}

static void open_level(struct kd_json *j, char c)
{
	before_value(j);
	fputc(c, j->out);
	if (j->depth + 1 >= KD_JSON_MAX_DEPTH) {
		j->overflow = true;
		return;
	}
	j->depth++;
	j->first[j->depth] = true;
}

static void close_level(struct kd_json *j, char c)
{
	fputc(c, j->out);
	if (j->depth > 0)
		j->depth--;
	else
		j->overflow = true;
}

void kd_json_begin_object(struct kd_json *j) { open_level(j, '{'); }
void kd_json_end_object(struct kd_json *j) { close_level(j, '}'); }
void kd_json_begin_array(struct kd_json *j) { open_level(j, '['); }
void kd_json_end_array(struct kd_json *j) { close_level(j, ']'); }

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
size_t kd_utf8_valid_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	uint32_t cp, min;
	if ((c & 0xe0) == 0xc0) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void kd_json_write_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', out);
	while (*s) {
		unsigned char c = *s;
		switch (c) {
		case '"': fputs("\\\"", out); s++; continue;
		case '\\': fputs("\\\\", out); s++; continue;
		case '\b': fputs("\\b", out); s++; continue;
		case '\f': fputs("\\f", out); s++; continue;
		case '\n': fputs("\\n", out); s++; continue;
		case '\r': fputs("\\r", out); s++; continue;
		case '\t': fputs("\\t", out); s++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			s++;
			continue;
		}
		size_t len = kd_utf8_valid_len(s);
		if (len == 0) {
			fputs("\\ufffd", out);
			s++;
			continue;
		}
		fwrite(s, 1, len, out);
		s += len;
	}
	fputc('"', out);
}

void kd_json_key(struct kd_json *j, const char *key)
{
	before_value(j);
	kd_json_write_string(j->out, key);
	fputc(':', j->out);
	j->after_key = true;
}

void kd_json_string(struct kd_json *j, const char *s)
{
	if (!s) {
		kd_json_null(j);
		return;
	}
	before_value(j);
	kd_json_write_string(j->out, s);
}

void kd_json_int(struct kd_json *j, int64_t v)
{
	before_value(j);
	fprintf(j->out, "%" PRId64, v);
}

void kd_json_uint(struct kd_json *j, uint64_t v)
{
	before_value(j);
	fprintf(j->out, "%" PRIu64, v);
}

void kd_json_bool(struct kd_json *j, bool v)
{
	before_value(j);
	fputs(v ? "true" : "false", j->out);
}

void kd_json_null(struct kd_json *j)
{
	before_value(j);
	fputs("null", j->out);
}

int kd_json_finish(struct kd_json *j)
{
	fputc('\n', j->out);
	if (j->overflow || j->depth != 0 || j->after_key)
		return -EINVAL;
	if (fflush(j->out) != 0 || ferror(j->out))
		return -EIO;
	return 0;
}
