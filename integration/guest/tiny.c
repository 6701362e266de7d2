/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo tiny guest for boot benchmarks: boot.S (built with -DTINY) has already printed
 * "vireo-tiny: hello" in 32-bit mode; here we only power off through ACPI S5, with the
 * same table walk as the test guest.
 */
#include "guest.h"

void tiny_main(void)
{
	const struct hvm_start_info *si = pvh_info_pa ? phys_ptr(pvh_info_pa, sizeof(*si)) : NULL;
	uint64_t hint = (si && si->magic == HVM_START_MAGIC) ? si->rsdp_paddr : 0;
	if (acpi_discover(hint))
		acpi_poweroff();
	/* A power-off may take effect a little after the write: give it time, then complain. */
	for (unsigned i = 0; i < 20000000; i++)
		cpu_pause();
	con_puts("vireo-tiny: poweroff failed\n");
	halt_forever();
}
