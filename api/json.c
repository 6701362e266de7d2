// SPDX-License-Identifier: Apache-2.0
/*
 * Untrusted JSON in, CH-shaped JSON errors out.
 *
 * cJSON alone is not enough for request bodies: it recurses once per nesting level (1000 by
 * default, CJSON_NESTING_LIMIT), copies invalid UTF-8 through, truncates strings at \u0000,
 * accepts trailing garbage, and keeps numbers only as doubles, so u64 values above 2^53
 * (memory sizes, rate limits) would silently change. A pre-scan over the raw text checks what
 * serde_json checks (strict UTF-8, no raw control characters in strings or between tokens,
 * RFC 8259 numbers), caps depth and value count before cJSON runs, and records every number
 * token; cJSON builds its tree in document order, so the n-th number item is the n-th
 * token, and its exact text is attached to the item's valuestring (cJSON_Delete frees it;
 * printing ignores it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/json.h"

char *api_error_jsonv(const char *first, va_list ap)
{
	cJSON *arr = cJSON_CreateArray();
	char *out = NULL;

	if (!arr)
		return NULL;
	for (const char *m = first; m; m = va_arg(ap, const char *)) {
		cJSON *s = cJSON_CreateString(m);

		if (!s)
			goto out;
		cJSON_AddItemToArray(arr, s);
	}
	out = cJSON_PrintUnformatted(arr);
out:
	cJSON_Delete(arr);
	return out;
}

char *api_error_json(const char *first, ...)
{
	va_list ap;
	char *out;

	va_start(ap, first);
	out = api_error_jsonv(first, ap);
	va_end(ap);
	return out;
}

/* Length of the UTF-8 sequence at @p (RFC 3629: no overlongs, surrogates or > U+10FFFF), 0 if bad. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

struct numtok {
	size_t off, len;
};

struct scan {
	const char *s;
	size_t len, pos;
	unsigned depth, values;
	struct numtok *nums;
	size_t nnums, cap;
	char *err;
	size_t errlen;
};

static int scan_fail(struct scan *sc, const char *why)
{
	msg_fmt(sc->err, sc->errlen, "%s at byte %zu", why, sc->pos);
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 section 2: the only whitespace around tokens. Not strchr(), which matches NUL. */
static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A string starting at the opening quote; leaves pos after the closing one. */
static int scan_string(struct scan *sc)
{
	for (sc->pos++; sc->pos < sc->len; sc->pos++) {
		unsigned char c = (unsigned char)sc->s[sc->pos];

		if (c == '"')
			return 0;
		if (c < 0x20)
			return scan_fail(sc, "control character in string");
		if (c != '\\')
			continue;
		if (++sc->pos >= sc->len)
			break;
		/* \u0000 would truncate the C string: a path "a\u0000b" must not become "a". */
		if (sc->s[sc->pos] == 'u' && sc->len - sc->pos > 4 &&
		    !strncmp(sc->s + sc->pos + 1, "0000", 4))
			return scan_fail(sc, "\\u0000 in string");
	}
	return scan_fail(sc, "unterminated string");
}

static int record_number(struct scan *sc, size_t start)
{
	if (sc->nnums == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		struct numtok *n = realloc(sc->nums, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sc->nums = n;
		sc->cap = cap;
	}
	sc->nums[sc->nnums++] = (struct numtok){ start, sc->pos - start };
	return 0;
}

/* RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scan *sc)
{
	size_t start = sc->pos;
	const char *s = sc->s;

	if (s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && s[sc->pos] == '0') {
		/* cJSON's strtod would take "01" as one number: JSON forbids it */
		if (++sc->pos < sc->len && is_digit(s[sc->pos]))
			return scan_fail(sc, "invalid number (leading zero)");
	} else if (sc->pos < sc->len && is_digit(s[sc->pos]))
		while (sc->pos < sc->len && is_digit(s[sc->pos]))
			sc->pos++;
	else
		return scan_fail(sc, "invalid number");
	if (sc->pos < sc->len && s[sc->pos] == '.') {
		if (++sc->pos >= sc->len || !is_digit(s[sc->pos]))
			return scan_fail(sc, "invalid number");
		while (sc->pos < sc->len && is_digit(s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < sc->len && (s[sc->pos] == 'e' || s[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < sc->len && (s[sc->pos] == '+' || s[sc->pos] == '-'))
			sc->pos++;
		if (sc->pos >= sc->len || !is_digit(s[sc->pos]))
			return scan_fail(sc, "invalid number");
		while (sc->pos < sc->len && is_digit(s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos - start > 63)   /* cJSON 1.7.15 reads at most 63 number characters */
		return scan_fail(sc, "number too long");
	return record_number(sc, start);
}

/*
 * One pass over the text: not a full parser (cJSON checks the grammar afterwards), but it
 * tokenizes strings and numbers exactly as cJSON does for valid JSON, and cJSON stops at the
 * first error, so it never nests deeper than the depth seen here.
 */
static int scan_text(struct scan *sc)
{
	int ret;

	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (c == '[' || c == '{') {
			if (++sc->depth > API_MAX_JSON_DEPTH)
				return scan_fail(sc, "JSON nested too deeply (limit 64)");
		} else if (c == ']' || c == '}') {
			if (sc->depth)
				sc->depth--;
		} else if (c == '"') {
			if ((ret = scan_string(sc)))
				return ret;
		} else if (c == '-' || is_digit(c)) {
			if ((ret = scan_number(sc)))
				return ret;
			sc->values++;
			continue;
		} else if ((unsigned char)c < 0x20 && !is_json_space(c)) {
			/* cJSON would skip any byte up to 0x20 as whitespace, NUL included */
			return scan_fail(sc, "control character outside a string");
		}
		if (c == '[' || c == '{' || c == '"' || c == 't' || c == 'f' || c == 'n')
			sc->values++;
		if (sc->values > API_MAX_JSON_VALUES)
			return scan_fail(sc, "too many JSON values");
		sc->pos++;
	}
	return 0;
}

static int check_utf8(const char *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)buf;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (!n) {
			msg_fmt(err, errlen, "invalid UTF-8 at byte %zu", i);
			return -EINVAL;
		}
		i += n;
	}
	return 0;
}

struct attach {
	const struct scan *sc;
	size_t next;
};

/* Document-order walk giving each number item its token text. */
static int attach_numbers(cJSON *item, struct attach *a)
{
	for (; item; item = item->next) {
		if (cJSON_IsNumber(item)) {
			const struct numtok *t;

			if (a->next >= a->sc->nnums)
				return -EINVAL;
			t = &a->sc->nums[a->next++];
			item->valuestring = strndup(a->sc->s + t->off, t->len);
			if (!item->valuestring)
				return -ENOMEM;
		} else if (item->child) {
			int ret = attach_numbers(item->child, a);

			if (ret)
				return ret;
		}
	}
	return 0;
}

static int parse_checked(struct scan *sc, cJSON **out)
{
	const char *end = NULL;
	struct attach a = { sc, 0 };
	cJSON *root;
	int ret;

	root = cJSON_ParseWithLengthOpts(sc->s, sc->len, &end, false);
	if (!root) {
		sc->pos = end ? (size_t)(end - sc->s) : 0;
		return scan_fail(sc, "invalid JSON");
	}
	sc->pos = (size_t)(end - sc->s);
	while (sc->pos < sc->len && is_json_space(sc->s[sc->pos]))
		sc->pos++;
	if (sc->pos < sc->len) {
		cJSON_Delete(root);
		return scan_fail(sc, "trailing characters");
	}
	ret = attach_numbers(root, &a);
	if (ret || a.next != sc->nnums) {
		cJSON_Delete(root);
		return ret == -ENOMEM ? ret : scan_fail(sc, "number tokens do not match the parse");
	}
	*out = root;
	return 0;
}

int api_json_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen)
{
	struct scan sc = { .s = buf, .len = len, .err = err, .errlen = errlen };
	int ret;

	*out = NULL;
	ret = check_utf8(buf, len, err, errlen);
	if (!ret)
		ret = scan_text(&sc);
	if (!ret)
		ret = parse_checked(&sc, out);
	if (ret == -ENOMEM)
		msg_fmt(err, errlen, "out of memory");
	free(sc.nums);
	return ret;
}

/* ---- typed field reads -------------------------------------------------------------------- */

int jf_fail(struct jfield *f, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return json_field_err(f->err, f->errlen, f->ctx, key, "%s", why);
}

bool jf_is_object(const cJSON *item)
{
	return item && cJSON_IsObject(item);
}

/* Exact-case lookup that refuses duplicate keys, as serde does ("duplicate field"). */
int jf_get(struct jfield *f, const char *key, const cJSON **out)
{
	const cJSON *found = NULL;

	for (const cJSON *c = f->obj ? f->obj->child : NULL; c; c = c->next) {
		if (!c->string || strcmp(c->string, key))
			continue;
		if (found)
			return jf_fail(f, key, "duplicate field");
		found = c;
	}
	*out = found && !cJSON_IsNull(found) ? found : NULL;
	return 0;
}

int jf_u64(struct jfield *f, const char *key, uint64_t max, uint64_t *out, bool *present)
{
	const cJSON *it;
	const char *t;
	uint64_t v = 0;
	int ret = jf_get(f, key, &it);

	if (present)
		*present = false;
	if (ret || !it)
		return ret;
	t = it->valuestring;
	if (!cJSON_IsNumber(it) || !t)
		return jf_fail(f, key, "invalid type: expected an unsigned integer");
	if (*t == '-')
		return jf_fail(f, key, "invalid value: %s is negative", t);
	for (; *t; t++) {
		if (!is_digit(*t))
			return jf_fail(f, key, "invalid type: %s is not an integer",
				       it->valuestring);
		if (v > (UINT64_MAX - (uint64_t)(*t - '0')) / 10)
			return jf_fail(f, key, "%s is out of range", it->valuestring);
		v = v * 10 + (uint64_t)(*t - '0');
	}
	if (v > max)
		return jf_fail(f, key, "%s is out of range (max %llu)", it->valuestring,
			       (unsigned long long)max);
	*out = v;
	if (present)
		*present = true;
	return 0;
}

int jf_bool(struct jfield *f, const char *key, bool *out)
{
	const cJSON *it;
	int ret = jf_get(f, key, &it);

	if (ret || !it)
		return ret;
	if (!cJSON_IsBool(it))
		return jf_fail(f, key, "invalid type: expected a boolean");
	*out = cJSON_IsTrue(it);
	return 0;
}

int jf_str(struct jfield *f, const char *key, char **out)
{
	const cJSON *it;
	char *copy;
	int ret = jf_get(f, key, &it);

	if (ret || !it)
		return ret;
	if (!cJSON_IsString(it))
		return jf_fail(f, key, "invalid type: expected a string");
	copy = strdup(it->valuestring);
	if (!copy)
		return -ENOMEM;
	free(*out);
	*out = copy;
	return 0;
}
