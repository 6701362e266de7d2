/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The architecture seam: the one header the layers above arch/ include. Each arch/<arch>/
 * provides, under the same names (docs/architecture.md, docs/aarch64.md):
 *   memory layout   layout.h (LAYOUT_RAM..., LAYOUT_PCI_MMIO32_*, LAYOUT_PCI_ECAM_*, IO window),
 *                   arch_ram_regions(), arch_guest_mem_init[_shared](), arch_mmio64_window(),
 *                   arch_host_phys_bits()
 *   kernel loading  struct boot_request / boot_info, arch_check_kernel(), arch_load_kernel()
 *   vCPU            arch_vcpu_init() (x86: CPUID + MSRs; arm64: KVM_ARM_VCPU_INIT + PSCI),
 *                   arch_vcpu_set_boot_regs(), arch_vcpu_dump()
 *   boot tables     x86: ACPI (acpi.h) + zero page; arm64: the device tree (fdt.h)
 *   interrupts      x86: in-kernel IOAPIC/PIC, MSI by address/data; arm64: vGICv3 + ITS,
 *                   MSI routes carry the PCI requester ID as the ITS device ID
 * vm/board_<arch>.c puts them together into a VM (vm/board.h).
 */
#ifndef VIREO_ARCH_ARCH_H
#define VIREO_ARCH_ARCH_H

#if defined(__x86_64__)
#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"
#define ARCH_MSI_DEVID 0      /* MSI routes are address/data only */
#elif defined(__aarch64__)
#include "arch/aarch64/arch.h"
#include "arch/aarch64/layout.h"
#define ARCH_MSI_DEVID 1      /* the ITS needs the device ID with every MSI route */
#else
#error "vireo runs on x86_64 and aarch64"
#endif

#endif
