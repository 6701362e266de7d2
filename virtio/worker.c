// SPDX-License-Identifier: Apache-2.0
/*
 * Device worker thread: an epoll loop over a control eventfd, the queues' kick eventfds and a
 * few device fds (Cloud Hypervisor's EpollHelper shape, with kill and pause), or a device's
 * own loop. Queue work runs here, never on a vCPU thread: the vCPU only writes an eventfd (or
 * KVM does, via ioeventfd).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "virtio/device.h"
#include "base/log.h"

/* epoll data tags. */
#define TAG_CTL      0
#define TAG_KICK     0x10000u      /* + queue */
#define TAG_FD       0x20000u      /* + index in fds[] */

int virtio_worker_init(struct virtio_worker *w)
{
	memset(w, 0, sizeof(*w));
	w->epfd = -1;
	return virtio_ctl_init(&w->ctl);
}

void virtio_worker_destroy(struct virtio_worker *w)
{
	virtio_worker_stop(w);
	virtio_ctl_destroy(&w->ctl);
}

int virtio_worker_add_fd(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
			 void *opaque)
{
	if (w->running)
		return -EBUSY;
	if (w->nr_fds >= VIRTIO_WORKER_MAX_FDS)
		return -ENOSPC;
	w->fds[w->nr_fds].fd = fd;
	w->fds[w->nr_fds].events = events;
	w->fds[w->nr_fds].fn = fn;
	w->fds[w->nr_fds].opaque = opaque;
	w->nr_fds++;
	return 0;
}

int virtio_worker_set_events(struct virtio_worker *w, int fd, uint32_t events)
{
	unsigned i;

	for (i = 0; i < w->nr_fds; i++) {
		struct epoll_event ev = { .events = events, .data.u32 = TAG_FD + i };

		if (w->fds[i].fd != fd)
			continue;
		w->fds[i].events = events;
		if (w->epfd >= 0 && epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev))
			return -errno;
		return 0;
	}
	return -ENOENT;
}

/* An eventfd (kick, control): one read returns and clears the whole count (no EFD_SEMAPHORE). */
static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("virtio worker: eventfd read: %s", strerror(errno));
}

static void dispatch(struct virtio_worker *w, const struct epoll_event *ev)
{
	uint32_t tag = ev->data.u32;

	if (tag >= TAG_FD) {
		unsigned i = tag - TAG_FD;

		w->fds[i].fn(w->fds[i].opaque, ev->events);
	} else if (tag >= TAG_KICK) {
		unsigned q = tag - TAG_KICK;

		drain(virtio_dev_kick_fd(w->vd, q));
		w->vd->ops->queue_notify(w->vd, q);
	}
}

static void poll_queues(struct virtio_worker *w)
{
	unsigned q;

	for (q = w->first_queue; q < w->first_queue + w->nr_queues; q++)
		w->vd->ops->queue_notify(w->vd, q);
}

/* The default loop; returns when told to stop (or when epoll breaks). */
static void epoll_loop(struct virtio_worker *w)
{
	struct epoll_event evs[8];
	int n, i;

	poll_queues(w);
	for (;;) {
		n = epoll_wait(w->epfd, evs, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_err("virtio worker: epoll_wait: %s", strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 != TAG_CTL) {
				dispatch(w, &evs[i]);
				continue;
			}
			if (virtio_ctl_handle(&w->ctl))
				return;
			poll_queues(w);           /* resumed: what the pause cut short */
		}
	}
}

static void *worker_main(void *arg)
{
	struct virtio_worker *w = arg;

	/* Before the first ring is touched: guest-driven work never runs unfiltered. */
	if (sysfilter_apply(&virtio_worker_sysfilter))
		pr_err("virtio worker: cannot install its syscall filter; the device stops");
	else if (w->loop)
		w->loop(w, w->loop_opaque);
	else
		epoll_loop(w);
	/* Only a broken loop gets here unasked: let nobody wait for it to park. */
	if (!virtio_ctl_stopping(&w->ctl))
		virtio_ctl_exited(&w->ctl);
	return NULL;
}

static int ep_add(int epfd, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int build_epoll(struct virtio_worker *w)
{
	unsigned q, i;
	int ret;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	ret = ep_add(w->epfd, w->ctl.fd, EPOLLIN, TAG_CTL);
	for (q = w->first_queue; !ret && q < w->first_queue + w->nr_queues; q++)
		ret = ep_add(w->epfd, virtio_dev_kick_fd(w->vd, q), EPOLLIN, TAG_KICK + q);
	for (i = 0; !ret && i < w->nr_fds; i++)
		ret = ep_add(w->epfd, w->fds[i].fd, w->fds[i].events, TAG_FD + i);
	return ret;
}

int virtio_worker_serve(struct virtio_worker *w, unsigned first, unsigned count)
{
	if (w->running)
		return -EBUSY;
	w->first_queue = first;
	w->nr_queues = count;
	return 0;
}

int virtio_worker_set_loop(struct virtio_worker *w, virtio_worker_loop_fn loop, void *opaque)
{
	if (w->running)
		return -EBUSY;
	w->loop = loop;
	w->loop_opaque = opaque;
	return 0;
}

/* The served range, checked against @vd: all its queues unless narrowed. */
static int check_queues(struct virtio_worker *w, const struct virtio_dev *vd)
{
	if (!w->nr_queues && !w->first_queue)
		w->nr_queues = vd->nr_queues;
	if (w->first_queue > vd->nr_queues || w->nr_queues > vd->nr_queues - w->first_queue)
		return -EINVAL;
	return w->loop || vd->ops->queue_notify ? 0 : -EINVAL;
}

int virtio_worker_start(struct virtio_worker *w, struct virtio_dev *vd)
{
	int ret;

	if (w->running)
		return -EBUSY;
	ret = check_queues(w, vd);
	if (ret)
		return ret;
	w->vd = vd;
	virtio_ctl_clear(&w->ctl);
	ret = w->loop ? 0 : build_epoll(w);
	if (ret)
		goto err_close;
	ret = -pthread_create(&w->thread, NULL, worker_main, w);
	if (ret)
		goto err_close;
	pthread_setname_np(w->thread, w->name[0] ? w->name : "vireo-worker");
	w->running = true;
	return 0;

err_close:
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
	return ret;
}

void virtio_worker_request_stop(struct virtio_worker *w)
{
	if (w->running)
		virtio_ctl_request(&w->ctl, true);
}

void virtio_worker_stop(struct virtio_worker *w)
{
	if (!w->running)
		return;
	virtio_ctl_request(&w->ctl, true);
	pthread_join(w->thread, NULL);
	w->running = false;
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
}

void virtio_worker_request_pause(struct virtio_worker *w)
{
	if (w->running)
		virtio_ctl_request(&w->ctl, false);
}

int virtio_worker_pause(struct virtio_worker *w)
{
	if (!w->running)
		return 0;
	virtio_ctl_request(&w->ctl, false);
	virtio_ctl_wait_parked(&w->ctl);
	return 0;
}

void virtio_worker_resume(struct virtio_worker *w)
{
	virtio_ctl_resume(&w->ctl);
}

int virtio_worker_wait_fd(struct virtio_worker *w, int fd, short events)
{
	struct pollfd pfd[2] = { { fd, events, 0 }, { w->ctl.fd, POLLIN, 0 } };

	for (;;) {
		if (virtio_ctl_pending(&w->ctl))
			return 0;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents)
			return 1;
		/* Control readable but nothing pending any more (a resumed pause): consume. */
		if (pfd[1].revents && !virtio_ctl_pending(&w->ctl))
			drain(w->ctl.fd);
	}
}
