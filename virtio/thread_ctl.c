// SPDX-License-Identifier: Apache-2.0
/* The stop/pause handshake of device threads (virtio/device.h, struct virtio_thread_ctl). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/device.h"

int virtio_ctl_init(struct virtio_thread_ctl *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->fd < 0)
		return -errno;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return 0;
}

void virtio_ctl_destroy(struct virtio_thread_ctl *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* Lock held. */
static void publish(struct virtio_thread_ctl *c)
{
	__atomic_store_n(&c->pending, c->stop || c->pause_req, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->cond);
}

void virtio_ctl_clear(struct virtio_thread_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->stop = c->pause_req = c->paused = false;
	publish(c);
	pthread_mutex_unlock(&c->lock);
	drain(c->fd);
}

void virtio_ctl_request(struct virtio_thread_ctl *c, bool stop)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	if (stop)
		c->stop = true;
	else
		c->pause_req = true;
	publish(c);
	pthread_mutex_unlock(&c->lock);
	if (write(c->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_err("device thread control eventfd: %s", strerror(errno));
}

void virtio_ctl_wait_parked(struct virtio_thread_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	while (!c->paused && !c->stop)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void virtio_ctl_resume(struct virtio_thread_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->pause_req = false;
	publish(c);
	pthread_mutex_unlock(&c->lock);
}

bool virtio_ctl_handle(struct virtio_thread_ctl *c)
{
	bool stop;

	drain(c->fd);
	pthread_mutex_lock(&c->lock);
	while (c->pause_req && !c->stop) {
		c->paused = true;
		pthread_cond_broadcast(&c->cond);
		pthread_cond_wait(&c->cond, &c->lock);
	}
	c->paused = false;
	stop = c->stop;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

bool virtio_ctl_stopping(struct virtio_thread_ctl *c)
{
	bool stop;

	pthread_mutex_lock(&c->lock);
	stop = c->stop;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

void virtio_ctl_exited(struct virtio_thread_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	publish(c);
	pthread_mutex_unlock(&c->lock);
}
