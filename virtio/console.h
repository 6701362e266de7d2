/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console (virtio 1.2 5.3) without MULTIPORT: receiveq0 (0), transmitq0 (1); offers
 * EMERG_WRITE. Transmitted bytes go to an output fd, received ones come from an input fd.
 */
#ifndef VIREO_VIRTIO_CONSOLE_H
#define VIREO_VIRTIO_CONSOLE_H

#include <stdint.h>

#include "virtio/device.h"

#define VIRTIO_CONSOLE_RX          0
#define VIRTIO_CONSOLE_TX          1
#define VIRTIO_CONSOLE_QUEUE_SIZE  256

struct virtio_console;

/* @in_fd, @out_fd stay the caller's; either may be -1 (nothing in, output dropped). */
struct virtio_console *virtio_console_new(int in_fd, int out_fd, const struct guest_mem *mem);
struct virtio_dev *virtio_console_dev(struct virtio_console *con);
void virtio_console_free(struct virtio_console *con);
struct virtio_console_stats {
	uint64_t tx_bytes, tx_dropped, rx_bytes;
};
void virtio_console_stats(const struct virtio_console *con, struct virtio_console_stats *st);

#endif
