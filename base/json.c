// SPDX-License-Identifier: Apache-2.0
/*
 * The JSON helpers every snapshot section uses. cJSON stores numbers as doubles, so every u64
 * (addresses, sizes, counters) is written as a "0x..." string and parsed back strictly.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"

/* Adds @item (NULL: it could not be made) to @obj, or frees it: 0 or -ENOMEM. */
static int add_item(cJSON *obj, const char *key, cJSON *item)
{
	if (!item || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

cJSON *json_create_u64(uint64_t val)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, val);
	return cJSON_CreateString(buf);
}

int json_put_u64(cJSON *obj, const char *key, uint64_t val)
{
	return add_item(obj, key, json_create_u64(val));
}

cJSON *json_create_count(uint64_t val)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, val);
	return cJSON_CreateRaw(num);
}

int json_put_count(cJSON *obj, const char *key, uint64_t val)
{
	return add_item(obj, key, json_create_count(val));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int json_parse_u64(const char *s, uint64_t *val)
{
	uint64_t v = 0;
	size_t i, n;

	if (!s || strncmp(s, "0x", 2))
		return -EINVAL;
	n = strlen(s + 2);
	if (n < 1 || n > 16)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int d = hex_digit(s[2 + i]);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (unsigned)d;
	}
	*val = v;
	return 0;
}

int json_get_u64(const cJSON *obj, const char *key, uint64_t *val)
{
	return json_parse_u64(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key)),
			      val);
}

int json_get_bool(const cJSON *obj, const char *key, bool *val)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsBool(item))
		return -EINVAL;
	*val = cJSON_IsTrue(item);
	return 0;
}

int json_put_hex(cJSON *obj, const char *key, const uint8_t *buf, unsigned len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * (size_t)len + 1);
	cJSON *item;
	unsigned i;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[buf[i] >> 4];
		s[2 * i + 1] = digits[buf[i] & 0xf];
	}
	s[2 * len] = '\0';
	item = cJSON_AddStringToObject(obj, key, s);
	free(s);
	return item ? 0 : -ENOMEM;
}

int json_get_hex(const cJSON *obj, const char *key, uint8_t *buf, unsigned len)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	unsigned i;

	if (!s || strlen(s) != 2 * (size_t)len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ------------------------------------------------------------------ field errors */

int json_field_err(char *err, size_t errlen, const char *where, const char *key,
		   const char *fmt, ...)
{
	bool has_where = where && where[0];
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errlen)
		snprintf(err, errlen, "%s%s%s%s%s", has_where ? where : "",
			 has_where && key && key[0] && key[0] != '[' ? "." : "", key ? key : "",
			 has_where || key ? ": " : "", msg);
	return -EINVAL;
}

int json_field_u64(const cJSON *obj, const char *where, const char *key, uint64_t *val,
		   char *err, size_t errlen)
{
	if (!cJSON_GetObjectItemCaseSensitive(obj, key))
		return json_field_err(err, errlen, where, key, "missing");
	if (json_get_u64(obj, key, val))
		return json_field_err(err, errlen, where, key,
				      "expected a \"0x...\" hex string of at most 16 digits");
	return 0;
}

int json_field_bool(const cJSON *obj, const char *where, const char *key, bool *val,
		    char *err, size_t errlen)
{
	if (!cJSON_GetObjectItemCaseSensitive(obj, key))
		return json_field_err(err, errlen, where, key, "missing");
	if (json_get_bool(obj, key, val))
		return json_field_err(err, errlen, where, key, "expected true or false");
	return 0;
}

int json_field_num(const cJSON *obj, const char *where, const char *key, uint64_t max,
		   uint64_t *val, char *err, size_t errlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (!item)
		return json_field_err(err, errlen, where, key, "missing");
	if (!cJSON_IsNumber(item))
		return json_field_err(err, errlen, where, key, "expected an integer in 0..%llu",
				      (unsigned long long)max);
	d = cJSON_GetNumberValue(item);
	if (!(d >= 0) || d > (double)max || (double)(uint64_t)d != d)
		return json_field_err(err, errlen, where, key, "%.17g is not an integer in 0..%llu",
				      d, (unsigned long long)max);
	*val = (uint64_t)d;
	return 0;
}

static int shape_at(const cJSON *got, const cJSON *want, char *path, size_t len, size_t at,
		    char *err, size_t errlen);

/* Appends ".key" or "[i]" to @path at @at; the new end, or @len when it did not fit. */
static size_t path_push(char *path, size_t len, size_t at, const char *key, int index)
{
	int n = key ? snprintf(path + at, len - at, "%s%s", at ? "." : "", key)
		    : snprintf(path + at, len - at, "[%d]", index);

	return n < 0 || (size_t)n >= len - at ? len : at + (size_t)n;
}

static int shape_object(const cJSON *got, const cJSON *want, char *path, size_t len, size_t at,
			char *err, size_t errlen)
{
	const cJSON *it;
	size_t end;

	cJSON_ArrayForEach(it, got) {
		end = path_push(path, len, at, it->string, 0);
		if (!cJSON_GetObjectItemCaseSensitive(want, it->string))
			return set_err(err, errlen, -EINVAL, "%s: unknown key", path);
		if (shape_at(it, cJSON_GetObjectItemCaseSensitive(want, it->string), path, len, end,
			     err, errlen))
			return -EINVAL;
	}
	cJSON_ArrayForEach(it, want) {
		if (!cJSON_GetObjectItemCaseSensitive(got, it->string)) {
			path_push(path, len, at, it->string, 0);
			return set_err(err, errlen, -EINVAL, "%s: missing", path);
		}
	}
	path[at] = '\0';
	return 0;
}

static int shape_at(const cJSON *got, const cJSON *want, char *path, size_t len, size_t at,
		    char *err, size_t errlen)
{
	int i, n;

	if (at >= len)
		return set_err(err, errlen, -EINVAL, "%s: nested too deeply", path);
	if (cJSON_IsObject(want) != cJSON_IsObject(got) || cJSON_IsArray(want) != cJSON_IsArray(got))
		return set_err(err, errlen, -EINVAL, "%s: expected %s", path,
			       cJSON_IsObject(want) ? "an object" : cJSON_IsArray(want) ? "an array" :
			       "a value");
	if (cJSON_IsObject(want))
		return shape_object(got, want, path, len, at, err, errlen);
	if (!cJSON_IsArray(want))
		return 0;
	n = cJSON_GetArraySize(want);
	if (cJSON_GetArraySize(got) != n)
		return set_err(err, errlen, -EINVAL, "%s: %d entries, expected %d", path,
			       cJSON_GetArraySize(got), n);
	for (i = 0; i < n; i++) {
		size_t end = path_push(path, len, at, NULL, i);

		if (shape_at(cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i), path, len,
			     end, err, errlen))
			return -EINVAL;
	}
	path[at] = '\0';
	return 0;
}

int json_same_shape(const cJSON *got, const cJSON *want, const char *where, char *err,
		    size_t errlen)
{
	char path[256];

	snprintf(path, sizeof(path), "%s", where ? where : "");
	return shape_at(got, want, path, sizeof(path), strlen(path), err, errlen);
}
