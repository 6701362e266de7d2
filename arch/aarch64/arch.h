/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aarch64 platform: RAM layout, the kernel Image loader (Linux's arm64 booting.rst), the vCPU
 * (KVM_ARM_VCPU_INIT with PSCI), the in-kernel vGICv3 + ITS, and the device tree (fdt.h).
 * See docs/aarch64.md.
 */
#ifndef VIREO_ARCH_AARCH64_ARCH_H
#define VIREO_ARCH_AARCH64_ARCH_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/fdt.h"
#include "base/memory.h"

/* ---- RAM layout (layout.h has the addresses) ---- */

/* One region at LAYOUT_RAM_START; returns the region count. */
unsigned arch_ram_regions(uint64_t mem_size, struct guest_region out[GUEST_MEM_MAX_REGIONS]);
int arch_guest_mem_init(struct guest_mem *mem, uint64_t size);
int arch_guest_mem_init_shared(struct guest_mem *mem, uint64_t size);
/* The 64-bit PCI window: from the first GiB boundary above RAM, at most 256 GiB, below 2^bits. */
void arch_mmio64_window(const struct guest_mem *mem, unsigned phys_bits, uint64_t *base,
			uint64_t *size);
/* The guest's IPA size: KVM's default for VM type 0 (40 bits, api.rst KVM_CAP_ARM_VM_IPA_SIZE). */
unsigned arch_host_phys_bits(void);

/* ---- kernel loading ---- */

struct boot_info {
	uint64_t entry;                   /* the Image's first byte: PC at boot */
	uint64_t kernel_start, kernel_end;   /* kernel_end: start + image_size (bss included) */
	uint64_t initrd_gpa, initrd_size;
	uint64_t fdt_gpa;                 /* where the DTB goes: x0 at boot */
};

struct boot_request {
	const char *kernel_path;
	const char *initramfs_path;       /* NULL: none */
	const char *cmdline;
};

/* Rejects a kernel path that is not a readable arm64 Image, before any KVM state exists. */
int arch_check_kernel(const char *path, char *err, size_t errlen);
/*
 * Loads the Image at RAM start + its text_offset, the initramfs below the DTB slot at the top
 * of RAM, and fills @out (the DTB itself is written later by the board). -errno with a line.
 */
int arch_load_kernel(const struct guest_mem *mem, const struct boot_request *req,
		     struct boot_info *out, char *err, size_t errlen);
/* The Image header check and copy, for unit tests. @img is the whole file. */
int arch_image_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		    struct boot_info *out, char *err, size_t errlen);

/* ---- vCPU ---- */

/*
 * KVM_ARM_VCPU_INIT with the preferred target and PSCI 0.2; every vCPU but 0 starts powered
 * off until the guest's PSCI CPU_ON. 0 or -errno.
 */
int arch_vcpu_init(int vm_fd, int vcpu_fd, unsigned id);
/* booting.rst: x0 = DTB, x1-x3 = 0, PC = Image, EL1h with D, A, I, F masked, MMU off. */
int arch_vcpu_set_boot_regs(int vcpu_fd, const struct boot_info *bi);
/* Logs PC, PSTATE, SP and x0-x3 at error level, for fatal exits. */
void arch_vcpu_dump(int vcpu_fd, unsigned id);

/* ---- interrupt controller: in-kernel vGICv3 and ITS ---- */

struct arch_gic {
	int fd;                           /* KVM_DEV_TYPE_ARM_VGIC_V3; -1: none */
	int its_fd;                       /* KVM_DEV_TYPE_ARM_VGIC_ITS; -1: none */
};

/* Creates the GIC and ITS and places them (layout.h). Before the vCPUs exist. */
int arch_gic_create(int vm_fd, unsigned nr_vcpus, struct arch_gic *gic, char *err,
		    size_t errlen);
/* KVM_DEV_ARM_VGIC_CTRL_INIT once every vCPU exists (api.rst: devices/arm-vgic-v3.rst). */
int arch_gic_finalize(const struct arch_gic *gic, char *err, size_t errlen);
void arch_gic_destroy(struct arch_gic *gic);

/* ---- vGIC state for snapshots (gic_state.c; not wired into vm.snapshot yet) ---- */

struct arch_gic_reg {
	uint32_t group;                   /* KVM_DEV_ARM_VGIC_GRP_*, or UINT32_MAX: ITS tables */
	uint64_t attr;                    /* MPIDR << 32 | offset or register encoding */
	uint64_t val;
};

struct arch_gic_state {
	unsigned nr;
	struct arch_gic_reg *regs;        /* in restore order */
};

/*
 * Every vCPU paused: writes the ITS tables and LPI pending bits into guest RAM (save RAM
 * after this), then reads every register. 0 or -errno.
 */
int arch_gic_save(const struct arch_gic *gic, unsigned nr_vcpus, struct arch_gic_state *out);
/*
 * Into a GIC made as arch_gic_create/finalize make it, every vCPU and guest RAM restored:
 * writes the registers in order; on failure *failed is the index of the one refused.
 */
int arch_gic_restore(const struct arch_gic *gic, const struct arch_gic_state *s,
		     unsigned *failed);
/*
 * A state read from a snapshot, against this VM's table: same registers in the same order (CPU
 * interface ones may be missing), values within their width. 0, or -EINVAL with *bad the
 * index of the first entry that does not fit (s->nr: entries missing at the end).
 */
int arch_gic_state_check(const struct arch_gic_state *s, unsigned nr_vcpus, bool its,
			 unsigned *bad);
/* Every register of a GIC with @nr_vcpus vCPUs (and an ITS), values 0: for tests. */
int arch_gic_state_layout(unsigned nr_vcpus, bool its, struct arch_gic_state *out);
void arch_gic_state_free(struct arch_gic_state *s);

#endif
