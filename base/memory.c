// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/memory.h"

#define HUGE_2M (2ULL << 20)

/* The regions of @layout laid back to back from base, after @layout's checks; total size. */
static int lay_out(struct guest_mem *mem, const struct guest_region *layout, unsigned nr)
{
	uint64_t offset = 0;
	unsigned i;

	mem->nr_regions = nr;
	for (i = 0; i < nr; i++) {
		mem->regions[i] = (struct guest_region){ .gpa = layout[i].gpa, .size = layout[i].size,
							 .offset = offset, .host = mem->base + offset };
		offset += layout[i].size;
	}
	return 0;
}

static int total_size(const struct guest_region *layout, unsigned nr, uint64_t *size)
{
	unsigned i;

	*size = 0;
	if (!nr || nr > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < nr; i++)
		*size += layout[i].size;
	return 0;
}

/*
 * Private anonymous RAM, 2 MiB aligned and advised for transparent huge pages: the guest's
 * first touch of 2 MiB then costs one host fault and one large NPT/EPT entry instead of 512 of
 * each (KVM maps a huge page only where guest and host addresses agree modulo 2 MiB). A boot
 * touches tens of MiB; under nested virtualization each 4 KiB fault is an exit to the host.
 */
int guest_mem_create(struct guest_mem *mem, const struct guest_region *layout, unsigned nr)
{
	uint8_t *raw, *base;
	uint64_t size, head;
	int ret;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	ret = total_size(layout, nr, &size);
	if (ret)
		return ret;
	/* MAP_NORESERVE: untouched guest RAM costs the host nothing. */
	raw = mmap(NULL, size + HUGE_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	base = (uint8_t *)(((uintptr_t)raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	head = (uint64_t)(base - raw);
	if (head)
		munmap(raw, head);
	munmap(base + size, HUGE_2M - head);
	madvise(base, size, MADV_HUGEPAGE);   /* best effort: the host may have THP off */
	mem->base = base;
	mem->total = size;
	return lay_out(mem, layout, nr);
}

int guest_mem_create_shared(struct guest_mem *mem, const struct guest_region *layout,
			    unsigned nr)
{
	uint64_t size;
	int ret;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	ret = total_size(layout, nr, &size);
	if (ret)
		return ret;
	mem->memfd = memfd_create("vireo-guest-ram", MFD_CLOEXEC);
	if (mem->memfd < 0)
		return -errno;
	if (ftruncate(mem->memfd, (off_t)size)) {
		ret = -errno;
		goto err_close;
	}
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			 mem->memfd, 0);
	if (mem->base == MAP_FAILED) {
		ret = -errno;
		mem->base = NULL;
		goto err_close;
	}
	mem->total = size;
	return lay_out(mem, layout, nr);

err_close:
	close(mem->memfd);
	mem->memfd = -1;
	return ret;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->base)
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
