// SPDX-License-Identifier: Apache-2.0
/*
 * Allocator state as JSON for the snapshot: every u64 as a "0x..." string. Restore treats the
 * input as untrusted: the window must be the configured one, and each range is re-reserved
 * through the normal checks (alignment, inside the window, no overlap) into a scratch copy
 * that replaces the live state only when everything passed.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci/internal.h"
#include "base/log.h"

cJSON *range_alloc_save(const struct range_alloc *a)
{
	cJSON *root = cJSON_CreateObject(), *ranges;
	unsigned i;

	if (!root || !cJSON_AddStringToObject(root, "name", a->name) ||
	    json_put_u64(root, "base", a->base) || json_put_u64(root, "size", a->size))
		goto err;
	ranges = cJSON_AddArrayToObject(root, "ranges");
	if (!ranges)
		goto err;
	for (i = 0; i < a->used.nr; i++) {
		const struct range_alloc_entry *r = range_alloc_entry(a, i);
		cJSON *e = cJSON_CreateObject();

		if (!e)
			goto err;
		cJSON_AddItemToArray(ranges, e);
		if (json_put_u64(e, "base", r->base) || json_put_u64(e, "size", r->size) ||
		    json_put_u64(e, "align", r->align))
			goto err;
	}
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}

/* One saved range: the reasons range_alloc_reserve() would refuse it, each named. */
static int restore_range(struct range_alloc *tmp, const cJSON *e, unsigned i, char *err,
			 size_t errlen)
{
	uint64_t base, size, align;
	char where[24];
	int ret;

	snprintf(where, sizeof(where), "ranges[%u]", i);
	if (!cJSON_IsObject(e))
		return json_field_err(err, errlen, where, NULL, "expected an object");
	ret = json_field_u64(e, where, "base", &base, err, errlen);
	ret = ret ?: json_field_u64(e, where, "size", &size, err, errlen);
	ret = ret ?: json_field_u64(e, where, "align", &align, err, errlen);
	if (ret)
		return ret;
	if (!is_pow2(align))
		return json_field_err(err, errlen, where, "align", "0x%llx is not a power of two",
				      (unsigned long long)align);
	if (base & (align - 1))
		return json_field_err(err, errlen, where, "base", "0x%llx is not aligned to 0x%llx",
				      (unsigned long long)base, (unsigned long long)align);
	if (!size || base < tmp->base || size > tmp->size || base - tmp->base > tmp->size - size)
		return json_field_err(err, errlen, where, NULL, "[0x%llx, +0x%llx) is not inside "
				      "the %s window [0x%llx, +0x%llx)", (unsigned long long)base,
				      (unsigned long long)size, tmp->name,
				      (unsigned long long)tmp->base, (unsigned long long)tmp->size);
	ret = range_alloc_reserve(tmp, base, size, align);
	if (ret == -EEXIST)
		return json_field_err(err, errlen, where, NULL, "[0x%llx, +0x%llx) overlaps an "
				      "earlier range", (unsigned long long)base,
				      (unsigned long long)size);
	return ret ? set_err(err, errlen, ret, "%s", strerror(-ret)) : 0;
}

/* The window must be this VM's: same base and size. */
static int check_window(const struct range_alloc *a, const cJSON *json, char *err,
			size_t errlen)
{
	uint64_t base, size;
	int ret;

	if (!cJSON_IsObject(json))
		return json_field_err(err, errlen, NULL, NULL, "expected an object");
	ret = json_field_u64(json, NULL, "base", &base, err, errlen);
	ret = ret ?: json_field_u64(json, NULL, "size", &size, err, errlen);
	if (ret)
		return ret;
	if (base != a->base)
		return json_field_err(err, errlen, NULL, "base", "0x%llx, but this VM's %s window "
				      "starts at 0x%llx", (unsigned long long)base, a->name,
				      (unsigned long long)a->base);
	if (size != a->size)
		return json_field_err(err, errlen, NULL, "size", "0x%llx, but this VM's %s window "
				      "is 0x%llx bytes", (unsigned long long)size, a->name,
				      (unsigned long long)a->size);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(json, "ranges")))
		return json_field_err(err, errlen, NULL, "ranges", "expected an array");
	return 0;
}

int range_alloc_restore(struct range_alloc *a, const cJSON *json, char *err,
			    size_t errlen)
{
	const cJSON *e;
	struct range_alloc tmp;
	unsigned i = 0;
	int ret = check_window(a, json, err, errlen);

	if (ret)
		return ret;
	if (range_alloc_init(&tmp, a->name, a->base, a->size))
		return set_err(err, errlen, -ENOMEM, "out of memory");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(json, "ranges")) {
		ret = restore_range(&tmp, e, i++, err, errlen);
		if (ret) {
			range_alloc_destroy(&tmp);
			return ret;
		}
	}
	range_alloc_destroy(a);
	a->used = tmp.used;
	return 0;
}


static int gsi_put_run(cJSON *used, uint32_t first, uint32_t last)
{
	cJSON *run = cJSON_CreateArray();

	if (!run)
		return -ENOMEM;
	cJSON_AddItemToArray(used, run);
	if (!cJSON_AddItemToArray(run, cJSON_CreateNumber(first)) ||
	    !cJSON_AddItemToArray(run, cJSON_CreateNumber(last)))
		return -ENOMEM;
	return 0;
}

cJSON *gsi_alloc_save(const struct gsi_alloc *g)
{
	cJSON *root = cJSON_CreateObject(), *used;
	uint32_t n = 0, first;

	used = root ? cJSON_AddArrayToObject(root, "used") : NULL;
	if (!used)
		goto err;
	while (n < GSI_MAX) {
		if (!gsi_alloc_used(g, n)) {
			n++;
			continue;
		}
		for (first = n; n < GSI_MAX && gsi_alloc_used(g, n); n++)
			;
		if (gsi_put_run(used, first, n - 1))
			goto err;
	}
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}

/* An integral JSON number in [0, GSI_MAX): used[@r][@k]. */
static int gsi_number(const cJSON *item, unsigned r, unsigned k, uint32_t *out, char *err,
		      size_t errlen)
{
	char where[32];
	double d;

	snprintf(where, sizeof(where), "used[%u][%u]", r, k);
	if (!cJSON_IsNumber(item))
		return json_field_err(err, errlen, where, NULL, "expected a GSI number");
	d = cJSON_GetNumberValue(item);
	if (!(d >= 0 && d < GSI_MAX) || d != (double)(uint32_t)d)
		return json_field_err(err, errlen, where, NULL, "%.17g is not a GSI in 0..%u", d,
				      GSI_MAX - 1);
	*out = (uint32_t)d;
	return 0;
}

static int gsi_restore_run(struct gsi_alloc *tmp, const cJSON *run, unsigned r, char *err,
			   size_t errlen)
{
	uint32_t first, last, n;
	char where[24];
	int ret;

	snprintf(where, sizeof(where), "used[%u]", r);
	if (!cJSON_IsArray(run) || cJSON_GetArraySize(run) != 2)
		return json_field_err(err, errlen, where, NULL, "expected [first, last]");
	ret = gsi_number(cJSON_GetArrayItem(run, 0), r, 0, &first, err, errlen);
	ret = ret ?: gsi_number(cJSON_GetArrayItem(run, 1), r, 1, &last, err, errlen);
	if (ret)
		return ret;
	if (first > last)
		return json_field_err(err, errlen, where, NULL, "[%u, %u] ends before it starts",
				      first, last);
	for (n = first; n <= last; n++)
		if (gsi_alloc_reserve(tmp, n))
			return json_field_err(err, errlen, where, NULL, "[%u, %u]: GSI %u is "
					      "already in an earlier run", first, last, n);
	return 0;
}

int gsi_alloc_restore(struct gsi_alloc *g, const cJSON *json, char *err, size_t errlen)
{
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(json, "used"), *run;
	struct gsi_alloc tmp;
	unsigned r = 0;
	int ret;

	if (!cJSON_IsObject(json))
		return json_field_err(err, errlen, NULL, NULL, "expected an object");
	if (!cJSON_IsArray(used))
		return json_field_err(err, errlen, NULL, "used", "expected an array of runs");
	gsi_alloc_init(&tmp);
	cJSON_ArrayForEach(run, used) {
		ret = gsi_restore_run(&tmp, run, r++, err, errlen);
		if (ret)
			return ret;
	}
	*g = tmp;
	return 0;
}

