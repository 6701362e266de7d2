// SPDX-License-Identifier: Apache-2.0
/*
 * The device types a VM configuration can ask for, as data: each translates its part of the
 * configuration into a device's plain parameters. A new type adds its entry to
 * vm_device_types[]; the wiring (vm/pci_devices.c) treats every device alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/fs.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vhost_user_blk.h"
#include "virtio/vhost_user_net.h"
#include "virtio/vsock.h"
#include "vm/pci_fn.h"

/* Cloud Hypervisor's names for its built-in devices (the "__" prefix is reserved). */
#define CONSOLE_ID "__console"
#define RNG_ID     "__rng"

static int out_of_memory(const char *id, char *err, size_t errlen)
{
	return set_err(err, errlen, -ENOMEM, "%s: out of memory for the device", id);
}

/* ------------------------------------------------------------------ console */

static unsigned console_count(const struct vm_config *cfg)
{
	return cfg->console.mode != CONSOLE_OFF;
}

/* stdin feeds virtio-console only if epoll can watch it (not a regular file or /dev/null). */
static int console_input_fd(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), ok;

	if (ep < 0)
		return -1;
	ok = !epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
	close(ep);
	return ok ? STDIN_FILENO : -1;
}

static int console_create(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
			  size_t errlen)
{
	int in = vm->cfg->console.mode == CONSOLE_TTY ? console_input_fd() : -1;
	struct virtio_console *con = virtio_console_new(in, vm->persist->console_out_fd,
							 &vm->mem);

	(void)i;
	if (!con)
		return out_of_memory(CONSOLE_ID, err, errlen);
	*out = (struct vm_device_spec){ virtio_console_dev(con), CONSOLE_ID, -1, 0 };
	return 0;
}

static const struct vm_device_type console_type = { "console", console_count, console_create };

/* ------------------------------------------------------------------ disks */

static unsigned blk_count(const struct vm_config *cfg)
{
	return cfg->nr_disks;
}

/* A bucket the user left out limits nothing (rl_bucket_params: size 0). */
static struct rl_bucket_params bucket_params(bool limiter_set, const struct token_bucket *b)
{
	if (!limiter_set || !b->set)
		return (struct rl_bucket_params){ 0 };
	return (struct rl_bucket_params){ b->size, b->one_time_burst, b->refill_time };
}

static struct virtio_blk_params blk_params(const struct disk_config *d)
{
	const struct rate_limiter_config *rl = &d->rate_limiter;

	return (struct virtio_blk_params){
		.path = d->path, .readonly = d->readonly, .direct = d->direct,
		.num_queues = d->num_queues, .queue_size = d->queue_size, .serial = d->serial,
		.rate_limiter = { bucket_params(rl->set, &rl->bandwidth),
				  bucket_params(rl->set, &rl->ops) },
	};
}

static int blk_create(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
		      size_t errlen)
{
	const struct disk_config *d = &vm->cfg->disks[i];
	struct virtio_blk_params p = blk_params(d);
	struct virtio_dev *vd;
	struct virtio_blk *blk;
	int ret;

	if (d->vhost_user)
		ret = vhost_user_blk_new(&(struct vhost_user_blk_params){
			d->id, d->vhost_socket, d->num_queues, (uint16_t)d->queue_size }, &vm->mem,
			&vd, err, errlen);
	else if (!(ret = virtio_blk_new(&p, VIRTIO_BLK_ENGINE_AUTO, &vm->mem, &blk, err, errlen)))
		vd = virtio_blk_dev(blk);
	if (ret)
		return ret;
	*out = (struct vm_device_spec){ vd, d->id, d->pci_device_id, d->pci_segment };
	return 0;
}

static const struct vm_device_type blk_type = { "disk", blk_count, blk_create };

/* ------------------------------------------------------------------ net */

static unsigned net_count(const struct vm_config *cfg)
{
	return cfg->nr_nets;
}

/* The caller's fds, checked; or the tap by name, opened (created) and its host end set. */
static int net_backend(const struct net_config *n, int *fds, bool *own, char *err,
		       size_t errlen)
{
	unsigned pairs = n->num_queues / 2, i;
	struct net_tap_host h = { n->ip, n->mask, n->host_mac_set ? n->host_mac : NULL, n->mtu };
	char ifname[IFNAMSIZ];
	int ret;

	*own = !n->nr_fds;
	for (i = 0; i < n->nr_fds; i++) {
		if ((ret = net_tap_check_fd(n->fds[i], ifname, err, errlen)))
			return ret;
		fds[i] = n->fds[i];
	}
	if (!*own)
		return 0;
	if ((ret = net_tap_open(n->tap, pairs, fds, ifname, err, errlen)))
		return ret;
	ret = net_tap_config_host(ifname, &h, err, errlen);
	for (i = 0; ret && i < pairs; i++)
		close(fds[i]);
	return ret;
}

/* A NetConfig with vhost_user: the backend behind vhost_socket moves the packets. */
static int vhost_net_create(struct vm *vm, const struct net_config *n,
			    struct vm_device_spec *out, char *err, size_t errlen)
{
	struct vhost_user_net_params p = {
		.id = n->id, .socket = n->vhost_socket, .queue_size = (uint16_t)n->queue_size,
		.mac_set = n->mac_set, .mtu = n->mtu, .offload_tso = n->offload_tso,
		.offload_ufo = n->offload_ufo, .offload_csum = n->offload_csum,
	};
	struct virtio_dev *vd;
	int ret;

	memcpy(p.mac, n->mac, 6);
	ret = vhost_user_net_new(&p, &vm->mem, &vd, err, errlen);
	if (ret)
		return ret;
	*out = (struct vm_device_spec){ vd, n->id, n->pci_device_id, n->pci_segment };
	return 0;
}

static int net_create(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
		      size_t errlen)
{
	const struct net_config *n = &vm->cfg->nets[i];
	int fds[CONFIG_NET_MAX_PAIRS];
	struct virtio_net_params p = {
		.fds = fds, .nr_pairs = n->num_queues / 2, .tap = true, .queue_size = n->queue_size,
		.mac_set = n->mac_set, .mtu = n->mtu, .offload_tso = n->offload_tso,
		.offload_ufo = n->offload_ufo, .offload_csum = n->offload_csum,
	};
	const struct rate_limiter_config *rl = &n->rate_limiter;
	struct virtio_net *net;
	bool own;
	int ret;

	if (n->vhost_user)
		return vhost_net_create(vm, n, out, err, errlen);
	ret = net_backend(n, fds, &own, err, errlen);
	if (ret)
		return ret;
	p.rate_limiter = (struct rate_limiter_params){ bucket_params(rl->set, &rl->bandwidth),
						       bucket_params(rl->set, &rl->ops) };
	memcpy(p.mac, n->mac, 6);
	p.tap_offloads = net_tap_probe_offloads(fds[0]);
	ret = virtio_net_new(&p, &vm->mem, &net, err, errlen);   /* works on dup()s */
	for (unsigned q = 0; own && q < p.nr_pairs; q++)
		close(fds[q]);
	if (ret)
		return ret;
	*out = (struct vm_device_spec){ virtio_net_dev(net), n->id, n->pci_device_id,
					 n->pci_segment };
	return 0;
}

static const struct vm_device_type net_type = { "net", net_count, net_create };

/* ------------------------------------------------------------------ rng */

static unsigned rng_count(const struct vm_config *cfg)
{
	(void)cfg;
	return 1;                 /* Cloud Hypervisor: the entropy device always exists */
}

static int rng_create(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
		      size_t errlen)
{
	int fd = open(vm->cfg->rng.src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct virtio_rng *rng;

	(void)i;
	if (fd < 0)
		return set_err(err, errlen, -errno, "rng: cannot open '%s': %s", vm->cfg->rng.src,
			       strerror(errno));
	rng = virtio_rng_new(fd, &vm->mem);
	if (!rng)
		return out_of_memory(RNG_ID, err, errlen);
	*out = (struct vm_device_spec){ virtio_rng_dev(rng), RNG_ID, -1, 0 };
	return 0;
}

static const struct vm_device_type rng_type = { "rng", rng_count, rng_create };

/* ------------------------------------------------------------------ vsock */

static unsigned vsock_count(const struct vm_config *cfg)
{
	return cfg->vsock.set;
}

static int vsock_create(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
			size_t errlen)
{
	const struct vsock_config *v = &vm->cfg->vsock;
	struct virtio_vsock *vs;
	int ret = virtio_vsock_new(v->cid, v->socket, &vm->mem, &vs, err, errlen);

	(void)i;
	if (ret)
		return ret;
	*out = (struct vm_device_spec){ virtio_vsock_dev(vs), v->id, -1, v->pci_segment };
	return 0;
}

static const struct vm_device_type vsock_type = { "vsock", vsock_count, vsock_create };

/* ------------------------------------------------------------------ fs */

static unsigned fs_count(const struct vm_config *cfg)
{
	return cfg->nr_fs;
}

static int fs_create(struct vm *vm, unsigned i, struct vm_device_spec *out, char *err,
		     size_t errlen)
{
	const struct fs_config *f = &vm->cfg->fs[i];
	struct virtio_fs_params p = { f->id, f->tag, f->socket, f->num_queues,
				      (uint16_t)f->queue_size };
	struct virtio_dev *vd;
	int ret = virtio_fs_new(&p, &vm->mem, &vd, err, errlen);

	if (ret)
		return ret;
	*out = (struct vm_device_spec){ vd, f->id, -1, f->pci_segment };
	return 0;
}

static const struct vm_device_type fs_type = { "fs", fs_count, fs_create };

const struct vm_device_type *const vm_device_types[] = {
	&console_type,
	&blk_type,
	&net_type,
	&rng_type,
	&vsock_type,
	&fs_type,
	NULL,
};
