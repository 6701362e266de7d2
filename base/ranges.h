/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one sorted-range container: a growable array of disjoint [base, base + len) items kept
 * sorted by base, with binary search. Items are the caller's structs, @stride bytes each, and
 * each begins with the two fields of struct range (the bus's ranges, the PCI allocators'
 * reservations). No locking: the owner serializes.
 */
#ifndef VIREO_BASE_RANGES_H
#define VIREO_BASE_RANGES_H

#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t base, len;
};

struct range_array {
	void *items;
	size_t stride;
	unsigned nr, cap;
};

#define RANGE_ARRAY_INIT(type) { .items = NULL, .stride = sizeof(type), .nr = 0, .cap = 0 }

static inline void *range_at(const struct range_array *a, unsigned i)
{
	return (char *)a->items + (size_t)i * a->stride;
}

void range_array_free(struct range_array *a);
/* Index of the first item ending at or after @addr; a->nr when there is none. */
unsigned range_lower_bound(const struct range_array *a, uint64_t addr);
/* Where @base/@len would go: its index, -EINVAL (empty or wrapping) or -EEXIST (overlap). */
int range_insert_pos(const struct range_array *a, uint64_t base, uint64_t len);
/* Inserts a copy of @item (which starts with a struct range): 0, -EINVAL, -EEXIST, -ENOMEM. */
int range_insert(struct range_array *a, const void *item);
/* The index of the item starting exactly at @base, or -ENOENT. */
int range_index_of(const struct range_array *a, uint64_t base);
void range_remove_at(struct range_array *a, unsigned i);
/* The item wholly holding [addr, addr + len) (len >= 1), or NULL. */
void *range_find(const struct range_array *a, uint64_t addr, uint64_t len);

#endif
