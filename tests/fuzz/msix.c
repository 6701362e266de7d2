// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X (pci/msix.c): the table and PBA through BAR0, the capability's Message Control
 * through ECAM, the vectors queues and config changes are bound to through common config, and
 * interrupts raised meanwhile (masked ones must land in the PBA, a vector outside the table
 * must never be triggered). Input: 8 bytes per step (selector, 24-bit offset, 32-bit value).
 */
#include <linux/virtio_pci.h>

#include "tests/fuzz/fuzz_vpci.h"

#define WINDOW (VIRTIO_PCI_MSIX_PBA_OFF + 0x100 - VIRTIO_PCI_MSIX_TABLE_OFF)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct fv_step st;
	unsigned cap;

	fv_up();
	cap = pci_cap_find(&fv.vp.pci, PCI_CAP_ID_MSIX);
	while (fv_next(&in, &st)) {
		bool write = st.sel & 4;

		switch ((st.sel >> 4) & 3) {
		case 0:            /* table and PBA, and a little around them */
			st.off = VIRTIO_PCI_MSIX_TABLE_OFF + st.off % WINDOW - 0x10;
			fv_access(true, write, st.off, fv_len(st.sel), st.val | st.val << 32);
			break;
		case 1:            /* the capability: Message Control's enable and function mask */
			fv_access(false, write, (FV_SLOT << 15) + cap + st.off % 12, fv_len(st.sel),
				  st.val);
			break;
		case 2:            /* msix_config, or queue_select then queue_msix_vector */
			if (st.off & 1) {
				fv_access(true, true, VIRTIO_PCI_COMMON_Q_SELECT, 2, st.off >> 1);
				fv_access(true, true, VIRTIO_PCI_COMMON_Q_MSIX, 2, st.val);
			} else {
				fv_access(true, true, VIRTIO_PCI_COMMON_MSIX, 2, st.val);
			}
			break;
		default:
			fv_signal(st.off % (FV_NQ + 1));
		}
	}
	fv_down();
	return 0;
}
