// SPDX-License-Identifier: Apache-2.0
/*
 * The transport-independent half of a virtio device: its description and virtqueues, and
 * the helpers its worker calls, which reach the transport only through vd->transport.
 */
#include <errno.h>
#include <stdlib.h>

#include "virtio/device.h"

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_params *p,
		    const struct virtio_device_ops *ops, void *opaque, const struct guest_mem *mem)
{
	unsigned q;

	*vd = (struct virtio_dev){ .ops = ops, .opaque = opaque, .type = p->type,
				   .nr_queues = p->nr_queues, .max_queue_size = p->max_queue_size,
				   .config_size = p->config_size, .device_features = p->features,
				   .mem = mem };
	if (!ops || !mem || !p->nr_queues || !is_pow2(p->max_queue_size) ||
	    p->max_queue_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	vd->vqs = calloc(p->nr_queues, sizeof(*vd->vqs));
	if (!vd->vqs)
		return -ENOMEM;
	for (q = 0; q < p->nr_queues; q++)
		virtq_init(&vd->vqs[q], mem);
	return 0;
}

void virtio_dev_fini(struct virtio_dev *vd)
{
	free(vd->vqs);
	vd->vqs = NULL;
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	if (!vd)
		return;
	if (vd->ops->reset)
		vd->ops->reset(vd);
	vd->ops->destroy(vd);
}

int virtio_dev_pop(struct virtio_dev *vd, unsigned q, struct virtq_chain *c)
{
	int ret;

	if (q >= vd->nr_queues)
		return -EINVAL;
	ret = virtq_pop_chain(&vd->vqs[q], c);
	if (ret < 0 && ret != -EINVAL && vd->transport)
		vd->transport->needs_reset(vd->transport_ctx);
	return ret;
}

int virtio_dev_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len)
{
	if (q >= vd->nr_queues)
		return -EINVAL;
	return virtq_push_used(&vd->vqs[q], head, len);
}

int virtio_dev_notify(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nr_queues || !vd->transport)
		return -EINVAL;
	if (!virtq_needs_notify(&vd->vqs[q]))
		return 0;
	return vd->transport->notify(vd->transport_ctx, q);
}

int virtio_dev_call_fd(const struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nr_queues || !vd->transport || !vd->transport->call_fd)
		return -1;
	return vd->transport->call_fd(vd->transport_ctx, q);
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	if (vd->transport)
		vd->transport->config_changed(vd->transport_ctx);
}

int virtio_dev_kick_fd(const struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nr_queues || !vd->transport)
		return -1;
	return vd->transport->kick_fd(vd->transport_ctx, q);
}

void virtio_dev_kick(struct virtio_dev *vd, unsigned q)
{
	if (q < vd->nr_queues && vd->transport)
		vd->transport->kick(vd->transport_ctx, q);
}
