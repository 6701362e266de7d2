// SPDX-License-Identifier: Apache-2.0
/*
 * PCI configuration space (pci/pci_cfg.c, pci_bar.c, pci_segment.c) as the guest reaches it:
 * ECAM reads and writes of any width at any offset of bus 0, the function at slot 1 a
 * virtio-pci one (vendor capabilities, MSI-X, BAR0), BAR moves applied after each access.
 * Input: 8 bytes per access (selector, 24-bit offset, 32-bit value).
 */
#include "tests/fuzz/fuzz_vpci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct fv_step st;

	fv_up();
	while (fv_next(&in, &st)) {
		/* Mostly slot 1's 4 KiB; sometimes anywhere on the bus, or past it. */
		if (st.sel & 0x80)
			st.off = (st.sel & 0x40) ? st.off << 8 : st.off;
		else
			st.off = (FV_SLOT << 15) | (st.off & 0xfff);
		fv_access(false, st.sel & 4, st.off, fv_len(st.sel), st.val | st.val << 32);
	}
	fv_down();
	return 0;
}
