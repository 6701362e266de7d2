// SPDX-License-Identifier: Apache-2.0
/*
 * The KVM GSI routing table as a pure function. KVM_SET_GSI_ROUTING replaces the whole table,
 * including the default legacy entries the in-kernel irqchip installed (api.rst; 6.1
 * arch/x86/kvm/irq_comm.c default_routing), so every push must carry them again or the
 * legacy interrupts (COM1 on GSI 4) die.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pci/msix.h"

struct kvm_irq_routing_entry kvm_routing_irqchip(uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry e;

	memset(&e, 0, sizeof(e));
	e.gsi = gsi;
	e.type = KVM_IRQ_ROUTING_IRQCHIP;
	e.u.irqchip.irqchip = chip;
	e.u.irqchip.pin = pin;
	return e;
}

#if defined(__x86_64__)   /* arm64: vm/board_aarch64.c routes GSIs 0-23 to SPIs */
unsigned kvm_routing_default_legacy(struct kvm_irq_routing_entry out[KVM_LEGACY_ROUTES])
{
	unsigned n = 0;
	uint32_t gsi;

	for (gsi = 0; gsi < 24; gsi++) {
		out[n++] = kvm_routing_irqchip(gsi, KVM_IRQCHIP_IOAPIC, gsi);
		/* ISA IRQs 0-15 also reach the 8259 pair: master 0-7, slave 8-15. */
		if (gsi < 16)
			out[n++] = kvm_routing_irqchip(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
						 KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
	}
	return n;
}
#endif

static bool gsi_in_legacy(const struct kvm_irq_routing_entry *legacy, unsigned nr,
			  uint32_t gsi)
{
	unsigned i;

	for (i = 0; i < nr; i++)
		if (legacy[i].gsi == gsi)
			return true;
	return false;
}

/* MSI GSIs in [24, 4096), unique, disjoint from legacy; returns how many are unmasked. */
static int check_routes(const struct kvm_irq_routing_entry *legacy, unsigned nr_legacy,
			const struct msi_route *routes, unsigned nr)
{
	unsigned i, j, live = 0;

	for (i = 0; i < nr; i++) {
		if (routes[i].gsi < 24 || routes[i].gsi >= KVM_MAX_ROUTES ||
		    gsi_in_legacy(legacy, nr_legacy, routes[i].gsi))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (routes[j].gsi == routes[i].gsi)
				return -EINVAL;
		live += !routes[i].masked;
	}
	return (int)live;
}

int kvm_routing_build(const struct kvm_irq_routing_entry *legacy, unsigned nr_legacy,
		      const struct msi_route *routes, unsigned nr_routes,
		      struct kvm_irq_routing **out)
{
	struct kvm_irq_routing *t;
	unsigned i, n;
	int live;

	if (nr_legacy > KVM_MAX_ROUTES || nr_routes > KVM_MAX_ROUTES)
		return -E2BIG;
	live = check_routes(legacy, nr_legacy, routes, nr_routes);
	if (live < 0)
		return live;
	if (nr_legacy + (unsigned)live > KVM_MAX_ROUTES)
		return -E2BIG;
	t = calloc(1, sizeof(*t) + (nr_legacy + (unsigned)live) * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	memcpy(t->entries, legacy, nr_legacy * sizeof(t->entries[0]));
	n = nr_legacy;
	for (i = 0; i < nr_routes; i++) {
		struct kvm_irq_routing_entry *e = &t->entries[n];

		if (routes[i].masked)
			continue;
		e->gsi = routes[i].gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)routes[i].addr;
		e->u.msi.address_hi = (uint32_t)(routes[i].addr >> 32);
		e->u.msi.data = routes[i].data;
		if (routes[i].has_devid) {
			e->flags = KVM_MSI_VALID_DEVID;
			e->u.msi.devid = routes[i].devid;
		}
		n++;
	}
	t->nr = n;
	t->flags = 0;
	*out = t;
	return 0;
}
