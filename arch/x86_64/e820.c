// SPDX-License-Identifier: Apache-2.0
#include <errno.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"

unsigned arch_ram_regions(uint64_t mem_size, struct guest_region out[GUEST_MEM_MAX_REGIONS])
{
	uint64_t low = mem_size < LAYOUT_MEM_32BIT_GAP_START ? mem_size : LAYOUT_MEM_32BIT_GAP_START;

	out[0] = (struct guest_region){ .gpa = 0, .size = low };
	if (mem_size == low)
		return 1;
	out[1] = (struct guest_region){ .gpa = LAYOUT_RAM_64BIT_START, .size = mem_size - low };
	return 2;
}

static int e820_add(struct e820_entry *out, unsigned max, unsigned *n, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (!size)
		return 0;
	if (*n >= max)
		return -ENOSPC;
	out[(*n)++] = (struct e820_entry){ addr, size, type };
	return 0;
}

/*
 * RAM below 640 KiB, the legacy hole (which holds the ACPI tables) reserved up to 1 MiB,
 * RAM from 1 MiB to the 32-bit MMIO hole, the PCI ECAM reserved, then RAM above 4 GiB. The
 * rest of the hole is not listed: Linux 6.1 clips host-bridge windows against e820
 * reservations. The ECAM lies outside every window, and Linux 6.1 only uses MMCONFIG before
 * ACPI is up if e820 reserves it (arch/x86/pci/mmconfig-shared.c).
 */
int arch_e820_build(const struct guest_mem *mem, struct e820_entry *out, unsigned max)
{
	const struct guest_region *low = &mem->regions[0];
	uint64_t low_end = low->gpa + low->size;
	unsigned n = 0, i;
	int ret;

	if (!mem->nr_regions || low_end <= LAYOUT_HIGH_RAM_START)
		return -EINVAL;
	ret = e820_add(out, max, &n, 0, LAYOUT_EBDA_START, E820_RAM);
	ret = ret ?: e820_add(out, max, &n, LAYOUT_EBDA_START,
			      LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_START, E820_RESERVED);
	ret = ret ?: e820_add(out, max, &n, LAYOUT_HIGH_RAM_START,
			      low_end - LAYOUT_HIGH_RAM_START, E820_RAM);
	ret = ret ?: e820_add(out, max, &n, LAYOUT_PCI_ECAM_START, LAYOUT_PCI_ECAM_SIZE,
			      E820_RESERVED);
	for (i = 1; i < mem->nr_regions && !ret; i++)
		ret = e820_add(out, max, &n, mem->regions[i].gpa, mem->regions[i].size, E820_RAM);
	return ret ?: (int)n;
}
