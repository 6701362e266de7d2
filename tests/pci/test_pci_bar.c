// SPDX-License-Identifier: Apache-2.0
/* BARs: sizing protocol, relocation decisions through a recording owner, rollback, snapshot. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pci/pci.h"
#include "base/bus.h"

#define BAR0_ADDR 0xc0000000ULL
#define BAR2_ADDR 0x8000000000ULL
#define BAR4_ADDR 0x1000ULL

enum call_kind { CALL_MAP, CALL_UNMAP, CALL_MOVE };

struct call {
	enum call_kind kind;
	unsigned bar;
	uint64_t a, b, size;
	bool mapped;
};

struct owner {
	struct call calls[32];
	unsigned nr;
	int fail_map, fail_move;
	struct bus *bus;            /* when set, map/unmap/move really change this bus */
};

struct fixture {
	struct pci_segment seg;
	struct pci_dev dev;
	struct owner own;
};

static void record(struct owner *o, enum call_kind k, unsigned bar, uint64_t a, uint64_t b,
		   uint64_t size, bool mapped)
{
	assert_true(o->nr < 32);
	o->calls[o->nr++] = (struct call){ k, bar, a, b, size, mapped };
}

static void bar_mmio_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	(void)opaque;
	(void)off;
	memset(data, 0x5a, len);
}

static const struct bus_device_ops bar_mmio_ops = { .read = bar_mmio_read };

static int own_map(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	struct owner *o = ctx;

	(void)dev;
	record(o, CALL_MAP, bar, addr, 0, size, false);
	if (o->fail_map)
		return o->fail_map;
	return o->bus ? bus_register(o->bus, addr, size, &bar_mmio_ops, NULL) : 0;
}

static void own_unmap(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr,
		      uint64_t size)
{
	struct owner *o = ctx;

	(void)dev;
	record(o, CALL_UNMAP, bar, addr, 0, size, false);
	if (o->bus)
		bus_unregister(o->bus, addr);
}

static int own_move(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t old_addr,
		    uint64_t new_addr, uint64_t size, bool mapped)
{
	struct owner *o = ctx;

	(void)dev;
	record(o, CALL_MOVE, bar, old_addr, new_addr, size, mapped);
	if (o->fail_move)
		return o->fail_move;
	if (o->bus && mapped) {
		bus_unregister(o->bus, old_addr);
		return bus_register(o->bus, new_addr, size, &bar_mmio_ops, NULL);
	}
	return 0;
}

static const struct pci_bar_ops owner_ops = { own_map, own_unmap, own_move };
static const struct pci_bar_ops fallback_ops = { own_map, own_unmap, NULL };

static const struct pci_ident ident = { .vendor = 0x1af4, .device = 0x1042 };

static void make_dev(struct pci_dev *dev, struct owner *own, const struct pci_bar_ops *ops)
{
	pci_dev_init(dev, "blk", &ident, NULL, NULL);
	assert_int_equal(pci_bar_add(dev, 0, PCI_BAR_MEM32, 0x1000, false), 0);
	assert_int_equal(pci_bar_add(dev, 2, PCI_BAR_MEM64, 0x4000, true), 0);
	assert_int_equal(pci_bar_add(dev, 4, PCI_BAR_IO, 0x20, false), 0);
	assert_int_equal(pci_bar_set_addr(dev, 0, BAR0_ADDR), 0);
	assert_int_equal(pci_bar_set_addr(dev, 2, BAR2_ADDR), 0);
	assert_int_equal(pci_bar_set_addr(dev, 4, BAR4_ADDR), 0);
	pci_dev_set_bar_ops(dev, ops, own);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(pci_segment_init(&f->seg, 0), 0);
	make_dev(&f->dev, &f->own, &owner_ops);
	assert_int_equal(pci_segment_add(&f->seg, &f->dev, 1), 0);
	assert_int_equal(pci_segment_apply(&f->seg), 0);      /* decode off: nothing */
	assert_int_equal(f->own.nr, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_segment_destroy(&f->seg);
	free(f);
	return 0;
}

/* A guest config write (via the segment, as both front-ends do) then the VMM's apply. */
static int wr(struct fixture *f, unsigned reg, unsigned len, uint32_t val)
{
	pci_segment_cfg_write(&f->seg, 0, 1, 0, reg, len, val);
	return pci_segment_apply(&f->seg);
}

static uint32_t rd(struct fixture *f, unsigned reg)
{
	return pci_segment_cfg_read(&f->seg, 0, 1, 0, reg, 4);
}

static void expect(const struct owner *o, unsigned i, enum call_kind k, unsigned bar,
		   uint64_t a, uint64_t b)
{
	assert_true(i < o->nr);
	assert_int_equal(o->calls[i].kind, k);
	assert_int_equal(o->calls[i].bar, bar);
	assert_int_equal(o->calls[i].a, a);
	assert_int_equal(o->calls[i].b, b);
}

static void decode_on(struct fixture *f)
{
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO), 0);
	f->own.nr = 0;
}

static void test_bar_add_rules(void **state)
{
	struct pci_dev *dev = malloc(sizeof(*dev));

	(void)state;
	pci_dev_init(dev, "x", &ident, NULL, NULL);
	assert_int_equal(pci_bar_add(dev, 6, PCI_BAR_MEM32, 0x1000, false), -EINVAL);
	assert_int_equal(pci_bar_add(dev, 0, PCI_BAR_MEM32, 0x1800, false), -EINVAL);
	assert_int_equal(pci_bar_add(dev, 0, PCI_BAR_MEM32, 8, false), -EINVAL);
	assert_int_equal(pci_bar_add(dev, 0, PCI_BAR_IO, 512, false), -EINVAL);
	assert_int_equal(pci_bar_add(dev, 0, PCI_BAR_IO, 16, true), -EINVAL);
	assert_int_equal(pci_bar_add(dev, 5, PCI_BAR_MEM64, 0x1000, false), -EINVAL);
	assert_int_equal(pci_bar_add(dev, 1, PCI_BAR_MEM64, 0x1000, false), 0);
	assert_int_equal(pci_bar_add(dev, 2, PCI_BAR_MEM32, 0x1000, false), -EBUSY);
	assert_int_equal(pci_bar_add(dev, 1, PCI_BAR_MEM32, 0x1000, false), -EBUSY);
	assert_int_equal(pci_bar_add(dev, 0, PCI_BAR_MEM64, 0x1000, false), -EBUSY);
	assert_int_equal(pci_bar_set_addr(dev, 1, 0x1800), -EINVAL);    /* misaligned */
	assert_int_equal(pci_bar_set_addr(dev, 3, 0x1000), -EINVAL);    /* no BAR */
	free(dev);
}

static void test_sizing_mem32(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *dev = &f->dev;

	assert_int_equal(pci_bar_add(dev, 1, PCI_BAR_MEM32, 16, true), 0);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_0, 4), 0xfffff000);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_1, 4), 0xfffffff8);   /* prefetch */
	/* Type bits are read-only: writing zero leaves them. */
	pci_cfg_write(dev, PCI_BASE_ADDRESS_1, 4, 0);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_1, 4), 0x8);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0_ADDR | 0xfff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_0, 4), (uint32_t)BAR0_ADDR);
	/* Unimplemented BARs read zero even after all-ones. */
	pci_cfg_write(dev, PCI_BASE_ADDRESS_5, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_5, 4), 0);
}

static void test_sizing_mem64(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *dev = &f->dev;
	struct pci_dev *big = malloc(sizeof(*big));

	pci_cfg_write(dev, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_2, 4), 0xffffc00c);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_3, 4), 0xffffffff);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_2, 4, 0);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_2, 4), 0xc);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_3, 4, 0x80);
	assert_int_equal(pci_bar_reg_addr(dev, 2), BAR2_ADDR);

	/* 8 GiB: the low dword has no address bits, the high one carries the size. */
	pci_dev_init(big, "big", &ident, NULL, NULL);
	assert_int_equal(pci_bar_add(big, 0, PCI_BAR_MEM64, 8ULL << 30, false), 0);
	pci_cfg_write(big, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	pci_cfg_write(big, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(big, PCI_BASE_ADDRESS_0, 4), 0x4);
	assert_int_equal(pci_cfg_read(big, PCI_BASE_ADDRESS_1, 4), 0xfffffffe);
	free(big);
}

static void test_sizing_io(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *dev = &f->dev;

	pci_cfg_write(dev, PCI_BASE_ADDRESS_4, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_4, 4), 0x0000ffe1);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_4, 4, 0);
	assert_int_equal(pci_cfg_read(dev, PCI_BASE_ADDRESS_4, 4), 0x1);
	pci_cfg_write(dev, PCI_BASE_ADDRESS_4, 2, 0xc040);
	assert_int_equal(pci_bar_reg_addr(dev, 4), 0xc040);
}

static void test_decode_on_maps(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY), 0);
	assert_int_equal(f->own.nr, 2);
	expect(&f->own, 0, CALL_MAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 1, CALL_MAP, 2, BAR2_ADDR, 0);
	assert_int_equal(f->own.calls[1].size, 0x4000);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO), 0);
	assert_int_equal(f->own.nr, 3);
	expect(&f->own, 2, CALL_MAP, 4, BAR4_ADDR, 0);
	/* Decode off unmaps, on maps again at the same place. */
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO), 0);
	assert_int_equal(f->own.nr, 5);
	expect(&f->own, 3, CALL_UNMAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 4, CALL_UNMAP, 2, BAR2_ADDR, 0);
	assert_true(f->dev.bar[4].mapped);
	assert_false(f->dev.bar[0].mapped);
}

static void test_move_needs_decode(void **state)
{
	struct fixture *f = *state;

	/* Decode off: the new address is only recorded. */
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0010000), 0);
	assert_int_equal(f->own.nr, 0);
	assert_int_equal(rd(f, PCI_BASE_ADDRESS_0), 0xc0010000);
	/* Decode on: the reservation moves, then it maps at the programmed address. */
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY), 0);
	expect(&f->own, 0, CALL_MOVE, 0, BAR0_ADDR, 0xc0010000);
	assert_false(f->own.calls[0].mapped);
	expect(&f->own, 1, CALL_MAP, 0, 0xc0010000, 0);
	expect(&f->own, 2, CALL_MAP, 2, BAR2_ADDR, 0);
	assert_int_equal(f->own.nr, 3);
	/* While decoding, a BAR write is a move of a mapped BAR. */
	f->own.nr = 0;
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0020000), 0);
	assert_int_equal(f->own.nr, 1);
	expect(&f->own, 0, CALL_MOVE, 0, 0xc0010000, 0xc0020000);
	assert_true(f->own.calls[0].mapped);
	assert_int_equal(f->dev.bar[0].addr, 0xc0020000);
	/* What vm.info sees. */
	struct pci_bar_info info;
	assert_int_equal(pci_dev_bar_info(&f->dev, 0, &info), 0);
	assert_true(info.type == PCI_BAR_MEM32 && info.mapped && !info.prefetch);
	assert_int_equal(info.addr, 0xc0020000);
	assert_int_equal(info.size, 0x1000);
	assert_int_equal(pci_dev_bar_info(&f->dev, 3, &info), -EINVAL);
	assert_int_equal(pci_dev_bar_info(&f->dev, 2, &info), 0);
	assert_true(info.type == PCI_BAR_MEM64 && info.prefetch);
}

static void test_probe_and_unchanged_not_moves(void **state)
{
	struct fixture *f = *state;

	decode_on(f);
	/* Size probe and restore with decode on (mmio_always_on): no calls. */
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xffffffff), 0);
	assert_int_equal(rd(f, PCI_BASE_ADDRESS_0), 0xfffff000);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0_ADDR), 0);
	/* Linux's 64-bit order: low probe, low restore, high probe, high restore. */
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_2, 4, 0xffffffff), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_2, 4, (uint32_t)BAR2_ADDR | 0xc), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_3, 4, 0xffffffff), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_3, 4, (uint32_t)(BAR2_ADDR >> 32)), 0);
	/* I/O probe. */
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_4, 4, 0xffffffff), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_4, 4, (uint32_t)BAR4_ADDR), 0);
	/* Rewriting the same value. */
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0_ADDR), 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO), 0);
	assert_int_equal(f->own.nr, 0);
}

static void test_probe_with_decode_off_then_on(void **state)
{
	struct fixture *f = *state;

	decode_on(f);
	/* Linux __pci_read_base: decode off, probe, restore, decode back on. */
	assert_int_equal(wr(f, PCI_COMMAND, 2, 0), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xffffffff), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0_ADDR), 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO), 0);
	assert_int_equal(f->own.nr, 6);
	expect(&f->own, 0, CALL_UNMAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 3, CALL_MAP, 0, BAR0_ADDR, 0);
	/* A probe left in place is never mapped, even with decode toggled. */
	f->own.nr = 0;
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xffffffff), 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, 0), 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY), 0);
	for (unsigned i = 0; i < f->own.nr; i++)
		assert_true(f->own.calls[i].bar != 0 || f->own.calls[i].kind == CALL_UNMAP);
}

static void test_mem64_waits_for_high(void **state)
{
	struct fixture *f = *state;

	decode_on(f);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_2, 4, 0x00100000), 0);
	assert_int_equal(f->own.nr, 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_3, 4, 0x81), 0);
	assert_int_equal(f->own.nr, 1);
	expect(&f->own, 0, CALL_MOVE, 2, BAR2_ADDR, 0x8100100000ULL);
	assert_true(f->own.calls[0].mapped);
	/* Low dword only, then decode off and on: the registers as they stand. */
	f->own.nr = 0;
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_2, 4, 0x00200000), 0);
	assert_int_equal(f->own.nr, 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO), 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY), 0);
	expect(&f->own, 0, CALL_UNMAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 1, CALL_UNMAP, 2, 0x8100100000ULL, 0);
	expect(&f->own, 2, CALL_MAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 3, CALL_MOVE, 2, 0x8100100000ULL, 0x8100200000ULL);
	expect(&f->own, 4, CALL_MAP, 2, 0x8100200000ULL, 0);
}

static void test_move_failure_rolls_back(void **state)
{
	struct fixture *f = *state;

	decode_on(f);
	f->own.fail_move = -EEXIST;
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0040000), -EEXIST);
	assert_int_equal(f->own.nr, 1);
	expect(&f->own, 0, CALL_MOVE, 0, BAR0_ADDR, 0xc0040000);
	assert_int_equal(rd(f, PCI_BASE_ADDRESS_0), (uint32_t)BAR0_ADDR);
	assert_true(f->dev.bar[0].mapped);
	assert_int_equal(f->dev.bar[0].addr, BAR0_ADDR);
	/* 64-bit: both halves go back, type bits intact. */
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_2, 4, 0), 0);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_3, 4, 0x90), -EEXIST);
	assert_int_equal(rd(f, PCI_BASE_ADDRESS_2), (uint32_t)BAR2_ADDR | 0xc);
	assert_int_equal(rd(f, PCI_BASE_ADDRESS_3), (uint32_t)(BAR2_ADDR >> 32));
	/* Nothing pending afterwards: the next apply is quiet. */
	f->own.nr = 0;
	assert_int_equal(pci_segment_apply(&f->seg), 0);
	assert_int_equal(f->own.nr, 0);
}

static void test_move_failure_while_unmapped(void **state)
{
	struct fixture *f = *state;

	f->own.fail_move = -ENOSPC;
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0040000), 0);
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY), -ENOSPC);
	expect(&f->own, 0, CALL_MOVE, 0, BAR0_ADDR, 0xc0040000);
	expect(&f->own, 1, CALL_MAP, 0, BAR0_ADDR, 0);      /* decoding at the old place */
	assert_int_equal(rd(f, PCI_BASE_ADDRESS_0), (uint32_t)BAR0_ADDR);
	assert_true(f->dev.bar[0].mapped);
}

static void test_map_failure(void **state)
{
	struct fixture *f = *state;

	f->own.fail_map = -EEXIST;
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY), -EEXIST);
	assert_false(f->dev.bar[0].mapped);
	f->own.fail_map = 0;
	f->own.nr = 0;
	assert_int_equal(wr(f, PCI_COMMAND, 2, 0), 0);
	assert_int_equal(f->own.nr, 0);                     /* nothing was mapped */
	assert_int_equal(wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY), 0);
	assert_true(f->dev.bar[0].mapped && f->dev.bar[2].mapped);
}

static void test_fallback_move_and_no_ops(void **state)
{
	struct fixture *f = *state;

	pci_dev_set_bar_ops(&f->dev, &fallback_ops, &f->own);
	decode_on(f);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0050000), 0);
	assert_int_equal(f->own.nr, 2);
	expect(&f->own, 0, CALL_UNMAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 1, CALL_MAP, 0, 0xc0050000, 0);
	/* No owner at all: state is tracked, nothing breaks. */
	pci_dev_set_bar_ops(&f->dev, NULL, NULL);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0060000), 0);
	assert_int_equal(f->dev.bar[0].addr, 0xc0060000);
	assert_int_equal(f->own.nr, 2);
}

static void test_pending_flag_and_remove(void **state)
{
	struct fixture *f = *state;

	assert_false(pci_segment_pending(&f->seg));
	pci_segment_cfg_write(&f->seg, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(pci_segment_pending(&f->seg));
	assert_int_equal(f->own.nr, 0);                     /* nothing before apply */
	assert_int_equal(pci_segment_apply(&f->seg), 0);
	assert_false(pci_segment_pending(&f->seg));
	assert_int_equal(f->own.nr, 2);
	/* Non-BAR writes do not make work. */
	pci_segment_cfg_write(&f->seg, 0, 1, 0, PCI_INTERRUPT_LINE, 1, 5);
	assert_false(pci_segment_pending(&f->seg));
	assert_int_equal(pci_segment_remove(&f->seg, &f->dev), 0);
	assert_int_equal(f->own.nr, 4);
	expect(&f->own, 2, CALL_UNMAP, 0, BAR0_ADDR, 0);
	expect(&f->own, 3, CALL_UNMAP, 2, BAR2_ADDR, 0);
}

/*
 * The re-entrancy case for real: ECAM on an MMIO bus whose ranges the BAR owner changes. The
 * config write returns with only the mark; the move runs after bus_write released its lock.
 */
static void test_ecam_write_moves_bar_on_same_bus(void **state)
{
	struct fixture *f = *state;
	struct bus mmio;
	uint8_t d[4];
	uint16_t cmd = PCI_COMMAND_MEMORY;
	uint32_t bar = 0xc0070000;
	uint64_t ecam = 0xe8000000, dev1 = ecam + (1 << 15);

	assert_int_equal(bus_init(&mmio, "mmio"), 0);
	assert_int_equal(bus_register(&mmio, ecam, 0x10000000, &pci_ecam_ops, &f->seg), 0);
	f->own.bus = &mmio;
	assert_true(bus_write(&mmio, dev1 + PCI_COMMAND, (uint8_t *)&cmd, 2));
	assert_int_equal(pci_segment_apply(&f->seg), 0);
	assert_true(bus_read(&mmio, BAR0_ADDR, d, 4));
	assert_int_equal(d[0], 0x5a);
	assert_true(bus_write(&mmio, dev1 + PCI_BASE_ADDRESS_0, (uint8_t *)&bar, 4));
	assert_int_equal(pci_segment_apply(&f->seg), 0);
	assert_false(bus_read(&mmio, BAR0_ADDR, d, 4));
	assert_true(bus_read(&mmio, bar, d, 4));
	assert_int_equal(d[3], 0x5a);
	assert_int_equal(pci_segment_remove(&f->seg, &f->dev), 0);
	bus_destroy(&mmio);
}

/* Refused with -EINVAL and a message naming the field (@want is a substring of it). */
#define REJECT(dev, snap, want)                                                         \
	do {                                                                            \
		assert_int_equal(pci_dev_restore(dev, snap, err, sizeof(err)), -EINVAL); \
		if (!strstr(err, want))                                                 \
			fail_msg("\"%s\" does not contain \"%s\"", err, want);          \
	} while (0)

static void test_snapshot_round_trip(void **state)
{
	struct fixture *f = *state;
	struct fixture *g = calloc(1, sizeof(*g));
	char err[256];
	cJSON *snap;
	char *hex;

	decode_on(f);
	assert_int_equal(wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0080000), 0);
	assert_int_equal(wr(f, PCI_INTERRUPT_LINE, 1, 9), 0);
	snap = pci_dev_save(&f->dev);
	assert_non_null(snap);

	pci_segment_init(&g->seg, 0);
	make_dev(&g->dev, &g->own, &owner_ops);
	pci_segment_add(&g->seg, &g->dev, 1);
	assert_int_equal(pci_dev_restore(&g->dev, snap, err, sizeof(err)), 0);
	assert_memory_equal(g->dev.cfg, f->dev.cfg, PCI_CFG_SIZE);
	assert_int_equal(g->own.nr, 3);
	expect(&g->own, 0, CALL_MAP, 0, 0xc0080000, 0);
	expect(&g->own, 1, CALL_MAP, 2, BAR2_ADDR, 0);
	expect(&g->own, 2, CALL_MAP, 4, BAR4_ADDR, 0);
	assert_false(pci_segment_pending(&g->seg) && pci_segment_apply(&g->seg));

	/* A different device (read-only vendor ID changed) is rejected, state untouched. */
	hex = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(snap, "cfg")));
	hex[1] = '0';                 /* vendor 0x1af4 -> 0x1af0 */
	cJSON_ReplaceItemInObject(snap, "cfg", cJSON_CreateString(hex));
	assert_int_equal(pci_dev_restore(&g->dev, snap, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "cfg[0x0]: 0xf0, but this device has 0xf4 in read-only bits "
			    "0xff (another device?)");
	assert_int_equal(pci_cfg_get16(&g->dev, 0), 0x1af4);
	cJSON_ReplaceItemInObject(snap, "cfg", cJSON_CreateString("f41a"));
	REJECT(&g->dev, snap, "cfg: expected 8192 hex digits");
	free(hex);
	pci_segment_destroy(&g->seg);
	free(g);
	cJSON_Delete(snap);
}

static void test_snapshot_rejects_bad_bars(void **state)
{
	struct fixture *f = *state;
	cJSON *snap = pci_dev_save(&f->dev), *bars, *b0;
	char err[256];

	bars = cJSON_GetObjectItem(snap, "bars");
	b0 = cJSON_GetArrayItem(bars, 0);
	cJSON_ReplaceItemInObject(b0, "addr", cJSON_CreateString("0xc0000800"));
	REJECT(&f->dev, snap, "bars[0].addr: 0xc0000800 is not aligned to the BAR size 0x1000");
	cJSON_ReplaceItemInObject(b0, "addr", cJSON_CreateString("c0000000"));
	REJECT(&f->dev, snap, "bars[0].addr: expected a \"0x...\" hex string");
	cJSON_DeleteItemFromObject(b0, "addr");
	REJECT(&f->dev, snap, "bars[0].addr: missing");
	cJSON_AddStringToObject(b0, "addr", "0xc0000000");
	cJSON_ReplaceItemInObject(b0, "probe_hi", cJSON_CreateNumber(1));
	REJECT(&f->dev, snap, "bars[0].probe_hi: expected true or false");
	cJSON_ReplaceItemInObject(b0, "probe_hi", cJSON_CreateFalse());
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(bars, 1), "mapped", cJSON_CreateTrue());
	REJECT(&f->dev, snap, "bars[1].mapped: BAR1 is not implemented");     /* BAR1 is the none */
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(bars, 1), "mapped", cJSON_CreateFalse());
	cJSON_DeleteItemFromArray(bars, 5);
	REJECT(&f->dev, snap, "bars: expected an array of 6 objects");
	cJSON_DeleteItemFromObject(snap, "cfg");
	REJECT(&f->dev, snap, "cfg: missing");
	assert_int_equal(f->own.nr, 0);
	cJSON_Delete(snap);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bar_add_rules),
		T(test_sizing_mem32),
		T(test_sizing_mem64),
		T(test_sizing_io),
		T(test_decode_on_maps),
		T(test_move_needs_decode),
		T(test_probe_and_unchanged_not_moves),
		T(test_probe_with_decode_off_then_on),
		T(test_mem64_waits_for_high),
		T(test_move_failure_rolls_back),
		T(test_move_failure_while_unmapped),
		T(test_map_failure),
		T(test_fallback_move_and_no_ops),
		T(test_pending_flag_and_remove),
		T(test_ecam_write_moves_bar_on_same_bus),
		T(test_snapshot_round_trip),
		T(test_snapshot_rejects_bad_bars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
