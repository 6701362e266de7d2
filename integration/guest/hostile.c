/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: hostile-driver checks (hostile=1) on virtio-rng. Each one breaks a rule
 * of virtio 1.2 or PCI 3.0 on purpose. The VMM must survive, and the device must react as
 * docs/virtio.md says: a malformed ring sets DEVICE_NEEDS_RESET (2.1.2) with a config
 * interrupt and the queue is not served; bad register writes are ignored. Every case ends
 * with a reset, a fresh initialization and a served entropy request.
 */
#include "virtio.h"

#define IND_MAX        (VQ_MAX + 2)
#define HOLE_ADDR      0xFEC00000ULL         /* IOAPIC page: MMIO, never RAM */

static uint8_t hbuf[4][64] __attribute__((aligned(64)));
static struct vring_desc ind_a[IND_MAX] __attribute__((aligned(16)));
static struct vring_desc ind_b[2] __attribute__((aligned(16)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static void set_desc(volatile struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* A valid request behind the bad one: a device that skips the bad chain would serve it. */
static void valid_behind(struct vq *q, uint16_t at)
{
	set_desc(&q->desc[at], pa(hbuf[3]), 16, VD_WRITE, 0);
	vq_publish(q, at);
}

/* --- the malformed rings (the queue is fresh: avail_idx 0, descriptors free) --- */

static void avail_jump(struct vq *q)
{
	/* 2.7.13.3: avail->idx more than the queue size ahead of what the device consumed. */
	q->avail[1] = (uint16_t)(q->size + 1);
}

static void head_range(struct vq *q)
{
	vq_publish(q, (uint16_t)(q->size + 3));
	valid_behind(q, 1);
}

static void desc_loop(struct vq *q)
{
	set_desc(&q->desc[0], pa(hbuf[0]), 16, VD_WRITE | VD_NEXT, 0);   /* next = itself */
	vq_publish(q, 0);
	valid_behind(q, 1);
}

static void chain_long(struct vq *q)
{
	/* 2.7.5.3.1: no chain longer than the queue size; here size + 1 linked indirect entries. */
	for (unsigned i = 0; i <= q->size; i++)
		set_desc(&ind_a[i], pa(hbuf[i & 1]), 8, (uint16_t)(VD_WRITE | (i < q->size ? VD_NEXT : 0)),
		         (uint16_t)(i + 1));
	set_desc(&q->desc[0], pa(ind_a), 16u * (q->size + 1u), VD_INDIRECT, 0);
	vq_publish(q, 0);
	valid_behind(q, 1);
}

static void one_buffer(struct vq *q, uint64_t addr, uint32_t len)
{
	set_desc(&q->desc[0], addr, len, VD_WRITE, 0);
	vq_publish(q, 0);
	valid_behind(q, 1);
}

static void outside_ram(struct vq *q) { one_buffer(q, memmap_ram_end() + 0x40000000ULL, 64); }
static void straddle(struct vq *q) { one_buffer(q, memmap_ram_end() - 32, 64); }
static void mmio_hole(struct vq *q) { one_buffer(q, HOLE_ADDR, 64); }
static void addr_wrap(struct vq *q) { one_buffer(q, 0xFFFFFFFFFFFFFFC0ULL, 0x80); }

static void indirect_nested(struct vq *q)
{
	set_desc(&ind_b[0], pa(hbuf[0]), 16, VD_WRITE, 0);
	set_desc(&ind_a[0], pa(ind_b), 16, VD_INDIRECT, 0);        /* 2.7.5.3.1: no nesting */
	set_desc(&q->desc[0], pa(ind_a), 16, VD_INDIRECT, 0);
	vq_publish(q, 0);
	valid_behind(q, 1);
}

static void indirect_len(struct vq *q)
{
	set_desc(&ind_a[0], pa(hbuf[0]), 16, VD_WRITE, 0);
	set_desc(&ind_a[1], pa(hbuf[1]), 16, VD_WRITE, 0);
	set_desc(&q->desc[0], pa(ind_a), 20, VD_INDIRECT, 0);      /* not a multiple of 16 */
	vq_publish(q, 0);
	valid_behind(q, 1);
}

/* Reset, initialize, one entropy request: the device works again. */
static bool recover(struct vdev *d, char *why, size_t n)
{
	uint32_t got = 0;
	if (!vdev_init(d, 1, VF_INDIRECT_DESC, why, n) ||
	    !rng_fetch(d, hbuf[2], 32, &got, why, n))
		return false;
	if (!rng_looks_random(hbuf[2], got)) {
		gsnprintf(why, n, "entropy after the reset looks constant");
		return false;
	}
	return true;
}

struct ring_case {
	const char *name, *what;
	void (*abuse)(struct vq *q);
};

static void ring_case(struct vdev *d, const struct ring_case *c)
{
	char why[200] = "";
	if (!vdev_init(d, 1, VF_INDIRECT_DESC, why, sizeof(why))) {
		check(c->name, false, "%s: initialization failed: %s", c->what, why);
		return;
	}
	struct vq *q = &d->vq[0];
	unsigned cvec = vdev_vec(d, 0), qvec = vdev_vec(d, vq_entry(d, 0));
	unsigned cbefore = irq_count(cvec), qbefore = irq_count(qvec);
	c->abuse(q);
	vq_kick(d, q);
	bool irq = irq_wait(cvec, cbefore, VIRTIO_TIMEOUT_US);
	uint8_t st = cc_r8(d, VC_STATUS), isr = *d->isrp;
	uint16_t used = vq_used_idx(q);
	unsigned qirqs = irq_count(qvec) - qbefore;
	uint64_t a0 = q->desc[0].addr;
	uint32_t l0 = q->desc[0].len;
	bool ok = irq && (st & VS_NEEDS_RESET) && used == 0;
	bool back = recover(d, why, sizeof(why));
	check(c->name, ok && back, "%s (desc0 0x%lx len 0x%x): config interrupt %s, status 0x%x "
	      "(NEEDS_RESET %s), ISR 0x%x, used idx %u (want 0), %u queue irqs; reset + re-init: "
	      "%s%s%s", c->what, a0, l0, irq ? "received" : "NOT received", st,
	      (st & VS_NEEDS_RESET) ? "set" : "NOT set", isr, used, qirqs,
	      back ? "entropy ok" : "FAILED", why[0] ? "; " : "", why);
}

static const struct ring_case ring_cases[] = {
	{ "hostile_avail_jump", "avail idx = queue size + 1 with nothing posted", avail_jump },
	{ "hostile_head_range", "head index = queue size + 3", head_range },
	{ "hostile_desc_loop", "descriptor whose next is itself", desc_loop },
	{ "hostile_chain_long", "indirect chain of queue size + 1 descriptors", chain_long },
	{ "hostile_desc_outside_ram", "buffer 1 GiB above the end of RAM", outside_ram },
	{ "hostile_desc_straddle", "buffer across the end of RAM", straddle },
	{ "hostile_desc_mmio_hole", "buffer at 0xfec00000 (IOAPIC, MMIO hole)", mmio_hole },
	{ "hostile_desc_wrap", "buffer 0xffffffffffffffc0 + 0x80 (address wraps)", addr_wrap },
	{ "hostile_indirect_nested", "indirect descriptor inside an indirect table", indirect_nested },
	{ "hostile_indirect_len", "indirect table of 20 bytes", indirect_len },
};

/* --- register abuse --- */

/*
 * FEATURES_OK must read back clear when the device cannot accept the set (3.1.1 step 6):
 * vireo refuses a set without VERSION_1 (a modern-only device, 6.1) or with a bit it did not
 * offer (2.2.1). QEMU accepts both.
 */
static void features_abuse(struct vdev *d, const char *name, bool drop_v1)
{
	char why[200] = "";
	bool reset = vdev_reset(d);
	cc_w8(d, VC_STATUS, VS_ACK);
	cc_w8(d, VC_STATUS, VS_ACK | VS_DRIVER);
	uint64_t off = 0;
	for (unsigned i = 0; i < 2; i++) {
		cc_w32(d, VC_DFSELECT, i);
		off |= (uint64_t)cc_r32(d, VC_DF) << (32 * i);
	}
	uint64_t extra = 1;                     /* the lowest device-type bit not offered */
	while (extra < (1ULL << 24) && (off & extra))
		extra <<= 1;
	uint64_t f = drop_v1 ? off & ~VF_VERSION_1 : (off & VF_VERSION_1) | extra;
	for (unsigned i = 0; i < 2; i++) {
		cc_w32(d, VC_GFSELECT, i);
		cc_w32(d, VC_GF, (uint32_t)(f >> (32 * i)));
	}
	cc_w8(d, VC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	uint8_t st = cc_r8(d, VC_STATUS);
	bool back = recover(d, why, sizeof(why));
	check(name, reset && !(st & VS_FEATURES_OK) && back, "driver features 0x%lx (%s) of 0x%lx: "
	      "FEATURES_OK %s (status 0x%x); reset + re-init: %s%s%s", f,
	      drop_v1 ? "VERSION_1 dropped" : "a bit not offered", off,
	      (st & VS_FEATURES_OK) ? "ACCEPTED" : "refused", st, back ? "entropy ok" : "FAILED",
	      why[0] ? "; " : "", why);
}

/*
 * PCI 3.0 6.8.2: table accesses are aligned dwords or qwords; anything else, and anything
 * past the last entry or into the PBA (read-only), must leave the table as it was.
 */
static void msix_abuse(struct vdev *d)
{
	char why[200] = "";
	unsigned n = d->msix_n < 4 ? d->msix_n : 4;
	uint32_t before[4][4], after[4][4];
	for (unsigned e = 0; e < n; e++)
		for (unsigned k = 0; k < 4; k++)
			before[e][k] = msix_entry_rd(d, e, k);
	uint32_t pba0 = *(volatile uint32_t *)d->pba;
	volatile uint8_t *t = d->tbl;
	*(volatile uint8_t *)(t + 16 + 12) = 1;                     /* byte: entry 1 Mask */
	*(volatile uint16_t *)(t + 8) = 0x1234;                     /* word: entry 0 data */
	*(volatile uint32_t *)(t + 2) = 0xDEADBEEF;                 /* unaligned dword */
	*(volatile uint32_t *)(t + 16ULL * d->msix_n) = 0xFEE00000; /* past the table */
	*(volatile uint32_t *)(t + 16ULL * d->msix_n + 12) = 0;
	*(volatile uint64_t *)(t + 16ULL * d->msix_n + 8) = 0x1ULL;
	*(volatile uint32_t *)d->pba = 0xFFFFFFFFu;                 /* PBA is read-only */
	for (unsigned e = 0; e < n; e++)
		for (unsigned k = 0; k < 4; k++)
			after[e][k] = msix_entry_rd(d, e, k);
	uint32_t pba1 = *(volatile uint32_t *)d->pba;
	bool same = memcmp(before, after, sizeof(uint32_t) * 4 * n) == 0 && pba1 == pba0;
	uint32_t got = 0;
	bool works = rng_fetch(d, hbuf[2], 32, &got, why, sizeof(why));
	check("hostile_msix_table", same && works, "byte, word, unaligned dword, writes past the "
	      "%u-entry table, a PBA write: entries 0-%u %s, PBA 0x%x -> 0x%x; entropy with interrupt "
	      "%s%s%s", d->msix_n, n - 1, same ? "unchanged" : "CHANGED", pba0, pba1,
	      works ? "ok" : "FAILED", why[0] ? "; " : "", why);
}

/* 4.1.4.3.2: an unavailable queue reads queue_size 0; its registers take no writes. */
static bool absent_queue(struct vdev *d, uint16_t sel, char *why, size_t n)
{
	cc_w16(d, VC_QSELECT, sel);
	cc_w16(d, VC_QSIZE, 4);
	cc_w32(d, VC_QDESC, 0x1000);
	cc_w16(d, VC_QENABLE, 1);
	uint16_t size = cc_r16(d, VC_QSIZE), en = cc_r16(d, VC_QENABLE);
	uint32_t desc = cc_r32(d, VC_QDESC);
	if (size || en || desc) {
		gsnprintf(why, n, "queue_select %u: queue_size %u, queue_enable %u, queue_desc 0x%x "
		          "after writes (want 0)", sel, size, en, desc);
		return false;
	}
	return true;
}

static void queue_select_abuse(struct vdev *d)
{
	char why[200] = "";
	struct vq *q = &d->vq[0];
	bool ok = absent_queue(d, d->num_queues, why, sizeof(why)) &&
	          absent_queue(d, 0xFFFF, why, sizeof(why));
	cc_w16(d, VC_QSELECT, 0);
	uint16_t size = cc_r16(d, VC_QSIZE), en = cc_r16(d, VC_QENABLE);
	if (ok && (size != q->size || en != 1)) {
		ok = false;
		gsnprintf(why, sizeof(why), "queue 0 now reads size %u enable %u", size, en);
	}
	uint32_t got = 0;
	bool works = rng_fetch(d, hbuf[2], 32, &got, why + strlen(why), sizeof(why) - strlen(why));
	check("hostile_queue_select", ok && works, "queue_select %u and 0xffff: size, desc and enable "
	      "writes ignored, reads 0; queue 0 unchanged (size %u), entropy %s%s%s", d->num_queues,
	      size, works ? "ok" : "FAILED", why[0] ? "; " : "", why);
}

/* 4.1.5.1.2: a vector the device cannot use reads back NO_VECTOR. */
static void vector_abuse(struct vdev *d)
{
	char why[200] = "";
	uint16_t bad[2] = { d->msix_n, 0x7FFF }, got_c[2], got_q[2];
	cc_w16(d, VC_QSELECT, 0);
	for (unsigned i = 0; i < 2; i++) {
		cc_w16(d, VC_MSIX, bad[i]);
		got_c[i] = cc_r16(d, VC_MSIX);
		cc_w16(d, VC_QMSIX, bad[i]);
		got_q[i] = cc_r16(d, VC_QMSIX);
	}
	cc_w16(d, VC_MSIX, 0);
	cc_w16(d, VC_QMSIX, (uint16_t)vq_entry(d, 0));
	uint16_t c = cc_r16(d, VC_MSIX), qv = cc_r16(d, VC_QMSIX);
	bool ok = got_c[0] == VIRTIO_NO_VECTOR && got_c[1] == VIRTIO_NO_VECTOR &&
	          got_q[0] == VIRTIO_NO_VECTOR && got_q[1] == VIRTIO_NO_VECTOR && c == 0 &&
	          qv == vq_entry(d, 0);
	uint32_t got = 0;
	bool works = rng_fetch(d, hbuf[2], 32, &got, why, sizeof(why));
	check("hostile_vector_range", ok && works, "config/queue vector %u reads 0x%x/0x%x, 0x7fff "
	      "reads 0x%x/0x%x (want 0xffff); set back: 0x%x/0x%x, entropy with interrupt "
	      "%s%s%s", bad[0], got_c[0], got_q[0], got_c[1], got_q[1], c, qv, works ? "ok" : "FAILED",
	      why[0] ? "; " : "", why);
}

void virtio_hostile_checks(struct vdev *d)
{
	char why[200] = "";
	features_abuse(d, "hostile_features_no_version1", true);
	features_abuse(d, "hostile_features_unoffered", false);
	for (unsigned i = 0; i < sizeof(ring_cases) / sizeof(ring_cases[0]); i++)
		ring_case(d, &ring_cases[i]);
	if (!recover(d, why, sizeof(why))) {
		check("hostile_registers", false, "device unusable before the register checks: %s", why);
		return;
	}
	msix_abuse(d);
	queue_select_abuse(d);
	vector_abuse(d);
}
