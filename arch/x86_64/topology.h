/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPU topology and APIC IDs (Intel SDM vol 3A 10.4.8.1 / 8.9.1, "hierarchical mapping"): an
 * APIC ID packs thread, core, die and package numbers, each field as wide as its count needs.
 * Shared by the config checks, CPUID leaves 0BH/1FH/04H and the MADT, so all three agree.
 */
#ifndef VIREO_ARCH_X86_64_TOPOLOGY_H
#define VIREO_ARCH_X86_64_TOPOLOGY_H

struct cpu_topology {
	unsigned threads_per_core, cores_per_die, dies_per_package, packages;
};

/* Smallest n with 2^n >= count: the APIC-ID field width for @count items (SDM 8.9.1). */
static inline unsigned topo_bits(unsigned count)
{
	unsigned n = 0;

	while (n < 31 && (1u << n) < count)
		n++;
	return n;
}

static inline unsigned topo_thread_bits(const struct cpu_topology *t)
{
	return topo_bits(t->threads_per_core);
}

static inline unsigned topo_core_bits(const struct cpu_topology *t)
{
	return topo_bits(t->cores_per_die);
}

static inline unsigned topo_die_bits(const struct cpu_topology *t)
{
	return topo_bits(t->dies_per_package);
}

/* The APIC ID of vCPU @index: threads fill a core first, then cores a die, dies a package. */
static inline unsigned topo_apic_id(const struct cpu_topology *t, unsigned index)
{
	unsigned tw = topo_thread_bits(t), cw = topo_core_bits(t), dw = topo_die_bits(t);
	unsigned thread = index % t->threads_per_core;
	unsigned core = index / t->threads_per_core % t->cores_per_die;
	unsigned die = index / (t->threads_per_core * t->cores_per_die) % t->dies_per_package;
	unsigned pkg = index / (t->threads_per_core * t->cores_per_die * t->dies_per_package);

	return pkg << (tw + cw + dw) | die << (tw + cw) | core << tw | thread;
}

#endif
