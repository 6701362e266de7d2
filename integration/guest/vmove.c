/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: a live virtio device's BAR moved to another free place inside a memory
 * window of the host bridge's _CRS (ACPI 6.x 6.4.3.5), used there (entropy, notify, MSI-X)
 * and moved back. The PCI check pci_bar_move only pokes registers; this one keeps a
 * DRIVER_OK device running across the move (as Linux does after a resource reassignment).
 */
#include "virtio.h"

#define MAX_WIN 16

static uint8_t move_buf[2][64] __attribute__((aligned(64)));

/*
 * A free naturally aligned slot for `b` in the host bridge's windows: for a 64-bit BAR a
 * window above 4 GiB first; otherwise (or if none has room) any window that can hold it.
 * `win` names the window used, or lists them all when none has room.
 */
static uint64_t pick_slot(const struct pci_bar *b, char *win, size_t wn)
{
	uint64_t lo[MAX_WIN], len[MAX_WIN];
	unsigned n = acpi_pci_windows(lo, len, MAX_WIN);
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < n; i++) {
			bool high = lo[i] >= FOUR_GIB;
			if (lo[i] < 0x100000)        /* legacy VGA window: not ours */
				continue;
			if ((pass == 0 && (!high || b->kind != BAR_MEM64)) || (high && b->kind != BAR_MEM64))
				continue;
			uint64_t a = pci_find_free(lo[i], lo[i] + len[i] - 1, b->size, b);
			if (a) {
				gsnprintf(win, wn, "0x%lx-0x%lx", lo[i], lo[i] + len[i] - 1);
				return a;
			}
		}
	size_t at = 0;
	win[0] = 0;
	for (unsigned i = 0; i < n && at + 40 < wn; i++)
		at += (size_t)gsnprintf(win + at, wn - at, "%s0x%lx-0x%lx", i ? "," : "", lo[i],
		                        lo[i] + len[i] - 1);
	return 0;
}

struct move_state {
	uint32_t tbl[2][4];                    /* MSI-X entries 0-1 */
	uint8_t status;
	uint16_t numq;
};

static void snapshot(struct vdev *d, struct move_state *s)
{
	for (unsigned e = 0; e < 2; e++)
		for (unsigned k = 0; k < 4; k++)
			s->tbl[e][k] = msix_entry_rd(d, e, k);
	s->status = cc_r8(d, VC_STATUS);
	s->numq = cc_r16(d, VC_NUMQ);
}

/* Program the BAR, re-map, and use the device at `to`: state kept, one entropy request. */
static bool move_and_use(struct vdev *d, struct pci_bar *b, uint64_t to, uint16_t cmd,
                         const struct move_state *before, uint8_t *buf, char *why, size_t n)
{
	struct move_state after;
	uint32_t got = 0;
	pci_bar_program(d->f, b, to, cmd);
	if (!vdev_map(d, why, n))
		return false;
	if (b->addr != to) {
		gsnprintf(why, n, "BAR reads 0x%lx after programming 0x%lx", b->addr, to);
		return false;
	}
	snapshot(d, &after);
	if (memcmp(after.tbl, before->tbl, sizeof(after.tbl)) || after.status != before->status ||
	    after.numq != before->numq) {
		gsnprintf(why, n, "at 0x%lx: status 0x%x (was 0x%x), num_queues %u (was %u), MSI-X "
		          "entry 0 data 0x%x (was 0x%x)", to, after.status, before->status, after.numq,
		          before->numq, after.tbl[0][2], before->tbl[0][2]);
		return false;
	}
	if (!rng_fetch(d, buf, 32, &got, why, n))
		return false;
	if (!rng_looks_random(buf, got)) {
		gsnprintf(why, n, "at 0x%lx: %u bytes of entropy look constant", to, got);
		return false;
	}
	return true;
}

void virtio_move_check(struct vdev *d)
{
	struct pci_bar *b = pci_bar_at(d->f, d->common.bar);
	char win[200], why[200] = "";
	if (!b) {
		check("virtio_bar_move", false, "common structure BAR %u not sized", d->common.bar);
		return;
	}
	uint64_t old = b->addr, nu = pick_slot(b, win, sizeof(win));
	if (!nu) {
		check("virtio_bar_move", false, "bar%u size 0x%lx at 0x%lx: no free aligned slot in the "
		      "host bridge's _CRS memory windows [%s]", d->common.bar, b->size, old, win);
		return;
	}
	struct move_state before;
	snapshot(d, &before);
	uint16_t cmd = ecam_rd16(d->f->dev, d->f->fn, PCI_CFG_COMMAND);
	unsigned qvec = vdev_vec(d, vq_entry(d, 0)), irqs = irq_count(qvec);
	bool there = move_and_use(d, b, nu, cmd, &before, move_buf[0], why, sizeof(why));
	bool back = move_and_use(d, b, old, cmd, &before, move_buf[1], why + strlen(why),
	                         sizeof(why) - strlen(why));
	if (!back && b->addr != old) {
		pci_bar_program(d->f, b, old, cmd);      /* leave it where the firmware put it */
		vdev_map(d, why, 0);
	}
	check("virtio_bar_move", there && back && memcmp(move_buf[0], move_buf[1], 8) != 0,
	      "00:%02x.%u bar%u %s 0x%lx: 0x%lx -> 0x%lx -> back at DRIVER_OK; status, num_queues, "
	      "MSI-X entries kept; entropy + interrupt there %s, back %s (%u queue irqs); _CRS "
	      "window %s%s%s", d->f->dev, d->f->fn, d->common.bar,
	      b->kind == BAR_MEM64 ? "mem64" : "mem32", b->size, old, nu, there ? "ok" : "FAILED",
	      back ? "ok" : "FAILED", irq_count(qvec) - irqs, win, why[0] ? "; " : "", why);
}
