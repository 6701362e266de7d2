/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI CPU hotplug register block, as Cloud Hypervisor's CPU manager lays it out: the
 * DSDT's \_SB_.CPUS methods (arch/x86_64/acpi_cpu.c) select a CPU and read or acknowledge its
 * status. docs/hotplug-cpu.md has the protocol.
 *
 *   offset 0, 4 bytes  CSEL: the selected CPU (write; reads back)
 *   offset 4, 1 byte   status of the selected CPU. Read: bit 0 enabled (present), bit 1
 *                      inserting, bit 2 removing. Write 1s: bit 1 acknowledges the insertion,
 *                      bit 2 the removal request, bit 3 ejects the CPU.
 *
 * A guest can only eject a CPU the VMM asked it to remove; anything else is counted and ignored.
 * Threads: the register is read and written on vCPU threads, the VMM changes CPUs on its own;
 * one mutex covers the state. The eject callback runs with it held.
 */
#ifndef VIREO_PLATFORM_CPU_HOTPLUG_H
#define VIREO_PLATFORM_CPU_HOTPLUG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/bus.h"

#define CPUHP_REG_SELECT   0
#define CPUHP_REG_STATUS   4
#define CPUHP_REG_SIZE     8
#define CPUHP_ENABLED      (1u << 0)
#define CPUHP_INSERTING    (1u << 1)
#define CPUHP_REMOVING     (1u << 2)
#define CPUHP_EJECT        (1u << 3)

struct cpu_hotplug;
extern const struct bus_device_ops cpu_hotplug_bus_ops;

/* @eject(ctx, cpu) runs on the vCPU thread that ejected @cpu, which is no longer present. */
struct cpu_hotplug *cpu_hotplug_create(unsigned max_cpus, void (*eject)(void *ctx, unsigned cpu),
				       void *ctx);
void cpu_hotplug_destroy(struct cpu_hotplug *hp);
/* Boot or restore: CPUs 0..@n-1 present, nothing pending. */
void cpu_hotplug_set_present(struct cpu_hotplug *hp, unsigned n);
/*
 * A resize to @n CPUs: CPUs below @n that are absent become present and inserting (a removal
 * not yet ejected is cancelled); present CPUs from @n on are asked to go (removing). Returns
 * whether anything changed for the guest (then notify it).
 */
bool cpu_hotplug_resize(struct cpu_hotplug *hp, unsigned n);
bool cpu_hotplug_present(struct cpu_hotplug *hp, unsigned cpu);
/* CPUs present (0..n-1 once every removal is ejected). */
unsigned cpu_hotplug_nr_present(struct cpu_hotplug *hp);
uint64_t cpu_hotplug_bad_accesses(struct cpu_hotplug *hp);

/*
 * Snapshots: one status byte per possible CPU (the register's bits, plus CPUHP_ASKED: the VMM
 * asked for its removal) and the selector. set refuses (-EINVAL) a count other than the
 * block's, unknown bits, a pending flag on an absent CPU, removing without a request, and
 * inserting with one; nothing changes then.
 */
#define CPUHP_ASKED        (1u << 4)
unsigned cpu_hotplug_max(const struct cpu_hotplug *hp);
void cpu_hotplug_get_state(struct cpu_hotplug *hp, uint8_t *status, uint32_t *selected);
int cpu_hotplug_set_state(struct cpu_hotplug *hp, const uint8_t *status, unsigned n,
			  uint32_t selected);

#endif
