// SPDX-License-Identifier: Apache-2.0
/*
 * The DSDT's PCI part: one host bridge per segment (PCI Firmware 3.x 4.1.1) and, with
 * hotplug, Cloud Hypervisor's ACPI hotplug scheme: a slot device per slot with _ADR, _SUN and
 * _EJ0, a PCNT method per bridge that notifies the slots the registers name, and
 * \_SB_.PHPR with the registers (pci/hotplug.h) and the methods both go through. Contract and
 * register layout: docs/pci.md, "Hotplug".
 */
#include <stdio.h>

#include "arch/x86_64/acpi_internal.h"


/* ACPI 6.x 5.6.6 / 6.3.5: Notify values a slot gets. */
#define NOTIFY_DEVICE_CHECK   1
#define NOTIFY_EJECT_REQUEST  3

static unsigned nr_segments(const struct acpi_pci *pci)
{
	return pci->nr_segments ? pci->nr_segments : 1;
}

static void res_window(struct aml *a, uint8_t type, uint64_t base, uint64_t size)
{
	struct aml_addr_space w = {
		.type = type,
		.flags = AML_ADDR_MIN_FIXED | AML_ADDR_MAX_FIXED,
		/* I/O: _RNG = 3, the window decodes ISA and non-ISA ranges (6.4.3.5.5). */
		.type_flags = type == AML_SPACE_MEMORY ? AML_MEM_RW : type == AML_SPACE_IO ? 3 : 0,
		.min = base, .max = base + size - 1, .length = size,
	};

	if (type == AML_SPACE_MEMORY && base + size - 1 > UINT32_MAX)
		aml_res_qword_space(a, &w);
	else if (type == AML_SPACE_MEMORY)
		aml_res_dword_space(a, &w);
	else
		aml_res_word_space(a, &w);
}

/*
 * _PRT (ACPI 6.x 6.2.13): INTA# of slot s goes straight to GSI 16 + (s - 1) % 8, a pin
 * Linux then programs level/active-low. Static, so it holds for any set of devices; vireo's
 * functions use INTA# only (pci_devices.c picks the same GSI).
 */
static void dsdt_pci_prt(struct aml *a)
{
	aml_name(a, "_PRT");
	aml_begin_package(a);
	for (unsigned slot = 1; slot < 32; slot++) {
		aml_begin_package(a);
		aml_integer(a, (uint64_t)slot << 16 | 0xffff);   /* _ADR: any function */
		aml_integer(a, 0);                               /* INTA# */
		aml_integer(a, 0);                               /* Source: a GSI, not a link */
		aml_integer(a, ACPI_PCI_INTX_FIRST_GSI + (slot - 1) % 8);
		aml_end(a);
	}
	aml_end(a);
}

/* Bus numbers, the CF8/CFC ports and I/O windows (segment 0 only), the memory windows. */
static void dsdt_pci_crs(struct aml *a, const struct acpi_pci *pci, unsigned seg)
{
	struct acpi_pci_windows w;

	acpi_pci_segment_windows(pci, seg, &w);
	aml_name(a, "_CRS");
	aml_begin_resource_template(a);
	res_window(a, AML_SPACE_BUS, 0, (uint64_t)pci->bus_end + 1);
	if (seg == 0) {
		aml_res_io(a, 0xcf8, 0xcf8, 1, 8);
		res_window(a, AML_SPACE_IO, 0, 0xcf8);
		res_window(a, AML_SPACE_IO, 0xd00, 0x10000 - 0xd00);
	}
	res_window(a, AML_SPACE_MEMORY, w.mmio32_base, w.mmio32_size);
	if (w.mmio64_size)
		res_window(a, AML_SPACE_MEMORY, w.mmio64_base, w.mmio64_size);
	aml_end(a);
}

/*
 * Device (SLnn) { _ADR; _SUN; Method (_EJ0, 1) { \_SB_.PHPR.PCEJ (seg, 1 << nn) } } for
 * every slot but the host bridge's: Linux's acpiphp takes each as a hotplug slot (it has
 * _EJ0), names it by _SUN, and runs _EJ0 once it has removed the function.
 */
static void dsdt_pci_slots(struct aml *a, unsigned seg)
{
	char name[8];

	for (unsigned s = 1; s < 32; s++) {
		snprintf(name, sizeof(name), "SL%02X", s & 0xff);
		aml_begin_device(a, name);
		aml_name_integer(a, "_ADR", (uint64_t)s << 16);
		aml_name_integer(a, "_SUN", s);
		aml_begin_method(a, "_EJ0", 1, false);
		aml_namestring(a, "\\_SB_.PHPR.PCEJ");
		aml_integer(a, seg);
		aml_integer(a, 1u << s);
		aml_end(a);
		aml_end(a);
	}
}

/*
 * Method (DVNT, 2) { If (Arg0 & (1 << nn)) { Notify (SLnn, Arg1) } ... } and
 * Method (PCNT) { DVNT (\_SB_.PHPR.PCIU, 1); DVNT (\_SB_.PHPR.PCID, 3) }: the caller holds
 * \_SB_.PHPR.BLCK with PSEG selecting this segment.
 */
static void dsdt_pci_notify(struct aml *a)
{
	char name[8];

	aml_begin_method(a, "DVNT", 2, false);
	for (unsigned s = 1; s < 32; s++) {
		snprintf(name, sizeof(name), "SL%02X", s & 0xff);
		aml_begin_if(a);
		aml_op(a, AML_OP_AND);
		aml_op(a, AML_OP_ARG0);
		aml_integer(a, 1u << s);
		aml_op(a, AML_OP_ZERO);
		aml_op(a, AML_OP_NOTIFY);
		aml_namestring(a, name);
		aml_op(a, AML_OP_ARG0 + 1);
		aml_end(a);
	}
	aml_end(a);
	aml_begin_method(a, "PCNT", 0, false);
	aml_namestring(a, "DVNT");
	aml_namestring(a, "\\_SB_.PHPR.PCIU");
	aml_integer(a, NOTIFY_DEVICE_CHECK);
	aml_namestring(a, "DVNT");
	aml_namestring(a, "\\_SB_.PHPR.PCID");
	aml_integer(a, NOTIFY_EJECT_REQUEST);
	aml_end(a);
}

/* \_SB_.PCnn: the host bridge of segment @seg, and its slots when hotplug exists. */
static void dsdt_pci_bridge(struct aml *a, const struct acpi_pci *pci, unsigned seg)
{
	char path[24];

	snprintf(path, sizeof(path), "\\_SB_.PC%02X", seg & 0xff);
	aml_begin_device(a, path);
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_integer(a, "_ADR", 0);
	aml_name_integer(a, "_SEG", seg);
	aml_name_integer(a, "_UID", seg);
	aml_name_integer(a, "_BBN", 0);
	dsdt_pci_crs(a, pci, seg);
	dsdt_pci_prt(a);
	if (pci->hotplug_base) {
		dsdt_pci_slots(a, seg);
		dsdt_pci_notify(a);
	}
	aml_end(a);
}

/*
 * \_SB_.PHPR: the registers as fields, the lock that keeps PSEG and the access it selects
 * together, and PCEJ (Arg0 segment, Arg1 slot mask), which every slot's _EJ0 calls.
 */
static void dsdt_phpr(struct aml *a, uint32_t base)
{
	static const char *const regs[] = { "PCIU", "PCID", "B0EJ", "PSEG" };

	aml_begin_device(a, "\\_SB_.PHPR");
	aml_name_eisaid(a, "_HID", "PNP0A06");
	aml_name_string(a, "_UID", "PCI Hotplug Controller");
	aml_mutex(a, "BLCK");
	aml_opregion_memory(a, "PCST", base, 16);
	aml_field_dwords(a, "PCST", regs, 4);
	aml_begin_method(a, "PCEJ", 2, false);
	aml_acquire(a, "BLCK");
	aml_op(a, AML_OP_STORE);
	aml_op(a, AML_OP_ARG0);
	aml_namestring(a, "PSEG");
	aml_op(a, AML_OP_STORE);
	aml_op(a, AML_OP_ARG0 + 1);
	aml_namestring(a, "B0EJ");
	aml_release(a, "BLCK");
	aml_end(a);
	aml_end(a);
}

int acpi_dsdt_pci(struct aml *a, const struct acpi_platform *p)
{
	const struct acpi_pci *pci = &p->pci;
	unsigned n = nr_segments(pci);

	if (!pci->present)
		return 0;
	if (pci->hotplug_base)
		dsdt_phpr(a, pci->hotplug_base);
	for (unsigned s = 0; s < n; s++)
		dsdt_pci_bridge(a, pci, s);
	/* Linux 6.1 uses ECAM only if a motherboard resource (PNP0C02) claims it. */
	aml_begin_device(a, "\\_SB_.MBRD");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_begin_resource_template(a);
	aml_res_memory32_fixed(a, true, (uint32_t)pci->ecam_base,
			       (uint32_t)n * (((uint32_t)pci->bus_end + 1) << 20));
	aml_end(a);
	return aml_end(a);
}

/* Method (PSCN) { for each segment: Acquire; PSEG = s; \_SB_.PCnn.PCNT (); Release } */
int acpi_dsdt_pci_scan(struct aml *a, const struct acpi_platform *p)
{
	const struct acpi_pci *pci = &p->pci;
	char path[24];

	if (!pci->present || !pci->hotplug_base)
		return 0;
	aml_begin_scope(a, "\\_SB_.PHPR");
	aml_begin_method(a, "PSCN", 0, false);
	for (unsigned s = 0; s < nr_segments(pci); s++) {
		snprintf(path, sizeof(path), "\\_SB_.PC%02X.PCNT", s & 0xff);
		aml_acquire(a, "BLCK");
		aml_op(a, AML_OP_STORE);
		aml_integer(a, s);
		aml_namestring(a, "PSEG");
		aml_namestring(a, path);
		aml_release(a, "BLCK");
	}
	aml_end(a);
	return aml_end(a);
}
