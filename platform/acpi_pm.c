// SPDX-License-Identifier: Apache-2.0
/*
 * Hardware-reduced ACPI power management (ACPI 6.x 4.8.3.6-4.8.3.7 and 5.2.9): the sleep
 * control register (SLP_TYPx in bits 4:2, SLP_EN in bit 5), the sleep status register and the
 * reset register that the FADT points at. S5 powers off; the reset value reboots.
 */
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "platform/platform.h"
#include "base/log.h"

#define SLEEP_CTL_OFFSET (LAYOUT_ACPI_SLEEP_CTL - LAYOUT_ACPI_PM_PORT)
#define RESET_OFFSET     (LAYOUT_ACPI_RESET - LAYOUT_ACPI_PM_PORT)
#define SLP_EN           0x20
#define SLP_TYP(v)       (((v) >> 2) & 0x7)

struct acpi_pm {
	struct platform_notifier notifier;
};

static void acpi_pm_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	(void)opaque;
	(void)offset;
	if (len == 1)
		data[0] = 0;   /* no wake status, nothing pending */
}

static void acpi_pm_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = opaque;

	if (len != 1)
		return;
	if (offset == SLEEP_CTL_OFFSET && (data[0] & SLP_EN)) {
		if (SLP_TYP(data[0]) == LAYOUT_ACPI_SLP_TYP_S5) {
			pr_info("acpi: S5 (poweroff) requested by the guest");
			pm->notifier.notify(pm->notifier.ctx, PLATFORM_POWEROFF);
		} else {
			pr_warn_ratelimited("acpi: sleep type %u is not supported; ignored",
					    SLP_TYP(data[0]));
		}
	} else if (offset == RESET_OFFSET && data[0] == LAYOUT_ACPI_RESET_VALUE) {
		pr_info("acpi: reset requested by the guest");
		pm->notifier.notify(pm->notifier.ctx, PLATFORM_RESET);
	}
}

const struct bus_device_ops acpi_pm_bus_ops = {
	.read = acpi_pm_bus_read,
	.write = acpi_pm_bus_write,
};

struct acpi_pm *acpi_pm_create(const struct platform_notifier *notifier)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (pm)
		pm->notifier = *notifier;
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}
