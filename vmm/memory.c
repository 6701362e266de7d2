// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "vmm/memory.h"

#define HUGE_2M (2ULL << 20)

static void lay_out(struct guest_mem *mem, uint64_t size)
{
	uint64_t offset = 0;
	unsigned i;

	mem->total = size;
	mem->nr_regions = arch_ram_regions(size, mem->regions);
	for (i = 0; i < mem->nr_regions; i++) {
		mem->regions[i].offset = offset;
		mem->regions[i].host = mem->base + offset;
		offset += mem->regions[i].size;
	}
}

/*
 * Private anonymous RAM, 2 MiB aligned and advised for transparent huge pages: the guest's
 * first touch of 2 MiB then costs one host fault and one large NPT/EPT entry instead of 512 of
 * each (KVM maps a huge page only where guest and host addresses agree modulo 2 MiB). A boot
 * touches tens of MiB; under nested virtualization each 4 KiB fault is an exit to the host.
 */
int guest_mem_init(struct guest_mem *mem, uint64_t size)
{
	uint8_t *raw, *base;
	uint64_t head;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
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
	lay_out(mem, size);
	return 0;
}

int guest_mem_init_shared(struct guest_mem *mem, uint64_t size)
{
	int ret;

	memset(mem, 0, sizeof(*mem));
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
		mem->base = NULL;
		goto err_close;
	}
	lay_out(mem, size);
	return 0;

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
