/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio checks on virtio-rng (5.4) and virtio-console (5.3, port 0 without
 * MULTIPORT: receiveq0 = queue 0, transmitq0 = queue 1) behind modern virtio-pci: discovery,
 * feature negotiation, initialization with MSI-X, entropy, vector and function masking with
 * the PBA, console output and input, reset with buffers outstanding. See README.md.
 */
#include "virtio.h"

#define VEC_RNG         0x50                /* entries 0-1: config, requestq */
#define VEC_CON         0x58                /* entries 0-2: config, receiveq0, transmitq0 */
#define RNG_CHUNK       32
#define CON_RX_MAX      128
#define CON_LINE_TX     "vireo-guest: virtio-console hello\n"
#define CON_LINE_RESET  "vireo-guest: virtio-console after reset\n"

static uint8_t rng_buf[8][64] __attribute__((aligned(64)));
static uint8_t con_tx[64], con_rx[4][CON_RX_MAX] __attribute__((aligned(64)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

bool rng_looks_random(const uint8_t *b, uint32_t len)
{
	bool varied = false;
	for (uint32_t i = 1; i < len; i++)
		varied = varied || b[i] != b[0];
	return len >= 8 && varied;           /* not all zero, not one repeated byte */
}

bool rng_fetch(struct vdev *d, uint8_t *buf, uint32_t len, uint32_t *got, char *why, size_t n)
{
	struct vbuf b = { pa(buf), len, true };
	memset(buf, 0, len);
	if (!vq_request(d, &d->vq[0], &b, 1, got, why, n))
		return false;
	if (*got == 0 || *got > len) {
		gsnprintf(why, n, "used length %u for a %u-byte buffer", *got, len);
		return false;
	}
	return true;
}

/* --- per device: capabilities, features, initialization --- */

static void report_caps(struct vdev *d, const char *name)
{
	const struct pci_bar *b = pci_bar_at(d->f, d->common.bar);
	bool ok = b && b->kind == BAR_MEM64 && d->notify_mult % 2 == 0 &&
	          d->isr.bar == d->common.bar && d->notify.bar == d->common.bar;
	check(name, ok, "00:%02x.%u 1af4:%04x: common bar%u+0x%x, notify bar%u+0x%x (mult %u), ISR "
	      "bar%u+0x%x, device cfg %s, PCI_CFG cap 0x%x; MSI-X %u entries, table bar%u+0x%x, PBA "
	      "bar%u+0x%x; common BAR %s at 0x%lx%s", d->f->dev, d->f->fn, pci_device(d->f),
	      d->common.bar, d->common.off, d->notify.bar, d->notify.off, d->notify_mult, d->isr.bar,
	      d->isr.off, d->device.cfg ? "present" : "absent", d->pcicfg.cfg, d->msix_n, d->tbl_bir,
	      d->tbl_off, d->pba_bir, d->pba_off, b ? (b->kind == BAR_MEM64 ? "mem64" : "not mem64") :
	      "missing", b ? b->addr : 0, ok ? "" : " (want a 64-bit BAR with common, notify, ISR)");
}

/*
 * 3.1.1 steps 3-6 and 4.1.4.3: the device offers VERSION_1 (6.1: a modern device must),
 * shows nothing beyond bit 63, the driver_feature windows read back what was written, and
 * FEATURES_OK sticks. The refusal of a set without VERSION_1 is a hostile check.
 */
static void check_features(struct vdev *d, const char *name)
{
	bool reset = vdev_reset(d);
	cc_w8(d, VC_STATUS, VS_ACK);
	cc_w8(d, VC_STATUS, VS_ACK | VS_DRIVER);
	uint32_t w[3];
	for (unsigned i = 0; i < 3; i++) {
		cc_w32(d, VC_DFSELECT, i);
		w[i] = cc_r32(d, VC_DF);
	}
	uint64_t off = w[0] | (uint64_t)w[1] << 32, want = off & (VF_VERSION_1 | VF_INDIRECT_DESC);
	uint32_t back[2];
	for (unsigned i = 0; i < 2; i++) {
		cc_w32(d, VC_GFSELECT, i);
		cc_w32(d, VC_GF, (uint32_t)(want >> (32 * i)));
	}
	for (unsigned i = 0; i < 2; i++) {
		cc_w32(d, VC_GFSELECT, i);
		back[i] = cc_r32(d, VC_GF);
	}
	cc_w8(d, VC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	uint8_t st = cc_r8(d, VC_STATUS);
	bool reset2 = vdev_reset(d);
	bool ok = reset && reset2 && (off & VF_VERSION_1) && w[2] == 0 &&
	          (back[0] | (uint64_t)back[1] << 32) == want && (st & VS_FEATURES_OK);
	check(name, ok, "offered 0x%lx (VERSION_1 %s), bits 64-95 read 0x%x; driver features 0x%lx "
	      "read back 0x%x%08x; FEATURES_OK %s (status 0x%x)%s", off,
	      (off & VF_VERSION_1) ? "yes" : "NO", w[2], want, back[1], back[0],
	      (st & VS_FEATURES_OK) ? "accepted" : "REFUSED", st,
	      reset && reset2 ? "" : "; device_status not 0 after a reset");
}

/* caps, features, init: false if the device is unusable for the checks that follow. */
bool virtio_bring_up(struct vdev *d, const struct vdev_want *w)
{
	char why[200] = "", name[32];
	const char *tag = w->tag;
	uint8_t vec0 = w->vec0;
	if (!vdev_probe(d, w->id, w->nth, tag, vec0, why, sizeof(why))) {
		gsnprintf(name, sizeof(name), "virtio_%s_caps", tag);
		if (w->must || d->f)
			check(name, false, "%s", why);
		return false;
	}
	d->qsize_want = w->qsize;
	d->rings = w->rings;
	d->nrings = w->nrings;
	unsigned nvq = w->nvq ? w->nvq : cc_r16(d, VC_NUMQ);
	nvq = nvq < VDEV_QUEUES ? nvq : VDEV_QUEUES;
	gsnprintf(name, sizeof(name), "virtio_%s_caps", tag);
	report_caps(d, name);
	gsnprintf(name, sizeof(name), "virtio_%s_features", tag);
	check_features(d, name);
	gsnprintf(name, sizeof(name), "virtio_%s_init", tag);
	bool ok = msix_setup(d, 1 + nvq, why, sizeof(why)) &&
	          vdev_init(d, nvq, VF_INDIRECT_DESC | w->features, why, sizeof(why));
	check(name, ok, "reset, ACK, DRIVER, features 0x%lx of 0x%lx, FEATURES_OK, MSI-X on (vectors "
	      "0x%x-0x%x to APIC %u), %u queue%s of %u (num_queues %u), DRIVER_OK: status 0x%x%s%s",
	      d->features, d->offered, vec0, vec0 + d->msix_used - 1, lapic_id(), nvq,
	      nvq == 1 ? "" : "s",
	      d->vq[0].size, d->num_queues, ok ? cc_r8(d, VC_STATUS) : 0, ok ? "" : "; ", why);
	return ok;
}

/* --- virtio-rng --- */

static void check_entropy(struct vdev *d)
{
	char why[200] = "";
	unsigned vec = vdev_vec(d, vq_entry(d, 0)), before = irq_count(vec);
	uint32_t got[3] = { 0 };
	bool ok = true;
	for (unsigned i = 0; i < 3 && ok; i++)
		ok = rng_fetch(d, rng_buf[i], RNG_CHUNK, &got[i], why, sizeof(why));
	if (ok && !(rng_looks_random(rng_buf[0], got[0]) && rng_looks_random(rng_buf[1], got[1]) &&
	            rng_looks_random(rng_buf[2], got[2]))) {
		ok = false;
		gsnprintf(why, sizeof(why), "a read is zero, constant or shorter than 8 bytes");
	}
	if (ok && (memcmp(rng_buf[0], rng_buf[1], 8) == 0 || memcmp(rng_buf[1], rng_buf[2], 8) == 0 ||
	           memcmp(rng_buf[0], rng_buf[2], 8) == 0)) {
		ok = false;
		gsnprintf(why, sizeof(why), "two reads returned the same bytes");
	}
	unsigned irqs = irq_count(vec) - before;
	check("virtio_rng_entropy", ok && irqs >= 3, "3 requests of %u bytes: got %u/%u/%u, first "
	      "bytes %02x%02x%02x%02x/%02x%02x%02x%02x/%02x%02x%02x%02x, %u interrupts at vector "
	      "0x%x%s%s", RNG_CHUNK, got[0], got[1], got[2], rng_buf[0][0], rng_buf[0][1],
	      rng_buf[0][2], rng_buf[0][3], rng_buf[1][0], rng_buf[1][1], rng_buf[1][2],
	      rng_buf[1][3], rng_buf[2][0], rng_buf[2][1], rng_buf[2][2], rng_buf[2][3], irqs, vec,
	      why[0] ? "; " : "", why);
}

struct pending_arg {
	struct vdev *d;
	unsigned entry;
};

static bool pba_set(void *arg)
{
	struct pending_arg *p = arg;
	return msix_pending(p->d, p->entry);
}

/*
 * PCI 3.0 6.8.2.9-10: a message for a masked vector is not sent; its PBA bit is set instead,
 * and unmasking sends it once and clears the bit. `fmask`: Function Mask instead of the
 * vector's own mask bit.
 */
static void check_mask(struct vdev *d, bool fmask)
{
	const char *name = fmask ? "virtio_msix_function_mask" : "virtio_msix_mask";
	unsigned entry = vq_entry(d, 0), vec = vdev_vec(d, entry);
	irq_drain();
	unsigned before = irq_count(vec);
	struct vq *q = &d->vq[0];
	struct vbuf b = { pa(rng_buf[3]), RNG_CHUNK, true };
	struct pending_arg p = { d, entry };
	if (fmask)
		msix_function_mask(d, true);
	else
		msix_mask(d, entry, true);
	uint16_t want = (uint16_t)(q->used_seen + 1);
	vq_post(q, &b, 1);
	vq_kick(d, q);
	bool used = vq_wait_used(q, want, VIRTIO_TIMEOUT_US);
	bool pend = poll_until(pba_set, &p, VIRTIO_TIMEOUT_US);
	unsigned while_masked = irq_count(vec) - before;
	uint32_t id, len;
	vq_pop_used(q, &id, &len);
	if (fmask)
		msix_function_mask(d, false);
	else
		msix_mask(d, entry, false);
	bool irq = irq_wait(vec, before, VIRTIO_TIMEOUT_US);
	bool cleared = !msix_pending(d, entry);
	check(name, used && pend && !while_masked && irq && cleared, "%s: request %s, PBA bit %s, "
	      "%u interrupts while masked; unmasked: interrupt %s, PBA bit %s",
	      fmask ? "Function Mask" : "the queue entry's Mask bit", used ? "served" : "NOT served",
	      pend ? "set" : "NOT set", while_masked, irq ? "delivered" : "NOT delivered",
	      cleared ? "clear" : "still set");
}

/* Queue 0 with `n` writable buffers outstanding (kicked), then a reset at once. */
struct outstanding {
	struct vq old;                          /* the ring as it was: watched afterwards */
	uint16_t used_before, used_at_reset;
	bool reset;                             /* device_status read 0 */
};

static void reset_outstanding(struct vdev *d, uint8_t *bufs, size_t stride, unsigned n,
                              uint32_t len, struct outstanding *o)
{
	o->old = d->vq[0];
	o->used_before = vq_used_idx(&o->old);
	for (unsigned i = 0; i < n; i++) {
		struct vbuf b = { pa(bufs + i * stride), len, true };
		vq_post(&o->old, &b, 1);
	}
	vq_kick(d, &o->old);
	o->reset = vdev_reset(d);
	o->used_at_reset = vq_used_idx(&o->old);
}

/*
 * 4.1.4.3.2 / 2.4: writing 0 resets the device; once status reads 0 it must not touch the
 * old rings any more. Eight requests are outstanding (kicked) when the reset is written.
 */
static void check_rng_reset(struct vdev *d)
{
	char why[200] = "";
	struct outstanding o;
	reset_outstanding(d, rng_buf[0], sizeof(rng_buf[0]), 8, RNG_CHUNK, &o);
	bool reset = o.reset;
	uint16_t used_before = o.used_before, used_at_reset = o.used_at_reset;
	uint32_t got = 0;
	bool ok = reset && vdev_init(d, 1, VF_INDIRECT_DESC, why, sizeof(why)) &&
	          rng_fetch(d, rng_buf[0], RNG_CHUNK, &got, why, sizeof(why)) &&
	          rng_looks_random(rng_buf[0], got);
	uint16_t used_later = vq_used_idx(&o.old);
	check("virtio_rng_reset", ok && used_later == used_at_reset, "8 requests kicked, reset at "
	      "once: status %s, %u of 8 served before; re-initialized in new rings: entropy %s "
	      "(%u bytes); old used idx %u -> %u%s%s%s", reset ? "read 0" : "NOT 0",
	      (uint16_t)(used_at_reset - used_before),
	      ok ? "ok" : "FAILED", got, used_at_reset, used_later,
	      used_later != used_at_reset ? " (device wrote an old ring after reset)" : "",
	      why[0] ? "; " : "", why);
}

void virtio_rng_checks(struct vdev *d)
{
	check_entropy(d);
	check_mask(d, false);
	check_mask(d, true);
	virtio_move_check(d);
	check_rng_reset(d);
}

/* --- virtio-console --- */

static bool con_write(struct vdev *d, const char *line, char *why, size_t n)
{
	uint32_t len = (uint32_t)strlen(line), used;
	memcpy(con_tx, line, len);
	struct vbuf b = { pa(con_tx), len, false };
	return vq_request(d, &d->vq[1], &b, 1, &used, why, n);
}

/* Receive buffers until a newline (the host may deliver the line in pieces). */
static void check_con_rx(struct vdev *d, const struct virtio_opts *o)
{
	if (!o->conin) {
		check("virtio_con_rx", true, "skipped (no conin= on the command line)");
		return;
	}
	char got[CON_RX_MAX + 1], why[200] = "";
	size_t have = 0;
	bool ok = true, nl = false;
	for (unsigned i = 0; i < 8 && ok && !nl && have < CON_RX_MAX; i++) {
		uint32_t len = 0;
		struct vbuf b = { pa(con_rx[0]), CON_RX_MAX, true };
		ok = vq_request(d, &d->vq[0], &b, 1, &len, why, sizeof(why));
		for (uint32_t k = 0; ok && k < len && k < CON_RX_MAX && have < CON_RX_MAX && !nl; k++) {
			nl = con_rx[0][k] == '\n';
			if (!nl)
				got[have++] = (char)con_rx[0][k];
		}
	}
	got[have] = 0;
	for (size_t k = 0; k < have; k++)
		if (got[k] < 0x20 || got[k] > 0x7E)
			got[k] = '?';
	bool match = nl && have == o->conin_len && memcmp(got, o->conin, have) == 0;
	check("virtio_con_rx", ok && match, "receiveq0: read \"%s\"%s, want the conin= word%s%s",
	      got, nl ? " + newline" : " (no newline)", why[0] ? "; " : "", why);
}

/* Receive buffers outstanding (the host has no more input), then a reset. */
static void check_con_reset(struct vdev *d)
{
	char why[200] = "";
	struct outstanding o;
	memset(con_rx, 0xA5, sizeof(con_rx));
	reset_outstanding(d, con_rx[0], sizeof(con_rx[0]), 4, CON_RX_MAX, &o);
	bool reset = o.reset;
	uint16_t used_before = o.used_before, used_at_reset = o.used_at_reset;
	bool ok = reset && vdev_init(d, 2, 0, why, sizeof(why)) &&
	          con_write(d, CON_LINE_RESET, why, sizeof(why));
	bool untouched = vq_used_idx(&o.old) == used_at_reset;
	for (unsigned i = 0; i < 4; i++)
		for (unsigned k = 0; k < CON_RX_MAX; k++)
			untouched = untouched && (used_at_reset != used_before || con_rx[i][k] == 0xA5);
	check("virtio_con_reset", ok && untouched, "4 receive buffers outstanding, reset: status %s; "
	      "re-initialized, wrote \"%s\" on transmitq0: %s; old ring and buffers %s%s%s",
	      reset ? "read 0" : "NOT 0", "vireo-guest: virtio-console after reset",
	      ok ? "ok" : "FAILED", untouched ? "untouched" : "WRITTEN after the reset",
	      why[0] ? "; " : "", why);
}

void virtio_con_checks(struct vdev *d, const struct virtio_opts *o)
{
	char why[200] = "";
	bool ok = con_write(d, CON_LINE_TX, why, sizeof(why));
	check("virtio_con_tx", ok, "wrote \"vireo-guest: virtio-console hello\" on transmitq0 "
	      "(the runner looks for it on the host side)%s%s", why[0] ? "; " : "", why);
	check_con_rx(d, o);
	check_con_reset(d);
}

void virtio_checks(const struct virtio_opts *o)
{
	static struct vdev rng, con;
	clock_start();
	const struct vdev_want rng_want = { .id = VIRTIO_ID_RNG, .tag = "rng", .vec0 = VEC_RNG,
	                                    .nvq = 1, .must = o->want_rng };
	const struct vdev_want con_want = { .id = VIRTIO_ID_CONSOLE, .tag = "con", .vec0 = VEC_CON,
	                                    .nvq = 2, .must = o->want_con };
	if (virtio_bring_up(&rng, &rng_want))
		virtio_rng_checks(&rng);
	if (virtio_bring_up(&con, &con_want))
		virtio_con_checks(&con, o);
	if (o->hostile && rng.f && rng.cc)
		virtio_hostile_checks(&rng);
	else if (o->hostile)
		check("hostile", false, "hostile=1 needs a virtio-rng device");
	for (unsigned v = VEC_RNG; v < VEC_CON + 3; v++)
		if (irq_count(v))
			gprintf("virtio: vector 0x%x: %u interrupts\n", v, irq_count(v));
	blk_checks();
	vsock_checks();
	net_checks();
}
