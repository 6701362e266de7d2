// SPDX-License-Identifier: Apache-2.0
/*
 * Guest RAM in memory-ranges: the file holds exactly the touched, non-zero pages (the rest are
 * holes), copy and lazy restores give back the same bytes, a lazily restored VM snapshots again
 * correctly (its writes live in COW pages), and a damaged index or file is refused by name.
 * A 4 GiB + 64 MiB guest gives two RAM regions (below and above the 32-bit hole); RAM is
 * sparse, so this costs only the touched pages. The tests that take a state run for both
 * backings: private RAM (pages found in pagemap, huge pages where the host gives them) and a
 * memfd (pages found with SEEK_DATA).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "arch/x86_64/arch.h"
#include "snapshot/snapshot.h"
#include "snap_test.h"

#define PAGE 4096ULL
#define BIG_RAM ((4ULL << 30) + (64ULL << 20))

static char err[256];

typedef int (*ram_init_fn)(struct guest_mem *mem, uint64_t size);
static ram_init_fn private_ram = arch_guest_mem_init, shared_ram = arch_guest_mem_init_shared;
#define RAM_INIT(state) (*(ram_init_fn *)*(state))
#define IS_SHARED(state) (RAM_INIT(state) == arch_guest_mem_init_shared)

struct touch {
	uint64_t gpa;
	unsigned pages;
	uint8_t seed;
};

/* Two regions' worth of writes; seed 0 writes a page and clears it again (allocated, zero). */
static const struct touch touches[] = {
	{ 0x1000, 1, 0x11 }, { 0x200000, 3, 0x22 }, { 0x7000, 1, 0 },
	{ 1ULL << 32, 2, 0x33 }, { (1ULL << 32) + (63ULL << 20), 1, 0x44 },
};

static uint8_t pattern(uint64_t gpa, uint8_t seed)
{
	return (uint8_t)(seed + (gpa >> 12) * 31 + (gpa & 0xfff) * 7) | 1;
}

static void fill(struct guest_mem *mem)
{
	unsigned i, p;
	uint64_t k;

	for (i = 0; i < sizeof(touches) / sizeof(touches[0]); i++)
		for (p = 0; p < touches[i].pages; p++) {
			uint64_t gpa = touches[i].gpa + p * PAGE;
			uint8_t *host = guest_mem_ptr(mem, gpa, PAGE);

			assert_non_null(host);
			for (k = 0; k < PAGE; k++)
				host[k] = touches[i].seed ? pattern(gpa + k, touches[i].seed) : 0xff;
			if (!touches[i].seed)
				memset(host, 0, PAGE);
		}
}

/* Every touched page has its pattern; a few untouched pages read zero. */
static void check(const struct guest_mem *mem)
{
	static const uint64_t zero_gpas[] = { 0, 0x7000, 0x100000, 0x203000, (1ULL << 32) + PAGE * 9 };
	unsigned i, p;
	uint64_t k;

	for (i = 0; i < sizeof(touches) / sizeof(touches[0]); i++)
		for (p = 0; touches[i].seed && p < touches[i].pages; p++) {
			uint64_t gpa = touches[i].gpa + p * PAGE;
			const uint8_t *host = guest_mem_ptr(mem, gpa, PAGE);

			for (k = 0; k < PAGE; k++)
				if (host[k] != pattern(gpa + k, touches[i].seed))
					fail_msg("gpa %#llx: %#x", (unsigned long long)(gpa + k),
						 host[k]);
		}
	for (i = 0; i < sizeof(zero_gpas) / sizeof(zero_gpas[0]); i++) {
		const uint8_t *host = guest_mem_ptr(mem, zero_gpas[i], PAGE);

		for (k = 0; k < PAGE; k++)
			assert_int_equal(host[k], 0);
	}
}

/* Bytes of data extents (SEEK_DATA/SEEK_HOLE) in @fd. */
static uint64_t data_bytes(int fd)
{
	off_t pos = 0, d, h, end = lseek(fd, 0, SEEK_END);
	uint64_t n = 0;

	while (pos < end && (d = lseek(fd, pos, SEEK_DATA)) >= 0) {
		h = lseek(fd, d, SEEK_HOLE);
		n += (uint64_t)(h - d);
		pos = h;
	}
	return n;
}

static uint64_t resident_bytes(const uint8_t *p, uint64_t len)
{
	static unsigned char vec[4096];
	uint64_t n = 0, i;

	assert_true(len / PAGE <= sizeof(vec));
	assert_int_equal(mincore((void *)p, len, vec), 0);
	for (i = 0; i < len / PAGE; i++)
		n += (vec[i] & 1) * PAGE;
	return n;
}

static char *save(const struct snap_ram *ram, cJSON **state_out, struct snap_mem_stats *st)
{
	char *dir = snap_test_mkdtemp();
	struct snap_writer *w;
	cJSON *state = snap_state_new();

	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	if (snap_mem_save(ram, w, state, st, err, sizeof(err)))
		fail_msg("save: %s", err);
	assert_int_equal(snap_state_write(w, state, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
	*state_out = state;
	return dir;
}

static int restore(const char *dir, const cJSON *state, struct guest_mem *mem,
		   enum snap_mem_mode mode, bool prefault, struct snap_ram *ram)
{
	int fd = snap_dir_open(dir, err, sizeof(err)), ret;

	assert_true(fd >= 0);
	ret = snap_mem_restore(state, fd, mem, mode, prefault, ram, err, sizeof(err));
	close(fd);
	return ret;
}

static void test_sparse_file(void **state)
{
	struct guest_mem mem;
	struct snap_ram ram;
	struct snap_mem_stats st;
	cJSON *snap;
	char *dir, path[300];
	const cJSON *ranges;
	int fd;

	assert_int_equal(RAM_INIT(state)(&mem, BIG_RAM), 0);
	assert_int_equal(mem.nr_regions, 2);
	fill(&mem);
	snap_ram_from_guest_mem(&mem, &ram);
	dir = save(&ram, &snap, &st);
	/* 7 pattern pages written; the cleared page was looked at and left a hole (so were the
	 * rest of any huge page the host put under a touched page of private RAM). */
	assert_int_equal(st.written, 7 * PAGE);
	assert_int_equal(st.zero_skipped, st.scanned - st.written);
	if (IS_SHARED(state))
		assert_int_equal(st.scanned, 8 * PAGE);
	else
		assert_true(st.scanned >= 8 * PAGE);
	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_MEMORY_FILE);
	fd = open(path, O_RDONLY);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)BIG_RAM);
	assert_int_equal(data_bytes(fd), 7 * PAGE);
	close(fd);
	ranges = cJSON_GetObjectItem(cJSON_GetObjectItem(snap, "memory"), "ranges");
	assert_int_equal(cJSON_GetArraySize(ranges), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ranges, 1),
								      "gpa")), "0x100000000");
	cJSON_Delete(snap);
	guest_mem_destroy(&mem);
	snap_test_rmdir(dir);
}

/* A BIG_RAM guest with the touches, saved; the guest is gone afterwards. */
static char *save_filled(ram_init_fn init, cJSON **snap)
{
	struct guest_mem mem;
	struct snap_ram ram;
	struct snap_mem_stats st;
	char *dir;

	assert_int_equal(init(&mem, BIG_RAM), 0);
	fill(&mem);
	snap_ram_from_guest_mem(&mem, &ram);
	dir = save(&ram, snap, &st);
	guest_mem_destroy(&mem);
	return dir;
}

static void test_copy_and_lazy(void **state)
{
	struct guest_mem copy, lazy;
	struct snap_ram ram_copy, ram_lazy;
	cJSON *snap;
	char *dir;

	dir = save_filled(RAM_INIT(state), &snap);

	assert_int_equal(RAM_INIT(state)(&copy, BIG_RAM), 0);
	assert_int_equal(restore(dir, snap, &copy, SNAP_MEM_COPY, false, &ram_copy), 0);
	/* Copy allocated only what the file holds (before check() reads holes in). */
	if (IS_SHARED(state))
		assert_int_equal(data_bytes(copy.memfd), 7 * PAGE);
	check(&copy);
	assert_false(ram_copy.private_cow);

	assert_int_equal(RAM_INIT(state)(&lazy, BIG_RAM), 0);
	assert_int_equal(restore(dir, snap, &lazy, SNAP_MEM_LAZY, false, &ram_lazy), 0);
	check(&lazy);
	assert_true(ram_lazy.private_cow && ram_lazy.owns_fd);
	if (IS_SHARED(state))
		assert_int_equal(data_bytes(lazy.memfd), 0);   /* the memfd no longer backs RAM */

	snap_ram_release(&ram_copy);
	snap_ram_release(&ram_lazy);
	guest_mem_destroy(&copy);
	guest_mem_destroy(&lazy);
	cJSON_Delete(snap);
	snap_test_rmdir(dir);
}

/* The byte of the backing file behind @gpa. */
static uint8_t file_byte(const struct snap_ram *ram, uint64_t gpa)
{
	unsigned i;
	uint8_t b = 0xee;

	for (i = 0; i < ram->nr; i++)
		if (gpa >= ram->r[i].gpa && gpa < ram->r[i].gpa + ram->r[i].size)
			assert_int_equal(pread(ram->fd, &b, 1,
					       (off_t)(ram->r[i].offset + gpa - ram->r[i].gpa)), 1);
	return b;
}

/* A lazily restored VM writes (COW pages, in holes and over data) and is snapshotted again. */
static void test_lazy_then_snapshot(void **state)
{
	struct guest_mem lazy, again;
	struct snap_ram ram_lazy, ram_again;
	struct snap_mem_stats st;
	cJSON *snap, *snap2;
	char *dir, *dir2;
	uint8_t *hole, *data;

	dir = save_filled(RAM_INIT(state), &snap);

	assert_int_equal(RAM_INIT(state)(&lazy, BIG_RAM), 0);
	assert_int_equal(restore(dir, snap, &lazy, SNAP_MEM_LAZY, false, &ram_lazy), 0);
	hole = guest_mem_ptr(&lazy, (1ULL << 32) + 40 * PAGE, PAGE);
	data = guest_mem_ptr(&lazy, 0x1000, PAGE);
	memset(hole, 0x5a, PAGE);
	data[17] = 0x99;
	/* The snapshot's file is untouched by the guest's writes. */
	assert_int_equal(file_byte(&ram_lazy, (1ULL << 32) + 40 * PAGE + 100), 0);
	assert_int_equal(file_byte(&ram_lazy, 0x1000 + 17), pattern(0x1000 + 17, 0x11));

	dir2 = save(&ram_lazy, &snap2, &st);
	assert_int_equal(st.written, 8 * PAGE);
	assert_int_equal(RAM_INIT(state)(&again, BIG_RAM), 0);
	assert_int_equal(restore(dir2, snap2, &again, SNAP_MEM_COPY, false, &ram_again), 0);
	assert_int_equal(((uint8_t *)guest_mem_ptr(&again, (1ULL << 32) + 40 * PAGE, 1))[100], 0x5a);
	assert_int_equal(((uint8_t *)guest_mem_ptr(&again, 0x1000, PAGE))[17], 0x99);
	data[17] = pattern(0x1000 + 17, 0x11);           /* undo, then all else must match */
	((uint8_t *)guest_mem_ptr(&again, 0x1000, PAGE))[17] = data[17];
	check(&again);

	snap_ram_release(&ram_lazy);
	guest_mem_destroy(&lazy);
	guest_mem_destroy(&again);
	cJSON_Delete(snap);
	cJSON_Delete(snap2);
	snap_test_rmdir(dir);
	snap_test_rmdir(dir2);
}

/* The file a lazy restore maps shrinks under the VM: the next snapshot is refused, not zeros. */
static void test_lazy_backing_truncated(void **state)
{
	struct guest_mem lazy;
	struct snap_ram ram_lazy;
	struct snap_writer *w;
	cJSON *snap, *snap2 = snap_state_new();
	char path[512], *dir, *dir2 = snap_test_mkdtemp();
	int fd;

	dir = save_filled(RAM_INIT(state), &snap);
	assert_int_equal(RAM_INIT(state)(&lazy, BIG_RAM), 0);
	assert_int_equal(restore(dir, snap, &lazy, SNAP_MEM_LAZY, false, &ram_lazy), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_MEMORY_FILE);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(snap_writer_open(dir2, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_mem_save(&ram_lazy, w, snap2, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "changed size under it (1048576 bytes, was "));
	snap_writer_abort(w);

	snap_ram_release(&ram_lazy);
	guest_mem_destroy(&lazy);   /* unmaps the file's pages untouched: no SIGBUS */
	cJSON_Delete(snap);
	cJSON_Delete(snap2);
	snap_test_rmdir(dir);
	snap_test_rmdir(dir2);
}

static void test_prefault(void **state)
{
	struct guest_mem mem, copy, lazy;
	struct snap_ram ram, r2;
	struct snap_mem_stats st;
	unsigned char vec[4];
	cJSON *snap;
	char *dir;

	assert_int_equal(RAM_INIT(state)(&mem, 16ULL << 20), 0);
	memset(guest_mem_ptr(&mem, 0x3000, PAGE), 0x77, PAGE);
	snap_ram_from_guest_mem(&mem, &ram);
	dir = save(&ram, &snap, &st);
	guest_mem_destroy(&mem);

	assert_int_equal(RAM_INIT(state)(&copy, 16ULL << 20), 0);
	assert_int_equal(restore(dir, snap, &copy, SNAP_MEM_COPY, true, &r2), 0);
	assert_int_equal(resident_bytes(copy.base, 16ULL << 20), 16ULL << 20);   /* all backed */
	if (IS_SHARED(state))
		assert_int_equal(data_bytes(copy.memfd), 16ULL << 20);
	assert_int_equal(((uint8_t *)guest_mem_ptr(&copy, 0x3000, 1))[0], 0x77);
	guest_mem_destroy(&copy);

	assert_int_equal(RAM_INIT(state)(&lazy, 16ULL << 20), 0);
	assert_int_equal(restore(dir, snap, &lazy, SNAP_MEM_LAZY, true, &r2), 0);
	/* The data page is mapped before anyone touched it. */
	assert_int_equal(mincore(guest_mem_ptr(&lazy, 0x3000, PAGE), PAGE, vec), 0);
	assert_true(vec[0] & 1);
	assert_int_equal(((uint8_t *)guest_mem_ptr(&lazy, 0x3000, 1))[0], 0x77);
	snap_ram_release(&r2);
	guest_mem_destroy(&lazy);
	cJSON_Delete(snap);
	snap_test_rmdir(dir);
}

struct bad_index {
	const char *path;        /* "ranges.N.key" or a memory key */
	const char *value;       /* JSON text; NULL deletes */
	const char *error;
};

static const struct bad_index bad_indices[] = {
	{ "ranges.0.gpa", "\"0x1000\"", "memory.ranges[0].gpa: 0x1000, but the configured RAM" },
	{ "ranges.1.size", "\"0x4000000\"", "memory.ranges[1].size: 0x4000000, but the configured" },
	{ "ranges.0.file_offset", "\"0x800\"", "memory.ranges[0].file_offset: 0x800 is not page" },
	{ "ranges.1.file_offset", "\"0x200000000\"", "memory.ranges[1].file_offset: 0x200000000 + " },
	{ "ranges.1.file_offset", "\"0x1000\"", "memory.ranges: ranges 0 and 1 overlap" },
	{ "ranges.1.file_offset", "\"0xfffffffffffff000\"", "runs past file_size" },
	{ "ranges.0.extra", "\"0x0\"", "memory.ranges[0].extra: unknown key" },
	{ "file", "\"other\"", "memory.file: expected \"memory-ranges\"" },
	{ "file_size", "1", "memory.file_size: expected a \"0x...\"" },
	{ "extra", "1", "memory.extra: unknown key" },
	{ "ranges", "[]", "memory.ranges: 0 ranges, the configured memory has 2 regions" },
};

static void set_index(cJSON *mem, const char *path, const char *value)
{
	char key[32];
	int idx;

	if (sscanf(path, "ranges.%d.%31s", &idx, key) == 2) {
		cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(mem, "ranges"), idx);

		cJSON_DeleteItemFromObject(r, key);
		if (value)
			cJSON_AddItemToObject(r, key, cJSON_Parse(value));
		return;
	}
	cJSON_DeleteItemFromObject(mem, path);
	if (value)
		cJSON_AddItemToObject(mem, path, cJSON_Parse(value));
}

static void test_bad_index(void **state)
{
	struct guest_mem mem;
	struct snap_ram ram;
	struct snap_mem_stats st;
	cJSON *snap;
	char *dir, path[300];
	unsigned i;

	(void)state;
	assert_int_equal(arch_guest_mem_init(&mem, BIG_RAM), 0);
	fill(&mem);
	snap_ram_from_guest_mem(&mem, &ram);
	dir = save(&ram, &snap, &st);
	for (i = 0; i < sizeof(bad_indices) / sizeof(bad_indices[0]); i++) {
		cJSON *bad = cJSON_Duplicate(snap, 1);

		set_index(cJSON_GetObjectItem(bad, "memory"), bad_indices[i].path, bad_indices[i].value);
		err[0] = '\0';
		assert_int_equal(restore(dir, bad, &mem, SNAP_MEM_COPY, false, &ram), -EINVAL);
		if (!strstr(err, bad_indices[i].error))
			fail_msg("case %u (%s): got \"%s\"", i, bad_indices[i].path, err);
		cJSON_Delete(bad);
	}
	/* A truncated or missing memory-ranges file. */
	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_MEMORY_FILE);
	assert_int_equal(truncate(path, (off_t)(BIG_RAM - PAGE)), 0);
	assert_int_equal(restore(dir, snap, &mem, SNAP_MEM_LAZY, false, &ram), -EINVAL);
	assert_non_null(strstr(err, "memory-ranges: 4362072064 bytes, state.json says 0x104000000"));
	unlink(path);
	assert_int_equal(restore(dir, snap, &mem, SNAP_MEM_COPY, false, &ram), -ENOENT);
	assert_non_null(strstr(err, "memory-ranges: missing from the snapshot"));
	cJSON_Delete(snap);
	guest_mem_destroy(&mem);
	snap_test_rmdir(dir);
}

static void test_mode_parse(void **state)
{
	enum snap_mem_mode m;

	(void)state;
	assert_int_equal(snap_mem_mode_parse("lazy", &m), 0);
	assert_int_equal(m, SNAP_MEM_LAZY);
	assert_int_equal(snap_mem_mode_parse("Copy", &m), 0);
	assert_int_equal(m, SNAP_MEM_COPY);
	assert_int_equal(snap_mem_mode_parse("OnDemand", &m), -EINVAL);
	assert_int_equal(snap_mem_mode_parse(NULL, &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_sparse_file, &private_ram),
		cmocka_unit_test_prestate(test_sparse_file, &shared_ram),
		cmocka_unit_test_prestate(test_copy_and_lazy, &private_ram),
		cmocka_unit_test_prestate(test_copy_and_lazy, &shared_ram),
		cmocka_unit_test_prestate(test_lazy_then_snapshot, &private_ram),
		cmocka_unit_test_prestate(test_lazy_then_snapshot, &shared_ram),
		cmocka_unit_test_prestate(test_lazy_backing_truncated, &private_ram),
		cmocka_unit_test_prestate(test_prefault, &private_ram),
		cmocka_unit_test_prestate(test_prefault, &shared_ram),
		cmocka_unit_test(test_bad_index),
		cmocka_unit_test(test_mode_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
