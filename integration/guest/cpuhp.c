/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: hostile writes to the ACPI CPU hotplug registers (docs/hotplug-cpu.md), with
 * hostile=1. Found as the DSDT's OperationRegion(PRST, SystemMemory, base, len); then eject the
 * boot CPU (this one), an absent CPU and a selection far past the last, write undefined status
 * bits and odd sizes and offsets. vireo must ignore every one of them: this CPU keeps running
 * and still reads as enabled, absent CPUs read 0, the selection reads back.
 */
#include "guest.h"

#define CPUHP_ENABLED 0x01
#define CPUHP_EJECT   0x08

/* OperationRegion (PRST, SystemMemory, DWordConst base, ...) as vireo writes it. */
static uint64_t find_prst(void)
{
	static const uint8_t op[] = { 0x5b, 0x80, 'P', 'R', 'S', 'T', 0x00, 0x0c };
	uint32_t tl = acpi_table_len(acpi.dsdt_pa);
	const uint8_t *t = tl >= 36 ? phys_ptr(acpi.dsdt_pa, tl) : NULL;
	for (uint32_t i = 36; t && i + sizeof(op) + 4 <= tl; i++)
		if (!memcmp(t + i, op, sizeof(op)))
		{
			uint32_t v;
			memcpy(&v, t + i + sizeof(op), 4);
			return v;
		}
	return 0;
}

static uint8_t status_of(volatile uint32_t *sel, volatile uint8_t *st, uint32_t cpu)
{
	*sel = cpu;
	return *st;
}

void cpuhp_hostile_check(unsigned cpus)
{
	uint64_t base = find_prst();
	if (!base || !phys_map_uc(base, 8)) {
		check("cpuhp_hostile", false, "no OperationRegion PRST in the DSDT (base 0x%lx)", base);
		return;
	}
	volatile uint32_t *sel = (volatile uint32_t *)(uintptr_t)base;
	volatile uint8_t *st = (volatile uint8_t *)(uintptr_t)(base + 4);
	uint8_t boot = status_of(sel, st, 0);
	*st = CPUHP_EJECT;                                  /* eject myself: never asked */
	*st = 0xff;                                         /* every bit, undefined ones too */
	uint8_t absent = status_of(sel, st, cpus);
	*st = CPUHP_EJECT;                                  /* eject a CPU that is not there */
	uint8_t far = status_of(sel, st, 0xffffffffu);
	*st = CPUHP_EJECT;
	*(volatile uint16_t *)(uintptr_t)(base + 4) = 0xffff;   /* odd sizes and offsets */
	*(volatile uint8_t *)(uintptr_t)(base + 6) = 0xff;
	uint8_t junk = *(volatile uint8_t *)(uintptr_t)(base + 7);
	*sel = 5;
	uint32_t readback = *sel;
	uint8_t after = status_of(sel, st, 0);
	check("cpuhp_hostile", boot == CPUHP_ENABLED && after == CPUHP_ENABLED && !absent &&
	      !far && !junk && readback == 5,
	      "registers at 0x%lx: boot CPU 0x%x -> 0x%x after ejecting itself, cpu%u 0x%x, "
	      "cpu 0xffffffff 0x%x, offset 7 0x%x, selection reads back %u", base, boot, after,
	      cpus, absent, far, junk, readback);
}
