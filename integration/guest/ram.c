/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: RAM sampling. Pages spread over every RAM entry of the memory map get a
 * pattern written and read back (all written first, so aliased pages show up), then their old
 * contents back; pages the guest itself, the firmware area and ACPI occupy are excluded.
 */
#include "guest.h"

#define RAM_SAMPLES       64
#define EXCL_MAX          64
#define E820_RAM          1

static struct { uint64_t s, e; } excl[EXCL_MAX];
static unsigned excl_n;

static uint64_t samples[RAM_SAMPLES + 2];
static uint64_t saved[RAM_SAMPLES + 2][3];
static const unsigned qw_off[3] = { 0, 2048, 4088 };

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

/* Memory the RAM test must not touch, and the AP trampoline must avoid. */

void ram_exclude(uint64_t start, uint64_t len)
{
	if (len && excl_n < EXCL_MAX) {
		excl[excl_n].s = align_down(start, GUEST_PAGE);
		excl[excl_n].e = align_up(start + len, GUEST_PAGE);
		excl_n++;
	}
}

bool ram_excluded(uint64_t page)
{
	for (unsigned i = 0; i < excl_n; i++)
		if (page < excl[i].e && page + GUEST_PAGE > excl[i].s)
			return true;
	return false;
}

struct ram_result {
	unsigned regions, pages, bad, unmapped;
	uint64_t bad_pa;
};

static uint64_t pattern(uint64_t pa)
{
	return (pa * 0x9E3779B97F4A7C15ULL) ^ 0x5A5AA5A5C3C33C3CULL;
}

/* First page, last page and RAM_SAMPLES pages evenly spread, minus excluded pages. */
static unsigned pick_samples(uint64_t s, uint64_t e)
{
	uint64_t first = align_up(s, GUEST_PAGE), end = align_down(e, GUEST_PAGE);
	if (end <= first)
		return 0;
	uint64_t last = end - GUEST_PAGE, step = (last - first) / (RAM_SAMPLES + 1);
	unsigned n = 0;
	for (unsigned k = 0; k <= RAM_SAMPLES + 1; k++) {
		uint64_t pa = k == RAM_SAMPLES + 1 ? last : align_down(first + step * k, GUEST_PAGE);
		if ((n && pa <= samples[n - 1]) || ram_excluded(pa))
			continue;
		samples[n++] = pa;
	}
	return n;
}

/* Write all samples first, then verify, so aliased pages show up; restore afterwards. */
static void ram_sample_test(unsigned n, struct ram_result *r)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < 3; j++) {
			volatile uint64_t *q = (volatile uint64_t *)(uintptr_t)(samples[i] + qw_off[j]);
			saved[i][j] = *q;
			*q = pattern(samples[i] + qw_off[j]);
		}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < 3; j++) {
			volatile uint64_t *q = (volatile uint64_t *)(uintptr_t)(samples[i] + qw_off[j]);
			if (*q != pattern(samples[i] + qw_off[j]) && r->bad++ == 0)
				r->bad_pa = samples[i] + qw_off[j];
		}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < 3; j++)
			*(volatile uint64_t *)(uintptr_t)(samples[i] + qw_off[j]) = saved[i][j];
}

static void ram_region(uint64_t s, uint64_t e, struct ram_result *r)
{
	unsigned n = pick_samples(s, e), m = 0;
	for (unsigned i = 0; i < n; i++) {
		if (phys_map(samples[i], GUEST_PAGE))
			samples[m++] = samples[i];
		else
			r->unmapped++;
	}
	r->regions++;
	r->pages += m;
	ram_sample_test(m, r);
}

static void report_ram(const char *name, const struct ram_result *r)
{
	char first[40] = "";
	if (r->bad)
		gsnprintf(first, sizeof(first), " (first at 0x%lx)", r->bad_pa);
	check(name, r->pages && !r->bad && !r->unmapped,
	      "%u regions, %u pages sampled, %u mismatches%s, %u unmappable", r->regions,
	      r->pages, r->bad, first, r->unmapped);
}

void check_ram(const struct hvm_memmap_entry *memmap, unsigned memmap_n, uint64_t mem_mib)
{
	struct ram_result lo = { 0 }, hi = { 0 };
	for (unsigned i = 0; i < memmap_n; i++) {
		uint64_t s = memmap[i].addr, e = s + memmap[i].size;
		if (memmap[i].type != E820_RAM)
			continue;
		if (s < FOUR_GIB)
			ram_region(s, e < FOUR_GIB ? e : FOUR_GIB, &lo);
		if (e > FOUR_GIB)
			ram_region(s > FOUR_GIB ? s : FOUR_GIB, e, &hi);
	}
	report_ram("ram_low", &lo);
	if (hi.regions)
		report_ram("ram_high", &hi);
	else if (mem_mib > 3072)
		check("ram_high", false, "mem=%lu MiB needs RAM above 4 GiB, the memmap has none",
		      mem_mib);
	else
		check("ram_high", true, "none above 4GiB%s", mem_mib ? "" : " (no mem= given)");
}

