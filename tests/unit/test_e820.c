// SPDX-License-Identifier: Apache-2.0
/* arch/x86_64/e820.c and vmm/memory.c: RAM split around the 32-bit hole, the e820 map. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"
#include "base/memory.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entries are 20 bytes (boot_params)");

/* A guest_mem with the arch layout of @size bytes but no backing (e820 reads regions only). */
static struct guest_mem layout_only(uint64_t size)
{
	struct guest_mem mem = { .memfd = -1, .total = size };

	mem.nr_regions = arch_ram_regions(size, mem.regions);
	return mem;
}

static void expect_region(const struct guest_region *r, uint64_t gpa, uint64_t size)
{
	assert_int_equal(r->gpa, gpa);
	assert_int_equal(r->size, size);
}

static void expect_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_regions_2m_single(void **state)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_regions(2 * MiB, r), 1);
	expect_region(&r[0], 0, 2 * MiB);
}

static void test_regions_512m_single(void **state)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_regions(512 * MiB, r), 1);
	expect_region(&r[0], 0, 512 * MiB);
}

static void test_regions_3g_exactly_fills_below_hole(void **state)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_regions(3 * GiB, r), 1);
	expect_region(&r[0], 0, LAYOUT_MEM_32BIT_GAP_START);
}

static void test_regions_3g_plus_4k_spills_above_4g(void **state)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_regions(3 * GiB + 4 * KiB, r), 2);
	expect_region(&r[0], 0, 3 * GiB);
	expect_region(&r[1], 4 * GiB, 4 * KiB);
}

static void test_regions_5g_split_around_hole(void **state)
{
	struct guest_region r[GUEST_MEM_MAX_REGIONS];

	(void)state;
	assert_int_equal(arch_ram_regions(5 * GiB, r), 2);
	expect_region(&r[0], 0, 3 * GiB);
	expect_region(&r[1], LAYOUT_RAM_64BIT_START, 2 * GiB);
	/* Nothing is ever placed in the 32-bit MMIO hole. */
	assert_true(r[0].gpa + r[0].size <= LAYOUT_MEM_32BIT_GAP_START);
	assert_true(r[1].gpa >= LAYOUT_MEM_32BIT_GAP_START + LAYOUT_MEM_32BIT_GAP_SIZE);
}

static void test_e820_512m(void **state)
{
	struct guest_mem mem = layout_only(512 * MiB);
	struct e820_entry e[E820_MAX_ENTRIES];

	(void)state;
	assert_int_equal(arch_e820_build(&mem, e, E820_MAX_ENTRIES), 4);
	expect_entry(&e[0], 0, 0xa0000, E820_RAM);
	expect_entry(&e[1], 0xa0000, 0x100000 - 0xa0000, E820_RESERVED);
	expect_entry(&e[2], 0x100000, 512 * MiB - 0x100000, E820_RAM);
	expect_entry(&e[3], LAYOUT_PCI_ECAM_START, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
}

static void test_e820_5g(void **state)
{
	struct guest_mem mem = layout_only(5 * GiB);
	struct e820_entry e[E820_MAX_ENTRIES];

	(void)state;
	assert_int_equal(arch_e820_build(&mem, e, E820_MAX_ENTRIES), 5);
	expect_entry(&e[0], 0, 0xa0000, E820_RAM);
	expect_entry(&e[1], 0xa0000, 0x60000, E820_RESERVED);
	expect_entry(&e[2], 0x100000, 3 * GiB - 0x100000, E820_RAM);
	expect_entry(&e[3], LAYOUT_PCI_ECAM_START, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED);
	expect_entry(&e[4], 4 * GiB, 2 * GiB, E820_RAM);
}

static void test_e820_total_ram_matches_size(void **state)
{
	static const uint64_t sizes[] = { 2 * MiB, 64 * MiB, 3 * GiB, 3 * GiB + 4 * KiB,
					  5 * GiB, 1ULL << 40 };
	struct e820_entry e[E820_MAX_ENTRIES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct guest_mem mem = layout_only(sizes[i]);
		uint64_t ram = 0, prev_end = 0;
		int n = arch_e820_build(&mem, e, E820_MAX_ENTRIES), j;

		assert_true(n > 0);
		for (j = 0; j < n; j++) {
			/* Sorted, non-overlapping; in the 32-bit MMIO hole only the ECAM. */
			assert_true(e[j].addr >= prev_end);
			prev_end = e[j].addr + e[j].size;
			if (e[j].type == E820_RAM)
				ram += e[j].size;
			if (e[j].addr == LAYOUT_PCI_ECAM_START)
				assert_int_equal(e[j].type, E820_RESERVED);
			else
				assert_false(e[j].addr < LAYOUT_RAM_64BIT_START &&
					     prev_end > LAYOUT_MEM_32BIT_GAP_START);
		}
		/* All RAM but the 384 KiB legacy hole is listed as usable. */
		assert_int_equal(ram, sizes[i] - 0x60000);
	}
}

static void test_e820_enospc(void **state)
{
	struct guest_mem small = layout_only(512 * MiB), big = layout_only(5 * GiB);
	struct e820_entry e[5];

	(void)state;
	assert_int_equal(arch_e820_build(&small, e, 0), -ENOSPC);
	assert_int_equal(arch_e820_build(&small, e, 3), -ENOSPC);
	assert_int_equal(arch_e820_build(&small, e, 4), 4);
	assert_int_equal(arch_e820_build(&big, e, 4), -ENOSPC);
	assert_int_equal(arch_e820_build(&big, e, 5), 5);
}

static void test_e820_einval_for_tiny_ram(void **state)
{
	struct guest_mem one_mib = layout_only(1 * MiB), below = layout_only(640 * KiB);
	struct guest_mem none = { .memfd = -1 };
	struct e820_entry e[E820_MAX_ENTRIES];

	(void)state;
	assert_int_equal(arch_e820_build(&one_mib, e, E820_MAX_ENTRIES), -EINVAL);
	assert_int_equal(arch_e820_build(&below, e, E820_MAX_ENTRIES), -EINVAL);
	assert_int_equal(arch_e820_build(&none, e, E820_MAX_ENTRIES), -EINVAL);
	one_mib = layout_only(1 * MiB + 4 * KiB);
	assert_int_equal(arch_e820_build(&one_mib, e, E820_MAX_ENTRIES), 4);
	expect_entry(&e[2], 1 * MiB, 4 * KiB, E820_RAM);
}

static void test_guest_mem_init_64m(void **state)
{
	struct guest_mem mem;
	uint8_t *p;

	(void)state;
	assert_int_equal(arch_guest_mem_init(&mem, 64 * MiB), 0);
	assert_int_equal(mem.nr_regions, 1);
	assert_int_equal(mem.total, 64 * MiB);
	/* Private RAM, aligned so that guest and host agree modulo 2 MiB (huge pages). */
	assert_int_equal(mem.memfd, -1);
	assert_int_equal((uintptr_t)mem.base % (2 * MiB), 0);
	assert_ptr_equal(mem.regions[0].host, mem.base);
	p = guest_mem_ptr(&mem, 0x1000, 16);
	assert_ptr_equal(p, mem.base + 0x1000);
	assert_int_equal(guest_mem_write(&mem, 64 * MiB - 4, "abcd", 4), 0);
	assert_memory_equal(mem.base + 64 * MiB - 4, "abcd", 4);
	assert_int_equal(guest_mem_write(&mem, 64 * MiB - 3, "abcd", 4), -EFAULT);
	assert_null(guest_mem_ptr(&mem, 64 * MiB, 1));
	assert_null(guest_mem_ptr(&mem, 0, 64 * MiB + 1));
	assert_null(guest_mem_ptr(&mem, 16, UINT64_MAX));
	assert_null(guest_mem_ptr(&mem, UINT64_MAX, 2));
	guest_mem_destroy(&mem);
	assert_int_equal(mem.memfd, -1);
	assert_null(mem.base);
}

static void test_guest_mem_init_5g_split(void **state)
{
	struct guest_mem mem;
	uint8_t *low, *high;

	(void)state;
	assert_int_equal(arch_guest_mem_init(&mem, 5 * GiB), 0);
	assert_int_equal(mem.nr_regions, 2);
	expect_region(&mem.regions[0], 0, 3 * GiB);
	expect_region(&mem.regions[1], 4 * GiB, 2 * GiB);
	/* RAM is laid out back to back: high RAM follows low RAM at offset 3 GiB. */
	assert_int_equal(mem.regions[1].offset, 3 * GiB);
	assert_ptr_equal(mem.regions[1].host, mem.base + 3 * GiB);
	low = guest_mem_ptr(&mem, 3 * GiB - 1, 1);
	high = guest_mem_ptr(&mem, 4 * GiB, 1);
	assert_ptr_equal(low, mem.base + 3 * GiB - 1);
	assert_ptr_equal(high, mem.base + 3 * GiB);
	assert_non_null(guest_mem_ptr(&mem, 6 * GiB - 8, 8));
	assert_null(guest_mem_ptr(&mem, 6 * GiB - 8, 9));
	/* Nothing in the hole, and no access straddles it even though the mapping is contiguous. */
	assert_null(guest_mem_ptr(&mem, 3 * GiB, 1));
	assert_null(guest_mem_ptr(&mem, LAYOUT_LAPIC_START, 4));
	assert_null(guest_mem_ptr(&mem, 3 * GiB - 4, 8));
	assert_null(guest_mem_ptr(&mem, 4 * GiB - 1, 2));
	*high = 0x5a;
	assert_int_equal(mem.base[3 * GiB], 0x5a);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regions_2m_single),
		cmocka_unit_test(test_regions_512m_single),
		cmocka_unit_test(test_regions_3g_exactly_fills_below_hole),
		cmocka_unit_test(test_regions_3g_plus_4k_spills_above_4g),
		cmocka_unit_test(test_regions_5g_split_around_hole),
		cmocka_unit_test(test_e820_512m),
		cmocka_unit_test(test_e820_5g),
		cmocka_unit_test(test_e820_total_ram_matches_size),
		cmocka_unit_test(test_e820_enospc),
		cmocka_unit_test(test_e820_einval_for_tiny_ram),
		cmocka_unit_test(test_guest_mem_init_64m),
		cmocka_unit_test(test_guest_mem_init_5g_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
