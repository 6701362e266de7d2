// SPDX-License-Identifier: Apache-2.0
/*
 * The guest's device tree. Bindings: Documentation/devicetree/bindings/ in Linux
 * (arm/cpus.yaml, arm/psci.yaml, timer/arm,arch_timer.yaml, interrupt-controller/
 * arm,gic-v3.yaml, pci/host-generic-pci.yaml, pci/pci-msi.txt, serial/8250.yaml).
 * Every call's result is checked; a full buffer is -ENOSPC.
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "arch/aarch64/fdt.h"

/* dt-bindings/interrupt-controller/arm-gic.h and irq.h */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH 4

/* PCI address space codes of the first "ranges" cell (IEEE 1275 PCI binding). */
#define PCI_SPACE_MEM32 0x02000000u
#define PCI_SPACE_MEM64 0x03000000u

#define PCI_NR_SLOTS 32

/* Arch timer and vGIC maintenance PPIs (INTID - 16), as QEMU's virt wires them. */
enum { PPI_HYP_TIMER = 10, PPI_VIRT_TIMER = 11, PPI_SEC_TIMER = 13, PPI_PHYS_TIMER = 14,
       PPI_VGIC_MAINT = 9 };

static int fdt_err(int r)
{
	if (r == -FDT_ERR_NOSPACE)
		return -ENOSPC;
	return r < 0 ? -EINVAL : 0;
}

#define TRY(x) do { int r_ = (x); if (r_ < 0) return fdt_err(r_); } while (0)

/* A property of big-endian 32-bit cells. */
static int prop_cells(void *fdt, const char *name, const uint32_t *cells, unsigned n)
{
	fdt32_t be[64];
	unsigned i;

	if (n > sizeof(be) / sizeof(be[0]))
		return -FDT_ERR_NOSPACE;
	for (i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	return fdt_property(fdt, name, be, (int)(n * sizeof(be[0])));
}

/* "reg" of one (address, size) pair with #address-cells = #size-cells = 2. */
static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	uint32_t c[4] = { (uint32_t)(base >> 32), (uint32_t)base,
			  (uint32_t)(size >> 32), (uint32_t)size };

	return prop_cells(fdt, "reg", c, 4);
}

static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char node[64];

	snprintf(node, sizeof(node), "%s@%llx", name, (unsigned long long)addr);
	return fdt_begin_node(fdt, node);
}

uint32_t arch_fdt_cpu_mpidr(unsigned id)
{
	/* KVM's reset_mpidr(): Aff0 takes 16 CPUs (a GICv3 SGI target list), then Aff1, Aff2. */
	return (id & 0xf) | (((id >> 4) & 0xff) << 8) | (((id >> 12) & 0xff) << 16);
}

static int fdt_cpus(void *fdt, const struct fdt_platform *p)
{
	unsigned i;

	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_cell(fdt, "#address-cells", 1));
	TRY(fdt_property_cell(fdt, "#size-cells", 0));
	for (i = 0; i < p->nr_cpus; i++) {
		TRY(begin_node_at(fdt, "cpu", arch_fdt_cpu_mpidr(i)));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_cell(fdt, "reg", arch_fdt_cpu_mpidr(i)));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_end_node(fdt));
	}
	return fdt_err(fdt_end_node(fdt));
}

static int fdt_memory(void *fdt, const struct fdt_platform *p)
{
	TRY(begin_node_at(fdt, "memory", p->mem_base));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, p->mem_base, p->mem_size));
	return fdt_err(fdt_end_node(fdt));
}

static int fdt_gic(void *fdt, const struct fdt_platform *p)
{
	uint32_t reg[8] = {
		(uint32_t)(p->gic.dist_base >> 32), (uint32_t)p->gic.dist_base,
		(uint32_t)(p->gic.dist_size >> 32), (uint32_t)p->gic.dist_size,
		(uint32_t)(p->gic.redist_base >> 32), (uint32_t)p->gic.redist_base,
		(uint32_t)(p->gic.redist_size >> 32), (uint32_t)p->gic.redist_size,
	};
	uint32_t maint[3] = { GIC_PPI, PPI_VGIC_MAINT, IRQ_LEVEL_HIGH };

	TRY(begin_node_at(fdt, "intc", p->gic.dist_base));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(prop_cells(fdt, "reg", reg, 8));
	TRY(prop_cells(fdt, "interrupts", maint, 3));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	TRY(fdt_property_cell(fdt, "phandle", FDT_PHANDLE_GIC));
	if (p->gic.its) {
		TRY(begin_node_at(fdt, "msi-controller", p->gic.its_base));
		TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
		TRY(fdt_property(fdt, "msi-controller", NULL, 0));
		TRY(fdt_property_cell(fdt, "#msi-cells", 1));
		TRY(prop_reg(fdt, p->gic.its_base, p->gic.its_size));
		TRY(fdt_property_cell(fdt, "phandle", FDT_PHANDLE_ITS));
		TRY(fdt_end_node(fdt));
	}
	return fdt_err(fdt_end_node(fdt));
}

static int fdt_timer_psci(void *fdt)
{
	uint32_t irqs[12] = {
		GIC_PPI, PPI_SEC_TIMER, IRQ_LEVEL_HIGH, GIC_PPI, PPI_PHYS_TIMER, IRQ_LEVEL_HIGH,
		GIC_PPI, PPI_VIRT_TIMER, IRQ_LEVEL_HIGH, GIC_PPI, PPI_HYP_TIMER, IRQ_LEVEL_HIGH,
	};
	static const char psci_compat[] = "arm,psci-0.2";

	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(prop_cells(fdt, "interrupts", irqs, 12));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	TRY(fdt_end_node(fdt));
	/* KVM implements PSCI 0.2+ (KVM_ARM_VCPU_PSCI_0_2) through HVC from EL1. */
	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property(fdt, "compatible", psci_compat, sizeof(psci_compat)));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	return fdt_err(fdt_end_node(fdt));
}

static int fdt_uart(void *fdt, const struct fdt_platform *p)
{
	/* Edge: vireo pulses the line through an irqfd, which a level SPI would drop. */
	uint32_t irq[3] = { GIC_SPI, p->uart.spi, IRQ_EDGE_RISING };

	TRY(begin_node_at(fdt, "uart", p->uart.base));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(prop_reg(fdt, p->uart.base, p->uart.size));
	TRY(fdt_property_cell(fdt, "clock-frequency", p->uart.clock_hz));
	TRY(prop_cells(fdt, "interrupts", irq, 3));
	return fdt_err(fdt_end_node(fdt));
}

static int fdt_chosen(void *fdt, const struct fdt_platform *p)
{
	char path[64];

	snprintf(path, sizeof(path), "/uart@%llx", (unsigned long long)p->uart.base);
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", p->bootargs ? p->bootargs : ""));
	TRY(fdt_property_string(fdt, "stdout-path", path));
	if (p->initrd_size) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", p->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", p->initrd_start + p->initrd_size));
	}
	return fdt_err(fdt_end_node(fdt));
}

/* INTA# of every slot to its SPI, level-high (host-generic-pci.yaml, interrupt-map). */
static int fdt_pci_intx(void *fdt, const struct fdt_platform *p)
{
	uint32_t map[PCI_NR_SLOTS * 10], mask[4] = { 0xf800, 0, 0, 7 };
	fdt32_t be[PCI_NR_SLOTS * 10];
	unsigned s, i, n = 0;

	for (s = 0; s < PCI_NR_SLOTS; s++) {
		uint32_t e[10] = { s << 11, 0, 0, 1, FDT_PHANDLE_GIC, 0, 0, GIC_SPI,
				   p->pci.intx_first_spi + (s + 7) % 8, IRQ_LEVEL_HIGH };

		memcpy(&map[n], e, sizeof(e));
		n += 10;
	}
	for (i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(map[i]);
	TRY(fdt_property(fdt, "interrupt-map", be, (int)sizeof(be)));
	return fdt_err(prop_cells(fdt, "interrupt-map-mask", mask, 4));
}

static int fdt_pci(void *fdt, const struct fdt_platform *p)
{
	uint64_t ecam_size = ((uint64_t)p->pci.bus_end + 1) << 20;
	uint32_t bus_range[2] = { 0, p->pci.bus_end };
	uint32_t ranges[14] = {
		PCI_SPACE_MEM32, (uint32_t)(p->pci.mmio32_base >> 32), (uint32_t)p->pci.mmio32_base,
		(uint32_t)(p->pci.mmio32_base >> 32), (uint32_t)p->pci.mmio32_base,
		(uint32_t)(p->pci.mmio32_size >> 32), (uint32_t)p->pci.mmio32_size,
		PCI_SPACE_MEM64, (uint32_t)(p->pci.mmio64_base >> 32), (uint32_t)p->pci.mmio64_base,
		(uint32_t)(p->pci.mmio64_base >> 32), (uint32_t)p->pci.mmio64_base,
		(uint32_t)(p->pci.mmio64_size >> 32), (uint32_t)p->pci.mmio64_size,
	};
	/* msi-map: requester ID r is ITS device ID r, for the whole segment (pci-msi.txt). */
	uint32_t msi_map[4] = { 0, FDT_PHANDLE_ITS, 0, 0x10000 };

	TRY(begin_node_at(fdt, "pcie", p->pci.ecam_base));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(prop_reg(fdt, p->pci.ecam_base, ecam_size));
	TRY(prop_cells(fdt, "bus-range", bus_range, 2));
	TRY(fdt_property_cell(fdt, "linux,pci-domain", 0));
	TRY(fdt_property_cell(fdt, "#address-cells", 3));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 1));
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	TRY(prop_cells(fdt, "ranges", ranges, p->pci.mmio64_size ? 14 : 7));
	TRY(fdt_pci_intx(fdt, p));
	if (p->gic.its)
		TRY(prop_cells(fdt, "msi-map", msi_map, 4));
	return fdt_err(fdt_end_node(fdt));
}

static int fdt_root(void *fdt, const struct fdt_platform *p)
{
	int ret;

	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(fdt, "model", "vireo"));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "interrupt-parent", FDT_PHANDLE_GIC));
	ret = fdt_cpus(fdt, p);
	ret = ret ?: fdt_memory(fdt, p);
	ret = ret ?: fdt_gic(fdt, p);
	ret = ret ?: fdt_timer_psci(fdt);
	ret = ret ?: fdt_uart(fdt, p);
	ret = ret ?: fdt_chosen(fdt, p);
	if (!ret && p->pci.present)
		ret = fdt_pci(fdt, p);
	if (ret)
		return ret;
	return fdt_err(fdt_end_node(fdt));
}

int arch_fdt_build(const struct fdt_platform *p, void *buf, size_t size)
{
	int ret;

	if (!p || !buf || !p->nr_cpus || !p->mem_size || size > INT32_MAX)
		return -EINVAL;
	TRY(fdt_create(buf, (int)size));
	TRY(fdt_finish_reservemap(buf));
	ret = fdt_root(buf, p);
	if (ret)
		return ret;
	return fdt_err(fdt_finish(buf));
}
