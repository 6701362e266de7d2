// SPDX-License-Identifier: Apache-2.0
/*
 * state.json: the snapshot's structured state, and state.json.crc32c beside it (config.json
 * has config.json.crc32c the same way). The checksum file ("crc32c 0x%08x size %u") is
 * checked before the JSON is parsed, so a truncated or corrupted file is named as such rather
 * than as a confusing parse or field error.
 * CRC32C, not a cryptographic hash: it catches storage and copy damage; against a deliberate
 * edit no unkeyed hash helps (whoever can write state.json can rewrite the checksum), which is
 * why every field is validated anyway. See docs/snapshot.md.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/internal.h"

#define CRC32C_POLY 0x82f63b78u      /* reflected Castagnoli polynomial */
#define CHECKSUM_MAX 64

static const char *const top_keys[] = {
	"format", "version", "arch", "vm", "vcpus", "memory", "allocators", "devices", NULL,
};

/* ------------------------------------------------------------------ CRC32C */

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	unsigned k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
	}
	return crc;
}

uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
#if defined(__x86_64__)
	crc = __builtin_cpu_supports("sse4.2") ? crc32c_hw(crc, buf, len)
					       : crc32c_sw(crc, buf, len);
#else
	crc = crc32c_sw(crc, buf, len);
#endif
	return ~crc;
}

/* ------------------------------------------------------------------ building */

cJSON *snap_state_new(void)
{
	cJSON *s = cJSON_CreateObject();

	if (s && cJSON_AddStringToObject(s, "format", SNAP_FORMAT_NAME) &&
	    cJSON_AddNumberToObject(s, "version", SNAP_FORMAT_VERSION) &&
	    cJSON_AddStringToObject(s, "arch", SNAP_ARCH) &&
	    cJSON_AddObjectToObject(s, "vm") && cJSON_AddArrayToObject(s, "vcpus") &&
	    cJSON_AddObjectToObject(s, "memory") && cJSON_AddObjectToObject(s, "allocators") &&
	    cJSON_AddObjectToObject(s, "devices"))
		return s;
	cJSON_Delete(s);
	return NULL;
}

int snap_state_set_vm(cJSON *state, cJSON *vm)
{
	if (!vm || !cJSON_ReplaceItemInObjectCaseSensitive(state, "vm", vm)) {
		cJSON_Delete(vm);
		return -ENOMEM;
	}
	return 0;
}

int snap_state_add_vcpu(cJSON *state, cJSON *vcpu)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(state, "vcpus");

	if (!vcpu || !cJSON_AddItemToArray(arr, vcpu)) {
		cJSON_Delete(vcpu);
		return -ENOMEM;
	}
	return 0;
}

static int add_named(cJSON *state, const char *section, const char *name, cJSON *item)
{
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(state, section);
	int ret = 0;

	if (!item)
		return -ENOMEM;
	if (!name || !name[0] || cJSON_GetObjectItemCaseSensitive(obj, name))
		ret = -EINVAL;          /* ids are unique and non-empty */
	else if (!cJSON_AddItemToObject(obj, name, item))
		ret = -ENOMEM;
	if (ret)
		cJSON_Delete(item);
	return ret;
}

int snap_state_add_allocator(cJSON *state, const char *name, cJSON *alloc)
{
	return add_named(state, "allocators", name, alloc);
}

int snap_state_add_device(cJSON *state, const char *id, cJSON *dev)
{
	return add_named(state, "devices", id, dev);
}

/* @name and "<name>.crc32c" beside it, through @w. */
static int put_checked(struct snap_writer *w, const char *name, const char *sum_name,
		       const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text);
	char sum[CHECKSUM_MAX];
	int ret;

	snprintf(sum, sizeof(sum), "crc32c 0x%08" PRIx32 " size %zu\n", snap_crc32c(0, text, len),
		 len);
	ret = snap_writer_put(w, name, text, len, err, errlen);
	return ret ?: snap_writer_put(w, sum_name, sum, strlen(sum), err, errlen);
}

int snap_state_write(struct snap_writer *w, const cJSON *state, char *err, size_t errlen)
{
	char *text = cJSON_PrintUnformatted(state);
	int ret;

	if (!text)
		return set_err(err, errlen, -ENOMEM, "out of memory printing %s", SNAP_STATE_FILE);
	ret = put_checked(w, SNAP_STATE_FILE, SNAP_CHECKSUM_FILE, text, err, errlen);
	free(text);
	return ret;
}

int snap_config_write(struct snap_writer *w, const char *json, char *err, size_t errlen)
{
	return put_checked(w, SNAP_CONFIG_FILE, SNAP_CONFIG_CHECKSUM_FILE, json, err, errlen);
}

/* ------------------------------------------------------------------ reading */

static int read_checksum(int dirfd, const char *sum_name, size_t max, uint32_t *crc,
			 size_t *size, char *err, size_t errlen)
{
	char *text, again[CHECKSUM_MAX];
	unsigned long long n;
	unsigned c;
	size_t len;
	int ret = snap_read_file(dirfd, sum_name, CHECKSUM_MAX, &text, &len, err, errlen);

	if (ret)
		return ret;
	/* Parse, print back and compare: anything but the canonical line is refused. */
	if (sscanf(text, "crc32c 0x%8x size %llu", &c, &n) == 2)
		snprintf(again, sizeof(again), "crc32c 0x%08x size %llu\n", c, n);
	else
		again[0] = '\0';
	if (strcmp(again, text))
		ret = set_err(err, errlen, -EINVAL,
			       "%s: expected one line \"crc32c 0x<8 hex digits> size <bytes>\"",
			       sum_name);
	else if (n > max)
		ret = set_err(err, errlen, -EINVAL, "%s: size %llu is above the %zu-byte limit",
			       sum_name, n, max);
	free(text);
	*crc = c;
	*size = (size_t)n;
	return ret;
}

static int check_named(const cJSON *s, const char *section, struct snap_ctx *c)
{
	const cJSON *obj = snap_get_object(s, section, c), *item;

	if (!obj)
		return -EINVAL;
	cJSON_ArrayForEach(item, obj) {
		if (cJSON_GetObjectItemCaseSensitive(obj, item->string) != item)
			return snap_fail(c, section, "duplicate id \"%s\"", item->string);
		if (!cJSON_IsObject(item))
			return snap_fail(c, section, "\"%s\" is not an object", item->string);
	}
	return 0;
}

static int check_vcpus(const cJSON *s, struct snap_ctx *c)
{
	int n, i = 0;
	const cJSON *arr = snap_get_counted(s, "vcpus", true, SNAP_MAX_VCPUS, "vCPUs", &n, c), *v;
	uint64_t id;

	if (!arr)
		return -EINVAL;
	cJSON_ArrayForEach(v, arr) {
		size_t mark = snap_ctx_push(c, "vcpus", 0);

		snap_ctx_push(c, NULL, i);
		if (!cJSON_IsObject(v))
			return snap_fail(c, NULL, "expected an object");
		if (snap_get_uint(v, "id", SNAP_MAX_VCPUS - 1, &id, c))
			return -EINVAL;
		if (id != (uint64_t)i)
			return snap_fail(c, "id", "%llu, expected %d (vCPUs in id order)",
					 (unsigned long long)id, i);
		snap_ctx_pop(c, mark);
		i++;
	}
	return 0;
}

/* An x86 snapshot on arm64 or back: registers, interrupt controller and layout differ. */
static int check_arch(const cJSON *s, struct snap_ctx *c)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(s, "arch");
	const char *arch = cJSON_GetStringValue(item);

	if (!item)
		return snap_fail(c, "arch", "missing (this vireo restores %s VMs)", SNAP_ARCH);
	if (!arch)
		return snap_fail(c, "arch", "expected a string");
	if (strcmp(arch, SNAP_ARCH))
		return snap_fail(c, "arch", "a snapshot of an \"%.32s\" VM; this vireo restores %s "
				 "VMs only", arch, SNAP_ARCH);
	return 0;
}

static int check_shape(const cJSON *s, struct snap_ctx *c)
{
	const char *format = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "format"));
	uint64_t version;

	if (!cJSON_IsObject(s))
		return snap_fail(c, NULL, "expected a JSON object");
	if (!format || strcmp(format, SNAP_FORMAT_NAME))
		return snap_fail(c, "format", "expected \"%s\"", SNAP_FORMAT_NAME);
	if (snap_get_uint(s, "version", UINT32_MAX, &version, c))
		return -EINVAL;
	if (version != SNAP_FORMAT_VERSION)
		return snap_fail(c, "version", "%llu is not supported (this vireo reads %d)",
				 (unsigned long long)version, SNAP_FORMAT_VERSION);
	if (check_arch(s, c))
		return -EINVAL;
	if (snap_check_keys(s, top_keys, c) || !snap_get_object(s, "vm", c) ||
	    !snap_get_object(s, "memory", c) || check_vcpus(s, c) ||
	    check_named(s, "allocators", c) || check_named(s, "devices", c))
		return -EINVAL;
	return 0;
}

static int parse_state(const char *text, size_t len, cJSON **out, char *err, size_t errlen)
{
	cJSON *s = cJSON_ParseWithLength(text, len);
	struct snap_ctx c;

	if (!s) {
		const char *at = cJSON_GetErrorPtr();
		ptrdiff_t pos = at && at >= text && at <= text + len ? at - text : -1;

		return set_err(err, errlen, -EINVAL, "%s: not valid JSON (near byte %td)",
				SNAP_STATE_FILE, pos);
	}
	snap_ctx_init(&c, SNAP_STATE_FILE, "", err, errlen);
	if (check_shape(s, &c)) {
		cJSON_Delete(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

/* @name, its length and CRC32C as "<name>.crc32c" says (at most @max bytes). */
static int read_checked(int dirfd, const char *name, const char *sum_name, size_t max,
			char **text, size_t *len, char *err, size_t errlen)
{
	uint32_t want_crc, crc;
	size_t want_len;
	int ret;

	/* The file first: a FIFO or another user's file is named as such, checksum or not. */
	ret = snap_read_file(dirfd, name, max, text, len, err, errlen);
	if (ret)
		return ret;
	ret = read_checksum(dirfd, sum_name, max, &want_crc, &want_len, err, errlen);
	crc = snap_crc32c(0, *text, *len);
	if (!ret && *len != want_len)
		ret = set_err(err, errlen, -EINVAL, "%s: %zu bytes, %s says %zu (truncated?)",
			       name, *len, sum_name, want_len);
	else if (!ret && crc != want_crc)
		ret = set_err(err, errlen, -EINVAL,
			       "%s: checksum mismatch (crc32c 0x%08x, %s says 0x%08x)",
			       name, crc, sum_name, want_crc);
	if (ret) {
		free(*text);
		*text = NULL;
	}
	return ret;
}

int snap_state_read(int dirfd, cJSON **out, char *err, size_t errlen)
{
	size_t len;
	char *text;
	int ret = read_checked(dirfd, SNAP_STATE_FILE, SNAP_CHECKSUM_FILE, SNAP_MAX_STATE_SIZE,
			       &text, &len, err, errlen);

	if (ret)
		return ret;
	ret = parse_state(text, len, out, err, errlen);
	free(text);
	return ret;
}

int snap_config_read(int dirfd, char **text, size_t *len, char *err, size_t errlen)
{
	return read_checked(dirfd, SNAP_CONFIG_FILE, SNAP_CONFIG_CHECKSUM_FILE,
			    SNAP_MAX_CONFIG_SIZE, text, len, err, errlen);
}

/* ------------------------------------------------------------------ lookups */

unsigned snap_state_nr_vcpus(const cJSON *state)
{
	return (unsigned)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(state, "vcpus"));
}

const cJSON *snap_state_vm(const cJSON *state)
{
	return cJSON_GetObjectItemCaseSensitive(state, "vm");
}

const cJSON *snap_state_vcpu(const cJSON *state, unsigned id)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(state, "vcpus"), (int)id);
}

const cJSON *snap_state_allocator(const cJSON *state, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(state, "allocators"), name);
}

const cJSON *snap_state_device(const cJSON *state, const char *id)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(state, "devices"),
						id);
}
