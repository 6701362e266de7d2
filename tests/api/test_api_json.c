// SPDX-License-Identifier: Apache-2.0
/* api/json.c: the guarded JSON parser and CH's error-array shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

static int parse(const char *s, cJSON **out, char *err)
{
	return api_json_parse(s, strlen(s), out, err, 256);
}

static void expect_reject(const char *s, size_t len, const char *why)
{
	char err[256] = "";
	cJSON *j = NULL;

	assert_int_equal(api_json_parse(s, len, &j, err, sizeof(err)), -EINVAL);
	assert_null(j);
	if (!strstr(err, why))
		fail_msg("'%s' not in '%s'", why, err);
}

static void test_valid_document(void **state)
{
	char err[256];
	cJSON *j;

	(void)state;
	assert_int_equal(parse(" {\"a\": [1, -2.5e3, true, null, \"x\\u00e9\"]}\n", &j, err), 0);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "a")));
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "a"), 1)->valuestring,
			    "-2.5e3");
	cJSON_Delete(j);
}

/* Numbers keep their text: 2^53 + 1 and UINT64_MAX survive exactly. */
static void test_number_text_exact(void **state)
{
	char err[256];
	cJSON *j;

	(void)state;
	assert_int_equal(parse("[9007199254740993,18446744073709551615,0]", &j, err), 0);
	assert_string_equal(cJSON_GetArrayItem(j, 0)->valuestring, "9007199254740993");
	assert_string_equal(cJSON_GetArrayItem(j, 1)->valuestring, "18446744073709551615");
	assert_string_equal(cJSON_GetArrayItem(j, 2)->valuestring, "0");
	cJSON_Delete(j);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	expect_reject("{\"a\":\"\xff\"}", 8, "invalid UTF-8");
	expect_reject("{\"a\":\"\xc0\xaf\"}", 9, "invalid UTF-8");           /* overlong '/' */
	expect_reject("{\"a\":\"\xed\xa0\x80\"}", 10, "invalid UTF-8");      /* surrogate */
	expect_reject("{\"a\":\"\xf4\x90\x80\x80\"}", 11, "invalid UTF-8");  /* > U+10FFFF */
	expect_reject("{\"a\":\"\xe2\x82\"}", 9, "invalid UTF-8");           /* truncated */
}

static void test_deep_nesting(void **state)
{
	static char s[100001];
	char err[256];
	cJSON *j;

	(void)state;
	memset(s, '[', 100000);
	expect_reject(s, 100000, "nested too deeply");
	/* 64 levels pass, 65 do not */
	memset(s + 64, ']', 64);
	assert_int_equal(api_json_parse(s, 128, &j, err, sizeof(err)), 0);
	cJSON_Delete(j);
	memset(s, '[', 65);
	memset(s + 65, ']', 65);
	expect_reject(s, 130, "nested too deeply");
	/* brackets inside strings do not count */
	s[0] = '"';
	memset(s + 1, '[', 200);
	s[201] = '"';
	assert_int_equal(api_json_parse(s, 202, &j, err, sizeof(err)), 0);
	cJSON_Delete(j);
}

static void test_strings_rejected(void **state)
{
	(void)state;
	expect_reject("{\"a\":\"x\\u0000y\"}", 16, "\\u0000");
	expect_reject("{\"a\":\"x\ny\"}", 10, "control character");
	expect_reject("{\"a\":\"x", 7, "unterminated");
}

static void test_garbage_rejected(void **state)
{
	(void)state;
	expect_reject("{} x", 4, "trailing");
	expect_reject("{\"a\":01}", 8, "leading zero");
	expect_reject("{\"a\":1.}", 8, "invalid number");
	expect_reject("{\"a\":-}", 7, "invalid number");
	expect_reject("{\"a\":}", 6, "invalid JSON");
	expect_reject("", 0, "invalid JSON");
	expect_reject("\x01\x02garbage", 9, "control character outside a string");
	expect_reject("[1111111111111111111111111111111111111111111111111111111111111111]", 66,
		      "too long");
}

/*
 * RFC 8259 section 2: only space, tab, LF and CR may surround tokens. cJSON skips every byte
 * up to 0x20 as whitespace, and the trailing check once took NUL for whitespace too.
 */
static void test_controls_outside_strings(void **state)
{
	char err[256];
	cJSON *j;

	(void)state;
	expect_reject("\0{}", 3, "control character outside a string");
	expect_reject("{}\0", 3, "control character outside a string");
	expect_reject("{}\n\0\n", 5, "control character outside a string");
	expect_reject("{\x01\"a\":1}", 8, "control character outside a string");
	expect_reject("{\"a\":\x1f" "1}", 8, "control character outside a string");
	expect_reject("[1,\x0b" "2]", 6, "control character outside a string");
	expect_reject("[1]\x7f", 4, "trailing");
	assert_int_equal(api_json_parse(" \t\r\n[1]\r\n", 9, &j, err, sizeof(err)), 0);
	cJSON_Delete(j);
}

static void test_too_many_values(void **state)
{
	size_t n = (API_MAX_JSON_VALUES + 10) * 2 + 2;
	char *s = malloc(n + 1), *p = s;

	(void)state;
	*p++ = '[';
	for (unsigned i = 0; i < API_MAX_JSON_VALUES + 10; i++) {
		*p++ = '0';
		*p++ = ',';
	}
	p[-1] = ']';
	*p = '\0';
	expect_reject(s, strlen(s), "too many JSON values");
	free(s);
}

static void test_error_json_shape(void **state)
{
	char *s = api_error_json("Error from API", "The VM could not boot", "a \"quoted\" cause",
				 NULL);

	(void)state;
	assert_string_equal(s, "[\"Error from API\",\"The VM could not boot\","
			       "\"a \\\"quoted\\\" cause\"]");
	free(s);
	s = api_error_json("Not Found", NULL);
	assert_string_equal(s, "[\"Not Found\"]");
	free(s);
}

static void test_typed_reads(void **state)
{
	char err[256];
	cJSON *j;
	uint64_t v;
	bool present, b = false;
	char *str = NULL;
	struct jfield f = { .ctx = "cpus", .err = err, .errlen = sizeof(err) };

	(void)state;
	assert_int_equal(parse("{\"u\":18446744073709551615,\"neg\":-1,\"f\":1.5,\"e\":1e3,"
			       "\"big\":18446744073709551616,\"b\":true,\"s\":\"x\",\"n\":null,"
			       "\"d\":1,\"d\":2}", &j, err), 0);
	f.obj = j;
	assert_int_equal(jf_u64(&f, "u", UINT64_MAX, &v, &present), 0);
	assert_true(present);
	assert_true(v == UINT64_MAX);
	assert_int_equal(jf_u64(&f, "neg", UINT64_MAX, &v, NULL), -EINVAL);
	assert_non_null(strstr(err, "cpus.neg"));
	assert_int_equal(jf_u64(&f, "f", UINT64_MAX, &v, NULL), -EINVAL);
	assert_int_equal(jf_u64(&f, "e", UINT64_MAX, &v, NULL), -EINVAL);
	assert_int_equal(jf_u64(&f, "big", UINT64_MAX, &v, NULL), -EINVAL);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(jf_u64(&f, "u", 255, &v, NULL), -EINVAL);
	assert_int_equal(jf_u64(&f, "s", 255, &v, NULL), -EINVAL);
	assert_int_equal(jf_u64(&f, "n", 255, &v, &present), 0);   /* null = absent */
	assert_false(present);
	assert_int_equal(jf_u64(&f, "missing", 255, &v, &present), 0);
	assert_false(present);
	assert_int_equal(jf_u64(&f, "d", 255, &v, NULL), -EINVAL);
	assert_non_null(strstr(err, "duplicate"));
	assert_int_equal(jf_bool(&f, "b", &b), 0);
	assert_true(b);
	assert_int_equal(jf_bool(&f, "s", &b), -EINVAL);
	assert_int_equal(jf_str(&f, "s", &str), 0);
	assert_string_equal(str, "x");
	assert_int_equal(jf_str(&f, "b", &str), -EINVAL);
	free(str);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_document),
		cmocka_unit_test(test_number_text_exact),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_strings_rejected),
		cmocka_unit_test(test_garbage_rejected),
		cmocka_unit_test(test_controls_outside_strings),
		cmocka_unit_test(test_too_many_values),
		cmocka_unit_test(test_error_json_shape),
		cmocka_unit_test(test_typed_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
