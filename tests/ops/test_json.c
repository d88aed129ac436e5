/* kvmdeskctl's JSON writer: commas and nesting, escaping per RFC 8259,
 * invalid UTF-8 from peers replaced so the output always parses. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static char *buf;
static size_t len;
static FILE *out;

static void setup(void)
{
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
}

static void teardown(void)
{
	if (out)
		fclose(out);
	free(buf);
	buf = NULL;
}

static const char *escaped(const char *s)
{
	kd_json_write_string(out, s);
	fflush(out);
	return buf;
}

START_TEST(document_structure)
{
	struct kd_json j;
	kd_json_init(&j, out);
	kd_json_begin_object(&j);
	kd_json_key(&j, "a");
	kd_json_int(&j, -5);
	kd_json_key(&j, "b");
	kd_json_begin_array(&j);
	kd_json_uint(&j, 18446744073709551615ull);
	kd_json_bool(&j, true);
	kd_json_null(&j);
	kd_json_string(&j, NULL);
	kd_json_begin_object(&j);
	kd_json_end_object(&j);
	kd_json_begin_array(&j);
	kd_json_end_array(&j);
	kd_json_end_array(&j);
	kd_json_key(&j, "c");
	kd_json_string(&j, "x");
	kd_json_end_object(&j);
	ck_assert_int_eq(kd_json_finish(&j), 0);
	ck_assert_str_eq(buf, "{\"a\":-5,\"b\":[18446744073709551615,true,"
			      "null,null,{},[]],\"c\":\"x\"}\n");
}
END_TEST

START_TEST(escapes)
{
	ck_assert_str_eq(escaped("q\"b\\s/\b\f\n\r\t"),
			 "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\"");
}
END_TEST

START_TEST(control_characters)
{
	ck_assert_str_eq(escaped("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
}
END_TEST

START_TEST(valid_utf8_passes)
{
	/* é, €, U+1F600 */
	ck_assert_str_eq(escaped("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
			 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}
END_TEST

START_TEST(invalid_utf8_replaced)
{
	/* lone continuation, truncated sequence, overlong '/', surrogate
	 * U+D800, above U+10FFFF, 0xff */
	ck_assert_str_eq(escaped("a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80"
				 "e\xf4\x90\x80\x80" "f\xff"),
			 "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd"
			 "\\ufffde\\ufffd\\ufffd\\ufffd\\ufffdf\\ufffd\"");
}
END_TEST

START_TEST(truncated_at_end)
{
	ck_assert_str_eq(escaped("x\xe2\x82"), "\"x\\ufffd\\ufffd\"");
}
END_TEST

START_TEST(keys_are_escaped)
{
	struct kd_json j;
	kd_json_init(&j, out);
	kd_json_begin_object(&j);
	kd_json_key(&j, "a\"b");
	kd_json_string(&j, "");
	kd_json_end_object(&j);
	ck_assert_int_eq(kd_json_finish(&j), 0);
	ck_assert_str_eq(buf, "{\"a\\\"b\":\"\"}\n");
}
END_TEST

START_TEST(unbalanced_is_reported)
{
	struct kd_json j;
	kd_json_init(&j, out);
	kd_json_begin_object(&j);
	ck_assert_int_eq(kd_json_finish(&j), -EINVAL);

	struct kd_json k;
	kd_json_init(&k, out);
	for (int i = 0; i < KD_JSON_MAX_DEPTH + 2; i++)
		kd_json_begin_array(&k);
	for (int i = 0; i < KD_JSON_MAX_DEPTH + 2; i++)
		kd_json_end_array(&k);
	ck_assert_int_eq(kd_json_finish(&k), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, document_structure);
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, control_characters);
	tcase_add_test(tc, valid_utf8_passes);
	tcase_add_test(tc, invalid_utf8_replaced);
	tcase_add_test(tc, truncated_at_end);
	tcase_add_test(tc, keys_are_escaped);
	tcase_add_test(tc, unbalanced_is_reported);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
