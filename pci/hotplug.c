// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI PCI hotplug register block (pci/hotplug.h): pending "device added" and "please
 * eject" bits per segment, the segment selector, and the eject register, with a defined
 * answer to every hostile access. Layout and AML contract: docs/pci.md, "Hotplug".
 */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "pci/hotplug.h"
#include "pci/pci.h"

int pci_hotplug_init(struct pci_hotplug *hp, unsigned nr_segs, const struct pci_hotplug_ops *ops,
		     void *ctx)
{
	if (!nr_segs || nr_segs > PCI_HP_MAX_SEGMENTS)
		return -EINVAL;
	memset(hp, 0, sizeof(*hp));
	if (pthread_mutex_init(&hp->lock, NULL))
		return -ENOMEM;
	hp->nr_segs = nr_segs;
	hp->ops = ops;
	hp->ctx = ctx;
	return 0;
}

void pci_hotplug_destroy(struct pci_hotplug *hp)
{
	if (hp->nr_segs)
		pthread_mutex_destroy(&hp->lock);
	hp->nr_segs = 0;
}

static bool slot_ok(const struct pci_hotplug *hp, unsigned seg, unsigned slot)
{
	return seg < hp->nr_segs && slot > 0 && slot < PCI_NR_SLOTS;
}

int pci_hotplug_plug(struct pci_hotplug *hp, unsigned seg, unsigned slot, bool removable,
		     bool announce)
{
	uint32_t bit = 1u << slot;

	if (!slot_ok(hp, seg, slot))
		return -EINVAL;
	pthread_mutex_lock(&hp->lock);
	hp->removable[seg] = removable ? hp->removable[seg] | bit : hp->removable[seg] & ~bit;
	hp->ejected[seg] &= ~bit;
	hp->down[seg] &= ~bit;
	if (announce)
		hp->up[seg] |= bit;
	pthread_mutex_unlock(&hp->lock);
	return 0;
}

int pci_hotplug_request_eject(struct pci_hotplug *hp, unsigned seg, unsigned slot)
{
	uint32_t bit = 1u << slot;
	int ret = -ENOENT;

	if (!slot_ok(hp, seg, slot))
		return -EINVAL;
	pthread_mutex_lock(&hp->lock);
	if (hp->removable[seg] & bit) {
		hp->down[seg] |= bit;
		hp->up[seg] &= ~bit;   /* an add the guest never saw is not announced after this */
		ret = 0;
	}
	pthread_mutex_unlock(&hp->lock);
	return ret;
}

uint32_t pci_hotplug_reap(struct pci_hotplug *hp, unsigned seg)
{
	uint32_t slots;

	if (seg >= hp->nr_segs)
		return 0;
	pthread_mutex_lock(&hp->lock);
	slots = hp->ejected[seg];
	hp->ejected[seg] = 0;
	pthread_mutex_unlock(&hp->lock);
	return slots;
}

int pci_hotplug_get_pending(struct pci_hotplug *hp, struct pci_hotplug_pending *p)
{
	int ret = 0;

	memset(p, 0, sizeof(*p));
	pthread_mutex_lock(&hp->lock);
	p->sel = hp->sel;
	for (unsigned s = 0; s < hp->nr_segs; s++) {
		p->up[s] = hp->up[s];
		p->down[s] = hp->down[s];
		if (hp->ejected[s])
			ret = -EBUSY;
	}
	pthread_mutex_unlock(&hp->lock);
	return ret;
}

int pci_hotplug_set_pending(struct pci_hotplug *hp, const struct pci_hotplug_pending *p)
{
	int ret = p->sel < hp->nr_segs ? 0 : -EINVAL;

	pthread_mutex_lock(&hp->lock);
	for (unsigned s = 0; s < PCI_HP_MAX_SEGMENTS; s++) {
		uint32_t allowed = s < hp->nr_segs ? hp->removable[s] : 0;

		if ((p->up[s] | p->down[s]) & ~allowed)
			ret = -EINVAL;
	}
	if (!ret) {
		hp->sel = p->sel;
		memcpy(hp->up, p->up, sizeof(hp->up));
		memcpy(hp->down, p->down, sizeof(hp->down));
	}
	pthread_mutex_unlock(&hp->lock);
	return ret;
}

uint64_t pci_hotplug_bad(struct pci_hotplug *hp, enum pci_hp_bad why)
{
	return why < PCI_HP_NR_BAD ? __atomic_load_n(&hp->bad[why], __ATOMIC_RELAXED) : 0;
}

static void refuse(struct pci_hotplug *hp, enum pci_hp_bad why, const char *what,
		   uint64_t off, unsigned len, uint32_t val)
{
	__atomic_add_fetch(&hp->bad[why], 1, __ATOMIC_RELAXED);
	pr_warn_ratelimited("pci hotplug: %s (offset 0x%llx, %u bytes, value 0x%x) ignored", what,
			    (unsigned long long)off, len, val);
}

static uint32_t take(uint32_t *bits)
{
	uint32_t v = *bits;

	*bits = 0;
	return v;
}

/* Only aligned dwords are defined (the AML's fields are DWordAcc); anything else reads 0. */
static void hp_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci_hotplug *hp = opaque;
	uint32_t val = 0;

	memset(data, 0, len);
	if (len != 4 || off & 3 || off >= PCI_HP_REG_SIZE) {
		refuse(hp, PCI_HP_BAD_ACCESS, "read of an undefined size or offset", off, len, 0);
		return;
	}
	pthread_mutex_lock(&hp->lock);
	if (off == PCI_HP_REG_PCIU)
		val = take(&hp->up[hp->sel]);
	else if (off == PCI_HP_REG_PCID)
		val = take(&hp->down[hp->sel]);
	else if (off == PCI_HP_REG_PSEG)
		val = hp->sel;
	pthread_mutex_unlock(&hp->lock);
	memcpy(data, &val, sizeof(val));
}

/* B0EJ: each set bit must name a removable slot not already ejected; the rest are refused. */
static void hp_eject(struct pci_hotplug *hp, uint32_t val)
{
	unsigned seg;
	uint32_t ok;

	pthread_mutex_lock(&hp->lock);
	seg = hp->sel;
	ok = val & hp->removable[seg] & ~hp->ejected[seg];
	hp->ejected[seg] |= ok;
	hp->removable[seg] &= ~ok;
	hp->down[seg] &= ~ok;
	pthread_mutex_unlock(&hp->lock);
	if (val & ~ok)
		refuse(hp, PCI_HP_BAD_EJECT, "eject of slot 0, an empty or fixed slot, or again",
		       PCI_HP_REG_B0EJ, 4, val & ~ok);
	if (ok && hp->ops && hp->ops->eject)
		hp->ops->eject(hp->ctx, seg, ok);
}

static void hp_write(void *opaque, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pci_hotplug *hp = opaque;
	uint32_t val = 0;

	memcpy(&val, data, len < 4 ? len : 4);
	if (len != 4 || off & 3 || off >= PCI_HP_REG_SIZE || off == PCI_HP_REG_PCIU ||
	    off == PCI_HP_REG_PCID) {
		refuse(hp, PCI_HP_BAD_ACCESS, "write of an undefined size or offset, or to PCIU/PCID",
		       off, len, val);
		return;
	}
	if (off == PCI_HP_REG_B0EJ) {
		hp_eject(hp, val);
		return;
	}
	if (val >= hp->nr_segs) {
		refuse(hp, PCI_HP_BAD_SEGMENT, "PSEG names a segment that does not exist", off, len,
		       val);
		return;
	}
	pthread_mutex_lock(&hp->lock);
	hp->sel = val;
	pthread_mutex_unlock(&hp->lock);
}

const struct bus_device_ops pci_hotplug_bus_ops = {
	.read = hp_read,
	.write = hp_write,
};
