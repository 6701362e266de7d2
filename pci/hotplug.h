/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI PCI hotplug register block, Cloud Hypervisor's layout: four little-endian dwords on the
 * MMIO bus that the DSDT's \_SB_.PHPR methods read and write (docs/pci.md, "Hotplug").
 *
 *   0x0 PCIU  read: slots added on the selected segment since the last read (clears them)
 *   0x4 PCID  read: slots the VMM asks the guest to eject (clears them)
 *   0x8 B0EJ  write: bit n = the guest ejected slot n of the selected segment; reads 0
 *   0xc PSEG  read/write: the selected segment
 *
 * Threads: the VMM thread announces and withdraws devices, a vCPU thread reads and writes the
 * registers (under the MMIO bus's read lock, so an accepted eject is only recorded: the ops'
 * eject hook must not touch a bus; the VMM reaps the slot later). One mutex covers the state.
 * Every access the layout does not define is ignored, counted and logged (rate-limited).
 */
#ifndef VIREO_PCI_HOTPLUG_H
#define VIREO_PCI_HOTPLUG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/bus.h"

#define PCI_HP_REG_PCIU   0x0
#define PCI_HP_REG_PCID   0x4
#define PCI_HP_REG_B0EJ   0x8
#define PCI_HP_REG_PSEG   0xc
#define PCI_HP_REG_SIZE   0x10
#define PCI_HP_MAX_SEGMENTS 16

struct pci_hotplug_ops {
	/* The guest ejected @slots (a mask) of segment @seg: record and wake the VMM only. */
	void (*eject)(void *ctx, unsigned seg, uint32_t slots);
};

/* Why a guest access was refused: the counters vm.counters shows. */
enum pci_hp_bad {
	PCI_HP_BAD_ACCESS,        /* size, offset or a write to a read-only register */
	PCI_HP_BAD_SEGMENT,       /* PSEG written with a segment that does not exist */
	PCI_HP_BAD_EJECT,         /* B0EJ bit for slot 0, an empty or fixed slot, or again */
	PCI_HP_NR_BAD,
};

struct pci_hotplug {
	pthread_mutex_t lock;
	unsigned nr_segs;
	uint32_t sel;                             /* PSEG */
	uint32_t up[PCI_HP_MAX_SEGMENTS];         /* PCIU, not yet read */
	uint32_t down[PCI_HP_MAX_SEGMENTS];       /* PCID, not yet read */
	uint32_t removable[PCI_HP_MAX_SEGMENTS];  /* slots the guest may eject */
	uint32_t ejected[PCI_HP_MAX_SEGMENTS];    /* ejected, not yet reaped by the VMM */
	uint64_t bad[PCI_HP_NR_BAD];              /* atomic */
	const struct pci_hotplug_ops *ops;
	void *ctx;
};

int pci_hotplug_init(struct pci_hotplug *hp, unsigned nr_segs, const struct pci_hotplug_ops *ops,
		     void *ctx);
void pci_hotplug_destroy(struct pci_hotplug *hp);

/*
 * VMM side. plug: @slot of @seg now holds a device (@removable: the guest may eject it);
 * @announce sets its PCIU bit (a device added at run time). request_eject: sets the PCID bit
 * of a removable slot (-ENOENT otherwise). reap: takes the ejected slots of @seg (a mask) and
 * forgets them: the VMM frees each device and its slot is free for the next plug.
 */
int pci_hotplug_plug(struct pci_hotplug *hp, unsigned seg, unsigned slot, bool removable,
		     bool announce);
int pci_hotplug_request_eject(struct pci_hotplug *hp, unsigned seg, unsigned slot);
uint32_t pci_hotplug_reap(struct pci_hotplug *hp, unsigned seg);
uint64_t pci_hotplug_bad(struct pci_hotplug *hp, enum pci_hp_bad why);

/*
 * Snapshots: what the guest has not read yet (docs/snapshot.md). get: -EBUSY while a slot the
 * guest ejected is not reaped yet (its device still exists). set, once the devices are plugged
 * again: -EINVAL for a selector past the last segment or a bit on a slot that holds no device
 * the guest may eject.
 */
struct pci_hotplug_pending {
	uint32_t sel;
	uint32_t up[PCI_HP_MAX_SEGMENTS], down[PCI_HP_MAX_SEGMENTS];
};
int pci_hotplug_get_pending(struct pci_hotplug *hp, struct pci_hotplug_pending *p);
int pci_hotplug_set_pending(struct pci_hotplug *hp, const struct pci_hotplug_pending *p);

/* Guest side, opaque = the struct pci_hotplug. */
extern const struct bus_device_ops pci_hotplug_bus_ops;

#endif
