// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI PCI hotplug register block (pci/hotplug.c) as the guest's AML drives it, and what
 * a hostile guest gets: every undefined access ignored and counted, no eject of slot 0, of an
 * empty or fixed slot, or of the same slot twice, no selection of a missing segment.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pci/hotplug.h"

struct seen {
	unsigned calls, seg;
	uint32_t slots;
};

static void on_eject(void *ctx, unsigned seg, uint32_t slots)
{
	struct seen *s = ctx;

	s->calls++;
	s->seg = seg;
	s->slots |= slots;
}

static const struct pci_hotplug_ops ops = { .eject = on_eject };

static uint32_t rd(struct pci_hotplug *hp, uint64_t off)
{
	uint8_t b[4];
	uint32_t v;

	pci_hotplug_bus_ops.read(hp, off, b, 4);
	memcpy(&v, b, 4);
	return v;
}

static void wr(struct pci_hotplug *hp, uint64_t off, uint32_t v, unsigned len)
{
	uint8_t b[4];

	memcpy(b, &v, 4);
	pci_hotplug_bus_ops.write(hp, off, b, len);
}

static void test_add_announced_once(void **state)
{
	struct pci_hotplug hp;
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(pci_hotplug_init(&hp, 2, &ops, &s), 0);
	assert_int_equal(pci_hotplug_plug(&hp, 0, 3, true, false), 0);   /* at boot: silent */
	assert_int_equal(pci_hotplug_plug(&hp, 1, 5, true, true), 0);
	assert_int_equal(rd(&hp, PCI_HP_REG_PCIU), 0);
	wr(&hp, PCI_HP_REG_PSEG, 1, 4);
	assert_int_equal(rd(&hp, PCI_HP_REG_PSEG), 1);
	assert_int_equal(rd(&hp, PCI_HP_REG_PCIU), 1u << 5);
	assert_int_equal(rd(&hp, PCI_HP_REG_PCIU), 0);                   /* read clears */
	assert_int_equal(pci_hotplug_bad(&hp, PCI_HP_BAD_ACCESS), 0);
	pci_hotplug_destroy(&hp);
}

static void test_remove_then_reuse(void **state)
{
	struct pci_hotplug hp;
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(pci_hotplug_init(&hp, 1, &ops, &s), 0);
	assert_int_equal(pci_hotplug_plug(&hp, 0, 4, true, true), 0);
	assert_int_equal(pci_hotplug_request_eject(&hp, 0, 4), 0);
	assert_int_equal(rd(&hp, PCI_HP_REG_PCIU), 0);          /* the add is withdrawn */
	assert_int_equal(rd(&hp, PCI_HP_REG_PCID), 1u << 4);
	assert_int_equal(pci_hotplug_reap(&hp, 0), 0);         /* nothing until the guest ejects */
	wr(&hp, PCI_HP_REG_B0EJ, 1u << 4, 4);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.slots, 1u << 4);
	wr(&hp, PCI_HP_REG_B0EJ, 1u << 4, 4);                  /* again: refused */
	assert_int_equal(s.calls, 1);
	assert_int_equal(pci_hotplug_bad(&hp, PCI_HP_BAD_EJECT), 1);
	assert_int_equal(pci_hotplug_reap(&hp, 0), 1u << 4);
	assert_int_equal(pci_hotplug_reap(&hp, 0), 0);
	assert_int_equal(pci_hotplug_request_eject(&hp, 0, 4), -ENOENT);
	assert_int_equal(pci_hotplug_plug(&hp, 0, 4, true, true), 0);   /* the slot is reused */
	assert_int_equal(rd(&hp, PCI_HP_REG_PCIU), 1u << 4);
	pci_hotplug_destroy(&hp);
}

static void test_hostile(void **state)
{
	struct pci_hotplug hp;
	struct seen s = { 0 };
	uint8_t b[8];

	(void)state;
	assert_int_equal(pci_hotplug_init(&hp, 2, &ops, &s), 0);
	assert_int_equal(pci_hotplug_plug(&hp, 0, 2, false, false), 0);   /* fixed (console) */
	assert_int_equal(pci_hotplug_plug(&hp, 0, 3, true, false), 0);
	/* Slot 0 (host bridge), an empty slot, a fixed slot: refused; slot 3 in the same write ok. */
	wr(&hp, PCI_HP_REG_B0EJ, 1u << 0 | 1u << 2 | 1u << 3 | 1u << 9, 4);
	assert_int_equal(s.slots, 1u << 3);
	assert_int_equal(pci_hotplug_bad(&hp, PCI_HP_BAD_EJECT), 1);
	/* Segments 2 and 0xffffffff do not exist: the selection stays. */
	wr(&hp, PCI_HP_REG_PSEG, 1, 4);
	wr(&hp, PCI_HP_REG_PSEG, 2, 4);
	wr(&hp, PCI_HP_REG_PSEG, 0xffffffffu, 4);
	assert_int_equal(rd(&hp, PCI_HP_REG_PSEG), 1);
	assert_int_equal(pci_hotplug_bad(&hp, PCI_HP_BAD_SEGMENT), 2);
	/* Odd sizes and offsets, writes to read-only registers, past the block. */
	wr(&hp, PCI_HP_REG_B0EJ, 0xff, 1);
	wr(&hp, PCI_HP_REG_B0EJ + 1, 0xff, 4);
	wr(&hp, PCI_HP_REG_PCIU, 0xff, 4);
	wr(&hp, PCI_HP_REG_PCID, 0xff, 4);
	wr(&hp, PCI_HP_REG_SIZE, 0xff, 4);
	memset(b, 0xaa, sizeof(b));
	pci_hotplug_bus_ops.read(&hp, PCI_HP_REG_PSEG, b, 2);
	assert_int_equal(b[0] | b[1], 0);
	pci_hotplug_bus_ops.read(&hp, 2, b, 4);
	pci_hotplug_bus_ops.read(&hp, PCI_HP_REG_SIZE, b, 4);
	assert_int_equal(pci_hotplug_bad(&hp, PCI_HP_BAD_ACCESS), 8);
	assert_int_equal(s.calls, 1);
	/* The VMM side refuses slots and segments that do not exist. */
	assert_int_equal(pci_hotplug_plug(&hp, 0, 0, true, true), -EINVAL);
	assert_int_equal(pci_hotplug_plug(&hp, 2, 1, true, true), -EINVAL);
	assert_int_equal(pci_hotplug_request_eject(&hp, 0, 32), -EINVAL);
	assert_int_equal(pci_hotplug_request_eject(&hp, 0, 2), -ENOENT);
	assert_int_equal(pci_hotplug_init(&hp, 17, &ops, &s), -EINVAL);
	pci_hotplug_destroy(&hp);
}

/* Snapshots: unread bits saved and set back; an unreaped eject makes the save wait; bits on
 * slots without a removable device or a missing segment are refused. */
static void test_pending_state(void **state)
{
	struct pci_hotplug hp, back;
	struct pci_hotplug_pending p, bad;
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(pci_hotplug_init(&hp, 2, &ops, &s), 0);
	assert_int_equal(pci_hotplug_plug(&hp, 1, 5, true, true), 0);
	assert_int_equal(pci_hotplug_plug(&hp, 0, 2, true, false), 0);
	assert_int_equal(pci_hotplug_plug(&hp, 0, 1, false, false), 0);
	assert_int_equal(pci_hotplug_request_eject(&hp, 0, 2), 0);
	wr(&hp, PCI_HP_REG_PSEG, 1, 4);
	assert_int_equal(pci_hotplug_get_pending(&hp, &p), 0);
	assert_int_equal(p.sel, 1);
	assert_int_equal(p.up[1], 1u << 5);
	assert_int_equal(p.down[0], 1u << 2);
	/* a restored VM: the same devices plugged silently, then the bits */
	assert_int_equal(pci_hotplug_init(&back, 2, &ops, &s), 0);
	assert_int_equal(pci_hotplug_plug(&back, 1, 5, true, false), 0);
	assert_int_equal(pci_hotplug_plug(&back, 0, 2, true, false), 0);
	assert_int_equal(pci_hotplug_plug(&back, 0, 1, false, false), 0);
	bad = p;
	bad.down[0] |= 1u << 1;                                  /* a fixed slot */
	assert_int_equal(pci_hotplug_set_pending(&back, &bad), -EINVAL);
	bad = p;
	bad.up[0] |= 1u << 7;                                    /* an empty slot */
	assert_int_equal(pci_hotplug_set_pending(&back, &bad), -EINVAL);
	bad = p;
	bad.sel = 2;
	assert_int_equal(pci_hotplug_set_pending(&back, &bad), -EINVAL);
	bad = p;
	bad.up[2] = 1u << 5;                                     /* past the last segment */
	assert_int_equal(pci_hotplug_set_pending(&back, &bad), -EINVAL);
	assert_int_equal(rd(&back, PCI_HP_REG_PCIU), 0);         /* nothing taken from those */
	assert_int_equal(pci_hotplug_set_pending(&back, &p), 0);
	assert_int_equal(rd(&back, PCI_HP_REG_PSEG), 1);
	assert_int_equal(rd(&back, PCI_HP_REG_PCIU), 1u << 5);
	wr(&back, PCI_HP_REG_PSEG, 0, 4);
	assert_int_equal(rd(&back, PCI_HP_REG_PCID), 1u << 2);
	wr(&back, PCI_HP_REG_B0EJ, 1u << 2, 4);                 /* ejected, not yet reaped */
	assert_int_equal(pci_hotplug_get_pending(&back, &p), -EBUSY);
	assert_int_equal(pci_hotplug_reap(&back, 0), 1u << 2);
	assert_int_equal(pci_hotplug_get_pending(&back, &p), 0);
	pci_hotplug_destroy(&back);
	pci_hotplug_destroy(&hp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_announced_once),
		cmocka_unit_test(test_remove_then_reuse),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_pending_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
