// SPDX-License-Identifier: Apache-2.0
/*
 * Re-entrancy under load: two "vCPU" threads program a BAR and toggle decode through ECAM on
 * the same MMIO bus whose ranges the BAR owner edits, applying the deferred work after each
 * bus_write as the VMM does. It must neither deadlock nor leave bus and registers disagreeing.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pci/pci.h"
#include "base/bus.h"

#define ECAM      0xe8000000ULL
#define DEV1      (ECAM + (1 << 15))
#define BAR_BASE  0xc0000000ULL
#define ITER      3000

struct world {
	struct bus mmio;
	struct pci_segment seg;
	struct pci_dev dev;
};

static void bar_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	(void)opaque;
	(void)off;
	memset(data, 0x5a, len);
}

static const struct bus_device_ops bar_ops_bus = { .read = bar_read };

static int map(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	(void)dev;
	(void)bar;
	return bus_register(ctx, addr, size, &bar_ops_bus, NULL);
}

static void unmap(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	(void)dev;
	(void)bar;
	(void)size;
	bus_unregister(ctx, addr);
}

static int move(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t old_addr,
		uint64_t new_addr, uint64_t size, bool mapped)
{
	int ret;

	(void)dev;
	(void)bar;
	if (!mapped)
		return 0;
	bus_unregister(ctx, old_addr);
	ret = bus_register(ctx, new_addr, size, &bar_ops_bus, NULL);
	if (ret)
		bus_register(ctx, old_addr, size, &bar_ops_bus, NULL);
	return ret;
}

static const struct pci_bar_ops owner = { map, unmap, move };

/* One guest write through the bus, then the VMM's post-dispatch step. */
static void guest_write(struct world *w, uint64_t addr, uint32_t val, unsigned len)
{
	uint8_t d[4] = { (uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
			 (uint8_t)(val >> 24) };

	bus_write(&w->mmio, addr, d, len);
	if (pci_segment_pending(&w->seg))
		pci_segment_apply(&w->seg);
}

static void *mover(void *arg)
{
	struct world *w = arg;
	unsigned i;

	for (i = 0; i < ITER; i++)
		guest_write(w, DEV1 + PCI_BASE_ADDRESS_0, (uint32_t)BAR_BASE + (i % 8) * 0x1000, 4);
	return NULL;
}

static void *toggler(void *arg)
{
	struct world *w = arg;
	uint8_t d[4];
	unsigned i;

	for (i = 0; i < ITER; i++) {
		guest_write(w, DEV1 + PCI_COMMAND, i & 1 ? PCI_COMMAND_MEMORY : 0, 2);
		bus_read(&w->mmio, BAR_BASE + (i % 8) * 0x1000, d, 4);
		bus_read(&w->mmio, DEV1 + PCI_BASE_ADDRESS_0, d, 4);
	}
	guest_write(w, DEV1 + PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	return NULL;
}

static void test_concurrent_moves(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	static const struct pci_ident ident = { .vendor = 0x1af4, .device = 0x1044 };
	pthread_t a, b;
	uint64_t addr;
	uint8_t d[4];
	unsigned i;

	(void)state;
	assert_int_equal(bus_init(&w->mmio, "mmio"), 0);
	assert_int_equal(pci_segment_init(&w->seg, 0), 0);
	assert_int_equal(bus_register(&w->mmio, ECAM, 0x10000000, &pci_ecam_ops, &w->seg), 0);
	pci_dev_init(&w->dev, "rng", &ident, NULL, NULL);
	assert_int_equal(pci_bar_add(&w->dev, 0, PCI_BAR_MEM32, 0x1000, false), 0);
	assert_int_equal(pci_bar_set_addr(&w->dev, 0, BAR_BASE), 0);
	pci_dev_set_bar_ops(&w->dev, &owner, &w->mmio);
	assert_int_equal(pci_segment_add(&w->seg, &w->dev, 1), 0);

	assert_int_equal(pthread_create(&a, NULL, mover, w), 0);
	assert_int_equal(pthread_create(&b, NULL, toggler, w), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pci_segment_apply(&w->seg);

	/* Decode is on: the BAR decodes exactly where its register says, and nowhere else. */
	addr = pci_bar_reg_addr(&w->dev, 0);
	assert_int_equal(addr, w->dev.bar[0].addr);
	assert_true(w->dev.bar[0].mapped);
	for (i = 0; i < 8; i++)
		assert_int_equal(bus_read(&w->mmio, BAR_BASE + i * 0x1000, d, 4),
				 BAR_BASE + i * 0x1000 == addr);
	assert_int_equal(w->mmio.ranges.nr, 2);

	pci_segment_destroy(&w->seg);
	assert_int_equal(w->mmio.ranges.nr, 1);
	bus_destroy(&w->mmio);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
