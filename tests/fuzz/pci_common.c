// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci transport (virtio/pci_common.c, pci_transport.c, 4.1.4): every register of
 * BAR0 (common config, ISR, device config, notify) read and written with any width at any
 * offset, mostly in common config, so feature negotiation, queue setup in 1 MiB of guest RAM,
 * activation (failing now and then) and resets run in any order; the Command register and
 * interrupts raised meanwhile too. Input: 8 bytes per step (selector, 24-bit offset, value).
 */
#include "tests/fuzz/fuzz_vpci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct fv_step st;

	fv_up();
	while (fv_next(&in, &st)) {
		switch ((st.sel >> 4) & 7) {
		case 0: case 1: case 2: case 3:      /* common config, a little past its end */
			fv_access(true, st.sel & 4, st.off % 0x40, fv_len(st.sel), st.val | st.val << 32);
			break;
		case 4: case 5:                      /* anywhere in the BAR */
			fv_access(true, st.sel & 4, st.off % VIRTIO_PCI_BAR_SIZE, fv_len(st.sel), st.val);
			break;
		case 6:                              /* Command: memory decoding, INTx disable */
			fv_access(false, true, (FV_SLOT << 15) + PCI_COMMAND, 2, st.val);
			break;
		default:
			fv_signal(st.off % (FV_NQ + 1));
		}
	}
	fv_down();
	return 0;
}
