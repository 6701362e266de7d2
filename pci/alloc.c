// SPDX-License-Identifier: Apache-2.0
/*
 * Address-range allocator (MMIO windows, I/O ports) and GSI allocator. Plain data, no locks:
 * they live in struct vm and the VMM serializes access. Snapshot functions: alloc_snap.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/internal.h"

int range_alloc_init(struct range_alloc *a, const char *name, uint64_t base, uint64_t size)
{
	memset(a, 0, sizeof(*a));
	if (!size || base + size - 1 < base)
		return -EINVAL;
	snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
	a->base = base;
	a->size = size;
	return 0;
}

void range_alloc_destroy(struct range_alloc *a)
{
	free(a->used);
	a->used = NULL;
	a->nr = a->cap = 0;
}

/* Last byte of [base, base + size), or 0 with *ok = false if it wraps. */
static uint64_t last_byte(uint64_t base, uint64_t size, bool *ok)
{
	*ok = size && base + size - 1 >= base;
	return base + size - 1;
}

static bool in_window(const struct range_alloc *a, uint64_t base, uint64_t size)
{
	bool ok;
	uint64_t last = last_byte(base, size, &ok);

	return ok && base >= a->base && last <= a->base + a->size - 1;
}

/* Index of the first entry ending at or after @addr (entries are sorted and disjoint). */
static unsigned lower_bound(const struct range_alloc *a, uint64_t addr)
{
	unsigned lo = 0, hi = a->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct range_alloc_entry *e = &a->used[mid];

		if (e->base + e->size - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index where [base, base + size) would go, or -EEXIST if it overlaps an entry. */
static int insert_pos(const struct range_alloc *a, uint64_t base, uint64_t size)
{
	unsigned i = lower_bound(a, base);

	if (i < a->nr && a->used[i].base <= base + size - 1)
		return -EEXIST;
	return (int)i;
}

static int insert_at(struct range_alloc *a, unsigned i, const struct range_alloc_entry *e)
{
	if (a->nr == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 8;
		struct range_alloc_entry *n = realloc(a->used, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->used = n;
		a->cap = cap;
	}
	memmove(&a->used[i + 1], &a->used[i], (a->nr - i) * sizeof(*e));
	a->used[i] = *e;
	a->nr++;
	return 0;
}

int range_alloc_reserve(struct range_alloc *a, uint64_t base, uint64_t size, uint64_t align)
{
	struct range_alloc_entry e = { base, size, align };
	int i;

	if (!is_pow2(align) || base & (align - 1) || !in_window(a, base, size))
		return -EINVAL;
	i = insert_pos(a, base, size);
	return i < 0 ? i : insert_at(a, (unsigned)i, &e);
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
	uint64_t cand;
	unsigned i;

	if (!size || !is_pow2(align))
		return -EINVAL;
	/* First fit: try the window start, then just after each used range. */
	for (i = 0; i <= a->nr; i++) {
		uint64_t from = i == 0 ? a->base : a->used[i - 1].base + a->used[i - 1].size;

		if (i > 0 && from == 0)
			break;           /* the previous range ended at the top of the space */
		if (!align_up(from, align, &cand) || !in_window(a, cand, size))
			continue;
		if (insert_pos(a, cand, size) < 0)
			continue;
		*base = cand;
		return range_alloc_reserve(a, cand, size, align);
	}
	return -ENOSPC;
}

static int find_index(const struct range_alloc *a, uint64_t base)
{
	unsigned i = lower_bound(a, base);

	return i < a->nr && a->used[i].base == base ? (int)i : -ENOENT;
}

const struct range_alloc_entry *range_alloc_find(const struct range_alloc *a, uint64_t base)
{
	int i = find_index(a, base);

	return i < 0 ? NULL : &a->used[i];
}

static void remove_at(struct range_alloc *a, unsigned i)
{
	memmove(&a->used[i], &a->used[i + 1], (a->nr - i - 1) * sizeof(a->used[0]));
	a->nr--;
}

int range_alloc_free(struct range_alloc *a, uint64_t base)
{
	int i = find_index(a, base);

	if (i < 0)
		return i;
	remove_at(a, (unsigned)i);
	return 0;
}

int range_alloc_move(struct range_alloc *a, uint64_t old_base, uint64_t new_base)
{
	struct range_alloc_entry e;
	int i = find_index(a, old_base), ret;

	if (i < 0)
		return i;
	e = a->used[i];
	remove_at(a, (unsigned)i);
	ret = range_alloc_reserve(a, new_base, e.size, e.align);
	if (ret) {
		/* Roll back: the slot we just vacated is free, and nr < cap, so this cannot fail. */
		insert_at(a, (unsigned)insert_pos(a, e.base, e.size), &e);
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
