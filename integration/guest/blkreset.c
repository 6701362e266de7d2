// SPDX-License-Identifier: Apache-2.0
/*
 * vireo test guest: a virtio-blk reset with reads in flight while another vCPU keeps
 * running (README.md "virtio-blk checks"). virtio 1.2 4.1.4.3.1: after writing 0 to
 * device_status the driver waits for it to read back 0; the device may take its time to
 * stop, but no other vCPU may stall meanwhile. The AP reads a register of the same disk in
 * a loop, the path a reset held on the vCPU thread would block.
 */
#include "blk.h"

#define RESET_READS      8
#define RESET_READ_LEN   (64 * 1024)
#define RESET_POLLS      200000

static uint8_t reset_bufs[RESET_READS][RESET_READ_LEN] __attribute__((aligned(4096)));
static struct vdev *volatile ap_disk;
static volatile uint64_t ap_loops;
static volatile int ap_stop, ap_done;

/* On the AP: count, reading num_queues of the disk every 16 counts, until told to stop. */
static void count_job(void)
{
	while (!ap_stop) {
		if (!(ap_loops % 16))
			(void)cc_r16(ap_disk, VC_NUMQ);
		__atomic_add_fetch(&ap_loops, 1, __ATOMIC_SEQ_CST);
	}
	ap_done = 1;
}

static void post_reads(struct blk_disk *k, struct breq *r)
{
	for (unsigned i = 0; i < RESET_READS; i++) {
		struct bchain c;
		struct blk_slot *s = blk_slot();
		bc_init(&c);
		bc_hdr(&c, s, VB_T_IN, (uint64_t)i * (RESET_READ_LEN / BLK_SECTOR));
		bc_data(&c, reset_bufs[i], RESET_READ_LEN, 1, true);
		bc_status(&c, s);
		blk_post(k, 0, &c, &s->status, &r[i]);
	}
	vq_kick(&k->d, &k->d.vq[0]);
}

static bool wait_loops(uint64_t above)
{
	for (unsigned i = 0; i < RESET_POLLS; i++) {
		if (ap_loops > above)
			return true;
		cpu_pause();
	}
	return false;
}

void blk_reset_check(struct blk_disk *k)
{
	char name[32], why[160] = "";
	struct breq r[RESET_READS];
	uint32_t ap;
	gsnprintf(name, sizeof(name), "%s_reset_inflight", k->tag);
	if (!ap_first(&ap)) {
		check(name, true, "skipped (one vCPU)");
		return;
	}
	ap_disk = &k->d;
	ap_loops = 0;
	ap_stop = ap_done = 0;
	bool started = ap_run(ap, count_job) && wait_loops(0);
	post_reads(k, r);
	uint64_t before = ap_loops;
	cc_w8(&k->d, VC_STATUS, 0);
	unsigned busy = 0;
	while (busy < RESET_POLLS && cc_r8(&k->d, VC_STATUS) != 0)
		busy++;
	uint64_t during = ap_loops - before;
	/* How much the AP counts inside the window is up to the host's scheduler; that it
	 * counts on afterwards, having read the disk's registers throughout, is not. */
	bool reset = busy < RESET_POLLS, kept_going = started && wait_loops(before + during);
	ap_stop = 1;
	for (unsigned i = 0; i < RESET_POLLS && !ap_done; i++)
		cpu_pause();
	uint8_t st = VB_S_UNTOUCHED;
	bool back = blk_reinit(k, k->d.features, why, sizeof(why)) &&
	            blk_rw(k, 0, VB_T_IN, 0, reset_bufs[0], 4096, 1, &st, why, sizeof(why)) &&
	            st == VB_S_OK;
	check(name, reset && started && kept_going && back, "%u reads of %u KiB in flight, "
	      "device_status 0 after %u reads of non-zero; AP %u %s, %lu counts (num_queues read "
	      "every 16) from the reset write to 0%s; re-init and a read: %s%s%s", RESET_READS,
	      RESET_READ_LEN / 1024, busy, ap, started ? "counting" : "did NOT start", during,
	      kept_going ? "" : ", then none", back ? "OK" : "FAILED", why[0] ? "; " : "", why);
}
