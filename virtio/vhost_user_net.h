/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user-net (virtio 1.2 5.1 over virtio/vhost_user_dev.c): a backend such as DPDK's
 * vhost PMD or OVS-DPDK moves the packets; vireo keeps the configuration space (MAC, link
 * status, MTU) and offers the offload bits the backend offers. One queue pair: the control
 * queue MQ needs is not served yet.
 */
#ifndef VIREO_VIRTIO_VHOST_USER_NET_H
#define VIREO_VIRTIO_VHOST_USER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"

struct vhost_user_net_params {
	const char *id, *socket;
	uint16_t queue_size;
	uint8_t mac[6];
	bool mac_set;                     /* false: a random locally administered one */
	unsigned mtu;                     /* 0: not offered */
	bool offload_tso, offload_ufo, offload_csum;
};

/* Connects to the backend and does the handshake; 0 or -errno with @err. */
int vhost_user_net_new(const struct vhost_user_net_params *p, const struct guest_mem *mem,
		       struct virtio_dev **out, char *err, size_t errlen);

#endif
