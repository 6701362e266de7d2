/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio-blk checks (virtio 1.2 5.2) on every 1af4:1042 function, in bus
 * order, against what blk=SERIAL:MODE:SECTORS:QUEUES says of each: configuration, known data
 * (the runner stamps each sector with its LBA and blkseed + disk index), write + FLUSH + read
 * back, GET_ID, DISCARD and WRITE_ZEROES, the read-only refusal, both queues at once. Lines
 * "blkimage: ..." tell the runner what the image must hold afterwards. blkdurable= instead
 * writes, flushes, says so and stops (the runner kills the VMM). See README.md.
 */
#include "blk.h"

/* Where each check works, in sectors (README.md; blk-image.py checks the rest is intact). */
#define LBA_PIECES      100                 /* 16 sectors read in 3 segments */
#define LBA_SEGMAX      1024                /* the longest chain: seg_max sectors */
#define LBA_WRITE       2048                /* 32 sectors written, flushed */
#define LBA_DISCARD     2560                /* 64 discarded */
#define LBA_WZ          3072                /* 64 zeroed, 64 kept, 64 zeroed with UNMAP */
#define LBA_QA          4096                /* 4 x 8 written on q0 */
#define LBA_QB          4160                /* 4 x 8 written on q1 */
#define LBA_DURABLE     6144                /* 256 written by blkdurable= */
#define RW_MIN_SECTORS  6400
#define RO_MIN_SECTORS  1280
#define SEED_WRITE      0x1000              /* region seeds: disk seed + these */
#define SEED_QA         0x2000
#define SEED_QB         0x3000
#define SEED_DURABLE    0xD000

static uint8_t rings[BLK_MAX_DISKS][BLK_RINGS][VQ_MEM] __attribute__((aligned(4096)));
static uint8_t buf_a[128 * 1024] __attribute__((aligned(4096)));
static uint8_t buf_b[128 * 1024] __attribute__((aligned(4096)));

static const char *yes(bool b) { return b ? "yes" : "NO"; }

static void name_of(char *out, size_t n, const struct blk_disk *k, const char *what)
{
	gsnprintf(out, n, "%s_%s", k->tag, what);
}

/* Reads `sectors` at lba into buf_b (cleared first) and compares with seed (0: zeros). */
static bool read_verify(struct blk_disk *k, unsigned qi, uint64_t lba, uint32_t sectors,
                        unsigned pieces, uint64_t seed, char *why, size_t n)
{
	uint8_t st;
	uint64_t bad;
	memset(buf_b, 0x5A, sectors * BLK_SECTOR);
	if (!blk_rw(k, qi, VB_T_IN, lba, buf_b, sectors * BLK_SECTOR, pieces, &st, why, n))
		return false;
	if (st != VB_S_OK) {
		gsnprintf(why, n, "read of %u at lba %lu: status %u (%s)", sectors, lba, st,
		          blk_status_name(st));
		return false;
	}
	if (!blk_verify(buf_b, lba, sectors, seed, &bad)) {
		const uint64_t *w = (const uint64_t *)(buf_b + (bad - lba) * BLK_SECTOR);
		gsnprintf(why, n, "lba %lu holds 0x%lx 0x%lx..., want %s", bad, w[0], w[1],
		          seed ? "the pattern" : "zeros");
		return false;
	}
	return true;
}

/* Each [lba, lba + n) with its own seed, read in one request. */
struct span {
	uint64_t lba;
	uint32_t n;
	uint64_t seed;
};

static bool read_spans(struct blk_disk *k, const struct span *s, unsigned ns, char *why, size_t n)
{
	uint32_t total = 0;
	uint8_t st;
	for (unsigned i = 0; i < ns; i++)
		total += s[i].n;
	memset(buf_b, 0x5A, total * BLK_SECTOR);
	if (!blk_rw(k, 0, VB_T_IN, s[0].lba, buf_b, total * BLK_SECTOR, 1, &st, why, n))
		return false;
	if (st != VB_S_OK) {
		gsnprintf(why, n, "read back: status %u", st);
		return false;
	}
	const uint8_t *p = buf_b;
	for (unsigned i = 0; i < ns; p += s[i].n * BLK_SECTOR, i++) {
		uint64_t bad;
		if (!blk_verify(p, s[i].lba, s[i].n, s[i].seed, &bad)) {
			gsnprintf(why, n, "lba %lu: want %s", bad, s[i].seed ? "the pattern" : "zeros");
			return false;
		}
	}
	return true;
}

/* --- configuration --- */

static void check_config(struct blk_disk *k)
{
	char name[32], why[120] = "";
	struct blk_config *c = &k->cfg;
	uint64_t f = k->d.offered;
	bool stable = blk_read_config(k);
	bool rw = !k->want_ro, mq = k->want_queues > 1;
	uint32_t cls = pci_class(k->d.f);
	unsigned need_len = (f & VB_F_WRITE_ZEROES) ? 0x39 : (f & VB_F_DISCARD) ? 0x30 : 0x24;
	bool ok = stable && (cls >> 16) == 0x01 && k->devcfg_len >= need_len &&
	          c->capacity == k->want_sectors && !(f & VB_F_RO) == rw && (f & VB_F_FLUSH) &&
	          (f & VB_F_SEG_MAX) && c->seg_max >= 1 && (f & VB_F_BLK_SIZE) &&
	          pci_is_pow2(c->blk_size) && c->blk_size >= BLK_SECTOR &&
	          (!(f & VB_F_SIZE_MAX) || c->size_max >= 4096) &&
	          (mq ? (f & VB_F_MQ) && c->num_queues == k->want_queues
	              : !(f & VB_F_MQ) || c->num_queues == 1) &&
	          c->capacity >= (rw ? RW_MIN_SECTORS : RO_MIN_SECTORS);
	if (ok && rw)
		ok = (f & VB_F_DISCARD) && c->max_discard >= 64 && c->max_discard_seg >= 1 &&
		     c->discard_align >= 1 && LBA_DISCARD % c->discard_align == 0 &&
		     (f & VB_F_WRITE_ZEROES) && c->max_wz >= 64 && c->max_wz_seg >= 1;
	if (!ok)
		gsnprintf(why, sizeof(why), "; want capacity %lu (at least %u), RO %s, FLUSH, SEG_MAX, "
		          "BLK_SIZE, %s%s", k->want_sectors, rw ? RW_MIN_SECTORS : RO_MIN_SECTORS,
		          rw ? "off" : "on", mq ? "MQ with the queues asked for" : "one queue",
		          rw ? ", DISCARD and WRITE_ZEROES of 64+ sectors" : "");
	name_of(name, sizeof(name), k, "config");
	check(name, ok, "class %06x, cfg %u bytes (generation held in pass %u): capacity %lu, "
	      "features 0x%lx: RO %s FLUSH %s; size_max %u seg_max %u blk_size %u; topology exp %u "
	      "align %u min_io %u opt_io %u; num_queues %u; discard max %u seg %u align %u; "
	      "write_zeroes max %u seg %u may_unmap %u; queue size %u%s", cls, k->devcfg_len,
	      c->generation_reads, c->capacity, f, yes(f & VB_F_RO), yes(f & VB_F_FLUSH),
	      c->size_max, c->seg_max, c->blk_size, c->phys_exp, c->align_off, c->min_io, c->opt_io,
	      c->num_queues, c->max_discard, c->max_discard_seg, c->discard_align, c->max_wz,
	      c->max_wz_seg, c->wz_may_unmap, k->d.vq[0].size, why);
}

/* --- data --- */

static void check_read(struct blk_disk *k)
{
	char name[32], why[160] = "";
	uint64_t last = k->cfg.capacity - 1;
	bool ok = read_verify(k, 0, 0, 1, 1, k->seed, why, sizeof(why)) &&
	          read_verify(k, 0, last, 1, 1, k->seed, why, sizeof(why)) &&
	          read_verify(k, 0, LBA_PIECES, 16, 3, k->seed, why, sizeof(why));
	name_of(name, sizeof(name), k, "read");
	check(name, ok, "lba 0, lba %lu (last), lba %u x16 in 3 segments: the runner's pattern "
	      "(seed 0x%lx)%s%s", last, LBA_PIECES, k->seed, why[0] ? "; " : "", why);
}

/* A read in the longest chain the device allows: header + seg_max data + status. */
static void check_seg_max(struct blk_disk *k)
{
	char name[32], why[160] = "";
	struct vq *q = &k->d.vq[0];
	uint32_t want = k->cfg.seg_max, room = q->size - 2u;
	uint32_t nseg = want < room ? want : room;
	struct bchain c;
	struct breq r;
	struct blk_slot *s = blk_slot();
	uint64_t bad = 0;
	bc_init(&c);
	bc_hdr(&c, s, VB_T_IN, LBA_SEGMAX);
	bc_data(&c, buf_b, nseg * BLK_SECTOR, nseg, true);
	bc_status(&c, s);
	c.direct = (k->d.features & VF_INDIRECT_DESC) ? 0 : c.n;
	memset(buf_b, 0x5A, nseg * BLK_SECTOR);
	blk_post(k, 0, &c, &s->status, &r);
	bool ok = nseg >= 1 && blk_run(k, &r, 1, why, sizeof(why)) && s->status == VB_S_OK &&
	          blk_verify(buf_b, LBA_SEGMAX, nseg, k->seed, &bad);
	if (!why[0] && !ok)
		gsnprintf(why, sizeof(why), "status %u (%s), first bad lba %lu", s->status,
		          blk_status_name(s->status), bad);
	name_of(name, sizeof(name), k, "seg_max");
	check(name, ok, "read of %u sectors at lba %u in %u segments (%s; seg_max %u%s)%s%s", nseg,
	      LBA_SEGMAX, nseg + 2, c.direct ? "direct" : "one indirect table", want,
	      nseg < want ? ", the queue size limits the chain" : "", why[0] ? "; " : "", why);
}

static void check_get_id(struct blk_disk *k)
{
	char name[32], why[160] = "", got[VB_ID_LEN + 1], want[VB_ID_LEN + 1];
	uint8_t st = 0xFF;
	struct bchain c;
	struct breq r;
	struct blk_slot *s = blk_slot();
	memset(buf_b, 0x5A, VB_ID_LEN);
	bc_init(&c);
	bc_hdr(&c, s, VB_T_GET_ID, 0);
	bc_add(&c, buf_b, VB_ID_LEN, true);
	bc_status(&c, s);
	blk_post(k, 0, &c, &s->status, &r);
	bool ok = blk_run(k, &r, 1, why, sizeof(why));
	st = s->status;
	size_t n = k->serial_len < VB_ID_LEN ? k->serial_len : VB_ID_LEN;
	/* 5.2.6: up to 20 bytes, NUL-terminated when shorter; the padding is only reported. */
	bool match = memcmp(buf_b, k->serial, n) == 0 && (n == VB_ID_LEN || buf_b[n] == 0);
	bool padded = true;
	for (size_t i = n; i < VB_ID_LEN; i++)
		padded = padded && buf_b[i] == 0;
	for (unsigned i = 0; i < VB_ID_LEN; i++)
		got[i] = buf_b[i] >= 0x20 && buf_b[i] < 0x7F ? (char)buf_b[i] : buf_b[i] ? '?' : '.';
	got[VB_ID_LEN] = 0;
	memcpy(want, k->serial, n);
	want[n] = 0;
	name_of(name, sizeof(name), k, "get_id");
	check(name, ok && st == VB_S_OK && match, "20-byte buffer: status %u, used len %u, \"%s\" "
	      "('.' = NUL), want \"%s\" and a NUL; rest NUL-padded: %s%s%s", st, r.len, got, want,
	      padded ? "yes" : "no", why[0] ? "; " : "", why);
}

static void image_line(const struct blk_disk *k, uint64_t lba, uint32_t n, uint64_t seed)
{
	if (seed)
		gprintf("blkimage: disk %u lba %lu sectors %u seed 0x%lx\n", k->index, lba, n, seed);
	else
		gprintf("blkimage: disk %u lba %lu sectors %u zero\n", k->index, lba, n);
}

/* OUT (2 segments), FLUSH, then the region and one sector either side read back. */
static void check_write_flush(struct blk_disk *k)
{
	char name[32], why[160] = "";
	uint64_t seed = k->seed + SEED_WRITE;
	uint8_t wst = 0xFF, fst = 0xFF;
	blk_fill(buf_a, LBA_WRITE, 32, seed);
	bool ok = blk_rw(k, 0, VB_T_OUT, LBA_WRITE, buf_a, 32 * BLK_SECTOR, 2, &wst, why,
	                 sizeof(why)) && wst == VB_S_OK &&
	          blk_rw(k, 0, VB_T_FLUSH, 0, NULL, 0, 0, &fst, why, sizeof(why)) && fst == VB_S_OK;
	const struct span sp[] = { { LBA_WRITE - 1, 1, k->seed }, { LBA_WRITE, 32, seed },
	                           { LBA_WRITE + 32, 1, k->seed } };
	ok = ok && read_spans(k, sp, 3, why, sizeof(why));
	if (ok)
		image_line(k, LBA_WRITE, 32, seed);
	name_of(name, sizeof(name), k, "write_flush");
	check(name, ok, "OUT of 32 sectors at lba %u (seed 0x%lx, 2 segments): %s; FLUSH: %s; read "
	      "back with the sector either side%s%s", LBA_WRITE, seed, blk_status_name(wst),
	      blk_status_name(fst), why[0] ? ": " : " ok", why);
}

static void check_discard(struct blk_disk *k)
{
	char name[32], why[160] = "";
	uint8_t st = 0xFF;
	bool ok = read_verify(k, 0, LBA_DISCARD, 64, 1, k->seed, why, sizeof(why)) &&
	          blk_dwz(k, VB_T_DISCARD, LBA_DISCARD, 64, 0, &st, why, sizeof(why)) &&
	          st == VB_S_OK;
	const struct span sp[] = { { LBA_DISCARD - 1, 1, k->seed }, { LBA_DISCARD, 64, 0 },
	                           { LBA_DISCARD + 64, 1, k->seed } };
	ok = ok && read_spans(k, sp, 3, why, sizeof(why));
	if (ok)
		image_line(k, LBA_DISCARD, 64, 0);
	name_of(name, sizeof(name), k, "discard");
	check(name, ok, "64 sectors at lba %u held the pattern; DISCARD: %s; read back zeros, the "
	      "sector either side intact%s%s", LBA_DISCARD, blk_status_name(st), why[0] ? ": " : "",
	      why);
}

static void check_write_zeroes(struct blk_disk *k)
{
	char name[32], why[160] = "";
	uint8_t st1 = 0xFF, st2 = 0xFF;
	uint32_t unmap = k->cfg.wz_may_unmap ? VB_WZ_UNMAP : 0;
	bool ok = blk_dwz(k, VB_T_WRITE_ZEROES, LBA_WZ, 64, 0, &st1, why, sizeof(why)) &&
	          st1 == VB_S_OK &&
	          blk_dwz(k, VB_T_WRITE_ZEROES, LBA_WZ + 128, 64, unmap, &st2, why, sizeof(why)) &&
	          st2 == VB_S_OK;
	const struct span sp[] = { { LBA_WZ - 1, 1, k->seed }, { LBA_WZ, 64, 0 },
	                           { LBA_WZ + 64, 64, k->seed }, { LBA_WZ + 128, 64, 0 },
	                           { LBA_WZ + 192, 1, k->seed } };
	ok = ok && read_spans(k, sp, 5, why, sizeof(why));
	if (ok) {
		image_line(k, LBA_WZ, 64, 0);
		image_line(k, LBA_WZ + 128, 64, 0);
	}
	name_of(name, sizeof(name), k, "write_zeroes");
	check(name, ok, "WRITE_ZEROES of 64 at lba %u: %s; of 64 at lba %u with flags %u (UNMAP "
	      "%s): %s; read back: zeros, the 64 between and either side intact%s%s", LBA_WZ,
	      blk_status_name(st1), LBA_WZ + 128, unmap, unmap ? "allowed" : "not allowed",
	      blk_status_name(st2), why[0] ? ": " : "", why);
}

/* 5.2.6.2: the device fails writes to a read-only disk; the data stays. */
static void check_readonly(struct blk_disk *k)
{
	char name[32], why[160] = "";
	uint8_t st = 0xFF;
	memset(buf_a, 0xAB, BLK_SECTOR);
	bool ok = blk_rw(k, 0, VB_T_OUT, 0, buf_a, BLK_SECTOR, 1, &st, why, sizeof(why)) &&
	          st == VB_S_IOERR && read_verify(k, 0, 0, 1, 1, k->seed, why, sizeof(why));
	name_of(name, sizeof(name), k, "readonly");
	check(name, ok, "RO offered; OUT of 1 sector at lba 0: status %u (%s, want IOERR); lba 0 "
	      "still holds the pattern%s%s", st, blk_status_name(st), why[0] ? ": " : "", why);
}

/* Four requests on each queue, all posted before either is kicked or waited for. */
static bool both_queues(struct blk_disk *k, uint32_t type, uint8_t *q0buf, uint64_t q0lba,
                        uint8_t *q1buf, uint64_t q1lba, char *why, size_t n)
{
	struct breq r[8];
	struct blk_slot *s[8];
	for (unsigned j = 0; j < 8; j++) {
		struct bchain c;
		unsigned qi = j & 1, i = j / 2;
		uint8_t *p = (qi ? q1buf : q0buf) + i * 8 * BLK_SECTOR;
		s[j] = blk_slot();
		bc_init(&c);
		bc_hdr(&c, s[j], type, (qi ? q1lba : q0lba) + 8 * i);
		bc_data(&c, p, 8 * BLK_SECTOR, 1, type == VB_T_IN);
		bc_status(&c, s[j]);
		blk_post(k, qi, &c, &s[j]->status, &r[j]);
	}
	if (!blk_run(k, r, 8, why, n))
		return false;
	for (unsigned j = 0; j < 8; j++)
		if (s[j]->status != VB_S_OK) {
			gsnprintf(why, n, "q%u request %u: status %u", j & 1, j / 2, s[j]->status);
			return false;
		}
	return true;
}

static void check_two_queues(struct blk_disk *k)
{
	char name[32], why[160] = "";
	struct vdev *d = &k->d;
	unsigned v0 = vdev_vec(d, vq_entry(d, 0)), v1 = vdev_vec(d, vq_entry(d, 1));
	unsigned i0 = irq_count(v0), i1 = irq_count(v1);
	uint64_t sa = k->seed + SEED_QA, sb = k->seed + SEED_QB, bad = 0;
	bool ok = d->nvq == 2;
	const char *what = "reads";
	if (!ok)
		gsnprintf(why, sizeof(why), "only %u queue initialized", d->nvq);
	if (ok && !k->want_ro) {
		/* q0 writes region A, q1 region B; then q0 reads B and q1 reads A. */
		what = "writes, then crossed reads";
		blk_fill(buf_a, LBA_QA, 32, sa);
		blk_fill(buf_a + 32 * BLK_SECTOR, LBA_QB, 32, sb);
		ok = both_queues(k, VB_T_OUT, buf_a, LBA_QA, buf_a + 32 * BLK_SECTOR, LBA_QB, why,
		                 sizeof(why));
		memset(buf_b, 0x5A, 64 * BLK_SECTOR);
		ok = ok && both_queues(k, VB_T_IN, buf_b, LBA_QB, buf_b + 32 * BLK_SECTOR, LBA_QA,
		                       why, sizeof(why));
		if (ok && !(blk_verify(buf_b, LBA_QB, 32, sb, &bad) &&
		            blk_verify(buf_b + 32 * BLK_SECTOR, LBA_QA, 32, sa, &bad))) {
			ok = false;
			gsnprintf(why, sizeof(why), "lba %lu read back wrong", bad);
		}
		if (ok) {
			image_line(k, LBA_QA, 32, sa);
			image_line(k, LBA_QB, 32, sb);
		}
	} else if (ok) {
		memset(buf_b, 0x5A, 64 * BLK_SECTOR);
		ok = both_queues(k, VB_T_IN, buf_b, 0, buf_b + 32 * BLK_SECTOR, 32, why, sizeof(why)) &&
		     blk_verify(buf_b, 0, 64, k->seed, &bad);
	}
	name_of(name, sizeof(name), k, "two_queues");
	check(name, ok, "%s: 4 x 8 sectors on each queue, all posted before the kicks; interrupts "
	      "q0 (0x%x) %u, q1 (0x%x) %u%s%s", what, v0, irq_count(v0) - i0, v1, irq_count(v1) - i1,
	      why[0] ? "; " : "", why);
}

/* --- blkdurable=: write, flush (or write-through), say so, stop --- */

static void __attribute__((noreturn)) durable(struct blk_disk *k, bool writethrough)
{
	char why[160] = "";
	uint64_t seed = k->seed + SEED_DURABLE;
	uint64_t feat = VF_INDIRECT_DESC | (VB_F_USED & ~(writethrough ? VB_F_FLUSH : 0));
	struct breq r[4];
	struct blk_slot *s[4];
	uint8_t fst = VB_S_OK;
	bool ok = !k->want_ro && k->cfg.capacity >= LBA_DURABLE + 256 &&
	          blk_reinit(k, feat, why, sizeof(why));
	blk_fill(buf_a, LBA_DURABLE, 256, seed);
	for (unsigned j = 0; ok && j < 4; j++) {
		struct bchain c;
		s[j] = blk_slot();
		bc_init(&c);
		bc_hdr(&c, s[j], VB_T_OUT, LBA_DURABLE + 64 * j);
		bc_data(&c, buf_a + j * 64 * BLK_SECTOR, 64 * BLK_SECTOR, 2, false);
		bc_status(&c, s[j]);
		blk_post(k, j % k->d.nvq, &c, &s[j]->status, &r[j]);
	}
	ok = ok && blk_run(k, r, 4, why, sizeof(why));
	for (unsigned j = 0; ok && j < 4; j++)
		ok = s[j]->status == VB_S_OK;
	if (ok && !writethrough)
		ok = blk_rw(k, 0, VB_T_FLUSH, 0, NULL, 0, 0, &fst, why, sizeof(why)) && fst == VB_S_OK;
	if (!ok) {
		gprintf("durable: FAILED (%s disk %u, features 0x%lx, flush status %u) %s\n",
		        k->want_ro ? "read-only" : "writable", k->index, k->d.features, fst, why);
		guest_finish();
	}
	gprintf("durable: %s lba=%u sectors=256 seed=0x%lx features=0x%lx\n",
	        writethrough ? "written" : "flushed", LBA_DURABLE, seed, k->d.features);
	halt_forever();                       /* the runner kills the VMM now */
}

/* --- all of it --- */

static unsigned count_functions(char *list, size_t n)
{
	unsigned c = 0;
	size_t at = 0;
	list[0] = 0;
	for (unsigned i = 0; i < pci_nfns; i++)
		if (pci_vendor(&pci_fns[i]) == PCI_VENDOR_VIRTIO && pci_device(&pci_fns[i]) == VIRTIO_ID_BLOCK) {
			if (at + 12 < n)
				at += (size_t)gsnprintf(list + at, n - at, "%s00:%02x.%u", c ? "," : "",
				                        pci_fns[i].dev, pci_fns[i].fn);
			c++;
		}
	return c;
}

static bool bring_up(struct blk_disk *k)
{
	char why[160] = "";
	gsnprintf(k->tag, sizeof(k->tag), "blk%u", k->index);
	k->seed = blk_opt.seed + k->index;
	const struct vdev_want w = { .id = VIRTIO_ID_BLOCK, .nth = k->index, .tag = k->tag,
	                             .vec0 = (uint8_t)BLK_VEC(k->index), .qsize = BLK_QSIZE,
	                             .features = VB_F_USED, .rings = rings[k->index],
	                             .nrings = BLK_RINGS, .must = true };
	if (!virtio_bring_up(&k->d, &w))
		return false;
	if (!blk_map_config(k, why, sizeof(why))) {
		char name[32];
		name_of(name, sizeof(name), k, "config");
		check(name, false, "%s", why);
		return false;
	}
	blk_read_config(k);
	return true;
}

static void disk_checks(struct blk_disk *k)
{
	check_config(k);
	check_read(k);
	check_seg_max(k);
	check_get_id(k);
	if (k->want_ro) {
		check_readonly(k);
	} else {
		check_write_flush(k);
		check_discard(k);
		check_write_zeroes(k);
	}
	if (k->want_queues > 1)
		check_two_queues(k);
}

void blk_checks(void)
{
	char list[128];
	unsigned found = count_functions(list, sizeof(list));
	if (!blk_opt.ndisks) {
		if (found)
			gprintf("blk: %u virtio-blk function(s) (%s), no blk= on the command line: not "
			        "checked\n", found, list);
		return;
	}
	check("blk_disks", found == blk_opt.ndisks && blk_opt.seed, "%u virtio-blk function(s) "
	      "1af4:1042 on bus 0 (%s), blk= names %u; blkseed=0x%lx%s", found, list, blk_opt.ndisks,
	      blk_opt.seed, blk_opt.seed ? "" : " (want a non-zero seed)");
	if (blk_opt.durable) {
		/* Only disk 0; a failure ends the run without the line the runner waits for. */
		if (bring_up(&blk_opt.disk[0]))
			durable(&blk_opt.disk[0], blk_opt.durable == 2);
		gprintf("durable: FAILED to bring up disk 0\n");
		return;
	}
	struct blk_disk *victim = NULL;
	bool up[BLK_MAX_DISKS] = { false };
	for (unsigned i = 0; i < blk_opt.ndisks; i++) {
		struct blk_disk *k = &blk_opt.disk[i];
		up[i] = bring_up(k);
		if (!up[i] || k->reset_only)
			continue;           /* an rl disk's rate limit would slow every check down */
		disk_checks(k);
		if (!victim && !k->want_ro)
			victim = k;
	}
	if (blk_opt.hostile && victim)
		blk_hostile_checks(victim);
	else if (blk_opt.hostile)
		check("blkh", false, "blkhostile=1 needs a writable disk that came up");
	for (unsigned i = 0; i < blk_opt.ndisks; i++)
		if (up[i] && blk_opt.disk[i].reset_only)
			blk_reset_check(&blk_opt.disk[i]);
	for (unsigned v = BLK_VEC(0); v < BLK_VEC(blk_opt.ndisks); v++)
		if (irq_count(v))
			gprintf("blk: vector 0x%x: %u interrupts\n", v, irq_count(v));
}
