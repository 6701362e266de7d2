/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: snapcheck=1. After the usual checks the guest keeps state in memory and
 * in device activity and checks it in rounds, forever, so that a snapshot and restore in
 * between (docs/snapshot.md, integration/snapshot/) shows up as a FAIL if anything is lost:
 *   - RAM: pages spread over RAM rewritten every round (some to all-zero) with a running
 *     checksum; every page is checked against its generation, the sum against the running one;
 *   - the LAPIC timer, periodic at vector 0x41: still programmed, ticks advance, TSC monotonic;
 *   - virtio-rng with its BAR moved elsewhere in the host bridge's window (and kept there):
 *     the BAR reads back, MSI-X entries intact, entropy with an interrupt every round;
 *   - virtio-console: transmitq's MSI-X vector masked with its PBA bit set, kept pending; a
 *     receive buffer outstanding for commands from the host: "unmask" (the pending message
 *     must arrive once and the PBA bit clear; then masked and pending again), "finish";
 *   - virtio-blk, if present: one sector written and one read back per round, each checked
 *     against the generation last written.
 * A line "snapcheck: round N ok ..." per round; any broken invariant prints a FAIL check and
 * ends the run (guest_finish). Waits are counted in timer ticks (1 ms at KVM's 1 GHz bus);
 * the LAPIC timer is periodic here, so smp.c's clock and the waits built on it are not used.
 */
#include "virtio.h"

#define MSR_APIC_BASE     0x1B
#define LAPIC_LVT_TIMER   0x320
#define LAPIC_TIMER_ICR   0x380
#define LAPIC_TIMER_CCR   0x390
#define LAPIC_TIMER_DCR   0x3E0
#define LVT_PERIODIC      (1u << 17)           /* SDM vol 3A 11.5.1, timer mode 01b */
#define DCR_DIV16         0x3u
#define VEC_TICK          0x41
#define TICK_COUNT        62500u               /* divide 16: 1 ms at a 1 GHz APIC bus */

#define VEC_RNG           0x50                 /* entries: config, requestq */
#define VEC_CON           0x58                 /* config, receiveq0, transmitq0 */
#define VEC_BLK           0x60                 /* config, requestq */
#define CON_TX_ENTRY      2

#define SC_PAGES          256                  /* RAM pages kept, spread over RAM */
#define SC_MUTATE         8                    /* rewritten per round */
#define SC_MIB            0x100000ULL
#define SC_RAM_FROM       (16 * SC_MIB)        /* above the image and its tables */
#define SC_WORDS          16                   /* words kept per page, 256 bytes apart */
#define SC_STRIDE         (GUEST_PAGE / 8 / SC_WORDS)
#define ROUND_TICKS       20
#define WAIT_TICKS        10000                /* 10 s for any device reaction */
#define RNG_LEN           32
#define BLK_SECTORS       64
#define SECTOR            512
#define CMD_MAX           32

struct blk_req_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static uint8_t rings[3][2][VQ_MEM] __attribute__((aligned(4096)));
static uint8_t rng_buf[2][RNG_LEN] __attribute__((aligned(64)));
static uint8_t con_rx[64], con_tx[64] __attribute__((aligned(64)));
static uint8_t blk_data[SECTOR] __attribute__((aligned(512)));
static struct blk_req_hdr blk_hdr __attribute__((aligned(16)));
static volatile uint8_t blk_status;

static struct {
	volatile uint32_t *lapic;
	struct vdev rng, con, blk;
	bool have_blk, blk_ro;
	uint64_t bar_at;                          /* where the rng's BAR was moved */
	uint32_t rng_tbl[2][4];                   /* its MSI-X entries as programmed */
	uint64_t page[SC_PAGES];                  /* guest-physical addresses */
	uint32_t gen[SC_PAGES];                   /* generation last written to each page */
	uint64_t sum;                             /* running checksum over all pages */
	unsigned round, pend_round, tx_irqs, unmasks;
	uint64_t tsc, rng_bytes;
	char cmd[CMD_MAX];
	unsigned cmd_len;
	uint32_t blk_gen[BLK_SECTORS];            /* 0: never written by us */
	unsigned blk_n, blk_writes, blk_reads;
} sc;

static uint64_t pa(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static __attribute__((noreturn)) void fail(const char *what, const char *fmt, ...)
{
	char name[40], detail[300];
	va_list ap;
	va_start(ap, fmt);
	gvsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	gsnprintf(name, sizeof(name), "snapcheck_%s", what);
	check(name, false, "round %u: %s", sc.round, detail);
	guest_finish();
}

/* --- the LAPIC timer as the clock --- */

static uint32_t lapic_rd(unsigned reg) { return sc.lapic[reg / 4]; }
static void lapic_wr(unsigned reg, uint32_t v) { sc.lapic[reg / 4] = v; }
static unsigned ticks(void) { return irq_count(VEC_TICK); }

static bool timer_start(void)
{
	sc.lapic = phys_ptr(rdmsr(MSR_APIC_BASE) & 0xFFFFFF000ULL, GUEST_PAGE);
	if (!sc.lapic)
		return false;
	lapic_wr(LAPIC_TIMER_ICR, 0);
	lapic_wr(LAPIC_TIMER_DCR, DCR_DIV16);
	lapic_wr(LAPIC_LVT_TIMER, LVT_PERIODIC | VEC_TICK);
	lapic_wr(LAPIC_TIMER_ICR, TICK_COUNT);
	return true;
}

/* Still periodic, unmasked, at our vector and count: else a halt would never end. */
static void timer_check(void)
{
	uint32_t lvt = lapic_rd(LAPIC_LVT_TIMER), icr = lapic_rd(LAPIC_TIMER_ICR);
	uint32_t dcr = lapic_rd(LAPIC_TIMER_DCR) & 0xB, ccr = lapic_rd(LAPIC_TIMER_CCR);
	if (lvt != (LVT_PERIODIC | VEC_TICK) || icr != TICK_COUNT || dcr != DCR_DIV16 || ccr > icr)
		fail("timer", "LAPIC timer LVT 0x%x (want 0x%x), initial count %u (want %u), divide "
		     "0x%x, current count %u", lvt, LVT_PERIODIC | VEC_TICK, icr, TICK_COUNT, dcr, ccr);
}

/* Halt (interrupts on) until cond holds, at most `max` ticks; the timer wakes us up. */
static bool wait_ticks(bool (*cond)(void *), void *arg, unsigned max)
{
	unsigned t0 = ticks();
	timer_check();
	while (!cond(arg)) {
		if (ticks() - t0 > max)
			return false;
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	return true;
}

struct tick_arg { unsigned until; };
static bool tick_reached(void *arg)
{
	return (int)(ticks() - ((struct tick_arg *)arg)->until) >= 0;
}

struct used_arg { const struct vq *q; uint16_t want; };
static bool used_reached(void *arg)
{
	const struct used_arg *u = arg;
	return (int16_t)(vq_used_idx(u->q) - u->want) >= 0;
}

struct irq_arg { unsigned vec, before; };
static bool irq_seen(void *arg)
{
	const struct irq_arg *w = arg;
	return irq_count(w->vec) != w->before;
}

struct pba_arg { struct vdev *d; unsigned entry; };
static bool pba_set(void *arg)
{
	const struct pba_arg *p = arg;
	return msix_pending(p->d, p->entry);
}

/* A request on queue qi: post, kick, wait for the used element and (if `irq`) the interrupt. */
static void request(struct vdev *d, unsigned qi, const struct vbuf *b, unsigned n, bool irq,
                    uint32_t *len, const char *what)
{
	struct vq *q = &d->vq[qi];
	struct irq_arg ia = { vdev_vec(d, vq_entry(d, qi)), irq_count(vdev_vec(d, vq_entry(d, qi))) };
	struct used_arg ua = { q, (uint16_t)(q->used_seen + 1) };
	uint16_t head = vq_post(q, b, n);
	uint32_t id = 0xFFFFFFFFu;
	vq_kick(d, q);
	if (!wait_ticks(used_reached, &ua, WAIT_TICKS) || !vq_pop_used(q, &id, len) || id != head)
		fail(what, "q%u: used idx %u (want %u), id %u (head %u), status 0x%x, no used element "
		     "within %u ticks", qi, vq_used_idx(q), ua.want, id, head, cc_r8(d, VC_STATUS),
		     WAIT_TICKS);
	if (irq && !wait_ticks(irq_seen, &ia, WAIT_TICKS))
		fail(what, "q%u: request used but no interrupt at vector 0x%x within %u ticks", qi,
		     ia.vec, WAIT_TICKS);
}

/* --- RAM --- */

static uint64_t word_at(unsigned page, uint32_t gen, unsigned k)
{
	if (gen % 4 == 3)                         /* every fourth generation: an all-zero page */
		return 0;
	uint64_t x = (uint64_t)page << 40 ^ (uint64_t)gen << 12 ^ k;
	x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ULL;
	return x ^ (x >> 29) ^ 0xC3A5C85C97CB3127ULL;
}

static uint64_t page_sum(unsigned page, uint32_t gen)
{
	uint64_t s = 0;
	for (unsigned k = 0; k < SC_WORDS; k++)
		s += word_at(page, gen, k) * (2 * k + 1);
	return s;
}

static void page_write(unsigned i, uint32_t gen)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)sc.page[i];
	sc.sum -= page_sum(i, sc.gen[i]);
	for (unsigned k = 0; k < SC_WORDS; k++)
		p[k * SC_STRIDE] = word_at(i, gen, k);
	sc.gen[i] = gen;
	sc.sum += page_sum(i, gen);
}

/* SC_PAGES pages evenly over the RAM entry holding SC_RAM_FROM (below 3 GiB, 4 MiB spare). */
static bool ram_setup(char *why, size_t n)
{
	uint64_t top = memmap_ram_end() < MMIO_HOLE_START ? memmap_ram_end() : MMIO_HOLE_START;
	if (top < SC_RAM_FROM + 8 * SC_MIB || !memmap_covers(SC_RAM_FROM, top - 4 * SC_MIB -
	                                                          SC_RAM_FROM, 1)) {
		gsnprintf(why, n, "no RAM from 16 MiB to 0x%lx", top);
		return false;
	}
	uint64_t step = ((top - 4 * SC_MIB - SC_RAM_FROM) / SC_PAGES) & ~(GUEST_PAGE - 1);
	for (unsigned i = 0; i < SC_PAGES; i++) {
		sc.page[i] = SC_RAM_FROM + step * i + (i % 7) * GUEST_PAGE % step;
		if (!phys_map(sc.page[i], GUEST_PAGE)) {
			gsnprintf(why, n, "cannot map 0x%lx", sc.page[i]);
			return false;
		}
		sc.gen[i] = 3;                    /* "zero": the sum of a zero page is 0 */
		page_write(i, 1);
	}
	return true;
}

static void ram_round(void)
{
	for (unsigned j = 0; j < SC_MUTATE; j++)
		page_write((sc.round * 7 + j * 37) % SC_PAGES, sc.round + 1);
	uint64_t sum = 0;
	for (unsigned i = 0; i < SC_PAGES; i++) {
		const volatile uint64_t *p = (const volatile uint64_t *)(uintptr_t)sc.page[i];
		for (unsigned k = 0; k < SC_WORDS; k++) {
			uint64_t w = p[k * SC_STRIDE];
			if (w != word_at(i, sc.gen[i], k))
				fail("ram", "page %u at 0x%lx word %u: 0x%lx, generation %u wants 0x%lx", i,
				     sc.page[i], k, w, sc.gen[i], word_at(i, sc.gen[i], k));
			sum += w * (2 * k + 1);
		}
	}
	if (sum != sc.sum)
		fail("ram", "checksum 0x%lx, running checksum 0x%lx", sum, sc.sum);
}

/* --- virtio-rng, its BAR moved --- */

/* A free slot for the rng's BAR away from where it is; a 64-bit BAR prefers a high window. */
static uint64_t bar_target(const struct pci_bar *b)
{
	uint64_t lo[16], len[16];
	unsigned n = acpi_pci_windows(lo, len, 16);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < n; i++) {
			uint64_t start = lo[i] + 16 * b->size, end = lo[i] + len[i] - 1;
			bool high = lo[i] >= FOUR_GIB;
			if (lo[i] < SC_MIB || (high && b->kind != BAR_MEM64) ||
			    (pass == 0 && b->kind == BAR_MEM64 && !high) || start > end)
				continue;
			uint64_t a = pci_find_free(start, end, b->size, b);
			if (a)
				return a;
		}
	return 0;
}

static struct pci_bar *rng_bar(void)
{
	return pci_bar_at(sc.rng.f, sc.rng.common.bar);
}

/* Probe, own rings (`slot`), MSI-X (config + one per queue), 3.1.1 initialization. */
static bool dev_up(struct vdev *d, uint16_t id, const char *name, uint8_t vec0, unsigned slot,
                   unsigned nvq, char *why, size_t n)
{
	if (!vdev_probe(d, id, 0, name, vec0, why, n))
		return false;
	d->rings = rings[slot];
	d->nrings = 2;
	return msix_setup(d, 1 + nvq, why, n) && vdev_init(d, nvq, 0, why, n);
}

static bool rng_setup(char *why, size_t n, uint64_t *from)
{
	struct vdev *d = &sc.rng;
	if (!dev_up(d, VIRTIO_ID_RNG, "rng", VEC_RNG, 0, 1, why, n))
		return false;
	struct pci_bar *b = rng_bar();
	uint64_t to = b ? bar_target(b) : 0;
	if (!to) {
		gsnprintf(why, n, "rng: no free slot for its BAR in the host bridge's windows");
		return false;
	}
	*from = b->addr;
	pci_bar_program(d->f, b, to, ecam_rd16(d->f->dev, d->f->fn, PCI_CFG_COMMAND));
	if (!vdev_map(d, why, n))
		return false;
	if (b->addr != to) {
		gsnprintf(why, n, "rng: BAR reads 0x%lx after programming 0x%lx", b->addr, to);
		return false;
	}
	sc.bar_at = to;
	for (unsigned e = 0; e < 2; e++)
		for (unsigned k = 0; k < 4; k++)
			sc.rng_tbl[e][k] = msix_entry_rd(d, e, k);
	return true;
}

static void device_ready(struct vdev *d)
{
	uint8_t st = cc_r8(d, VC_STATUS);
	if (st != VS_READY)
		fail("device", "%s: device_status 0x%x (want 0x%x)", d->name, st, VS_READY);
}

static void rng_round(void)
{
	struct vdev *d = &sc.rng;
	uint8_t *buf = rng_buf[sc.round & 1], *prev = rng_buf[!(sc.round & 1)];
	struct vbuf b = { pa(buf), RNG_LEN, true };
	uint32_t len = 0;
	uint64_t bar = pci_bar_get(d->f, rng_bar());
	if (bar != sc.bar_at)
		fail("bar", "rng BAR reads 0x%lx, moved to 0x%lx", bar, sc.bar_at);
	for (unsigned e = 0; e < 2; e++)
		for (unsigned k = 0; k < 4; k++)
			if (msix_entry_rd(d, e, k) != sc.rng_tbl[e][k])
				fail("msix", "rng MSI-X entry %u dword %u reads 0x%x, programmed 0x%x", e, k,
				     msix_entry_rd(d, e, k), sc.rng_tbl[e][k]);
	device_ready(d);
	memset(buf, 0, RNG_LEN);
	request(d, 0, &b, 1, true, &len, "rng");
	if (len == 0 || len > RNG_LEN || !rng_looks_random(buf, len) ||
	    (sc.round && memcmp(buf, prev, 8) == 0))
		fail("rng", "%u bytes of entropy, first %02x%02x%02x%02x, previous %02x%02x%02x%02x", len,
		     buf[0], buf[1], buf[2], buf[3], prev[0], prev[1], prev[2], prev[3]);
	sc.rng_bytes += len;
}

/* --- virtio-console: a masked vector kept pending, commands from the host --- */

static unsigned tx_vec(void) { return vdev_vec(&sc.con, CON_TX_ENTRY); }

static void con_post_rx(void)
{
	struct vbuf b = { pa(con_rx), sizeof(con_rx), true };
	vq_post(&sc.con.vq[0], &b, 1);
	vq_kick(&sc.con, &sc.con.vq[0]);
}

/* Mask transmitq's vector, send a line: used, PBA bit set, no interrupt (PCI 3.0 6.8.2.9). */
static void con_pend(void)
{
	struct pba_arg p = { &sc.con, CON_TX_ENTRY };
	uint32_t len = (uint32_t)gsnprintf((char *)con_tx, sizeof(con_tx),
	                                   "snapcheck: tx pending from round %u\n", sc.round);
	struct vbuf b = { pa(con_tx), len, false };
	irq_drain();
	sc.tx_irqs = irq_count(tx_vec());
	msix_mask(&sc.con, CON_TX_ENTRY, true);
	request(&sc.con, 1, &b, 1, false, &len, "msix_pending");
	if (!wait_ticks(pba_set, &p, WAIT_TICKS))
		fail("msix_pending", "transmitq used with its vector masked, PBA bit not set");
	if (irq_count(tx_vec()) != sc.tx_irqs)
		fail("msix_pending", "interrupt at vector 0x%x while masked", tx_vec());
	sc.pend_round = sc.round;
}

static void con_check_pending(void)
{
	uint32_t ctrl = msix_entry_rd(&sc.con, CON_TX_ENTRY, 3);
	if (!(ctrl & 1) || !msix_pending(&sc.con, CON_TX_ENTRY) || irq_count(tx_vec()) != sc.tx_irqs)
		fail("msix_pending", "since round %u: vector control 0x%x, PBA bit %u, %u interrupts "
		     "at vector 0x%x while masked", sc.pend_round, ctrl,
		     msix_pending(&sc.con, CON_TX_ENTRY), irq_count(tx_vec()) - sc.tx_irqs, tx_vec());
	device_ready(&sc.con);
}

/* PCI 3.0 6.8.2.10: unmasking sends the pending message once and clears the PBA bit. */
static void con_unmask(void)
{
	struct irq_arg ia = { tx_vec(), sc.tx_irqs };
	struct tick_arg ta = { ticks() + 5 };
	msix_mask(&sc.con, CON_TX_ENTRY, false);
	bool got = wait_ticks(irq_seen, &ia, WAIT_TICKS);
	wait_ticks(tick_reached, &ta, WAIT_TICKS);          /* room for a wrong second one */
	unsigned n = irq_count(tx_vec()) - sc.tx_irqs;
	bool clear = !msix_pending(&sc.con, CON_TX_ENTRY);
	if (!got || n != 1 || !clear)
		fail("msix_pending", "unmasked the vector pending since round %u: %u interrupts "
		     "(want 1), PBA bit %s", sc.pend_round, n, clear ? "clear" : "still set");
	sc.unmasks++;
	check("snapcheck_msix_pending", true, "vector 0x%x masked and pending since round %u, "
	      "unmasked at round %u: delivered once, PBA bit clear", tx_vec(), sc.pend_round,
	      sc.round);
	con_pend();
}

static void run_command(void)
{
	sc.cmd[sc.cmd_len] = 0;
	if (sc.cmd_len == 6 && memcmp(sc.cmd, "unmask", 6) == 0) {
		con_unmask();
	} else if (sc.cmd_len == 6 && memcmp(sc.cmd, "finish", 6) == 0) {
		gprintf("snapcheck: finish after %u rounds, %u unmasks\n", sc.round, sc.unmasks);
		guest_finish();
	} else {
		gprintf("snapcheck: unknown command \"%s\"\n", sc.cmd);
	}
	sc.cmd_len = 0;
}

/* Input arrives in pieces; a newline ends a command. */
static void con_poll_rx(void)
{
	uint32_t id, len;
	while (vq_pop_used(&sc.con.vq[0], &id, &len)) {
		for (uint32_t k = 0; k < len && k < sizeof(con_rx); k++) {
			char c = (char)con_rx[k];
			if (c == '\n')
				run_command();
			else if (sc.cmd_len + 1 < CMD_MAX && c >= 0x20 && c < 0x7F)
				sc.cmd[sc.cmd_len++] = c;
		}
		con_post_rx();
	}
}

static bool con_setup(char *why, size_t n)
{
	struct vdev *d = &sc.con;
	if (!dev_up(d, VIRTIO_ID_CONSOLE, "con", VEC_CON, 1, 2, why, n))
		return false;
	if (d->msix_used <= CON_TX_ENTRY) {
		gsnprintf(why, n, "console: %u MSI-X entries, transmitq needs its own", d->msix_used);
		return false;
	}
	con_post_rx();
	con_pend();
	return true;
}

/* --- virtio-blk (5.2), if present: a sector pattern written and read back --- */

#define VB_F_RO   (1ULL << 5)
#define VB_T_IN   0
#define VB_T_OUT  1

static void disk_rw(uint32_t type, uint64_t sector)
{
	blk_hdr = (struct blk_req_hdr){ type, 0, sector };
	blk_status = 0xEE;
	struct vbuf b[3] = {
		{ pa(&blk_hdr), sizeof(blk_hdr), false },
		{ pa(blk_data), SECTOR, type == VB_T_IN },
		{ pa(&blk_status), 1, true },
	};
	uint32_t len;
	request(&sc.blk, 0, b, 3, true, &len, "disk");
	if (blk_status != 0)
		fail("disk", "%s of sector %lu: status 0x%x", type == VB_T_IN ? "read" : "write", sector,
		     blk_status);
}

static void blk_round(void)
{
	if (!sc.have_blk)
		return;
	device_ready(&sc.blk);
	/* Read back the sector written 1-16 rounds ago (blk_gen: its last generation). */
	unsigned w = sc.round % sc.blk_n, back = 1 + sc.round % 16;
	unsigned r = (sc.round + sc.blk_n - back % sc.blk_n) % sc.blk_n;
	uint64_t *words = (uint64_t *)blk_data;
	if (!sc.blk_ro) {
		for (unsigned k = 0; k < SECTOR / 8; k++)
			words[k] = word_at(SC_PAGES + w, sc.round + 1, k);
		disk_rw(VB_T_OUT, w);
		sc.blk_gen[w] = sc.round + 1;
		sc.blk_writes++;
	}
	if (!sc.blk_gen[r])
		return;
	disk_rw(VB_T_IN, r);
	sc.blk_reads++;
	for (unsigned k = 0; k < SECTOR / 8; k++)
		if (words[k] != word_at(SC_PAGES + r, sc.blk_gen[r], k))
			fail("disk", "sector %u word %u: 0x%lx, generation %u wants 0x%lx", r, k, words[k],
			     sc.blk_gen[r], word_at(SC_PAGES + r, sc.blk_gen[r], k));
}

static bool blk_setup(char *why, size_t n)
{
	struct vdev *d = &sc.blk;
	if (!dev_up(d, VIRTIO_ID_BLOCK, "blk", VEC_BLK, 2, 1, why, n)) {
		if (d->f)
			return false;
		why[0] = 0;                           /* no disk: fine */
		return true;
	}
	struct pci_bar *b = pci_bar_at(d->f, d->device.bar);
	if (!d->device.cfg || !b || d->device.len < 8) {
		gsnprintf(why, n, "disk: no device configuration structure");
		return false;
	}
	volatile uint32_t *cfg = (volatile uint32_t *)(uintptr_t)(b->addr + d->device.off);
	uint64_t capacity = cfg[0] | (uint64_t)cfg[1] << 32;   /* 4.1.3.1: 32-bit accesses */
	sc.blk_n = capacity < BLK_SECTORS ? (unsigned)capacity : BLK_SECTORS;
	sc.blk_ro = d->offered & VB_F_RO;
	sc.have_blk = sc.blk_n > 0;
	return true;
}

/* --- the rounds --- */

static void round_once(void)
{
	uint64_t t = rdtsc();
	struct tick_arg ta = { ticks() + ROUND_TICKS };
	if (sc.round && t <= sc.tsc)
		fail("tsc", "TSC 0x%lx, previous round read 0x%lx", t, sc.tsc);
	sc.tsc = t;
	if (!wait_ticks(tick_reached, &ta, ROUND_TICKS + WAIT_TICKS))
		fail("timer", "ticks stopped at %u", ticks());
	ram_round();
	rng_round();
	con_check_pending();
	blk_round();
	con_poll_rx();
	gprintf("snapcheck: round %u ok ticks %u ram 0x%016lx rng %lu pending-since %u unmasks %u "
	        "disk %u/%u\n", sc.round, ticks(), sc.sum, sc.rng_bytes, sc.pend_round, sc.unmasks,
	        sc.blk_writes, sc.blk_reads);
	sc.round++;
}

static bool wanted(const char *cmdline)
{
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if (p - w == 11 && memcmp(w, "snapcheck=1", 11) == 0)
			return true;
	}
	return false;
}

void snapcheck_run(const char *cmdline)
{
	char why[200] = "";
	uint64_t from = 0;
	if (!wanted(cmdline))
		return;
	bool ok = timer_start() && ram_setup(why, sizeof(why)) &&
	          rng_setup(why, sizeof(why), &from) && con_setup(why, sizeof(why)) &&
	          blk_setup(why, sizeof(why));
	check("snapcheck_setup", ok, "RAM %u pages 0x%lx-0x%lx; rng BAR 0x%lx -> 0x%lx; console "
	      "transmitq vector 0x%x masked and pending; disk %s (%u sectors%s); LAPIC timer "
	      "periodic at vector 0x%x%s%s", SC_PAGES, sc.page[0], sc.page[SC_PAGES - 1], from,
	      sc.bar_at, tx_vec(), sc.have_blk ? "present" : "absent", sc.blk_n,
	      sc.blk_ro ? ", read-only" : "", VEC_TICK, why[0] ? "; " : "", why);
	if (!ok)
		guest_finish();
	for (;;)
		round_once();
}
