/* SPDX-License-Identifier: Apache-2.0 */
/* Private to vm/: interrupt sources, vCPU threads, the device and platform sections. */
#ifndef VIREO_VM_INTERNAL_H
#define VIREO_VM_INTERNAL_H

#include "vm/vm.h"

/*
 * Interrupt sources of one PCI function (vm/irq.c). MSI-X: one eventfd + GSI per vector, bound
 * with KVM_IRQFD while the vector is routed; the route's address/data live here and the VM's
 * routing table is rebuilt from every group. INTx: a level pin with a resample eventfd.
 */
struct vm_msi_group {
	struct vm *vm;
	unsigned nr;
	uint32_t *gsi;
	int *fd;
	bool *assigned;             /* irqfd bound */
	struct msi_route *route;    /* .masked = no route */
	uint32_t devid;             /* PCI requester ID: the ITS device ID on arm64 */
	uint64_t signalled;         /* atomic: vectors delivered (irqfd written) */
};

struct vm_intx {
	struct vm *vm;
	uint32_t gsi;
	int fd, resample_fd;
	void (*resample)(void *ctx);
	void *ctx;
	uint64_t raised;            /* atomic: line assertions */
};


/* irq.c */
int vm_irq_init(struct vm *vm);
void vm_irq_destroy(struct vm *vm);
extern const struct msix_irq_ops vm_msix_irq_ops;   /* ctx = struct vm_msi_group */
int vm_msi_group_init(struct vm *vm, struct vm_msi_group *g, unsigned nr);
void vm_msi_group_destroy(struct vm_msi_group *g);
/* A level INTx pin at @gsi with KVM resampling; @resample runs on EOI (vm_irq_poll). */
int vm_intx_init(struct vm *vm, struct vm_intx *x, uint32_t gsi, void (*resample)(void *),
		 void *ctx);
void vm_intx_destroy(struct vm_intx *x);
int vm_intx_raise(void *ctx);                        /* ctx = struct vm_intx */

/* pci_segments.c: segments, shared allocators, hotplug registers (docs/pci.md). */
struct acpi_pci;
int vm_setup_pci_segments(struct vm *vm, char *err, size_t errlen);
void vm_destroy_pci_segments(struct vm *vm);
/* What the ACPI tables say about the segments (and vm_bar_alloc divides the same way). */
void vm_pci_acpi(const struct vm *vm, struct acpi_pci *out);
/* Runs every segment's pending BAR work (docs/pci.md, deferred apply); 0 or first error. */
int vm_pci_apply(struct vm *vm);
/* A BAR of @size inside segment @seg's share of the 64-bit window, and its release. */
int vm_bar_alloc(struct vm *vm, unsigned seg, uint64_t size, uint64_t *addr);
void vm_bar_free(struct vm *vm, uint64_t addr);

/* pci_devices.c: the virtio-pci functions of the config (console, rng). */
int vm_setup_pci_devices(struct vm *vm, char *err, size_t errlen);
void vm_destroy_pci_devices(struct vm *vm);
/* Device sections of state.json (vm/pci_devices_state.c); the VM paused, devices quiesced. */
int vm_save_pci_devices(struct vm *vm, struct cJSON *state, char *err, size_t errlen);
int vm_restore_pci_devices(struct vm *vm, const struct cJSON *state, char *err, size_t errlen);

/* platform_snap.c: COM1, CMOS, GED as state.json devices "__serial", "__cmos", "__ged". */
int vm_save_platform(struct vm *vm, struct cJSON *state, char *err, size_t errlen);
int vm_restore_platform(struct vm *vm, const struct cJSON *state, char *err, size_t errlen);
bool vm_platform_device_id(const char *id);

/* vm.c: for the boards (vm/board_<arch>.c) */
struct vm_kvm_cap {
	unsigned cap;
	const char *name;          /* "IRQCHIP" for KVM_CAP_IRQCHIP */
};
/* Every @caps is there (KVM_CHECK_EXTENSION > 0), or -ENOTSUP naming the first missing one. */
int vm_check_caps(int kvm_fd, const struct vm_kvm_cap *caps, unsigned nr, char *err,
		  size_t errlen);
/* An eventfd bound to @gsi with KVM_IRQFD: a write pulses the line (edge). fd or -errno. */
int vm_irqfd(struct vm *vm, unsigned gsi);
/* Creates the vCPUs (the board decides when: board_setup_irqchip or _late_devices). */
int vm_setup_vcpus(struct vm *vm, char *err, size_t errlen);
/* The platform devices' poweroff/reset requests (struct platform_notifier). */
void vm_platform_notify(void *ctx, enum platform_event event);

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id);
int vcpu_start(struct vcpu *vcpu);
/* Interrupts KVM_RUN on @vcpu's thread (it then checks vm->stop, vcpu->stop, pause). */
void vcpu_kick(struct vcpu *vcpu);

/* vcpu_hotplug.c: the register block on the MMIO bus; ejected vCPUs' threads joined. */
int vm_setup_cpu_hotplug(struct vm *vm, uint64_t base, char *err, size_t errlen);
void vm_destroy_cpu_hotplug(struct vm *vm);
void vcpus_stop(struct vm *vm);
void vcpu_destroy(struct vcpu *vcpu);

#endif
