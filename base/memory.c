// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/memory.h"

int guest_mem_create(struct guest_mem *mem, const struct guest_region *layout, unsigned nr)
{
	uint64_t offset = 0, size = 0;
	unsigned i;
	int ret;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	if (!nr || nr > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < nr; i++)
		size += layout[i].size;
	mem->memfd = memfd_create("vireo-guest-ram", MFD_CLOEXEC);
	if (mem->memfd < 0)
		return -errno;
	if (ftruncate(mem->memfd, (off_t)size)) {
		ret = -errno;
		goto err_close;
	}
	/* MAP_NORESERVE: untouched guest RAM costs the host nothing. */
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			 mem->memfd, 0);
	if (mem->base == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	mem->total = size;
	mem->nr_regions = nr;
	for (i = 0; i < nr; i++) {
		mem->regions[i] = (struct guest_region){ .gpa = layout[i].gpa, .size = layout[i].size,
							 .offset = offset, .host = mem->base + offset };
		offset += layout[i].size;
	}
	return 0;

err_close:
	close(mem->memfd);
	mem->memfd = -1;
	return ret;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->base && mem->base != MAP_FAILED)
		munmap(mem->base, mem->total);
	if (mem->memfd >= 0)
		close(mem->memfd);
	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}
