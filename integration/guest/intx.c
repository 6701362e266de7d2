/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio-rng on INTx instead of MSI-X (`intx=1`, README.md "INTx check").
 * With MSI-X disabled the device sets ISR bits and holds INTx# asserted while the ISR is
 * non-zero; reading the ISR clears it and deasserts the line (virtio 1.2 4.1.4.5). The
 * function's Interrupt Line register names the GSI (PCI 3.0 6.2.4), routed level-triggered,
 * active-low, as an ACPI _PRT entry with a static GSI implies (ACPI 6.x 6.2.13).
 *
 * A driver reads the ISR before the EOI. Request 1 sees its interrupt arrive in the local
 * APIC's IRR with interrupts off, takes it without an ISR read (handler: count, EOI), sees the
 * line assert again, reads the ISR and takes that; request 2 reads the ISR in the handler
 * (irq_pre_eoi), before its EOI. A third request is served with
 * COMMAND.Interrupt Disable set: nothing may arrive, and clearing the bit with the ISR still
 * set must assert the line (PCI 3.0 6.2.2: the bit masks INTx#, not the function's interrupt).
 * Runs after every other virtio check and leaves the function reset with INTx disabled again.
 */
#include "virtio.h"

#define VEC_INTX         0x5C                /* a free device vector (vcheck.c uses 0x50-0x5A) */
#define PCI_CFG_INT_LINE 0x3C
#define PCI_CFG_INT_PIN  0x3D
#define PCI_INTA         1
#define MC_ENABLE        (1u << 15)          /* MSI-X Message Control */
#define ISR_QUEUE        1u                  /* 4.1.4.5: bit 0 queue interrupt */

#define MSR_APIC_BASE    0x1B
#define LAPIC_IRR        0x200               /* SDM vol 3A 11.8.4: 8 x 32 bits, 16 apart */

#define IOAPIC_REGSEL    0x00                /* 82093AA: index/data window */
#define IOAPIC_WIN       0x10
#define IOAPIC_VER       0x01
#define RTE(pin)         (0x10 + 2 * (pin))
#define RTE_LOW          (1u << 13)
#define RTE_REMOTE_IRR   (1u << 14)
#define RTE_LEVEL        (1u << 15)
#define RTE_MASKED       (1u << 16)

#define QUIET_MIN_US     500000ULL           /* how long "no interrupt" is watched, at least */
#define QUIET_MAX_US     10000000ULL
#define SPIN_MAX         50000000ULL
#define ENTROPY          32

static uint8_t entropy[3][64] __attribute__((aligned(64)));

struct intx {
	struct vdev d;
	volatile uint32_t *irr;                  /* LAPIC IRR word of VEC_INTX */
	volatile uint32_t *io;                   /* IOAPIC holding the GSI */
	uint32_t pin;
	uint8_t line;
	unsigned taken[4];                       /* per take(): request 1 twice, requests 2, 3 */
	uint64_t quiet_us;                       /* the shorter silence watched (LAPIC time) */
	char why[200];
};

static bool fail(struct intx *x, const char *what)
{
	gsnprintf(x->why, sizeof(x->why), "%s", what);
	return false;
}

static uint32_t madt_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint32_t io_rd(volatile uint32_t *io, uint32_t reg)
{
	io[IOAPIC_REGSEL / 4] = reg;
	return io[IOAPIC_WIN / 4];
}

static void io_wr(volatile uint32_t *io, uint32_t reg, uint32_t v)
{
	io[IOAPIC_REGSEL / 4] = reg;
	io[IOAPIC_WIN / 4] = v;
}

/* The I/O APIC structure (MADT type 1, ACPI 6.x 5.2.12.3) whose pins cover `gsi`. */
static bool find_ioapic(struct intx *x, uint32_t gsi)
{
	uint32_t len = acpi_table_len(acpi.madt_pa);
	const uint8_t *t = len >= 44 ? phys_ptr(acpi.madt_pa, len) : NULL;
	for (uint32_t off = 44; t && off + 2 <= len; off += t[off + 1]) {
		if (t[off + 1] < 2 || off + t[off + 1] > len)
			return false;
		if (t[off] != 1 || t[off + 1] < 12)
			continue;
		uint32_t pa = madt_u32(t + off + 4), base = madt_u32(t + off + 8);
		if (gsi < base || !phys_map_uc(pa, GUEST_PAGE))
			continue;
		volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)pa;
		if (gsi - base <= ((io_rd(io, IOAPIC_VER) >> 16) & 0xFF)) {
			x->io = io;
			x->pin = gsi - base;
			return true;
		}
	}
	return false;
}

/* Fixed delivery to this CPU, level, active-low (masked while it is written). */
static void route(struct intx *x, bool masked)
{
	io_wr(x->io, RTE(x->pin), RTE_MASKED);
	io_wr(x->io, RTE(x->pin) + 1, lapic_id() << 24);
	io_wr(x->io, RTE(x->pin), VEC_INTX | RTE_LEVEL | RTE_LOW | (masked ? RTE_MASKED : 0));
}

static bool irr_set(const struct intx *x)
{
	return (*x->irr >> (VEC_INTX % 32)) & 1;
}

/* Interrupts stay off: the vector is seen pending in the IRR, not taken; *took: LAPIC us. */
static bool wait_pending(const struct intx *x, uint64_t timeout_us, uint64_t *took)
{
	uint64_t t0 = clock_us();
	bool ok = irr_set(x);
	for (uint64_t i = 0; !ok && i < SPIN_MAX && clock_us() - t0 <= timeout_us; i++) {
		cpu_pause();
		ok = irr_set(x);
	}
	*took = clock_us() - t0;
	return ok;
}

/*
 * Lets the pending interrupt in (handler: count, EOI) and turns interrupts off again once it
 * was counted; false if none was taken. Interrupts stay on until then: this host's emulator
 * may deliver a pending interrupt only at its next exit, not right after an STI.
 */
static bool take(struct intx *x, unsigned step)
{
	unsigned before = irq_count(VEC_INTX);
	bool got;

	/* One interrupt, then IF off: a line left asserted after the EOI (request 1) must be
	 * seen pending again, not taken in a storm (KVM delays an IOAPIC line that re-fires
	 * 10000 times in a row, and QEMU and vireo alike then lose request 2's interrupt). */
	irq_oneshot(VEC_INTX);
	got = irq_wait(VEC_INTX, before, VIRTIO_TIMEOUT_US);
	x->taken[step] = irq_count(VEC_INTX) - before;
	return got;
}

/* No interrupt for `us` with interrupts on, and nothing pending afterwards. */
static bool stays_quiet(struct intx *x, uint64_t us)
{
	unsigned before = irq_count(VEC_INTX);
	uint64_t t0 = clock_us();
	bool irq = irq_wait(VEC_INTX, before, us);
	uint64_t waited = clock_us() - t0;
	x->quiet_us = !x->quiet_us || waited < x->quiet_us ? waited : x->quiet_us;
	return !irq && !irr_set(x);
}

/* A request posted and kicked, served, and its interrupt pending in the IRR. */
static bool raise_request(struct intx *x, uint8_t *buf, uint32_t *got)
{
	struct vq *q = &x->d.vq[0];
	struct vbuf b = { (uint64_t)(uintptr_t)buf, ENTROPY, true };
	uint16_t want = (uint16_t)(q->used_seen + 1);
	uint32_t id;
	uint64_t us;
	memset(buf, 0, ENTROPY);
	vq_post(q, &b, 1);
	vq_kick(&x->d, q);
	if (!wait_pending(x, VIRTIO_TIMEOUT_US, &us))
		return fail(x, "no interrupt within 10 s");
	if (!vq_wait_used(q, want, VIRTIO_TIMEOUT_US) || !vq_pop_used(q, &id, got) || *got == 0 ||
	    *got > ENTROPY || !rng_looks_random(buf, *got))
		return fail(x, "interrupt without usable entropy in the used ring");
	return true;
}

/* The ISR read: bit 0 set; a second read finds it cleared. */
static bool isr_ack(struct intx *x, uint8_t *first)
{
	*first = *x->d.isrp;
	uint8_t again = *x->d.isrp;
	if (!(*first & ISR_QUEUE) || again != 0) {
		gsnprintf(x->why, sizeof(x->why), "ISR read 0x%x then 0x%x (want bit 0, then 0)",
		          *first, again);
		return false;
	}
	return true;
}

/* Request 1: EOI without an ISR read re-asserts; then ISR read, EOI, and silence (c, d). */
static bool eoi_without_isr(struct intx *x, uint32_t *got, uint64_t *reassert_us, uint8_t *isr)
{
	if (!raise_request(x, entropy[0], got))
		return false;
	if (!take(x, 0))
		return fail(x, "request 1: pending in the IRR but never taken");
	if (!wait_pending(x, VIRTIO_TIMEOUT_US, reassert_us))
		return fail(x, "request 1: EOI with the ISR still set, no interrupt again within 10 s");
	if (!isr_ack(x, isr) || !take(x, 1))
		return x->why[0] ? false : fail(x, "request 1: re-asserted interrupt never taken");
	return true;
}

/* In request 2's handler, before its EOI: the ISR read, as a driver's handler does it. */
static struct intx *isr_in_handler;
static uint8_t isr_in_handler_value[2];

static void read_isr_before_eoi(void)
{
	isr_in_handler_value[0] = *isr_in_handler->d.isrp;
	isr_in_handler_value[1] = *isr_in_handler->d.isrp;
}

/*
 * Request 2: raised again (b), the ISR read in the handler before the EOI, then silence (c).
 * (Reading it with the interrupt still pending in the IRR, as request 1 does, loses this second
 * interrupt on nested SVM hosts under QEMU and vireo alike.)
 */
static bool isr_then_eoi(struct intx *x, uint32_t *got, uint8_t *isr)
{
	if (!raise_request(x, entropy[1], got))
		return false;
	isr_in_handler = x;
	isr_in_handler_value[0] = isr_in_handler_value[1] = 0xff;
	irq_pre_eoi(VEC_INTX, read_isr_before_eoi);
	if (!take(x, 2))
		return fail(x, "request 2: pending in the IRR but never taken");
	*isr = isr_in_handler_value[0];
	if (!(*isr & ISR_QUEUE) || isr_in_handler_value[1] != 0) {
		gsnprintf(x->why, sizeof(x->why), "request 2: ISR read 0x%x then 0x%x in the handler "
			  "(want bit 0, then 0)", isr_in_handler_value[0], isr_in_handler_value[1]);
		return false;
	}
	return true;
}

static void set_intx_off(struct intx *x, bool off)
{
	const struct pci_fn *f = x->d.f;
	uint16_t cmd = ecam_rd16(f->dev, f->fn, PCI_CFG_COMMAND);
	cmd = off ? (uint16_t)(cmd | PCI_CMD_INTX_OFF) : (uint16_t)(cmd & ~PCI_CMD_INTX_OFF);
	ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, cmd);
}

/* Request 3: served with Interrupt Disable set, no interrupt; cleared, the held one arrives. */
static bool intx_disable_holds(struct intx *x, uint64_t quiet, uint32_t *got, uint8_t *isr)
{
	struct vq *q = &x->d.vq[0];
	struct vbuf b = { (uint64_t)(uintptr_t)entropy[2], ENTROPY, true };
	uint16_t want = (uint16_t)(q->used_seen + 1);
	uint32_t id;
	uint64_t us;
	set_intx_off(x, true);
	vq_post(q, &b, 1);
	vq_kick(&x->d, q);
	if (!vq_wait_used(q, want, VIRTIO_TIMEOUT_US) || !vq_pop_used(q, &id, got) || *got == 0)
		return fail(x, "request 3 (Interrupt Disable set): never served");
	if (!stays_quiet(x, quiet))
		return fail(x, "request 3: interrupt delivered with Interrupt Disable set");
	set_intx_off(x, false);
	if (!wait_pending(x, VIRTIO_TIMEOUT_US, &us))
		return fail(x, "request 3: Interrupt Disable cleared with the ISR set, no interrupt");
	if (!isr_ack(x, isr) || !take(x, 3))
		return x->why[0] ? false : fail(x, "request 3: pending in the IRR but never taken");
	return true;
}

/*
 * The function as Linux leaves it without MSI-X: INTx enabled (COMMAND bit 10 clear), MSI-X
 * Enable clear, DRIVER_OK with one queue. The vector fields are ignored without MSI-X.
 */
static bool bring_up_intx(struct intx *x)
{
	struct vdev *d = &x->d;
	if (!vdev_probe(d, VIRTIO_ID_RNG, 0, "rng", VEC_INTX, x->why, sizeof(x->why)))
		return false;
	const struct pci_fn *f = d->f;
	uint16_t cmd = ecam_rd16(f->dev, f->fn, PCI_CFG_COMMAND);
	ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, (uint16_t)(cmd & ~PCI_CMD_INTX_OFF));
	ecam_wr16(f->dev, f->fn, d->msix + 2, 0);
	x->line = ecam_rd8(f->dev, f->fn, PCI_CFG_INT_LINE);
	uint8_t pin = ecam_rd8(f->dev, f->fn, PCI_CFG_INT_PIN);
	uint16_t mc = ecam_rd16(f->dev, f->fn, d->msix + 2);
	if (pin != PCI_INTA || (mc & MC_ENABLE)) {
		gsnprintf(x->why, sizeof(x->why), "00:%02x.%u: Interrupt Pin %u (want 1, INTA#), "
		          "MSI-X Message Control 0x%x", f->dev, f->fn, pin, mc);
		return false;
	}
	if (!find_ioapic(x, x->line)) {
		gsnprintf(x->why, sizeof(x->why), "Interrupt Line %u: no MADT I/O APIC has that GSI",
		          x->line);
		return false;
	}
	d->msix_used = 1;                        /* queue 0 -> entry 0: unused without MSI-X */
	return vdev_init(d, 1, 0, x->why, sizeof(x->why));
}

static void restore(struct intx *x)
{
	if (x->io)
		route(x, true);
	if (x->d.cc)
		vdev_reset(&x->d);
	if (x->d.f) {
		const struct pci_fn *f = x->d.f;
		uint16_t cmd = ecam_rd16(f->dev, f->fn, PCI_CFG_COMMAND);
		ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, (uint16_t)(cmd | PCI_CMD_INTX_OFF));
	}
}

static bool run(struct intx *x, uint32_t got[3], uint8_t isr[3], uint64_t *reassert,
                uint64_t *quiet, unsigned *stale)
{
	if (!bring_up_intx(x))
		return false;
	uint64_t base = rdmsr(MSR_APIC_BASE) & 0xFFFFFF000ULL;
	if (!phys_map_uc(base, GUEST_PAGE))
		return fail(x, "local APIC page not mappable");
	x->irr = (volatile uint32_t *)(uintptr_t)(base + LAPIC_IRR + 0x10 * (VEC_INTX / 32));
	(void)*x->d.isrp;                        /* whatever an earlier driver left */
	route(x, false);                         /* a line still up would reach the IRR now */
	*stale = irq_count(VEC_INTX) + irr_set(x);
	if (*stale)
		return fail(x, "interrupt pending before any request");
	if (!eoi_without_isr(x, &got[0], reassert, &isr[0]))
		return false;
	*quiet = 20 * *reassert < QUIET_MIN_US ? QUIET_MIN_US :
	         20 * *reassert > QUIET_MAX_US ? QUIET_MAX_US : 20 * *reassert;
	if (!stays_quiet(x, *quiet))
		return fail(x, "request 1: interrupt after the ISR read and EOI (line stuck)");
	if (!isr_then_eoi(x, &got[1], &isr[1]))
		return false;
	if (!stays_quiet(x, *quiet))
		return fail(x, "request 2: interrupt after the ISR read and EOI (line stuck)");
	if (memcmp(entropy[0], entropy[1], 8) == 0)
		return fail(x, "both requests returned the same bytes");
	if (!intx_disable_holds(x, *quiet, &got[2], &isr[2]))
		return false;
	if (!stays_quiet(x, *quiet))
		return fail(x, "request 3: interrupt after the ISR read and EOI (line stuck)");
	return true;
}

void virtio_intx_check(void)
{
	static struct intx x;
	uint32_t got[3] = { 0 };
	uint8_t isr[3] = { 0 };
	uint64_t reassert = 0, quiet = 0;
	unsigned stale = 0;
	clock_start();
	memset(&x, 0, sizeof(x));
	bool ok = run(&x, got, isr, &reassert, &quiet, &stale);
	uint32_t rte = x.io ? io_rd(x.io, RTE(x.pin)) : 0;
	ok = ok && x.taken[1] == 1 && x.taken[2] == 1 && x.taken[3] == 1 && stale == 0 &&
	     !(rte & RTE_REMOTE_IRR);
	check("virtio_intx", ok, "GSI %u (Interrupt Line), INTA#, IOAPIC pin %u level low -> 0x%x, "
	      "%u stale; req 1 (%u B): EOI, no ISR read -> again after %lu us, ISR 0x%x; req 2 "
	      "(%u B): ISR 0x%x, EOI; req 3 (%u B) under Interrupt Disable: none, cleared -> ISR "
	      "0x%x; quiet %lu us (of %lu) after each; taken %u/%u/%u/%u (want 1+/1/1/1), RTE "
	      "0x%x%s%s",
	      x.line, x.pin, VEC_INTX, stale, got[0], reassert, isr[0], got[1], isr[1], got[2],
	      isr[2], x.quiet_us, quiet, x.taken[0], x.taken[1], x.taken[2], x.taken[3], rte,
	      x.why[0] ? "; " : "", x.why);
	restore(&x);
}
