/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The board: what a VM is built of beyond RAM, PCI and the vCPU loop, per architecture
 * (vm/board_x86_64.c, vm/board_aarch64.c; the primitives are arch/arch.h). vm.c calls these
 * in this order; each returns 0 or -errno with one line in @err.
 */
#ifndef VIREO_VM_BOARD_H
#define VIREO_VM_BOARD_H

#include "vm/internal.h"

/* KVM capabilities this board needs beyond vm.c's common ones. */
int board_check_kvm(int kvm_fd, char *err, size_t errlen);
/*
 * The in-kernel interrupt controller (after the RAM slots, before any device). arm64 creates
 * the vCPUs here (vm_setup_vcpus()): its vGIC is initialised once they all exist, and no
 * irqfd can be bound before that.
 */
int board_setup_irqchip(struct vm *vm, char *err, size_t errlen);
/* The platform devices before PCI (the serial port and friends). */
int board_setup_devices(struct vm *vm, char *err, size_t errlen);
/* Platform devices after the PCI functions (x86: the ACPI GED), then the vCPUs on x86. */
int board_setup_late_devices(struct vm *vm, char *err, size_t errlen);
/* Before the vCPUs are created (vm_setup_vcpus()), and for each one. */
int board_vcpus_prepare(struct vm *vm, char *err, size_t errlen);
int board_vcpu_init(struct vm *vm, struct vcpu *vcpu);
/* Boot tables (ACPI or a device tree), the kernel and initramfs, the boot vCPU's registers. */
int board_boot(struct vm *vm, char *err, size_t errlen);
/* The wired interrupt lines every KVM_SET_GSI_ROUTING table carries again (vm/irq.c). */
unsigned board_legacy_routes(struct kvm_irq_routing_entry out[KVM_LEGACY_ROUTES]);
void board_destroy(struct vm *vm);

#endif
