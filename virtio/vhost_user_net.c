// SPDX-License-Identifier: Apache-2.0
/*
 * vhost-user-net (virtio 1.2 5.1 over virtio/vhost_user_dev.c): the configuration space is
 * vireo's (MAC, VIRTIO_NET_S_LINK_UP, max_virtqueue_pairs 1, MTU), the feature bits of the
 * packet path are the backend's, filtered by the NetConfig's offload switches.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "base/log.h"
#include "virtio/net.h"
#include "virtio/vhost_user_dev.h"
#include "virtio/vhost_user_net.h"

/* 5.1.4: mac @0, status @6, max_virtqueue_pairs @8, mtu @10 (little endian). */
#define VUN_CONFIG_SIZE 12

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The packet-path bits vireo lets through from the backend (5.1.3), per the switches. */
static uint64_t passthrough(const struct vhost_user_net_params *p)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);

	if (p->offload_csum)
		f |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM);
	/* 5.1.3.1: TSO, UFO and ECN need the checksum bit of their direction. */
	if (p->offload_csum && p->offload_tso)
		f |= VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
		     VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		     VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN);
	if (p->offload_csum && p->offload_ufo)
		f |= VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO);
	return f;
}

/* The configured MAC, else a random one as virtio-net picks it. */
static void pick_mac(const struct vhost_user_net_params *p, uint8_t mac[6])
{
	if (p->mac_set)
		memcpy(mac, p->mac, 6);
	else
		net_random_mac(mac);
}

int vhost_user_net_new(const struct vhost_user_net_params *p, const struct guest_mem *mem,
		       struct virtio_dev **out, char *err, size_t errlen)
{
	uint8_t cfg[VUN_CONFIG_SIZE] = { 0 };
	uint64_t local = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS);
	struct vhost_user_dev *d;
	int ret;

	if (p->mtu > 0xffff)
		return set_err(err, errlen, -EINVAL, "%s: mtu %u", p->id, p->mtu);
	pick_mac(p, cfg);
	put_le16(cfg + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(cfg + 8, 1);
	put_le16(cfg + 10, (uint16_t)p->mtu);
	if (p->mtu)
		local |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
	ret = vhost_user_dev_new(&(struct vhost_user_dev_params){
		.name = "net", .id = p->id, .socket = p->socket, .type = VIRTIO_ID_NET,
		.nr_queues = 2, .queue_size = p->queue_size, .features = passthrough(p),
		.local_features = local, .config = cfg, .config_size = sizeof(cfg) }, mem, &d,
		err, errlen);
	if (ret)
		return ret;
	*out = vhost_user_dev_vdev(d);
	return 0;
}
