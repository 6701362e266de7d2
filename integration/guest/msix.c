/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: MSI-X (PCI 3.0 6.8.2) for a virtio function: capability, table entries
 * aimed at the BSP's local APIC (Intel SDM vol 3A 11.11: address 0xFEE00000 | dest << 12,
 * data = vector, fixed delivery, edge), per-vector and function masks, the PBA; and the
 * bounded waits for interrupts and device progress.
 */
#include "virtio.h"

#define MC_ENABLE       (1u << 15)          /* Message Control (cap + 2) */
#define MC_FMASK        (1u << 14)
#define MSI_ADDR        0xFEE00000u
#define VCTRL_MASK      1u
#define WAIT_MAX_SPINS  50000000ULL

static volatile uint32_t *entry_at(struct vdev *d, unsigned entry)
{
	return (volatile uint32_t *)(d->tbl + 16ULL * entry);
}

uint32_t msix_entry_rd(struct vdev *d, unsigned entry, unsigned dword)
{
	return entry_at(d, entry)[dword];
}

static uint16_t mc_read(struct vdev *d)
{
	return ecam_rd16(d->f->dev, d->f->fn, d->msix + 2);
}

static void mc_write(struct vdev *d, uint16_t v)
{
	ecam_wr16(d->f->dev, d->f->fn, d->msix + 2, v);
}

/*
 * Linux's order (drivers/pci/msi): Enable with Function Mask set, program the entries, then
 * clear Function Mask. vdev_probe turned bus mastering on (QEMU drops MSI and DMA without).
 */
bool msix_setup(struct vdev *d, unsigned entries, char *why, size_t n)
{
	if (entries > d->msix_n)
		entries = d->msix_n;
	d->msix_used = entries;
	if (!entries) {
		gsnprintf(why, n, "MSI-X table has no entries");
		return false;
	}
	mc_write(d, (uint16_t)(MC_ENABLE | MC_FMASK));
	uint32_t dest = lapic_id();
	for (unsigned e = 0; e < entries; e++) {
		volatile uint32_t *t = entry_at(d, e);
		t[3] = VCTRL_MASK;
		t[0] = MSI_ADDR | dest << 12;
		t[1] = 0;
		t[2] = vdev_vec(d, e);
		t[3] = 0;
	}
	mc_write(d, MC_ENABLE);
	uint16_t mc = mc_read(d);
	for (unsigned e = 0; e < entries; e++) {
		uint32_t a = msix_entry_rd(d, e, 0), v = msix_entry_rd(d, e, 2);
		uint32_t c = msix_entry_rd(d, e, 3);
		if (a != (MSI_ADDR | dest << 12) || v != vdev_vec(d, e) || (c & VCTRL_MASK)) {
			gsnprintf(why, n, "MSI-X entry %u reads addr 0x%x data 0x%x ctrl 0x%x", e, a, v, c);
			return false;
		}
	}
	if ((mc & (MC_ENABLE | MC_FMASK)) != MC_ENABLE) {
		gsnprintf(why, n, "MSI-X Message Control reads 0x%x after enable", mc);
		return false;
	}
	return true;
}

void msix_mask(struct vdev *d, unsigned entry, bool masked)
{
	entry_at(d, entry)[3] = masked ? VCTRL_MASK : 0;
}

void msix_function_mask(struct vdev *d, bool masked)
{
	mc_write(d, (uint16_t)(MC_ENABLE | (masked ? MC_FMASK : 0)));
}

bool msix_pending(struct vdev *d, unsigned entry)
{
	volatile uint32_t *pba = (volatile uint32_t *)d->pba;
	return (pba[entry / 32] >> (entry % 32)) & 1;
}

/* --- bounded waits: the LAPIC clock (smp.c) plus a spin cap --- */

bool poll_until(bool (*cond)(void *), void *arg, uint64_t timeout_us)
{
	bool ok = cond(arg);
	uint64_t t0 = clock_us();
	__asm__ volatile("sti" ::: "memory");
	for (uint64_t i = 0; !ok && i < WAIT_MAX_SPINS; i++) {
		cpu_pause();
		ok = cond(arg);
		if (!ok && clock_us() - t0 > timeout_us)
			break;
	}
	cpu_cli();
	return ok;
}

/* STI's shadow covers one instruction; interrupts already pending are taken after it. */
void irq_drain(void)
{
	for (unsigned i = 0; i < 4; i++)
		__asm__ volatile("sti; pause; cli" ::: "memory");
}

struct irq_wait_arg {
	unsigned vec, before;
};

static bool irq_arrived(void *arg)
{
	const struct irq_wait_arg *w = arg;
	return irq_count(w->vec) != w->before;
}

bool irq_wait(unsigned vec, unsigned before, uint64_t timeout_us)
{
	struct irq_wait_arg w = { vec, before };
	return poll_until(irq_arrived, &w, timeout_us);
}
