// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk data path and device behaviour: reads and writes against a real image, FLUSH,
 * GET_ID, DISCARD / WRITE_ZEROES, two queues at once, O_DIRECT, config space per feature set,
 * image opening and locking errors, the rate limiter holding requests back (never failing
 * them) while stop and pause still work, pause with requests in flight, snapshot identity.
 * Each test runs with io_uring and with the synchronous engine.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "test_blk_fx.h"

#define ALL_F (~0ULL)

static void expect_ok(struct bfx *f, unsigned q, uint16_t slot, uint16_t head, uint32_t len)
{
	uint32_t id, ulen;

	assert_true(wait_used(f, q, (uint16_t)(slot + 1)));
	used(f, q, slot, &id, &ulen);
	assert_int_equal(id, head);
	assert_int_equal(ulen, len);
	assert_int_equal(status_of(f, head), VIRTIO_BLK_S_OK);
}

static void expect_pattern(const uint8_t *buf, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		assert_int_equal(buf[i], pattern(off + i));
}

/* ------------------------------------------------------------------ data */

static void test_read(void **state)
{
	struct bfx *f = *state;
	struct virtio_blk_counters c;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_IN, 10, 4096, W);
	expect_ok(f, 0, 0, head, 4097);
	expect_pattern(gbuf(f, data_gpa(head), 4096), 10 * 512, 4096);
	c = ctr(f);
	assert_int_equal(c.read_ops, 1);
	assert_int_equal(c.read_bytes, 4096);
	assert_true(c.read_latency_min <= c.read_latency_max);
	assert_true(c.read_latency_max != UINT64_MAX);
	assert_int_equal(c.write_ops, 0);
	assert_int_equal(c.write_latency_min, UINT64_MAX);     /* CH: none yet */
	assert_int_equal(c.write_latency_avg, UINT64_MAX / 10000);
}

/* Data split over several descriptors, the first sharing the header's descriptor. */
static void test_scattered_write(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	uint64_t h = hdr(f, 0, VIRTIO_BLK_T_OUT, 3);
	uint8_t *src = gbuf(f, h + 16, 512), back[1536];
	struct d ds[4] = { { h, 16 + 512, R }, { data_gpa(head), 512, R },
			   { data_gpa(head) + 4096, 512, R }, { stat_gpa(head), 1, W } };

	fx_open(f, ALL_F);
	memset(src, 0xa1, 512);
	memset(gbuf(f, data_gpa(head), 512), 0xb2, 512);
	memset(gbuf(f, data_gpa(head) + 4096, 512), 0xc3, 512);
	submit(f, 0, ds, 4);
	expect_ok(f, 0, 0, head, 1);
	file_read(f, 3 * 512, back, sizeof(back));
	assert_int_equal(back[0], 0xa1);
	assert_int_equal(back[511], 0xa1);
	assert_int_equal(back[512], 0xb2);
	assert_int_equal(back[1535], 0xc3);
	assert_int_equal(ctr(f).write_bytes, 1536);
}

static void write_flush_read(struct bfx *f, uint64_t features)
{
	uint8_t back[1024];
	uint16_t w, fl, r;

	fx_open(f, features);
	memset(gbuf(f, data_gpa(f->next_desc[0]), 1024), 0x3c, 1024);
	w = req3(f, 0, VIRTIO_BLK_T_OUT, 100, 1024, R);
	expect_ok(f, 0, 0, w, 1);
	fl = req3(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	expect_ok(f, 0, 1, fl, 1);
	r = req3(f, 0, VIRTIO_BLK_T_IN, 99, 2048, W);
	expect_ok(f, 0, 2, r, 2049);
	expect_pattern(gbuf(f, data_gpa(r), 512), 99 * 512, 512);
	assert_int_equal(gbuf(f, data_gpa(r), 2048)[512], 0x3c);
	assert_int_equal(gbuf(f, data_gpa(r), 2048)[1535], 0x3c);
	expect_pattern(gbuf(f, data_gpa(r), 2048) + 1536, 102 * 512, 512);
	file_read(f, 100 * 512, back, sizeof(back));
	assert_int_equal(back[0], 0x3c);
	assert_int_equal(back[1023], 0x3c);
	assert_int_equal(ctr(f).write_ops, 1);
	assert_int_equal(ctr(f).write_bytes, 1024);
	assert_int_equal(ctr(f).flush_ops, 1);
}

static void test_write_flush_read(void **state)
{
	write_flush_read(*state, ALL_F);
}

/* Without FLUSH negotiated the device is write-through (RWF_DSYNC); same results. */
static void test_write_through(void **state)
{
	write_flush_read(*state, ALL_F & ~VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
}

/*
 * A FLUSH published right behind writes completes after all of them (5.2.6.2), round after
 * round. With O_DIRECT the writes really are in flight when the FLUSH is popped.
 */
static void test_flush_waits_for_writes(void **state)
{
	struct bfx *f = *state;
	uint16_t heads[3], flush, i, round, base;
	uint32_t id, len;

	f->cfg.direct = true;
	fx_open(f, ALL_F);
	for (round = 0; round < 12; round++) {
		base = drv_used_idx(&f->r[0]);
		for (i = 0; i < 3; i++) {
			memset(gbuf(f, data_gpa_q(0, f->next_desc[0]), 61440), round + i, 61440);
			heads[i] = req3_q(f, 0, VIRTIO_BLK_T_OUT, 120 * i, 61440, R, false);
		}
		flush = req3_q(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, true);
		assert_true(wait_used(f, 0, (uint16_t)(base + 4)));
		used(f, 0, (uint16_t)(base + 3), &id, &len);
		assert_int_equal(id, flush);             /* last of the four */
		assert_int_equal(status_of(f, flush), VIRTIO_BLK_S_OK);
		for (i = 0; i < 3; i++)
			assert_int_equal(status_of(f, heads[i]), VIRTIO_BLK_S_OK);
	}
	assert_int_equal(ctr(f).write_ops, 36);
	assert_int_equal(ctr(f).flush_ops, 12);
}

static void test_direct(void **state)
{
	struct bfx *f = *state;

	f->cfg.direct = true;
	write_flush_read(f, ALL_F);
	assert_int_equal(ctr(f).io_errors, 0);
}

static uint32_t dio_mem_align(struct bfx *f)
{
	struct statx stx;

	assert_int_equal(statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx), 0);
	return (stx.stx_mask & STATX_DIOALIGN) ? stx.stx_dio_mem_align : 512;
}

/*
 * direct=on with buffers O_DIRECT cannot take: data split at an odd byte over two segments, a
 * header sharing its descriptor with the data (2.6.4), a read into an address 8 bytes off.
 * Each goes through an aligned buffer: the data lands on disk and reads back, counted.
 */
static void test_direct_misaligned(void **state)
{
	struct bfx *f = *state;
	struct virtio_blk_outhdr h = { htole32(VIRTIO_BLK_T_OUT), 0, htole64(44) };
	uint64_t d = data_gpa(0) + 1, joint = data_gpa(1) + 1;
	uint8_t back[1536];
	uint16_t w, r;

	f->cfg.direct = true;
	fx_open(f, ALL_F);
	memset(gbuf(f, d, 1536), 0x5a, 1536);
	w = submit(f, 0, (struct d[]){ { hdr(f, 0, VIRTIO_BLK_T_OUT, 40), 16, R }, { d, 101, R },
				       { d + 101, 1435, R }, { stat_gpa(f->next_desc[0]), 1, W } }, 4);
	expect_ok(f, 0, 0, w, 1);
	memcpy(gbuf(f, joint, 16), &h, 16);
	memset(gbuf(f, joint + 16, 512), 0xa7, 512);
	*gbuf(f, stat_gpa(f->next_desc[0]), 1) = 0xee;
	w = submit(f, 0, (struct d[]){ { joint, 16 + 512, R },
				       { stat_gpa(f->next_desc[0]), 1, W } }, 2);
	expect_ok(f, 0, 1, w, 1);
	file_read(f, 40 * 512, back, sizeof(back));
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0x5a);
	memset(gbuf(f, d, 2560), 0, 2560);
	r = submit(f, 0, (struct d[]){ { hdr(f, 0, VIRTIO_BLK_T_IN, 40), 16, R }, { d, 2560, W },
				       { stat_gpa(f->next_desc[0]), 1, W } }, 3);
	expect_ok(f, 0, 2, r, 2561);
	assert_memory_equal(gbuf(f, d, 1536), back, 1536);
	expect_pattern(gbuf(f, d + 1536, 512), 43 * 512, 512);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(gbuf(f, d + 2048, 512)[i], 0xa7);
	/* Odd addresses: every request bounces wherever O_DIRECT wants any memory alignment. */
	assert_int_equal(ctr(f).bounced, dio_mem_align(f) > 1 ? 3 : 0);
	assert_int_equal(ctr(f).io_errors, 0);
}

/*
 * Misaligned requests larger than the bounce buffer, two at once: they move chunk by chunk,
 * the second waits for the buffer, both complete with the right data.
 */
static void test_direct_misaligned_large(void **state)
{
	struct bfx *f = *state;
	const uint32_t len = 600 << 10;
	uint64_t src = BIG_GPA + 1, dst = BIG_GPA + (1 << 20) + 3;
	uint8_t *file = malloc(len);
	uint16_t w, r;

	assert_non_null(file);
	f->cfg.direct = true;
	fx_open(f, ALL_F);
	for (uint32_t i = 0; i < len; i++)
		gbuf(f, src, len)[i] = (uint8_t)(i * 7 + i / 4096);
	memset(gbuf(f, dst, len), 0, len);
	w = publish(f, 0, (struct d[]){ { hdr(f, 0, VIRTIO_BLK_T_OUT, 200), 16, R },
					{ src, len, R }, { stat_gpa(f->next_desc[0]), 1, W } }, 3);
	r = publish(f, 0, (struct d[]){ { hdr(f, 0, VIRTIO_BLK_T_IN, 200), 16, R },
					{ dst, len, W }, { stat_gpa(f->next_desc[0]), 1, W } }, 3);
	kick(f, 0);
	assert_true(wait_used(f, 0, 2));
	assert_int_equal(status_of(f, w), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(f, r), VIRTIO_BLK_S_OK);
	file_read(f, 200 * 512, file, len);
	assert_memory_equal(file, gbuf(f, src, len), len);
	assert_memory_equal(gbuf(f, dst, len), gbuf(f, src, len), len);
	assert_int_equal(ctr(f).bounced, dio_mem_align(f) > 1 ? 2 : 0);
	assert_int_equal(ctr(f).write_bytes, len);
	free(file);
}

static void test_get_id(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	f->cfg.serial = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";      /* longer than 20: cut */
	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_GET_ID, 0, 20, W);
	expect_ok(f, 0, 0, head, 21);
	assert_memory_equal(gbuf(f, data_gpa(head), 20), "ABCDEFGHIJKLMNOPQRST", 20);
	/* A shorter buffer gets what fits. */
	memset(gbuf(f, data_gpa(f->next_desc[0]), 16), 0, 16);
	head = req3(f, 0, VIRTIO_BLK_T_GET_ID, 0, 8, W);
	expect_ok(f, 0, 1, head, 9);
	assert_memory_equal(gbuf(f, data_gpa(head), 9), "ABCDEFGH\0", 9);
	assert_int_equal(ctr(f).get_id_ops, 2);
}

static void dwz(struct bfx *f, uint16_t slot, uint32_t type, uint64_t sector, uint32_t num,
		uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = { htole64(sector), htole32(num), htole32(flags) };
	uint16_t head;

	memcpy(gbuf(f, data_gpa(f->next_desc[0]), sizeof(s)), &s, sizeof(s));
	head = req3(f, 0, type, 0, 16, R);
	expect_ok(f, 0, slot, head, 1);
}

static void expect_zero(struct bfx *f, uint64_t sector, unsigned sectors)
{
	uint8_t buf[8 * 512];
	unsigned i;

	assert_true(sectors <= 8);
	file_read(f, sector * 512, buf, sectors * 512);
	for (i = 0; i < sectors * 512; i++)
		assert_int_equal(buf[i], 0);
}

static void test_discard_and_write_zeroes(void **state)
{
	struct bfx *f = *state;
	uint8_t edge[512];
	uint16_t r;

	fx_open(f, ALL_F);
	dwz(f, 0, VIRTIO_BLK_T_DISCARD, 64, 8, 0);
	expect_zero(f, 64, 8);
	dwz(f, 1, VIRTIO_BLK_T_WRITE_ZEROES, 200, 3, 0);
	expect_zero(f, 200, 3);
	dwz(f, 2, VIRTIO_BLK_T_WRITE_ZEROES, 300, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	expect_zero(f, 300, 8);
	/* Neighbours are untouched. */
	file_read(f, 203 * 512, edge, 512);
	expect_pattern(edge, 203 * 512, 512);
	file_read(f, 199 * 512, edge, 512);
	expect_pattern(edge, 199 * 512, 512);
	/* The guest reads the zeroes back too. */
	r = req3(f, 0, VIRTIO_BLK_T_IN, 200, 1536, W);
	expect_ok(f, 0, 3, r, 1537);
	assert_int_equal(gbuf(f, data_gpa(r), 1536)[1535], 0);
	assert_int_equal(ctr(f).discard_ops, 1);
	assert_int_equal(ctr(f).write_zeroes_ops, 2);
}

/* Two queues, each with its own thread, served at the same time. */
static void test_two_queues(void **state)
{
	struct bfx *f = *state;
	uint16_t rd[4], wr[4], i;
	uint8_t b;

	f->cfg.num_queues = 2;
	fx_open(f, ALL_F);
	assert_true(fx_offered(f) & VIRTIO_BIT(VIRTIO_BLK_F_MQ));
	for (i = 0; i < 4; i++) {
		memset(gbuf(f, data_gpa_q(1, f->next_desc[1]), 512), 0x40 + i, 512);
		wr[i] = req3_q(f, 1, VIRTIO_BLK_T_OUT, 1000 + i, 512, R, false);
		rd[i] = req3_q(f, 0, VIRTIO_BLK_T_IN, 8 * i, 4096, W, false);
	}
	kick(f, 0);
	kick(f, 1);
	assert_true(wait_used(f, 0, 4));
	assert_true(wait_used(f, 1, 4));
	for (i = 0; i < 4; i++) {
		assert_int_equal(status_q(f, 0, rd[i]), VIRTIO_BLK_S_OK);
		expect_pattern(gbuf(f, data_gpa(rd[i]), 4096), 8 * 512 * i, 4096);
		assert_int_equal(status_q(f, 1, wr[i]), VIRTIO_BLK_S_OK);
		file_read(f, (1000 + i) * 512, &b, 1);
		assert_int_equal(b, 0x40 + i);
	}
	assert_int_equal(ctr(f).read_ops, 4);
	assert_int_equal(ctr(f).write_ops, 4);
}

/* Header, then data and status sharing one descriptor (status at its last byte). */
static uint16_t read2(struct bfx *f, uint64_t sector, uint32_t len)
{
	uint16_t head = f->next_desc[0];
	struct d ds[2] = { { hdr(f, 0, VIRTIO_BLK_T_IN, sector), 16, R },
			   { data_gpa(head), len + 1, W } };

	return publish(f, 0, ds, 2);
}

/* A whole ring of requests published at once: all complete, each with its own data. */
static void test_full_ring(void **state)
{
	struct bfx *f = *state;
	uint16_t heads[QS / 2], i;

	fx_open(f, ALL_F);
	for (i = 0; i < QS / 2; i++) {
		heads[i] = read2(f, 16 * i, 8192);
	}
	kick(f, 0);
	assert_true(wait_used(f, 0, QS / 2));
	for (i = 0; i < QS / 2; i++) {
		/* Data and status share the last descriptor: status at its last byte. */
		assert_int_equal(gbuf(f, data_gpa(heads[i]), 8193)[8192], VIRTIO_BLK_S_OK);
		expect_pattern(gbuf(f, data_gpa(heads[i]), 8192), 16 * 512 * i, 8192);
	}
	assert_int_equal(ctr(f).read_bytes, 8192 * (QS / 2));
	assert_int_equal(virtio_blk_inflight(f->blk), 0);
}

/* After pause returns nothing is in flight and every popped chain is used. */
static void test_pause_completes_in_flight(void **state)
{
	struct bfx *f = *state;
	struct virtq *vq;
	uint16_t i;

	fx_open(f, ALL_F);
	for (i = 0; i < QS / 2; i++)
		read2(f, 64 * i, 32768);
	kick(f, 0);
	assert_int_equal(virtio_pci_pause(&f->vp), 0);
	vq = &f->vp.dev->vqs[0];
	assert_int_equal(virtio_blk_inflight(f->blk), 0);
	assert_int_equal(drv_used_idx(&f->r[0]), vq->next_avail);
	assert_int_equal(vq->popped, vq->pushed);
	virtio_pci_resume(&f->vp);
	assert_true(wait_used(f, 0, QS / 2));
	assert_int_equal(ctr(f).read_ops, QS / 2);
}

/* ------------------------------------------------------------------ rate limiter */

static bool wait_throttled(struct bfx *f, uint64_t n)
{
	struct timespec ts = { 0, 1000000 };
	int ms = 5000;

	while (ctr(f).throttled < n && ms-- > 0)
		nanosleep(&ts, NULL);
	return ctr(f).throttled >= n;
}

/*
 * One op per minute: malformed requests spend nothing, the first good one passes, the
 * second is held back (not failed, not used, given back to the ring); pause and reset still
 * return at once.
 */
static void test_throttle_holds_back(void **state)
{
	struct bfx *f = *state;
	uint16_t bad, ok, held;

	f->cfg.rate_limiter = (struct rate_limiter_params){
		.ops = { .size = 1, .refill_time = 60000 } };
	fx_open(f, ALL_F);
	bad = req3(f, 0, VIRTIO_BLK_T_IN, IMG_SECT, 512, W);
	assert_true(wait_used(f, 0, 1));
	assert_int_equal(status_of(f, bad), VIRTIO_BLK_S_IOERR);
	ok = req3(f, 0, VIRTIO_BLK_T_IN, 0, 512, W);
	held = req3(f, 0, VIRTIO_BLK_T_IN, 1, 512, W);
	assert_true(wait_used(f, 0, 2));
	assert_true(wait_throttled(f, 1));
	assert_int_equal(virtio_pci_pause(&f->vp), 0);
	assert_int_equal(drv_used_idx(&f->r[0]), 2);
	assert_int_equal(f->vp.dev->vqs[0].next_avail, 2);       /* put back */
	assert_int_equal(status_of(f, held), 0xee);
	assert_int_equal(status_of(f, ok), VIRTIO_BLK_S_OK);
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_RANGE], 1);
	assert_int_equal(ctr(f).io_errors, 0);
	virtio_pci_resume(&f->vp);
	drv_status(&f->vp, 0);                   /* reset joins the throttled thread */
	assert_int_equal(drv_get_status(&f->vp), 0);
}

/* A tight byte budget: every request eventually completes, in order, none failed. */
static void test_throttle_retries(void **state)
{
	struct bfx *f = *state;
	uint16_t heads[4], i;

	f->cfg.rate_limiter = (struct rate_limiter_params){
		.bandwidth = { .size = 4096, .refill_time = 500 } };
	fx_open(f, ALL_F);
	for (i = 0; i < 4; i++)
		heads[i] = req3_q(f, 0, VIRTIO_BLK_T_IN, 8 * i, 4096, W, false);
	kick(f, 0);
	for (i = 0; i < 4; i++)
		expect_ok(f, 0, i, heads[i], 4097);
	assert_true(ctr(f).throttled >= 1);
	assert_int_equal(ctr(f).read_ops, 4);
}

/* ------------------------------------------------------------------ config and opening */

static uint64_t cfg_rd(struct bfx *f, size_t off, unsigned len)
{
	return bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + off, len);
}

#define CFG(field) offsetof(struct virtio_blk_config, field)

static void test_config_space(void **state)
{
	struct bfx *f = *state;
	uint64_t offered;

	f->cfg.num_queues = 2;
	fx_open(f, ALL_F);
	offered = fx_offered(f);
	assert_int_equal(offered & 0xffffffffULL,
			 VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			 VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
			 VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_MQ) |
			 VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) |
			 VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			 VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	assert_int_equal(cfg_rd(f, CFG(capacity), 8), IMG_SECT);
	assert_int_equal(cfg_rd(f, CFG(capacity), 4), IMG_SECT);
	assert_int_equal(cfg_rd(f, CFG(size_max), 4), VIRTIO_BLK_SIZE_MAX);
	assert_int_equal(cfg_rd(f, CFG(seg_max), 4), QS - 2);
	assert_int_equal(cfg_rd(f, CFG(blk_size), 4), 512);
	assert_true(cfg_rd(f, CFG(physical_block_exp), 1) <= 7);
	assert_int_equal(cfg_rd(f, CFG(alignment_offset), 1), 0);
	assert_int_equal(cfg_rd(f, CFG(wce), 1), 1);
	assert_int_equal(cfg_rd(f, CFG(num_queues), 2), 2);
	assert_int_equal(cfg_rd(f, CFG(max_discard_sectors), 4), VIRTIO_BLK_DWZ_MAX_SECTORS);
	assert_int_equal(cfg_rd(f, CFG(max_discard_seg), 4), 1);
	assert_int_equal(cfg_rd(f, CFG(discard_sector_alignment), 4), 1);
	assert_int_equal(cfg_rd(f, CFG(max_write_zeroes_sectors), 4),
			 VIRTIO_BLK_DWZ_MAX_SECTORS);
	assert_int_equal(cfg_rd(f, CFG(max_write_zeroes_seg), 4), 1);
	assert_int_equal(cfg_rd(f, CFG(write_zeroes_may_unmap), 1), 1);
	assert_int_equal(cfg_rd(f, CFG(unused1), 1), 0);
	assert_int_equal(cfg_rd(f, CFG(max_secure_erase_sectors), 4), 0);
	/* Read-only fields stay as they are. */
	bar_wr(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + CFG(capacity), 4, 7);
	bar_wr(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + CFG(wce), 1, 0);
	assert_int_equal(cfg_rd(f, CFG(capacity), 8), IMG_SECT);
	assert_int_equal(cfg_rd(f, CFG(wce), 1), 1);
	assert_int_equal(virtio_blk_capacity(f->blk), IMG_SECT);
}

static void test_config_read_only(void **state)
{
	struct bfx *f = *state;

	f->cfg.readonly = true;
	f->cfg.queue_size = 1024;                  /* seg_max is capped */
	fx_open(f, ALL_F);
	assert_int_equal(cfg_rd(f, CFG(seg_max), 4), VIRTIO_BLK_SEG_MAX_CAP);
	assert_int_equal(cfg_rd(f, CFG(num_queues), 2), 1);
	assert_int_equal(cfg_rd(f, CFG(max_discard_sectors), 4), 0);
	assert_int_equal(cfg_rd(f, CFG(max_write_zeroes_seg), 4), 0);
	assert_int_equal(cfg_rd(f, CFG(write_zeroes_may_unmap), 1), 0);
}

static void test_open_errors(void **state)
{
	struct bfx *f = *state;
	struct virtio_blk *a = NULL, *b = NULL;
	struct virtio_blk_params cfg = f->cfg;
	char err[256];

	cfg.path = "/nonexistent/disk.img";
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &a, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/disk.img"));
	assert_null(a);
	cfg = f->cfg;
	cfg.queue_size = 100;
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "queue_size=100"));
	cfg = f->cfg;
	cfg.path = "/tmp";
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &a, err, sizeof(err)) < 0, 1);
	/* A writable image is exclusive; read-only users share. */
	cfg = f->cfg;
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &a, err, sizeof(err)), 0);
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &b, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "locked"));
	cfg.readonly = true;
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &b, err, sizeof(err)), -EBUSY);
	virtio_blk_free(a);
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &a, err, sizeof(err)), 0);
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &b, err, sizeof(err)), 0);
	cfg.readonly = false;
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &f->blk, err, sizeof(err)), -EBUSY);
	virtio_blk_free(a);
	virtio_blk_free(b);
}

static void test_snapshot_identity(void **state)
{
	struct bfx *f = *state;
	char err[256];
	cJSON *s;

	fx_open(f, ALL_F);
	assert_int_equal(virtio_pci_pause(&f->vp), 0);
	s = virtio_blk_save(f->blk);
	assert_non_null(s);
	assert_int_equal(virtio_blk_restore(f->blk, s, err, sizeof(err)), 0);
	cJSON_ReplaceItemInObject(s, "capacity", cJSON_CreateString("0x801"));
	assert_int_equal(virtio_blk_restore(f->blk, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "capacity: 0x801, but this disk has 0x800 sectors"));
	cJSON_ReplaceItemInObject(s, "capacity", cJSON_CreateString("0x800"));
	cJSON_ReplaceItemInObject(s, "readonly", cJSON_CreateTrue());
	assert_int_equal(virtio_blk_restore(f->blk, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "readonly: true, but this disk is writable"));
	cJSON_ReplaceItemInObject(s, "readonly", cJSON_CreateFalse());
	cJSON_ReplaceItemInObject(s, "id", cJSON_CreateString("other"));
	assert_int_equal(virtio_blk_restore(f->blk, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id: \"other\", but this disk's serial= is"));
	cJSON_DeleteItemFromObject(s, "id");
	assert_int_equal(virtio_blk_restore(f->blk, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id: expected a string"));
	cJSON_Delete(s);
	virtio_pci_resume(&f->vp);
}

/* Without serial=, a copied or moved image answers GET_ID as the guest saw it before. */
static void test_snapshot_id_of_copied_image(void **state)
{
	struct bfx *f = *state;
	struct virtio_blk_params cfg = f->cfg;
	struct virtio_blk *a = NULL, *b = NULL;
	char err[256], copy[] = "/tmp/vireo-blk-copy-XXXXXX";
	int in = open(f->cfg.path, O_RDONLY | O_CLOEXEC), out = mkstemp(copy);
	cJSON *saved, *now;
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0)) > 0)
		;
	assert_int_equal(n, 0);
	close(in);
	close(out);
	cfg.serial = NULL;
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &a, err, sizeof(err)), 0);
	saved = virtio_blk_save(a);
	virtio_blk_free(a);
	cfg.path = copy;
	assert_int_equal(virtio_blk_new(&cfg, g_engine, &f->mem, &b, err, sizeof(err)), 0);
	now = virtio_blk_save(b);
	assert_string_not_equal(cJSON_GetObjectItem(now, "id")->valuestring,
				cJSON_GetObjectItem(saved, "id")->valuestring);   /* another inode */
	cJSON_Delete(now);
	assert_int_equal(virtio_blk_restore(b, saved, err, sizeof(err)), 0);
	now = virtio_blk_save(b);
	assert_string_equal(cJSON_GetObjectItem(now, "id")->valuestring,
			    cJSON_GetObjectItem(saved, "id")->valuestring);
	cJSON_Delete(now);
	cJSON_Delete(saved);
	virtio_blk_free(b);
	unlink(copy);
}

/*
 * The fallbacks (groups kick_polled and no_uring) really are the paths taken: the kick fd is
 * polled and drained by the thread, or AUTO gave the synchronous engine while an explicit
 * io_uring request is refused. The data tests then run on them.
 */
static void test_fallback_engaged(void **state)
{
	struct bfx *f = *state;
	struct virtio_blk_params cfg = f->cfg;
	struct virtio_blk *b = NULL;
	char err[256] = "";
	uint16_t head;

	if (blk_io_hook_no_uring) {
		assert_int_equal(virtio_blk_new(&cfg, VIRTIO_BLK_ENGINE_URING, &f->mem, &b, err, sizeof(err)),
				 -ENOSYS);
		assert_null(b);
		assert_non_null(strstr(err, "io_uring unavailable"));
	}
	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_IN, 7, 512, W);
	expect_ok(f, 0, 0, head, 513);
	expect_pattern(gbuf(f, data_gpa(head), 512), 7 * 512, 512);
	if (blk_io_hook_nowait_kick) {
		struct timespec ts = { 0, 1000000 };
		int ms = 5000;

		/* The first ring read may still find a kick; the next one gets -EAGAIN. */
		while (!__atomic_load_n(&f->blk->queues[0].io.kick_polled, __ATOMIC_ACQUIRE) &&
		       ms-- > 0)
			nanosleep(&ts, NULL);
		assert_true(__atomic_load_n(&f->blk->queues[0].io.kick_polled, __ATOMIC_ACQUIRE));
	}
	/* A kick now goes through the fallback. */
	head = req3(f, 0, VIRTIO_BLK_T_IN, 9, 1024, W);
	expect_ok(f, 0, 1, head, 1025);
	expect_pattern(gbuf(f, data_gpa(head), 1024), 9 * 512, 1024);
}

#define RUN(name, list, group) cmocka_run_group_tests_name(name, list, group, group_end)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_read),
		TEST(test_scattered_write),
		TEST(test_write_flush_read),
		TEST(test_write_through),
		TEST(test_flush_waits_for_writes),
		TEST(test_direct),
		TEST(test_direct_misaligned),
		TEST(test_direct_misaligned_large),
		TEST(test_get_id),
		TEST(test_discard_and_write_zeroes),
		TEST(test_two_queues),
		TEST(test_full_ring),
		TEST(test_pause_completes_in_flight),
		TEST(test_throttle_holds_back),
		TEST(test_throttle_retries),
		TEST(test_config_space),
		TEST(test_config_read_only),
		TEST(test_open_errors),
		TEST(test_snapshot_identity),
		TEST(test_snapshot_id_of_copied_image),
	};

	/* The fallbacks: the data path, ordering, pause and throttling once more on each. */
	const struct CMUnitTest fallback[] = {
		TEST(test_fallback_engaged),
		TEST(test_read),
		TEST(test_scattered_write),
		TEST(test_write_flush_read),
		TEST(test_write_through),
		TEST(test_flush_waits_for_writes),
		TEST(test_discard_and_write_zeroes),
		TEST(test_two_queues),
		TEST(test_full_ring),
		TEST(test_pause_completes_in_flight),
		TEST(test_throttle_retries),
	};

	return RUN("virtio-blk I/O, io_uring", tests, group_uring) |
	       RUN("virtio-blk I/O, sync", tests, group_sync) |
	       RUN("virtio-blk I/O, io_uring, kick fd polled", fallback, group_kick_polled) |
	       RUN("virtio-blk I/O, no io_uring (AUTO: sync)", fallback, group_no_uring);
}
