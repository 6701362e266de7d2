/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (virtio 1.2 5.10): rx (0), tx (1) and event (2) queues, stream sockets only,
 * with Cloud Hypervisor's hybrid backend: host clients connect to the Unix socket @path and
 * write "CONNECT <port>\n"; a guest connecting to CID 2 port P reaches "@path_P".
 * docs/virtio-vsock.md describes the design.
 */
#ifndef VIREO_VIRTIO_VSOCK_H
#define VIREO_VIRTIO_VSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"

#define VIRTIO_VSOCK_RX          0
#define VIRTIO_VSOCK_TX          1
#define VIRTIO_VSOCK_EVENT       2
#define VIRTIO_VSOCK_QUEUE_SIZE  256
#define VIRTIO_VSOCK_MIN_CID     3       /* 0-2 are reserved (5.10.4) */

struct virtio_vsock;

/*
 * Listens on @path (0600) at once; the guest's streams start at activation. 0 or -errno with
 * a message in @err (bad CID, path too long, in use).
 */
int virtio_vsock_new(uint64_t guest_cid, const char *path, const struct guest_mem *mem,
		     struct virtio_vsock **out, char *err, size_t errlen);
struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *vs);
void virtio_vsock_free(struct virtio_vsock *vs);

#endif
