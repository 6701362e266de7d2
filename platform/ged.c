// SPDX-License-Identifier: Apache-2.0
/*
 * Generic Event Device (ACPI 6.x 5.6.9): how a hardware-reduced platform raises events such as
 * the power button. One 32-bit event register, read-to-clear, and one edge interrupt. The
 * DSDT's \_SB_.GED_._EVT reads the register and notifies the device each set bit stands for
 * (arch/x86_64/acpi.c dsdt_ged); docs/boot.md describes the contract.
 *
 * Threads: ged_notify() runs on the VMM thread, the register read on a vCPU thread; the
 * pending bits are one atomic word, so an event raised during a read is never lost (it stays
 * set for the next read, and its own interrupt edge follows).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "base/log.h"

struct ged {
	uint32_t pending;         /* GED_EVENT_* bits not yet read by the guest (atomic) */
	int irq_fd;               /* eventfd bound to the GED's GSI with KVM_IRQFD */
	uint64_t bad_accesses;    /* reads or writes the register does not define (atomic) */
};

static void ged_bad_access(struct ged *g, const char *what, uint64_t offset, unsigned len)
{
	__atomic_fetch_add(&g->bad_accesses, 1, __ATOMIC_RELAXED);
	pr_warn_ratelimited("ged: %s of %u bytes at offset %llu ignored (only a 4-byte read at 0)",
			    what, len, (unsigned long long)offset);
}

/* Only an aligned 4-byte read returns (and clears) the events; anything else reads 0. */
static void ged_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct ged *g = opaque;
	uint32_t events;

	memset(data, 0, len);
	if (offset != GED_REG_EVENTS || len != sizeof(events)) {
		ged_bad_access(g, "read", offset, len);
		return;
	}
	events = __atomic_exchange_n(&g->pending, 0, __ATOMIC_SEQ_CST);
	memcpy(data, &events, sizeof(events));
}

static void ged_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	(void)data;
	ged_bad_access(opaque, "write", offset, len);
}

const struct bus_device_ops ged_bus_ops = {
	.read = ged_bus_read,
	.write = ged_bus_write,
};

struct ged *ged_create(int irq_fd)
{
	struct ged *g = calloc(1, sizeof(*g));

	if (g)
		g->irq_fd = irq_fd;
	return g;
}

void ged_destroy(struct ged *g)
{
	free(g);
}

int ged_notify(struct ged *g, uint32_t events)
{
	uint64_t one = 1;

	if (!g)
		return -ENODEV;          /* a board without a GED */
	if (!events || (events & ~GED_EVENTS_ALL))
		return -EINVAL;
	/* Latch first, then the edge: the guest's handler must find the bit when it reads. */
	__atomic_fetch_or(&g->pending, events, __ATOMIC_SEQ_CST);
	if (write(g->irq_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int ged_set_pending(struct ged *g, uint32_t events)
{
	if (events & ~GED_EVENTS_ALL)
		return -EINVAL;
	__atomic_store_n(&g->pending, events, __ATOMIC_SEQ_CST);
	return 0;
}

uint32_t ged_pending(const struct ged *g)
{
	return __atomic_load_n(&g->pending, __ATOMIC_SEQ_CST);
}

uint64_t ged_bad_accesses(const struct ged *g)
{
	return __atomic_load_n(&g->bad_accesses, __ATOMIC_RELAXED);
}
