/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: modern virtio-pci transport (virtio 1.2 4.1) and split virtqueues (2.7),
 * driver side. The function is found by vendor/device ID; its structures by the vendor
 * capabilities (4.1.4); ring memory is static guest RAM inside the image (identity mapped,
 * so a pointer is a guest-physical address). One MMIO access = one VM exit, so the code
 * reads no register it does not need.
 */
#include "virtio.h"

#define RING_POOL 12                        /* fresh rings for each init, reused cyclically */

static uint8_t ring_pool[RING_POOL][VQ_MEM] __attribute__((aligned(4096)));
static unsigned ring_next;

/* --- common configuration access, natural widths (4.1.3.1) --- */

uint8_t cc_r8(struct vdev *d, unsigned off) { return *(volatile uint8_t *)(d->cc + off); }
uint16_t cc_r16(struct vdev *d, unsigned off) { return *(volatile uint16_t *)(d->cc + off); }
uint32_t cc_r32(struct vdev *d, unsigned off) { return *(volatile uint32_t *)(d->cc + off); }
void cc_w8(struct vdev *d, unsigned off, uint8_t v) { *(volatile uint8_t *)(d->cc + off) = v; }
void cc_w16(struct vdev *d, unsigned off, uint16_t v) { *(volatile uint16_t *)(d->cc + off) = v; }
void cc_w32(struct vdev *d, unsigned off, uint32_t v) { *(volatile uint32_t *)(d->cc + off) = v; }

static void cc_w64(struct vdev *d, unsigned off, uint64_t v)
{
	cc_w32(d, off, (uint32_t)v);
	cc_w32(d, off + 4, (uint32_t)(v >> 32));
}

static uint64_t cc_r64(struct vdev *d, unsigned off)
{
	return cc_r32(d, off) | (uint64_t)cc_r32(d, off + 4) << 32;
}

/* --- discovery --- */

static void read_vcap(struct vdev *d, unsigned type, struct vcap *c)
{
	const struct pci_fn *f = d->f;
	c->cfg = pci_virtio_cap(f, (uint8_t)type);
	if (!c->cfg)
		return;
	c->bar = ecam_rd8(f->dev, f->fn, c->cfg + 4);
	c->off = ecam_rd32(f->dev, f->fn, c->cfg + 8);
	c->len = ecam_rd32(f->dev, f->fn, c->cfg + 12);
}

/* The structure at (bar, off, len): its address, once the BAR is a mapped memory BAR. */
static volatile uint8_t *struct_at(struct vdev *d, uint8_t bar, uint32_t off, uint64_t len)
{
	struct pci_bar *b = bar < 6 ? pci_bar_at(d->f, bar) : NULL;
	if (!b || b->kind == BAR_IO || !b->addr || off > b->size || len > b->size - off)
		return NULL;
	uint64_t a = pci_bar_get(d->f, b);
	if (!phys_map_uc(a, b->size))
		return NULL;
	b->addr = a;
	return (volatile uint8_t *)(uintptr_t)(a + off);
}

bool vdev_map(struct vdev *d, char *why, size_t n)
{
	d->cc = struct_at(d, d->common.bar, d->common.off, 0x38);
	d->isrp = struct_at(d, d->isr.bar, d->isr.off, 1);
	d->ntf = struct_at(d, d->notify.bar, d->notify.off, d->notify.len);
	d->tbl = d->msix ? struct_at(d, d->tbl_bir, d->tbl_off, 16ULL * d->msix_n) : NULL;
	d->pba = d->msix ? struct_at(d, d->pba_bir, d->pba_off, 8) : NULL;
	const char *miss = !d->cc ? "common" : !d->isrp ? "ISR" : !d->ntf ? "notify" :
	                   !d->tbl ? "MSI-X table" : !d->pba ? "PBA" : NULL;
	if (miss)
		gsnprintf(why, n, "%s structure not inside an assigned memory BAR", miss);
	return !miss;
}

bool vdev_probe(struct vdev *d, uint16_t device_id, unsigned nth, const char *name, uint8_t vec0,
                char *why, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->vec0 = vec0;
	unsigned seen = 0;
	for (unsigned i = 0; i < pci_nfns && !d->f; i++)
		if (pci_vendor(&pci_fns[i]) == PCI_VENDOR_VIRTIO && pci_device(&pci_fns[i]) == device_id &&
		    seen++ == nth)
			d->f = &pci_fns[i];
	if (!d->f) {
		gsnprintf(why, n, "no function 1af4:%04x #%u on bus 0", device_id, nth);
		return false;
	}
	/* pci_enable_device + pci_set_master: decode (no firmware may have run), DMA, no INTx. */
	uint16_t cmd = ecam_rd16(d->f->dev, d->f->fn, PCI_CFG_COMMAND);
	ecam_wr16(d->f->dev, d->f->fn, PCI_CFG_COMMAND,
	          (uint16_t)(cmd | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_OFF));
	read_vcap(d, VCAP_COMMON, &d->common);
	read_vcap(d, VCAP_NOTIFY, &d->notify);
	read_vcap(d, VCAP_ISR, &d->isr);
	read_vcap(d, VCAP_DEVICE, &d->device);
	read_vcap(d, VCAP_PCI_CFG, &d->pcicfg);
	if (d->notify.cfg)
		d->notify_mult = ecam_rd32(d->f->dev, d->f->fn, d->notify.cfg + 16);
	d->msix = pci_find_cap(d->f, PCI_CAP_MSIX);
	if (d->msix) {
		uint32_t mc = ecam_rd32(d->f->dev, d->f->fn, d->msix);
		uint32_t t = ecam_rd32(d->f->dev, d->f->fn, d->msix + 4);
		uint32_t p = ecam_rd32(d->f->dev, d->f->fn, d->msix + 8);
		d->msix_n = (uint16_t)(((mc >> 16) & 0x7FF) + 1);
		d->tbl_bir = t & 7;
		d->tbl_off = t & ~7u;
		d->pba_bir = p & 7;
		d->pba_off = p & ~7u;
	}
	const char *miss = !d->common.cfg ? "common" : !d->notify.cfg ? "notify" :
	                   !d->isr.cfg ? "ISR" : !d->pcicfg.cfg ? "PCI_CFG" :
	                   !d->msix ? "MSI-X" : NULL;
	if (miss) {
		gsnprintf(why, n, "00:%02x.%u: no %s capability", d->f->dev, d->f->fn, miss);
		return false;
	}
	return vdev_map(d, why, n);
}

/* --- status machine --- */

bool vdev_reset(struct vdev *d)
{
	cc_w8(d, VC_STATUS, 0);
	for (unsigned i = 0; i < 100000; i++) {
		if (cc_r8(d, VC_STATUS) == 0)
			return true;
		cpu_pause();
	}
	return false;
}

/*
 * Descriptors at 0, avail at 0x400 and used at 0x800 (2.7: 16-, 2- and 4-byte alignment);
 * a ring larger than 64 entries moves them up: 128 entries end at 0xd0e.
 */
static void ring_layout(struct vq *q, uint64_t mem, uint16_t size)
{
	uint64_t avail = 16ULL * size > 0x400 ? 16ULL * size : 0x400;
	uint64_t used = pci_align_up(avail + 6 + 2ULL * size, 4);
	q->mem = mem;
	q->size = size;
	q->desc = (volatile struct vring_desc *)(uintptr_t)mem;
	q->avail = (volatile uint16_t *)(uintptr_t)(mem + avail);
	q->used = (volatile uint32_t *)(uintptr_t)(mem + (used > 0x800 ? used : 0x800));
	q->avail_idx = q->used_seen = q->next_desc = 0;
}

/* 4.1.5.1.3: select, size, vector, ring addresses, enable. */
static bool queue_setup(struct vdev *d, unsigned qi, char *why, size_t n)
{
	struct vq *q = &d->vq[qi];
	uint8_t *mem = d->rings ? d->rings[d->ring_next++ % d->nrings]
	                        : ring_pool[ring_next++ % RING_POOL];
	uint16_t want = d->qsize_want && d->qsize_want <= VQ_MAX ? d->qsize_want : VQ_WANT;
	memset(mem, 0, VQ_MEM);
	q->index = qi;
	cc_w16(d, VC_QSELECT, (uint16_t)qi);
	uint16_t max = cc_r16(d, VC_QSIZE);
	if (!max || !pci_is_pow2(max)) {
		gsnprintf(why, n, "q%u: queue_size %u (want a power of two)", qi, max);
		return false;
	}
	ring_layout(q, (uint64_t)(uintptr_t)mem, max < want ? max : want);
	cc_w16(d, VC_QSIZE, q->size);
	cc_w16(d, VC_QMSIX, (uint16_t)vq_entry(d, qi));
	cc_w64(d, VC_QDESC, q->mem);
	cc_w64(d, VC_QDRIVER, (uint64_t)(uintptr_t)q->avail);
	cc_w64(d, VC_QDEVICE, (uint64_t)(uintptr_t)q->used);
	uint16_t size = cc_r16(d, VC_QSIZE), vec = cc_r16(d, VC_QMSIX);
	uint64_t desc = cc_r64(d, VC_QDESC);
	q->notify_off = cc_r16(d, VC_QNOFF);
	cc_w16(d, VC_QENABLE, 1);
	uint16_t en = cc_r16(d, VC_QENABLE);
	uint64_t span = (uint64_t)q->notify_off * d->notify_mult + 2;
	if (size != q->size || vec != vq_entry(d, qi) || desc != q->mem || en != 1 || span > d->notify.len) {
		gsnprintf(why, n, "q%u: read back size %u (wrote %u) vector 0x%x desc 0x%lx enable %u "
		          "notify_off %u", qi, size, q->size, vec, desc, en, q->notify_off);
		return false;
	}
	return true;
}

static bool set_features(struct vdev *d, uint64_t want, uint8_t *status)
{
	cc_w32(d, VC_GFSELECT, 0);
	cc_w32(d, VC_GF, (uint32_t)want);
	cc_w32(d, VC_GFSELECT, 1);
	cc_w32(d, VC_GF, (uint32_t)(want >> 32));
	cc_w8(d, VC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	*status = cc_r8(d, VC_STATUS);
	return (*status & VS_FEATURES_OK) != 0;
}

bool vdev_init(struct vdev *d, unsigned nvq, uint64_t extra, char *why, size_t n)
{
	if (!vdev_reset(d)) {
		gsnprintf(why, n, "device_status 0x%x after writing 0", cc_r8(d, VC_STATUS));
		return false;
	}
	cc_w8(d, VC_STATUS, VS_ACK);
	cc_w8(d, VC_STATUS, VS_ACK | VS_DRIVER);
	cc_w32(d, VC_DFSELECT, 0);
	d->offered = cc_r32(d, VC_DF);
	cc_w32(d, VC_DFSELECT, 1);
	d->offered |= (uint64_t)cc_r32(d, VC_DF) << 32;
	if (!(d->offered & VF_VERSION_1)) {
		gsnprintf(why, n, "features 0x%lx without VERSION_1", d->offered);
		return false;
	}
	d->features = d->offered & (VF_VERSION_1 | extra);
	uint8_t st;
	if (!set_features(d, d->features, &st)) {
		gsnprintf(why, n, "FEATURES_OK refused for 0x%lx (status 0x%x)", d->features, st);
		return false;
	}
	cc_w16(d, VC_MSIX, 0);
	d->num_queues = cc_r16(d, VC_NUMQ);
	uint16_t cvec = cc_r16(d, VC_MSIX);
	if (cvec != 0 || d->num_queues < nvq || nvq > VDEV_QUEUES) {
		gsnprintf(why, n, "config_msix_vector reads 0x%x (wrote 0), num_queues %u (need %u)",
		          cvec, d->num_queues, nvq);
		return false;
	}
	d->nvq = nvq;
	for (unsigned i = 0; i < nvq; i++)
		if (!queue_setup(d, i, why, n))
			return false;
	cc_w8(d, VC_STATUS, VS_READY);
	st = cc_r8(d, VC_STATUS);
	if (st != VS_READY) {
		gsnprintf(why, n, "device_status 0x%x after DRIVER_OK (want 0x%x)", st, VS_READY);
		return false;
	}
	return true;
}

/* --- split ring, driver side (2.7.13) --- */

void vq_publish(struct vq *q, uint16_t head)
{
	q->avail[2 + q->avail_idx % q->size] = head;
	barrier();                              /* x86 keeps stores in order (TSO) */
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	barrier();
}

uint16_t vq_post(struct vq *q, const struct vbuf *b, unsigned n)
{
	if (q->next_desc + n > q->size)
		q->next_desc = 0;
	uint16_t head = q->next_desc;
	for (unsigned i = 0; i < n; i++) {
		volatile struct vring_desc *dsc = &q->desc[head + i];
		dsc->addr = b[i].addr;
		dsc->len = b[i].len;
		dsc->flags = (uint16_t)((b[i].write ? VD_WRITE : 0) | (i + 1 < n ? VD_NEXT : 0));
		dsc->next = (uint16_t)(i + 1 < n ? head + i + 1 : 0);
	}
	q->next_desc = (uint16_t)(head + n);
	vq_publish(q, head);
	return head;
}

void vq_kick(struct vdev *d, struct vq *q)
{
	/* 4.1.5.2: without VIRTIO_F_NOTIFICATION_DATA the driver writes the queue index. */
	volatile uint16_t *p = (volatile uint16_t *)(d->ntf + (uint64_t)q->notify_off * d->notify_mult);
	*p = (uint16_t)q->index;
}

uint16_t vq_used_idx(const struct vq *q)
{
	return (uint16_t)(q->used[0] >> 16);
}

bool vq_pop_used(struct vq *q, uint32_t *id, uint32_t *len)
{
	if (vq_used_idx(q) == q->used_seen)
		return false;
	barrier();
	unsigned slot = q->used_seen % q->size;
	*id = q->used[1 + 2 * slot];
	*len = q->used[2 + 2 * slot];
	q->used_seen++;
	return true;
}

struct used_wait {
	const struct vq *q;
	uint16_t want;
};

static bool used_reached(void *arg)
{
	const struct used_wait *w = arg;
	return (int16_t)(vq_used_idx(w->q) - w->want) >= 0;
}

bool vq_wait_used(struct vq *q, uint16_t want, uint64_t timeout_us)
{
	struct used_wait w = { q, want };
	return poll_until(used_reached, &w, timeout_us);
}

/*
 * The device publishes the used element, then interrupts (2.7.14): wait in that order.
 * Interrupts left pending from earlier work are taken first, so they do not count.
 */
bool vq_request(struct vdev *d, struct vq *q, const struct vbuf *b, unsigned n, uint32_t *len,
                char *why, size_t wn)
{
	unsigned vec = vdev_vec(d, vq_entry(d, q->index));
	irq_drain();
	unsigned before = irq_count(vec);
	uint16_t head = vq_post(q, b, n), want = (uint16_t)(q->used_seen + 1);
	vq_kick(d, q);
	uint32_t id = 0xFFFFFFFFu;
	bool used = vq_wait_used(q, want, VIRTIO_TIMEOUT_US) && vq_pop_used(q, &id, len);
	bool irq = irq_wait(vec, before, VIRTIO_TIMEOUT_US);
	if (!irq || !used || id != head) {
		gsnprintf(why, wn, "q%u: used idx %u (want %u), id %u (head %u), %s, status 0x%x",
		          q->index, vq_used_idx(q), want, id, head,
		          irq ? "interrupt received" : "no interrupt within 10 s", cc_r8(d, VC_STATUS));
		return false;
	}
	return true;
}
