/* A small streaming JSON writer for kvmdeskctl --json (RFC 8259). Strings
 * are escaped and invalid UTF-8 is replaced by U+FFFD, so the output always
 * parses whatever a peer put in its name. Commas and nesting are tracked:
 *
 *     struct kd_json j;
 *     kd_json_init(&j, stdout);
 *     kd_json_begin_object(&j);
 *     kd_json_key(&j, "id");  kd_json_string(&j, "123456789");
 *     kd_json_key(&j, "up");  kd_json_bool(&j, true);
 *     kd_json_end_object(&j);
 *     kd_json_finish(&j);     // newline; -EIO if a write failed
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KD_JSON_MAX_DEPTH 32

struct kd_json {
	FILE *out;
	int depth;
	bool first[KD_JSON_MAX_DEPTH]; /* nothing written yet at this level */
	bool after_key;
	bool overflow; /* nesting deeper than KD_JSON_MAX_DEPTH: a bug */
};

void kd_json_init(struct kd_json *j, FILE *out);
void kd_json_begin_object(struct kd_json *j);
void kd_json_end_object(struct kd_json *j);
void kd_json_begin_array(struct kd_json *j);
void kd_json_end_array(struct kd_json *j);
void kd_json_key(struct kd_json *j, const char *key);
void kd_json_string(struct kd_json *j, const char *s); /* NULL -> null */
void kd_json_int(struct kd_json *j, int64_t v);
void kd_json_uint(struct kd_json *j, uint64_t v);
void kd_json_bool(struct kd_json *j, bool v);
void kd_json_null(struct kd_json *j);
/* Ends the document with a newline. 0, or -EIO if writing failed, -EINVAL
 * if objects/arrays were left open or nested too deep. */
int kd_json_finish(struct kd_json *j);

/* Length of the valid UTF-8 sequence at s (1-4), 0 when invalid (overlong,
 * surrogate, > U+10FFFF, truncated). */
size_t kd_utf8_valid_len(const unsigned char *s);

/* Escapes s as a JSON string literal with quotes into out (for tests). */
void kd_json_write_string(FILE *out, const char *s);
