// SPDX-License-Identifier: Apache-2.0
/*
 * JSON helpers for the pci/ snapshot functions. cJSON stores numbers as doubles, so every u64
 * (addresses, sizes, PBA words) is written as a "0x..." string and parsed back strictly.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/internal.h"

int json_put_u64(cJSON *obj, const char *key, uint64_t val)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, val);
	return cJSON_AddStringToObject(obj, key, buf) ? 0 : -ENOMEM;
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

/* "0x" followed by 1-16 hex digits, nothing else. */
int json_get_u64(const cJSON *obj, const char *key, uint64_t *val)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	const char *s = cJSON_GetStringValue(item);
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
