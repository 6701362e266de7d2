// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio device side of a vhost-user backend: activation hands the backend RAM and the
 * driver's rings, reset takes them back, and a watcher thread notices a backend that dies.
 *
 * Notifications: the backend reads each queue's kick eventfd itself (KVM's ioeventfd), and
 * writes the MSI-X vector's irqfd as its call fd, so KVM injects with no vireo thread
 * involved. Without a vector (INTx, NO_VECTOR) the call fd is a relay eventfd the watcher
 * turns into a transport notification. Socket I/O happens on the VMM thread (activate,
 * reset) while the watcher is stopped, and on the watcher (idle checks) otherwise, so one
 * thread at a time owns the stream.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "base/memory.h"
#include "virtio/vhost_user_dev.h"

struct vhost_user_dev {
	struct virtio_dev vdev;
	struct vhost_user vu;
	char name[16], id[64], socket[108];
	uint8_t config[VHOST_USER_DEV_MAX_CONFIG];
	struct virtio_worker watcher;
	int relay_fd[VHOST_USER_DEV_MAX_QUEUES];  /* call fd when the queue has no irqfd */
	bool started[VHOST_USER_DEV_MAX_QUEUES];
	bool relayed[VHOST_USER_DEV_MAX_QUEUES];
	bool broken_reported;                      /* watcher: NEEDS_RESET raised once */
	uint64_t activations, relayed_irqs;        /* atomic */
};

static void vud_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	struct vhost_user_dev *d = vd->opaque;

	memcpy(data, d->config + off, len);   /* the transport bounds off + len by config_size */
}

/* Once per breakage: the log line names the device, the guest sees DEVICE_NEEDS_RESET. */
static void report_broken(struct vhost_user_dev *d)
{
	if (d->broken_reported)
		return;
	d->broken_reported = true;
	pr_err("%s: vhost-user backend broken: %s (the device stays unusable: remove it and "
	       "add it again with a fresh backend)", d->id, d->vu.error);
	if (d->vdev.transport)
		d->vdev.transport->needs_reset(d->vdev.transport_ctx);
}

static void relay(struct vhost_user_dev *d, unsigned q)
{
	uint64_t n;

	if (read(d->relay_fd[q], &n, sizeof(n)) != sizeof(n))
		return;
	__atomic_add_fetch(&d->relayed_irqs, 1, __ATOMIC_RELAXED);
	d->vdev.transport->notify(d->vdev.transport_ctx, q);
}

/* The watcher: control eventfd, the socket (hang-up, unsolicited data), relay eventfds. */
static void watch_loop(struct virtio_worker *w, void *opaque)
{
	struct vhost_user_dev *d = opaque;
	struct pollfd p[VHOST_USER_DEV_MAX_QUEUES + 2];
	unsigned q, n;

	for (;;) {
		p[0] = (struct pollfd){ .fd = w->ctl.fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = d->broken_reported ? -1 : d->vu.fd, .events = POLLIN };
		for (q = 0, n = 2; q < d->vdev.nr_queues; q++)
			p[n++] = (struct pollfd){ .fd = d->relayed[q] ? d->relay_fd[q] : -1,
						  .events = POLLIN };
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("%s: vhost-user watcher: poll: %s", d->id, strerror(errno));
			return;
		}
		if ((p[0].revents & POLLIN) && virtio_ctl_handle(&w->ctl))
			return;
		if (p[1].revents && vhost_user_check_idle(&d->vu))
			report_broken(d);
		for (q = 0; q < d->vdev.nr_queues; q++)
			if (p[q + 2].revents & POLLIN)
				relay(d, q);
	}
}

static int start_queue(struct vhost_user_dev *d, unsigned q)
{
	struct virtq *vq = &d->vdev.vqs[q];
	int call = virtio_dev_call_fd(&d->vdev, q);
	struct vhost_user_vring r = {
		.index = q, .size = vq->size, .base = vq->next_avail,
		.desc = vq->desc, .avail = vq->avail, .used = vq->used,
		.kick_fd = virtio_dev_kick_fd(&d->vdev, q), .call_fd = call,
	};

	d->relayed[q] = call < 0;
	if (call < 0)
		r.call_fd = d->relay_fd[q];
	return vhost_user_start_vring(&d->vu, &r);
}

static void stop_queues(struct vhost_user_dev *d)
{
	uint16_t base;

	for (unsigned q = 0; q < d->vdev.nr_queues; q++) {
		if (!d->started[q])
			continue;
		d->started[q] = d->relayed[q] = false;
		/* A dead backend has nothing to give back: the driver resets the rings anyway. */
		if (!vhost_user_broken(&d->vu) && !vhost_user_stop_vring(&d->vu, q, &base))
			d->vdev.vqs[q].next_avail = base;
	}
}

static int vud_activate(struct virtio_dev *vd)
{
	struct vhost_user_dev *d = vd->opaque;
	int ret;

	/* The backend hears only of bits it offered: the local ones are vireo's config space. */
	ret = vhost_user_set_features(&d->vu, vd->features & d->vu.features);
	ret = ret ?: vhost_user_set_mem_table(&d->vu, vd->mem);
	for (unsigned q = 0; !ret && q < vd->nr_queues; q++) {
		if (!vd->vqs[q].ready)
			continue;
		ret = start_queue(d, q);
		d->started[q] = !ret;
	}
	ret = ret ?: virtio_worker_start(&d->watcher, vd);
	if (ret) {
		pr_err("%s: vhost-user activation failed: %s", d->id,
		       d->vu.error[0] ? d->vu.error : strerror(-ret));
		stop_queues(d);
		return ret;
	}
	__atomic_add_fetch(&d->activations, 1, __ATOMIC_RELAXED);
	return 0;
}

static void vud_reset(struct virtio_dev *vd)
{
	struct vhost_user_dev *d = vd->opaque;

	virtio_worker_stop(&d->watcher);
	stop_queues(d);
	for (unsigned q = 0; q < vd->nr_queues; q++) {
		uint64_t n;

		virtq_reset(&vd->vqs[q]);
		if (read(d->relay_fd[q], &n, sizeof(n)) < 0 && errno != EAGAIN)
			pr_warn_ratelimited("%s: relay eventfd: %s", d->id, strerror(errno));
	}
}

bool vhost_user_dev_broken(struct vhost_user_dev *d)
{
	return vhost_user_check_idle(&d->vu);
}

static bool vud_counters(struct virtio_dev *vd, cJSON *out)
{
	struct vhost_user_dev *d = vd->opaque;

	return !json_put_count(out, "backend_broken", vhost_user_dev_broken(d)) &&
	       !json_put_count(out, "backend_activations",
			       __atomic_load_n(&d->activations, __ATOMIC_RELAXED)) &&
	       !json_put_count(out, "relayed_interrupts",
			       __atomic_load_n(&d->relayed_irqs, __ATOMIC_RELAXED));
}

/*
 * vm.info: {"vhost_user": {"socket"}} in the device's node. The tree is published when devices
 * or BARs change, so the live state (backend_broken) is vm.counters', computed on each call.
 */
static bool vud_info(struct virtio_dev *vd, cJSON *node)
{
	struct vhost_user_dev *d = vd->opaque;
	cJSON *o = cJSON_AddObjectToObject(node, "vhost_user");

	return o && cJSON_AddStringToObject(o, "socket", d->socket);
}

static void vud_destroy(struct virtio_dev *vd)
{
	struct vhost_user_dev *d = vd->opaque;

	virtio_worker_destroy(&d->watcher);
	vhost_user_close(&d->vu);
	for (unsigned q = 0; q < VHOST_USER_DEV_MAX_QUEUES; q++)
		if (d->relay_fd[q] >= 0)
			close(d->relay_fd[q]);
	virtio_dev_fini(vd);
	free(d);
}

/* pause/resume/save/restore stay NULL: a snapshot is refused while such a device exists. */
static const struct virtio_device_ops vud_ops = {
	.name = "vhost-user",
	.config_read = vud_config_read,
	.activate = vud_activate,
	.reset = vud_reset,
	.counters = vud_counters,
	.info = vud_info,
	.destroy = vud_destroy,
};

static int vud_alloc(const struct vhost_user_dev_params *p, const struct guest_mem *mem,
		     struct vhost_user_dev **out)
{
	struct virtio_dev_params vp = { p->type, p->nr_queues, p->queue_size, p->config_size,
					p->features };
	struct vhost_user_dev *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->vu.fd = -1;
	for (unsigned q = 0; q < VHOST_USER_DEV_MAX_QUEUES; q++)
		d->relay_fd[q] = -1;
	ret = virtio_dev_init(&d->vdev, &vp, &vud_ops, d, mem);
	if (ret) {
		free(d);
		return ret;
	}
	*out = d;
	if ((ret = virtio_worker_init(&d->watcher)))
		return ret;
	snprintf(d->watcher.name, sizeof(d->watcher.name), "vireo-vu-%s", p->name);
	virtio_worker_set_loop(&d->watcher, watch_loop, d);
	for (unsigned q = 0; q < p->nr_queues; q++)
		if ((d->relay_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			return -errno;
	return 0;
}

/* The config space: the type's own, or the backend's; the offer: what both have. */
static int load_config(struct vhost_user_dev *d, const struct vhost_user_dev_params *p,
		       char *err, size_t errlen)
{
	int ret = 0;

	d->vdev.device_features = (p->features & d->vu.features) | p->local_features;
	if (p->config)
		memcpy(d->config, p->config, p->config_size);
	else if ((ret = vhost_user_get_config(&d->vu, 0, d->config, p->config_size)))
		return set_err(err, errlen, ret, "%s", d->vu.error[0] ? d->vu.error :
			       strerror(-ret));
	if (p->fix_config)
		p->fix_config(d->config, d->vdev.device_features, p->fix_ctx);
	return 0;
}

uint64_t vhost_user_dev_backend_features(const struct vhost_user_dev *d)
{
	return d->vu.features;
}

int vhost_user_dev_new(const struct vhost_user_dev_params *p, const struct guest_mem *mem,
		       struct vhost_user_dev **out, char *err, size_t errlen)
{
	/* The ring layouts the backend must handle as the transport offers them (2.7). */
	const uint64_t ring = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			      VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			      VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	struct vhost_user_dev *d = NULL;
	int ret;

	if (mem->memfd < 0)
		return set_err(err, errlen, -EINVAL, "%s: vhost-user needs shared guest memory "
			       "(memory.shared=on)", p->id);
	if (!p->nr_queues || p->nr_queues > VHOST_USER_DEV_MAX_QUEUES ||
	    p->config_size > VHOST_USER_DEV_MAX_CONFIG)
		return set_err(err, errlen, -EINVAL, "%s: %u queues (at most %u)", p->id,
			       p->nr_queues, VHOST_USER_DEV_MAX_QUEUES);
	ret = vud_alloc(p, mem, &d);
	if (ret) {
		set_err(err, errlen, ret, "%s: %s", p->id, strerror(-ret));
		goto err;
	}
	snprintf(d->name, sizeof(d->name), "%s", p->name);
	snprintf(d->id, sizeof(d->id), "%s", p->id);
	snprintf(d->socket, sizeof(d->socket), "%s", p->socket);
	ret = vhost_user_connect(&d->vu, p->socket, err, errlen);
	d->vu.want_config = !p->config;
	ret = ret ?: vhost_user_setup(&d->vu, ring, p->nr_queues, err, errlen);
	ret = ret ?: load_config(d, p, err, errlen);
	if (ret) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		set_err(err, errlen, ret, "%s: vhost-user backend at '%s': %s", p->id, p->socket,
			why);
		goto err;
	}
	*out = d;
	return 0;
err:
	if (d)
		vud_destroy(&d->vdev);
	return ret;
}

struct virtio_dev *vhost_user_dev_vdev(struct vhost_user_dev *d)
{
	return &d->vdev;
}
