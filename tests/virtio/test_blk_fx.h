/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixture of the virtio-blk tests: a real image file, the real device behind a real virtio-pci
 * transport, rings in real guest RAM, kicks through the notify register and the device's own
 * queue threads doing the work. Requests are crafted descriptor by descriptor, so malformed
 * ones are as easy to build as good ones. Each test runs once per I/O engine (the group's).
 */
#ifndef VIREO_TESTS_VIRTIO_TEST_BLK_FX_H
#define VIREO_TESTS_VIRTIO_TEST_BLK_FX_H

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "virtio/blk_internal.h"       /* the engines' test hooks */
#include "vtest.h"

#define MEM        (32ULL << 20)
#define QS         16
#define IMG_SECT   2048ULL                /* 1 MiB image */
#define HDR_GPA    0x100000ULL            /* + 32 * head */
#define STAT_GPA   0x101000ULL            /* + 64 * head */
#define TBL_GPA    0x108000ULL            /* indirect tables */
#define DATA_GPA   0x200000ULL            /* + 64 KiB * head */
#define DATA_SLOT  0x10000ULL
#define BIG_GPA    0x1000000ULL           /* 16 MiB: room for oversized segments */
#define ALL_OK (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)
#define R  0                               /* device-readable descriptor */
#define W  VRING_DESC_F_WRITE

static enum virtio_blk_engine g_engine;   /* set by the group setup */
static enum virtio_blk_engine g_expect;   /* the engine that must come out of it */

struct bfx {
	struct guest_mem mem;
	struct virtio_pci vp;
	bool vp_up;
	struct virtio_blk *blk;
	struct virtio_blk_params cfg;
	char path[64];
	int fd;                           /* the test's own view of the image */
	unsigned raises;
	unsigned nq;
	struct drv_ring r[2];
	uint16_t next_desc[2];
};

/* One descriptor of a crafted chain. */
struct d {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

static inline uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off >> 9) * 31 + (off & 511) + 1);
}

static int b_raise(void *ctx)
{
	__atomic_add_fetch(&((struct bfx *)ctx)->raises, 1, __ATOMIC_RELAXED);
	return 0;
}

static const struct virtio_intx_ops b_intx = { b_raise, NULL };

static inline int group_uring(void **state)
{
	(void)state;
	g_engine = g_expect = VIRTIO_BLK_ENGINE_URING;
	return 0;
}

static inline int group_sync(void **state)
{
	(void)state;
	g_engine = g_expect = VIRTIO_BLK_ENGINE_SYNC;
	return 0;
}

/* io_uring on a kernel whose ring reads honour O_NONBLOCK: the kick fd is polled instead. */
static inline int group_kick_polled(void **state)
{
	(void)state;
	g_engine = g_expect = VIRTIO_BLK_ENGINE_URING;
	blk_io_hook_nowait_kick = true;
	return 0;
}

/* vireo's default (AUTO) where io_uring is unavailable: the synchronous engine. */
static inline int group_no_uring(void **state)
{
	(void)state;
	g_engine = VIRTIO_BLK_ENGINE_AUTO;
	g_expect = VIRTIO_BLK_ENGINE_SYNC;
	blk_io_hook_no_uring = true;
	return 0;
}

static inline int group_end(void **state)
{
	(void)state;
	blk_io_hook_no_uring = blk_io_hook_nowait_kick = false;
	return 0;
}

/* A 1 MiB image holding pattern(offset), and guest RAM; the device is built by fx_open. */
static inline int fx_setup(void **state)
{
	struct bfx *f = calloc(1, sizeof(*f));
	uint8_t buf[4096];
	uint64_t off;
	unsigned i;

	assert_non_null(f);
	strcpy(f->path, "/tmp/vireo-blk-test-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	for (off = 0; off < IMG_SECT * 512; off += sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(off + i);
		assert_int_equal(pwrite(f->fd, buf, sizeof(buf), (off_t)off), sizeof(buf));
	}
	assert_int_equal(arch_guest_mem_init(&f->mem, MEM), 0);
	f->cfg = (struct virtio_blk_params){ .path = f->path, .num_queues = 1, .queue_size = QS,
				       .serial = "vireo-serial-0001" };
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct bfx *f = *state;

	if (f->vp_up)
		virtio_pci_destroy(&f->vp);
	virtio_blk_free(f->blk);
	close(f->fd);
	unlink(f->path);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static inline uint64_t fx_offered(struct bfx *f)
{
	return drv_offered(&f->vp);
}

/* Creates the device from f->cfg and brings it up with @features (~0: all offered). */
static inline void fx_open(struct bfx *f, uint64_t features)
{
	char err[256] = "";
	struct virtio_pci_args a = { .id = "blk0", .intx_ops = &b_intx, .intx_ctx = f };
	unsigned q;

	assert_int_equal(virtio_blk_new(&f->cfg, g_engine, &f->mem, &f->blk, err, sizeof(err)),
			 0);
	assert_int_equal(virtio_blk_engine(f->blk), g_expect);
	a.dev = virtio_blk_dev(f->blk);
	assert_int_equal(virtio_pci_init(&f->vp, &a), 0);
	f->vp_up = true;
	f->nq = a.dev->nr_queues;
	drv_status(&f->vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_features(&f->vp, features & fx_offered(f));
	drv_status(&f->vp, ALL_OK & ~VIRTIO_CONFIG_S_DRIVER_OK);
	for (q = 0; q < f->nq && q < 2; q++) {
		drv_init(&f->r[q], &f->mem, QS, 0x10000 + 0x10000ULL * q);
		drv_queue(&f->vp, (uint16_t)q, &f->r[q]);
	}
	drv_status(&f->vp, ALL_OK);
	assert_int_equal(drv_get_status(&f->vp), ALL_OK);
}

static inline void kick(struct bfx *f, unsigned q)
{
	bar_wr(&f->vp, virtio_pci_notify_offset(&f->vp, q), 2, q);
}

/* Writes the chain @ds at the next free descriptor indices, publishes it; returns the head. */
static inline uint16_t publish(struct bfx *f, unsigned q, const struct d *ds, unsigned n)
{
	uint16_t head = f->next_desc[q];
	unsigned i;

	assert_true(n <= QS);
	for (i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QS);

		drv_desc(&f->r[q], idx, ds[i].addr, ds[i].len,
			 (uint16_t)(ds[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)), (uint16_t)((idx + 1) % QS));
	}
	f->next_desc[q] = (uint16_t)((head + n) % QS);
	drv_publish(&f->r[q], head);
	return head;
}

static inline uint16_t submit(struct bfx *f, unsigned q, const struct d *ds, unsigned n)
{
	uint16_t head = publish(f, q, ds, n);

	kick(f, q);
	return head;
}

/* Per-request memory, by queue and head index (queue 1 lives 8 MiB higher). */
#define QOFF(q) (0x800000ULL * (q))

static inline uint64_t stat_gpa_q(unsigned q, uint16_t head)
{
	return STAT_GPA + QOFF(q) + 64ULL * head;
}

static inline uint64_t data_gpa_q(unsigned q, uint16_t head)
{
	return DATA_GPA + QOFF(q) + DATA_SLOT * head;
}

static inline uint64_t stat_gpa(uint16_t head)
{
	return stat_gpa_q(0, head);
}

static inline uint64_t data_gpa(uint16_t head)
{
	return data_gpa_q(0, head);
}

/* Header for the request whose chain will start at f->next_desc[q]; its status reads 0xee. */
static inline uint64_t hdr(struct bfx *f, unsigned q, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };
	uint64_t gpa = HDR_GPA + QOFF(q) + 32ULL * f->next_desc[q];

	memcpy(gp(&f->mem, gpa, sizeof(h)), &h, sizeof(h));
	*(uint8_t *)gp(&f->mem, stat_gpa_q(q, f->next_desc[q]), 1) = 0xee;
	return gpa;
}

/*
 * The usual request: header, one data buffer at data_gpa_q(q, head) (none when @len is 0),
 * one status byte at stat_gpa_q(q, head).
 */
static inline uint16_t req3_q(struct bfx *f, unsigned q, uint32_t type, uint64_t sector,
			      uint32_t len, uint16_t data_flags, bool do_kick)
{
	uint16_t head = f->next_desc[q];
	struct d ds[3] = { { hdr(f, q, type, sector), 16, R },
			   { data_gpa_q(q, head), len, data_flags },
			   { stat_gpa_q(q, head), 1, W } };

	if (!len)
		ds[1] = ds[2];
	publish(f, q, ds, len ? 3 : 2);
	if (do_kick)
		kick(f, q);
	return head;
}

static inline uint16_t req3(struct bfx *f, unsigned q, uint32_t type, uint64_t sector,
			    uint32_t len, uint16_t data_flags)
{
	return req3_q(f, q, type, sector, len, data_flags, true);
}

static inline uint8_t status_q(struct bfx *f, unsigned q, uint16_t head)
{
	return *(uint8_t *)gp(&f->mem, stat_gpa_q(q, head), 1);
}

static inline uint8_t status_of(struct bfx *f, uint16_t head)
{
	return status_q(f, 0, head);
}

static inline uint8_t *gbuf(struct bfx *f, uint64_t gpa, uint64_t len)
{
	return gp(&f->mem, gpa, len);
}

static inline bool wait_used(struct bfx *f, unsigned q, uint16_t idx)
{
	struct timespec ts = { 0, 1000000 };
	int ms = 5000;

	while (drv_used_idx(&f->r[q]) != idx && ms-- > 0)
		nanosleep(&ts, NULL);
	return drv_used_idx(&f->r[q]) == idx;
}

/* Used element @slot of queue @q. */
static inline void used(struct bfx *f, unsigned q, uint16_t slot, uint32_t *id, uint32_t *len)
{
	drv_used_elem(&f->r[q], slot, id, len);
}

static inline struct virtio_blk_counters ctr(struct bfx *f)
{
	struct virtio_blk_counters c;

	virtio_blk_counters(f->blk, &c);
	return c;
}

/* Reads the image through the test's own fd. */
static inline void file_read(struct bfx *f, uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(f->fd, buf, len, (off_t)off), (ssize_t)len);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

#endif
