/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs (virtio 1.2 5.11) served by a vhost-user backend such as virtiofsd: queue 0 is
 * the hiprio queue, queues 1..num_request_queues the request queues. vireo keeps only the
 * configuration space (tag, num_request_queues); no DAX window (no shared memory region).
 */
#ifndef VIREO_VIRTIO_FS_H
#define VIREO_VIRTIO_FS_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"

#define VIRTIO_FS_TAG_MAX       36        /* 5.11.4: tag[36], UTF-8, not NUL-terminated */
#define VIRTIO_FS_MAX_REQ_QUEUES 16
#define VIRTIO_FS_QUEUE_SIZE_MAX 1024

struct virtio_fs_params {
	const char *id, *tag, *socket;
	unsigned num_request_queues;
	uint16_t queue_size;
};

/* Connects to the backend; 0 or -errno with @err. */
int virtio_fs_new(const struct virtio_fs_params *p, const struct guest_mem *mem,
		  struct virtio_dev **out, char *err, size_t errlen);

#endif
