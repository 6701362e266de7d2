/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: one mapping (private anonymous memory, or a memfd where another process must share
 * it), split into the regions the arch layout dictates.
 * Every host pointer into guest RAM comes from guest_mem_ptr(), which bounds-checks.
 */
#ifndef VIREO_BASE_MEMORY_H
#define VIREO_BASE_MEMORY_H

#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;       /* from base (and in the memfd) */
	uint8_t *host;
};

struct guest_mem {
	int memfd;             /* -1 for private RAM */
	uint8_t *base;         /* the whole of RAM, contiguous */
	uint64_t total;
	unsigned nr_regions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/*
 * Maps private RAM for the @nr regions of @layout (gpa and size each; the architecture decides
 * them, see arch_guest_mem_init); 0, -EINVAL or -errno.
 */
int guest_mem_create(struct guest_mem *mem, const struct guest_region *layout, unsigned nr);
/* The same, backed by a memfd mapped shared (for RAM another process maps too). */
int guest_mem_create_shared(struct guest_mem *mem, const struct guest_region *layout,
			    unsigned nr);
void guest_mem_destroy(struct guest_mem *mem);
/*
 * Host address of [gpa, gpa + len) if it lies wholly inside one RAM region (overflow-checked),
 * else NULL. Never trust a guest address without it.
 */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Copies into guest RAM; -EFAULT when the range is not RAM. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

#endif
