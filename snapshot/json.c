// SPDX-License-Identifier: Apache-2.0
/*
 * Strict JSON for snapshot sections. A snapshot directory is untrusted input: every field is
 * required, typed, range-checked, and an unknown or duplicated key is an error, each reported
 * as one line naming the field. Integers are "0x..." strings so u64 never passes through a
 * double; opaque hardware pages (LAPIC, XSAVE) are base64.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "snapshot/internal.h"

void snap_ctx_init(struct snap_ctx *c, const char *file, const char *where, char *err,
		   size_t errlen)
{
	c->err = err;
	c->errlen = errlen;
	c->file = file;
	snprintf(c->where, sizeof(c->where), "%s", where ? where : "");
}

size_t snap_ctx_push(struct snap_ctx *c, const char *sub, int index)
{
	size_t mark = strlen(c->where);
	size_t room = sizeof(c->where) - mark;

	if (sub)
		snprintf(c->where + mark, room, "%s%s", mark ? "." : "", sub);
	else
		snprintf(c->where + mark, room, "[%d]", index);
	return mark;
}

void snap_ctx_pop(struct snap_ctx *c, size_t mark)
{
	c->where[mark] = '\0';
}

/* "<file>: " and then the field path as every restore names it (json_field_err). */
int snap_fail(struct snap_ctx *c, const char *field, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(c->err, c->errlen, "%s: ", c->file);
	if (n < 0 || (size_t)n >= c->errlen)
		return -EINVAL;
	return json_field_err(c->err + n, c->errlen - (size_t)n, c->where, field, "%s", msg);
}

/* ------------------------------------------------------------------ field tables */

static uint64_t field_load(const void *base, const struct snap_field *f, unsigned i)
{
	const uint8_t *p = (const uint8_t *)base + f->offset + (size_t)i * f->size;
	uint64_t v = 0;

	memcpy(&v, p, f->size);   /* little-endian host: the low bytes */
	return v;
}

static void field_store(void *base, const struct snap_field *f, unsigned i, uint64_t v)
{
	memcpy((uint8_t *)base + f->offset + (size_t)i * f->size, &v, f->size);
}

static uint64_t field_max(const struct snap_field *f)
{
	if (f->max)
		return f->max;
	return f->size == 8 ? UINT64_MAX : (1ULL << (8 * f->size)) - 1;
}

/* The object holding the last component of a dotted @name; created when @create. */
static cJSON *field_parent(cJSON *obj, const char *name, const char **leaf, bool create)
{
	const char *dot;
	char part[32];

	while ((dot = strchr(name, '.'))) {
		cJSON *sub;

		snprintf(part, sizeof(part), "%.*s", (int)(dot - name), name);
		sub = cJSON_GetObjectItemCaseSensitive(obj, part);
		if (!sub && create)
			sub = cJSON_AddObjectToObject(obj, part);
		if (!cJSON_IsObject(sub))
			return NULL;
		obj = sub;
		name = dot + 1;
	}
	*leaf = name;
	return obj;
}

int snap_fields_put(cJSON *obj, const void *base, const struct snap_field *f, unsigned n)
{
	unsigned i, k;

	for (i = 0; i < n; i++, f++) {
		const char *leaf;
		cJSON *parent = field_parent(obj, f->name, &leaf, true), *arr;

		if (!parent)
			return -ENOMEM;
		if (f->count == 1) {
			if (json_put_u64(parent, leaf, field_load(base, f, 0)))
				return -ENOMEM;
			continue;
		}
		arr = cJSON_AddArrayToObject(parent, leaf);
		for (k = 0; arr && k < f->count; k++)
			if (!cJSON_AddItemToArray(arr, json_create_u64(field_load(base, f, k))))
				arr = NULL;
		if (!arr)
			return -ENOMEM;
	}
	return 0;
}

static int value_get(const cJSON *item, const struct snap_field *f, struct snap_ctx *c,
		     const char *name, uint64_t *v)
{
	if (!item)
		return snap_fail(c, name, "missing");
	if (json_parse_u64(cJSON_GetStringValue(item), v))
		return snap_fail(c, name, "expected a \"0x...\" hex string of at most 16 digits");
	if (*v > field_max(f))
		return snap_fail(c, name, "0x%llx is above 0x%llx", (unsigned long long)*v,
				 (unsigned long long)field_max(f));
	return 0;
}

static int field_get(const cJSON *obj, void *base, const struct snap_field *f,
		     struct snap_ctx *c)
{
	const char *leaf;
	const cJSON *parent = field_parent((cJSON *)obj, f->name, &leaf, false), *item, *e;
	char name[48];
	uint64_t v;
	int k = 0;

	if (!parent)
		return snap_fail(c, f->name, "missing");
	item = cJSON_GetObjectItemCaseSensitive(parent, leaf);
	if (f->count == 1) {
		if (value_get(item, f, c, f->name, &v))
			return -EINVAL;
		field_store(base, f, 0, v);
		return 0;
	}
	if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != f->count)
		return snap_fail(c, f->name, "expected an array of %u hex strings", f->count);
	cJSON_ArrayForEach(e, item) {
		snprintf(name, sizeof(name), "%s[%d]", f->name, k);
		if (value_get(e, f, c, name, &v))
			return -EINVAL;
		field_store(base, f, (unsigned)k++, v);
	}
	return 0;
}

/* Is @key (under dotted @prefix) a field, or an object some field lives in? */
static int field_known(const struct snap_field *f, unsigned n, const char *prefix,
		       const char *key)
{
	char full[64];
	size_t len;
	unsigned i;

	len = (size_t)snprintf(full, sizeof(full), "%s%s", prefix, key);
	for (i = 0; i < n; i++) {
		if (!strcmp(f[i].name, full))
			return 1;
		if (!strncmp(f[i].name, full, len) && f[i].name[len] == '.')
			return 2;
	}
	return 0;
}

static bool in_list(const char *const *keys, const char *key)
{
	for (; keys && *keys; keys++)
		if (!strcmp(*keys, key))
			return true;
	return false;
}

static int check_duplicate(const cJSON *obj, const cJSON *item, struct snap_ctx *c)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, item->string) != item)
		return snap_fail(c, item->string, "duplicate key");
	return 0;
}

static int check_table_keys(const cJSON *obj, const struct snap_field *f, unsigned n,
			    const char *prefix, const char *const *extra, struct snap_ctx *c)
{
	const cJSON *item;
	char sub[64];

	cJSON_ArrayForEach(item, obj) {
		int kind = field_known(f, n, prefix, item->string);

		snprintf(sub, sizeof(sub), "%s%s", prefix, item->string);
		if (cJSON_GetObjectItemCaseSensitive(obj, item->string) != item)
			return snap_fail(c, sub, "duplicate key");
		if (!kind && !(prefix[0] == '\0' && in_list(extra, item->string)))
			return snap_fail(c, sub, "unknown key");
		if (kind != 2)
			continue;
		if (!cJSON_IsObject(item))
			return snap_fail(c, sub, "expected an object");
		snprintf(sub, sizeof(sub), "%s%s.", prefix, item->string);
		if (check_table_keys(item, f, n, sub, NULL, c))
			return -EINVAL;
	}
	return 0;
}

int snap_fields_get(const cJSON *obj, void *base, const struct snap_field *f, unsigned n,
		    const char *const *extra, struct snap_ctx *c)
{
	unsigned i;

	if (!cJSON_IsObject(obj))
		return snap_fail(c, NULL, "expected an object");
	if (check_table_keys(obj, f, n, "", extra, c))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (field_get(obj, base, &f[i], c))
			return -EINVAL;
	return 0;
}

int snap_put_table(cJSON *obj, const char *key, const void *base, const struct snap_field *f,
		   unsigned n)
{
	cJSON *sub = cJSON_AddObjectToObject(obj, key);

	return sub ? snap_fields_put(sub, base, f, n) : -ENOMEM;
}

int snap_get_table(const cJSON *obj, const char *key, void *base, const struct snap_field *f,
		   unsigned n, const char *const *extra, struct snap_ctx *c)
{
	const cJSON *sub = snap_get_object(obj, key, c);
	size_t mark;
	int ret;

	if (!sub)
		return -EINVAL;
	mark = snap_ctx_push(c, key, 0);
	ret = snap_fields_get(sub, base, f, n, extra, c);
	snap_ctx_pop(c, mark);
	return ret;
}

int snap_check_keys(const cJSON *obj, const char *const *keys, struct snap_ctx *c)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, obj) {
		if (check_duplicate(obj, item, c))
			return -EINVAL;
		if (!in_list(keys, item->string))
			return snap_fail(c, item->string, "unknown key");
	}
	return 0;
}

/* ------------------------------------------------------------------ typed getters */

const cJSON *snap_get_object(const cJSON *obj, const char *key, struct snap_ctx *c)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsObject(item)) {
		snap_fail(c, key, item ? "expected an object" : "missing");
		return NULL;
	}
	return item;
}

const cJSON *snap_get_array(const cJSON *obj, const char *key, struct snap_ctx *c)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsArray(item)) {
		snap_fail(c, key, item ? "expected an array" : "missing");
		return NULL;
	}
	return item;
}

const cJSON *snap_get_counted(const cJSON *obj, const char *key, bool array, int max,
			     const char *what, int *n, struct snap_ctx *c)
{
	const cJSON *item = array ? snap_get_array(obj, key, c) : snap_get_object(obj, key, c);

	*n = item ? cJSON_GetArraySize(item) : 0;
	if (item && (*n < 1 || *n > max)) {
		snap_fail(c, key, "%d %s, expected 1 to %d", *n, what, max);
		return NULL;
	}
	return item;
}

/* An integral JSON number in [0, max] (max < 2^53, so doubles are exact). */
int snap_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *val,
		  struct snap_ctx *c)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (!item)
		return snap_fail(c, key, "missing");
	if (!cJSON_IsNumber(item))
		return snap_fail(c, key, "expected a number");
	d = cJSON_GetNumberValue(item);
	if (!(d >= 0) || d > (double)max || d != (double)(uint64_t)d)
		return snap_fail(c, key, "expected an integer from 0 to %llu",
				 (unsigned long long)max);
	*val = (uint64_t)d;
	return 0;
}

int snap_get_hex(const cJSON *obj, const char *key, uint64_t *val, struct snap_ctx *c)
{
	static const struct snap_field any = { "", 0, 8, 1, 0 };

	return value_get(cJSON_GetObjectItemCaseSensitive(obj, key), &any, c, key, val);
}

/* ------------------------------------------------------------------ base64 blobs */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int snap_put_blob(cJSON *obj, const char *key, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	char *s = malloc((len + 2) / 3 * 4 + 1), *o = s;
	size_t i;
	cJSON *item;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	item = cJSON_AddStringToObject(obj, key, s);
	free(s);
	return item ? 0 : -ENOMEM;
}

/* Decodes @s into @out (NULL: only measure); -EINVAL on any non-canonical input. */
static long b64_decode(const char *s, uint8_t *out)
{
	size_t n = strlen(s), i, pad = 0;
	long len = 0;

	if (n % 4)
		return -EINVAL;
	if (n && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		uint32_t v = 0;
		unsigned k;

		for (k = 0; k < 4; k++) {
			const char *d = s[i + k] ? strchr(b64, s[i + k]) : NULL;
			bool padding = i + 4 == n && k >= 4 - pad;

			if (padding ? s[i + k] != '=' : !d)
				return -EINVAL;
			v = v << 6 | (d ? (uint32_t)(d - b64) : 0);
		}
		if (i + 4 == n && (v & ((1u << (8 * pad)) - 1)))
			return -EINVAL;         /* bits beyond the data must be zero */
		for (k = 0; k < 3 - (i + 4 == n ? pad : 0); k++, len++)
			if (out)
				out[len] = (uint8_t)(v >> (16 - 8 * k));
	}
	return len;
}

long snap_blob_len(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return s ? b64_decode(s, NULL) : -EINVAL;
}

int snap_get_blob(const cJSON *obj, const char *key, void *buf, size_t len, struct snap_ctx *c)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	const char *s = cJSON_GetStringValue(item);
	long n;

	if (!item)
		return snap_fail(c, key, "missing");
	n = s ? b64_decode(s, NULL) : -EINVAL;
	if (n < 0)
		return snap_fail(c, key, "expected a base64 string");
	if ((size_t)n != len)
		return snap_fail(c, key, "%ld bytes, expected %zu", n, len);
	b64_decode(s, buf);
	return 0;
}
