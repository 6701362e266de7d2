// SPDX-License-Identifier: Apache-2.0
/*
 * Interrupt delivery for PCI functions: MSI-X vectors as KVM GSI routes + irqfds, and INTx as a
 * level IOAPIC pin driven by a resampling irqfd.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so every change rebuilds it from the
 * irqchip's default legacy entries plus every routed vector of every function.
 * A route is installed before its irqfd is bound, and an irqfd is unbound before its route goes,
 * so no write ever lands on a GSI without a route.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/log.h"
#include "vm/board.h"
#include "vm/internal.h"

static void irq_error(struct vm *vm, const char *what, int err)
{
	__atomic_add_fetch(&vm->irq_errors, 1, __ATOMIC_RELAXED);
	pr_warn_ratelimited("irq: %s: %s", what, strerror(err));
}

static int irqfd_bind(struct vm *vm, int fd, uint32_t gsi, bool bind)
{
	struct kvm_irqfd req = {
		.fd = (uint32_t)fd, .gsi = gsi, .flags = bind ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IRQFD, &req) ? -errno : 0;
}

/* Pushes legacy + every routed vector to KVM. Caller holds irq_lock. */
static int routing_commit_locked(struct vm *vm)
{
	struct kvm_irq_routing_entry legacy[KVM_LEGACY_ROUTES];
	struct msi_route *routes;
	struct kvm_irq_routing *table;
	unsigned i, n = 0, total = 0;
	int ret;

	for (i = 0; i < vm->nr_msi_groups; i++)
		total += vm->msi_groups[i]->nr;
	routes = calloc(total ? total : 1, sizeof(*routes));
	if (!routes)
		return -ENOMEM;
	for (i = 0; i < vm->nr_msi_groups; i++) {
		memcpy(routes + n, vm->msi_groups[i]->route,
		       vm->msi_groups[i]->nr * sizeof(*routes));
		n += vm->msi_groups[i]->nr;
	}
	ret = kvm_routing_build(legacy, board_legacy_routes(legacy), routes, n, &table);
	free(routes);
	if (ret)
		return ret;
	ret = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, table) ? -errno : 0;
	free(table);
	return ret;
}

static int msi_update_route(void *ctx, unsigned vector, uint64_t addr, uint32_t data,
			    bool masked)
{
	struct vm_msi_group *g = ctx;
	struct vm *vm = g->vm;
	int ret = 0;

	if (vector >= g->nr)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq_lock);
	g->route[vector].addr = addr;
	g->route[vector].data = data;
	g->route[vector].masked = masked;
	g->route[vector].has_devid = ARCH_MSI_DEVID;
	g->route[vector].devid = g->devid;
	if (masked && g->assigned[vector]) {
		ret = irqfd_bind(vm, g->fd[vector], g->gsi[vector], false);
		if (ret)
			irq_error(vm, "KVM_IRQFD deassign", -ret);
		else
			g->assigned[vector] = false;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return ret;
}

static int msi_commit_routes(void *ctx)
{
	struct vm_msi_group *g = ctx;
	struct vm *vm = g->vm;
	unsigned v;
	int ret;

	pthread_mutex_lock(&vm->irq_lock);
	ret = routing_commit_locked(vm);
	if (ret)
		irq_error(vm, "KVM_SET_GSI_ROUTING", -ret);
	for (v = 0; !ret && v < g->nr; v++) {
		if (g->route[v].masked || g->assigned[v])
			continue;
		ret = irqfd_bind(vm, g->fd[v], g->gsi[v], true);
		if (ret)
			irq_error(vm, "KVM_IRQFD assign", -ret);
		else
			g->assigned[v] = true;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return ret;
}

static int eventfd_pulse(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static int msi_trigger(void *ctx, unsigned vector)
{
	struct vm_msi_group *g = ctx;

	if (vector >= g->nr)
		return -EINVAL;
	__atomic_add_fetch(&g->signalled, 1, __ATOMIC_RELAXED);
	return eventfd_pulse(g->fd[vector]);
}

static int msi_vector_fd(void *ctx, unsigned vector)
{
	struct vm_msi_group *g = ctx;

	return vector < g->nr ? g->fd[vector] : -1;
}

const struct msix_irq_ops vm_msix_irq_ops = {
	.update_route = msi_update_route,
	.commit_routes = msi_commit_routes,
	.trigger = msi_trigger,
	.vector_fd = msi_vector_fd,
};

static int group_register(struct vm *vm, struct vm_msi_group *g)
{
	struct vm_msi_group **groups;

	pthread_mutex_lock(&vm->irq_lock);
	groups = realloc(vm->msi_groups, (vm->nr_msi_groups + 1) * sizeof(*groups));
	if (groups) {
		groups[vm->nr_msi_groups++] = g;
		vm->msi_groups = groups;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return groups ? 0 : -ENOMEM;
}

int vm_msi_group_init(struct vm *vm, struct vm_msi_group *g, unsigned nr)
{
	unsigned v;
	int ret = -ENOMEM;

	memset(g, 0, sizeof(*g));
	g->vm = vm;
	g->gsi = calloc(nr, sizeof(*g->gsi));
	g->fd = malloc(nr * sizeof(*g->fd));
	g->assigned = calloc(nr, sizeof(*g->assigned));
	g->route = calloc(nr, sizeof(*g->route));
	if (!g->gsi || !g->fd || !g->assigned || !g->route)
		goto err;
	for (v = 0; v < nr; v++)
		g->fd[v] = -1;
	for (v = 0; v < nr; v++, g->nr++) {
		ret = gsi_alloc_msi(&vm->gsis, &g->gsi[v]);
		if (ret)
			goto err;
		g->fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (g->fd[v] < 0) {
			ret = -errno;
			gsi_alloc_free(&vm->gsis, g->gsi[v]);
			goto err;
		}
		g->route[v] = (struct msi_route){ .gsi = g->gsi[v], .masked = true };
	}
	ret = group_register(vm, g);
	if (ret)
		goto err;
	return 0;
err:
	vm_msi_group_destroy(g);
	return ret;
}

void vm_msi_group_destroy(struct vm_msi_group *g)
{
	struct vm *vm = g->vm;
	unsigned i;

	if (!vm)
		return;
	pthread_mutex_lock(&vm->irq_lock);
	for (i = 0; i < vm->nr_msi_groups; i++) {
		if (vm->msi_groups[i] == g) {
			vm->msi_groups[i] = vm->msi_groups[--vm->nr_msi_groups];
			break;
		}
	}
	for (i = 0; i < g->nr; i++) {
		if (g->assigned[i])
			irqfd_bind(vm, g->fd[i], g->gsi[i], false);
		close(g->fd[i]);
		gsi_alloc_free(&vm->gsis, g->gsi[i]);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	free(g->gsi);
	free(g->fd);
	free(g->assigned);
	free(g->route);
	memset(g, 0, sizeof(*g));
}

/* ------------------------------------------------------------------ INTx */

int vm_intx_init(struct vm *vm, struct vm_intx *x, uint32_t gsi, void (*resample)(void *),
		 void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = x };
	struct kvm_irqfd req = { .gsi = gsi, .flags = KVM_IRQFD_FLAG_RESAMPLE };
	int ret;

	*x = (struct vm_intx){ .vm = vm, .gsi = gsi, .resample = resample, .ctx = ctx };
	x->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->fd < 0 || x->resample_fd < 0) {
		ret = -errno;
		goto err;
	}
	req.fd = (uint32_t)x->fd;
	req.resamplefd = (uint32_t)x->resample_fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &req)) {
		ret = -errno;
		goto err;
	}
	if (epoll_ctl(vm->irq_epfd, EPOLL_CTL_ADD, x->resample_fd, &ev)) {
		ret = -errno;
		irqfd_bind(vm, x->fd, gsi, false);
		goto err;
	}
	return 0;
err:
	if (x->fd >= 0)
		close(x->fd);
	if (x->resample_fd >= 0)
		close(x->resample_fd);
	x->vm = NULL;
	return ret;
}

void vm_intx_destroy(struct vm_intx *x)
{
	if (!x->vm)
		return;
	epoll_ctl(x->vm->irq_epfd, EPOLL_CTL_DEL, x->resample_fd, NULL);
	irqfd_bind(x->vm, x->fd, x->gsi, false);
	close(x->fd);
	close(x->resample_fd);
	x->vm = NULL;
}

int vm_intx_raise(void *ctx)
{
	struct vm_intx *x = ctx;

	if (!x->vm)
		return -ENODEV;   /* no pin bound yet */
	__atomic_add_fetch(&x->raised, 1, __ATOMIC_RELAXED);
	return eventfd_pulse(x->fd);
}

void vm_irq_poll(struct vm *vm)
{
	struct epoll_event evs[8];
	uint64_t n;
	int i, nr;

	nr = epoll_wait(vm->irq_epfd, evs, 8, 0);
	for (i = 0; i < nr; i++) {
		struct vm_intx *x = evs[i].data.ptr;

		if (read(x->resample_fd, &n, sizeof(n)) == sizeof(n) && x->resample)
			x->resample(x->ctx);
	}
}

int vm_irq_init(struct vm *vm)
{
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->irq_epfd = epoll_create1(EPOLL_CLOEXEC);
	return vm->irq_epfd < 0 ? -errno : 0;
}

void vm_irq_destroy(struct vm *vm)
{
	if (vm->irq_epfd >= 0)
		close(vm->irq_epfd);
	free(vm->msi_groups);
	pthread_mutex_destroy(&vm->irq_lock);
}
