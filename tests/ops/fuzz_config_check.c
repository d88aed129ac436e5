/* Fuzz target: kvmdeskctl config check on arbitrary file contents, text and
 * JSON reports. The JSON report must stay valid UTF-8 without raw control
 * characters whatever the file holds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_cmds.h"
#include "json.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void assert_clean_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;
	while (p < end) {
		if (*p < 0x20 && *p != '\n')
			abort();
		size_t n = kd_utf8_valid_len(p);
		if (n == 0)
			abort();
		p += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet) {
		kd_log_init("fuzz_config_check", LOG_EMERG);
		quiet = 1;
	}
	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (int json = 0; json <= 1; json++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);
		if (!out)
			break;
		kd_config_check_text("fuzz.conf", text, size, json, out);
		fclose(out);
		if (json)
			assert_clean_utf8(buf, len);
		free(buf);
	}
	free(text);
	return 0;
}
