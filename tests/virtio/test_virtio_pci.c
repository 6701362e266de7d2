// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci transport (virtio 1.2 4.1) as a driver sees it: identity, capability chain,
 * feature negotiation, status machine and reset, queue registers, vectors, device config and
 * config generation, malformed accesses. Interrupts and notify: test_virtio_pci_irq.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "vpci_fx.h"

/* ------------------------------------------------------------------ identity, caps */

static void test_identity_and_bar(void **state)
{
	struct fx *f = *state;
	struct pci_dev *d = &f->vp.pci;

	assert_int_equal(pci_cfg_read(d, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(pci_cfg_read(d, PCI_DEVICE_ID, 2), 0x1044);
	assert_int_equal(pci_cfg_read(d, PCI_REVISION_ID, 1), 1);
	assert_int_equal(pci_cfg_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_true(pci_cfg_read(d, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(pci_cfg_read(d, PCI_INTERRUPT_PIN, 1), 1);
	/* BAR0: 64-bit memory, not prefetchable, VIRTIO_PCI_BAR_SIZE. */
	assert_int_equal(pci_cfg_read(d, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_MEM_TYPE_64);
	pci_cfg_write(d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(d, PCI_BASE_ADDRESS_0, 4),
			 (uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1) | PCI_BASE_ADDRESS_MEM_TYPE_64);
}

struct found {
	unsigned off;
	uint32_t bar, offset, length, extra;
	uint8_t cap_len;
};

/* Walks the list from 0x34 as Linux's virtio_pci_find_capability does. */
static void test_capability_chain(void **state)
{
	struct fx *f = *state;
	struct pci_dev *d = &f->vp.pci;
	struct found c[9] = { 0 };
	unsigned off = pci_cfg_read(d, PCI_CAPABILITY_LIST, 1), n = 0, msix = 0;

	assert_true(pci_cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	while (off && n++ < 48) {
		uint8_t id = (uint8_t)pci_cfg_read(d, off, 1);

		if (id == PCI_CAP_ID_VNDR) {
			uint8_t type = (uint8_t)pci_cfg_read(d, off + 3, 1);

			assert_true(type >= 1 && type <= 5);
			assert_int_equal(c[type].off, 0);             /* one of each */
			c[type] = (struct found){ off, pci_cfg_read(d, off + 4, 1),
				pci_cfg_read(d, off + 8, 4), pci_cfg_read(d, off + 12, 4),
				pci_cfg_read(d, off + 16, 4),
				(uint8_t)pci_cfg_read(d, off + 2, 1) };
		} else {
			assert_int_equal(id, PCI_CAP_ID_MSIX);
			msix = off;
		}
		off = pci_cfg_read(d, off + 1, 1);
	}
	assert_true(msix > c[5].off);                            /* MSI-X chained after */
	assert_int_equal(c[1].bar, 0);
	assert_int_equal(c[1].offset, VIRTIO_PCI_COMMON_OFF);
	assert_true(c[1].length >= 0x38);                        /* Linux maps 56 bytes */
	assert_int_equal(c[1].cap_len, 16);
	assert_int_equal(c[3].offset, VIRTIO_PCI_ISR_OFF);
	assert_true(c[3].length >= 1);
	assert_int_equal(c[4].offset, VIRTIO_PCI_DEVICE_CFG_OFF);
	assert_int_equal(c[4].length, CFGSZ);
	assert_int_equal(c[2].offset, VIRTIO_PCI_NOTIFY_OFF);
	assert_int_equal(c[2].cap_len, 20);
	assert_int_equal(c[2].extra, 4);                         /* notify_off_multiplier */
	assert_true(c[2].length >= (NQ - 1) * 4 + 2);            /* 4.1.4.4 */
	assert_int_equal(c[5].cap_len, 20);
	/* All structures 8 KiB aligned, inside BAR0, away from the MSI-X table. */
	for (n = 1; n <= 4; n++) {
		assert_int_equal(c[n].offset % 0x2000, 0);
		assert_true(c[n].offset + c[n].length <= VIRTIO_PCI_MSIX_TABLE_OFF);
	}
	/* MSI-X: nq + 1 vectors, table and PBA in BAR0. */
	assert_int_equal(pci_cfg_read(d, msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, NQ);
	assert_int_equal(pci_cfg_read(d, msix + PCI_MSIX_TABLE, 4), VIRTIO_PCI_MSIX_TABLE_OFF);
	assert_int_equal(pci_cfg_read(d, msix + PCI_MSIX_PBA, 4), VIRTIO_PCI_MSIX_PBA_OFF);
	/* Queue q notifies at notify.offset + queue_notify_off * multiplier. */
	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 1);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_NOFF), 2) * 4 + c[2].offset,
			 virtio_pci_notify_offset(&f->vp, 1));
	assert_int_equal(bar_rd(&f->vp, COMMON(NUMQ), 2), NQ);
}

/* ------------------------------------------------------------------ features, status */

static void test_feature_windows(void **state)
{
	struct fx *f = *state;
	uint64_t off = drv_offered(&f->vp);

	assert_int_equal(off & DEVF, DEVF);
	assert_true(off & V1);
	assert_true(off & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	assert_true(off & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	assert_false(off & VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM));
	bar_wr(&f->vp, COMMON(DFSELECT), 4, 2);
	assert_int_equal(bar_rd(&f->vp, COMMON(DF), 4), 0);
}

static void test_features_accepted(void **state)
{
	struct fx *f = *state;

	assert_true(negotiate(f, V1 | VIRTIO_BIT(5)) & S_FOK);
	assert_int_equal(f->vp.dev->features, V1 | VIRTIO_BIT(5));
	/* After FEATURES_OK the driver's features are final: later writes are ignored. */
	bar_wr(&f->vp, COMMON(GFSELECT), 4, 0);
	bar_wr(&f->vp, COMMON(GF), 4, 1);
	assert_int_equal(bar_rd(&f->vp, COMMON(GF), 4), VIRTIO_BIT(5));
}

static void test_features_refused(void **state)
{
	struct fx *f = *state;

	assert_false(negotiate(f, V1 | VIRTIO_BIT(7)) & S_FOK);   /* not offered */
	assert_false(negotiate(f, VIRTIO_BIT(0)) & S_FOK);        /* no VERSION_1 */
	assert_int_equal(f->vp.stats.features_refused, 2);
	/* Beyond bit 63 nothing is offered. */
	drv_status(&f->vp, 0);
	drv_status(&f->vp, S_ACK | S_DRV);
	drv_features(&f->vp, V1);
	bar_wr(&f->vp, COMMON(GFSELECT), 4, 2);
	bar_wr(&f->vp, COMMON(GF), 4, 1);
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK);
	assert_false(drv_get_status(&f->vp) & S_FOK);
	/* FEATURES_OK before DRIVER is refused as well. */
	drv_status(&f->vp, 0);
	drv_features(&f->vp, V1);
	drv_status(&f->vp, S_ACK | S_FOK);
	assert_false(drv_get_status(&f->vp) & S_FOK);
	assert_int_equal(f->activates, 0);
}

static void test_status_machine(void **state)
{
	struct fx *f = *state;

	bring_up(f, V1);
	assert_int_equal(f->activates, 1);
	assert_int_equal(drv_get_status(&f->vp), S_ACK | S_DRV | S_FOK | S_DOK);
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK | S_DOK);        /* again: no re-activation */
	assert_int_equal(f->activates, 1);
	drv_status(&f->vp, S_ACK | S_DRV);                          /* clearing bits: ignored */
	assert_int_equal(drv_get_status(&f->vp), S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->vp.stats.bad_status, 1);
	drv_status(&f->vp, 0xff);            /* NEEDS_RESET, reserved bits: not the driver's */
	assert_int_equal(drv_get_status(&f->vp),
			 S_ACK | S_DRV | S_FOK | S_DOK | VIRTIO_CONFIG_S_FAILED);
	/* DRIVER_OK together with FAILED does not activate. */
	drv_status(&f->vp, 0);
	negotiate(f, V1);
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK | S_DOK | VIRTIO_CONFIG_S_FAILED);
	assert_int_equal(f->activates, 1);
	/* DRIVER_OK without FEATURES_OK does not either. */
	drv_status(&f->vp, 0);
	drv_status(&f->vp, S_ACK | S_DRV | S_DOK);
	assert_int_equal(f->activates, 1);
}

static void test_reset(void **state)
{
	struct fx *f = *state;
	unsigned resets;

	bring_up(f, V1);
	bar_wr(&f->vp, COMMON(MSIX), 2, 2);
	assert_int_equal(bar_rd(&f->vp, COMMON(MSIX), 2), 2);
	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 1);
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, 1);
	resets = f->resets;
	drv_status(&f->vp, 0);
	assert_int_equal(f->resets, resets + 1);
	assert_int_equal(drv_get_status(&f->vp), 0);              /* reset complete */
	assert_int_equal(bar_rd(&f->vp, COMMON(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SELECT), 2), 0);
	for (unsigned q = 0; q < NQ; q++) {
		bar_wr(&f->vp, COMMON(Q_SELECT), 2, q);
		assert_int_equal(bar_rd(&f->vp, COMMON(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
		assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
		assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), QMAX);
		assert_int_equal(bar_rd(&f->vp, COMMON(Q_DESCLO), 4), 0);
		assert_false(f->vp.dev->vqs[q].ready);
	}
	bar_wr(&f->vp, COMMON(GFSELECT), 4, 0);
	assert_int_equal(bar_rd(&f->vp, COMMON(GF), 4), 0);
	assert_int_equal(f->vp.dev->features, 0);
	/* And the device comes up again. */
	bring_up(f, V1);
	assert_int_equal(f->activates, 2);
}

static unsigned deferrals;

static void note_deferral(void *ctx)
{
	(void)ctx;
	deferrals++;
}

/* As the VM wires it: the vCPU's write only records; the VMM thread carries it out. */
static void test_deferred_status_changes(void **state)
{
	struct fx *f = *state;
	const uint8_t ready = S_ACK | S_DRV | S_FOK | S_DOK;
	unsigned resets;

	f->vp.defer = note_deferral;
	deferrals = 0;
	bring_up(f, V1);
	assert_int_equal(f->activates, 0);
	assert_int_equal(deferrals, 1);
	assert_int_equal(drv_get_status(&f->vp), ready);
	virtio_pci_run_deferred(&f->vp);
	assert_int_equal(f->activates, 1);
	resets = f->resets;
	drv_status(&f->vp, 0);
	assert_int_equal(f->resets, resets);
	assert_int_equal(deferrals, 2);
	assert_int_equal(drv_get_status(&f->vp), ready);          /* 4.1.4.3.1: not 0 yet */
	drv_status(&f->vp, S_ACK);                                  /* refused until then */
	assert_int_equal(f->vp.stats.bad_status, 1);
	virtio_pci_run_deferred(&f->vp);
	assert_int_equal(f->resets, resets + 1);
	assert_int_equal(drv_get_status(&f->vp), 0);
	/* A device that never started resets at once, in the write. */
	negotiate(f, V1);
	drv_status(&f->vp, 0);
	assert_int_equal(drv_get_status(&f->vp), 0);
	assert_int_equal(deferrals, 2);
	bring_up(f, V1);
	virtio_pci_run_deferred(&f->vp);
	assert_int_equal(f->activates, 2);
}

static void test_activation_failure(void **state)
{
	struct fx *f = *state;

	f->activate_ret = -ENOMEM;
	bring_up(f, V1);
	assert_true(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(f->vp.stats.activate_errors, 1);
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK | S_DOK);        /* no retry before a reset */
	assert_int_equal(f->activates, 1);
	f->activate_ret = 0;
	bring_up(f, V1);
	assert_int_equal(f->activates, 2);
	assert_int_equal(drv_get_status(&f->vp), S_ACK | S_DRV | S_FOK | S_DOK);
}

/* ------------------------------------------------------------------ queue registers */

static void test_queue_select_out_of_range(void **state)
{
	struct fx *f = *state;

	bar_wr(&f->vp, COMMON(Q_SELECT), 2, NQ);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SELECT), 2), NQ);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), 0);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_DESCLO), 4), 0);
	bar_wr(&f->vp, COMMON(Q_SIZE), 2, 16);
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, 0);
	bar_wr(&f->vp, COMMON(Q_ENABLE), 2, 1);
	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 0xffff);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), 0);
	assert_int_equal(f->vp.stats.bad_queue_cfg, 3);
	/* The real queues are untouched. */
	bar_wr(&f->vp, COMMON(Q_SELECT), 2, NQ - 1);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), QMAX);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_queue_size(void **state)
{
	struct fx *f = *state;
	static const uint16_t bad[] = { 0, 48, 3, QMAX * 2, 0xffff };

	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bar_wr(&f->vp, COMMON(Q_SIZE), 2, bad[i]);
		assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), QMAX);
	}
	bar_wr(&f->vp, COMMON(Q_SIZE), 2, 16);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), 16);
	bar_wr(&f->vp, COMMON(Q_SIZE), 2, 1);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), 1);
}

/* 4.1.5.1.2: a vector the device cannot map reads back NO_VECTOR. */
static void test_vectors(void **state)
{
	struct fx *f = *state;

	bar_wr(&f->vp, COMMON(MSIX), 2, NQ + 1);                 /* table has NQ + 1 */
	assert_int_equal(bar_rd(&f->vp, COMMON(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_wr(&f->vp, COMMON(MSIX), 2, NQ);
	assert_int_equal(bar_rd(&f->vp, COMMON(MSIX), 2), NQ);
	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 1);
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, 0x7ff);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, 1);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_MSIX), 2), 1);
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
}

static void try_enable(struct fx *f, uint64_t desc, uint64_t avail, uint64_t used, uint16_t size)
{
	struct drv_ring r = { &f->mem, size, desc, avail, used, 0 };

	drv_queue(&f->vp, 0, &r);
}

static void test_queue_enable_validation(void **state)
{
	struct fx *f = *state;

	negotiate(f, V1);
	try_enable(f, 0x10008, 0x11000, 0x12000, 16);            /* desc not 16-aligned */
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
	try_enable(f, 0x10000, 0x11001, 0x12000, 16);            /* avail odd */
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
	try_enable(f, 0x10000, 0x11000, 0x12002, 16);            /* used not 4-aligned */
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
	try_enable(f, MEM - 0x80, 0x11000, 0x12000, 16);         /* desc table past RAM */
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
	try_enable(f, 0x10000, 0x11000, 0xd0000000ULL, 16);      /* used in the MMIO hole */
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 0);
	assert_int_equal(f->vp.stats.bad_queue_cfg, 5);
	try_enable(f, 0x10000, 0x11000, 0x12000, 16);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 1);
	assert_true(f->vp.dev->vqs[0].ready);
	/* Once enabled, the ring registers are frozen. */
	bar_wr(&f->vp, COMMON(Q_SIZE), 2, 8);
	bar_wr(&f->vp, COMMON(Q_DESCLO), 4, 0x40000);
	bar_wr(&f->vp, COMMON(Q_ENABLE), 2, 0);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SIZE), 2), 16);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_DESCLO), 4), 0x10000);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_ENABLE), 2), 1);
	assert_int_equal(f->vp.dev->vqs[0].desc_gpa, 0x10000);
}

static void test_queue_address_halves(void **state)
{
	struct fx *f = *state;

	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 1);
	bar_wr(&f->vp, COMMON(Q_DESCLO), 4, 0x89abcdef);
	bar_wr(&f->vp, COMMON(Q_DESCHI), 4, 0x1234567);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_DESCLO), 8), 0x0123456789abcdefULL);
	bar_wr(&f->vp, COMMON(Q_USEDLO), 8, 0x1122334455667788ULL);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_USEDHI), 4), 0x11223344);
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_USEDLO), 4), 0x55667788);
	/* A byte access to a 16-bit field is not a field access: ignored, counted. */
	assert_int_equal(bar_rd(&f->vp, COMMON(Q_SELECT), 1), 0);
	assert_true(f->vp.stats.bad_access >= 1);
}

/* ------------------------------------------------------------------ config, ISR */

static void test_device_config(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + 4, 4), 0xa7a6a5a4);
	assert_int_equal(f->last_cfg_off, 4);
	bar_wr(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + 2, 2, 0x1234);
	assert_int_equal(f->cfg_writes, 1);
	assert_int_equal(f->last_cfg_off, 2);
	/* Past config_size: zero, not delegated. */
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + CFGSZ - 2, 4), 0);
	bar_wr(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + CFGSZ, 1, 1);
	assert_int_equal(f->cfg_reads, 1);
	assert_int_equal(f->cfg_writes, 1);
}

static void test_config_generation(void **state)
{
	struct fx *f = *state;
	uint8_t gen = (uint8_t)bar_rd(&f->vp, COMMON(CFGGENERATION), 1);

	assert_int_equal(bar_rd(&f->vp, COMMON(CFGGENERATION), 1), gen);   /* stable */
	virtio_dev_config_changed(f->vp.dev);
	assert_int_equal(bar_rd(&f->vp, COMMON(CFGGENERATION), 1), (uint8_t)(gen + 1));
	bar_wr(&f->vp, COMMON(CFGGENERATION), 1, 0);                      /* read-only */
	assert_int_equal(bar_rd(&f->vp, COMMON(CFGGENERATION), 1), (uint8_t)(gen + 1));
}

static void test_unknown_bar_accesses(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_COMMON_LEN, 4), 0);   /* past common: 0 */
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF + 4, 4), 0);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_BAR_SIZE - 4, 8), 0); /* crosses the end */
	bar_wr(&f->vp, COMMON(NUMQ), 2, 9);
	assert_int_equal(bar_rd(&f->vp, COMMON(NUMQ), 2), NQ);
	bar_wr(&f->vp, COMMON(DF), 4, 0);
	assert_true(f->vp.stats.bad_access >= 3);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity_and_bar),
		T(test_capability_chain),
		T(test_feature_windows),
		T(test_features_accepted),
		T(test_features_refused),
		T(test_status_machine),
		T(test_reset),
		T(test_deferred_status_changes),
		T(test_activation_failure),
		T(test_queue_select_out_of_range),
		T(test_queue_size),
		T(test_vectors),
		T(test_queue_enable_validation),
		T(test_queue_address_halves),
		T(test_device_config),
		T(test_config_generation),
		T(test_unknown_bar_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
