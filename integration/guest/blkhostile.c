/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: malformed virtio-blk requests (blkhostile=1), each sent on purpose on a
 * writable disk's queue 0 with a valid FLUSH behind it. A request with a usable status byte
 * (the last byte of the chain, in a device-writable descriptor: 2.6.4, 5.2.6) must come
 * back with IOERR or UNSUPP there; one without must never be marked used (a used element
 * would read as success) while the FLUSH behind it is served. Broken rings (a readable
 * descriptor after a writable one, an avail index jump) must poison the queue: no used
 * element, DEVICE_NEEDS_RESET with exactly one config interrupt, and the disk works again
 * after a reset. What QEMU does differently: README.md.
 */
#include "blk.h"

#define NONE         0xFF                   /* never marked used */
#define BIG_ADDR     0x4000000UL            /* 64 MiB: free RAM for the oversized buffers */

enum kind { K_END, K_HDR, K_HDR8, K_HDRW, K_RD, K_WR, K_ST, K_STR, K_ST0, K_DWZ, K_DWZW,
            K_DWZ2, K_DWZ20 };
enum at { AT_0, AT_CAP, AT_CAP1, AT_WRAP, AT_MAX, AT_MAX3 };

struct hseg {
	uint8_t kind;
	uint16_t len;
};

struct hcase {
	const char *name, *what;
	uint32_t type;
	uint8_t at;                             /* the sector: header, or the DWZ segment */
	uint32_t num, flags;                    /* DISCARD / WRITE_ZEROES segment */
	uint8_t want;                           /* status byte, or NONE */
	struct hseg seg[4];
};

#define IN VB_T_IN
#define OUT VB_T_OUT
#define DSC VB_T_DISCARD
#define WZ VB_T_WRITE_ZEROES
#define IOERR VB_S_IOERR
#define UNSUPP VB_S_UNSUPP

static const struct hcase cases[] = {
	{ "blkh_hdr_short", "IN with an 8-byte header", IN, AT_0, 0, 0, IOERR,
	  { { K_HDR8, 0 }, { K_WR, 512 }, { K_ST, 0 } } },
	{ "blkh_hdr_writable", "IN whose header is device-writable", IN, AT_0, 0, 0, IOERR,
	  { { K_HDRW, 0 }, { K_WR, 512 }, { K_ST, 0 } } },
	{ "blkh_hdr_missing", "a chain of only the status byte", IN, AT_0, 0, 0, IOERR,
	  { { K_ST, 0 } } },
	{ "blkh_status_readonly", "OUT whose status descriptor is device-readable", OUT, AT_0, 0, 0,
	  NONE, { { K_HDR, 0 }, { K_RD, 512 }, { K_STR, 0 } } },
	{ "blkh_status_empty", "FLUSH whose status descriptor has length 0", VB_T_FLUSH, AT_0, 0, 0,
	  NONE, { { K_HDR, 0 }, { K_ST0, 0 } } },
	{ "blkh_status_empty_out", "OUT whose status descriptor has length 0", OUT, AT_0, 0, 0, NONE,
	  { { K_HDR, 0 }, { K_RD, 512 }, { K_ST0, 0 } } },
	{ "blkh_status_not_last", "IN with a 1-byte writable descriptor before 511 data bytes (the "
	  "chain's last byte is the status, the data 511 bytes)", IN, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_ST, 0 }, { K_WR, 511 } } },
	{ "blkh_dir_in", "IN with device-readable data", IN, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_RD, 512 }, { K_ST, 0 } } },
	{ "blkh_dir_out", "OUT with device-writable data", OUT, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_WR, 512 }, { K_ST, 0 } } },
	{ "blkh_dir_get_id", "GET_ID with device-readable data", VB_T_GET_ID, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_RD, 20 }, { K_ST, 0 } } },
	{ "blkh_dir_discard", "DISCARD whose segment is device-writable", DSC, AT_0, 8, 0, IOERR,
	  { { K_HDR, 0 }, { K_DWZW, 0 }, { K_ST, 0 } } },
	{ "blkh_range_end", "IN of 1 sector at capacity", IN, AT_CAP, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_WR, 512 }, { K_ST, 0 } } },
	{ "blkh_range_cross", "IN of 2 sectors at capacity - 1", IN, AT_CAP1, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_WR, 1024 }, { K_ST, 0 } } },
	{ "blkh_range_wrap", "IN at sector 2^55 (its byte offset wraps to 0)", IN, AT_WRAP, 0, 0,
	  IOERR, { { K_HDR, 0 }, { K_WR, 512 }, { K_ST, 0 } } },
	{ "blkh_range_max", "IN at sector 2^64 - 1", IN, AT_MAX, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_WR, 512 }, { K_ST, 0 } } },
	{ "blkh_dwz_range_wrap", "WRITE_ZEROES of 8 sectors at 2^64 - 4 (the end wraps)", WZ,
	  AT_MAX3, 8, 0, IOERR, { { K_HDR, 0 }, { K_DWZ, 0 }, { K_ST, 0 } } },
	{ "blkh_len_unaligned", "IN of 500 bytes", IN, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_WR, 500 }, { K_ST, 0 } } },
	{ "blkh_len_unaligned_out", "OUT of 1000 bytes", OUT, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_RD, 1000 }, { K_ST, 0 } } },
	{ "blkh_flush_data", "FLUSH carrying 512 bytes", VB_T_FLUSH, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_RD, 512 }, { K_ST, 0 } } },
	{ "blkh_no_data_in", "IN without data", IN, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_ST, 0 } } },
	{ "blkh_no_data_out", "OUT without data", OUT, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_ST, 0 } } },
	{ "blkh_no_data_get_id", "GET_ID without data", VB_T_GET_ID, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_ST, 0 } } },
	{ "blkh_unsupp_type", "request type 0xff", 0xFF, AT_0, 0, 0, UNSUPP,
	  { { K_HDR, 0 }, { K_ST, 0 } } },
	{ "blkh_unsupp_lifetime", "GET_LIFETIME (LIFETIME not offered)", VB_T_GET_LIFETIME, AT_0, 0,
	  0, UNSUPP, { { K_HDR, 0 }, { K_WR, 16 }, { K_ST, 0 } } },
	{ "blkh_discard_unmap", "DISCARD with the UNMAP flag (5.2.6.2)", DSC, AT_0, 8, VB_WZ_UNMAP,
	  UNSUPP, { { K_HDR, 0 }, { K_DWZ, 0 }, { K_ST, 0 } } },
	{ "blkh_dwz_flags", "WRITE_ZEROES with unknown flag bit 1", WZ, AT_0, 8, 2, UNSUPP,
	  { { K_HDR, 0 }, { K_DWZ, 0 }, { K_ST, 0 } } },
	{ "blkh_dwz_two_segs", "DISCARD with 2 segments (max_discard_seg 1)", DSC, AT_0, 8, 0, IOERR,
	  { { K_HDR, 0 }, { K_DWZ2, 0 }, { K_ST, 0 } } },
	{ "blkh_dwz_len", "DISCARD with a 20-byte segment", DSC, AT_0, 8, 0, IOERR,
	  { { K_HDR, 0 }, { K_DWZ20, 0 }, { K_ST, 0 } } },
	{ "blkh_dwz_too_big", "DISCARD of max_discard_sectors + 1 at 0", DSC, AT_0, 0, 0, IOERR,
	  { { K_HDR, 0 }, { K_DWZ, 0 }, { K_ST, 0 } } },
};

static uint8_t hbuf[4096] __attribute__((aligned(4096)));
static struct blk_dwz dwz2[2] __attribute__((aligned(16)));

static uint64_t sector_at(const struct blk_disk *k, uint8_t at)
{
	switch (at) {
	case AT_CAP: return k->cfg.capacity;
	case AT_CAP1: return k->cfg.capacity - 1;
	case AT_WRAP: return 1ULL << 55;
	case AT_MAX: return ~0ULL;
	case AT_MAX3: return ~0ULL - 3;
	default: return 0;
	}
}

static void build(const struct blk_disk *k, const struct hcase *h, struct blk_slot *s,
                  struct bchain *c)
{
	bool dwz = h->type == DSC || h->type == WZ;
	uint64_t sector = sector_at(k, h->at);
	uint32_t num = h->num ? h->num : k->cfg.max_discard + 1;
	uint32_t off = 0;
	s->hdr = (struct blk_hdr){ h->type, 0, dwz ? 0 : sector };
	s->dwz = (struct blk_dwz){ sector, num, h->flags };
	dwz2[0] = s->dwz;
	dwz2[1] = (struct blk_dwz){ sector + 16, num, h->flags };
	bc_init(c);
	for (unsigned i = 0; i < 4 && h->seg[i].kind != K_END; i++) {
		const struct hseg *g = &h->seg[i];
		switch (g->kind) {
		case K_HDR: bc_add(c, &s->hdr, 16, false); break;
		case K_HDR8: bc_add(c, &s->hdr, 8, false); break;
		case K_HDRW: bc_add(c, &s->hdr, 16, true); break;
		case K_RD:
		case K_WR:
			bc_add(c, hbuf + off, g->len, g->kind == K_WR);
			off += 1024;
			break;
		case K_ST: bc_add(c, &s->status, 1, true); break;
		case K_STR: bc_add(c, &s->status, 1, false); break;
		case K_ST0: bc_add(c, &s->status, 0, true); break;
		case K_DWZ: bc_add(c, &s->dwz, 16, false); break;
		case K_DWZW: bc_add(c, &s->dwz, 16, true); break;
		case K_DWZ2: bc_add(c, dwz2, 32, false); break;
		case K_DWZ20: bc_add(c, dwz2, 20, false); break;
		}
	}
}

/* Framing (2.6.4): the status is the chain's last byte if that is device-writable. */
static volatile uint8_t *status_of(const struct bchain *c, struct blk_slot *s)
{
	const struct vbuf *last = c->n ? &c->seg[c->n - 1] : NULL;
	if (!last || !last->write || !last->len)
		return &s->status;
	return (volatile uint8_t *)(uintptr_t)(last->addr + last->len - 1);
}

/* The bad chain, a FLUSH behind it, both on q0; the verdict on the bad one. */
static void run_case(struct blk_disk *k, const char *name, const char *what,
                     struct bchain *c, struct blk_slot *s, uint8_t want)
{
	char why[160] = "";
	struct breq r[2];
	struct blk_slot *v = blk_slot();
	struct bchain fc;
	memset(hbuf, 0x5A, sizeof(hbuf));
	volatile uint8_t *st = status_of(c, s);
	*st = VB_S_UNTOUCHED;
	blk_post(k, 0, c, st, &r[0]);
	r[0].expect_none = want == NONE;
	bc_init(&fc);
	bc_hdr(&fc, v, VB_T_FLUSH, 0);
	bc_status(&fc, v);
	blk_post(k, 0, &fc, &v->status, &r[1]);
	bool ran = blk_run(k, r, 2, why, sizeof(why));
	uint8_t got = *st;
	bool ok = ran && v->status == VB_S_OK &&
	          (want == NONE ? !r[0].done && got == VB_S_UNTOUCHED : r[0].done && got == want);
	char res[64];
	if (r[0].done)
		gsnprintf(res, sizeof(res), "used (len %u), status %u (%s)", r[0].len, got,
		          blk_status_name(got));
	else
		gsnprintf(res, sizeof(res), "never used, status byte %s",
		          got == VB_S_UNTOUCHED ? "untouched" : "WRITTEN");
	/* A device that gave up (QEMU's virtio_error) is reset, so each case stands alone. */
	bool broken = (cc_r8(&k->d, VC_STATUS) & VS_NEEDS_RESET) != 0;
	char again[100] = "";
	if (broken && !blk_reinit(k, k->d.features, again, sizeof(again)))
		gsnprintf(why, sizeof(why), "re-init after NEEDS_RESET failed: %s", again);
	check(name, ok, "%s (%u segments): %s, want %s%s; FLUSH behind it: %s%s%s%s", what, c->n, res,
	      want == NONE ? "no used element" : blk_status_name(want),
	      want == NONE ? " (no usable status byte)" : "", blk_status_name(v->status),
	      broken ? "; device set NEEDS_RESET, reset" : "", why[0] ? "; " : "", why);
}

/* header + (seg_max + 1) x 512 + status: seg_max + 3 segments (an indirect table). */
static void chain_long(struct blk_disk *k)
{
	uint32_t seg_max = k->cfg.seg_max, need = seg_max + 2;
	struct blk_slot *s = blk_slot();
	static struct bchain c;
	if (!(k->d.features & VF_INDIRECT_DESC) || need > k->d.vq[0].size ||
	    need + 1 > BLK_CHAIN_MAX || !memmap_covers(BIG_ADDR, (seg_max + 1) * BLK_SECTOR, 1)) {
		check("blkh_chain_long", false, "cannot build seg_max + 3 = %u segments with queue size "
		      "%u%s", seg_max + 3, k->d.vq[0].size,
		      (k->d.features & VF_INDIRECT_DESC) ? "" : " without INDIRECT_DESC");
		return;
	}
	bc_init(&c);
	bc_hdr(&c, s, VB_T_IN, 0);
	for (uint32_t i = 0; i <= seg_max; i++)
		bc_add(&c, (void *)(uintptr_t)(BIG_ADDR + i * BLK_SECTOR), BLK_SECTOR, true);
	bc_status(&c, s);
	c.direct = 1;
	char what[80];
	gsnprintf(what, sizeof(what), "IN in seg_max + 3 = %u segments (seg_max %u)", c.n, seg_max);
	run_case(k, "blkh_chain_long", what, &c, s, IOERR);
}

/* One data segment of size_max + 512 bytes. */
static void seg_size(struct blk_disk *k)
{
	uint32_t len = k->cfg.size_max + BLK_SECTOR;
	struct blk_slot *s = blk_slot();
	struct bchain c;
	if (!(k->d.features & VB_F_SIZE_MAX) || k->cfg.size_max < BLK_SECTOR ||
	    !memmap_covers(BIG_ADDR, len, 1)) {
		check("blkh_seg_size", false, "cannot test: SIZE_MAX %s, size_max %u, RAM at 0x%lx %s",
		      (k->d.features & VB_F_SIZE_MAX) ? "negotiated" : "NOT offered", k->cfg.size_max,
		      BIG_ADDR, memmap_covers(BIG_ADDR, len, 1) ? "ok" : "missing");
		return;
	}
	bc_init(&c);
	bc_hdr(&c, s, VB_T_IN, 0);
	bc_add(&c, (void *)(uintptr_t)BIG_ADDR, len, true);
	bc_status(&c, s);
	char what[80];
	gsnprintf(what, sizeof(what), "IN with one %u-byte segment (size_max %u)", len,
	          k->cfg.size_max);
	run_case(k, "blkh_seg_size", what, &c, s, IOERR);
}

/* --- broken rings: the queue is poisoned until a reset --- */

static bool recover(struct blk_disk *k, char *why, size_t n)
{
	uint8_t st;
	uint64_t bad;
	if (!blk_reinit(k, k->d.features, why, n))
		return false;
	for (unsigned qi = 0; qi < k->d.nvq; qi++) {
		memset(hbuf, 0, BLK_SECTOR);
		if (!blk_rw(k, qi, VB_T_IN, qi, hbuf, BLK_SECTOR, 1, &st, why, n))
			return false;
		if (st != VB_S_OK || !blk_verify(hbuf, qi, 1, k->seed, &bad)) {
			gsnprintf(why, n, "q%u: read after the reset: status %u", qi, st);
			return false;
		}
	}
	return true;
}

/* OUT with its status descriptor before the (readable) data: 2.7.4.2 forbids the order. */
static void status_before_data(struct blk_disk *k)
{
	struct blk_slot *s = blk_slot(), *v = blk_slot();
	struct bchain c;
	struct breq r;
	bc_init(&c);
	bc_hdr(&c, s, VB_T_OUT, 0);
	bc_add(&c, &s->status, 1, true);
	bc_add(&c, hbuf, 512, false);
	blk_post(k, 0, &c, &s->status, &r);
	bc_init(&c);
	bc_hdr(&c, v, VB_T_FLUSH, 0);
	bc_status(&c, v);
	blk_post(k, 0, &c, &v->status, &r);
	vq_kick(&k->d, &k->d.vq[0]);
}

/* avail->idx a queue size + 1 ahead on q0; after the interrupt, q0 kicked again and q1 too. */
static void avail_jump(struct blk_disk *k)
{
	struct vq *q = &k->d.vq[0];
	q->avail[1] = (uint16_t)(q->avail_idx + q->size + 1);
	vq_kick(&k->d, q);
}

static void avail_jump_again(struct blk_disk *k)
{
	vq_kick(&k->d, &k->d.vq[0]);
	if (k->d.nvq > 1) {
		struct vq *q = &k->d.vq[1];
		q->avail[1] = (uint16_t)(q->avail_idx + q->size + 1);
		vq_kick(&k->d, q);
	}
}

/*
 * Config interrupts are counted from the abuse until the disk served requests again after the
 * reset, which stops the device's queue threads: any second one would be in by then.
 */
static void ring_case(struct blk_disk *k, const char *name, const char *what,
                      void (*abuse)(struct blk_disk *), void (*again)(struct blk_disk *))
{
	char why[160] = "";
	struct vdev *d = &k->d;
	unsigned cvec = vdev_vec(d, 0);
	uint16_t used0 = vq_used_idx(&d->vq[0]), used1 = d->nvq > 1 ? vq_used_idx(&d->vq[1]) : 0;
	irq_drain();
	unsigned c0 = irq_count(cvec);
	abuse(k);
	bool irq = irq_wait(cvec, c0, VIRTIO_TIMEOUT_US);
	uint8_t st = cc_r8(d, VC_STATUS), isr = *d->isrp;
	if (again)
		again(k);
	uint8_t st2 = cc_r8(d, VC_STATUS);
	bool unused = vq_used_idx(&d->vq[0]) == used0 &&
	              (d->nvq < 2 || vq_used_idx(&d->vq[1]) == used1);
	bool back = recover(k, why, sizeof(why));
	unsigned cfg_irqs = irq_count(cvec) - c0;
	bool ok = irq && (st & VS_NEEDS_RESET) && (st2 & VS_NEEDS_RESET) && unused && back &&
	          cfg_irqs == 1;
	check(name, ok, "%s: config interrupt %s, status 0x%x (NEEDS_RESET %s), ISR 0x%x%s; used "
	      "idx %s; config interrupts until served again: %u (want 1); reset + re-init: %s%s%s",
	      what, irq ? "received" : "NOT received", st, (st & VS_NEEDS_RESET) ? "set" : "NOT set",
	      isr, again ? (st2 & VS_NEEDS_RESET ? ", still set after more kicks" :
	      ", CLEARED after more kicks") : "", unused ? "unchanged" : "MOVED", cfg_irqs,
	      back ? "reads ok on every queue" : "FAILED", why[0] ? "; " : "", why);
}

void blk_hostile_checks(struct blk_disk *k)
{
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct blk_slot *s = blk_slot();
		static struct bchain c;
		build(k, &cases[i], s, &c);
		run_case(k, cases[i].name, cases[i].what, &c, s, cases[i].want);
	}
	chain_long(k);
	seg_size(k);
	ring_case(k, "blkh_status_before_data", "OUT: header, status (writable), data (readable), "
	          "FLUSH behind", status_before_data, NULL);
	ring_case(k, "blkh_avail_jump", k->d.nvq > 1 ? "q0 avail idx = next + size + 1, kicked; "
	          "then q0 kicked again and q1 jumped and kicked" : "q0 avail idx = next + size + 1, "
	          "kicked twice", avail_jump, avail_jump_again);
}
