// SPDX-License-Identifier: Apache-2.0
/*
 * Initial vCPU state: boot GDT and page tables, segment registers and control registers for
 * the 64-bit Linux entry (boot.rst "64-bit Boot Protocol") and the PVH 32-bit entry, boot MSRs,
 * FPU and LAPIC LINT pins.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"
#include "base/log.h"

#define X86_CR0_PE  0x1ULL
#define X86_CR0_ET  0x10ULL
#define X86_CR0_PG  0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_LME    0x100ULL
#define EFER_LMA    0x400ULL

/* GDT slots: boot.rst asks for __BOOT_CS = 0x10 and __BOOT_DS = 0x18. */
#define GDT_CODE 2
#define GDT_DATA 3
#define GDT_TSS  4
#define GDT_ENTRIES 5

#define MSR_IA32_TSC            0x10
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

/* A GDT descriptor from flags (type, S, DPL, P in bits 0-7; AVL, L, D/B, G in 12-15). */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (uint64_t)(limit & 0x0000ffff);
}

static uint16_t code_flags(enum boot_protocol p)
{
	return p == BOOT_LINUX64 ? 0xa09b : 0xc09b;   /* L=1 for 64-bit, D=1 for 32-bit */
}

/* KVM wants the byte-granular limit: with G=1 the 20-bit field counts 4 KiB pages. */
static struct kvm_segment segment_from_gdt(uint64_t d, unsigned index)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	if ((d >> 55) & 1)
		limit = (limit << 12) | 0xfff;
	return (struct kvm_segment){
		.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
		.limit = limit,
		.selector = (uint16_t)(index * 8),
		.type = (d >> 40) & 0xf,
		.present = (d >> 47) & 1,
		.dpl = (d >> 45) & 3,
		.db = (d >> 54) & 1,
		.s = (d >> 44) & 1,
		.l = (d >> 53) & 1,
		.g = (d >> 55) & 1,
		.avl = (d >> 52) & 1,
	};
}

static void boot_gdt(enum boot_protocol p, uint64_t gdt[GDT_ENTRIES])
{
	memset(gdt, 0, GDT_ENTRIES * sizeof(gdt[0]));
	gdt[GDT_CODE] = gdt_entry(code_flags(p), 0, 0xfffff);
	gdt[GDT_DATA] = gdt_entry(0xc093, 0, 0xfffff);
	gdt[GDT_TSS] = gdt_entry(0x008b, 0, 0x67);   /* busy TSS, required by VM entry */
}

/*
 * Real-mode code at the reset vector that writes the FADT reset register. Linux restarts a
 * hardware-reduced ACPI machine without EFI runtime services by jumping to F000:FFF0 in real
 * mode, as into a BIOS (arch/x86/kernel/reboot.c: BOOT_EFI, then BOOT_BIOS): with no firmware
 * there, this is what turns that jump into a reset of the VM.
 */
static int write_reset_stub(const struct guest_mem *mem)
{
	const uint8_t stub[] = {
		0xfa,                                   /* cli */
		0xba, LAYOUT_ACPI_RESET & 0xff, LAYOUT_ACPI_RESET >> 8,   /* mov dx, port */
		0xb0, LAYOUT_ACPI_RESET_VALUE,          /* mov al, value */
		0xee,                                   /* out dx, al */
		0xf4,                                   /* hlt */
		0xeb, 0xfd,                             /* jmp hlt */
	};

	return guest_mem_write(mem, LAYOUT_RESET_VECTOR, stub, sizeof(stub));
}

int arch_write_boot_tables(const struct guest_mem *mem, enum boot_protocol protocol)
{
	uint64_t gdt[GDT_ENTRIES], idt = 0, *pml4, *pdpt, *pd;
	unsigned i;
	int ret;

	boot_gdt(protocol, gdt);
	ret = guest_mem_write(mem, LAYOUT_GDT_START, gdt, sizeof(gdt));
	ret = ret ?: guest_mem_write(mem, LAYOUT_IDT_START, &idt, sizeof(idt));
	ret = ret ?: write_reset_stub(mem);
	if (ret || protocol != BOOT_LINUX64)
		return ret;
	/* Identity-map the first 1 GiB with 2 MiB pages: kernel, zero page and cmdline. */
	pml4 = guest_mem_ptr(mem, LAYOUT_PML4_START, 4096);
	pdpt = guest_mem_ptr(mem, LAYOUT_PDPT_START, 4096);
	pd = guest_mem_ptr(mem, LAYOUT_PD_START, 4096);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT_START | 0x3;
	pdpt[0] = LAYOUT_PD_START | 0x3;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;
	return 0;
}

void arch_boot_regs(const struct boot_info *bi, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	uint64_t gdt[GDT_ENTRIES];
	struct kvm_segment data;

	boot_gdt(bi->protocol, gdt);
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;
	regs->rip = bi->entry;
	data = segment_from_gdt(gdt[GDT_DATA], GDT_DATA);
	sregs->cs = segment_from_gdt(gdt[GDT_CODE], GDT_CODE);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment_from_gdt(gdt[GDT_TSS], GDT_TSS);
	sregs->gdt.base = LAYOUT_GDT_START;
	sregs->gdt.limit = sizeof(gdt) - 1;
	sregs->idt.base = LAYOUT_IDT_START;
	sregs->idt.limit = 7;
	if (bi->protocol == BOOT_PVH) {
		/* PVH: 32-bit protected mode, paging off, EBX = hvm_start_info. */
		regs->rbx = bi->zero_page;
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs->cr4 = 0;
		sregs->efer = 0;
		return;
	}
	/* 64-bit boot protocol: long mode, identity paging, RSI = boot_params. */
	regs->rsi = bi->zero_page;
	regs->rsp = regs->rbp = LAYOUT_BOOT_STACK_POINTER;
	sregs->cr3 = LAYOUT_PML4_START;
	sregs->cr4 = X86_CR4_PAE;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	sregs->efer = EFER_LME | EFER_LMA;
}

int arch_vcpu_set_boot_regs(int vcpu_fd, const struct boot_info *bi)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	arch_boot_regs(bi, &regs, &sregs);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) || ioctl(vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

static int set_boot_msrs(int vcpu_fd)
{
	static const struct { uint32_t index; uint64_t data; } boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },                  /* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1u << 11) | 6 },        /* MTRRs on, default write-back */
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[N];
	} msrs = { .hdr.nmsrs = N };
	unsigned i;
	int ret;

	for (i = 0; i < N; i++)
		msrs.entries[i] = (struct kvm_msr_entry){ .index = boot_msrs[i].index,
							  .data = boot_msrs[i].data };
	ret = ioctl(vcpu_fd, KVM_SET_MSRS, &msrs);
	if (ret < 0)
		return -errno;
	/* KVM_SET_MSRS returns how many it set: stopping short means an MSR was refused. */
	return ret == N ? 0 : -EINVAL;
}

static int set_lint(int vcpu_fd)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic))
		return -errno;
	/* LINT0 = ExtINT (the 8259 behind it), LINT1 = NMI, as firmware leaves them. */
	memcpy(&lvt, lapic.regs + APIC_LVT0, 4);
	lvt = (lvt & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(lapic.regs + APIC_LVT0, &lvt, 4);
	memcpy(&lvt, lapic.regs + APIC_LVT1, 4);
	lvt = (lvt & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(lapic.regs + APIC_LVT1, &lvt, 4);
	return ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) ? -errno : 0;
}

int arch_vcpu_init(int vcpu_fd, const struct kvm_cpuid2 *cpuid)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int ret;

	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid))
		return -errno;
	ret = set_boot_msrs(vcpu_fd);
	if (ret)
		return ret;
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu))
		return -errno;
	return set_lint(vcpu_fd);
}

void arch_vcpu_dump(int vcpu_fd, unsigned id)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) || ioctl(vcpu_fd, KVM_GET_SREGS, &s)) {
		pr_err("vcpu%u: cannot read registers: %s", id, strerror(errno));
		return;
	}
	pr_err("vcpu%u: rip=%016llx rsp=%016llx rflags=%016llx", id, r.rip, r.rsp, r.rflags);
	pr_err("vcpu%u: rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", id, r.rax, r.rbx,
	       r.rcx, r.rdx);
	pr_err("vcpu%u: rsi=%016llx rdi=%016llx rbp=%016llx r8=%016llx", id, r.rsi, r.rdi,
	       r.rbp, r.r8);
	pr_err("vcpu%u: cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx", id,
	       s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	pr_err("vcpu%u: cs=%04x base=%llx l=%u db=%u  ss=%04x  gdt=%llx/%x idt=%llx/%x", id,
	       s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.gdt.base, s.gdt.limit,
	       s.idt.base, s.idt.limit);
}
