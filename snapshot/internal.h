/* SPDX-License-Identifier: Apache-2.0 */
/* Private to snapshot/: strict JSON field tables, error context, MSR and memory helpers. */
#ifndef VIREO_SNAPSHOT_INTERNAL_H
#define VIREO_SNAPSHOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"
#include "base/log.h"

struct cJSON;

#define SNAP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Where a parse is, for error lines: "<file>: <where>.<field>: <problem>". */
struct snap_ctx {
	char *err;
	size_t errlen;
	const char *file;
	char where[96];
};

void snap_ctx_init(struct snap_ctx *c, const char *file, const char *where, char *err,
		   size_t errlen);
/* Appends ".sub" (or "[n]" when @sub is NULL) to c->where; snap_ctx_pop() undoes it. */
size_t snap_ctx_push(struct snap_ctx *c, const char *sub, int index);
void snap_ctx_pop(struct snap_ctx *c, size_t mark);
/* Formats the error and returns -EINVAL. @field may be NULL. */
int snap_fail(struct snap_ctx *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Non-parse errors use set_err() (vmm/log.h): "<message>", returns @ret. */

/*
 * A table of unsigned integer fields of a C struct, written as "0x..." strings (u64 never goes
 * through a double). A dotted name ("exception.nr") nests objects. @count > 1: a JSON array.
 * @max 0: the field's width bounds the value.
 */
struct snap_field {
	const char *name;
	uint16_t offset;
	uint8_t size;
	uint8_t count;
	uint64_t max;
};

#define SNAP_MEMBER_SIZE(type, m) sizeof(((type *)0)->m)
#define SNAP_F(type, m) { #m, offsetof(type, m), SNAP_MEMBER_SIZE(type, m), 1, 0 }
#define SNAP_FMAX(type, m, mx) { #m, offsetof(type, m), SNAP_MEMBER_SIZE(type, m), 1, mx }
#define SNAP_FARRAY(type, m) \
	{ #m, offsetof(type, m), SNAP_MEMBER_SIZE(type, m[0]), \
	  SNAP_MEMBER_SIZE(type, m) / SNAP_MEMBER_SIZE(type, m[0]), 0 }

int snap_fields_put(struct cJSON *obj, const void *base, const struct snap_field *f,
		    unsigned n);
/*
 * Parses every field into @base and rejects missing, malformed, out-of-range, duplicate and
 * unknown keys. @extra lists further keys of @obj the caller parses itself (NULL-terminated).
 */
int snap_fields_get(const struct cJSON *obj, void *base, const struct snap_field *f, unsigned n,
		    const char *const *extra, struct snap_ctx *c);
/* The same on a member object @key of @obj (errors name "key.field"). */
int snap_put_table(struct cJSON *obj, const char *key, const void *base,
		   const struct snap_field *f, unsigned n);
int snap_get_table(const struct cJSON *obj, const char *key, void *base,
		   const struct snap_field *f, unsigned n, const char *const *extra,
		   struct snap_ctx *c);

/* A member object/array/number with an error naming it when absent or of the wrong type. */
const struct cJSON *snap_get_object(const struct cJSON *obj, const char *key, struct snap_ctx *c);
const struct cJSON *snap_get_array(const struct cJSON *obj, const char *key, struct snap_ctx *c);
/* Member @key: an array (@array) or object of 1 to @max members (*n), else NULL and the error. */
const struct cJSON *snap_get_counted(const struct cJSON *obj, const char *key, bool array,
				     int max, const char *what, int *n, struct snap_ctx *c);
int snap_get_uint(const struct cJSON *obj, const char *key, uint64_t max, uint64_t *val,
		  struct snap_ctx *c);
int snap_get_hex(const struct cJSON *obj, const char *key, uint64_t *val, struct snap_ctx *c);
/* Rejects keys of @obj outside @keys (NULL-terminated) and duplicated keys. */
int snap_check_keys(const struct cJSON *obj, const char *const *keys, struct snap_ctx *c);

/* Binary blobs (LAPIC page, XSAVE area) as base64 strings of an exact decoded length. */
int snap_put_blob(struct cJSON *obj, const char *key, const void *buf, size_t len);
int snap_get_blob(const struct cJSON *obj, const char *key, void *buf, size_t len,
		  struct snap_ctx *c);
/* Decoded length of a valid base64 string, or -EINVAL. */
long snap_blob_len(const struct cJSON *obj, const char *key);

/* msr.c (x86_64): the MSRs worth saving on this host, and batched get/set. */
struct snap_msr;
int snap_msr_list(int kvm_fd, uint32_t **indices, unsigned *nr);
int snap_msrs_get(int vcpu_fd, const uint32_t *indices, unsigned nr, struct snap_msr **out,
		  unsigned *nr_out, char *err, size_t errlen);
int snap_msrs_set(int vcpu_fd, uint32_t id, const struct snap_msr *msrs, unsigned nr,
		  char *err, size_t errlen);

#if defined(__aarch64__)
/* vcpu_aarch64.c: registers per vCPU at most (about 300 without SVE), and the id check. */
#define SNAP_ARM64_MAX_REGS 4096
int snap_reg_check(uint64_t id, char *why, size_t whylen);
#endif

/* memory.c / memory_restore.c: one entry of the memory-ranges index. */
struct snap_range {
	uint64_t gpa, size, file_offset;
};

extern const struct snap_field snap_range_fields[3];

#define SNAP_PAGE 4096ULL

/* Next data extent of @fd in [*pos, end), page-rounded: 1 with [*start, *stop), 0 if none. */
int snap_next_data(int fd, uint64_t *pos, uint64_t end, uint64_t *start, uint64_t *stop);

/* pread/pwrite all of [p, p + len) at @off, in chunks, retrying EINTR; 0 or -errno. */
int snap_io_all(int fd, uint8_t *p, uint64_t len, uint64_t off, bool write);

#define MSR_IA32_TSC            0x10
#define MSR_IA32_TSC_DEADLINE   0x6e0

#endif
