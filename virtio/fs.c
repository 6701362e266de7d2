// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs (virtio 1.2 5.11): the configuration space and the queue layout; the queues
 * themselves are the vhost-user backend's (virtio/vhost_user_dev.c).
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_fs.h>
#include <string.h>

#include "base/log.h"
#include "virtio/fs.h"
#include "virtio/vhost_user_dev.h"

int virtio_fs_new(const struct virtio_fs_params *p, const struct guest_mem *mem,
		  struct virtio_dev **out, char *err, size_t errlen)
{
	struct virtio_fs_config cfg = { 0 };
	struct vhost_user_dev *d;
	size_t tag_len = strlen(p->tag);
	int ret;

	if (!tag_len || tag_len > VIRTIO_FS_TAG_MAX)
		return set_err(err, errlen, -EINVAL, "%s: tag must be 1-%u bytes", p->id,
			       VIRTIO_FS_TAG_MAX);
	memcpy(cfg.tag, p->tag, tag_len);   /* padded with NULs, no terminator (5.11.4) */
	cfg.num_request_queues = htole32(p->num_request_queues);
	ret = vhost_user_dev_new(&(struct vhost_user_dev_params){
		.name = "fs", .id = p->id, .socket = p->socket, .type = VIRTIO_ID_FS,
		.nr_queues = 1 + p->num_request_queues, .queue_size = p->queue_size,
		.config = &cfg, .config_size = sizeof(cfg) }, mem, &d, err, errlen);
	if (ret)
		return ret;
	*out = vhost_user_dev_vdev(d);
	return 0;
}
