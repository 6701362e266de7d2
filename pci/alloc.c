// SPDX-License-Identifier: Apache-2.0
/*
 * Address-range allocator (MMIO windows, I/O ports) and GSI allocator. Plain data, no locks:
 * they live in struct vm and the VMM serializes access. Snapshot functions: alloc_snap.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/internal.h"

_Static_assert(offsetof(struct range_alloc_entry, size) == offsetof(struct range, len),
	       "a reservation is a range");

int range_alloc_init(struct range_alloc *a, const char *name, uint64_t base, uint64_t size)
{
	memset(a, 0, sizeof(*a));
	a->used = (struct range_array)RANGE_ARRAY_INIT(struct range_alloc_entry);
	if (!size || base + size - 1 < base)
		return -EINVAL;
	snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
	a->base = base;
	a->size = size;
	return 0;
}

void range_alloc_destroy(struct range_alloc *a)
{
	range_array_free(&a->used);
}

static bool in_window(const struct range_alloc *a, uint64_t base, uint64_t size)
{
	return size && base + size - 1 >= base && base >= a->base &&
	       base + size - 1 <= a->base + a->size - 1;
}

int range_alloc_reserve(struct range_alloc *a, uint64_t base, uint64_t size, uint64_t align)
{
	struct range_alloc_entry e = { base, size, align };

	if (!is_pow2(align) || base & (align - 1) || !in_window(a, base, size))
		return -EINVAL;
	return range_insert(&a->used, &e);
}

/* Aligns @v up to @align; false if that wraps. */
static bool align_up(uint64_t v, uint64_t align, uint64_t *out)
{
	uint64_t r = (v + align - 1) & ~(align - 1);

	*out = r;
	return r >= v;
}

int range_alloc_alloc(struct range_alloc *a, uint64_t size, uint64_t align, uint64_t *base)
{
	const struct range_alloc_entry *prev;
	uint64_t cand, from;
	unsigned i;

	if (!size || !is_pow2(align))
		return -EINVAL;
	/* First fit: try the window start, then just after each used range. */
	for (i = 0; i <= a->used.nr; i++) {
		prev = i ? range_alloc_entry(a, i - 1) : NULL;
		from = prev ? prev->base + prev->size : a->base;
		if (prev && from == 0)
			break;           /* the previous range ended at the top of the space */
		if (!align_up(from, align, &cand) || !in_window(a, cand, size))
			continue;
		if (range_insert_pos(&a->used, cand, size) < 0)
			continue;
		*base = cand;
		return range_alloc_reserve(a, cand, size, align);
	}
	return -ENOSPC;
}

const struct range_alloc_entry *range_alloc_find(const struct range_alloc *a, uint64_t base)
{
	int i = range_index_of(&a->used, base);

	return i < 0 ? NULL : range_alloc_entry(a, (unsigned)i);
}

int range_alloc_free(struct range_alloc *a, uint64_t base)
{
	int i = range_index_of(&a->used, base);

	if (i < 0)
		return i;
	range_remove_at(&a->used, (unsigned)i);
	return 0;
}

int range_alloc_move(struct range_alloc *a, uint64_t old_base, uint64_t new_base)
{
	struct range_alloc_entry e;
	int i = range_index_of(&a->used, old_base), ret;

	if (i < 0)
		return i;
	e = *range_alloc_entry(a, (unsigned)i);
	range_remove_at(&a->used, (unsigned)i);
	ret = range_alloc_reserve(a, new_base, e.size, e.align);
	if (ret) {
		/* Roll back: the slot just vacated is free and nr < cap, so this cannot fail. */
		range_insert(&a->used, &e);
	}
	return ret;
}

/* ------------------------------------------------------------------ GSIs */

void gsi_alloc_init(struct gsi_alloc *g)
{
	memset(g, 0, sizeof(*g));
}

bool gsi_alloc_used(const struct gsi_alloc *g, uint32_t gsi)
{
	return gsi < GSI_MAX && (g->used[gsi / 64] >> (gsi % 64) & 1);
}

static void gsi_set(struct gsi_alloc *g, uint32_t gsi, bool used)
{
	if (used)
		g->used[gsi / 64] |= 1ULL << (gsi % 64);
	else
		g->used[gsi / 64] &= ~(1ULL << (gsi % 64));
}

static int gsi_first_free(struct gsi_alloc *g, uint32_t first, uint32_t end, uint32_t *gsi)
{
	uint32_t n;

	for (n = first; n < end; n++) {
		if (!gsi_alloc_used(g, n)) {
			gsi_set(g, n, true);
			*gsi = n;
			return 0;
		}
	}
	return -ENOSPC;
}

int gsi_alloc_msi(struct gsi_alloc *g, uint32_t *gsi)
{
	return gsi_first_free(g, GSI_NR_LEGACY, GSI_MAX, gsi);
}

int gsi_alloc_legacy(struct gsi_alloc *g, uint32_t *gsi)
{
	return gsi_first_free(g, GSI_LEGACY_FIRST, GSI_NR_LEGACY, gsi);
}

int gsi_alloc_reserve(struct gsi_alloc *g, uint32_t gsi)
{
	if (gsi >= GSI_MAX)
		return -EINVAL;
	if (gsi_alloc_used(g, gsi))
		return -EEXIST;
	gsi_set(g, gsi, true);
	return 0;
}

int gsi_alloc_free(struct gsi_alloc *g, uint32_t gsi)
{
	if (gsi >= GSI_MAX)
		return -EINVAL;
	if (!gsi_alloc_used(g, gsi))
		return -ENOENT;
	gsi_set(g, gsi, false);
	return 0;
}
