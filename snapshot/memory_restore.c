// SPDX-License-Identifier: Apache-2.0
/*
 * Guest RAM back from memory-ranges. The index in state.json is untrusted: it must describe
 * exactly the RAM regions config.json produces (same addresses and sizes, in order), with
 * page-aligned, non-overlapping file ranges inside a file of the recorded size.
 *  copy: the file's data extents (SEEK_DATA) are pread straight into the fresh RAM mapping;
 *        holes are left alone, so untouched RAM stays unallocated.
 *  lazy: each region's host range is replaced by a MAP_PRIVATE|MAP_FIXED mapping of the file,
 *        at the same address, so the memslots (which hold host addresses) need no change: KVM
 *        faults pages in from the page cache on first touch and guest writes copy-on-write into
 *        anonymous memory. The file must not change while the VM lives (docs/snapshot.md).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/internal.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct mem_index {
	uint64_t file_size;
	unsigned nr;
	struct snap_range r[SNAP_MAX_RAM_REGIONS];
};

static const char *const memory_keys[] = { "file", "file_size", "ranges", NULL };

static int check_range(const struct snap_range *r, const struct guest_region *g,
		       uint64_t file_size, struct snap_ctx *c)
{
	if (r->gpa != g->gpa)
		return snap_fail(c, "gpa", "0x%llx, but the configured RAM region starts at 0x%llx",
				 (unsigned long long)r->gpa, (unsigned long long)g->gpa);
	if (r->size != g->size)
		return snap_fail(c, "size", "0x%llx, but the configured RAM region is 0x%llx bytes",
				 (unsigned long long)r->size, (unsigned long long)g->size);
	if (r->file_offset % SNAP_PAGE)
		return snap_fail(c, "file_offset", "0x%llx is not page-aligned",
				 (unsigned long long)r->file_offset);
	if (r->file_offset > file_size || r->size > file_size - r->file_offset)
		return snap_fail(c, "file_offset", "0x%llx + 0x%llx runs past file_size 0x%llx",
				 (unsigned long long)r->file_offset, (unsigned long long)r->size,
				 (unsigned long long)file_size);
	return 0;
}

static int check_overlaps(const struct mem_index *ix, struct snap_ctx *c)
{
	unsigned i, k;

	for (i = 0; i < ix->nr; i++)
		for (k = 0; k < i; k++)
			if (ix->r[i].file_offset < ix->r[k].file_offset + ix->r[k].size &&
			    ix->r[k].file_offset < ix->r[i].file_offset + ix->r[i].size)
				return snap_fail(c, "ranges",
						 "ranges %u and %u overlap in the file", k, i);
	return 0;
}

static int parse_index(const cJSON *state, const struct guest_mem *mem, struct mem_index *ix,
		       struct snap_ctx *c)
{
	const cJSON *m = snap_get_object(state, "memory", c), *arr, *e;
	const char *file;
	size_t mark;
	int n;

	if (!m)
		return -EINVAL;
	mark = snap_ctx_push(c, "memory", 0);
	file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "file"));
	if (snap_check_keys(m, memory_keys, c) || snap_get_hex(m, "file_size", &ix->file_size, c))
		return -EINVAL;
	if (!file || strcmp(file, SNAP_MEMORY_FILE))
		return snap_fail(c, "file", "expected \"%s\"", SNAP_MEMORY_FILE);
	arr = snap_get_array(m, "ranges", c);
	n = arr ? cJSON_GetArraySize(arr) : -1;
	if (n < 0)
		return -EINVAL;
	if (n != (int)mem->nr_regions)
		return snap_fail(c, "ranges", "%d ranges, the configured memory has %u regions", n,
				 mem->nr_regions);
	ix->nr = 0;
	cJSON_ArrayForEach(e, arr) {
		size_t m2 = snap_ctx_push(c, "ranges", 0);

		snap_ctx_push(c, NULL, (int)ix->nr);
		if (snap_fields_get(e, &ix->r[ix->nr], snap_range_fields,
				    SNAP_ARRAY_SIZE(snap_range_fields), NULL, c) ||
		    check_range(&ix->r[ix->nr], &mem->regions[ix->nr], ix->file_size, c))
			return -EINVAL;
		snap_ctx_pop(c, m2);
		ix->nr++;
	}
	if (check_overlaps(ix, c))
		return -EINVAL;
	snap_ctx_pop(c, mark);
	return 0;
}

static int open_memory_file(int dirfd, uint64_t size, char *err, size_t errlen)
{
	int fd = snap_open_file(dirfd, SNAP_MEMORY_FILE, err, errlen);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || (uint64_t)st.st_size != size) {
		close(fd);
		return set_err(err, errlen, -EINVAL,
				"%s: %lld bytes, state.json says 0x%llx (truncated or replaced?)",
				SNAP_MEMORY_FILE, (long long)st.st_size, (unsigned long long)size);
	}
	return fd;
}

static int copy_region(int fd, const struct snap_range *r, uint8_t *host, bool prefault)
{
	uint64_t pos = r->file_offset, end = r->file_offset + r->size, start, stop;
	int more, ret = 0;

	/* Prefault (CH semantics): every page of RAM is backed before the guest runs. */
	if (prefault && madvise(host, r->size, MADV_POPULATE_WRITE))
		return -errno;
	while (!ret && (more = snap_next_data(fd, &pos, end, &start, &stop)) > 0)
		ret = snap_io_all(fd, host + (start - r->file_offset), stop - start, start, false);
	return ret ?: (more < 0 ? more : 0);
}

/* Prefault for lazy: map the data pages read-only now; COW still happens on guest writes. */
static int populate_data(int fd, const struct snap_range *r, uint8_t *host)
{
	uint64_t pos = r->file_offset, end = r->file_offset + r->size, start, stop;
	int more;

	while ((more = snap_next_data(fd, &pos, end, &start, &stop)) > 0)
		if (madvise(host + (start - r->file_offset), stop - start, MADV_POPULATE_READ))
			return -errno;
	return more;
}

static int map_region(int fd, const struct snap_range *r, uint8_t *host, bool prefault)
{
	void *p = mmap(host, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED |
		       MAP_NORESERVE, fd, (off_t)r->file_offset);

	if (p == MAP_FAILED)
		return -errno;
	return prefault ? populate_data(fd, r, host) : 0;
}

static void ram_describe(struct snap_ram *ram, const struct guest_mem *mem,
			 const struct mem_index *ix, int fd, uint64_t file_size)
{
	unsigned i;

	snap_ram_from_guest_mem(mem, ram);
	if (fd < 0)
		return;
	for (i = 0; i < ix->nr; i++)
		ram->r[i].offset = ix->r[i].file_offset;
	ram->fd = fd;
	ram->private_cow = true;
	ram->owns_fd = true;
	ram->fd_size = file_size;
}

int snap_mem_restore(const cJSON *state, int dirfd, const struct guest_mem *mem,
		     enum snap_mem_mode mode, bool prefault, struct snap_ram *ram_out,
		     char *err, size_t errlen)
{
	struct mem_index ix;
	struct snap_ctx c;
	unsigned i;
	int fd, ret = 0;

	snap_ctx_init(&c, SNAP_STATE_FILE, "", err, errlen);
	if (parse_index(state, mem, &ix, &c))
		return -EINVAL;
	fd = open_memory_file(dirfd, ix.file_size, err, errlen);
	if (fd < 0)
		return fd;
	for (i = 0; i < ix.nr && !ret; i++)
		ret = mode == SNAP_MEM_LAZY
			? map_region(fd, &ix.r[i], mem->regions[i].host, prefault)
			: copy_region(fd, &ix.r[i], mem->regions[i].host, prefault);
	if (ret) {
		close(fd);
		return set_err(err, errlen, ret, "%s: %s guest RAM failed: %s", SNAP_MEMORY_FILE,
				mode == SNAP_MEM_LAZY ? "mapping" : "reading", strerror(-ret));
	}
	if (mode == SNAP_MEM_COPY) {
		close(fd);
		fd = -1;
	}
	ram_describe(ram_out, mem, &ix, fd, ix.file_size);
	return 0;
}
