/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user-blk: a virtio-blk device (virtio 1.2 5.2) whose requests a vhost-user backend
 * serves (SPDK, qemu-storage-daemon's vhost-user-blk export). The configuration space and the
 * block feature bits come from the backend (GET_CONFIG, GET_FEATURES).
 */
#ifndef VIREO_VIRTIO_VHOST_USER_BLK_H
#define VIREO_VIRTIO_VHOST_USER_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"

struct vhost_user_blk_params {
	const char *id, *socket;
	unsigned num_queues;
	uint16_t queue_size;
};

/* Connects to the backend and reads its config space; 0 or -errno with @err. */
int vhost_user_blk_new(const struct vhost_user_blk_params *p, const struct guest_mem *mem,
		       struct virtio_dev **out, char *err, size_t errlen);

#endif
