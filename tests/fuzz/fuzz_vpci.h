/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio-pci function on a PCI segment, as the guest reaches it: config space through the
 * segment's ECAM handler, BAR0 through the transport's bus handler, deferred BAR moves applied
 * as the VMM does after an exit. The device behind it is a stand-in with two queues and eight
 * bytes of config; MSI-X and INTx go to counting stubs; guest RAM is 1 MiB (rings the driver
 * programs through common config must lie in it to be accepted). Fresh for every input.
 */
#ifndef VIREO_TESTS_FUZZ_FUZZ_VPCI_H
#define VIREO_TESTS_FUZZ_FUZZ_VPCI_H

#include <errno.h>
#include <stdlib.h>

#include "base/memory.h"
#include "pci/pci.h"
#include "tests/fuzz/fuzz.h"
#include "virtio/pci.h"

#define FV_SLOT 1
#define FV_NQ   2

struct fuzz_vpci {
	struct guest_mem mem;
	struct pci_segment seg;
	struct virtio_dev dev;
	struct virtio_pci vp;
	unsigned triggers, activates;
};

static struct fuzz_vpci fv;

static void fv_cfg_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	(void)vd;
	if (off + len > 8)
		abort();                        /* the transport bounds device config */
	memset(data, (int)off, len);
}

static void fv_cfg_write(struct virtio_dev *vd, unsigned off, const uint8_t *data, unsigned len)
{
	(void)vd, (void)data;
	if (off + len > 8)
		abort();
}

static int fv_activate(struct virtio_dev *vd)
{
	(void)vd;
	return fv.activates++ % 3 == 2 ? -EIO : 0;   /* a failing activation now and then */
}

static const struct virtio_device_ops fv_ops = {
	.name = "fuzz", .config_read = fv_cfg_read, .config_write = fv_cfg_write,
	.activate = fv_activate,
};

static int fv_update(void *ctx, unsigned v, uint64_t addr, uint32_t data, bool masked)
{
	(void)ctx, (void)addr, (void)data, (void)masked;
	return v <= FV_NQ ? 0 : (abort(), 0);
}

static int fv_commit(void *ctx)
{
	(void)ctx;
	return 0;
}

static int fv_trigger(void *ctx, unsigned v)
{
	(void)ctx;
	if (v > FV_NQ)
		abort();                        /* a vector outside the table */
	fv.triggers++;
	return 0;
}

static const struct msix_irq_ops fv_msix = {
	.update_route = fv_update, .commit_routes = fv_commit, .trigger = fv_trigger,
};

static int fv_raise(void *ctx)
{
	(void)ctx;
	return 0;
}

static void fv_lower(void *ctx)
{
	(void)ctx;
}

static const struct virtio_intx_ops fv_intx = { fv_raise, fv_lower };

static int fv_map(void *ctx, struct pci_dev *d, unsigned bar, uint64_t addr, uint64_t size)
{
	(void)ctx, (void)d, (void)bar, (void)addr, (void)size;
	return 0;
}

static void fv_unmap(void *ctx, struct pci_dev *d, unsigned bar, uint64_t addr, uint64_t size)
{
	(void)ctx, (void)d, (void)bar, (void)addr, (void)size;
}

static int fv_move(void *ctx, struct pci_dev *d, unsigned bar, uint64_t old_addr,
		   uint64_t new_addr, uint64_t size, bool mapped)
{
	(void)ctx, (void)d, (void)bar, (void)old_addr, (void)size, (void)mapped;
	return new_addr & 0x100000 ? -EBUSY : 0;     /* some moves fail: the rollback path */
}

static const struct pci_bar_ops fv_bar_ops = { fv_map, fv_unmap, fv_move };

static const struct virtio_dev_params fv_params = {
	.type = VIRTIO_ID_RNG, .nr_queues = FV_NQ, .max_queue_size = 64, .config_size = 8,
	.features = VIRTIO_BIT(0) | VIRTIO_BIT(5),
};

static inline void fv_init(void)
{
	const struct guest_region ram = { .gpa = 0, .size = 1 << 20 };

	fz_quiet();
	if (guest_mem_create(&fv.mem, &ram, 1))
		abort();
}

static inline void fv_up(void)
{
	struct virtio_pci_args a = {
		.id = "fuzz0", .dev = &fv.dev, .msix_ops = &fv_msix, .intx_ops = &fv_intx,
	};

	if (pci_segment_init(&fv.seg, 0) ||
	    virtio_dev_init(&fv.dev, &fv_params, &fv_ops, NULL, &fv.mem) ||
	    virtio_pci_init(&fv.vp, &a))
		abort();
	pci_dev_set_bar_ops(&fv.vp.pci, &fv_bar_ops, NULL);
	if (pci_segment_add(&fv.seg, &fv.vp.pci, FV_SLOT) ||
	    pci_bar_set_addr(&fv.vp.pci, VIRTIO_PCI_BAR, 0xe0000000))
		abort();
}

static inline void fv_down(void)
{
	pci_segment_remove(&fv.seg, &fv.vp.pci);
	virtio_pci_destroy(&fv.vp);
	virtio_dev_fini(&fv.dev);
	pci_segment_destroy(&fv.seg);
}

/* One guest access: an ECAM (bus 0) or a BAR0 read or write of 1, 2, 4 or 8 bytes. */
static inline void fv_access(bool bar, bool write, uint64_t off, unsigned len, uint64_t val)
{
	const struct bus_device_ops *ops = bar ? &virtio_pci_bar_ops : &pci_ecam_ops;
	void *ctx = bar ? (void *)&fv.vp : (void *)&fv.seg;
	uint8_t d[8];

	for (unsigned i = 0; i < 8; i++)
		d[i] = (uint8_t)(val >> (8 * i));
	if (write)
		ops->write(ctx, off, d, len);
	else
		ops->read(ctx, off, d, len);
	if (pci_segment_pending(&fv.seg))
		pci_segment_apply(&fv.seg);
	virtio_pci_run_deferred(&fv.vp);
}

/* A queue's used-buffer interrupt and a config change, as a device would raise them. */
static inline void fv_signal(unsigned q)
{
	if (q < FV_NQ)
		fv.dev.transport->notify(fv.dev.transport_ctx, q);
	else
		fv.dev.transport->config_changed(fv.dev.transport_ctx);
}

static inline unsigned fv_len(uint64_t sel)
{
	return 1u << (sel & 3);
}

/* The input's next step: 8 bytes (selector, 24-bit offset, 32-bit value); false at the end. */
struct fv_step {
	unsigned sel;
	uint64_t off, val;
};

static inline bool fv_next(struct fz *in, struct fv_step *s)
{
	if (!in->n)
		return false;
	s->sel = (unsigned)fz_take(in, 1);
	s->off = fz_take(in, 3);
	s->val = fz_take(in, 4);
	return true;
}

#ifndef FV_OWN_INIT
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fv_init();
	return 0;
}
#endif

#endif
