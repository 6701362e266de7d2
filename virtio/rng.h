/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-rng (virtio 1.2 5.4): one requestq; fills device-writable buffers from a host fd. */
#ifndef VIREO_VIRTIO_RNG_H
#define VIREO_VIRTIO_RNG_H

#include <stdint.h>

#include "virtio/device.h"

#define VIRTIO_RNG_MAX_REQUEST 65536      /* bytes per request, bounded */
#define VIRTIO_RNG_QUEUE_SIZE  256

struct virtio_rng;

/* Takes @src_fd over (closed by virtio_rng_free). NULL on ENOMEM (@src_fd then closed). */
struct virtio_rng *virtio_rng_new(int src_fd, const struct guest_mem *mem);
struct virtio_dev *virtio_rng_dev(struct virtio_rng *rng);
void virtio_rng_free(struct virtio_rng *rng);
uint64_t virtio_rng_bytes(const struct virtio_rng *rng);     /* delivered */
uint64_t virtio_rng_refused(const struct virtio_rng *rng);   /* requests with readable buffers */

#endif
