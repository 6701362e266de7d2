// SPDX-License-Identifier: Apache-2.0
/*
 * vireo test guest: a virtio-blk reset with reads held unfinished while another vCPU keeps
 * running (README.md "Reset with requests held"). virtio 1.2 4.1.4.3.1: the device presents
 * 0 in device_status once the reset is done, and the driver waits for that (4.1.4.3.2); 2.4.1:
 * from then on the device neither touches the queues nor notifies until initialized again,
 * so nothing more lands in guest memory. No other vCPU may stall meanwhile: the AP reads a
 * register of the same disk in a loop.
 *
 * Whether reads are still unfinished when 0 is written must not be left to the host's speed,
 * so this runs on an "rl" disk the runner rate-limits (bw_size=4096,bw_refill_time=300): the
 * first 64 KiB read is larger than the bucket, so it is let through and the limiter then
 * refuses everything for the 4.5-4.8 s its 60-64 KiB of debt take to refill. The guest waits
 * for that one read, writes 0, and afterwards finds the used index still at 1: the other
 * seven were unfinished when it wrote 0 and never completed. Against the limiter's debt:
 * status must read 0 within RESET_BOUND_US (a reset waiting for tokens takes the debt), and
 * nothing may change in the poisoned rings, buffers and status bytes for QUIET_US (a queue
 * thread still alive would serve the next read when the debt is paid).
 */
#include "blk.h"

#define RESET_READS      8
#define RESET_READ_LEN   (64 * 1024)
#define RESET_SECTORS    (RESET_READ_LEN / BLK_SECTOR)
#define RESET_SERVED     1                 /* reads the limiter lets through at once */
#define RESET_BOUND_US   3000000UL         /* status reads 0 by then: below the 4.5 s debt */
#define QUIET_US         6500000UL         /* watched after 0: past the 4.8 s debt */
#define AP_BUSY_US       250000UL          /* a reset this long must see the AP read ... */
#define AP_BUSY_READS    8                 /* ... this often: blocked, it finishes one read */
#define SPIN_CAP         200000000ULL      /* iteration caps of the waits (a stuck clock) */
#define MMIO_CAP         20000000ULL
#define POISON           0xC3u
#define POISON32         0xC3C3C3C3u

static uint8_t reset_bufs[RESET_READS][RESET_READ_LEN] __attribute__((aligned(4096)));
static uint8_t after_buf[RESET_READ_LEN] __attribute__((aligned(4096)));
static struct vdev *volatile ap_disk;
static volatile uint64_t ap_loops, ap_reads, ap_wrong;
static volatile uint16_t ap_want, ap_seen_bad;
static volatile int ap_stop, ap_done;

/* What one run saw, for the verdict and the detail line. */
struct reset_run {
	struct blk_disk *k;
	struct breq r[RESET_READS];
	struct blk_slot *s[RESET_READS];
	struct vq *q;                          /* re-init points it at a fresh ring ... */
	volatile uint32_t *used;               /* ... so the reset ring's used area is kept */
	unsigned used_words;                   /* flags|idx, then {id, len} per entry */
	uint16_t base, at_write, after;        /* used idx: posting, the write, status 0 */
	uint8_t mid_bad;                       /* a status value neither old nor 0 (0: none) */
	uint64_t reset_us;                     /* from the write until status read 0 */
	uint64_t ap_write, ap_zero, ap_quiet;  /* AP counts at the write, at 0, after quiet */
	uint64_t reads_write, reads_zero;      /* AP register reads at the write, at 0 */
	uint64_t quiet_us;                     /* how long the poison stayed untouched */
	unsigned irqs;                         /* the disk's interrupts in the quiet time */
	char why[120];                         /* short: the check line has LINE_MAX */
};

/* On the AP: count, reading num_queues of the disk every 16 counts, until told to stop. */
static void count_job(void)
{
	while (!ap_stop) {
		if (!(ap_loops % 16)) {
			uint16_t n = cc_r16(ap_disk, VC_NUMQ);
			if (n != ap_want) {
				ap_seen_bad = n;
				ap_wrong++;
			}
			ap_reads++;
		}
		__atomic_add_fetch(&ap_loops, 1, __ATOMIC_SEQ_CST);
	}
	ap_done = 1;
}

static bool wait_loops(uint64_t above)
{
	uint64_t t0 = clock_us();
	for (uint64_t i = 0; i < SPIN_CAP && clock_us() - t0 < VIRTIO_TIMEOUT_US; i++) {
		if (ap_loops > above)
			return true;
		cpu_pause();
	}
	return false;
}

static bool ap_begin(struct blk_disk *k, uint32_t *ap)
{
	ap_disk = &k->d;
	ap_want = cc_r16(&k->d, VC_NUMQ);
	ap_loops = ap_reads = ap_wrong = ap_seen_bad = 0;
	ap_stop = ap_done = 0;
	return ap_first(ap) && ap_run(*ap, count_job) && wait_loops(0);
}

static void ap_end(void)
{
	ap_stop = 1;
	for (uint64_t i = 0; i < SPIN_CAP && !ap_done; i++)
		cpu_pause();
}

/* Read i: 64 KiB at lba 128 * i, so every buffer has its own known pattern. */
static void post_reads(struct reset_run *x)
{
	x->base = x->at_write = x->after = x->q->used_seen;
	x->used = x->q->used;
	x->used_words = 1 + 2u * x->q->size;
	for (unsigned i = 0; i < RESET_READS; i++) {
		struct bchain c;
		x->s[i] = blk_slot();
		memset(reset_bufs[i], POISON, RESET_READ_LEN);
		bc_init(&c);
		bc_hdr(&c, x->s[i], VB_T_IN, (uint64_t)i * RESET_SECTORS);
		bc_data(&c, reset_bufs[i], RESET_READ_LEN, 1, true);
		bc_status(&c, x->s[i]);
		blk_post(x->k, 0, &c, &x->s[i]->status, &x->r[i]);
	}
	vq_kick(&x->k->d, x->q);
}

static bool served(void *arg)
{
	const struct reset_run *x = arg;
	return (uint16_t)(vq_used_idx(x->q) - x->base) >= RESET_SERVED;
}

/* 4.1.4.3.1: 0 written, status polled until it reads 0; values seen meanwhile noted. */
static bool reset_and_wait(struct reset_run *x)
{
	struct vdev *d = &x->k->d;
	uint8_t old = cc_r8(d, VC_STATUS), st = old;
	x->at_write = vq_used_idx(x->q);
	x->ap_write = ap_loops;
	x->reads_write = ap_reads;
	uint64_t t0 = clock_us();
	cc_w8(d, VC_STATUS, 0);
	for (uint64_t i = 0; i < MMIO_CAP && st; i++) {
		st = cc_r8(d, VC_STATUS);
		if (st && st != old)
			x->mid_bad = st;
		if (st && clock_us() - t0 > VIRTIO_TIMEOUT_US)
			break;
	}
	x->reset_us = clock_us() - t0;
	x->ap_zero = ap_loops;
	x->reads_zero = ap_reads;
	x->after = vq_used_idx(x->q);
	return st == 0;
}

/* The served reads: used elements for them alone, status OK, the image's pattern. */
static bool served_ok(struct reset_run *x)
{
	uint32_t id, len;
	uint64_t bad;
	for (unsigned i = 0; i < RESET_READS; i++) {
		bool used = vq_pop_used(x->q, &id, &len);
		if (used != (i < RESET_SERVED) || (used && (id != x->r[i].head ||
		                                            len != RESET_READ_LEN + 1))) {
			gsnprintf(x->why, sizeof(x->why), "used element %u: %s (id %u len %u), want "
			          "head %u len %u for the first %u only", i, used ? "present" : "absent",
			          id, len, x->r[i].head, RESET_READ_LEN + 1, RESET_SERVED);
			return false;
		}
		uint8_t want = i < RESET_SERVED ? VB_S_OK : VB_S_UNTOUCHED;
		if (x->s[i]->status != want) {
			gsnprintf(x->why, sizeof(x->why), "read %u: status 0x%x, want 0x%x", i,
			          x->s[i]->status, want);
			return false;
		}
		if (used && !blk_verify(reset_bufs[i], i * RESET_SECTORS, RESET_SECTORS,
		                        x->k->seed, &bad)) {
			gsnprintf(x->why, sizeof(x->why), "read %u: lba %lu not the pattern", i, bad);
			return false;
		}
	}
	return true;
}

/* Everything the device could still write: the used ring, every buffer and status byte. */
static void poison(struct reset_run *x)
{
	for (unsigned j = 0; j < x->used_words; j++)
		x->used[j] = POISON32;
	for (unsigned i = 0; i < RESET_READS; i++) {
		memset(reset_bufs[i], POISON, RESET_READ_LEN);
		x->s[i]->status = POISON;
	}
}

/* The first thing the device wrote since poison(), or NULL. */
static const char *poison_hit(const struct reset_run *x)
{
	for (unsigned j = 0; j < x->used_words; j++)
		if (x->used[j] != POISON32)
			return j ? "a used ring element" : "the used index or flags";
	for (unsigned i = 0; i < RESET_READS; i++) {
		const volatile uint64_t *w = (const volatile uint64_t *)reset_bufs[i];
		if (x->s[i]->status != POISON)
			return "a status byte";
		for (unsigned k = 0; k < RESET_READ_LEN / 8; k++)
			if (w[k] != 0xC3C3C3C3C3C3C3C3ULL)
				return "a data buffer";
	}
	return NULL;
}

static unsigned disk_irqs(const struct vdev *d)
{
	return irq_count(vdev_vec(d, 0)) + irq_count(vdev_vec(d, vq_entry(d, 0)));
}

/* Watched for QUIET_US with interrupts off; what arrived is taken and counted after. */
static bool stays_quiet(struct reset_run *x)
{
	const char *hit = NULL;
	irq_drain();
	unsigned irq0 = disk_irqs(&x->k->d);
	poison(x);
	uint64_t t0 = clock_us();
	for (uint64_t i = 0; i < SPIN_CAP && !hit && clock_us() - t0 < QUIET_US; i++)
		hit = poison_hit(x);
	x->quiet_us = clock_us() - t0;
	x->ap_quiet = ap_loops;
	irq_drain();
	x->irqs = disk_irqs(&x->k->d) - irq0;
	if (hit || x->quiet_us < QUIET_US || x->irqs) {
		gsnprintf(x->why, sizeof(x->why), "after status 0 the device wrote %s (watched %lu us "
		          "of %lu) or interrupted", hit ? hit : "nothing", x->quiet_us, QUIET_US);
		return false;
	}
	return true;
}

/* Initialized again, a read of a held request's sectors gives the pattern; old memory quiet. */
static bool reinit_read(struct reset_run *x)
{
	uint8_t st = VB_S_UNTOUCHED;
	uint64_t bad;
	const char *hit;
	memset(after_buf, 0x5A, RESET_READ_LEN);
	if (!blk_reinit(x->k, x->k->d.features, x->why, sizeof(x->why)) ||
	    !blk_rw(x->k, 0, VB_T_IN, RESET_SECTORS, after_buf, RESET_READ_LEN, 1, &st, x->why,
	            sizeof(x->why)))
		return false;
	if (st != VB_S_OK || !blk_verify(after_buf, RESET_SECTORS, RESET_SECTORS, x->k->seed, &bad)) {
		gsnprintf(x->why, sizeof(x->why), "re-init read: status %u, %s", st,
		          st == VB_S_OK ? "not the pattern" : blk_status_name(st));
		return false;
	}
	if ((hit = poison_hit(x))) {
		gsnprintf(x->why, sizeof(x->why), "%s of the reset queue changed during re-init", hit);
		return false;
	}
	return true;
}

/* The held reads, the reset, the quiet time: false with x->why at the first thing wrong. */
static bool run_reset(struct reset_run *x)
{
	post_reads(x);
	if (!poll_until(served, x, VIRTIO_TIMEOUT_US)) {
		gsnprintf(x->why, sizeof(x->why), "no read served within 10 s (used idx %u)",
		          vq_used_idx(x->q));
		return false;
	}
	if (!reset_and_wait(x)) {
		gsnprintf(x->why, sizeof(x->why), "device_status still non-zero %lu us after 0 was "
		          "written", x->reset_us);
		return false;
	}
	if ((uint16_t)(x->at_write - x->base) != RESET_SERVED || x->after != x->at_write) {
		gsnprintf(x->why, sizeof(x->why), "want %u served before 0 was written and none "
		          "during the reset (used idx %u, then %u)", RESET_SERVED, x->at_write,
		          x->after);
		return false;
	}
	if (x->reset_us > RESET_BOUND_US || x->mid_bad) {
		gsnprintf(x->why, sizeof(x->why), "status read 0 only after %lu us (max %lu), 0x%x "
		          "meanwhile", x->reset_us, RESET_BOUND_US, x->mid_bad);
		return false;
	}
	return served_ok(x) && stays_quiet(x);
}

/*
 * The AP counted all along: before the write, in the quiet time, and through a reset long
 * enough for the scheduler to run it, reading the disk's registers (a reset holding the
 * transport would let one read through at its end).
 */
static bool ap_kept_going(const struct reset_run *x, char *why, size_t n)
{
	bool during = x->reset_us < AP_BUSY_US || x->reads_zero - x->reads_write >= AP_BUSY_READS;
	if (ap_wrong)
		gsnprintf(why, n, "%lu of the AP's num_queues reads were wrong (0x%x)", ap_wrong,
		          ap_seen_bad);
	else if (!during)
		gsnprintf(why, n, "the AP read the disk's registers %lu times during the reset (want "
		          "%u or more)", x->reads_zero - x->reads_write, AP_BUSY_READS);
	else if (!x->ap_write || x->ap_quiet <= x->ap_zero)
		gsnprintf(why, n, "the AP did not count before the write or during the watch");
	return !why[0];
}

void blk_reset_check(struct blk_disk *k)
{
	char name[32], apwhy[120] = "";
	struct reset_run x = { .k = k, .q = &k->d.vq[0] };
	uint32_t ap = 0;
	gsnprintf(name, sizeof(name), "%s_reset_inflight", k->tag);
	if (k->cfg.capacity < RESET_READS * RESET_SECTORS) {
		check(name, false, "capacity %lu sectors, want %u", k->cfg.capacity,
		      RESET_READS * RESET_SECTORS);
		return;
	}
	clock_start();
	bool started = ap_begin(k, &ap);
	bool ok = started && run_reset(&x);
	bool ap_ok = started && ap_kept_going(&x, apwhy, sizeof(apwhy));
	ap_end();
	ok = ok && ap_ok && reinit_read(&x);
	/* One line under LINE_MAX: the reason first when there is one. */
	check(name, ok, "%s%sserved %u/%u (64 KiB, rate-limited) before writing 0, %u unfinished at "
	      "status 0 after %lu us (max %lu); quiet %lu us, %u irqs; AP %u counts %lu/%lu/%lu "
	      "(before/during/after), %lu reg reads%s", x.why[0] ? x.why : apwhy,
	      x.why[0] || apwhy[0] ? "; " : "", (uint16_t)(x.at_write - x.base), RESET_READS,
	      RESET_READS - (uint16_t)(x.after - x.base), x.reset_us, RESET_BOUND_US, x.quiet_us,
	      x.irqs, ap, x.ap_write, x.ap_zero - x.ap_write,
	      x.ap_quiet > x.ap_zero ? x.ap_quiet - x.ap_zero : 0, ap_reads,
	      ok ? "; re-init: lba 128 ok" : "");
}
