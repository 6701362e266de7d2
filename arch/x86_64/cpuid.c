// SPDX-License-Identifier: Apache-2.0
/*
 * Guest CPUID: KVM's supported table, patched per vCPU so that the APIC ID and topology agree
 * with KVM_CREATE_VCPU and the MADT (Intel SDM vol 2A, CPUID leaves 01H, 04H, 0BH, 1FH).
 */
#include <cpuid.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"

#define CPUID_1_ECX_VMX          (1u << 5)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define CPUID_1_EDX_HTT          (1u << 28)
#define CPUID_EXT1_ECX_SVM       (1u << 2)

int arch_cpuid_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	unsigned nent;

	for (nent = 256; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c)) {
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

unsigned arch_host_phys_bits(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0x80000008, &a, &b, &c, &d))
		return 36;
	/* 4-level paging caps guest-physical addresses at 52 bits; KVM cannot map more. */
	return (a & 0xff) > 52 ? 52 : (a & 0xff);
}

/* Smallest n with 2^n >= count: the APIC-ID field width for @count items (SDM 8.9.1). */
static unsigned id_bits(unsigned count)
{
	unsigned n = 0;

	while ((1u << n) < count)
		n++;
	return n;
}

/* Leaves 0BH/1FH: one thread per core, @nr_vcpus cores in one package. */
static void patch_topology(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned nr_vcpus)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | 0;        /* level type 1: SMT */
		break;
	case 1:
		e->eax = id_bits(nr_vcpus);
		e->ebx = nr_vcpus;
		e->ecx = (2u << 8) | 1;        /* level type 2: core */
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;             /* level type 0: invalid, ends the list */
		break;
	}
}

void arch_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned apic_id, unsigned nr_vcpus,
		      unsigned phys_bits)
{
	unsigned i;

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (apic_id << 24) | ((nr_vcpus & 0xff) << 16) | (8u << 8) |
				 (e->ebx & 0xff);
			e->ecx |= CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE;
			e->ecx &= ~CPUID_1_ECX_VMX;
			e->edx = nr_vcpus > 1 ? e->edx | CPUID_1_EDX_HTT : e->edx & ~CPUID_1_EDX_HTT;
			break;
		case 4:
			/*
			 * EAX[31:26]: cores per package - 1; EAX[25:14]: logical CPUs sharing
			 * the cache - 1: L1/L2 are per core, L3 (level in EAX[7:5]) is shared.
			 */
			if (e->eax & 0x1f)
				e->eax = (e->eax & 0x3fff) | (((nr_vcpus - 1) & 0x3f) << 26) |
					 (((e->eax >> 5) & 7) == 3 ? ((nr_vcpus - 1) & 0xfff) << 14 : 0);
			break;
		case 0xa:   /* no virtual PMU */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			patch_topology(e, apic_id, nr_vcpus);
			break;
		case 0x80000001:
			e->ecx &= ~CPUID_EXT1_ECX_SVM;
			break;
		case 0x80000008:
			e->eax = (e->eax & ~0xffu) | (phys_bits & 0xff);
			break;
		}
	}
}
