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
#include "arch/x86_64/topology.h"

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

/* One level of leaf 0BH/1FH: its type, the APIC-ID shift to the next level, its CPU count. */
static void topo_level(struct kvm_cpuid_entry2 *e, unsigned type, unsigned shift, unsigned count)
{
	e->eax = shift;
	e->ebx = count;
	e->ecx = type << 8 | (e->index & 0xff);
}

/*
 * Leaves 0BH/1FH (SDM vol 2A): SMT, then core; 1FH adds a die level when there are several
 * dies (0BH has none, so its core level spans the package). Level type 0 ends the list.
 */
static void patch_topology(struct kvm_cpuid_entry2 *e, const struct cpu_topology *t,
			   unsigned apic_id)
{
	unsigned tw = topo_thread_bits(t), cw = topo_core_bits(t), dw = topo_die_bits(t);
	unsigned per_die = t->threads_per_core * t->cores_per_die;
	bool die_level = e->function == 0x1f && t->dies_per_package > 1;

	e->edx = apic_id;
	if (e->index == 0)
		topo_level(e, 1, tw, t->threads_per_core);
	else if (e->index == 1 && die_level)
		topo_level(e, 2, tw + cw, per_die);
	else if (e->index == 1)
		topo_level(e, 2, tw + cw + dw, per_die * t->dies_per_package);
	else if (e->index == 2 && die_level)
		topo_level(e, 5, tw + cw + dw, per_die * t->dies_per_package);
	else
		topo_level(e, 0, 0, 0);
}

/*
 * Leaf 04H EAX[31:26]: addressable core IDs in the package - 1; EAX[25:14]: addressable
 * logical CPUs sharing the cache - 1. L1/L2 belong to a core, L3 (level in EAX[7:5]) to the
 * package.
 */
static uint32_t cache_leaf_eax(uint32_t eax, const struct cpu_topology *t)
{
	unsigned tw = topo_thread_bits(t), cw = topo_core_bits(t), dw = topo_die_bits(t);
	uint32_t cores = (1u << (cw + dw)) - 1, sharing = (1u << tw) - 1;

	if (!(eax & 0x1f))
		return eax;          /* no cache at this index */
	if (((eax >> 5) & 7) == 3)
		sharing = (1u << (tw + cw + dw)) - 1;
	return (eax & 0x3fff) | (cores & 0x3f) << 26 | (sharing & 0xfff) << 14;
}

void arch_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned apic_id, unsigned nr_vcpus,
		      unsigned phys_bits)
{
	struct cpu_topology t = { 1, nr_vcpus, 1, 1 };

	arch_cpuid_patch_topo(cpuid, &t, apic_id, phys_bits);
}

void arch_cpuid_patch_topo(struct kvm_cpuid2 *cpuid, const struct cpu_topology *t,
			   unsigned apic_id, unsigned phys_bits)
{
	unsigned per_pkg = t->threads_per_core * t->cores_per_die * t->dies_per_package;
	unsigned i;

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (apic_id << 24) | ((per_pkg & 0xff) << 16) | (8u << 8) |
				 (e->ebx & 0xff);
			e->ecx |= CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE;
			e->ecx &= ~CPUID_1_ECX_VMX;
			e->edx = per_pkg > 1 ? e->edx | CPUID_1_EDX_HTT : e->edx & ~CPUID_1_EDX_HTT;
			break;
		case 4:
			e->eax = cache_leaf_eax(e->eax, t);
			break;
		case 0xa:   /* no virtual PMU */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			patch_topology(e, t, apic_id);
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
