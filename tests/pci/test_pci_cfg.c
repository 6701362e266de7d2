// SPDX-License-Identifier: Apache-2.0
/* Config space model: header, writable and RW1C masks, access sizes, capability list. */
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pci/pci.h"

static const struct pci_ident ident = {
	.vendor = 0x1af4, .device = 0x1044, .subsys_vendor = 0x1af4, .subsys_id = 0x40,
	.class_code = 0xff0000, .revision = 1, .irq_pin = 1,
};

static struct pci_dev *new_dev(void)
{
	struct pci_dev *dev = malloc(sizeof(*dev));

	pci_dev_init(dev, "test", &ident, NULL, NULL);
	return dev;
}

static void test_header(void **state)
{
	struct pci_dev *dev = new_dev();

	(void)state;
	assert_int_equal(pci_cfg_read(dev, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(pci_cfg_read(dev, PCI_DEVICE_ID, 2), 0x1044);
	assert_int_equal(pci_cfg_read(dev, 0, 4), 0x10441af4);
	assert_int_equal(pci_cfg_read(dev, PCI_CLASS_REVISION, 4), 0xff000001);
	assert_int_equal(pci_cfg_read(dev, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(pci_cfg_read(dev, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00401af4);
	assert_int_equal(pci_cfg_read(dev, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(pci_cfg_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	/* Identity is read-only. */
	assert_int_equal(pci_cfg_write(dev, 0, 4, 0x12345678), 0);
	assert_int_equal(pci_cfg_read(dev, 0, 4), 0x10441af4);
	assert_int_equal(pci_cfg_write(dev, PCI_INTERRUPT_PIN, 1, 4), 0);
	assert_int_equal(pci_cfg_read(dev, PCI_INTERRUPT_PIN, 1), 1);
	/* Interrupt Line is scratch. */
	assert_int_equal(pci_cfg_write(dev, PCI_INTERRUPT_LINE, 1, 0x0b), 0);
	assert_int_equal(pci_cfg_read(dev, PCI_INTERRUPT_LINE, 2), 0x010b);
	/* Unimplemented: expansion ROM reads zero and stays zero. */
	pci_cfg_write(dev, PCI_ROM_ADDRESS, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, PCI_ROM_ADDRESS, 4), 0);
	free(dev);
}

static void test_command(void **state)
{
	struct pci_dev *dev = new_dev();

	(void)state;
	pci_cfg_write(dev, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(pci_cfg_read(dev, PCI_COMMAND, 2),
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
			 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	pci_cfg_write(dev, PCI_COMMAND, 1, 0);
	assert_int_equal(pci_cfg_read(dev, PCI_COMMAND, 2),
			 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	pci_cfg_write(dev, PCI_COMMAND + 1, 1, 0);
	assert_int_equal(pci_cfg_read(dev, PCI_COMMAND, 2), 0);
	free(dev);
}

static void test_status_rw1c(void **state)
{
	struct pci_dev *dev = new_dev();

	(void)state;
	pci_cfg_set16(dev, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY |
		      PCI_STATUS_CAP_LIST);
	/* Writing 0 changes nothing; writing 1 clears only that RW1C bit. */
	pci_cfg_write(dev, PCI_STATUS, 2, 0);
	assert_int_equal(pci_cfg_read(dev, PCI_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT |
			 PCI_STATUS_DETECTED_PARITY | PCI_STATUS_CAP_LIST);
	pci_cfg_write(dev, PCI_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST);
	assert_int_equal(pci_cfg_read(dev, PCI_STATUS, 2),
			 PCI_STATUS_DETECTED_PARITY | PCI_STATUS_CAP_LIST);
	/* A dword write to COMMAND with status bits set clears them too (the usual trap). */
	pci_cfg_write(dev, PCI_COMMAND, 4, 0x80000000u | PCI_COMMAND_MEMORY);
	assert_int_equal(pci_cfg_read(dev, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	assert_int_equal(pci_cfg_read(dev, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	free(dev);
}

static void test_custom_masks(void **state)
{
	struct pci_dev *dev = new_dev();

	(void)state;
	pci_cfg_set32(dev, 0x44, 0xa5a5a5a5);
	pci_cfg_set_wmask(dev, 0x44, 4, 0x0000ff0f);
	pci_cfg_set_w1c(dev, 0x44, 4, 0x00ff0000);
	pci_cfg_write(dev, 0x44, 4, 0x0f0f0000);
	/* bits 31:24 RO (a5), 23:16 RW1C (a5 & ~0f), 15:8 RW (00), 7:0 low nibble RW (0) */
	assert_int_equal(pci_cfg_read(dev, 0x44, 4), 0xa5a000a0);
	pci_cfg_write(dev, 0x45, 1, 0x12);
	assert_int_equal(pci_cfg_read(dev, 0x44, 4), 0xa5a012a0);
	free(dev);
}

static void test_access_sizes(void **state)
{
	struct pci_dev *dev = new_dev();
	unsigned off;

	(void)state;
	pci_cfg_set32(dev, 0x48, 0x44332211);
	for (off = 0x48; off < 0x4c; off++)
		assert_int_equal(pci_cfg_read(dev, off, 1), 0x11 * (off - 0x48 + 1));
	assert_int_equal(pci_cfg_read(dev, 0x48, 2), 0x2211);
	assert_int_equal(pci_cfg_read(dev, 0x49, 2), 0x3322);   /* inside one dword: fine */
	assert_int_equal(pci_cfg_read(dev, 0x4a, 2), 0x4433);
	/* Straddling a dword, bad sizes, past 4 KiB: all-ones of the access size, writes dropped. */
	assert_int_equal(pci_cfg_read(dev, 0x4b, 2), 0xffff);
	assert_int_equal(pci_cfg_read(dev, 0x4a, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(dev, 0x48, 3), 0xffffff);
	assert_int_equal(pci_cfg_read(dev, 0x1000, 1), 0xff);
	assert_int_equal(pci_cfg_write(dev, 0x4b, 2, 0), -EINVAL);
	assert_int_equal(pci_cfg_write(dev, 0x48, 8, 0), -EINVAL);
	assert_int_equal(pci_cfg_write(dev, PCI_CFG_SIZE, 1, 0), -EINVAL);
	/* Extended space exists and reads zero. */
	assert_int_equal(pci_cfg_read(dev, 0xffc, 4), 0);
	assert_int_equal(pci_cfg_read(dev, 0x100, 4), 0);
	free(dev);
}

static void test_capabilities(void **state)
{
	struct pci_dev *dev = new_dev();
	unsigned off, n = 0;
	int a, b, c;

	(void)state;
	a = pci_cap_add(dev, PCI_CAP_ID_VNDR, 16);
	b = pci_cap_add(dev, PCI_CAP_ID_MSIX, 12);
	c = pci_cap_add(dev, PCI_CAP_ID_VNDR, 5);          /* rounds the next one up */
	assert_int_equal(a, 0x40);
	assert_int_equal(b, 0x50);
	assert_int_equal(c, 0x5c);
	assert_int_equal(pci_cap_add(dev, PCI_CAP_ID_VNDR, 4), 0x64);
	assert_true(pci_cfg_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(pci_cfg_read(dev, PCI_CAPABILITY_LIST, 1), 0x40);
	/* Walk the chain as a guest does: dword aligned, in 0x40-0xFF, ends with 0. */
	for (off = pci_cfg_read(dev, PCI_CAPABILITY_LIST, 1); off; n++) {
		assert_true(off >= 0x40 && off <= 0xfc && !(off & 3));
		off = pci_cfg_read(dev, off + PCI_CAP_LIST_NEXT, 1);
	}
	assert_int_equal(n, 4);
	assert_int_equal(pci_cap_find(dev, PCI_CAP_ID_MSIX), 0x50);
	assert_int_equal(pci_cap_find(dev, PCI_CAP_ID_EXP), 0);
	/* ID and next are read-only. */
	pci_cfg_write(dev, 0x40, 2, 0);
	assert_int_equal(pci_cfg_read(dev, 0x40, 2), 0x5000 | PCI_CAP_ID_VNDR);
	/* Space runs out at 0x100. */
	assert_int_equal(pci_cap_add(dev, PCI_CAP_ID_VNDR, 0x100 - 0x68 + 1), -ENOSPC);
	assert_int_equal(pci_cap_add(dev, PCI_CAP_ID_VNDR, 1), -EINVAL);
	assert_int_equal(pci_cap_add(dev, PCI_CAP_ID_VNDR, 0x100 - 0x68), 0x68);
	free(dev);
}

static void test_cap_loop_bounded(void **state)
{
	struct pci_dev *dev = new_dev();

	(void)state;
	pci_cap_add(dev, PCI_CAP_ID_VNDR, 4);
	pci_cfg_set8(dev, 0x41, 0x40);                      /* points at itself */
	assert_int_equal(pci_cap_find(dev, PCI_CAP_ID_MSIX), 0);
	free(dev);
}

struct hook_log {
	unsigned writes;
	unsigned last_off, last_len;
	uint32_t last_val;
};

static void hook_read(struct pci_dev *dev, unsigned off, unsigned len, uint32_t *val)
{
	(void)dev;
	(void)len;
	if (off == 0x80)
		*val = 0xcafe;
}

static void hook_write(struct pci_dev *dev, unsigned off, unsigned len, uint32_t val)
{
	struct hook_log *log = dev->opaque;

	log->writes++;
	log->last_off = off;
	log->last_len = len;
	log->last_val = val;
}

static const struct pci_dev_ops hook_ops = { .cfg_read = hook_read, .cfg_write = hook_write };

static void test_device_hooks(void **state)
{
	struct pci_dev *dev = malloc(sizeof(*dev));
	struct hook_log log = { 0 };

	(void)state;
	pci_dev_init(dev, "hooks", &ident, &hook_ops, &log);
	assert_int_equal(pci_cfg_read(dev, 0x80, 2), 0xcafe);
	assert_int_equal(pci_cfg_read(dev, 0x84, 2), 0);
	pci_cfg_write(dev, 0x81, 1, 0x77);
	assert_int_equal(log.writes, 1);
	assert_int_equal(log.last_off, 0x81);
	assert_int_equal(log.last_len, 1);
	assert_int_equal(log.last_val, 0x77);
	pci_cfg_write(dev, 0x83, 2, 0);                  /* malformed: no hook */
	assert_int_equal(log.writes, 1);
	free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_status_rw1c),
		cmocka_unit_test(test_custom_masks),
		cmocka_unit_test(test_access_sizes),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_cap_loop_bounded),
		cmocka_unit_test(test_device_hooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
