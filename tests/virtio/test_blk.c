// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk validation (virtio 1.2 5.2.6): one test per rule, each with a crafted chain,
 * asserting the status byte, the used length (or that no used entry appears), the reject
 * counter, and that the image is untouched. Every test runs with io_uring and with the
 * synchronous engine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_blk_fx.h"

#define ALL_F (~0ULL)

/* The request at used slot @slot completed as @head with @status and used length @len. */
static void expect_done(struct bfx *f, unsigned q, uint16_t slot, uint16_t head,
			uint8_t status, uint32_t len)
{
	uint32_t id, ulen;

	assert_true(wait_used(f, q, (uint16_t)(slot + 1)));
	used(f, q, slot, &id, &ulen);
	assert_int_equal(id, head);
	assert_int_equal(ulen, len);
	assert_int_equal(status_of(f, head), status);
}

/* A refused request: IOERR (or UNSUPP), used length 1, counted under @why only. */
static void expect_reject(struct bfx *f, uint16_t head, uint8_t status,
			  enum virtio_blk_reject why)
{
	struct virtio_blk_counters c;
	unsigned i;

	expect_done(f, 0, 0, head, status, 1);
	c = ctr(f);
	for (i = 0; i < VIRTIO_BLK_R_NR; i++)
		assert_int_equal(c.rejected[i], i == why);
	assert_int_equal(c.read_ops + c.write_ops + c.io_errors, 0);
}

/* The image still holds its pattern at [off, off + len). */
static void expect_image(struct bfx *f, uint64_t off, size_t len)
{
	uint8_t buf[4096];
	size_t i;

	assert_true(len <= sizeof(buf));
	file_read(f, off, buf, len);
	for (i = 0; i < len; i++)
		assert_int_equal(buf[i], pattern(off + i));
}

/*
 * A chain without a usable status must never be marked used (it would read as success):
 * a FLUSH behind it completes, it does not.
 */
static void expect_dropped(struct bfx *f, uint16_t bad)
{
	uint16_t flush = req3(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);

	expect_done(f, 0, 0, flush, VIRTIO_BLK_S_OK, 1);
	assert_int_equal(status_of(f, bad), 0xee);
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_NO_STATUS], 1);
	assert_int_equal(ctr(f).flush_ops, 1);
}

/* ------------------------------------------------------------------ status */

static void test_status_readable(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	/* Readable after writable would break the ring itself: an OUT, all readable. */
	struct d ds[3] = { { hdr(f, 0, VIRTIO_BLK_T_OUT, 0), 16, R }, { data_gpa(head), 512, R },
			   { stat_gpa(head), 1, R } };

	fx_open(f, ALL_F);
	memset(gbuf(f, data_gpa(head), 512), 0x77, 512);
	submit(f, 0, ds, 3);
	expect_dropped(f, head);
	expect_image(f, 0, 512);
}

static void test_status_empty(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	/* A zero-length status is no status: the header becomes the last descriptor. */
	struct d ds[2] = { { hdr(f, 0, VIRTIO_BLK_T_FLUSH, 0), 16, R }, { stat_gpa(head), 0, W } };

	fx_open(f, ALL_F);
	submit(f, 0, ds, 2);
	expect_dropped(f, head);
}

static void test_status_at_last_byte(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	struct d ds[2] = { { hdr(f, 0, VIRTIO_BLK_T_GET_ID, 0), 16, R },
			   { data_gpa(head), 21, W } };
	uint8_t *b = gbuf(f, data_gpa(head), 21);

	fx_open(f, ALL_F);
	memset(b, 0xee, 21);
	submit(f, 0, ds, 2);
	/* 20 bytes of ID, then the status in the descriptor's last byte. */
	expect_done(f, 0, 0, head, 0xee, 21);
	assert_memory_equal(b, "vireo-serial-0001\0\0\0", 20);
	assert_int_equal(b[20], VIRTIO_BLK_S_OK);
	assert_int_equal(ctr(f).get_id_ops, 1);
}

/* ------------------------------------------------------------------ frame */

static void test_header_writable(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	struct d ds[3] = { { hdr(f, 0, VIRTIO_BLK_T_IN, 0), 16, W }, { data_gpa(head), 512, W },
			   { stat_gpa(head), 1, W } };

	fx_open(f, ALL_F);
	memset(gbuf(f, data_gpa(head), 512), 0x5a, 512);
	submit(f, 0, ds, 3);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_HEADER);
	assert_int_equal(*gbuf(f, data_gpa(head), 1), 0x5a);
}

static void test_header_short(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	struct d ds[3] = { { hdr(f, 0, VIRTIO_BLK_T_IN, 0), 8, R }, { data_gpa(head), 512, W },
			   { stat_gpa(head), 1, W } };

	fx_open(f, ALL_F);
	submit(f, 0, ds, 3);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_HEADER);
}

/* 2.6.4: the header may be split over descriptors; the device must not assume a layout. */
static void test_header_split(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	uint64_t h = hdr(f, 0, VIRTIO_BLK_T_IN, 1);
	struct d ds[5] = { { h, 8, R }, { h + 8, 4, R }, { h + 12, 4, R },
			   { data_gpa(head), 512, W }, { stat_gpa(head), 1, W } };

	fx_open(f, ALL_F);
	submit(f, 0, ds, 5);
	expect_done(f, 0, 0, head, VIRTIO_BLK_S_OK, 513);
	assert_int_equal(ctr(f).read_ops, 1);
	assert_int_equal(ctr(f).read_bytes, 512);
}

/* seg_max = QS - 2 = 14: 16 segments pass, 17 do not (an indirect table makes room). */
static uint16_t indirect_read(struct bfx *f, unsigned data_segs)
{
	uint16_t head = f->next_desc[0];
	struct d ds[2] = { { hdr(f, 0, VIRTIO_BLK_T_IN, 0), 16, R },
			   { TBL_GPA, 16 * (data_segs + 1), VRING_DESC_F_INDIRECT } };
	unsigned i;

	for (i = 0; i < data_segs; i++)
		drv_idesc(&f->mem, TBL_GPA, (uint16_t)i, data_gpa(head) + 512 * i, 512,
			  VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	drv_idesc(&f->mem, TBL_GPA, (uint16_t)data_segs, stat_gpa(head), 1, VRING_DESC_F_WRITE,
		  0);
	return submit(f, 0, ds, 2);
}

static void test_segments(void **state)
{
	struct bfx *f = *state;
	uint16_t ok, bad;

	fx_open(f, ALL_F);
	ok = indirect_read(f, QS - 2);
	expect_done(f, 0, 0, ok, VIRTIO_BLK_S_OK, 512 * (QS - 2) + 1);
	assert_int_equal(gbuf(f, data_gpa(ok), 1)[0], pattern(0));
	bad = indirect_read(f, QS - 1);
	expect_done(f, 0, 1, bad, VIRTIO_BLK_S_IOERR, 1);
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_SEGMENTS], 1);
	assert_int_equal(ctr(f).read_ops, 1);
}

static void test_segment_size(void **state)
{
	struct bfx *f = *state;
	uint16_t head = f->next_desc[0];
	struct d ds[3] = { { hdr(f, 0, VIRTIO_BLK_T_IN, 0), 16, R },
			   { BIG_GPA, VIRTIO_BLK_SIZE_MAX + 512, W }, { stat_gpa(head), 1, W } };

	fx_open(f, ALL_F);
	submit(f, 0, ds, 3);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_SEG_SIZE);
}

/* ------------------------------------------------------------------ direction and data */

static void test_in_with_readable_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_IN, 0, 512, R);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_DIRECTION);
}

static void test_out_with_writable_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	memset(gbuf(f, data_gpa(f->next_desc[0]), 512), 0x77, 512);
	head = req3(f, 0, VIRTIO_BLK_T_OUT, 4, 512, W);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_DIRECTION);
	expect_image(f, 4 * 512, 512);
	assert_int_equal(*gbuf(f, data_gpa(head), 1), 0x77);
}

static void test_get_id_with_readable_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_GET_ID, 0, 20, R);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_DIRECTION);
}

static void test_in_without_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_IN, 0, 0, 0);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_NO_DATA);
}

static void test_out_without_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_OUT, 0, 0, 0);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_NO_DATA);
}

static void test_get_id_without_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_GET_ID, 0, 0, 0);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_NO_DATA);
}

static void test_flush_with_data(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, VIRTIO_BLK_T_FLUSH, 0, 512, R);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_FLUSH_DATA);
	assert_int_equal(ctr(f).flush_ops, 0);
}

static void test_length_not_sectors(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	memset(gbuf(f, data_gpa(f->next_desc[0]), 1000), 0x77, 1000);
	head = req3(f, 0, VIRTIO_BLK_T_OUT, 0, 1000, R);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_ALIGN);
	expect_image(f, 0, 1024);
}

/* ------------------------------------------------------------------ range */

static void test_range(void **state)
{
	struct bfx *f = *state;
	static const struct { uint64_t sector; uint32_t len; } bad[] = {
		{ IMG_SECT - 1, 1024 },           /* straddles the end */
		{ IMG_SECT, 512 },                /* just past it */
		{ UINT64_MAX, 512 },              /* sector * 512 overflows */
		{ UINT64_MAX >> 9, 512 },         /* offset fits, far beyond */
	};
	uint16_t head, i;

	fx_open(f, ALL_F);
	for (i = 0; i < 4; i++) {
		head = req3(f, 0, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, bad[i].sector,
			    bad[i].len, i % 2 ? R : W);
		expect_done(f, 0, i, head, VIRTIO_BLK_S_IOERR, 1);
	}
	/* The last sector itself is fine. */
	head = req3(f, 0, VIRTIO_BLK_T_IN, IMG_SECT - 1, 512, W);
	expect_done(f, 0, 4, head, VIRTIO_BLK_S_OK, 513);
	assert_int_equal(gbuf(f, data_gpa(head), 1)[0], pattern((IMG_SECT - 1) * 512));
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_RANGE], 4);
	expect_image(f, (IMG_SECT - 2) * 512, 1024);
}

/* ------------------------------------------------------------------ read-only */

static void test_read_only(void **state)
{
	struct bfx *f = *state;
	uint64_t offered;
	uint16_t head;

	f->cfg.readonly = true;
	fx_open(f, ALL_F);
	offered = fx_offered(f);
	assert_true(offered & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	assert_false(offered & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	assert_false(offered & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	memset(gbuf(f, data_gpa(f->next_desc[0]), 512), 0x77, 512);
	head = req3(f, 0, VIRTIO_BLK_T_OUT, 0, 512, R);
	expect_done(f, 0, 0, head, VIRTIO_BLK_S_IOERR, 1);
	head = req3(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, R);
	expect_done(f, 0, 1, head, VIRTIO_BLK_S_IOERR, 1);
	head = req3(f, 0, VIRTIO_BLK_T_DISCARD, 0, 16, R);
	expect_done(f, 0, 2, head, VIRTIO_BLK_S_IOERR, 1);
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_READ_ONLY], 3);
	assert_int_equal(ctr(f).write_ops, 0);
	expect_image(f, 0, 512);
	/* Reads still work. */
	head = req3(f, 0, VIRTIO_BLK_T_IN, 1, 512, W);
	expect_done(f, 0, 3, head, VIRTIO_BLK_S_OK, 513);
	assert_int_equal(gbuf(f, data_gpa(head), 1)[0], pattern(512));
}

/* ------------------------------------------------------------------ types and flags */

static void test_unknown_type(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	head = req3(f, 0, 42, 0, 512, W);
	expect_reject(f, head, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_R_UNSUPP_TYPE);
}

static void dwz_seg(struct bfx *f, uint64_t sector, uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = { htole64(sector), htole32(num), htole32(flags) };

	memcpy(gbuf(f, data_gpa(f->next_desc[0]), sizeof(s)), &s, sizeof(s));
}

static void test_discard_not_negotiated(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F & ~VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	dwz_seg(f, 0, 8, 0);
	head = req3(f, 0, VIRTIO_BLK_T_DISCARD, 0, 16, R);
	expect_reject(f, head, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_R_UNSUPP_TYPE);
	expect_image(f, 0, 4096);
}

static void test_dwz_format(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	dwz_seg(f, 0, 8, 0);
	head = req3(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 20, R);    /* not 16-byte units */
	expect_done(f, 0, 0, head, VIRTIO_BLK_S_IOERR, 1);
	dwz_seg(f, 0, 8, 0);
	head = req3(f, 0, VIRTIO_BLK_T_DISCARD, 0, 32, R);         /* 2 > max_discard_seg */
	expect_done(f, 0, 1, head, VIRTIO_BLK_S_IOERR, 1);
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_DWZ_FORMAT], 2);
	expect_image(f, 0, 4096);
}

static void test_dwz_flags(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	dwz_seg(f, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);     /* unmap on a discard */
	head = req3(f, 0, VIRTIO_BLK_T_DISCARD, 0, 16, R);
	expect_done(f, 0, 0, head, VIRTIO_BLK_S_UNSUPP, 1);
	dwz_seg(f, 0, 8, 2);                                       /* unknown flag */
	head = req3(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, R);
	expect_done(f, 0, 1, head, VIRTIO_BLK_S_UNSUPP, 1);
	assert_int_equal(ctr(f).rejected[VIRTIO_BLK_R_UNSUPP_FLAGS], 2);
	expect_image(f, 0, 4096);
}

static void test_dwz_sectors(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	dwz_seg(f, 0, VIRTIO_BLK_DWZ_MAX_SECTORS + 1, 0);
	head = req3(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, R);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_DWZ_SECTORS);
	expect_image(f, 0, 4096);
}

static void test_dwz_range(void **state)
{
	struct bfx *f = *state;
	uint16_t head;

	fx_open(f, ALL_F);
	dwz_seg(f, IMG_SECT - 4, 8, 0);
	head = req3(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, R);
	expect_reject(f, head, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_R_RANGE);
	expect_image(f, (IMG_SECT - 4) * 512, 2048);
}

/* ------------------------------------------------------------------ ring */

/* avail->idx more than a queue ahead: queue poisoned, NEEDS_RESET and one config interrupt. */
static void test_avail_index_poisoned_once(void **state)
{
	struct bfx *f = *state;
	struct timespec ts = { 0, 1000000 };
	int ms = 5000;

	fx_open(f, ALL_F);
	drv_set_avail_idx(&f->r[0], QS + 5);
	kick(f, 0);
	while (!(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET) && ms-- > 0)
		nanosleep(&ts, NULL);
	assert_true(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* More kicks and more garbage: the queue stays stopped, nothing is raised again. */
	drv_set_avail_idx(&f->r[0], QS + 9);
	kick(f, 0);
	assert_int_equal(virtio_pci_pause(&f->vp), 0);            /* the kick is handled */
	virtio_pci_resume(&f->vp);
	assert_int_equal(virtio_pci_pause(&f->vp), 0);
	assert_int_equal(f->vp.stats.needs_reset, 1);
	assert_int_equal(f->vp.dev->vqs[0].errors[VIRTQ_E_AVAIL_IDX - VIRTQ_E_BASE], 1);
	assert_int_equal(__atomic_load_n(&f->raises, __ATOMIC_RELAXED), 1);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	assert_int_equal(drv_used_idx(&f->r[0]), 0);
	virtio_pci_resume(&f->vp);
}

#define BOTH(name, group) cmocka_run_group_tests_name(name, tests, group, NULL)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_status_readable),
		TEST(test_status_empty),
		TEST(test_status_at_last_byte),
		TEST(test_header_writable),
		TEST(test_header_short),
		TEST(test_header_split),
		TEST(test_segments),
		TEST(test_segment_size),
		TEST(test_in_with_readable_data),
		TEST(test_out_with_writable_data),
		TEST(test_get_id_with_readable_data),
		TEST(test_in_without_data),
		TEST(test_out_without_data),
		TEST(test_get_id_without_data),
		TEST(test_flush_with_data),
		TEST(test_length_not_sectors),
		TEST(test_range),
		TEST(test_read_only),
		TEST(test_unknown_type),
		TEST(test_discard_not_negotiated),
		TEST(test_dwz_format),
		TEST(test_dwz_flags),
		TEST(test_dwz_sectors),
		TEST(test_dwz_range),
		TEST(test_avail_index_poisoned_once),
	};

	return BOTH("virtio-blk validation, io_uring", group_uring) |
	       BOTH("virtio-blk validation, sync", group_sync);
}
