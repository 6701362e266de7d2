/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86_64 platform: RAM layout and e820, kernel loaders (Linux 64-bit boot protocol and PVH),
 * CPUID, and the initial vCPU state. See docs/boot.md.
 */
#ifndef VIREO_ARCH_X86_64_ARCH_H
#define VIREO_ARCH_X86_64_ARCH_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "base/memory.h"

/* ---- RAM layout and e820 (layout.h has the addresses) ---- */

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX_ENTRIES 128

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Splits @mem_size bytes of RAM around the 32-bit MMIO hole; returns the region count. */
unsigned arch_ram_regions(uint64_t mem_size, struct guest_region out[GUEST_MEM_MAX_REGIONS]);
/* Guest RAM of @size bytes laid out by arch_ram_regions(); 0 or -errno. */
int arch_guest_mem_init(struct guest_mem *mem, uint64_t size);
int arch_guest_mem_init_shared(struct guest_mem *mem, uint64_t size);
/*
 * The 64-bit PCI MMIO window: from the first GiB boundary above RAM (and 4 GiB), at most
 * 256 GiB, below 2^phys_bits so every BAR is addressable by the guest. *size 0: none fits.
 */
void arch_mmio64_window(const struct guest_mem *mem, unsigned phys_bits, uint64_t *base,
			uint64_t *size);
/* The guest's memory map: RAM, the legacy hole, the ACPI area. Returns entries or -ENOSPC. */
int arch_e820_build(const struct guest_mem *mem, struct e820_entry *out, unsigned max);

/* ---- kernel loading ---- */

enum boot_protocol { BOOT_LINUX64, BOOT_PVH };

struct boot_info {
	enum boot_protocol protocol;
	uint64_t entry;           /* guest-physical entry point */
	uint64_t kernel_start, kernel_end;
	uint64_t initrd_gpa, initrd_size;
	uint64_t zero_page;       /* BOOT_LINUX64: boot_params; BOOT_PVH: hvm_start_info */
};

struct boot_request {
	const char *kernel_path;
	const char *initramfs_path;   /* NULL: none */
	const char *cmdline;
	uint64_t rsdp_gpa;
};

/*
 * Loads the kernel (bzImage or PVH ELF, detected from the file), the initramfs and the
 * command line, and writes the zero page or hvm_start_info with the e820 map. On error
 * returns -errno with a one-line reason in @err.
 */
/* Rejects a kernel path that is not a readable bzImage or ELF, before any KVM state exists. */
int arch_check_kernel(const char *path, char *err, size_t errlen);
int arch_load_kernel(const struct guest_mem *mem, const struct boot_request *req,
		     struct boot_info *out, char *err, size_t errlen);

/* Lower-level pieces, exposed for unit tests. @img is the whole kernel file. */
int arch_bzimage_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		      struct boot_info *out, char *err, size_t errlen);
int arch_pvh_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		  struct boot_info *out, char *err, size_t errlen);
int arch_bootparams_write(const struct guest_mem *mem, const uint8_t *img, size_t len,
			  const struct boot_info *bi, uint64_t cmdline_len, uint64_t rsdp_gpa);
int arch_pvh_start_info_write(const struct guest_mem *mem, const struct boot_info *bi,
			      uint64_t rsdp_gpa);

/* ---- CPUID ---- */

/* KVM_GET_SUPPORTED_CPUID, grown until it fits. Caller frees. */
int arch_cpuid_supported(int kvm_fd, struct kvm_cpuid2 **out);
/* Patches a copy of the supported table for vCPU @apic_id of @nr_vcpus (APIC ID = index). */
void arch_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned apic_id, unsigned nr_vcpus,
		      unsigned phys_bits);
/* The same for a vCPU of topology @t (arch/x86_64/topology.h), @apic_id its topo_apic_id(). */
struct cpu_topology;
void arch_cpuid_patch_topo(struct kvm_cpuid2 *cpuid, const struct cpu_topology *t,
			   unsigned apic_id, unsigned phys_bits);
/* Host CPU physical address bits (CPUID 0x80000008), capped for KVM. */
unsigned arch_host_phys_bits(void);

/* ---- vCPU state ---- */

/* Writes the boot GDT and identity page tables into guest RAM. */
int arch_write_boot_tables(const struct guest_mem *mem, enum boot_protocol protocol);
/* CPUID, MSRs, FPU, LAPIC LINT0/1 for any vCPU; 0 or -errno. */
int arch_vcpu_init(int vcpu_fd, const struct kvm_cpuid2 *cpuid);
/* Registers and segments for the boot vCPU; APs wait for INIT/SIPI. */
int arch_vcpu_set_boot_regs(int vcpu_fd, const struct boot_info *bi);
/* Fills the boot register/segment state without touching KVM (unit-testable). */
void arch_boot_regs(const struct boot_info *bi, struct kvm_regs *regs, struct kvm_sregs *sregs);
/* Logs the vCPU's registers at error level, for fatal exits. */
void arch_vcpu_dump(int vcpu_fd, unsigned id);

#endif
