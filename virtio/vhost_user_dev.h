/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio device whose queues a vhost-user backend serves (virtio-fs, blk and net):
 * vireo keeps the transport and the configuration space, the backend gets RAM and rings at
 * DRIVER_OK (virtio/vhost_user.h) and gives them back at reset (GET_VRING_BASE). A backend
 * that hangs up or talks out of turn breaks the device: a log line, DEVICE_NEEDS_RESET, and
 * "backend_broken" in vm.counters; the rest of the VM carries on.
 */
#ifndef VIREO_VIRTIO_VHOST_USER_DEV_H
#define VIREO_VIRTIO_VHOST_USER_DEV_H

#include "virtio/device.h"
#include "virtio/vhost_user.h"

#define VHOST_USER_DEV_MAX_QUEUES 17      /* virtio-fs: hiprio + 16 request queues */
#define VHOST_USER_DEV_MAX_CONFIG 256

struct vhost_user_dev_params {
	const char *name;                 /* "fs": the ops name and the log prefix */
	const char *id;                   /* the device's id, for log lines */
	const char *socket;
	uint32_t type;                    /* VIRTIO_ID_* */
	unsigned nr_queues;
	uint16_t queue_size;
	uint64_t features;                /* device bits offered, if the backend has them */
	uint64_t local_features;          /* device bits vireo serves itself (config space) */
	const void *config;               /* read-only config space kept by vireo, or NULL: */
	uint32_t config_size;             /* ... read from the backend (GET_CONFIG) */
	/* Optional: adjusts the backend's config space before the driver sees it. */
	void (*fix_config)(uint8_t *config, uint64_t offered, const void *ctx);
	const void *fix_ctx;
};

struct vhost_user_dev;

/*
 * Connects to the backend and does the handshake (vhost_user_setup). The memory must be
 * memfd-backed (memory.shared). 0, or -errno with @err naming the socket and the reason.
 */
int vhost_user_dev_new(const struct vhost_user_dev_params *p, const struct guest_mem *mem,
		       struct vhost_user_dev **out, char *err, size_t errlen);
struct virtio_dev *vhost_user_dev_vdev(struct vhost_user_dev *d);
/* The backend's GET_FEATURES answer (for the device type's own checks). */
uint64_t vhost_user_dev_backend_features(const struct vhost_user_dev *d);
/* Whether the backend is gone (checked now, without waiting). */
bool vhost_user_dev_broken(struct vhost_user_dev *d);

#endif
