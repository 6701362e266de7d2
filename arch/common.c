// SPDX-License-Identifier: Apache-2.0
/* What every architecture builds the same way from its layout (arch/arch.h). */
#include "arch/arch.h"

int arch_guest_mem_init(struct guest_mem *mem, uint64_t size)
{
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];

	return guest_mem_create(mem, layout, arch_ram_regions(size, layout));
}

int arch_guest_mem_init_shared(struct guest_mem *mem, uint64_t size)
{
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];

	return guest_mem_create_shared(mem, layout, arch_ram_regions(size, layout));
}

void arch_mmio64_window(const struct guest_mem *mem, unsigned phys_bits, uint64_t *base,
			uint64_t *size)
{
	const struct guest_region *last = &mem->regions[mem->nr_regions - 1];
	uint64_t top = last->gpa + last->size, limit = 1ULL << phys_bits;

	if (top < LAYOUT_PCI_MMIO64_MIN)
		top = LAYOUT_PCI_MMIO64_MIN;
	*base = (top + LAYOUT_PCI_MMIO64_ALIGN - 1) & ~(LAYOUT_PCI_MMIO64_ALIGN - 1);
	*size = *base < limit ? limit - *base : 0;
	if (*size > LAYOUT_PCI_MMIO64_MAX)
		*size = LAYOUT_PCI_MMIO64_MAX;
}
