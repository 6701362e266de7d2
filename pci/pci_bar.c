// SPDX-License-Identifier: Apache-2.0
/*
 * BARs: declaration, the sizing protocol (through the writable masks), and relocation.
 *
 * The guest side (config lock) only records what was programmed: size probes in flight, a
 * 64-bit BAR whose high dword is still to come, COMMAND decode changes. The owner side
 * (apply lock, no bus lock) compares that with what the owner was last told (placement and
 * mapped) and issues map/unmap/move, rolling the register back when a move fails. The rules
 * follow PCI 3.0 6.2.5.1 and docs/pci.md (the detection rules of Cloud Hypervisor's
 * detect_bar_reprogramming and kvmtool's pci_config_bar_wr).
 */
#include <errno.h>
#include <inttypes.h>

#include "pci/internal.h"
#include "base/log.h"

static unsigned bar_reg(unsigned bar)
{
	return PCI_BASE_ADDRESS_0 + 4 * bar;
}

/* Read-only type bits in the low dword: bit 0 for I/O, bits 3:0 for memory. */
static uint32_t bar_type_bits_mask(const struct pci_bar *b)
{
	return b->type == PCI_BAR_IO ? 0x3 : 0xf;
}

static int bar_check(const struct pci_dev *dev, unsigned bar, enum pci_bar_type type,
		     uint64_t size, bool prefetch)
{
	if (bar >= PCI_NR_BARS || type == PCI_BAR_NONE || !is_pow2(size))
		return -EINVAL;
	if (type == PCI_BAR_MEM64 && bar == PCI_NR_BARS - 1)
		return -EINVAL;
	if (dev->bar[bar].type != PCI_BAR_NONE ||
	    (bar > 0 && dev->bar[bar - 1].type == PCI_BAR_MEM64) ||
	    (type == PCI_BAR_MEM64 && dev->bar[bar + 1].type != PCI_BAR_NONE))
		return -EBUSY;
	switch (type) {
	case PCI_BAR_IO:        /* PCI 3.0 6.2.5.1: at most 256 bytes, never prefetchable */
		return size >= 4 && size <= 256 && !prefetch ? 0 : -EINVAL;
	case PCI_BAR_MEM32:
		return size >= 16 && size <= 0x80000000ULL ? 0 : -EINVAL;
	case PCI_BAR_MEM64:
		return size >= 16 && size <= (1ULL << 63) ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

int pci_bar_add(struct pci_dev *dev, unsigned bar, enum pci_bar_type type, uint64_t size,
		bool prefetch)
{
	struct pci_bar *b;
	uint32_t bits;
	int ret = bar_check(dev, bar, type, size, prefetch);

	if (ret)
		return ret;
	b = &dev->bar[bar];
	*b = (struct pci_bar){ .type = type, .prefetch = prefetch, .size = size };
	if (type == PCI_BAR_IO) {
		/* Upper 16 bits hardwired to zero: x86 I/O space is 64 KiB (PCI 3.0 6.2.5.1). */
		pci_cfg_set32(dev, bar_reg(bar), PCI_BASE_ADDRESS_SPACE_IO);
		pci_cfg_set_wmask(dev, bar_reg(bar), 4, (uint32_t)~(size - 1) & 0xfffc);
		return 0;
	}
	bits = (type == PCI_BAR_MEM64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
	       (prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
	pci_cfg_set32(dev, bar_reg(bar), bits);
	/* The sizing protocol falls out of the mask: all-ones reads back ~(size-1) | type. */
	pci_cfg_set_wmask(dev, bar_reg(bar), 4, (uint32_t)~(size - 1) & ~0xfu);
	if (type == PCI_BAR_MEM64) {
		pci_cfg_set32(dev, bar_reg(bar + 1), 0);
		pci_cfg_set_wmask(dev, bar_reg(bar + 1), 4, (uint32_t)(~(size - 1) >> 32));
	}
	return 0;
}

uint64_t pci_bar_reg_addr(const struct pci_dev *dev, unsigned bar)
{
	const struct pci_bar *b = &dev->bar[bar];
	uint64_t addr;

	if (bar >= PCI_NR_BARS || b->type == PCI_BAR_NONE)
		return 0;
	addr = pci_cfg_get32(dev, bar_reg(bar)) & ~bar_type_bits_mask(b);
	if (b->type == PCI_BAR_MEM64)
		addr |= (uint64_t)pci_cfg_get32(dev, bar_reg(bar + 1)) << 32;
	return addr;
}

/* Stores @addr in the register(s), keeping the read-only type bits. */
static void bar_write_reg(struct pci_dev *dev, unsigned bar, uint64_t addr)
{
	const struct pci_bar *b = &dev->bar[bar];
	uint32_t type_bits = pci_cfg_get32(dev, bar_reg(bar)) & bar_type_bits_mask(b);

	pci_cfg_set32(dev, bar_reg(bar), type_bits | ((uint32_t)addr & ~bar_type_bits_mask(b)));
	if (b->type == PCI_BAR_MEM64)
		pci_cfg_set32(dev, bar_reg(bar + 1), (uint32_t)(addr >> 32));
}

int pci_bar_set_addr(struct pci_dev *dev, unsigned bar, uint64_t addr)
{
	struct pci_bar *b = bar < PCI_NR_BARS ? &dev->bar[bar] : NULL;
	uint64_t limit;

	if (!b || b->type == PCI_BAR_NONE || addr & (b->size - 1))
		return -EINVAL;
	limit = b->type == PCI_BAR_IO ? 0x10000 : b->type == PCI_BAR_MEM32 ? 1ULL << 32 : 0;
	if (limit && (addr >= limit || b->size > limit - addr))
		return -EINVAL;
	bar_write_reg(dev, bar, addr);
	b->addr = addr;
	b->probe_lo = b->probe_hi = b->hi_pending = false;
	return 0;
}

void pci_dev_mark_dirty(struct pci_dev *dev)
{
	dev->dirty = true;
	if (dev->seg)
		__atomic_store_n(&dev->seg->pending, 1, __ATOMIC_RELEASE);
}

void pci_bar_reg_written(struct pci_dev *dev, unsigned reg, bool probe)
{
	struct pci_bar *b;

	if (dev->bar[reg].type != PCI_BAR_NONE) {
		b = &dev->bar[reg];
		b->probe_lo = probe;
		/* A 64-bit BAR moves only once its high dword is written too (docs/pci.md). */
		if (!probe && b->type == PCI_BAR_MEM64)
			b->hi_pending = true;
	} else if (reg > 0 && dev->bar[reg - 1].type == PCI_BAR_MEM64) {
		b = &dev->bar[reg - 1];
		b->probe_hi = probe;
		if (!probe)
			b->hi_pending = false;
	} else {
		return;         /* unimplemented BAR: read-only zero */
	}
	pci_dev_mark_dirty(dev);
}

static uint16_t bar_decode_bit(const struct pci_bar *b)
{
	return b->type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
}

void pci_bar_command_written(struct pci_dev *dev, uint16_t old_cmd)
{
	uint16_t cmd = pci_cfg_get16(dev, PCI_COMMAND);
	unsigned i;

	if (!((old_cmd ^ cmd) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)))
		return;
	/* Enabling decode ends any half-programmed 64-bit BAR: use what is in the registers. */
	for (i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &dev->bar[i];

		if (b->type != PCI_BAR_NONE && (cmd & ~old_cmd & bar_decode_bit(b)))
			b->hi_pending = false;
	}
	pci_dev_mark_dirty(dev);
}

/* A snapshot of one BAR's guest programming, taken under the config lock. */
struct bar_plan {
	bool decode;     /* COMMAND enables this BAR's space */
	bool settled;    /* no size probe in flight, no high dword pending */
	uint64_t target; /* programmed address */
};

static void bar_plan(const struct pci_dev *dev, unsigned i, struct bar_plan *p)
{
	const struct pci_bar *b = &dev->bar[i];

	p->decode = pci_cfg_get16(dev, PCI_COMMAND) & bar_decode_bit(b);
	p->settled = !b->probe_lo && !b->probe_hi && !b->hi_pending;
	p->target = pci_bar_reg_addr(dev, i);
}

static int bar_map(struct pci_dev *dev, unsigned i)
{
	struct pci_bar *b = &dev->bar[i];
	const struct pci_bar_ops *ops = dev->bar_ops;
	int ret = ops && ops->map ? ops->map(dev->bar_ctx, dev, i, b->addr, b->size) : 0;

	if (ret) {
		pr_warn_ratelimited("pci %s: BAR%u map at 0x%" PRIx64 " failed: %d", dev->id, i,
				    b->addr, ret);
		return ret;
	}
	b->mapped = true;
	return 0;
}

static void bar_unmap(struct pci_dev *dev, unsigned i)
{
	struct pci_bar *b = &dev->bar[i];

	if (dev->bar_ops && dev->bar_ops->unmap)
		dev->bar_ops->unmap(dev->bar_ctx, dev, i, b->addr, b->size);
	b->mapped = false;
}

/* Without a move hook: unmap, map at the new address, and back on failure. */
static int bar_move_fallback(struct pci_dev *dev, unsigned i, uint64_t target)
{
	struct pci_bar *b = &dev->bar[i];
	uint64_t old = b->addr;
	int ret;

	if (!b->mapped)
		return 0;
	bar_unmap(dev, i);
	b->addr = target;
	ret = bar_map(dev, i);
	b->addr = old;
	if (ret)
		bar_map(dev, i);
	return ret;
}

/* Puts @old back in the register unless the guest has already written something else. */
static void bar_rollback(struct pci_dev *dev, unsigned i, uint64_t target, uint64_t old)
{
	pthread_mutex_lock(&dev->seg->lock);
	if (pci_bar_reg_addr(dev, i) == target)
		bar_write_reg(dev, i, old);
	pthread_mutex_unlock(&dev->seg->lock);
}

static int bar_move(struct pci_dev *dev, unsigned i, uint64_t target)
{
	struct pci_bar *b = &dev->bar[i];
	const struct pci_bar_ops *ops = dev->bar_ops;
	int ret;

	if (ops && ops->move)
		ret = ops->move(dev->bar_ctx, dev, i, b->addr, target, b->size, b->mapped);
	else
		ret = bar_move_fallback(dev, i, target);
	if (ret) {
		pr_warn_ratelimited("pci %s: BAR%u move 0x%" PRIx64 " -> 0x%" PRIx64
				    " failed (%d), register rolled back", dev->id, i, b->addr,
				    target, ret);
		bar_rollback(dev, i, target, b->addr);
		return ret;
	}
	b->addr = target;
	return 0;
}

/*
 * Decode off: unmap (the placement is kept, a new address waits for decode on). Mid-probe
 * or half-programmed 64-bit: nothing but that. Otherwise move to the programmed address if
 * it changed, then map if not mapped; a failed move leaves the BAR mapped at the old address.
 */
static int bar_apply(struct pci_dev *dev, unsigned i, const struct bar_plan *p)
{
	struct pci_bar *b = &dev->bar[i];
	int ret = 0;

	if (!p->decode || !p->settled) {
		if (!p->decode && b->mapped)
			bar_unmap(dev, i);
		return 0;
	}
	if (p->target != b->addr)
		ret = bar_move(dev, i, p->target);
	if (!b->mapped) {
		int r = bar_map(dev, i);

		ret = ret ? ret : r;
	}
	return ret;
}

int pci_dev_apply(struct pci_dev *dev)
{
	struct bar_plan plan[PCI_NR_BARS];
	bool dirty;
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&dev->seg->lock);
	dirty = dev->dirty;
	dev->dirty = false;
	for (i = 0; dirty && i < PCI_NR_BARS; i++)
		if (dev->bar[i].type != PCI_BAR_NONE)
			bar_plan(dev, i, &plan[i]);
	pthread_mutex_unlock(&dev->seg->lock);

	for (i = 0; dirty && i < PCI_NR_BARS; i++) {
		if (dev->bar[i].type != PCI_BAR_NONE) {
			int r = bar_apply(dev, i, &plan[i]);

			ret = ret ? ret : r;
		}
	}
	return ret;
}

void pci_dev_unmap_all(struct pci_dev *dev)
{
	unsigned i;

	for (i = 0; i < PCI_NR_BARS; i++)
		if (dev->bar[i].type != PCI_BAR_NONE && dev->bar[i].mapped)
			bar_unmap(dev, i);
}

int pci_dev_bar_info(struct pci_dev *dev, unsigned bar, struct pci_bar_info *info)
{
	const struct pci_bar *b;

	if (bar >= PCI_NR_BARS || dev->bar[bar].type == PCI_BAR_NONE)
		return -EINVAL;
	if (dev->seg)
		pthread_mutex_lock(&dev->seg->apply_lock);
	b = &dev->bar[bar];
	*info = (struct pci_bar_info){ b->type, b->prefetch, b->mapped, b->addr, b->size };
	if (dev->seg)
		pthread_mutex_unlock(&dev->seg->apply_lock);
	return 0;
}
