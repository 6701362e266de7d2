// SPDX-License-Identifier: Apache-2.0
/*
 * arch/aarch64/fdt.c: the tree read back with libfdt, node by node and property by property,
 * and decompiled by dtc (when installed) without a warning.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/fdt.h"
#include "arch/aarch64/layout.h"

#define FDT_SIZE 0x10000

static struct fdt_platform platform(unsigned nr_cpus)
{
	struct fdt_platform p = {
		.nr_cpus = nr_cpus,
		.mem_base = LAYOUT_RAM_START, .mem_size = 512ULL << 20,
		.bootargs = "console=ttyS0 panic=-1",
		.initrd_start = 0x5f000000, .initrd_size = 0x123456,
		.gic = { .dist_base = LAYOUT_GIC_DIST_START, .dist_size = LAYOUT_GIC_DIST_SIZE,
			 .redist_base = LAYOUT_GIC_REDIST_START,
			 .redist_size = nr_cpus * LAYOUT_GIC_REDIST_SIZE,
			 .its = true, .its_base = LAYOUT_GIC_ITS_START,
			 .its_size = LAYOUT_GIC_ITS_SIZE },
		.uart = { .base = LAYOUT_UART_START, .size = LAYOUT_UART_SIZE,
			  .spi = LAYOUT_UART_GSI, .clock_hz = 1843200 },
		.pci = { .present = true, .ecam_base = LAYOUT_PCI_ECAM_START, .bus_end = 0,
			 .mmio32_base = LAYOUT_PCI_MMIO32_START, .mmio32_size = LAYOUT_PCI_MMIO32_SIZE,
			 .mmio64_base = 0x8000000000ULL, .mmio64_size = 0x4000000000ULL,
			 .intx_first_spi = LAYOUT_PCI_INTX_FIRST_GSI },
	};
	return p;
}

static void *build(const struct fdt_platform *p)
{
	void *fdt = malloc(FDT_SIZE);

	assert_non_null(fdt);
	assert_int_equal(arch_fdt_build(p, fdt, FDT_SIZE), 0);
	assert_int_equal(fdt_check_header(fdt), 0);
	return fdt;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	if (off < 0)
		fail_msg("no node %s: %s", path, fdt_strerror(off));
	return off;
}

static void expect_str(const void *fdt, const char *path, const char *name, const char *want)
{
	int len;
	const char *v = fdt_getprop(fdt, node(fdt, path), name, &len);

	assert_non_null(v);
	assert_int_equal(len, strlen(want) + 1);
	assert_string_equal(v, want);
}

/* @name of @path is exactly the @n cells of @want. */
static void expect_cellv(const void *fdt, const char *path, const char *name,
			 const uint32_t *want, unsigned n)
{
	int len;
	const fdt32_t *v = fdt_getprop(fdt, node(fdt, path), name, &len);
	unsigned i;

	if (!v)
		fail_msg("%s has no %s", path, name);
	assert_int_equal(len, n * 4);
	for (i = 0; i < n; i++)
		if (fdt32_to_cpu(v[i]) != want[i])
			fail_msg("%s %s cell %u: %#x, want %#x", path, name, i, fdt32_to_cpu(v[i]),
				 want[i]);
}

static void expect_one(const void *fdt, const char *path, const char *name, uint32_t want)
{
	expect_cellv(fdt, path, name, &want, 1);
}

static void expect_flag(const void *fdt, const char *path, const char *name)
{
	int len = -1;

	assert_non_null(fdt_getprop(fdt, node(fdt, path), name, &len));
	assert_int_equal(len, 0);
}

static void test_root_cpus_memory(void **state)
{
	struct fdt_platform p = platform(20);
	void *fdt = build(&p);
	uint32_t mem[4] = { 0, 0x40000000, 0, 0x20000000 };

	(void)state;
	expect_str(fdt, "/", "compatible", "linux,dummy-virt");
	expect_one(fdt, "/", "#address-cells", 2);
	expect_one(fdt, "/", "#size-cells", 2);
	expect_one(fdt, "/", "interrupt-parent", FDT_PHANDLE_GIC);
	expect_one(fdt, "/cpus", "#address-cells", 1);
	expect_one(fdt, "/cpus", "#size-cells", 0);
	expect_one(fdt, "/cpus/cpu@0", "reg", 0);
	expect_str(fdt, "/cpus/cpu@0", "enable-method", "psci");
	expect_str(fdt, "/cpus/cpu@0", "device_type", "cpu");
	expect_one(fdt, "/cpus/cpu@f", "reg", 0xf);
	/* vCPU 16 is Aff1 = 1, Aff0 = 0 (KVM's reset MPIDR) */
	expect_one(fdt, "/cpus/cpu@100", "reg", 0x100);
	expect_one(fdt, "/cpus/cpu@103", "reg", 0x103);
	assert_true(fdt_path_offset(fdt, "/cpus/cpu@104") < 0);
	expect_str(fdt, "/memory@40000000", "device_type", "memory");
	expect_cellv(fdt, "/memory@40000000", "reg", mem, 4);
	free(fdt);
}

static void test_gic_timer_psci(void **state)
{
	struct fdt_platform p = platform(2);
	void *fdt = build(&p);
	uint32_t reg[8] = { 0, 0x08000000, 0, 0x10000, 0, 0x080a0000, 0, 0x40000 };
	uint32_t its[4] = { 0, 0x08080000, 0, 0x20000 };
	uint32_t timer[12] = { 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4 };
	uint32_t maint[3] = { 1, 9, 4 };

	(void)state;
	expect_str(fdt, "/intc@8000000", "compatible", "arm,gic-v3");
	expect_cellv(fdt, "/intc@8000000", "reg", reg, 8);
	expect_one(fdt, "/intc@8000000", "#interrupt-cells", 3);
	expect_cellv(fdt, "/intc@8000000", "interrupts", maint, 3);
	expect_flag(fdt, "/intc@8000000", "interrupt-controller");
	expect_one(fdt, "/intc@8000000", "phandle", FDT_PHANDLE_GIC);
	expect_str(fdt, "/intc@8000000/msi-controller@8080000", "compatible", "arm,gic-v3-its");
	expect_cellv(fdt, "/intc@8000000/msi-controller@8080000", "reg", its, 4);
	expect_flag(fdt, "/intc@8000000/msi-controller@8080000", "msi-controller");
	expect_one(fdt, "/intc@8000000/msi-controller@8080000", "#msi-cells", 1);
	expect_one(fdt, "/intc@8000000/msi-controller@8080000", "phandle", FDT_PHANDLE_ITS);
	assert_int_equal(fdt_node_offset_by_phandle(fdt, FDT_PHANDLE_GIC),
			 node(fdt, "/intc@8000000"));
	expect_str(fdt, "/timer", "compatible", "arm,armv8-timer");
	expect_cellv(fdt, "/timer", "interrupts", timer, 12);
	expect_str(fdt, "/psci", "compatible", "arm,psci-0.2");
	expect_str(fdt, "/psci", "method", "hvc");
	free(fdt);
}

static void test_uart_chosen(void **state)
{
	struct fdt_platform p = platform(1);
	void *fdt = build(&p);
	uint32_t reg[4] = { 0, 0x09000000, 0, 0x1000 }, irq[3] = { 0, LAYOUT_UART_GSI, 1 };
	uint32_t start[2] = { 0, 0x5f000000 }, end[2] = { 0, 0x5f123456 };

	(void)state;
	expect_str(fdt, "/uart@9000000", "compatible", "ns16550a");
	expect_cellv(fdt, "/uart@9000000", "reg", reg, 4);
	expect_cellv(fdt, "/uart@9000000", "interrupts", irq, 3);
	expect_one(fdt, "/uart@9000000", "clock-frequency", 1843200);
	expect_str(fdt, "/chosen", "bootargs", "console=ttyS0 panic=-1");
	expect_str(fdt, "/chosen", "stdout-path", "/uart@9000000");
	expect_cellv(fdt, "/chosen", "linux,initrd-start", start, 2);
	expect_cellv(fdt, "/chosen", "linux,initrd-end", end, 2);
	free(fdt);

	/* No initramfs: no initrd properties; no ITS: no msi-map and no ITS node. */
	p.initrd_size = 0;
	p.gic.its = false;
	p.bootargs = NULL;
	fdt = build(&p);
	assert_null(fdt_getprop(fdt, node(fdt, "/chosen"), "linux,initrd-start", NULL));
	expect_str(fdt, "/chosen", "bootargs", "");
	assert_true(fdt_path_offset(fdt, "/intc@8000000/msi-controller@8080000") < 0);
	assert_null(fdt_getprop(fdt, node(fdt, "/pcie@30000000"), "msi-map", NULL));
	free(fdt);
}

static void test_pci(void **state)
{
	struct fdt_platform p = platform(1);
	void *fdt = build(&p);
	const char *pci = "/pcie@30000000";
	uint32_t reg[4] = { 0, 0x30000000, 0, 0x100000 }, bus[2] = { 0, 0 };
	uint32_t ranges[14] = { 0x02000000, 0, 0x10000000, 0, 0x10000000, 0, 0x20000000,
				0x03000000, 0x80, 0, 0x80, 0, 0x40, 0 };
	uint32_t mask[4] = { 0xf800, 0, 0, 7 }, msi_map[4] = { 0, FDT_PHANDLE_ITS, 0, 0x10000 };
	const fdt32_t *map;
	unsigned s;
	int len;

	(void)state;
	expect_str(fdt, pci, "compatible", "pci-host-ecam-generic");
	expect_str(fdt, pci, "device_type", "pci");
	expect_cellv(fdt, pci, "reg", reg, 4);
	expect_cellv(fdt, pci, "bus-range", bus, 2);
	expect_one(fdt, pci, "#address-cells", 3);
	expect_one(fdt, pci, "#size-cells", 2);
	expect_one(fdt, pci, "#interrupt-cells", 1);
	expect_cellv(fdt, pci, "ranges", ranges, 14);
	expect_cellv(fdt, pci, "interrupt-map-mask", mask, 4);
	expect_cellv(fdt, pci, "msi-map", msi_map, 4);
	/* INTA# of slot s reaches SPI 16 + (s - 1) % 8, level-high, as vm/pci_devices.c wires it */
	map = fdt_getprop(fdt, node(fdt, pci), "interrupt-map", &len);
	assert_non_null(map);
	assert_int_equal(len, 32 * 10 * 4);
	for (s = 1; s < 32; s++) {
		const fdt32_t *e = map + s * 10;

		assert_int_equal(fdt32_to_cpu(e[0]), s << 11);
		assert_int_equal(fdt32_to_cpu(e[3]), 1);
		assert_int_equal(fdt32_to_cpu(e[4]), FDT_PHANDLE_GIC);
		assert_int_equal(fdt32_to_cpu(e[7]), 0);
		assert_int_equal(fdt32_to_cpu(e[8]), LAYOUT_PCI_INTX_FIRST_GSI + (s - 1) % 8);
		assert_int_equal(fdt32_to_cpu(e[9]), 4);
	}
	free(fdt);

	/* no 64-bit window: one range */
	p.pci.mmio64_size = 0;
	fdt = build(&p);
	expect_cellv(fdt, pci, "ranges", ranges, 7);
	free(fdt);
}

static void test_errors(void **state)
{
	struct fdt_platform p = platform(4);
	uint8_t small[256];
	void *fdt = malloc(FDT_SIZE);

	(void)state;
	assert_int_equal(arch_fdt_build(&p, small, sizeof(small)), -ENOSPC);
	assert_int_equal(arch_fdt_build(NULL, fdt, FDT_SIZE), -EINVAL);
	p.nr_cpus = 0;
	assert_int_equal(arch_fdt_build(&p, fdt, FDT_SIZE), -EINVAL);
	p.nr_cpus = 4;
	p.mem_size = 0;
	assert_int_equal(arch_fdt_build(&p, fdt, FDT_SIZE), -EINVAL);
	free(fdt);
}

/* dtc decompiles the blob without a warning (skipped where dtc is not installed). */
static void test_dtc(void **state)
{
	struct fdt_platform p = platform(2);
	void *fdt = build(&p);
	char path[] = "/tmp/vireo-fdt-XXXXXX", cmd[256], out[4096];
	FILE *f;
	size_t n;
	int fd;

	(void)state;
	if (system("command -v dtc >/dev/null 2>&1")) {
		free(fdt);
		skip();
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, fdt, fdt_totalsize(fdt)), (ssize_t)fdt_totalsize(fdt));
	close(fd);
	snprintf(cmd, sizeof(cmd), "dtc -I dtb -O dts %s 2>&1 >/dev/null; echo rc=$?", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	pclose(f);
	unlink(path);
	assert_string_equal(out, "rc=0\n");
	free(fdt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_cpus_memory),
		cmocka_unit_test(test_gic_timer_psci),
		cmocka_unit_test(test_uart_chosen),
		cmocka_unit_test(test_pci),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dtc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
