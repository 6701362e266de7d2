// SPDX-License-Identifier: Apache-2.0
/* arch/x86_64/cpuid.c: per-vCPU CPUID patching (APIC IDs, topology, hidden features). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/topology.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

#define BIT(n) (1u << (n))
#define L1_ECX_VMX      BIT(5)
#define L1_ECX_CX16     BIT(13)
#define L1_ECX_PCID     BIT(17)
#define L1_ECX_TSC_DL   BIT(24)
#define L1_ECX_XSAVE    BIT(26)
#define L1_ECX_RDRAND   BIT(30)
#define L1_ECX_HV       BIT(31)
#define L1_EDX_HTT      BIT(28)
#define EXT1_ECX_SVM    BIT(2)

/* What a host's KVM_GET_SUPPORTED_CPUID could look like (all feature bits set). */
static const struct kvm_cpuid_entry2 host_table[] = {
	{ .function = 0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69 },
	{ .function = 1, .eax = 0x000906ea, .ebx = 0x0b100842, .ecx = 0xfffaffff,
	  .edx = 0xffffffff },
	{ .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x1c004121 },
	{ .function = 4, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x1c004122 },
	{ .function = 4, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x1c03c163 },
	{ .function = 4, .index = 3, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0 },
	{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .ebx = 0xffffffff, .ecx = 0xffffffff, .edx = 0xffffffff },
	{ .function = 0xa, .eax = 0x07300404, .ebx = 0, .ecx = 0, .edx = 0x603 },
	{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 4, .ebx = 12, .ecx = 0x201, .edx = 7 },
	{ .function = 0xb, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0, .ebx = 0, .ecx = 2, .edx = 7 },
	{ .function = 0xd, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0x2e7, .ebx = 0xa88, .ecx = 0xa88 },
	{ .function = 0x1f, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 },
	{ .function = 0x1f, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 4, .ebx = 12, .ecx = 0x201, .edx = 7 },
	{ .function = 0x1f, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0, .ebx = 0, .ecx = 2, .edx = 7 },
	{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
	{ .function = 0x80000001, .ecx = 0xffffffff, .edx = 0xffffffff },
	{ .function = 0x80000008, .eax = 0x3027, .ebx = 0x1234 },
};
#define NENT (sizeof(host_table) / sizeof(host_table[0]))

/* A fresh copy of the host table, patched for vCPU @apic_id of @nr. Caller frees. */
static struct kvm_cpuid2 *patched(unsigned apic_id, unsigned nr, unsigned phys_bits)
{
	struct kvm_cpuid2 *c = malloc(sizeof(*c) + sizeof(host_table));

	assert_non_null(c);
	c->nent = NENT;
	c->padding = 0;
	memcpy(c->entries, host_table, sizeof(host_table));
	arch_cpuid_patch(c, apic_id, nr, phys_bits);
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn,
					   uint32_t index)
{
	unsigned i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	fail_msg("leaf %#x.%u missing", fn, index);
	return NULL;
}

static const struct kvm_cpuid_entry2 *host(uint32_t fn, uint32_t index)
{
	unsigned i;

	for (i = 0; i < NENT; i++)
		if (host_table[i].function == fn && host_table[i].index == index)
			return &host_table[i];
	return NULL;
}

TEST(test_leaf1_apic_id_and_logical_count)
{
	unsigned id;

	for (id = 0; id < 4; id++) {
		struct kvm_cpuid2 *c = patched(id, 4, 46);
		const struct kvm_cpuid_entry2 *e = find(c, 1, 0);

		assert_int_equal(e->ebx >> 24, id);
		assert_int_equal((e->ebx >> 16) & 0xff, 4);
		assert_int_equal((e->ebx >> 8) & 0xff, 8);        /* CLFLUSH: 64-byte lines */
		assert_int_equal(e->ebx & 0xff, host(1, 0)->ebx & 0xff);   /* brand index */
		assert_int_equal(e->eax, host(1, 0)->eax);        /* family/model untouched */
		free(c);
	}
}

TEST(test_leaf1_feature_bits)
{
	struct kvm_cpuid2 *c = patched(0, 4, 46);
	const struct kvm_cpuid_entry2 *e = find(c, 1, 0);

	assert_true(e->ecx & L1_ECX_HV);
	assert_true(e->ecx & L1_ECX_TSC_DL);
	assert_false(e->ecx & L1_ECX_VMX);
	assert_true(e->edx & L1_EDX_HTT);
	free(c);
}

TEST(test_leaf1_sets_hypervisor_and_tsc_deadline_when_host_lacks_them)
{
	struct kvm_cpuid2 *c = malloc(sizeof(*c) + sizeof(struct kvm_cpuid_entry2));

	c->nent = 1;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 0, .edx = 0 };
	arch_cpuid_patch(c, 2, 3, 40);
	assert_int_equal(c->entries[0].ecx & (L1_ECX_HV | L1_ECX_TSC_DL), L1_ECX_HV | L1_ECX_TSC_DL);
	assert_true(c->entries[0].edx & L1_EDX_HTT);
	assert_int_equal(c->entries[0].ebx >> 24, 2);
	free(c);
}

TEST(test_leaf1_htt_clear_for_single_vcpu)
{
	struct kvm_cpuid2 *c = patched(0, 1, 46);
	const struct kvm_cpuid_entry2 *e = find(c, 1, 0);

	assert_false(e->edx & L1_EDX_HTT);
	assert_int_equal((e->ebx >> 16) & 0xff, 1);
	assert_int_equal(e->edx | L1_EDX_HTT, host(1, 0)->edx);   /* only HTT changed */
	free(c);
}

TEST(test_leaf4_cores_per_package)
{
	struct kvm_cpuid2 *c = patched(1, 4, 46);
	unsigned i;

	for (i = 0; i < 3; i++) {
		const struct kvm_cpuid_entry2 *e = find(c, 4, i);

		assert_int_equal(e->eax >> 26, 3);                /* 4 cores - 1 */
		assert_int_equal(e->eax & 0x3fff, host(4, i)->eax & 0x3fff);
	}
	assert_int_equal(find(c, 4, 3)->eax, 0);                  /* the null subleaf stays */
	free(c);
}

static void expect_topology(unsigned fn, unsigned apic_id, unsigned nr, unsigned shift)
{
	struct kvm_cpuid2 *c = patched(apic_id, nr, 46);
	const struct kvm_cpuid_entry2 *smt = find(c, fn, 0), *core = find(c, fn, 1);
	const struct kvm_cpuid_entry2 *end = find(c, fn, 2);

	assert_int_equal(smt->edx, apic_id);
	assert_int_equal(core->edx, apic_id);
	assert_int_equal(end->edx, apic_id);
	assert_int_equal(smt->eax & 0x1f, 0);                     /* one thread per core */
	assert_int_equal(smt->ebx & 0xffff, 1);
	assert_int_equal((smt->ecx >> 8) & 0xff, 1);              /* level type SMT */
	assert_int_equal(smt->ecx & 0xff, 0);
	if ((core->eax & 0x1f) != shift)
		fail_msg("leaf %#x: %u vCPUs: shift %u, expected %u", fn, nr, core->eax & 0x1f,
			 shift);
	assert_int_equal(core->ebx & 0xffff, nr);
	assert_int_equal((core->ecx >> 8) & 0xff, 2);             /* level type core */
	assert_int_equal(core->ecx & 0xff, 1);
	assert_int_equal((end->ecx >> 8) & 0xff, 0);              /* invalid: end of list */
	assert_int_equal(end->ecx & 0xff, 2);
	assert_int_equal(end->eax, 0);
	assert_int_equal(end->ebx, 0);
	free(c);
}

TEST(test_leaf_b_and_1f_topology_shift)
{
	static const unsigned n[] = { 1, 2, 3, 4, 5, 8, 9, 128, 129, 254 };
	static const unsigned shift[] = { 0, 1, 2, 2, 3, 3, 4, 7, 8, 8 };
	unsigned i;

	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		expect_topology(0xb, n[i] - 1, n[i], shift[i]);
		expect_topology(0x1f, n[i] - 1, n[i], shift[i]);
	}
}

TEST(test_leaf_b_apic_id_every_vcpu)
{
	unsigned id;

	for (id = 0; id < 4; id++) {
		expect_topology(0xb, id, 4, 2);
		expect_topology(0x1f, id, 4, 2);
	}
}

TEST(test_leaf_a_pmu_hidden)
{
	struct kvm_cpuid2 *c = patched(0, 2, 46);
	const struct kvm_cpuid_entry2 *e = find(c, 0xa, 0);

	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 0);
	assert_int_equal(e->ecx, 0);
	assert_int_equal(e->edx, 0);
	free(c);
}

TEST(test_ext_leaves_phys_bits_and_svm)
{
	struct kvm_cpuid2 *c = patched(0, 2, 40);
	const struct kvm_cpuid_entry2 *e8 = find(c, 0x80000008, 0), *e1;

	assert_int_equal(e8->eax & 0xff, 40);
	assert_int_equal(e8->eax >> 8, host(0x80000008, 0)->eax >> 8);   /* linear bits kept */
	assert_int_equal(e8->ebx, host(0x80000008, 0)->ebx);
	free(c);
	c = patched(0, 2, 52);
	assert_int_equal(find(c, 0x80000008, 0)->eax & 0xff, 52);
	free(c);
	c = patched(0, 2, 46);
	e1 = find(c, 0x80000001, 0);
	assert_false(e1->ecx & EXT1_ECX_SVM);
	assert_int_equal(e1->ecx | EXT1_ECX_SVM, host(0x80000001, 0)->ecx);
	free(c);
}

TEST(test_unrelated_leaves_untouched)
{
	struct kvm_cpuid2 *c = patched(3, 4, 46);

	assert_memory_equal(find(c, 0, 0), host(0, 0), sizeof(struct kvm_cpuid_entry2));
	assert_memory_equal(find(c, 0x40000000, 0), host(0x40000000, 0),
			    sizeof(struct kvm_cpuid_entry2));
	free(c);
}

/* Feature bits pass through as the host's KVM reports them: no host-specific hiding. */
TEST(test_features_pass_through)
{
	struct kvm_cpuid2 *c = patched(0, 2, 46);
	const struct kvm_cpuid_entry2 *l1 = find(c, 1, 0), *l7 = find(c, 7, 0);
	const struct kvm_cpuid_entry2 *ld = find(c, 0xd, 0), *e1 = find(c, 0x80000001, 0);
	uint32_t l1_kept = L1_ECX_CX16 | L1_ECX_PCID | L1_ECX_XSAVE | L1_ECX_RDRAND;

	assert_int_equal(l1->ecx & l1_kept, host(1, 0)->ecx & l1_kept);
	assert_memory_equal(l7, host(7, 0), sizeof(*l7));
	assert_memory_equal(ld, host(0xd, 0), sizeof(*ld));
	assert_int_equal(e1->edx, host(0x80000001, 0)->edx);
	free(c);
}

TEST(test_patch_is_idempotent)
{
	struct kvm_cpuid2 *once = patched(2, 4, 46), *twice = patched(2, 4, 46);

	arch_cpuid_patch(twice, 2, 4, 46);
	assert_memory_equal(once->entries, twice->entries, sizeof(host_table));
	free(once);
	free(twice);
}

TEST(test_host_phys_bits_in_range)
{
	unsigned bits = arch_host_phys_bits();

	assert_in_range(bits, 32, 52);
	assert_int_equal(arch_host_phys_bits(), bits);
}

/*
 * cpus.topology: 2 threads per core, 3 cores per die (2 bits), 2 dies (1 bit), 2 packages.
 * APIC IDs pack thread | core << 1 | die << 3 | package << 4 (SDM vol 3A 10.4.8.1); leaf 0BH
 * has SMT then core (its shift covers the dies), 1FH adds the die level (type 5).
 */
TEST(test_topology_levels_and_apic_ids)
{
	struct cpu_topology t = { 2, 3, 2, 2 };
	struct kvm_cpuid2 *c = malloc(sizeof(*c) + sizeof(host_table));
	const struct kvm_cpuid_entry2 *e;
	unsigned id;

	assert_int_equal(topo_apic_id(&t, 0), 0);
	assert_int_equal(topo_apic_id(&t, 1), 1);           /* second thread of core 0 */
	assert_int_equal(topo_apic_id(&t, 2), 2);           /* core 1 */
	assert_int_equal(topo_apic_id(&t, 6), 8);           /* die 1 */
	assert_int_equal(topo_apic_id(&t, 12), 16);         /* package 1 */
	assert_int_equal(topo_apic_id(&t, 23), 16 | 8 | 4 | 1);
	id = topo_apic_id(&t, 13);
	c->nent = NENT;
	memcpy(c->entries, host_table, sizeof(host_table));
	arch_cpuid_patch_topo(c, &t, id, 46);
	e = find(c, 1, 0);
	assert_int_equal(e->ebx >> 24, id);
	assert_int_equal((e->ebx >> 16) & 0xff, 12);        /* logical CPUs per package */
	e = find(c, 0xb, 0);
	assert_int_equal(e->eax, 1);
	assert_int_equal(e->ebx, 2);
	assert_int_equal(e->ecx, 0x100);
	assert_int_equal(e->edx, id);
	e = find(c, 0xb, 1);
	assert_int_equal(e->eax, 4);                        /* thread + core + die bits */
	assert_int_equal(e->ebx, 12);
	assert_int_equal(e->ecx, 0x201);
	e = find(c, 0x1f, 1);
	assert_int_equal(e->eax, 3);                        /* core level: thread + core bits */
	assert_int_equal(e->ebx, 6);
	assert_int_equal(e->ecx, 0x201);
	e = find(c, 0x1f, 2);
	assert_int_equal(e->eax, 4);                        /* die level, type 5 */
	assert_int_equal(e->ebx, 12);
	assert_int_equal(e->ecx, 0x502);
	e = find(c, 0xb, 2);
	assert_int_equal(e->ecx & 0xff00, 0);               /* 0BH ends after the core level */
	e = find(c, 4, 0);                                  /* L1: shared by a core's 2 threads */
	assert_int_equal((e->eax >> 14) & 0xfff, 1);
	assert_int_equal(e->eax >> 26, 7);                  /* 8 addressable core IDs - 1 */
	e = find(c, 4, 2);                                  /* L3 (level 3): the package's 16 IDs */
	assert_int_equal((e->eax >> 14) & 0xfff, 15);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf1_apic_id_and_logical_count),
		cmocka_unit_test(test_leaf1_feature_bits),
		cmocka_unit_test(test_leaf1_sets_hypervisor_and_tsc_deadline_when_host_lacks_them),
		cmocka_unit_test(test_leaf1_htt_clear_for_single_vcpu),
		cmocka_unit_test(test_leaf4_cores_per_package),
		cmocka_unit_test(test_leaf_b_and_1f_topology_shift),
		cmocka_unit_test(test_leaf_b_apic_id_every_vcpu),
		cmocka_unit_test(test_leaf_a_pmu_hidden),
		cmocka_unit_test(test_ext_leaves_phys_bits_and_svm),
		cmocka_unit_test(test_unrelated_leaves_untouched),
		cmocka_unit_test(test_features_pass_through),
		cmocka_unit_test(test_patch_is_idempotent),
		cmocka_unit_test(test_host_phys_bits_in_range),
		cmocka_unit_test(test_topology_levels_and_apic_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
