// SPDX-License-Identifier: Apache-2.0
/*
 * Port 0x80, the POST-code port: guests (and vireo's test guest) write boot-phase markers here.
 * Each write is logged with the time since vireo started, as Cloud Hypervisor does, so boot
 * phases can be timed from the log (-v).
 */
#include "platform/platform.h"
#include "base/log.h"

static void debugport_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	(void)opaque;
	(void)offset;
	if (len >= 1)
		pr_info("debug-port: code 0x%02x at %.6f s", data[0], log_uptime());
}

const struct bus_device_ops debugport_bus_ops = {
	.read = NULL,   /* reads float high, as on hardware without a POST card */
	.write = debugport_bus_write,
};
