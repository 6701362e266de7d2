// SPDX-License-Identifier: Apache-2.0
/*
 * vhost-user-blk (virtio 1.2 5.2 over virtio/vhost_user_dev.c): the block feature bits vireo
 * passes through from the backend, and num_queues in the backend's config space made to say
 * how many queues this device has.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stddef.h>
#include <string.h>

#include "base/log.h"
#include "virtio/vhost_user_blk.h"
#include "virtio/vhost_user_dev.h"

/* What the backend may offer the driver; CONFIG_WCE needs config writes vireo keeps. */
#define BLK_PASSTHROUGH (VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | \
			 VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY) | VIRTIO_BIT(VIRTIO_BLK_F_RO) |     \
			 VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |  \
			 VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_MQ) |     \
			 VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |                                     \
			 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

/*
 * The config space through write_zeroes_may_unmap and unused1[3] (virtio 1.2 5.2.4), the size
 * backends built on older headers serve; the zoned fields after it are not offered.
 */
#define VUB_CONFIG_SIZE (offsetof(struct virtio_blk_config, unused1) + 3)

/* 5.2.4: num_queues is valid with VIRTIO_BLK_F_MQ; it must match the queues we expose. */
static void fix_config(uint8_t *config, uint64_t offered, const void *ctx)
{
	uint16_t n = htole16((uint16_t)*(const unsigned *)ctx);

	if (offered & VIRTIO_BIT(VIRTIO_BLK_F_MQ))
		memcpy(config + offsetof(struct virtio_blk_config, num_queues), &n, sizeof(n));
}

int vhost_user_blk_new(const struct vhost_user_blk_params *p, const struct guest_mem *mem,
		       struct virtio_dev **out, char *err, size_t errlen)
{
	struct vhost_user_dev *d;
	int ret;

	ret = vhost_user_dev_new(&(struct vhost_user_dev_params){
		.name = "blk", .id = p->id, .socket = p->socket, .type = VIRTIO_ID_BLOCK,
		.nr_queues = p->num_queues, .queue_size = p->queue_size,
		.features = BLK_PASSTHROUGH, .config_size = VUB_CONFIG_SIZE,
		.fix_config = fix_config, .fix_ctx = &p->num_queues }, mem, &d, err, errlen);
	if (ret)
		return ret;
	if (p->num_queues > 1 &&
	    !(vhost_user_dev_backend_features(d) & VIRTIO_BIT(VIRTIO_BLK_F_MQ))) {
		virtio_dev_destroy(vhost_user_dev_vdev(d));
		return set_err(err, errlen, -ENOTSUP, "%s: num_queues=%u but the backend offers no "
			       "VIRTIO_BLK_F_MQ", p->id, p->num_queues);
	}
	*out = vhost_user_dev_vdev(d);
	return 0;
}
