// SPDX-License-Identifier: Apache-2.0
/*
 * Allocator state as JSON for the snapshot: every u64 as a "0x..." string. Restore treats the
 * input as untrusted: the window must be the configured one, and each range is re-reserved
 * through the normal checks (alignment, inside the window, no overlap) into a scratch copy
 * that replaces the live state only when everything passed.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "pci/internal.h"

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
	for (i = 0; i < a->nr; i++) {
		cJSON *e = cJSON_CreateObject();

		if (!e)
			goto err;
		cJSON_AddItemToArray(ranges, e);
		if (json_put_u64(e, "base", a->used[i].base) ||
		    json_put_u64(e, "size", a->used[i].size) ||
		    json_put_u64(e, "align", a->used[i].align))
			goto err;
	}
	return root;
err:
	cJSON_Delete(root);
	return NULL;
}

static int restore_range(struct range_alloc *tmp, const cJSON *e)
{
	uint64_t base, size, align;

	if (!cJSON_IsObject(e) || json_get_u64(e, "base", &base) ||
	    json_get_u64(e, "size", &size) || json_get_u64(e, "align", &align))
		return -EINVAL;
	return range_alloc_reserve(tmp, base, size, align) ? -EINVAL : 0;
}

int range_alloc_restore(struct range_alloc *a, const cJSON *json)
{
	const cJSON *ranges = cJSON_GetObjectItemCaseSensitive(json, "ranges"), *e;
	struct range_alloc tmp;
	uint64_t base, size;
	int ret = -EINVAL;

	if (!cJSON_IsObject(json) || json_get_u64(json, "base", &base) ||
	    json_get_u64(json, "size", &size) || base != a->base || size != a->size ||
	    !cJSON_IsArray(ranges))
		return -EINVAL;
	if (range_alloc_init(&tmp, a->name, a->base, a->size))
		return -EINVAL;
	cJSON_ArrayForEach(e, ranges) {
		ret = restore_range(&tmp, e);
		if (ret)
			goto err;
	}
	range_alloc_destroy(a);
	a->used = tmp.used;
	a->nr = tmp.nr;
	a->cap = tmp.cap;
	return 0;
err:
	range_alloc_destroy(&tmp);
	return ret;
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

/* An integral JSON number in [0, GSI_MAX). */
static int gsi_number(const cJSON *item, uint32_t *out)
{
	double d;

	if (!cJSON_IsNumber(item))
		return -EINVAL;
	d = cJSON_GetNumberValue(item);
	if (!(d >= 0 && d < GSI_MAX) || d != (double)(uint32_t)d)
		return -EINVAL;
	*out = (uint32_t)d;
	return 0;
}

static int gsi_restore_run(struct gsi_alloc *tmp, const cJSON *run)
{
	uint32_t first, last, n;

	if (!cJSON_IsArray(run) || cJSON_GetArraySize(run) != 2 ||
	    gsi_number(cJSON_GetArrayItem(run, 0), &first) ||
	    gsi_number(cJSON_GetArrayItem(run, 1), &last) || first > last)
		return -EINVAL;
	for (n = first; n <= last; n++)
		if (gsi_alloc_reserve(tmp, n))
			return -EINVAL;         /* overlapping runs */
	return 0;
}

int gsi_alloc_restore(struct gsi_alloc *g, const cJSON *json)
{
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(json, "used"), *run;
	struct gsi_alloc tmp;

	if (!cJSON_IsArray(used))
		return -EINVAL;
	gsi_alloc_init(&tmp);
	cJSON_ArrayForEach(run, used)
		if (gsi_restore_run(&tmp, run))
			return -EINVAL;
	*g = tmp;
	return 0;
}
