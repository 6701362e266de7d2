/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared fixture of the virtio-pci transport tests: a fake device behind the ops table,
 * fake MSI-X and INTx seams that count what they are asked to do, and driver helpers.
 */
#ifndef VIREO_TESTS_VIRTIO_VPCI_FX_H
#define VIREO_TESTS_VIRTIO_VPCI_FX_H

#include "vtest.h"

#define NQ      2
#define QMAX    64
#define CFGSZ   8
#define DEVF    (VIRTIO_BIT(0) | VIRTIO_BIT(5))
#define MEM     (16ULL << 20)

struct fx {
	struct guest_mem mem;
	struct virtio_dev dev;
	struct virtio_pci vp;
	/* fake device */
	unsigned activates, resets, cfg_reads, cfg_writes;
	unsigned last_cfg_off;
	int activate_ret;
	/* fake MSI-X and INTx seams */
	unsigned triggers[NQ + 1];
	unsigned raises, lowers;
	struct drv_ring r[NQ];
};

static inline struct fx *fx_of(struct virtio_dev *vd)
{
	return vd->opaque;
}

static inline void dev_cfg_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	unsigned i;

	fx_of(vd)->cfg_reads++;
	fx_of(vd)->last_cfg_off = off;
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(0xa0 + off + i);
}

static inline void dev_cfg_write(struct virtio_dev *vd, unsigned off, const uint8_t *data,
				 unsigned len)
{
	(void)data;
	(void)len;
	fx_of(vd)->cfg_writes++;
	fx_of(vd)->last_cfg_off = off;
}

static inline int dev_activate(struct virtio_dev *vd)
{
	fx_of(vd)->activates++;
	return fx_of(vd)->activate_ret;
}

static inline void dev_reset(struct virtio_dev *vd)
{
	fx_of(vd)->resets++;
}

static const struct virtio_dev_params fake_params = {
	.type = VIRTIO_ID_RNG, .nr_queues = NQ, .max_queue_size = QMAX, .config_size = CFGSZ,
	.features = DEVF,
};

static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.config_read = dev_cfg_read,
	.config_write = dev_cfg_write,
	.activate = dev_activate,
	.reset = dev_reset,
};

static inline int m_update(void *ctx, unsigned v, uint64_t addr, uint32_t data, bool masked)
{
	(void)ctx, (void)v, (void)addr, (void)data, (void)masked;
	return 0;
}

static inline int m_commit(void *ctx)
{
	(void)ctx;
	return 0;
}

static inline int m_trigger(void *ctx, unsigned v)
{
	struct fx *f = ctx;

	assert_true(v < NQ + 1);
	f->triggers[v]++;
	return 0;
}

static const struct msix_irq_ops msix_ops = { m_update, m_commit, m_trigger, NULL };

static inline int i_raise(void *ctx)
{
	((struct fx *)ctx)->raises++;
	return 0;
}

static inline void i_lower(void *ctx)
{
	((struct fx *)ctx)->lowers++;
}

static const struct virtio_intx_ops intx_ops = { i_raise, i_lower };

static inline int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_pci_args a = {
		.id = "fake0", .dev = &f->dev,
		.msix_ops = &msix_ops, .msix_ctx = f, .intx_ops = &intx_ops, .intx_ctx = f,
	};

	assert_int_equal(arch_guest_mem_init(&f->mem, MEM), 0);
	assert_int_equal(virtio_dev_init(&f->dev, &fake_params, &fake_ops, f, &f->mem), 0);
	assert_int_equal(virtio_pci_init(&f->vp, &a), 0);
	drv_init(&f->r[0], &f->mem, 16, 0x10000);
	drv_init(&f->r[1], &f->mem, 16, 0x20000);
	*state = f;
	return 0;
}

static inline int teardown(void **state)
{
	struct fx *f = *state;

	virtio_pci_destroy(&f->vp);
	virtio_dev_fini(&f->dev);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static const uint8_t S_ACK = VIRTIO_CONFIG_S_ACKNOWLEDGE, S_DRV = VIRTIO_CONFIG_S_DRIVER,
		     S_FOK = VIRTIO_CONFIG_S_FEATURES_OK, S_DOK = VIRTIO_CONFIG_S_DRIVER_OK;
#define V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)

/* 3.1.1 up to FEATURES_OK; returns the re-read status. */
static inline uint8_t negotiate(struct fx *f, uint64_t features)
{
	drv_status(&f->vp, 0);
	drv_status(&f->vp, S_ACK);
	drv_status(&f->vp, S_ACK | S_DRV);
	drv_features(&f->vp, features);
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK);
	return drv_get_status(&f->vp);
}

static inline void bring_up(struct fx *f, uint64_t features)
{
	assert_true(negotiate(f, features) & S_FOK);
	drv_queue(&f->vp, 0, &f->r[0]);
	drv_queue(&f->vp, 1, &f->r[1]);
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK | S_DOK);
}

/* MSI-X on: Message Control Enable, and every entry unmasked through the BAR. */
static inline void msix_on(struct fx *f)
{
	unsigned cap = pci_cap_find(&f->vp.pci, PCI_CAP_ID_MSIX), v;

	assert_int_equal(pci_cfg_write(&f->vp.pci, cap + PCI_MSIX_FLAGS, 2,
				       PCI_MSIX_FLAGS_ENABLE), 0);
	for (v = 0; v < NQ + 1; v++) {
		uint64_t e = VIRTIO_PCI_MSIX_TABLE_OFF + 16 * v;

		bar_wr(&f->vp, e, 4, 0xfee00000);
		bar_wr(&f->vp, e + 8, 4, 0x30 + v);
		bar_wr(&f->vp, e + 12, 4, 0);
	}
}

#endif
