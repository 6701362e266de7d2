/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: config access to bus 0 of PCI segment 0 through CONFIG_ADDRESS /
 * CONFIG_DATA (PCI 3.0 3.2.2.3.2) and ECAM (PCIe base 7.2.2), each access counted (one port
 * or MMIO access = one VM exit); the function table, capability lookup (PCI 3.0 6.7) and
 * BAR programming shared by the PCI and virtio checks.
 */
#include "guest.h"

struct pci_fn pci_fns[PCI_MAX_FN];
unsigned pci_nfns;
uint64_t pci_ecam_base;
unsigned pci_ecam_end_bus;
unsigned pci_n_cf8, pci_n_ecam;

/* --- CONFIG_ADDRESS / CONFIG_DATA (bus 0 unless told) --- */

uint32_t pci_cf8_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return PCI_CF8_ENABLE | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC);
}

static void cf8_select(uint32_t a)
{
	outl(PCI_CF8, a);
	pci_n_cf8++;
}

uint32_t cf8_rd32(unsigned dev, unsigned fn, unsigned reg)
{
	cf8_select(pci_cf8_addr(0, dev, fn, reg));
	pci_n_cf8++;
	return inl(PCI_CFC);
}

uint16_t cf8_rd16(unsigned dev, unsigned fn, unsigned reg)
{
	cf8_select(pci_cf8_addr(0, dev, fn, reg));
	pci_n_cf8++;
	return inw((uint16_t)(PCI_CFC + (reg & 2)));
}

uint8_t cf8_rd8(unsigned dev, unsigned fn, unsigned reg)
{
	cf8_select(pci_cf8_addr(0, dev, fn, reg));
	pci_n_cf8++;
	return inb((uint16_t)(PCI_CFC + (reg & 3)));
}

void cf8_wr32(unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	cf8_select(pci_cf8_addr(0, dev, fn, reg));
	pci_n_cf8++;
	outl(PCI_CFC, v);
}

void cf8_wr16(unsigned dev, unsigned fn, unsigned reg, uint16_t v)
{
	cf8_select(pci_cf8_addr(0, dev, fn, reg));
	pci_n_cf8++;
	outw((uint16_t)(PCI_CFC + (reg & 2)), v);
}

/* --- ECAM, bus 0 only (the only bus both VMMs' MCFG cover that we touch) --- */

static volatile void *ecam_at(unsigned dev, unsigned fn, unsigned reg)
{
	return (volatile void *)(uintptr_t)(pci_ecam_base + (dev << 15 | fn << 12 | reg));
}

uint32_t ecam_rd32(unsigned dev, unsigned fn, unsigned reg)
{
	pci_n_ecam++;
	return *(volatile uint32_t *)ecam_at(dev, fn, reg);
}

uint16_t ecam_rd16(unsigned dev, unsigned fn, unsigned reg)
{
	pci_n_ecam++;
	return *(volatile uint16_t *)ecam_at(dev, fn, reg);
}

uint8_t ecam_rd8(unsigned dev, unsigned fn, unsigned reg)
{
	pci_n_ecam++;
	return *(volatile uint8_t *)ecam_at(dev, fn, reg);
}

void ecam_wr32(unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	pci_n_ecam++;
	*(volatile uint32_t *)ecam_at(dev, fn, reg) = v;
}

void ecam_wr16(unsigned dev, unsigned fn, unsigned reg, uint16_t v)
{
	pci_n_ecam++;
	*(volatile uint16_t *)ecam_at(dev, fn, reg) = v;
}

void ecam_wr8(unsigned dev, unsigned fn, unsigned reg, uint8_t v)
{
	pci_n_ecam++;
	*(volatile uint8_t *)ecam_at(dev, fn, reg) = v;
}

/* --- capabilities --- */

/* Capability `id` (of virtio cfg_type `vtype` if >= 0); pointers >= 0x40, <= 48 steps. */
static unsigned cap_walk(const struct pci_fn *f, uint8_t id, int vtype)
{
	if (!pci_ecam_base || !((f->hdr[1] >> 16) & PCI_STATUS_CAP_LIST))
		return 0;
	unsigned p = ecam_rd8(f->dev, f->fn, PCI_CFG_CAP_PTR) & 0xFC;
	for (unsigned n = 0; p >= 0x40 && n < 48; n++) {
		uint32_t h = ecam_rd32(f->dev, f->fn, p);
		if ((h & 0xFF) == id && (vtype < 0 || ((h >> 24) & 0xFF) == (unsigned)vtype))
			return p;
		p = (h >> 8) & 0xFC;
	}
	return 0;
}

unsigned pci_find_cap(const struct pci_fn *f, uint8_t id)
{
	return cap_walk(f, id, -1);
}

unsigned pci_virtio_cap(const struct pci_fn *f, uint8_t type)
{
	return pci_vendor(f) == PCI_VENDOR_VIRTIO ? cap_walk(f, PCI_CAP_VENDOR, type) : 0;
}

int pci_virtio_common(const struct pci_fn *f, uint32_t *off)
{
	unsigned p = pci_virtio_cap(f, 1);
	if (!p)
		return -1;
	*off = ecam_rd32(f->dev, f->fn, p + 8);
	return ecam_rd8(f->dev, f->fn, p + 4);
}

struct pci_bar *pci_bar_at(struct pci_fn *f, unsigned index)
{
	for (unsigned j = 0; j < f->nbars; j++)
		if (f->bar[j].reg == PCI_CFG_BAR0 + 4 * index)
			return &f->bar[j];
	return NULL;
}

/* --- BAR placement --- */

bool pci_range_free(uint64_t a, uint64_t size, const struct pci_bar *self)
{
	/* IOAPIC, HPET, LAPIC, flash: [0xFEC00000, 4 GiB) is never a BAR target. */
	if (memmap_overlaps(a, size) || pci_ranges_overlap(a, size, 0xFEC00000ULL, 0x1400000ULL) ||
	    (pci_ecam_base && pci_ranges_overlap(a, size, pci_ecam_base,
	                                         (pci_ecam_end_bus + 1) * PCI_ECAM_BUS_SIZE)))
		return false;
	for (unsigned i = 0; i < pci_nfns; i++)
		for (unsigned j = 0; j < pci_fns[i].nbars; j++) {
			const struct pci_bar *b = &pci_fns[i].bar[j];
			if (b->kind != BAR_IO && b->addr && pci_ranges_overlap(a, size, b->addr, b->size))
				return false;
		}
	return !pci_ranges_overlap(a, size, self->addr, self->size);
}

uint64_t pci_find_free(uint64_t lo, uint64_t hi, uint64_t size, const struct pci_bar *self)
{
	uint64_t al = size < GUEST_PAGE ? GUEST_PAGE : size;
	for (uint64_t a = pci_align_up(lo, al); a >= lo && a + size - 1 <= hi && a + size > a; a += al)
		if (pci_range_free(a, size, self))
			return a;
	return 0;
}

void pci_bar_program(const struct pci_fn *f, const struct pci_bar *b, uint64_t addr, uint16_t cmd)
{
	uint32_t type = ecam_rd32(f->dev, f->fn, b->reg) & 0xF;
	ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, (uint16_t)(cmd & ~PCI_CMD_MEM));
	ecam_wr32(f->dev, f->fn, b->reg, (uint32_t)addr | type);
	if (b->kind == BAR_MEM64)
		ecam_wr32(f->dev, f->fn, b->reg + 4, (uint32_t)(addr >> 32));
	ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, cmd);
}

uint64_t pci_bar_get(const struct pci_fn *f, const struct pci_bar *b)
{
	uint64_t a = ecam_rd32(f->dev, f->fn, b->reg) & ~0xFu;
	if (b->kind == BAR_MEM64)
		a |= (uint64_t)ecam_rd32(f->dev, f->fn, b->reg + 4) << 32;
	return a;
}
