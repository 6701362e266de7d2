/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flattened device tree an aarch64 vireo guest boots with (Linux's booting.rst passes its
 * address in x0), built with libfdt's sequential writer. Pure: no KVM, unit-tested on any host.
 */
#ifndef VIREO_ARCH_AARCH64_FDT_H
#define VIREO_ARCH_AARCH64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The phandles the tree uses (fixed: the tests and interrupt-map refer to them). */
#define FDT_PHANDLE_GIC 1
#define FDT_PHANDLE_ITS 2

struct fdt_platform {
	unsigned nr_cpus;                 /* MPIDR per KVM's reset value: Aff0 = id % 16 */
	uint64_t mem_base, mem_size;
	const char *bootargs;             /* NULL: "" */
	uint64_t initrd_start, initrd_size;   /* size 0: no initramfs */
	struct {
		uint64_t dist_base, dist_size;
		uint64_t redist_base, redist_size;    /* all redistributors, one region */
		bool its;                             /* an ITS at its_base: MSIs with a device ID */
		uint64_t its_base, its_size;
	} gic;
	struct {
		uint64_t base, size;
		uint32_t spi;
		uint32_t clock_hz;
	} uart;
	struct {
		bool present;
		uint64_t ecam_base;               /* 1 MiB per bus, buses 0..bus_end */
		uint8_t bus_end;
		uint64_t mmio32_base, mmio32_size;
		uint64_t mmio64_base, mmio64_size;   /* size 0: none */
		uint32_t intx_first_spi;          /* INTA# of slot s: intx_first_spi + (s - 1) % 8 */
	} pci;
};

/*
 * Writes the tree into @buf (@size bytes). 0, -EINVAL for a platform it cannot describe (no
 * CPUs, no RAM), or -ENOSPC if it does not fit.
 */
int arch_fdt_build(const struct fdt_platform *p, void *buf, size_t size);

/* The "reg" of vCPU @id's cpu node: its MPIDR affinity as KVM resets it. */
uint32_t arch_fdt_cpu_mpidr(unsigned id);

#endif
