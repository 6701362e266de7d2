/* SPDX-License-Identifier: Apache-2.0 */
/* Private glue between acpi.c and acpi_pci.c: DSDT parts, run in dsdt_parts[] order. */
#ifndef VIREO_ARCH_X86_64_ACPI_INTERNAL_H
#define VIREO_ARCH_X86_64_ACPI_INTERNAL_H

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/aml.h"

/* \_SB_.PHPR (hotplug registers), one \_SB_.PCnn host bridge per segment, \_SB_.MBRD. */
int acpi_dsdt_pci(struct aml *a, const struct acpi_platform *p);
/* \_SB_.PHPR.PSCN, after the host bridges whose PCNT methods it calls. */
int acpi_dsdt_pci_scan(struct aml *a, const struct acpi_platform *p);

#endif
