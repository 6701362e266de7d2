// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/ranges.h"

static const struct range *item(const struct range_array *a, unsigned i)
{
	return range_at(a, i);
}

/* Last byte of the range; callers have checked it does not wrap. */
static uint64_t last_byte(const struct range *r)
{
	return r->base + (r->len - 1);
}

void range_array_free(struct range_array *a)
{
	free(a->items);
	a->items = NULL;
	a->nr = a->cap = 0;
}

unsigned range_lower_bound(const struct range_array *a, uint64_t addr)
{
	unsigned lo = 0, hi = a->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (last_byte(item(a, mid)) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int range_insert_pos(const struct range_array *a, uint64_t base, uint64_t len)
{
	unsigned i;

	if (!len || base + (len - 1) < base)
		return -EINVAL;
	i = range_lower_bound(a, base);
	if (i < a->nr && item(a, i)->base <= base + (len - 1))
		return -EEXIST;
	return (int)i;
}

int range_insert(struct range_array *a, const void *new_item)
{
	const struct range *r = new_item;
	int i = range_insert_pos(a, r->base, r->len);

	if (i < 0)
		return i;
	if (a->nr == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 8;
		void *n = realloc(a->items, cap * a->stride);

		if (!n)
			return -ENOMEM;
		a->items = n;
		a->cap = cap;
	}
	memmove(range_at(a, (unsigned)i + 1), range_at(a, (unsigned)i),
		(a->nr - (unsigned)i) * a->stride);
	memcpy(range_at(a, (unsigned)i), new_item, a->stride);
	a->nr++;
	return 0;
}

int range_index_of(const struct range_array *a, uint64_t base)
{
	unsigned i = range_lower_bound(a, base);

	return i < a->nr && item(a, i)->base == base ? (int)i : -ENOENT;
}

void range_remove_at(struct range_array *a, unsigned i)
{
	memmove(range_at(a, i), range_at(a, i + 1), (a->nr - i - 1) * a->stride);
	a->nr--;
}

void *range_find(const struct range_array *a, uint64_t addr, uint64_t len)
{
	unsigned i = range_lower_bound(a, addr);
	const struct range *r = i < a->nr ? item(a, i) : NULL;

	if (!r || addr < r->base || addr + (len - 1) < addr || addr + (len - 1) > last_byte(r))
		return NULL;
	return range_at(a, i);
}
