// SPDX-License-Identifier: Apache-2.0
#include "arch/aarch64/arch.h"
#include "arch/aarch64/layout.h"

unsigned arch_ram_regions(uint64_t mem_size, struct guest_region out[GUEST_MEM_MAX_REGIONS])
{
	out[0] = (struct guest_region){ .gpa = LAYOUT_RAM_START, .size = mem_size };
	return 1;
}

unsigned arch_host_phys_bits(void)
{
	return 40;
}
