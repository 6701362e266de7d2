/* SPDX-License-Identifier: Apache-2.0 */
/* ACPI tables for an x86_64 vireo VM (ACPI 6.x chapter 5) and the AML writer behind the DSDT. */
#ifndef VIREO_ARCH_X86_64_ACPI_H
#define VIREO_ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * MADT type-0 Local APIC entries carry an 8-bit APIC ID and 0xff is the xAPIC broadcast ID, so
 * IDs 0-254 (255 vCPUs) is the most they describe; more would need x2APIC entries (type 9) and an
 * x2APIC-mode guest. acpi_build_tables() rejects more with -EINVAL.
 */
#define ACPI_MAX_CPUS 255
/* PCI INTA# of slot s is wired to GSI ACPI_PCI_INTX_FIRST_GSI + (s - 1) % 8 (_PRT). */
#define ACPI_PCI_INTX_FIRST_GSI 16

/* What the tables describe. Later issues extend it (PCI host bridge, MCFG, GED). */
/*
 * The PCI segments: ECAM and the host bridges' windows (MCFG, \_SB_.PCnn, \_SB_.MBRD), and the
 * hotplug register block (\_SB_.PHPR, docs/pci.md "Hotplug"). Segment s has its ECAM at
 * ecam_base + s * (bus_end + 1) MiB and the s-th equal share of each window
 * (acpi_pci_segment_windows); 0 segments means 1.
 */
#define ACPI_PCI_MAX_SEGMENTS 16
struct acpi_pci {
	bool present;
	uint64_t ecam_base;      /* 1 MiB per bus, buses 0..bus_end */
	uint8_t bus_end;
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
	unsigned nr_segments;
	uint32_t hotplug_base;   /* 0: no hotplug registers, no slot devices */
};

/* One segment's share: ECAM base and its 32-bit and 64-bit windows (2 MiB aligned). */
struct acpi_pci_windows {
	uint64_t ecam;
	uint64_t mmio32_base, mmio32_size;
	uint64_t mmio64_base, mmio64_size;
};
void acpi_pci_segment_windows(const struct acpi_pci *pci, unsigned seg,
			      struct acpi_pci_windows *w);

/*
 * Generic Event Device (\_SB_.GED_, ACPI 6.x 5.6.9): a read-to-clear event register of
 * @reg_size bytes at @base, an edge, active-high interrupt on @gsi, and the register bit that
 * means "power button pressed" (_EVT notifies \_SB_.PWRB with 0x80 for it).
 */
struct acpi_ged {
	bool present;
	uint32_t base, reg_size;
	uint32_t gsi;
	uint32_t power_button_bit;   /* a mask with one bit set */
	uint32_t cpu_hotplug_bit;    /* _EVT runs \_SB_.CPUS.CSCN for it; 0: none */
	uint32_t pci_hotplug_bit;    /* 0: none; else _EVT calls \_SB_.PHPR.PSCN for it */
};

/*
 * CPUs (arch/x86_64/acpi_cpu.c): nr_cpus possible ones, the first @nr_boot enabled in the MADT
 * and the rest online-capable; with @hotplug, \_SB_.CPUS holds a processor device per possible
 * CPU backed by the register block at @hotplug_base (platform/cpu_hotplug.h).
 */
struct acpi_cpus {
	unsigned nr_boot;            /* 0: all nr_cpus */
	const uint8_t *apic_ids;     /* nr_cpus entries; NULL: APIC ID = index */
	bool hotplug;
	uint32_t hotplug_base;
};

struct acpi_platform {
	unsigned nr_cpus;        /* one LAPIC per possible vCPU, UID = index */
	struct acpi_cpus cpus;
	struct acpi_pci pci;
	struct acpi_ged ged;
};

/*
 * Builds RSDP, XSDT, FADT, MADT and DSDT into @area, which the guest sees at @area_gpa
 * (@area_size bytes). The RSDP goes first so it lands in the BIOS scan range.
 * Returns 0 and the RSDP's guest address in *@rsdp_gpa; -EINVAL for a NULL pointer, @area_gpa
 * not 16-byte aligned or nr_cpus outside 1..ACPI_MAX_CPUS; -ENOSPC if the tables do not fit (no
 * byte past @area_size is written); -ENOMEM.
 */
int acpi_build_tables(const struct acpi_platform *p, uint8_t *area, uint64_t area_gpa,
		      size_t area_size, uint64_t *rsdp_gpa);

/* acpi_cpu.c: MADT entry of CPU @i (8 bytes, Processor Local APIC), and the DSDT's CPUs. */
struct aml;
void acpi_cpu_madt_lapic(const struct acpi_platform *p, unsigned i, uint8_t out[8]);
int acpi_dsdt_cpus(struct aml *a, const struct acpi_platform *p);

/* Sum of @len bytes mod 256: 0 for a table with a valid checksum. */
uint8_t acpi_checksum(const void *data, size_t len);

#endif
