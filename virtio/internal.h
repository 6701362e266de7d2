/* SPDX-License-Identifier: Apache-2.0 */
/* Private glue between the files of virtio/: not part of the public API. */
#ifndef VIREO_VIRTIO_INTERNAL_H
#define VIREO_VIRTIO_INTERNAL_H

#include <stddef.h>

#include "virtio/pci.h"

#define VP_STATUS_READY (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
			 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)
/* vp->needs_reset: raised once (claimed), then visible in device_status (shown). */
enum { VP_NR_NONE, VP_NR_CLAIMED, VP_NR_SHOWN };

/* Status bits a driver may set (2.1); NEEDS_RESET is the device's. */
#define VP_STATUS_DRIVER_BITS (VP_STATUS_READY | VIRTIO_CONFIG_S_FAILED)

static inline void vp_count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static inline bool vp_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Features the transport offers for @vd: the device's plus VERSION_1 and the ring ones. */
uint64_t vp_offered(const struct virtio_dev *vd);

/* pci_common.c: common configuration structure (4.1.4.3), @off relative to it. Lock taken. */
void vp_common_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned len);
void vp_common_write(struct virtio_pci *vp, unsigned off, const uint8_t *data, unsigned len);
/* Device reset (write 0 to device_status): ops->reset, then transport state. Lock held. */
void vp_reset_locked(struct virtio_pci *vp);
/* Transport state to its reset values (no device call). */
void vp_reset_state(struct virtio_pci *vp);
/* DRIVER_OK: final features into the queues, ops->activate. Lock held. */
void vp_activate_locked(struct virtio_pci *vp);
/* A vector value as the device stores it: NO_VECTOR when it cannot be mapped (4.1.5.1.2). */
uint16_t vp_vector(const struct virtio_pci *vp, uint16_t v);

/* pci_transport.c: interrupts and the broken-device path. */
void vp_signal_config(struct virtio_pci *vp);
void vp_needs_reset(struct virtio_pci *vp);
void vp_drain_kick(struct virtio_pci *vp, unsigned q);

#endif
