// SPDX-License-Identifier: Apache-2.0
/*
 * CPUs in the ACPI tables: the MADT's Local APIC entries and the DSDT's CPU hotplug devices,
 * laid out as Cloud Hypervisor does (docs/hotplug-cpu.md):
 *
 *   \_SB_.CPUS (ACPI0010, processor container)
 *     CPLK mutex; PRST region over the register block (platform/cpu_hotplug.h)
 *     CSTA(n): select n, 0x0F if enabled else 0     CEJ0(n): select n, write the eject bit
 *     CSCN: for each CPU, Notify 1 (Device Check) if inserting, 3 (Eject Request) if
 *           removing, and acknowledge; \_SB_.GED_._EVT calls it on the CPU event bit
 *     Cnnn (ACPI0007, _UID n): _STA = CSTA(n), _MAT = its MADT entry, _EJ0 = CEJ0(n)
 *
 * CSCN is unrolled per CPU (no While): a few dozen bytes per possible CPU.
 */
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/aml.h"

/* MADT Local APIC flags (ACPI 6.5 5.2.12.2, table 5.23). Linux 6.1 counts a disabled entry as
 * a hotpluggable CPU only with Online Capable set (acpi_is_processor_usable, MADT rev >= 5). */
#define LAPIC_ENABLED        (1u << 0)
#define LAPIC_ONLINE_CAPABLE (1u << 1)

/* Notify values (5.6.6): Device Check after an insertion, Eject Request before a removal. */
#define NOTIFY_DEVICE_CHECK  1
#define NOTIFY_EJECT_REQUEST 3

#define EXT_OP        0x5b
#define MUTEX_OP      0x01
#define ACQUIRE_OP    0x23
#define RELEASE_OP    0x27
#define OPREGION_OP   0x80
#define FIELD_OP      0x81
#define ACC_BYTE      0x01
#define ACC_DWORD     0x03
#define WRITE_ZEROS   (2u << 5)    /* FieldFlags UpdateRule WriteAsZeros (19.6.48) */

static unsigned apic_id(const struct acpi_platform *p, unsigned i)
{
	return p->cpus.apic_ids ? p->cpus.apic_ids[i] : i;
}

void acpi_cpu_madt_lapic(const struct acpi_platform *p, unsigned i, uint8_t out[8])
{
	bool enabled = !p->cpus.nr_boot || i < p->cpus.nr_boot;
	uint32_t flags = enabled ? LAPIC_ENABLED : LAPIC_ONLINE_CAPABLE;

	out[0] = 0;                           /* type 0: Processor Local APIC */
	out[1] = 8;
	out[2] = (uint8_t)i;                  /* ACPI Processor UID = the device's _UID */
	out[3] = (uint8_t)apic_id(p, i);
	memcpy(out + 4, &flags, 4);
}

static void ext_op(struct aml *a, uint8_t op)
{
	const uint8_t b[2] = { EXT_OP, op };

	aml_bytes(a, b, 2);
}

/* Acquire (CPLK, 0xFFFF) and Release (CPLK) around a method body. */
static void lock(struct aml *a)
{
	static const uint8_t forever[2] = { 0xff, 0xff };

	ext_op(a, ACQUIRE_OP);
	aml_namestring(a, "CPLK");
	aml_bytes(a, forever, 2);
}

static void unlock(struct aml *a)
{
	ext_op(a, RELEASE_OP);
	aml_namestring(a, "CPLK");
}

/* Store (@v, @name) */
static void store_int(struct aml *a, uint64_t v, const char *name)
{
	aml_op(a, AML_OP_STORE);
	aml_integer(a, v);
	aml_namestring(a, name);
}

/* Field (PRST, @flags) { [skip @skip_bits], name0, bits0, ... }: 4-char names, a short list. */
static void field(struct aml *a, uint8_t flags, unsigned skip_bits,
		  const char *const *names, const uint8_t *bits, unsigned n)
{
	uint8_t body[64], pkg[4];
	size_t len = 0;
	int pl;

	memcpy(body, "PRST", 4);
	len = 4;
	body[len++] = flags;
	if (skip_bits) {                      /* ReservedField := 0x00 PkgLength */
		body[len++] = 0;
		body[len++] = (uint8_t)skip_bits;
	}
	for (unsigned i = 0; i < n && len + 5 <= sizeof(body); i++) {
		memcpy(body + len, names[i], 4);
		body[len + 4] = bits[i];
		len += 5;
	}
	pl = aml_pkglength_encode((uint32_t)len + 1, pkg);
	ext_op(a, FIELD_OP);
	if (pl > 0)
		aml_bytes(a, pkg, (size_t)pl);
	aml_bytes(a, body, len);
}

static void registers(struct aml *a, uint32_t base)
{
	static const char *const sel[] = { "CSEL" };
	static const char *const st[] = { "CPEN", "CINS", "CRMV", "CEJF" };
	static const uint8_t sel_bits[] = { 32 }, st_bits[] = { 1, 1, 1, 1 };
	static const uint8_t sysmem = 0, sync0 = 0;

	ext_op(a, MUTEX_OP);                  /* Mutex (CPLK, 0) */
	aml_namestring(a, "CPLK");
	aml_bytes(a, &sync0, 1);
	ext_op(a, OPREGION_OP);               /* OperationRegion (PRST, SystemMemory, base, 8) */
	aml_namestring(a, "PRST");
	aml_bytes(a, &sysmem, 1);
	aml_integer(a, base);
	aml_integer(a, 8);
	field(a, ACC_DWORD, 0, sel, sel_bits, 1);
	field(a, ACC_BYTE | WRITE_ZEROS, 32, st, st_bits, 4);
}

/* CSTA (Arg0): Local0 = CPEN ? 0x0F : 0 for CPU Arg0. */
static void method_csta(struct aml *a)
{
	aml_begin_method(a, "CSTA", 1, true);
	lock(a);
	aml_op(a, AML_OP_STORE);
	aml_op(a, AML_OP_ARG0);
	aml_namestring(a, "CSEL");
	aml_op(a, AML_OP_STORE);
	aml_op(a, AML_OP_ZERO);
	aml_op(a, AML_OP_LOCAL0);
	aml_begin_if(a);
	aml_op(a, AML_OP_LEQUAL);
	aml_namestring(a, "CPEN");
	aml_op(a, AML_OP_ONE);
	aml_op(a, AML_OP_STORE);
	aml_integer(a, 0x0f);
	aml_op(a, AML_OP_LOCAL0);
	aml_end(a);
	unlock(a);
	aml_op(a, AML_OP_RETURN);
	aml_op(a, AML_OP_LOCAL0);
	aml_end(a);
}

/* CEJ0 (Arg0): eject CPU Arg0. */
static void method_cej0(struct aml *a)
{
	aml_begin_method(a, "CEJ0", 1, true);
	lock(a);
	aml_op(a, AML_OP_STORE);
	aml_op(a, AML_OP_ARG0);
	aml_namestring(a, "CSEL");
	store_int(a, 1, "CEJF");
	unlock(a);
	aml_end(a);
}

static void cpu_name(char out[5], unsigned i)
{
	snprintf(out, 5, "C%03X", i & 0xfff);
}

/* If (LEqual (@flag, One)) { Notify (Cnnn, @value); Store (One, @flag) } */
static void notify_if(struct aml *a, const char *flag, const char *dev, unsigned value)
{
	aml_begin_if(a);
	aml_op(a, AML_OP_LEQUAL);
	aml_namestring(a, flag);
	aml_op(a, AML_OP_ONE);
	aml_notify(a, dev, value);
	store_int(a, 1, flag);
	aml_end(a);
}

static void method_cscn(struct aml *a, unsigned n)
{
	char dev[5];

	aml_begin_method(a, "CSCN", 0, true);
	lock(a);
	for (unsigned i = 0; i < n; i++) {
		cpu_name(dev, i);
		store_int(a, i, "CSEL");
		notify_if(a, "CINS", dev, NOTIFY_DEVICE_CHECK);
		aml_begin_else(a);
		notify_if(a, "CRMV", dev, NOTIFY_EJECT_REQUEST);
		aml_end(a);
	}
	unlock(a);
	aml_end(a);
}

static void cpu_device(struct aml *a, const struct acpi_platform *p, unsigned i)
{
	uint8_t mat[8];
	char dev[5];

	cpu_name(dev, i);
	acpi_cpu_madt_lapic(p, i, mat);
	mat[4] |= LAPIC_ENABLED;              /* _MAT describes the CPU as it is once present */
	mat[4] &= (uint8_t)~LAPIC_ONLINE_CAPABLE;
	aml_begin_device(a, dev);
	aml_name_string(a, "_HID", "ACPI0007");
	aml_name_integer(a, "_UID", i);
	aml_begin_method(a, "_STA", 0, false);
	aml_op(a, AML_OP_RETURN);
	aml_namestring(a, "CSTA");
	aml_integer(a, i);
	aml_end(a);
	aml_name(a, "_MAT");
	aml_begin_buffer(a);
	aml_bytes(a, mat, sizeof(mat));
	aml_end(a);
	aml_begin_method(a, "_EJ0", 1, false);
	aml_namestring(a, "CEJ0");
	aml_integer(a, i);
	aml_end(a);
	aml_end(a);
}

int acpi_dsdt_cpus(struct aml *a, const struct acpi_platform *p)
{
	if (!p->cpus.hotplug)
		return 0;
	aml_begin_device(a, "\\_SB_.CPUS");
	aml_name_string(a, "_HID", "ACPI0010");
	aml_name_eisaid(a, "_CID", "PNP0A05");
	registers(a, p->cpus.hotplug_base);
	method_csta(a);
	method_cej0(a);
	method_cscn(a, p->nr_cpus);
	for (unsigned i = 0; i < p->nr_cpus; i++)
		cpu_device(a, p, i);
	return aml_end(a);
}
