/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to vmm/pci_devices*.c: one PCI function vireo created, with its device model,
 * transport, interrupt sources and what survives a snapshot.
 */
#ifndef VIREO_VM_PCI_FN_H
#define VIREO_VM_PCI_FN_H

#include <cjson/cJSON.h>

#include "virtio/pci.h"
#include "vm/internal.h"

/* One PCI function: any virtio device, whatever its type, is wired the same way. */
struct vm_pci_fn {
	struct vm *vm;
	struct virtio_dev *dev;   /* the device; virtio_dev_destroy() frees it */
	struct virtio_pci vp;
	struct vm_msi_group msi;
	struct vm_intx intx;
	bool vp_ready;
	bool bar_reserved;        /* BAR0 holds a window reservation (freed with the function) */
	cJSON *counters_base;     /* counters at the snapshot this VM was restored from */
};

/*
 * A device type the configuration can ask for (vm/device_types.c): how many instances
 * @cfg has, and how to build instance @i with the PCI function id and slot it asks for.
 * The config -> device translation lives here, so devices take plain parameters.
 */
struct vm_device_spec {
	struct virtio_dev *dev;
	const char *id;
	int slot;                 /* -1: the first free one */
	unsigned seg;             /* PCI segment (pci_segment) */
};

struct vm_device_type {
	const char *name;         /* "disk", "net", "vsock": what vm_hotplug_add() names */
	unsigned (*count)(const struct vm_config *cfg);
	int (*create)(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
		      size_t errlen);
};

/* Every type, in the order their functions take slots (Cloud Hypervisor's). */
extern const struct vm_device_type *const vm_device_types[];

/* pci_devices.c: instance @i of @type built and plugged (last in vm->fns), and freed. */
int vm_add_fn(struct vm *vm, const struct vm_device_type *type, unsigned i, char *err,
	      size_t errlen);
void vm_pci_fn_free(struct vm_pci_fn *fn);

/* The PCI window (mmio32 or mmio64 allocator) holding @addr, or NULL. */
struct range_alloc *vm_bar_window(struct vm *vm, uint64_t addr);

#endif
