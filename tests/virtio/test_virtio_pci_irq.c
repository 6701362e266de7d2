// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci transport (virtio 1.2 4.1), the signalling side: ISR read-to-clear, INTx with
 * resample, MSI-X delivery with masking, DEVICE_NEEDS_RESET exactly once, notify writes on the
 * MMIO path, and the PCI_CFG access window.
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

static void test_isr_read_to_clear_intx(void **state)
{
	struct fx *f = *state;

	virtio_dev_config_changed(f->vp.dev);                   /* MSI-X off: INTx */
	assert_int_equal(f->raises, 1);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	assert_int_equal(f->lowers, 1);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), 0);
	assert_int_equal(f->lowers, 1);
	bar_wr(&f->vp, VIRTIO_PCI_ISR_OFF, 1, 3);                 /* read-only */
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), 0);
}

/* Queue interrupt without MSI-X: ISR bit 0, level INTx, resample while the ISR is set. */
static void test_intx_queue_and_resample(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	bring_up(f, V1);
	drv_desc(&f->r[0], 0, 0x100000, 8, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	assert_int_equal(virtq_chain_init(&c, virtq_chain_max(QMAX)), 0);
	assert_int_equal(virtio_dev_pop(f->vp.dev, 0, &c), 1);
	assert_int_equal(virtio_dev_push(f->vp.dev, 0, c.head, 8), 0);
	assert_int_equal(virtio_dev_notify(f->vp.dev, 0), 0);
	assert_int_equal(f->raises, 1);
	virtio_pci_intx_resample(&f->vp);                         /* EOI with ISR still set */
	assert_int_equal(f->raises, 2);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), 1);
	virtio_pci_intx_resample(&f->vp);                         /* ISR clear: stays low */
	assert_int_equal(f->raises, 2);
	assert_int_equal(f->triggers[0] + f->triggers[1], 0);
	virtq_chain_free(&c);
}

/* PCI 3.0 6.2.2: clearing Interrupt Disable with the ISR still set asserts INTx again. */
static void test_intx_disable_cleared_reasserts(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pci_cfg_write(&f->vp.pci, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE), 0);
	virtio_dev_config_changed(f->vp.dev);
	assert_int_equal(f->raises, 1);                           /* the owner masks it */
	assert_int_equal(pci_cfg_write(&f->vp.pci, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE), 0);
	assert_int_equal(f->raises, 1);                           /* still disabled */
	assert_int_equal(pci_cfg_write(&f->vp.pci, PCI_COMMAND, 2, 0), 0);
	assert_int_equal(f->raises, 2);                           /* held interrupt: again */
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	assert_int_equal(pci_cfg_write(&f->vp.pci, PCI_COMMAND, 2, 0), 0);
	assert_int_equal(f->raises, 2);                           /* ISR clear: nothing */
}

static void test_msix_delivery(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	assert_int_equal(virtq_chain_init(&c, virtq_chain_max(QMAX)), 0);
	bring_up(f, V1);
	bar_wr(&f->vp, COMMON(MSIX), 2, 2);
	bar_wr(&f->vp, COMMON(Q_SELECT), 2, 0);
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, 1);
	msix_on(f);
	for (int i = 0; i < 3; i++) {
		drv_desc(&f->r[0], 0, 0x100000, 8, VRING_DESC_F_WRITE, 0);
		drv_publish(&f->r[0], 0);
		assert_int_equal(virtio_dev_pop(f->vp.dev, 0, &c), 1);
		assert_int_equal(virtio_dev_push(f->vp.dev, 0, c.head, 8), 0);
		if (i == 1)                                       /* mask vector 1 */
			bar_wr(&f->vp, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 4, 1);
		assert_int_equal(virtio_dev_notify(f->vp.dev, 0), 0);
	}
	assert_int_equal(f->triggers[1], 1);                      /* then masked: pending */
	assert_true(msix_pending(&f->vp.msix, 1));
	bar_wr(&f->vp, VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 4, 0);
	assert_int_equal(f->triggers[1], 2);                      /* delivered on unmask */
	assert_false(msix_pending(&f->vp.msix, 1));
	/* Config change: config vector, plus ISR bit 1 (4.1.4.5). */
	virtio_dev_config_changed(f->vp.dev);
	assert_int_equal(f->triggers[2], 1);
	assert_int_equal(f->raises, 0);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	/* NO_VECTOR: the driver wants no interrupt for this queue. */
	bar_wr(&f->vp, COMMON(Q_MSIX), 2, VIRTIO_MSI_NO_VECTOR);
	drv_desc(&f->r[0], 0, 0x100000, 8, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	assert_int_equal(virtio_dev_pop(f->vp.dev, 0, &c), 1);
	assert_int_equal(virtio_dev_push(f->vp.dev, 0, c.head, 8), 0);
	assert_int_equal(virtio_dev_notify(f->vp.dev, 0), 0);
	assert_int_equal(f->triggers[0] + f->triggers[1], 2);
	virtq_chain_free(&c);
}

/* A structural error: NEEDS_RESET and one config interrupt, however often it is hit. */
static void test_needs_reset_once(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;

	assert_int_equal(virtq_chain_init(&c, virtq_chain_max(QMAX)), 0);
	bring_up(f, V1);
	bar_wr(&f->vp, COMMON(MSIX), 2, 2);
	msix_on(f);
	drv_set_avail_idx(&f->r[1], 100);                         /* > 16 ahead */
	assert_int_equal(virtio_dev_pop(f->vp.dev, 1, &c), -VIRTQ_E_AVAIL_IDX);
	assert_true(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(f->triggers[2], 1);
	assert_int_equal(virtio_dev_pop(f->vp.dev, 1, &c), -VIRTQ_E_BROKEN);
	drv_publish(&f->r[0], 77);                                /* another queue breaks too */
	assert_int_equal(virtio_dev_pop(f->vp.dev, 0, &c), -VIRTQ_E_HEAD);
	assert_int_equal(f->triggers[2], 1);
	assert_int_equal(f->vp.stats.needs_reset, 1);
	assert_int_equal(f->vp.dev->vqs[1].errors[VIRTQ_E_AVAIL_IDX - VIRTQ_E_BASE], 1);
	/* Writing status keeps the device's bit; reset clears it and the queue works again. */
	drv_status(&f->vp, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
	drv_status(&f->vp, 0);
	assert_int_equal(drv_get_status(&f->vp), 0);
	drv_init(&f->r[0], &f->mem, 16, 0x10000);
	drv_init(&f->r[1], &f->mem, 16, 0x20000);
	bring_up(f, V1);
	drv_desc(&f->r[1], 0, 0x100000, 8, 0, 0);
	drv_publish(&f->r[1], 0);
	assert_int_equal(virtio_dev_pop(f->vp.dev, 1, &c), 1);
	virtq_chain_free(&c);
}

/* ------------------------------------------------------------------ notify, PCI_CFG */

static uint64_t kicks(struct fx *f, unsigned q)
{
	uint64_t v = 0;

	if (read(virtio_pci_kick_fd(&f->vp, q), &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void test_notify_mmio(void **state)
{
	struct fx *f = *state;
	uint64_t n1 = virtio_pci_notify_offset(&f->vp, 1);
	uint64_t bad = f->vp.stats.bad_access;

	assert_int_equal(virtio_pci_notify_offset(&f->vp, 0), VIRTIO_PCI_NOTIFY_OFF);
	assert_int_equal(n1, VIRTIO_PCI_NOTIFY_OFF + 4);
	bar_wr(&f->vp, n1, 2, 1);                                  /* what Linux does */
	bar_wr(&f->vp, n1, 4, 1);                                  /* a wrong size still kicks */
	assert_int_equal(kicks(f, 1), 2);
	assert_int_equal(kicks(f, 0), 0);
	bar_wr(&f->vp, n1 + 2, 2, 1);                              /* inside no register */
	bar_wr(&f->vp, VIRTIO_PCI_NOTIFY_OFF + 4 * NQ, 2, 1);      /* no such queue */
	assert_int_equal(kicks(f, 1), 0);
	assert_int_equal(f->vp.stats.bad_access, bad + 2);
	assert_int_equal(bar_rd(&f->vp, n1, 2), 0);
}

static void test_pci_cfg_window(void **state)
{
	struct fx *f = *state;
	struct pci_dev *d = &f->vp.pci;
	unsigned cap = f->vp.pci_cfg_cap;

	assert_int_equal(pci_cfg_read(d, cap + 3, 1), VIRTIO_PCI_CAP_PCI_CFG);
	/* Read num_queues (2 bytes at common + 0x12) through the window. */
	pci_cfg_write(d, cap + 4, 1, 0);
	pci_cfg_write(d, cap + 8, 4, VIRTIO_PCI_COMMON_NUMQ);
	pci_cfg_write(d, cap + 12, 4, 2);
	assert_int_equal(pci_cfg_read(d, cap + 16, 4) & 0xffff, NQ);
	/* Write device_status = ACK through it. */
	pci_cfg_write(d, cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);
	pci_cfg_write(d, cap + 12, 4, 1);
	pci_cfg_write(d, cap + 16, 4, S_ACK);
	assert_int_equal(drv_get_status(&f->vp), S_ACK);
	/* Misaligned, bad length or another BAR: ignored. */
	pci_cfg_write(d, cap + 8, 4, VIRTIO_PCI_COMMON_NUMQ + 1);
	pci_cfg_write(d, cap + 12, 4, 2);
	pci_cfg_write(d, cap + 16, 4, 0);
	pci_cfg_write(d, cap + 12, 4, 3);
	pci_cfg_write(d, cap + 16, 4, 0);
	pci_cfg_write(d, cap + 4, 1, 2);
	pci_cfg_write(d, cap + 8, 4, VIRTIO_PCI_COMMON_STATUS);
	pci_cfg_write(d, cap + 12, 4, 1);
	pci_cfg_write(d, cap + 16, 4, 0);
	assert_int_equal(drv_get_status(&f->vp), S_ACK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_isr_read_to_clear_intx),
		T(test_intx_queue_and_resample),
		T(test_intx_disable_cleared_reasserts),
		T(test_msix_delivery),
		T(test_needs_reset_once),
		T(test_notify_mmio),
		T(test_pci_cfg_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
