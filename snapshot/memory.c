// SPDX-License-Identifier: Apache-2.0
/*
 * Guest RAM in memory-ranges: an image of the RAM backing (region i at its backing offset),
 * pre-sized with ftruncate and written sparsely, so never-touched and all-zero pages stay holes
 * that cost neither disk nor restore time. Which pages to look at: for private RAM, those
 * /proc/self/pagemap shows (present and not file-backed, or swapped); for a memfd, its data
 * extents (SEEK_DATA/SEEK_HOLE: shmem knows which pages exist); after a lazy restore the backing
 * is the old memory-ranges file mapped private, and the pages the guest wrote since are found
 * in pagemap. docs/snapshot.md has the measurements behind these choices.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "snapshot/internal.h"

#define PAGE SNAP_PAGE
#define IO_CHUNK (8ULL << 20)
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_FILE    (1ULL << 61)
#define PAGEMAP_BATCH   512

const struct snap_field snap_range_fields[3] = {
	SNAP_F(struct snap_range, gpa), SNAP_F(struct snap_range, size),
	SNAP_F(struct snap_range, file_offset),
};

void snap_ram_from_guest_mem(const struct guest_mem *mem, struct snap_ram *out)
{
	unsigned i;

	memset(out, 0, sizeof(*out));
	out->nr = mem->nr_regions;
	for (i = 0; i < mem->nr_regions; i++)
		out->r[i] = (struct snap_ram_region){
			mem->regions[i].gpa, mem->regions[i].size, mem->regions[i].offset,
			mem->regions[i].host,
		};
	out->fd = mem->memfd;
}

void snap_ram_release(struct snap_ram *ram)
{
	if (ram->owns_fd && ram->fd >= 0)
		close(ram->fd);
	ram->fd = -1;
	ram->owns_fd = false;
}

int snap_mem_mode_parse(const char *s, enum snap_mem_mode *mode)
{
	if (s && !strcasecmp(s, "lazy"))
		*mode = SNAP_MEM_LAZY;
	else if (s && !strcasecmp(s, "copy"))
		*mode = SNAP_MEM_COPY;
	else
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ save */

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	unsigned i;

	for (i = 0; i < PAGE / 8; i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return false;
	return true;
}

int snap_io_all(int fd, uint8_t *p, uint64_t len, uint64_t off, bool write)
{
	while (len) {
		size_t chunk = len < IO_CHUNK ? len : IO_CHUNK;
		ssize_t n = write ? pwrite(fd, p, chunk, (off_t)off)
				  : pread(fd, p, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Writes the non-zero pages of [host, host + len) at @off; zero pages stay holes. */
static int copy_extent(int out, const uint8_t *host, uint64_t off, uint64_t len,
		       struct snap_mem_stats *st)
{
	uint64_t pos = 0, run;
	int ret;

	st->scanned += len;
	while (pos < len) {
		if (page_is_zero(host + pos)) {
			st->zero_skipped += PAGE;
			pos += PAGE;
			continue;
		}
		for (run = PAGE; pos + run < len && run < IO_CHUNK &&
				 !page_is_zero(host + pos + run); run += PAGE)
			;
		ret = snap_io_all(out, (uint8_t *)host + pos, run, off + pos, true);
		if (ret)
			return ret;
		st->written += run;
		pos += run;
	}
	return 0;
}

/* Next data extent of @fd in [*pos, end): 1 and [*start, *stop), or 0 when none is left. */
int snap_next_data(int fd, uint64_t *pos, uint64_t end, uint64_t *start, uint64_t *stop)
{
	off_t d, h;

	if (*pos >= end)
		return 0;
	d = lseek(fd, (off_t)*pos, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? 0 : -errno;
	if ((uint64_t)d >= end)
		return 0;
	h = lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*start = (uint64_t)d & ~(PAGE - 1);
	*stop = (uint64_t)h < end ? ((uint64_t)h + PAGE - 1) & ~(PAGE - 1) : end;
	*pos = *stop;
	return 1;
}

static bool pagemap_anon(uint64_t e)
{
	return (e & PAGEMAP_SWAPPED) || ((e & PAGEMAP_PRESENT) && !(e & PAGEMAP_FILE));
}

/*
 * The pages of [off, off + len) (backing offsets) that only the page tables know: all of
 * private RAM that was ever touched, or the guest's copy-on-write copies after a lazy restore.
 * Runs of them go to copy_extent, which leaves their zero pages as holes.
 */
static int copy_anon_pages(int pagemap, const struct snap_ram_region *r, int out, uint64_t off,
			   uint64_t len, struct snap_mem_stats *st)
{
	uint64_t entries[PAGEMAP_BATCH], pages = len / PAGE, page, n, i, run = 0;
	const uint8_t *host = r->host + (off - r->offset);
	int ret;

	for (page = 0; page < pages; page += n) {
		n = pages - page < PAGEMAP_BATCH ? pages - page : PAGEMAP_BATCH;
		if (pread(pagemap, entries, n * 8, (off_t)(((uintptr_t)host / PAGE + page) * 8)) !=
		    (ssize_t)(n * 8))
			return -EIO;
		for (i = 0; i < n; i++) {
			uint64_t start = page + i - run;

			if (pagemap_anon(entries[i])) {
				run++;
				continue;
			}
			if (run && (ret = copy_extent(out, host + start * PAGE, off + start * PAGE,
						      run * PAGE, st)))
				return ret;
			run = 0;
		}
	}
	if (!run)
		return 0;
	return copy_extent(out, host + (pages - run) * PAGE, off + (pages - run) * PAGE,
			   run * PAGE, st);
}

static int save_region(const struct snap_ram *ram, const struct snap_ram_region *r, int out,
		       int pagemap, struct snap_mem_stats *st)
{
	uint64_t pos = r->offset, end = r->offset + r->size, start, stop, gap = r->offset;
	int more, ret = 0;

	if (ram->fd < 0)
		return copy_anon_pages(pagemap, r, out, r->offset, r->size, st);
	while (!ret && (more = snap_next_data(ram->fd, &pos, end, &start, &stop)) > 0) {
		if (ram->private_cow && start > gap)
			ret = copy_anon_pages(pagemap, r, out, gap, start - gap, st);
		ret = ret ?: copy_extent(out, r->host + (start - r->offset), start, stop - start,
					 st);
		gap = stop;
	}
	if (!ret && more < 0)
		ret = more;
	if (!ret && ram->private_cow && end > gap)
		ret = copy_anon_pages(pagemap, r, out, gap, end - gap, st);
	return ret;
}

static int add_index(cJSON *state, const struct snap_ram *ram, uint64_t file_size)
{
	cJSON *mem = cJSON_CreateObject(), *ranges;
	unsigned i;

	if (!mem || !cJSON_AddStringToObject(mem, "file", SNAP_MEMORY_FILE) ||
	    json_put_u64(mem, "file_size", file_size) ||
	    !(ranges = cJSON_AddArrayToObject(mem, "ranges")))
		goto err;
	for (i = 0; i < ram->nr; i++) {
		struct snap_range rg = { ram->r[i].gpa, ram->r[i].size, ram->r[i].offset };
		cJSON *e = cJSON_CreateObject();

		if (!cJSON_AddItemToArray(ranges, e) ||
		    snap_fields_put(e, &rg, snap_range_fields, SNAP_ARRAY_SIZE(snap_range_fields)))
			goto err;
	}
	if (!cJSON_ReplaceItemInObjectCaseSensitive(state, "memory", mem))
		goto err;
	return 0;
err:
	cJSON_Delete(mem);
	return -ENOMEM;
}

/*
 * After a lazy restore, RAM pages the guest has not written are the old memory-ranges file's.
 * Truncated under us, the pages past its end read as holes and would be saved as zeros: the
 * guest's memory silently lost. Refuse instead.
 */
static int check_backing(const struct snap_ram *ram, char *err, size_t errlen)
{
	struct stat st;

	if (!ram->private_cow)
		return 0;
	if (fstat(ram->fd, &st))
		return set_err(err, errlen, -errno, "the restored %s: %s", SNAP_MEMORY_FILE,
			       strerror(errno));
	if ((uint64_t)st.st_size == ram->fd_size)
		return 0;
	return set_err(err, errlen, -EIO, "the %s this VM was restored from changed size under "
		       "it (%llu bytes, was %llu): its guest RAM is lost, no snapshot taken",
		       SNAP_MEMORY_FILE, (unsigned long long)st.st_size,
		       (unsigned long long)ram->fd_size);
}

int snap_mem_save(const struct snap_ram *ram, struct snap_writer *w, cJSON *state,
		  struct snap_mem_stats *stats, char *err, size_t errlen)
{
	struct snap_mem_stats st = { 0 };
	uint64_t file_size = 0;
	int out, pagemap = -1, ret;
	unsigned i;

	for (i = 0; i < ram->nr; i++)
		if (ram->r[i].offset + ram->r[i].size > file_size)
			file_size = ram->r[i].offset + ram->r[i].size;
	ret = check_backing(ram, err, errlen);
	ret = ret ?: snap_writer_file(w, SNAP_MEMORY_FILE, &out, err, errlen);
	if (ret)
		return ret;
	if (ftruncate(out, (off_t)file_size))
		return set_err(err, errlen, -errno, "%s: cannot size it to %llu bytes: %s",
				SNAP_MEMORY_FILE, (unsigned long long)file_size, strerror(errno));
	if ((ram->private_cow || ram->fd < 0) &&
	    (pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
		return set_err(err, errlen, -errno, "/proc/self/pagemap: %s", strerror(errno));
	for (i = 0; i < ram->nr && !ret; i++)
		ret = save_region(ram, &ram->r[i], out, pagemap, &st);
	if (pagemap >= 0)
		close(pagemap);
	if (ret)
		return set_err(err, errlen, ret, "writing %s: %s", SNAP_MEMORY_FILE,
				strerror(-ret));
	if (add_index(state, ram, file_size))
		return set_err(err, errlen, -ENOMEM, "out of memory for the memory index");
	if (stats)
		*stats = st;
	return 0;
}
