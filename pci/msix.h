/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X (PCI 3.0 6.8): the capability, the vector table and the PBA of one function, the
 * mask/pending state machine, and the seam to KVM GSI routing. The table and PBA live in a
 * memory BAR the device owns: its BAR handler forwards the table and PBA ranges here.
 *
 * A vector is delivered only when MSI-X Enable = 1, Function Mask = 0 and the entry's mask is
 * clear; otherwise its PBA bit is set, and it is delivered (and the bit cleared) as soon as
 * all three allow it again. Routes follow the same rule: an effectively masked vector has no
 * route and no irqfd; an unmasked one has a route carrying its current address/data.
 *
 * Malformed table/PBA accesses (not 4 or 8 bytes, not naturally aligned, past the end, any
 * PBA write) are ignored and counted; such reads return all-ones, like an unclaimed address.
 */
#ifndef VIREO_PCI_MSIX_H
#define VIREO_PCI_MSIX_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/pci.h"

struct cJSON;

#define MSIX_MAX_VECTORS  2048     /* Table Size is 11 bits (N - 1) */
#define MSIX_ENTRY_SIZE   16
#define MSIX_CAP_LEN      12

static inline uint64_t msix_table_bytes(unsigned nr)
{
	return (uint64_t)nr * MSIX_ENTRY_SIZE;
}

static inline uint64_t msix_pba_bytes(unsigned nr)
{
	return ((uint64_t)nr + 63) / 64 * 8;       /* QWORD array, one bit per vector */
}

/*
 * The interrupt side (the VMM: KVM routing + irqfds). NULL table or hook = nothing to do;
 * without trigger, msix_notify() returns -EOPNOTSUPP. Called with the MSI-X lock held (and
 * possibly the segment config lock): no bus access, no call back into this MSI-X.
 *  update_route: @vector's route changed. masked: drop the route and deassign its irqfd now;
 *                else record route (addr, data) - its irqfd is assigned in commit_routes.
 *  commit_routes: after one or more update_route: push the whole table (legacy GSI 0-23 plus
 *                every unmasked MSI route, see kvm_routing_build) with KVM_SET_GSI_ROUTING,
 *                then assign the irqfds of the newly routed vectors (routes before irqfds).
 *  trigger:      deliver @vector now (write its irqfd).
 */
struct msix_irq_ops {
	int (*update_route)(void *ctx, unsigned vector, uint64_t addr, uint32_t data, bool masked);
	int (*commit_routes)(void *ctx);
	int (*trigger)(void *ctx, unsigned vector);
	/* Optional: the eventfd whose writes deliver @vector (its irqfd), for vhost-user. */
	int (*vector_fd)(void *ctx, unsigned vector);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	pthread_mutex_t lock;
	struct pci_dev *dev;
	unsigned nr;                     /* vectors */
	unsigned cap;                    /* config offset of the capability */
	unsigned table_bar, pba_bar;
	uint32_t table_off, pba_off;     /* inside their BARs */
	bool enabled, fmask;             /* shadow of Message Control bits 15, 14 */
	struct msix_entry *table;
	uint64_t *pba;
	uint64_t *routed;                /* bitmap: route reported as unmasked */
	const struct msix_irq_ops *ops;
	void *ctx;
	uint64_t ignored;                /* malformed table/PBA accesses */
	uint64_t route_errors;           /* update_route/commit_routes/trigger failures */
};

/*
 * Adds the capability to @dev (its BARs already declared, not yet on a segment) with @nr
 * vectors, all masked, and attaches @m to it. The table and PBA must be QWORD aligned, fit in
 * their memory BARs and not overlap. -EINVAL, -ENOSPC (config space), -ENOMEM.
 */
int msix_init(struct msix *m, struct pci_dev *dev, unsigned nr, unsigned table_bar,
	      uint32_t table_off, unsigned pba_bar, uint32_t pba_off,
	      const struct msix_irq_ops *ops, void *ctx);
void msix_destroy(struct msix *m);

/* Table/PBA accesses, @off relative to the table/PBA start (the device's BAR handler). */
void msix_table_read(struct msix *m, uint64_t off, uint8_t *data, unsigned len);
void msix_table_write(struct msix *m, uint64_t off, const uint8_t *data, unsigned len);
void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned len);
void msix_pba_write(struct msix *m, uint64_t off, const uint8_t *data, unsigned len);

/* The device signals @vector: delivered, or its pending bit set. -EINVAL if out of range. */
int msix_notify(struct msix *m, unsigned vector);
bool msix_enabled(struct msix *m);
/*
 * The eventfd another process may write to deliver @vector with no VMM work (a vhost-user
 * backend's call fd): KVM injects it while the vector is routed, and when it is masked the
 * count waits in the eventfd until the unmask binds the irqfd again. -1 when MSI-X is off,
 * @vector is out of range or the owner has no such eventfd.
 */
int msix_vector_fd(struct msix *m, unsigned vector);
bool msix_pending(struct msix *m, unsigned vector);
uint64_t msix_ignored(struct msix *m);

/*
 * {"vectors":N,"enabled":b,"function_mask":b,"table":[{"addr","data","ctrl"}...],"pba":[...]}.
 * Restore validates (vector count, reserved bits, PBA bits past N), writes Message Control
 * bits 15:14 into config space, then replays every route (update_route + commit_routes).
 * With the VM paused.
 */
struct cJSON *msix_save(struct msix *m);
/* -EINVAL with @err naming the field ("table[2].ctrl: ..."), or -ENOMEM; @m unchanged. */
int msix_restore(struct msix *m, const struct cJSON *json, char *err, size_t errlen);

/* ------------------------------------------------------------------ KVM routing table */

/* KVM's default_routing (arch/x86/kvm/irq_comm.c): GSI 0-15 IOAPIC + PIC, 16-23 IOAPIC. */
#define KVM_LEGACY_ROUTES 40
#define KVM_MAX_ROUTES    4096      /* KVM_MAX_IRQ_ROUTES */

/* One KVM_IRQ_ROUTING_IRQCHIP entry: @gsi to @pin of @chip. */
struct kvm_irq_routing_entry kvm_routing_irqchip(uint32_t gsi, uint32_t chip, uint32_t pin);
/* Fills @out with the 40 entries, in KVM's order (for each GSI: IOAPIC, then PIC). x86 only. */
unsigned kvm_routing_default_legacy(struct kvm_irq_routing_entry out[KVM_LEGACY_ROUTES]);

struct msi_route {
	uint32_t gsi;
	uint64_t addr;
	uint32_t data;
	bool masked;                    /* masked routes are left out of the table */
	bool has_devid;                 /* arm64 ITS: KVM_MSI_VALID_DEVID with @devid */
	uint32_t devid;                 /* the PCI requester ID */
};

/*
 * The whole table for KVM_SET_GSI_ROUTING: @legacy as given, then one KVM_IRQ_ROUTING_MSI
 * entry per unmasked route, in order, flags 0. MSI GSIs must be in [24, 4096), distinct and
 * not used by a legacy entry. Returns a malloc'ed table in *@out, -EINVAL, -E2BIG or -ENOMEM.
 */
int kvm_routing_build(const struct kvm_irq_routing_entry *legacy, unsigned nr_legacy,
		      const struct msi_route *routes, unsigned nr_routes,
		      struct kvm_irq_routing **out);

#endif
