/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest-physical memory map of an x86_64 vireo VM: every fixed address lives here.
 *
 *   0x0000_0500  GDT (null, null, code 0x10, data 0x18, TSS 0x20), IDT at 0x540
 *   0x0000_6000  PVH hvm_start_info, module list at 0x6040
 *   0x0000_7000  zero page (bzImage) or PVH memory map
 *   0x0000_8ff0  boot stack top
 *   0x0000_9000  PML4, PDPT at 0xa000, PD at 0xb000 (identity map of 1 GiB)
 *   0x0002_0000  kernel command line (up to 64 KiB)
 *   0x000a_0000  legacy hole, e820-reserved up to 1 MiB
 *   0x000e_0000  ACPI: RSDP first (BIOS scan area, ACPI 6.x 5.2.5.1), tables after it
 *   0x000f_fff0  reset vector stub (F000:FFF0): a restart through "the BIOS" resets the VM
 *   0x0010_0000  kernel load address
 *   0xc000_0000  32-bit MMIO hole (1 GiB, never backed by RAM)
 *     0xc000_0000  PCI 32-bit BAR window (640 MiB)
 *     0xe800_0000  PCI ECAM (256 MiB; with several segments, segment s at + s MiB)
 *     0xfeb0_0000  ACPI Generic Event Device register block (4 KiB reserved)
 *     0xfeb0_1000  ACPI CPU hotplug register block (4 KiB reserved)
 *     0xfeb0_2000  ACPI PCI hotplug registers (4 KiB reserved)
 *     0xfec0_0000  IOAPIC, 0xfee0_0000 LAPIC
 *     0xfffb_c000  KVM identity map page, TSS at 0xfffb_d000 (3 pages)
 *   0x1_0000_0000 RAM that does not fit below the hole
 */
#ifndef VIREO_ARCH_X86_64_LAYOUT_H
#define VIREO_ARCH_X86_64_LAYOUT_H

#define LAYOUT_GDT_START          0x500ULL
#define LAYOUT_IDT_START          0x540ULL   /* after a 5-entry GDT */
#define LAYOUT_PVH_INFO_START     0x6000ULL
#define LAYOUT_PVH_MODLIST_START  0x6040ULL
#define LAYOUT_ZERO_PAGE_START    0x7000ULL
#define LAYOUT_PVH_MEMMAP_START   0x7000ULL
#define LAYOUT_PVH_MEMMAP_MAX     ((0x8000ULL - 0x7000ULL) / 24)
#define LAYOUT_BOOT_STACK_POINTER 0x8ff0ULL
#define LAYOUT_PML4_START         0x9000ULL
#define LAYOUT_PDPT_START         0xa000ULL
#define LAYOUT_PD_START           0xb000ULL
#define LAYOUT_CMDLINE_START      0x20000ULL
#define LAYOUT_CMDLINE_MAX        0x10000ULL

#define LAYOUT_EBDA_START         0xa0000ULL   /* legacy hole starts here */
#define LAYOUT_ACPI_START         0xe0000ULL   /* RSDP, then the tables */
#define LAYOUT_ACPI_SIZE          0x1fff0ULL   /* up to the reset vector */
#define LAYOUT_RESET_VECTOR       0xffff0ULL
#define LAYOUT_HIGH_RAM_START     0x100000ULL  /* kernel load address */

#define LAYOUT_MEM_32BIT_GAP_START 0xc0000000ULL
#define LAYOUT_MEM_32BIT_GAP_SIZE  0x40000000ULL
#define LAYOUT_PCI_MMIO32_START   0xc0000000ULL
#define LAYOUT_PCI_MMIO32_SIZE    0x28000000ULL
#define LAYOUT_PCI_ECAM_START     0xe8000000ULL
#define LAYOUT_PCI_ECAM_SIZE      0x10000000ULL
/* The GED's event register (vmm/ged.c, docs/boot.md): between the ECAM and the IOAPIC. */
#define LAYOUT_GED_START          0xfeb00000ULL
#define LAYOUT_GED_SIZE           0x1000ULL
/* The CPU hotplug registers (platform/cpu_hotplug.h, docs/hotplug-cpu.md). */
#define LAYOUT_CPU_HOTPLUG_START  0xfeb01000ULL
#define LAYOUT_CPU_HOTPLUG_SIZE   0x1000ULL
/* ACPI PCI hotplug registers (pci/hotplug.h, \_SB_.PHPR), after the CPU hotplug page. */
#define LAYOUT_PCI_HOTPLUG_START  0xfeb02000ULL
#define LAYOUT_PCI_HOTPLUG_SIZE   0x1000ULL
#define LAYOUT_IOAPIC_START       0xfec00000ULL
#define LAYOUT_LAPIC_START        0xfee00000ULL
#define LAYOUT_KVM_IDENTITY_MAP   0xfffbc000ULL
#define LAYOUT_KVM_TSS            0xfffbd000ULL
#define LAYOUT_RAM_64BIT_START    0x100000000ULL
/* The 64-bit PCI window starts at the first GiB boundary above RAM (arch_mmio64_window). */
#define LAYOUT_PCI_MMIO64_ALIGN   0x40000000ULL
#define LAYOUT_PCI_MMIO64_MIN     LAYOUT_RAM_64BIT_START   /* never below 4 GiB */
#define LAYOUT_PCI_MMIO64_MAX     (256ULL << 30)
#define LAYOUT_PCI_IO_START       0x1000
#define LAYOUT_PCI_IO_SIZE        0xf000

/* Legacy I/O ports and ISA interrupts. */
#define LAYOUT_COM1_PORT          0x3f8
#define LAYOUT_COM1_GSI           4
#define LAYOUT_GED_GSI            5      /* the GED's edge interrupt (IOAPIC pin 5) */
#define LAYOUT_I8042_PORT         0x60   /* data 0x60, command/status 0x64 */
#define LAYOUT_CMOS_PORT          0x70   /* index 0x70, data 0x71 */
#define LAYOUT_DEBUG_PORT         0x80
/*
 * The hardware-reduced ACPI registers (ACPI 6.x 4.8.3.6-7, 5.2.9 RESET_REG):
 * SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG, one byte each.
 */
#define LAYOUT_ACPI_PM_PORT       0x600
#define LAYOUT_ACPI_SLEEP_CTL     0x600
#define LAYOUT_ACPI_SLEEP_STS     0x601
#define LAYOUT_ACPI_RESET         0x602
#define LAYOUT_ACPI_PM_LEN        3
#define LAYOUT_ACPI_RESET_VALUE   0x01
#define LAYOUT_ACPI_SLP_TYP_S5    5      /* _S5 package value, SLP_TYPx in bits 4:2 */

#endif
