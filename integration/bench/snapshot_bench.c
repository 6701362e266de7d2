// SPDX-License-Identifier: Apache-2.0
/*
 * Library-level benchmark of guest RAM snapshot/restore (no guest): a guest_mem of the given
 * size with a little memory touched is saved to memory-ranges and restored copy and lazy;
 * the peer is the dense approach (every byte of RAM written and read back, as full snapshots
 * without hole tracking do). Also times the ways to find touched pages. Prints medians as one
 * JSON object; integration/bench/snapshot_bench.py runs it per size and makes the table.
 *
 * usage: snapshot_bench SIZE_MIB TOUCH_MIB RUNS DIR
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "snapshot/internal.h"   /* snap_next_data(), snap_io_all() */

#define PAGE 4096ULL
#define CHUNK (64ULL << 10)
#define MAX_RUNS 15

static char err[256];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "snapshot_bench: %s: %s\n", what, err);
	exit(1);
}

/* @touch bytes in 64 KiB chunks spread evenly over RAM, like a lightly used guest. */
static uint64_t touch(struct guest_mem *mem, uint64_t bytes)
{
	uint64_t chunks = bytes / CHUNK, stride = mem->total / chunks, i, sum = 0, k;

	for (i = 0; i < chunks; i++) {
		uint8_t *p = mem->base + i * (stride & ~(CHUNK - 1));

		for (k = 0; k < CHUNK; k += 512) {
			p[k] = (uint8_t)(i + k / 512 + 1);
			sum += p[k];
		}
	}
	return sum;
}

static uint64_t checksum(struct guest_mem *mem, uint64_t bytes)
{
	uint64_t chunks = bytes / CHUNK, stride = mem->total / chunks, i, sum = 0, k;

	for (i = 0; i < chunks; i++)
		for (k = 0; k < CHUNK; k += 512)
			sum += mem->base[i * (stride & ~(CHUNK - 1)) + k];
	return sum;
}

static char *save(struct guest_mem *mem, const char *base, cJSON **state, double *ms)
{
	char *dir = malloc(512);
	struct snap_writer *w;
	struct snap_ram ram;
	double t0;

	snprintf(dir, 512, "%s/snapbench.XXXXXX", base);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snap_ram_from_guest_mem(mem, &ram);
	t0 = now_ms();
	*state = snap_state_new();
	/* state.json needs one vCPU; this benchmark only reads the memory section. */
	cJSON *vcpu = cJSON_CreateObject();

	cJSON_AddNumberToObject(vcpu, "id", 0);
	if (snap_state_add_vcpu(*state, vcpu) || snap_writer_open(dir, &w, err, sizeof(err)) ||
	    snap_mem_save(&ram, w, *state, NULL, err, sizeof(err)) ||
	    snap_state_write(w, *state, err, sizeof(err)) || snap_writer_commit(w, err, sizeof(err)))
		die("save");
	*ms = now_ms() - t0;
	return dir;
}

/* Process-start-like restore: fresh guest_mem, read state.json, fill RAM. */
static double restore(const char *dir, uint64_t size, enum snap_mem_mode mode,
		      uint64_t touched, uint64_t want_sum, double *touch_ms)
{
	struct guest_mem mem;
	struct snap_ram ram;
	cJSON *state;
	double t0 = now_ms(), ms;
	int fd;

	fd = snap_dir_open(dir, err, sizeof(err));
	if (fd < 0 || arch_guest_mem_init(&mem, size) || snap_state_read(fd, &state, err, sizeof(err)) ||
	    snap_mem_restore(state, fd, &mem, mode, false, &ram, err, sizeof(err)))
		die("restore");
	ms = now_ms() - t0;
	t0 = now_ms();
	if (checksum(&mem, touched) != want_sum)
		die("restored memory differs");
	*touch_ms = now_ms() - t0;
	snap_ram_release(&ram);
	guest_mem_destroy(&mem);
	cJSON_Delete(state);
	close(fd);
	return ms;
}

/* The peer: every byte written, fsynced, and read back into fresh RAM. */
static void dense(struct guest_mem *mem, const char *base, double *save_ms, double *load_ms)
{
	char path[512];
	struct guest_mem back;
	double t0;
	int fd;

	snprintf(path, sizeof(path), "%s/snapbench-dense.XXXXXX", base);
	fd = mkstemp(path);
	t0 = now_ms();
	if (fd < 0 || snap_io_all(fd, mem->base, mem->total, 0, true) || fsync(fd))
		die("dense write");
	*save_ms = now_ms() - t0;
	t0 = now_ms();
	if (arch_guest_mem_init(&back, mem->total) ||
	    snap_io_all(fd, back.base, mem->total, 0, false))
		die("dense read");
	*load_ms = now_ms() - t0;
	guest_mem_destroy(&back);
	close(fd);
	unlink(path);
}

/* Ways to find the touched pages of a memfd: SEEK_DATA/HOLE, mincore, pread zero-scan. */
static void scans(uint64_t size, uint64_t touched, double out[3])
{
	static uint8_t buf[1 << 20];
	unsigned char *vec = malloc(size / PAGE);
	uint64_t pos = 0, start, stop, off, found = 0;
	struct guest_mem shm, *mem = &shm;
	double t0;

	if (arch_guest_mem_init_shared(&shm, size))
		die("arch_guest_mem_init_shared");
	touch(&shm, touched);
	t0 = now_ms();

	while (snap_next_data(mem->memfd, &pos, mem->total, &start, &stop) > 0)
		found += stop - start;
	out[0] = now_ms() - t0;
	t0 = now_ms();
	if (mincore(mem->base, mem->total, vec))
		die("mincore");
	out[1] = now_ms() - t0;
	t0 = now_ms();
	for (off = 0; off < mem->total; off += sizeof(buf))
		if (pread(mem->memfd, buf, sizeof(buf), (off_t)off) != sizeof(buf))
			die("pread");
	out[2] = now_ms() - t0;
	free(vec);
	guest_mem_destroy(&shm);
	(void)found;
}

int main(int argc, char **argv)
{
	double save_ms[MAX_RUNS], copy_ms[MAX_RUNS], lazy_ms[MAX_RUNS], lazy_touch[MAX_RUNS];
	double copy_touch[MAX_RUNS], dsave[MAX_RUNS], dload[MAX_RUNS], scan[3][MAX_RUNS], s3[3];
	uint64_t size, touched, sum;
	struct guest_mem mem;
	int runs, i, k;

	if (argc != 5)
		return fprintf(stderr, "usage: %s SIZE_MIB TOUCH_MIB RUNS DIR\n", argv[0]), 2;
	size = strtoull(argv[1], NULL, 0) << 20;
	touched = strtoull(argv[2], NULL, 0) << 20;
	runs = atoi(argv[3]);
	if (runs < 1 || runs > MAX_RUNS || !touched || touched > size)
		return fprintf(stderr, "snapshot_bench: bad arguments\n"), 2;
	for (i = 0; i < runs; i++) {
		cJSON *state;
		char *dir;

		if (arch_guest_mem_init(&mem, size))
			die("arch_guest_mem_init");
		sum = touch(&mem, touched);
		dir = save(&mem, argv[4], &state, &save_ms[i]);
		copy_ms[i] = restore(dir, size, SNAP_MEM_COPY, touched, sum, &copy_touch[i]);
		lazy_ms[i] = restore(dir, size, SNAP_MEM_LAZY, touched, sum, &lazy_touch[i]);
		scans(size, touched, s3);
		for (k = 0; k < 3; k++)
			scan[k][i] = s3[k];
		dense(&mem, argv[4], &dsave[i], &dload[i]);
		guest_mem_destroy(&mem);
		cJSON_Delete(state);
		snprintf(err, sizeof(err), "rm -rf '%s'", dir);
		if (system(err))
			die("cleanup");
		free(dir);
	}
	printf("{\"size_mib\":%llu,\"touched_mib\":%llu,\"runs\":%d,\"save_ms\":%.2f,"
	       "\"restore_copy_ms\":%.2f,\"copy_first_touch_ms\":%.2f,\"restore_lazy_ms\":%.2f,"
	       "\"lazy_first_touch_ms\":%.2f,\"dense_save_ms\":%.2f,\"dense_restore_ms\":%.2f,"
	       "\"scan_seek_data_ms\":%.3f,\"scan_mincore_ms\":%.3f,\"scan_pread_ms\":%.2f}\n",
	       (unsigned long long)(size >> 20), (unsigned long long)(touched >> 20), runs,
	       median(save_ms, runs), median(copy_ms, runs), median(copy_touch, runs),
	       median(lazy_ms, runs), median(lazy_touch, runs), median(dsave, runs),
	       median(dload, runs), median(scan[0], runs), median(scan[1], runs),
	       median(scan[2], runs));
	return 0;
}
