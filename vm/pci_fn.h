/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to vmm/pci_devices*.c: one PCI function vireo created, with its device model,
 * transport, interrupt sources and what survives a snapshot.
 */
#ifndef VIREO_VM_PCI_FN_H
#define VIREO_VM_PCI_FN_H

#include <cjson/cJSON.h>

#include "virtio/virtio.h"
#include "vm/vm.h"

enum fn_kind { FN_CONSOLE, FN_BLK, FN_RNG };

struct vm_pci_fn {
	struct vm *vm;
	enum fn_kind kind;
	unsigned index;           /* FN_BLK: which cfg->disks[] */
	struct virtio_pci vp;
	struct vm_msi_group msi;
	struct vm_intx intx;
	bool vp_ready;
	void *model;              /* struct virtio_rng / virtio_console / virtio_blk */
	int own_fd;               /* rng source; -1 when none */
	cJSON *counters_base;     /* counters at the snapshot this VM was restored from */
};

/* The PCI window (mmio32 or mmio64 allocator) holding @addr, or NULL. */
struct range_alloc *vm_bar_window(struct vm *vm, uint64_t addr);

#endif
