// SPDX-License-Identifier: Apache-2.0
/* What every architecture builds the same way from its layout (arch/arch.h). */
#include "arch/arch.h"
#include "arch/x86_64/acpi.h"   /* struct acpi_pci: the segment windows, on every board */

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

/* Each segment's share of the windows: equal parts, 2 MiB aligned (docs/pci.md). */
void acpi_pci_segment_windows(const struct acpi_pci *pci, unsigned seg,
			      struct acpi_pci_windows *w)
{
	const uint64_t align = 2ULL << 20;
	unsigned n = pci->nr_segments ? pci->nr_segments : 1;
	uint64_t s32 = n == 1 ? pci->mmio32_size : pci->mmio32_size / n & ~(align - 1);
	uint64_t s64 = n == 1 ? pci->mmio64_size : pci->mmio64_size / n & ~(align - 1);

	*w = (struct acpi_pci_windows){
		.ecam = pci->ecam_base + (uint64_t)seg * (((uint64_t)pci->bus_end + 1) << 20),
		.mmio32_base = pci->mmio32_base + seg * s32, .mmio32_size = s32,
		.mmio64_base = pci->mmio64_base + seg * s64, .mmio64_size = s64,
	};
}
