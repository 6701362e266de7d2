// SPDX-License-Identifier: Apache-2.0
/*
 * ACPI tables for an x86_64 vireo VM (ACPI 6.5 chapter 5): RSDP, XSDT, FADT, MADT and DSDT, laid
 * out in that order in one area. The platform is hardware-reduced (4.1, FADT HW_REDUCED_ACPI): no
 * FACS, PM1 blocks, GPEs or SCI; poweroff and reset use the 8-bit SLEEP_CONTROL and RESET
 * registers at LAYOUT_ACPI_PM_PORT, the power button is a control-method device.
 *
 * Extension points: xsdt_tables[] and dsdt_parts[]; the PCI host bridges, slots and hotplug
 * methods are acpi_pci.c's.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/acpi_internal.h"
#include "arch/x86_64/aml.h"
#include "arch/x86_64/layout.h"

#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are little-endian");

#define ACPI_OEM_ID        "VIREO "
#define ACPI_OEM_TABLE_ID  "VIREOVM "
#define ACPI_CREATOR_ID    "VIRO"
#define ACPI_TABLE_ALIGN   8
#define ACPI_RSDP_ALIGN    16     /* the BIOS scan looks at 16-byte boundaries (5.2.5.1) */

/* RSDP (5.2.5.3): the checksum covers bytes 0-19, the extended checksum all 36. */
struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));
static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");
static_assert(offsetof(struct acpi_rsdp, xsdt_address) == 24, "RSDP layout");
#define ACPI_RSDP_V1_LEN 20

/* System Description Table Header (5.2.6). */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
static_assert(sizeof(struct acpi_sdt_header) == 36, "SDT header size");

/* XSDT (5.2.8): 64-bit table pointers after the header. */
struct acpi_xsdt {
	struct acpi_sdt_header h;
	uint64_t entry[];
} __attribute__((packed));

/* Generic Address Structure (5.2.3.2). */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
static_assert(sizeof(struct acpi_gas) == 12, "GAS size");
#define ACPI_GAS_SYSTEM_IO   1
#define ACPI_GAS_ACCESS_BYTE 1

/* FADT (5.2.9), revision 6. Everything a hardware-reduced platform leaves zero is padding. */
struct acpi_fadt {
	struct acpi_sdt_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint8_t legacy_blocks[61];     /* SMI_CMD .. CENTURY: no legacy hardware */
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_legacy_blocks[8];  /* X_PM1a_EVT_BLK .. X_GPE1_BLK */
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor_id[8];
} __attribute__((packed));
static_assert(sizeof(struct acpi_fadt) == 276, "FADT size");
static_assert(offsetof(struct acpi_fadt, sci_int) == 46, "FADT SCI_INT");
static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH");
static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "FADT RESET_REG");
static_assert(offsetof(struct acpi_fadt, minor_version) == 131, "FADT minor version");
static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT SLEEP_CONTROL_REG");
static_assert(offsetof(struct acpi_fadt, hypervisor_vendor_id) == 268, "FADT vendor id");

/* FADT flags (5.2.9 table 5.10) and IA-PC boot architecture flags (5.2.9.3). */
#define FADT_PWR_BUTTON      (1u << 4)   /* set: control-method power button (or none) */
#define FADT_SLP_BUTTON      (1u << 5)
#define FADT_RESET_REG_SUP   (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
#define IAPC_VGA_NOT_PRESENT (1u << 2)

/* MADT (5.2.12) and the two entry types vireo uses. */
struct acpi_madt {
	struct acpi_sdt_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));
static_assert(sizeof(struct acpi_madt) == 44, "MADT size");

struct acpi_madt_lapic {
	uint8_t type;                  /* 0: Processor Local APIC (5.2.12.2) */
	uint8_t length;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
static_assert(sizeof(struct acpi_madt_lapic) == 8, "MADT LAPIC size");

struct acpi_madt_ioapic {
	uint8_t type;                  /* 1: I/O APIC (5.2.12.3) */
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
static_assert(sizeof(struct acpi_madt_ioapic) == 12, "MADT IOAPIC size");

/* The area being filled, and the tables whose addresses or checksums are set at the end. */
struct acpi_build {
	const struct acpi_platform *p;
	uint8_t *area;
	uint64_t gpa;
	size_t size, off;
	struct acpi_rsdp *rsdp;
	struct acpi_xsdt *xsdt;
	struct acpi_fadt *fadt;
	struct acpi_sdt_header *tables[8];
	unsigned nr_tables;
};

typedef int (*acpi_table_fn)(struct acpi_build *b, uint64_t *gpa);
typedef int (*acpi_dsdt_fn)(struct aml *a, const struct acpi_platform *p);

uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

/* Takes @len zeroed bytes at the next @align-aligned guest address, or NULL if they do not fit. */
static void *place(struct acpi_build *b, size_t len, size_t align, uint64_t *gpa)
{
	size_t off = (b->off + align - 1) & ~(align - 1);

	if (off < b->off || off > b->size || len > b->size - off)
		return NULL;
	b->off = off + len;
	*gpa = b->gpa + off;
	memset(b->area + off, 0, len);
	return b->area + off;
}

/* Places a table of @len bytes with its header filled in; the checksum is set by finish(). */
static void *place_table(struct acpi_build *b, const char sig[4], size_t len, uint8_t rev,
			 uint64_t *gpa)
{
	struct acpi_sdt_header *h;

	if (len > UINT32_MAX || b->nr_tables == ARRAY_SIZE(b->tables))
		return NULL;
	h = place(b, len, ACPI_TABLE_ALIGN, gpa);
	if (!h)
		return NULL;
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
	b->tables[b->nr_tables++] = h;
	return h;
}

/* An 8-bit System I/O register, byte access (5.2.3.2). */
static struct acpi_gas io_reg8(uint16_t port)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = 8,
		.access_size = ACPI_GAS_ACCESS_BYTE,
		.address = port,
	};
}

/*
 * FADT rev 6.5. SCI_INT stays 0: a hardware-reduced platform has no SCI, and Linux 6.1 neither
 * sets one up (arch/x86/kernel/acpi/boot.c skips acpi_sci_ioapic_setup() when
 * acpi_gbl_reduced_hardware) nor installs its handler (acpica/evevent.c). No FACS: both
 * FIRMWARE_CTRL fields zero mean none on a hardware-reduced platform. IAPC_BOOT_ARCH is only
 * "VGA not present": bit 3 (no MSI) would make Linux call pci_no_msi(), and bit 1 (8042) stays
 * clear so the i8042 driver leaves the reset-only stub at 0x60/0x64 alone. X_DSDT is patched
 * in by finish().
 */
static int build_fadt(struct acpi_build *b, uint64_t *gpa)
{
	struct acpi_fadt *f = place_table(b, "FACP", sizeof(*f), 6, gpa);

	if (!f)
		return -ENOSPC;
	f->iapc_boot_arch = IAPC_VGA_NOT_PRESENT;
	f->flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON;
	f->reset_reg = io_reg8(LAYOUT_ACPI_RESET);
	f->reset_value = LAYOUT_ACPI_RESET_VALUE;
	f->minor_version = 5;
	f->sleep_control_reg = io_reg8(LAYOUT_ACPI_SLEEP_CTL);
	f->sleep_status_reg = io_reg8(LAYOUT_ACPI_SLEEP_STS);
	memcpy(f->hypervisor_vendor_id, "VIREO\0\0\0", 8);
	b->fadt = f;
	return 0;
}

/*
 * MADT rev 6: one Local APIC per possible vCPU (UID = index; enabled at boot, else online
 * capable: acpi_cpu.c) and the IOAPIC at GSI 0.
 * Flags 0 (no PCAT_COMPAT): the flag only lets kernels skip probing the 8259, and a
 * hardware-reduced Linux 6.1 swaps in null_legacy_pic and skips the PIT timer setup anyway
 * (acpi_generic_reduced_hw_init()).
 * No Interrupt Source Overrides: KVM's default routing sends GSI n to IOAPIC pin n for ISA IRQs
 * (the PIT on pin 0, where QEMU reroutes it to pin 2 and needs an IRQ0->2 override), which is
 * the identity Linux assumes without overrides.
 */
static int build_madt(struct acpi_build *b, uint64_t *gpa)
{
	unsigned n = b->p->nr_cpus;
	size_t len = sizeof(struct acpi_madt) + n * sizeof(struct acpi_madt_lapic) +
		     sizeof(struct acpi_madt_ioapic);
	struct acpi_madt *m = place_table(b, "APIC", len, 6, gpa);
	struct acpi_madt_lapic *lapic;
	struct acpi_madt_ioapic *ioapic;

	if (!m)
		return -ENOSPC;
	m->lapic_address = LAYOUT_LAPIC_START;
	lapic = (struct acpi_madt_lapic *)(m + 1);
	for (unsigned i = 0; i < n; i++)   /* possible CPUs: acpi_cpu.c */
		acpi_cpu_madt_lapic(b->p, i, (uint8_t *)&lapic[i]);
	ioapic = (struct acpi_madt_ioapic *)(lapic + n);
	*ioapic = (struct acpi_madt_ioapic){
		.type = 1, .length = sizeof(*ioapic),
		.id = 0, .address = LAYOUT_IOAPIC_START, .gsi_base = 0,
	};
	return 0;
}

/* Tables listed in the XSDT, in this order. */
/* MCFG (PCI Firmware 3.x 4.1.2): one ECAM allocation per segment. */
struct acpi_mcfg_alloc {
	uint64_t base;
	uint16_t segment;
	uint8_t bus_start, bus_end;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_mcfg_alloc) == 16, "MCFG allocation is 16 bytes");

/* Returns 1 (no table) when the platform has no PCI segment. */
static int build_mcfg(struct acpi_build *b, uint64_t *gpa)
{
	const struct acpi_pci *pci = &b->p->pci;
	unsigned n = pci->nr_segments ? pci->nr_segments : 1;
	struct acpi_mcfg_alloc *e;
	struct acpi_pci_windows w;
	uint8_t *m;

	if (!pci->present)
		return 1;
	/* Header, 8 reserved bytes, then the allocations. */
	m = place_table(b, "MCFG", sizeof(struct acpi_sdt_header) + 8 + n * sizeof(*e), 1, gpa);
	if (!m)
		return -ENOSPC;
	e = (struct acpi_mcfg_alloc *)(m + sizeof(struct acpi_sdt_header) + 8);
	for (unsigned s = 0; s < n; s++) {
		acpi_pci_segment_windows(pci, s, &w);
		e[s] = (struct acpi_mcfg_alloc){ .base = w.ecam, .segment = (uint16_t)s,
						 .bus_end = pci->bus_end };
	}
	return 0;
}

static const acpi_table_fn xsdt_tables[] = { build_fadt, build_madt, build_mcfg };

/* \_SB_.COM1: the 16550 at 0x3f8 on ISA IRQ 4, which is GSI 4 (see build_madt()). */
static int dsdt_com1(struct aml *a, const struct acpi_platform *p)
{
	(void)p;
	aml_begin_device(a, "\\_SB_.COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_integer(a, "_UID", 0);
	aml_name_string(a, "_DDN", "COM1");
	aml_name(a, "_CRS");
	aml_begin_resource_template(a);
	aml_res_io(a, LAYOUT_COM1_PORT, LAYOUT_COM1_PORT, 1, 8);
	aml_res_interrupt(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, LAYOUT_COM1_GSI);
	aml_end(a);
	return aml_end(a);
}

/* \_SB_.PWRB: control-method power button (4.8.2.2.1.2); \_SB_.GED_ notifies it. */
static int dsdt_pwrb(struct aml *a, const struct acpi_platform *p)
{
	(void)p;
	aml_begin_device(a, "\\_SB_.PWRB");
	aml_name_eisaid(a, "_HID", "PNP0C0C");
	aml_name_integer(a, "_UID", 0);
	return aml_end(a);
}

/* \_S5_ (7.4.2): SLP_TYPa/b for soft-off; OSPM writes SLP_TYPa to SLEEP_CONTROL_REG bits 4:2. */
static int dsdt_s5(struct aml *a, const struct acpi_platform *p)
{
	(void)p;
	aml_name(a, "\\_S5_");
	aml_begin_package(a);
	aml_integer(a, LAYOUT_ACPI_SLP_TYP_S5);
	aml_integer(a, LAYOUT_ACPI_SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	return aml_end(a);
}

/*
 * \_SB_.GED_, the Generic Event Device (5.6.9): _CRS names the interrupt, and only that:
 * Linux 6.1's evged.c takes every _CRS descriptor for an interrupt and fails its probe on any
 * other (acpi_ged_request_interrupt), so the event register is described by the
 * OperationRegion alone. Linux runs _EVT on each edge; _EVT reads the register once (it clears
 * on read) and notifies \_SB_.PWRB with 0x80, "button pressed" (4.8.2.2.1.2), when the
 * power-button bit is set. Serialized, so two handlers never split one read.
 */
static int dsdt_ged(struct aml *a, const struct acpi_platform *p)
{
	const struct acpi_ged *g = &p->ged;

	if (!g->present)
		return 0;
	aml_begin_device(a, "\\_SB_.GED_");
	aml_name_string(a, "_HID", "ACPI0013");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_begin_resource_template(a);
	aml_res_interrupt(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, g->gsi);
	aml_end(a);
	aml_opregion_memory(a, "EREG", g->base, g->reg_size);
	aml_field_dwords(a, "EREG", (const char *const[]){ "EVTS" }, 1);
	aml_begin_method(a, "_EVT", 1, true);
	aml_op(a, AML_OP_STORE);                   /* Local0 = EVTS */
	aml_namestring(a, "EVTS");
	aml_op(a, AML_OP_LOCAL0);
	aml_begin_if(a);                           /* If (Local0 & bit) */
	aml_op(a, AML_OP_AND);
	aml_op(a, AML_OP_LOCAL0);
	aml_integer(a, g->power_button_bit);
	aml_op(a, AML_OP_ZERO);                    /* NullName: no target */
	aml_notify(a, "\\_SB_.PWRB", 0x80);
	aml_end(a);
	if (g->cpu_hotplug_bit) {                  /* If (Local0 & bit) { \_SB_.CPUS.CSCN () } */
		aml_begin_if(a);
		aml_op(a, AML_OP_AND);
		aml_op(a, AML_OP_LOCAL0);
		aml_integer(a, g->cpu_hotplug_bit);
		aml_op(a, AML_OP_ZERO);
		aml_namestring(a, "\\_SB_.CPUS.CSCN");
		aml_end(a);
	}
	if (g->pci_hotplug_bit) {                  /* If (Local0 & bit) { \_SB_.PHPR.PSCN() } */
		aml_begin_if(a);
		aml_op(a, AML_OP_AND);
		aml_op(a, AML_OP_LOCAL0);
		aml_integer(a, g->pci_hotplug_bit);
		aml_op(a, AML_OP_ZERO);
		aml_namestring(a, "\\_SB_.PHPR.PSCN");
		aml_end(a);
	}
	aml_end(a);
	return aml_end(a);
}

static const acpi_dsdt_fn dsdt_parts[] = {
	dsdt_com1, dsdt_pwrb, dsdt_s5, acpi_dsdt_pci, acpi_dsdt_pci_scan, acpi_dsdt_cpus, dsdt_ged,
};

/* DSDT rev 2 (5.2.11.1): AML integers are 64-bit from revision 2 on. */
static int build_dsdt(struct acpi_build *b, uint64_t *gpa)
{
	struct acpi_sdt_header *h;
	struct aml a;
	int r = 0;

	aml_init(&a, b->size);
	for (size_t i = 0; i < ARRAY_SIZE(dsdt_parts); i++)
		dsdt_parts[i](&a, b->p);
	r = aml_finish(&a);
	if (!r) {
		h = place_table(b, "DSDT", sizeof(*h) + a.len, 2, gpa);
		if (h)
			memcpy(h + 1, a.buf, a.len);
		else
			r = -ENOSPC;
	}
	aml_free(&a);
	return r;
}

/* RSDP (revision 2) first, then the XSDT with room for every entry of xsdt_tables[]. */
static int place_roots(struct acpi_build *b, uint64_t *rsdp_gpa)
{
	size_t xsdt_len = sizeof(struct acpi_xsdt) + ARRAY_SIZE(xsdt_tables) * sizeof(uint64_t);
	uint64_t xsdt_gpa;

	b->rsdp = place(b, sizeof(*b->rsdp), ACPI_RSDP_ALIGN, rsdp_gpa);
	if (!b->rsdp)
		return -ENOSPC;
	b->xsdt = place_table(b, "XSDT", xsdt_len, 1, &xsdt_gpa);
	if (!b->xsdt)
		return -ENOSPC;
	memcpy(b->rsdp->signature, "RSD PTR ", 8);
	memcpy(b->rsdp->oem_id, ACPI_OEM_ID, 6);
	b->rsdp->revision = 2;
	b->rsdp->length = sizeof(*b->rsdp);
	b->rsdp->xsdt_address = xsdt_gpa;
	return 0;
}

/* Patches the DSDT address into the FADT, then checksums every table and the RSDP. */
static void finish(struct acpi_build *b, uint64_t dsdt_gpa)
{
	b->fadt->x_dsdt = dsdt_gpa;
	for (unsigned i = 0; i < b->nr_tables; i++) {
		struct acpi_sdt_header *h = b->tables[i];

		h->checksum = 0;
		h->checksum = (uint8_t)-acpi_checksum(h, h->length);
	}
	b->rsdp->checksum = (uint8_t)-acpi_checksum(b->rsdp, ACPI_RSDP_V1_LEN);
	b->rsdp->extended_checksum = (uint8_t)-acpi_checksum(b->rsdp, sizeof(*b->rsdp));
}

int acpi_build_tables(const struct acpi_platform *p, uint8_t *area, uint64_t area_gpa,
		      size_t area_size, uint64_t *rsdp_gpa)
{
	struct acpi_build b = { .p = p, .area = area, .gpa = area_gpa, .size = area_size };
	uint64_t gpa, rsdp;
	unsigned n = 0;
	int r;

	if (!p || !area || !rsdp_gpa || area_gpa % ACPI_RSDP_ALIGN ||
	    area_size > UINT64_MAX - area_gpa || !p->nr_cpus || p->nr_cpus > ACPI_MAX_CPUS ||
	    p->pci.nr_segments > ACPI_PCI_MAX_SEGMENTS)
		return -EINVAL;
	r = place_roots(&b, &rsdp);
	for (size_t i = 0; !r && i < ARRAY_SIZE(xsdt_tables); i++) {
		r = xsdt_tables[i](&b, &gpa);
		if (!r)
			b.xsdt->entry[n++] = gpa;
		if (r == 1)   /* table not needed on this platform */
			r = 0;
	}
	if (!r)   /* the XSDT lists only the tables built */
		b.xsdt->h.length = (uint32_t)(sizeof(*b.xsdt) + n * sizeof(uint64_t));
	if (!r)
		r = build_dsdt(&b, &gpa);
	if (r)
		return r;
	finish(&b, gpa);
	*rsdp_gpa = rsdp;
	return 0;
}
