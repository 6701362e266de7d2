/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest-physical memory map of an aarch64 vireo VM: every fixed address lives here. The low
 * GiB is devices (the GIC and UART where QEMU's virt board has them), RAM starts at 1 GiB.
 *
 *   0x0800_0000  GICv3 distributor (64 KiB)
 *   0x0808_0000  GICv3 ITS (128 KiB: control and translation frames)
 *   0x080a_0000  GICv3 redistributors, 128 KiB per vCPU (room for 123)
 *   0x0900_0000  16550 UART (4 KiB, registers 1 byte apart)
 *   0x1000_0000  PCI 32-bit BAR window (512 MiB)
 *   0x3000_0000  PCI ECAM (256 MiB, buses 0-255)
 *   0x4000_0000  RAM: kernel Image at its text_offset from the start; initramfs and DTB at
 *                the top (the DTB in the last 2 MiB, booting.rst)
 *   above RAM    PCI 64-bit BAR window, from the first GiB boundary (arch_mmio64_window)
 */
#ifndef VIREO_ARCH_AARCH64_LAYOUT_H
#define VIREO_ARCH_AARCH64_LAYOUT_H

#define LAYOUT_GIC_DIST_START     0x08000000ULL
#define LAYOUT_GIC_DIST_SIZE      0x10000ULL
#define LAYOUT_GIC_ITS_START      0x08080000ULL
#define LAYOUT_GIC_ITS_SIZE       0x20000ULL
#define LAYOUT_GIC_REDIST_START   0x080a0000ULL
#define LAYOUT_GIC_REDIST_SIZE    0x20000ULL    /* per vCPU: RD_base and SGI_base frames */
#define LAYOUT_GIC_REDIST_MAX_CPUS 123          /* up to the UART */
#define LAYOUT_UART_START         0x09000000ULL
#define LAYOUT_UART_SIZE          0x1000ULL
/* The PCI hotplug registers exist on every board; without ACPI nothing announces them yet. */
#define LAYOUT_PCI_HOTPLUG_START  0x09010000ULL
#define LAYOUT_PCI_MMIO32_START   0x10000000ULL
#define LAYOUT_PCI_MMIO32_SIZE    0x20000000ULL
#define LAYOUT_PCI_ECAM_START     0x30000000ULL
#define LAYOUT_PCI_ECAM_SIZE      0x10000000ULL
#define LAYOUT_RAM_START          0x40000000ULL
#define LAYOUT_FDT_MAX            0x200000ULL   /* booting.rst: at most 2 MiB, 8-byte aligned */
#define LAYOUT_PCI_MMIO64_ALIGN   0x40000000ULL
#define LAYOUT_PCI_MMIO64_MIN     LAYOUT_RAM_START   /* above RAM anyway */
#define LAYOUT_PCI_MMIO64_MAX     (256ULL << 30)
/* No port I/O on arm64: vireo's I/O BAR allocator gets a window the FDT does not describe. */
#define LAYOUT_PCI_IO_START       0x1000
#define LAYOUT_PCI_IO_SIZE        0xf000

/*
 * Interrupts. GSIs are SPI numbers: KVM's irqchip routes on arm64 name the SPI (INTID - 32).
 * GSIs 0-23 are wired lines, as on x86 (PCI INTx of slot s: 16 + (s - 1) % 8).
 */
#define LAYOUT_UART_GSI           4
#define LAYOUT_PCI_INTX_FIRST_GSI 16
#define LAYOUT_GIC_NR_IRQS        256           /* INTIDs 0-255: 224 SPIs */
/* Arch timer PPIs (INTID - 16), as QEMU's virt and Cloud Hypervisor wire them. */
#define LAYOUT_PPI_TIMER_SEC      13
#define LAYOUT_PPI_TIMER_PHYS     14
#define LAYOUT_PPI_TIMER_VIRT     11
#define LAYOUT_PPI_TIMER_HYP      10
#define LAYOUT_PPI_VGIC_MAINT     9

#endif
