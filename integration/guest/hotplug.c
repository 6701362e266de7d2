/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: hostile writes to the ACPI PCI hotplug registers (hostile=1), found as the
 * DSDT's OperationRegion PCST (\_SB_.PHPR, docs/pci.md "Hotplug"). Ejects slot 0 (the host
 * bridge), every empty slot and the built-in console and rng, each three times; selects a
 * segment that does not exist; writes the read-only registers and odd sizes. Every function
 * must still answer with its ID afterwards, the selection must stay 0 and nothing may be
 * pending. Disks are left alone: an eject of one would be honoured.
 */
#include "guest.h"

#define REG_PCIU 0x0
#define REG_PCID 0x4
#define REG_B0EJ 0x8
#define REG_PSEG 0xc
#define VIRTIO_CONSOLE_ID 0x10431af4u
#define VIRTIO_RNG_ID     0x10441af4u

static uint64_t pcst_base(void)
{
	static const uint8_t pat[] = { 0x5B, 0x80, 'P', 'C', 'S', 'T', 0x00, 0x0C };
	uint32_t tl = acpi_table_len(acpi.dsdt_pa), v;
	const uint8_t *t = tl >= 36 ? phys_ptr(acpi.dsdt_pa, tl) : NULL;

	for (uint32_t i = 36; t && i + sizeof(pat) + 4 <= tl; i++)
		if (!memcmp(t + i, pat, sizeof(pat))) {
			memcpy(&v, t + i + sizeof(pat), 4);
			return v;
		}
	return 0;
}

void hotplug_hostile_check(void)
{
	uint64_t base = pcst_base();
	uint32_t ids[32], victims = 1u << 0, bad = 0;
	volatile uint32_t *r;
	volatile uint8_t *b;

	if (!base || !phys_map_uc(base, 16)) {
		check("hostile_hotplug_regs", false, "no PCST OperationRegion in the DSDT");
		return;
	}
	r = phys_ptr(base, 16);
	b = (volatile uint8_t *)r;
	for (unsigned s = 0; s < 32; s++) {
		ids[s] = cf8_rd32(s, 0, 0);
		if (ids[s] == 0xFFFFFFFFu || ids[s] == VIRTIO_CONSOLE_ID || ids[s] == VIRTIO_RNG_ID)
			victims |= 1u << s;
	}
	for (unsigned k = 0; k < 3; k++)
		r[REG_B0EJ / 4] = victims;
	r[REG_PSEG / 4] = 0x7FFFFFFFu;              /* no such segment */
	r[REG_PCIU / 4] = 0xFFFFFFFFu;              /* read-only */
	r[REG_PCID / 4] = 0xFFFFFFFFu;
	b[REG_B0EJ] = 0xFF;                         /* byte write: refused whole */
	b[REG_PSEG + 1] = 1;
	(void)b[REG_PCIU + 2];
	for (unsigned s = 0; s < 32; s++)
		if (cf8_rd32(s, 0, 0) != ids[s])
			bad |= 1u << s;
	uint32_t sel = r[REG_PSEG / 4], up = r[REG_PCIU / 4], down = r[REG_PCID / 4];
	uint32_t ej = r[REG_B0EJ / 4];
	check("hostile_hotplug_regs", !bad && !sel && !up && !down && !ej,
	      "ejected slots 0x%x x3, bad PSEG, odd sizes: changed IDs 0x%x, PSEG %u, PCIU 0x%x, "
	      "PCID 0x%x, B0EJ reads 0x%x", victims, bad, sel, up, down, ej);
}
