// SPDX-License-Identifier: Apache-2.0
/* The segment: slots, host bridge, CONFIG_ADDRESS/CONFIG_DATA and ECAM front-ends. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pci/pci.h"

struct fixture {
	struct pci_segment seg;
	struct pci_dev dev;
};

static const struct pci_ident ident = {
	.vendor = 0x1af4, .device = 0x1044, .class_code = 0xff0000, .revision = 1,
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(pci_segment_init(&f->seg, 0), 0);
	pci_dev_init(&f->dev, "rng", &ident, NULL, NULL);
	pci_cfg_set32(&f->dev, 0x40, 0x44332211);
	pci_cfg_set_wmask(&f->dev, 0x40, 4, 0xffffffff);
	assert_int_equal(pci_segment_add(&f->seg, &f->dev, 3), 0);
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

/* Port accesses, relative to 0xCF8, through the bus_device_ops as the port bus calls them. */
static uint32_t pio_in(struct pci_segment *seg, unsigned port, unsigned len)
{
	uint8_t d[4] = { 0 };
	uint32_t v = 0;
	unsigned i;

	pci_cf8_ops.read(seg, port - PCI_CF8_PORT, d, len);
	for (i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void pio_out(struct pci_segment *seg, unsigned port, unsigned len, uint32_t v)
{
	uint8_t d[4];
	unsigned i;

	for (i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	pci_cf8_ops.write(seg, port - PCI_CF8_PORT, d, len);
}

static uint32_t cf8_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t ecam_in(struct pci_segment *seg, uint64_t off, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint32_t v = 0;
	unsigned i;

	pci_ecam_ops.read(seg, off, d, len);
	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void ecam_out(struct pci_segment *seg, uint64_t off, unsigned len, uint32_t v)
{
	uint8_t d[8] = { 0 };
	unsigned i;

	for (i = 0; i < len && i < 4; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	pci_ecam_ops.write(seg, off, d, len);
}

static uint64_t ecam_off(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return (uint64_t)bus << 20 | dev << 15 | fn << 12 | reg;
}

static void test_host_bridge(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pci_segment_cfg_read(&f->seg, 0, 0, 0, 0, 4), 0x0d578086);
	assert_int_equal(pci_segment_cfg_read(&f->seg, 0, 0, 0, PCI_CLASS_DEVICE, 2), 0x0600);
	assert_int_equal(pci_segment_cfg_read(&f->seg, 0, 0, 0, PCI_CLASS_PROG, 1), 0);
	assert_int_equal(pci_segment_cfg_read(&f->seg, 0, 0, 0, PCI_HEADER_TYPE, 1), 0);
	assert_ptr_equal(pci_segment_get(&f->seg, 0), &f->seg.host_bridge);
}

/* arch/x86/pci/direct.c pci_check_type1 plus pci_sanity_check, step by step. */
static void test_linux_check_type1(void **state)
{
	struct fixture *f = *state;
	uint32_t tmp;

	pio_out(&f->seg, 0xcf8, 4, 0x80000810);
	pio_out(&f->seg, 0xcfb, 1, 0x01);             /* not a dword: CONFIG_ADDRESS unchanged */
	tmp = pio_in(&f->seg, 0xcf8, 4);
	assert_int_equal(tmp, 0x80000810);
	pio_out(&f->seg, 0xcf8, 4, 0x80000000);
	assert_int_equal(pio_in(&f->seg, 0xcf8, 4), 0x80000000);
	/* Sanity check: a host bridge class or an Intel vendor ID on bus 0. */
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 0, 0, PCI_CLASS_DEVICE));
	assert_int_equal(pio_in(&f->seg, 0xcfc + 2, 2), 0x0600);
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 0, 0, PCI_VENDOR_ID));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 2), 0x8086);
	pio_out(&f->seg, 0xcf8, 4, tmp);
	assert_int_equal(pio_in(&f->seg, 0xcf8, 4), tmp);
}

static void test_cf8_address_register(void **state)
{
	struct fixture *f = *state;

	pio_out(&f->seg, 0xcf8, 4, 0x80001a47);
	assert_int_equal(pio_in(&f->seg, 0xcf8, 4), 0x80001a44);      /* bits 1:0 read zero */
	/* Narrower writes do not latch (PCI 3.0 3.2.2.3.2); narrower reads see the register. */
	pio_out(&f->seg, 0xcf9, 1, 0x18);
	pio_out(&f->seg, 0xcfa, 2, 0x8001);
	assert_int_equal(pio_in(&f->seg, 0xcf8, 4), 0x80001a44);
	assert_int_equal(pio_in(&f->seg, 0xcf9, 1), 0x1a);
	assert_int_equal(pio_in(&f->seg, 0xcfa, 2), 0x8000);
	assert_int_equal(pio_in(&f->seg, 0xcf9, 2), 0x001a);
	/* Straddling CONFIG_ADDRESS and CONFIG_DATA: ignored / all-ones, and counted. */
	pio_out(&f->seg, 0xcfa, 4, 0);
	assert_int_equal(pio_in(&f->seg, 0xcf8, 4), 0x80001a44);
	assert_int_equal(pio_in(&f->seg, 0xcfa, 4), 0xffffffff);
	assert_int_equal(f->seg.bad_accesses, 2);
}

static void test_cf8_data_sizes(void **state)
{
	struct fixture *f = *state;
	unsigned k;

	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 3, 0, 0x40));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0x44332211);
	for (k = 0; k < 4; k++)
		assert_int_equal(pio_in(&f->seg, 0xcfc + k, 1), 0x11 * (k + 1));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 2), 0x2211);
	assert_int_equal(pio_in(&f->seg, 0xcfd, 2), 0x3322);
	assert_int_equal(pio_in(&f->seg, 0xcfe, 2), 0x4433);
	/* Writes at every size and offset. */
	pio_out(&f->seg, 0xcfd, 1, 0xaa);
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0x4433aa11);
	pio_out(&f->seg, 0xcfe, 2, 0xbbcc);
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0xbbccaa11);
	pio_out(&f->seg, 0xcfc, 4, 0x01020304);
	assert_int_equal(pci_cfg_get32(&f->dev, 0x40), 0x01020304);
	/* CONFIG_ADDRESS bits 1:0 do not offset the data port. */
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 3, 0, 0x40) | 2);
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0x01020304);
	/* A dword at 0xCFD would cross the data register: all-ones, dropped. */
	assert_int_equal(pio_in(&f->seg, 0xcfd, 4), 0xffffffff);
	pio_out(&f->seg, 0xcfd, 4, 0);
	assert_int_equal(pci_cfg_get32(&f->dev, 0x40), 0x01020304);
}

static void test_cf8_absent_and_disabled(void **state)
{
	struct fixture *f = *state;

	/* Enable bit clear: all-ones, writes ignored. */
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 3, 0, 0x40) & ~0x80000000u);
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0xffffffff);
	pio_out(&f->seg, 0xcfc, 4, 0);
	assert_int_equal(pci_cfg_get32(&f->dev, 0x40), 0x44332211);
	/* Empty slot, function != 0, bus != 0. */
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 4, 0, 0));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0xffffffff);
	assert_int_equal(pio_in(&f->seg, 0xcfe, 2), 0xffff);
	assert_int_equal(pio_in(&f->seg, 0xcff, 1), 0xff);
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 3, 1, 0));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0xffffffff);
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(1, 3, 0, 0));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0xffffffff);
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(1, 0, 0, 0));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0xffffffff);
	pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, 3, 0, 0));
	assert_int_equal(pio_in(&f->seg, 0xcfc, 4), 0x10441af4);
}

static void test_ecam(void **state)
{
	struct fixture *f = *state;
	unsigned k;

	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 0, 0, 0), 4), 0x0d578086);
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0), 4), 0x10441af4);
	for (k = 0; k < 4; k++)
		assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0x40 + k), 1), 0x11 * (k + 1));
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0x41), 2), 0x3322);
	ecam_out(&f->seg, ecam_off(0, 3, 0, 0x42), 2, 0xbeef);
	ecam_out(&f->seg, ecam_off(0, 3, 0, 0x40), 1, 0x99);
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0x40), 4), 0xbeef2299);
	/* Extended config space is reachable through ECAM only. */
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0x100), 4), 0);
	/* Straddling, 8-byte, absent functions, other buses: all-ones. */
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0x43), 2), 0xffff);
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 0, 0x40), 8), 0xffffffff);
	ecam_out(&f->seg, ecam_off(0, 3, 0, 0x43), 2, 0);
	assert_int_equal(pci_cfg_get32(&f->dev, 0x40), 0xbeef2299);
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 5, 0, 0), 4), 0xffffffff);
	assert_int_equal(ecam_in(&f->seg, ecam_off(0, 3, 7, 0), 4), 0xffffffff);
	assert_int_equal(ecam_in(&f->seg, ecam_off(1, 3, 0, 0), 4), 0xffffffff);
	assert_int_equal(ecam_in(&f->seg, ecam_off(255, 31, 7, 0xffc), 4), 0xffffffff);
	assert_int_equal(f->seg.bad_accesses, 3);
}

/* Both front-ends see the same function. */
static void test_cf8_ecam_agree(void **state)
{
	struct fixture *f = *state;
	unsigned slot, reg;

	for (slot = 0; slot < PCI_NR_SLOTS; slot++) {
		for (reg = 0; reg < 0x100; reg += 4) {
			pio_out(&f->seg, 0xcf8, 4, cf8_addr(0, slot, 0, reg));
			assert_int_equal(pio_in(&f->seg, 0xcfc, 4),
					 ecam_in(&f->seg, ecam_off(0, slot, 0, reg), 4));
		}
	}
}

static void test_slots(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *devs = calloc(32, sizeof(*devs));
	unsigned i;

	for (i = 0; i < 32; i++)
		pci_dev_init(&devs[i], "d", &ident, NULL, NULL);
	assert_int_equal(pci_segment_add(&f->seg, &devs[0], 3), -EBUSY);
	assert_int_equal(pci_segment_add(&f->seg, &devs[0], 0), -EINVAL);
	assert_int_equal(pci_segment_add(&f->seg, &devs[0], 32), -EINVAL);
	/* Automatic choice: lowest free, skipping the host bridge and slot 3. */
	assert_int_equal(pci_segment_add(&f->seg, &devs[0], -1), 0);
	assert_int_equal(devs[0].slot, 1);
	assert_int_equal(pci_segment_add(&f->seg, &devs[0], -1), -EBUSY);     /* already in */
	assert_int_equal(pci_segment_add(&f->seg, &devs[1], -1), 0);
	assert_int_equal(devs[1].slot, 2);
	assert_int_equal(pci_segment_add(&f->seg, &devs[2], -1), 0);
	assert_int_equal(devs[2].slot, 4);
	for (i = 3; i < 30; i++)
		assert_int_equal(pci_segment_add(&f->seg, &devs[i], -1), 0);
	assert_int_equal(pci_segment_add(&f->seg, &devs[30], -1), -ENOSPC);
	assert_int_equal(pci_segment_remove(&f->seg, &devs[1]), 0);
	assert_int_equal(pci_segment_remove(&f->seg, &devs[1]), -ENOENT);
	assert_int_equal(pci_segment_remove(&f->seg, &f->seg.host_bridge), -ENOENT);
	assert_int_equal(pci_segment_cfg_read(&f->seg, 0, 2, 0, 0, 4), 0xffffffff);
	assert_int_equal(pci_segment_add(&f->seg, &devs[30], 2), 0);
	assert_int_equal(pci_segment_cfg_read(&f->seg, 0, 2, 0, 0, 4), 0x10441af4);
	pci_segment_destroy(&f->seg);
	pci_segment_init(&f->seg, 0);
	free(devs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_check_type1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_address_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_data_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_absent_and_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_ecam_agree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
