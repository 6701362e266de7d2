/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON helpers for snapshot sections (cJSON underneath). Every u64 is a "0x..." string of 1-16
 * hex digits, since cJSON numbers are doubles and lose u64 precision.
 *
 * A snapshot is untrusted input: each rejection is one line naming the field and the bad
 * value, "<where>.<key>: <problem>" ("<key>: ..." when @where is NULL or empty, "<where>: ..."
 * when @key is NULL). Paths are relative to the section a restore function is given; its
 * caller knows where that section sits and prefixes it ("state.json: devices._disk0.virtio."),
 * so restore functions start their message with a field, never with a bare problem.
 */
#ifndef VIREO_BASE_JSON_H
#define VIREO_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* 0, -ENOMEM (put) or -EINVAL (get: missing or malformed). */
int json_put_u64(struct cJSON *obj, const char *key, uint64_t val);
/* The "0x..." item itself (arrays), NULL on ENOMEM; and the strict parse of one. */
struct cJSON *json_create_u64(uint64_t val);
int json_parse_u64(const char *s, uint64_t *val);
int json_get_u64(const struct cJSON *obj, const char *key, uint64_t *val);
int json_get_bool(const struct cJSON *obj, const char *key, bool *val);
/* A u64 as an exact JSON integer (the REST API: vm.counters, vm.info): 0 or -ENOMEM. */
int json_put_count(struct cJSON *obj, const char *key, uint64_t val);
struct cJSON *json_create_count(uint64_t val);
/* Lower-case hex of @len bytes / back; -EINVAL unless exactly @len bytes of hex. */
int json_put_hex(struct cJSON *obj, const char *key, const uint8_t *buf, unsigned len);
int json_get_hex(const struct cJSON *obj, const char *key, uint8_t *buf, unsigned len);

/* Writes "<where>.<key>: <message>" into @err and returns -EINVAL. */
int json_field_err(char *err, size_t errlen, const char *where, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* json_get_u64 / json_get_bool reporting like json_field_err: "missing", "expected ...". */
int json_field_u64(const struct cJSON *obj, const char *where, const char *key, uint64_t *val,
		   char *err, size_t errlen);
int json_field_bool(const struct cJSON *obj, const char *where, const char *key, bool *val,
		    char *err, size_t errlen);
/* An integral JSON number in [0, @max]. */
int json_field_num(const struct cJSON *obj, const char *where, const char *key, uint64_t max,
		   uint64_t *val, char *err, size_t errlen);

/*
 * Whether @got has the shape of @want: the same keys in every object, arrays of the same
 * length, recursively (values are not compared). On a difference, 0 is not returned and
 * "<path>: unknown key" or "<path>: missing" (path from @where, "a.b[2].c") goes to @err.
 * For untrusted state checked against what this build writes for the same object.
 */
int json_same_shape(const struct cJSON *got, const struct cJSON *want, const char *where,
		    char *err, size_t errlen);

#endif
