/* Fuzz target: kvmdeskctl's JSON string escaping on arbitrary bytes (peer
 * names and ids come from the network). The output must be one string
 * literal: quotes at both ends, valid UTF-8, no raw control characters, no
 * unescaped quote or stray backslash inside. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_literal(const char *s, size_t len)
{
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		abort();
	const unsigned char *p = (const unsigned char *)s + 1;
	const unsigned char *end = (const unsigned char *)s + len - 1;
	while (p < end) {
		if (*p == '"' || *p < 0x20 || *p == 0x7f)
			abort();
		if (*p == '\\') {
			if (p + 1 >= end)
				abort();
			unsigned char e = p[1];
			if (e == 'u') {
				if (p + 6 > end)
					abort();
				for (int i = 2; i < 6; i++)
					if (!strchr("0123456789abcdef", p[i]))
						abort();
				p += 6;
			} else if (strchr("\"\\/bfnrt", e) && e) {
				p += 2;
			} else {
				abort();
			}
			continue;
		}
		size_t n = kd_utf8_valid_len(p);
		if (n == 0 || p + n > end)
			abort();
		p += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (out) {
		kd_json_write_string(out, in);
		fclose(out);
		check_literal(buf, len);
		free(buf);
	}
	free(in);
	return 0;
}
