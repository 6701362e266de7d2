/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Legacy platform devices on the port-I/O bus: 8250 UART, CMOS/RTC, i8042 (reset only),
 * the port-0x80 debug port and the hardware-reduced ACPI sleep/reset registers.
 */
#ifndef VIREO_PLATFORM_PLATFORM_H
#define VIREO_PLATFORM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "base/bus.h"

/* How a device asks the VMM to power off or reset the VM. */
enum platform_event { PLATFORM_POWEROFF, PLATFORM_RESET };

struct platform_notifier {
	void (*notify)(void *ctx, enum platform_event event);
	void *ctx;
};

/* 8250/16550A UART (one port, 8 registers). */
struct serial;
extern const struct bus_device_ops serial_bus_ops;
/* @out_fd: where transmitted bytes go (-1: nowhere); @irq_fd: eventfd pulsed on each edge. */
struct serial *serial_create(int out_fd, int irq_fd);
void serial_destroy(struct serial *s);
/* Queues input bytes for the guest; returns how many fit (the rest are dropped and counted). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
uint64_t serial_tx_bytes(const struct serial *s);
/* Guest-visible UART state, for snapshots: registers, interrupt state, unread input. */
struct serial_state {
	uint8_t ier, lcr, mcr, msr, scr, fcr, dll, dlm;
	bool thri_pending, irq_level;
	unsigned rx_count;
	uint8_t rx[1024];
};
void serial_get_state(struct serial *s, struct serial_state *st);
/* -EINVAL (nothing changed) if rx_count is too large. No interrupt edge is sent. */
int serial_set_state(struct serial *s, const struct serial_state *st);

/* MC146818 RTC + NVRAM. @nvram (128 bytes) belongs to the caller so it survives a reboot. */
struct cmos;
extern const struct bus_device_ops cmos_bus_ops;
struct cmos *cmos_create(uint8_t *nvram);
/* The index register (0x70), for snapshots; the NVRAM is the caller's already. */
uint8_t cmos_get_index(struct cmos *c);
void cmos_set_index(struct cmos *c, uint8_t index);
void cmos_destroy(struct cmos *c);

/* i8042 controller: only the 0xFE "pulse reset line" command does anything. */
struct i8042;
extern const struct bus_device_ops i8042_bus_ops;
struct i8042 *i8042_create(const struct platform_notifier *notifier);
void i8042_destroy(struct i8042 *k);

/* Port 0x80: logs each byte with the time since vireo started. No state. */
extern const struct bus_device_ops debugport_bus_ops;

/* ACPI sleep control/status and reset registers (FADT SLEEP_CONTROL_REG, RESET_REG). */
struct acpi_pm;
extern const struct bus_device_ops acpi_pm_bus_ops;
struct acpi_pm *acpi_pm_create(const struct platform_notifier *notifier);
void acpi_pm_destroy(struct acpi_pm *pm);

/*
 * Generic Event Device (ACPI 6.x 5.6.9, vmm/ged.c): a 32-bit event register at offset 0 of a
 * GED_REG_SIZE MMIO block, read-to-clear, and an edge interrupt through @irq_fd. Bit 0: CPU
 * hotplug, bit 3: the power button; bits 1-2 keep Cloud Hypervisor's meanings (memory, PCI).
 */
#define GED_REG_EVENTS          0
#define GED_REG_SIZE            4
#define GED_EVENT_CPU           (1u << 0)   /* CPU devices changed: \_SB_.CPUS.CSCN */
#define GED_EVENT_PCI           (1u << 1)   /* PCI devices changed: _EVT runs PHPR.PSCN */
#define GED_EVENT_POWER_BUTTON  (1u << 3)
#define GED_EVENTS_ALL          (GED_EVENT_CPU | GED_EVENT_PCI | GED_EVENT_POWER_BUTTON)
struct ged;
extern const struct bus_device_ops ged_bus_ops;
/* @irq_fd: eventfd bound to the GED's GSI (KVM_IRQFD); the caller keeps owning it. */
struct ged *ged_create(int irq_fd);
void ged_destroy(struct ged *g);
/* Latches @events (GED_EVENT_*) and pulses the interrupt: 0, -EINVAL, or -errno of the write. */
int ged_notify(struct ged *g, uint32_t events);
/* Events latched and not yet read by the guest; accesses the register refused (counters). */
uint32_t ged_pending(const struct ged *g);
/* Snapshot restore: the latched events, without an interrupt (the irqchip state has it). */
int ged_set_pending(struct ged *g, uint32_t events);
uint64_t ged_bad_accesses(const struct ged *g);

#endif
