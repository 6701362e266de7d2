// SPDX-License-Identifier: Apache-2.0
/*
 * i8042 keyboard controller, just enough for the legacy reset path: command 0xFE on port 0x64
 * pulses the CPU reset line. No keyboard: the FADT does not advertise an 8042, so Linux does
 * not probe one. Registered on ports 0x60-0x64; 0x61 (PIT speaker) stays in KVM.
 */
#include <stdlib.h>

#include "platform/platform.h"
#include "base/log.h"

#define I8042_DATA_OFFSET    0
#define I8042_COMMAND_OFFSET 4
#define I8042_CMD_RESET_CPU  0xfe

struct i8042 {
	struct platform_notifier notifier;
};

static void i8042_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	(void)opaque;
	/* Status 0: output buffer empty, input buffer empty. Data reads return 0. */
	if (len == 1 && (offset == I8042_DATA_OFFSET || offset == I8042_COMMAND_OFFSET))
		data[0] = 0;
}

static void i8042_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct i8042 *k = opaque;

	if (len != 1 || offset != I8042_COMMAND_OFFSET || data[0] != I8042_CMD_RESET_CPU)
		return;
	pr_info("i8042: reset requested by the guest");
	k->notifier.notify(k->notifier.ctx, PLATFORM_RESET);
}

const struct bus_device_ops i8042_bus_ops = {
	.read = i8042_bus_read,
	.write = i8042_bus_write,
};

struct i8042 *i8042_create(const struct platform_notifier *notifier)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (k)
		k->notifier = *notifier;
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	free(k);
}
