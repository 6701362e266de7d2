// SPDX-License-Identifier: Apache-2.0
/*
 * Checks the tables acpi_build_tables() writes, reading them back by raw offsets (ACPI 6.5
 * 5.2.5-5.2.12) rather than through acpi.c's structs.
 *
 * "test_acpi --dump DIR" writes each table of a 4-vCPU VM (2 at boot) to DIR/<sig>.dat for
 * iasl_check.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/layout.h"

#define AREA_GPA  LAYOUT_ACPI_START
#define AREA_SIZE ((size_t)LAYOUT_ACPI_SIZE)
#define SLACK     4096          /* canary bytes after the area */
#define CANARY    0xa5

static const unsigned cpu_counts[] = { 1, 2, 4, 255 };

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t *new_area(void)
{
	uint8_t *buf = malloc(AREA_SIZE + SLACK);

	assert_non_null(buf);
	memset(buf, CANARY, AREA_SIZE + SLACK);
	return buf;
}

#define PCI_PLATFORM { .present = true, .ecam_base = 0xe8000000ULL, .bus_end = 0, \
	.mmio32_base = 0xc0000000ULL, .mmio32_size = 0x28000000ULL, \
	.mmio64_base = 0x4000000000ULL, .mmio64_size = 0x4000000000ULL }
/* Two segments with hotplug, and the GED bit that scans them: what a hotplug VM gets. */
#define PCI_HOTPLUG_PLATFORM { .present = true, .ecam_base = 0xe8000000ULL, .bus_end = 0, \
	.mmio32_base = 0xc0000000ULL, .mmio32_size = 0x28000000ULL, \
	.mmio64_base = 0x4000000000ULL, .mmio64_size = 0x4000000000ULL, \
	.nr_segments = 2, .hotplug_base = 0xfeb02000u }
#define GED_HOTPLUG_PLATFORM { .present = true, .base = 0xfeb00000u, .reg_size = 4, .gsi = 5, \
	.power_button_bit = 1u << 3, .pci_hotplug_bit = 1u << 1 }
#define GED_PLATFORM { .present = true, .base = 0xfeb00000u, .reg_size = 4, .gsi = 5, \
	.power_button_bit = 1u << 3 }
/* 2 of 4 CPUs at boot; APIC IDs as 2 threads per core, 1 core per package, 2 packages */
static const uint8_t hp_apic_ids[] = { 0, 1, 4, 5 };
#define HOTPLUG_CPUS { .nr_boot = 2, .apic_ids = hp_apic_ids, .hotplug = true, \
	.hotplug_base = 0xfeb01000u }

static void assert_untouched(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], CANARY);
}

/* Builds for @cpus vCPUs into a fresh area; returns it and the RSDP address. */
static uint8_t *build(unsigned cpus, uint64_t *rsdp)
{
	struct acpi_platform p = { .nr_cpus = cpus };
	uint8_t *area = new_area();

	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, rsdp), 0);
	assert_untouched(area + AREA_SIZE, SLACK);
	return area;
}

/* Host view of @len bytes at guest address @gpa, which must lie inside the area. */
static const uint8_t *at(const uint8_t *area, uint64_t gpa, size_t len)
{
	assert_true(gpa >= AREA_GPA);
	assert_true(len <= AREA_SIZE && gpa - AREA_GPA <= AREA_SIZE - len);
	return area + (gpa - AREA_GPA);
}

/* Checks header, length bounds and checksum of the SDT at @gpa; returns it. */
static const uint8_t *table_at(const uint8_t *area, uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(area, gpa, 36);
	uint32_t len = rd32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_int_equal(gpa % 8, 0);
	t = at(area, gpa, len);
	assert_int_equal(acpi_checksum(t, len), 0);
	assert_memory_equal(t + 10, "VIREO ", 6);
	assert_memory_equal(t + 16, "VIREOVM ", 8);
	return t;
}

static uint64_t xsdt_gpa(const uint8_t *area, uint64_t rsdp)
{
	return rd64(at(area, rsdp, 36) + 24);
}

static uint64_t xsdt_entry(const uint8_t *area, uint64_t rsdp, unsigned i)
{
	const uint8_t *x = table_at(area, xsdt_gpa(area, rsdp), "XSDT");

	assert_true(36 + 8 * (i + 1) <= rd32(x + 4));
	return rd64(x + 36 + 8 * i);
}

static uint64_t dsdt_gpa(const uint8_t *area, uint64_t rsdp)
{
	return rd64(table_at(area, xsdt_entry(area, rsdp, 0), "FACP") + 140);
}

static void test_rsdp(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cpu_counts) / sizeof(cpu_counts[0]); c++) {
		uint64_t rsdp;
		uint8_t *area = build(cpu_counts[c], &rsdp);
		const uint8_t *r = at(area, rsdp, 36);

		assert_int_equal(rsdp, AREA_GPA);          /* first, in the 0xe0000 scan range */
		assert_memory_equal(r, "RSD PTR ", 8);
		assert_int_equal(acpi_checksum(r, 20), 0);
		assert_int_equal(acpi_checksum(r, 36), 0);
		assert_memory_equal(r + 9, "VIREO ", 6);
		assert_int_equal(r[15], 2);
		assert_int_equal(rd32(r + 20), 36);
		table_at(area, xsdt_gpa(area, rsdp), "XSDT");
		free(area);
	}
}

static void test_xsdt(void **state)
{
	uint64_t rsdp;
	uint8_t *area = build(4, &rsdp);
	const uint8_t *x = table_at(area, xsdt_gpa(area, rsdp), "XSDT");

	(void)state;
	assert_int_equal(x[8], 1);
	assert_int_equal(rd32(x + 4), 36 + 2 * 8);
	table_at(area, xsdt_entry(area, rsdp, 0), "FACP");
	table_at(area, xsdt_entry(area, rsdp, 1), "APIC");
	free(area);
}

static void assert_io_gas8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1);       /* System I/O */
	assert_int_equal(g[1], 8);       /* bit width */
	assert_int_equal(g[2], 0);       /* bit offset */
	assert_int_equal(g[3], 1);       /* byte access */
	assert_int_equal(rd64(g + 4), port);
}

static void test_fadt(void **state)
{
	uint64_t rsdp;
	uint8_t *area = build(2, &rsdp);
	const uint8_t *f = table_at(area, xsdt_entry(area, rsdp, 0), "FACP");
	uint32_t flags = rd32(f + 112);

	(void)state;
	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131], 5);                  /* minor version */
	assert_int_equal(rd32(f + 36), 0);            /* no FACS */
	assert_int_equal(rd64(f + 132), 0);
	assert_int_equal(rd16(f + 46), 0);            /* no SCI */
	assert_int_equal(flags, (1u << 20) | (1u << 10) | (1u << 5) | (1u << 4));
	assert_int_equal(rd16(f + 109), 1u << 2);     /* VGA not present; bit 3 (no MSI) clear */
	assert_int_equal(rd16(f + 109) & (1u << 3), 0);
	assert_io_gas8(f + 116, LAYOUT_ACPI_RESET);
	assert_int_equal(f[128], LAYOUT_ACPI_RESET_VALUE);
	assert_io_gas8(f + 244, LAYOUT_ACPI_SLEEP_CTL);
	assert_io_gas8(f + 256, LAYOUT_ACPI_SLEEP_STS);
	assert_memory_equal(f + 268, "VIREO\0\0\0", 8);
	table_at(area, rd64(f + 140), "DSDT");
	free(area);
}

static void test_madt(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cpu_counts) / sizeof(cpu_counts[0]); c++) {
		unsigned n = cpu_counts[c];
		uint64_t rsdp;
		uint8_t *area = build(n, &rsdp);
		const uint8_t *m = table_at(area, xsdt_entry(area, rsdp, 1), "APIC");
		const uint8_t *e = m + 44, *end = m + rd32(m + 4);
		unsigned lapics = 0, ioapics = 0;

		assert_int_equal(m[8], 6);
		assert_int_equal(rd32(m + 36), 0xfee00000);
		assert_int_equal(rd32(m + 40), 0);
		for (; e < end; e += e[1]) {
			assert_true(e[1] >= 2 && e + e[1] <= end);
			if (e[0] == 0) {
				assert_int_equal(e[1], 8);
				assert_int_equal(e[2], lapics);        /* UID */
				assert_int_equal(e[3], lapics);        /* APIC ID */
				assert_int_equal(rd32(e + 4), 1);      /* enabled */
				lapics++;
			} else {
				assert_int_equal(e[0], 1);     /* only LAPICs and the IOAPIC */
				assert_int_equal(e[1], 12);
				assert_int_equal(e[2], 0);
				assert_int_equal(rd32(e + 4), 0xfec00000);
				assert_int_equal(rd32(e + 8), 0);
				ioapics++;
			}
		}
		assert_true(e == end);
		assert_int_equal(lapics, n);
		assert_int_equal(ioapics, 1);
		free(area);
	}
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return memmem(hay, n, needle, m) != NULL;
}

#define CONTAINS(t, len, ...) \
	contains(t, len, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void test_dsdt(void **state)
{
	uint64_t rsdp;
	uint8_t *area = build(1, &rsdp);
	const uint8_t *d = table_at(area, dsdt_gpa(area, rsdp), "DSDT");
	size_t len = rd32(d + 4);

	(void)state;
	assert_true(d[8] >= 2);                       /* 64-bit integers */
	/* Name(\_S5_, Package(){5, 5, 0, 0}) */
	assert_true(CONTAINS(d, len, 0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
			     0x0a, LAYOUT_ACPI_SLP_TYP_S5, 0x0a, LAYOUT_ACPI_SLP_TYP_S5,
			     0x00, 0x00));
	/* Device(\_SB_.COM1) with _HID PNP0501 and _DDN "COM1" */
	assert_true(CONTAINS(d, len, 0x5b, 0x82));
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'));
	assert_true(CONTAINS(d, len, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01));
	assert_true(CONTAINS(d, len, 0x08, '_', 'D', 'D', 'N', 0x0d, 'C', 'O', 'M', '1', 0));
	assert_true(CONTAINS(d, len, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
			     0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x79, 0x00));
	/* Device(\_SB_.PWRB) with _HID PNP0C0C */
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B'));
	assert_true(CONTAINS(d, len, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x0c));
	free(area);
}

/* With a PCI segment: MCFG third in the XSDT, \_SB_.PC00 and \_SB_.MBRD in the DSDT. */
static void test_pci(void **state)
{
	struct acpi_platform p = { .nr_cpus = 2, .pci = PCI_PLATFORM };
	uint8_t *area = new_area();
	const uint8_t *x, *m, *d;
	uint64_t rsdp;
	size_t len;

	(void)state;
	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp), 0);
	x = table_at(area, xsdt_gpa(area, rsdp), "XSDT");
	assert_int_equal(rd32(x + 4), 36 + 3 * 8);
	m = table_at(area, xsdt_entry(area, rsdp, 2), "MCFG");
	assert_int_equal(rd32(m + 4), 60);
	assert_int_equal(rd64(m + 44), 0xe8000000ULL);     /* base */
	assert_int_equal(m[52] | m[53] << 8, 0);           /* segment */
	assert_int_equal(m[54], 0);                        /* start bus */
	assert_int_equal(m[55], 0);                        /* end bus */
	d = table_at(area, dsdt_gpa(area, rsdp), "DSDT");
	len = rd32(d + 4);
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', '0', '0'));
	assert_true(CONTAINS(d, len, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08));
	assert_true(CONTAINS(d, len, 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03));
	assert_true(CONTAINS(d, len, 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08));
	/* ECAM claimed by the PNP0C02 motherboard device: Memory32Fixed(RW, base, 1 MiB) */
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'M', 'B', 'R', 'D'));
	assert_true(CONTAINS(d, len, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe8,
			     0x00, 0x00, 0x10, 0x00));
	assert_true(CONTAINS(d, len, 0x8a, 0x2b, 0x00));    /* QWordMemory: the 64-bit window */
	assert_true(CONTAINS(d, len, 0x87, 0x17, 0x00));    /* DWordMemory: the 32-bit window */
	free(area);
}

/*
 * With a GED: Device(\_SB_.GED_) with _HID "ACPI0013", a _CRS of nothing but an edge,
 * active-high Interrupt on its GSI (Linux's evged fails on any other descriptor), the register
 * as a SystemMemory OperationRegion with a DWord field, and a serialized one-argument _EVT
 * that reads it into Local0 and notifies \_SB_.PWRB.
 */
static void test_ged(void **state)
{
	struct acpi_platform p = { .nr_cpus = 1, .ged = GED_PLATFORM };
	uint8_t *area = new_area();
	const uint8_t *d;
	uint64_t rsdp;
	size_t len;

	(void)state;
	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp), 0);
	d = table_at(area, dsdt_gpa(area, rsdp), "DSDT");
	len = rd32(d + 4);
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'G', 'E', 'D', '_'));
	assert_true(CONTAINS(d, len, 0x08, '_', 'H', 'I', 'D', 0x0d,
			     'A', 'C', 'P', 'I', '0', '0', '1', '3', 0));
	/* Name(_CRS, Buffer(11) { Interrupt(Consumer, Edge, ActiveHigh, Exclusive) {5}, End }) */
	assert_true(CONTAINS(d, len, '_', 'C', 'R', 'S', 0x11, 0x0e, 0x0a, 0x0b,
			     0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00));
	/* OperationRegion(EREG, SystemMemory, 0xfeb00000, 4); Field(EREG, DWordAcc) { EVTS, 32 } */
	assert_true(CONTAINS(d, len, 0x5b, 0x80, 'E', 'R', 'E', 'G', 0x00,
			     0x0c, 0x00, 0x00, 0xb0, 0xfe, 0x0a, 0x04));
	assert_true(CONTAINS(d, len, 0x5b, 0x81, 0x0b, 'E', 'R', 'E', 'G', 0x03,
			     'E', 'V', 'T', 'S', 0x20));
	/* Method(_EVT, 1, Serialized) { Local0 = EVTS; If (Local0 & 8) { Notify(PWRB, 0x80) } } */
	assert_true(CONTAINS(d, len, '_', 'E', 'V', 'T', 0x09, 0x70, 'E', 'V', 'T', 'S', 0x60,
			     0xa0));
	assert_true(CONTAINS(d, len, 0x7b, 0x60, 0x0a, 0x08, 0x00, 0x86, 0x5c, 0x2e,
			     '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', 0x0a, 0x80));
	free(area);
}

/*
 * CPU hotplug: every possible CPU in the MADT (the absent ones online capable, not enabled:
 * Linux counts only those as hotpluggable), and \_SB_.CPUS with a processor device per CPU
 * whose _MAT is its MADT entry, enabled; the GED's CPU bit runs CSCN.
 */
static void test_cpu_hotplug(void **state)
{
	struct acpi_platform p = { .nr_cpus = 4, .cpus = HOTPLUG_CPUS, .ged = GED_PLATFORM };
	uint8_t *area = new_area();
	const uint8_t *m, *d, *e;
	uint64_t rsdp;
	size_t len;

	(void)state;
	p.ged.cpu_hotplug_bit = 1;
	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp), 0);
	m = table_at(area, xsdt_entry(area, rsdp, 1), "APIC");
	e = m + 44;
	for (unsigned i = 0; i < 4; i++, e += 8) {
		assert_int_equal(e[0], 0);
		assert_int_equal(e[2], i);                         /* UID = index */
		assert_int_equal(e[3], hp_apic_ids[i]);
		assert_int_equal(rd32(e + 4), i < 2 ? 1 : 2);      /* enabled / online capable */
	}
	d = table_at(area, dsdt_gpa(area, rsdp), "DSDT");
	len = rd32(d + 4);
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'C', 'P', 'U', 'S'));
	assert_true(CONTAINS(d, len, 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '0', 0));
	/* Mutex (CPLK, 0); OperationRegion (PRST, SystemMemory, 0xfeb01000, 8) */
	assert_true(CONTAINS(d, len, 0x5b, 0x01, 'C', 'P', 'L', 'K', 0x00));
	assert_true(CONTAINS(d, len, 0x5b, 0x80, 'P', 'R', 'S', 'T', 0x00,
			     0x0c, 0x00, 0x10, 0xb0, 0xfe, 0x0a, 0x08));
	/* Field (PRST, DWordAcc) { CSEL, 32 }; Field (PRST, ByteAcc, WriteAsZeros) { , 32,
	 * CPEN, 1, CINS, 1, CRMV, 1, CEJF, 1 } */
	assert_true(CONTAINS(d, len, 0x5b, 0x81, 0x0b, 'P', 'R', 'S', 'T', 0x03,
			     'C', 'S', 'E', 'L', 0x20));
	assert_true(CONTAINS(d, len, 'P', 'R', 'S', 'T', 0x41, 0x00, 0x20, 'C', 'P', 'E', 'N', 1,
			     'C', 'I', 'N', 'S', 1, 'C', 'R', 'M', 'V', 1, 'C', 'E', 'J', 'F', 1));
	/* Device (C002) { _HID "ACPI0007", _UID 2, _STA: CSTA (2), _MAT: its entry, enabled } */
	assert_true(CONTAINS(d, len, 'C', '0', '0', '2', 0x08, '_', 'H', 'I', 'D', 0x0d,
			     'A', 'C', 'P', 'I', '0', '0', '0', '7', 0));
	assert_true(CONTAINS(d, len, 0x08, '_', 'U', 'I', 'D', 0x0a, 0x02));
	assert_true(CONTAINS(d, len, 0xa4, 'C', 'S', 'T', 'A', 0x0a, 0x02));
	assert_true(CONTAINS(d, len, '_', 'M', 'A', 'T', 0x11, 0x0b, 0x0a, 0x08,
			     0x00, 0x08, 0x02, 0x04, 0x01, 0x00, 0x00, 0x00));
	/* _EJ0 calls CEJ0 (3); CSCN notifies C003 with Device Check (1) and Eject Request (3) */
	assert_true(CONTAINS(d, len, '_', 'E', 'J', '0', 0x01, 'C', 'E', 'J', '0', 0x0a, 0x03));
	assert_true(CONTAINS(d, len, 0x86, 'C', '0', '0', '3', 0x01));
	assert_true(CONTAINS(d, len, 0x86, 'C', '0', '0', '3', 0x0a, 0x03));
	/* GED _EVT: If (Local0 & 1) { \_SB_.CPUS.CSCN () } */
	assert_true(CONTAINS(d, len, 0x7b, 0x60, 0x01, 0x00, 0x5c, 0x2f, 0x03, '_', 'S', 'B', '_',
			     'C', 'P', 'U', 'S', 'C', 'S', 'C', 'N'));
	free(area);
}

/*
 * Two segments with hotplug: two MCFG allocations, \_SB_.PC01 with _SEG 1 and the second
 * half of each window, \_SB_.PHPR with its four registers, a slot device with _SUN and an
 * _EJ0 that names its segment and slot, and the GED's _EVT calling PSCN for bit 1.
 */
static void test_pci_hotplug(void **state)
{
	struct acpi_platform p = { .nr_cpus = 1, .pci = PCI_HOTPLUG_PLATFORM,
				   .ged = GED_HOTPLUG_PLATFORM };
	uint8_t *area = new_area();
	const uint8_t *m, *d;
	uint64_t rsdp;
	size_t len;

	(void)state;
	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp), 0);
	m = table_at(area, xsdt_entry(area, rsdp, 2), "MCFG");
	assert_int_equal(rd32(m + 4), 44 + 2 * 16);
	assert_int_equal(rd64(m + 60), 0xe8100000ULL);     /* segment 1: the next MiB */
	assert_int_equal(rd16(m + 68), 1);
	d = table_at(area, dsdt_gpa(area, rsdp), "DSDT");
	len = rd32(d + 4);
	assert_true(CONTAINS(d, len, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', '0', '1'));
	assert_true(CONTAINS(d, len, 0x08, '_', 'S', 'E', 'G', 0x01));
	assert_true(CONTAINS(d, len, 0x08, '_', 'B', 'B', 'N', 0x00));
	/* Segment 1's 32-bit window: DWordMemory 0xd4000000-0xe7ffffff */
	assert_true(CONTAINS(d, len, 0x00, 0x00, 0x00, 0xd4, 0xff, 0xff, 0xff, 0xe7));
	/* Field(PCST, DWordAcc) { PCIU, 32, PCID, 32, B0EJ, 32, PSEG, 32 } */
	assert_true(CONTAINS(d, len, 0x5b, 0x81, 0x1a, 'P', 'C', 'S', 'T', 0x03, 'P', 'C', 'I',
			     'U', 0x20, 'P', 'C', 'I', 'D', 0x20, 'B', '0', 'E', 'J', 0x20,
			     'P', 'S', 'E', 'G', 0x20));
	/* OperationRegion(PCST, SystemMemory, 0xfeb02000, 16) */
	assert_true(CONTAINS(d, len, 0x5b, 0x80, 'P', 'C', 'S', 'T', 0x00,
			     0x0c, 0x00, 0x20, 0xb0, 0xfe, 0x0a, 0x10));
	/* Device(SL05) { _ADR 0x50000, _SUN 5, _EJ0: \_SB_.PHPR.PCEJ(1, 0x20) } */
	assert_true(CONTAINS(d, len, 'S', 'L', '0', '5', 0x08, '_', 'A', 'D', 'R',
			     0x0c, 0x00, 0x00, 0x05, 0x00, 0x08, '_', 'S', 'U', 'N', 0x0a, 0x05));
	assert_true(CONTAINS(d, len, 'P', 'H', 'P', 'R', 'P', 'C', 'E', 'J', 0x01, 0x0a, 0x20));
	/* _EVT: If (Local0 & 2) { \_SB_.PHPR.PSCN } */
	assert_true(CONTAINS(d, len, 0x7b, 0x60, 0x0a, 0x02, 0x00, 0x5c, 0x2f, 0x03,
			     '_', 'S', 'B', '_', 'P', 'H', 'P', 'R', 'P', 'S', 'C', 'N'));
	free(area);
	/* More segments than the MCFG and the hotplug registers describe: refused. */
	p.pci.nr_segments = ACPI_PCI_MAX_SEGMENTS + 1;
	area = new_area();
	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp), -EINVAL);
	free(area);
}

/* 16 segments with hotplug fit in the area. */
static void test_pci_max_segments(void **state)
{
	struct acpi_platform p = { .nr_cpus = 255, .pci = PCI_HOTPLUG_PLATFORM,
				   .ged = GED_HOTPLUG_PLATFORM };
	uint8_t *area = new_area();
	uint64_t rsdp;

	(void)state;
	p.pci.nr_segments = ACPI_PCI_MAX_SEGMENTS;
	assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp), 0);
	assert_untouched(area + AREA_SIZE, SLACK);
	free(area);
}

/* Bytes used: the DSDT is the last table. */
static size_t used_size(const uint8_t *area, uint64_t rsdp)
{
	uint64_t dsdt = dsdt_gpa(area, rsdp);

	return (size_t)(dsdt - AREA_GPA) + rd32(at(area, dsdt, 36) + 4);
}

/* Tables in order RSDP, XSDT, FACP, APIC, DSDT without overlap. */
static void test_layout(void **state)
{
	uint64_t rsdp;
	uint8_t *area = build(255, &rsdp);
	uint64_t gpa[] = { rsdp, xsdt_gpa(area, rsdp), xsdt_entry(area, rsdp, 0),
			   xsdt_entry(area, rsdp, 1), dsdt_gpa(area, rsdp) };

	(void)state;
	assert_true(gpa[0] + 36 <= gpa[1]);
	for (int i = 1; i < 4; i++)
		assert_true(gpa[i] + rd32(at(area, gpa[i], 36) + 4) <= gpa[i + 1]);
	assert_true(used_size(area, rsdp) <= AREA_SIZE);
	free(area);
}

/* Every size short of what the tables need fails with -ENOSPC and writes nothing past it. */
static void test_enospc(void **state)
{
	static const unsigned counts[] = { 1, 255 };

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		struct acpi_platform p = { .nr_cpus = counts[c] };
		uint64_t rsdp;
		uint8_t *area = build(counts[c], &rsdp);
		size_t need = used_size(area, rsdp);

		for (size_t size = 0; size <= need; size++) {
			memset(area, CANARY, AREA_SIZE + SLACK);
			rsdp = 0;
			assert_int_equal(acpi_build_tables(&p, area, AREA_GPA, size, &rsdp),
					 size < need ? -ENOSPC : 0);
			assert_untouched(area + size, AREA_SIZE + SLACK - size);
		}
		assert_int_equal(rsdp, AREA_GPA);
		free(area);
	}
}

static void test_invalid(void **state)
{
	struct acpi_platform p0 = { .nr_cpus = 0 }, p256 = { .nr_cpus = ACPI_MAX_CPUS + 1 };
	struct acpi_platform p1 = { .nr_cpus = 1 };
	uint8_t *area = new_area();
	uint64_t rsdp = 0;

	(void)state;
	assert_int_equal(ACPI_MAX_CPUS, 255);
	assert_int_equal(acpi_build_tables(&p0, area, AREA_GPA, AREA_SIZE, &rsdp), -EINVAL);
	assert_int_equal(acpi_build_tables(&p256, area, AREA_GPA, AREA_SIZE, &rsdp), -EINVAL);
	assert_int_equal(acpi_build_tables(NULL, area, AREA_GPA, AREA_SIZE, &rsdp), -EINVAL);
	assert_int_equal(acpi_build_tables(&p1, NULL, AREA_GPA, AREA_SIZE, &rsdp), -EINVAL);
	assert_int_equal(acpi_build_tables(&p1, area, AREA_GPA, AREA_SIZE, NULL), -EINVAL);
	assert_int_equal(acpi_build_tables(&p1, area, AREA_GPA + 8, AREA_SIZE, &rsdp), -EINVAL);
	assert_int_equal(acpi_build_tables(&p1, area, UINT64_MAX - 15, AREA_SIZE, &rsdp), -EINVAL);
	assert_untouched(area, AREA_SIZE + SLACK);
	assert_int_equal(rsdp, 0);
	free(area);
}

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/*
 * Writes rsdp, xsdt, facp, apic, mcfg and dsdt .dat files for a 4-vCPU VM with CPU hotplug
 * (2 CPUs at boot), two PCI segments and PCI hotplug: the largest DSDT of that size.
 */
static int dump(const char *dir)
{
	struct acpi_platform p = { .nr_cpus = 4, .cpus = HOTPLUG_CPUS, .pci = PCI_HOTPLUG_PLATFORM,
				   .ged = GED_HOTPLUG_PLATFORM };
	uint8_t *area = calloc(1, AREA_SIZE);
	uint64_t rsdp, gpa[5];
	static const char *const names[] = { "xsdt", "facp", "apic", "dsdt", "mcfg" };
	int r = 0;

	p.ged.cpu_hotplug_bit = 1;
	if (!area || acpi_build_tables(&p, area, AREA_GPA, AREA_SIZE, &rsdp)) {
		free(area);
		return 1;
	}
	gpa[0] = rd64(area + (rsdp - AREA_GPA) + 24);
	gpa[1] = rd64(area + (gpa[0] - AREA_GPA) + 36);
	gpa[2] = rd64(area + (gpa[0] - AREA_GPA) + 44);
	gpa[3] = rd64(area + (gpa[1] - AREA_GPA) + 140);
	gpa[4] = rd64(area + (gpa[0] - AREA_GPA) + 52);
	r |= write_file(dir, "rsdp", area + (rsdp - AREA_GPA), 36);
	for (int i = 0; i < 5; i++)
		r |= write_file(dir, names[i], area + (gpa[i] - AREA_GPA),
				rd32(area + (gpa[i] - AREA_GPA) + 4));
	free(area);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp),
		cmocka_unit_test(test_xsdt),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_madt),
		cmocka_unit_test(test_dsdt),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_pci),
		cmocka_unit_test(test_ged),
		cmocka_unit_test(test_pci_hotplug),
		cmocka_unit_test(test_pci_max_segments),
		cmocka_unit_test(test_cpu_hotplug),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_invalid),
	};

	if (argc == 3 && !strcmp(argv[1], "--dump"))
		return dump(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
