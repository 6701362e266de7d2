// SPDX-License-Identifier: Apache-2.0
/*
 * The handoff between the API's connection threads and the VMM thread, CH's request channel
 * plus api_evt (vmm/src/api/mod.rs) in C: a FIFO of requests under one mutex, an eventfd that
 * wakes the VMM thread, and per request an eventfd the connection thread waits on.
 *
 * Lifetimes: a request has two owners, the waiting connection and the queue/VMM. Whichever
 * lets go last frees it, so a client that hangs up while its request is queued or running
 * leaves the VMM a valid request to complete. The queue itself lives until the server has
 * stopped and every request the VMM still holds has been completed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "base/log.h"

struct api_request_priv {
	struct api_queue *q;
	struct api_request *next;
	unsigned refs;
	bool done;
	int status;
	char *body;
	int wake_fd;
};

struct api_queue {
	pthread_mutex_t lock;
	int evfd;                  /* VMM side: readable while requests are queued */
	int stop_fd;               /* readable once stopping */
	bool stopping, destroyed;
	unsigned live;             /* requests not yet freed */
	struct api_request *head, *tail;
	char *info;                /* published vm.info, NULL: no config */
};

static int poke(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int api_queue_init(struct api_queue **out)
{
	struct api_queue *q = calloc(1, sizeof(*q));
	int ret;

	if (!q)
		return -ENOMEM;
	q->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->evfd < 0 || q->stop_fd < 0) {
		ret = -errno;
		goto err;
	}
	if ((ret = -pthread_mutex_init(&q->lock, NULL)))
		goto err;
	*out = q;
	return 0;
err:
	if (q->evfd >= 0)
		close(q->evfd);
	if (q->stop_fd >= 0)
		close(q->stop_fd);
	free(q);
	return ret;
}

static void queue_free(struct api_queue *q)
{
	pthread_mutex_destroy(&q->lock);
	close(q->evfd);
	close(q->stop_fd);
	free(q->info);
	free(q);
}

int api_queue_eventfd(const struct api_queue *q)
{
	return q->evfd;
}

struct api_request *api_request_new(enum api_action a)
{
	struct api_request *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->priv = calloc(1, sizeof(*req->priv));
	if (!req->priv) {
		free(req);
		return NULL;
	}
	req->action = a;
	req->priv->wake_fd = -1;
	return req;
}

static void request_free(struct api_request *req)
{
	api_request_free_payload(req);
	if (req->priv->wake_fd >= 0)
		close(req->priv->wake_fd);
	free(req->priv->body);
	free(req->priv);
	free(req);
}

void api_request_discard(struct api_request *req)
{
	request_free(req);
}

/* Drops one owner's reference; the last one frees the request (and a dead queue). */
static void request_put(struct api_request *req)
{
	struct api_queue *q = req->priv->q;
	bool last, queue_dead = false;

	if (!q) {
		request_free(req);
		return;
	}
	pthread_mutex_lock(&q->lock);
	last = --req->priv->refs == 0;
	if (last)
		queue_dead = --q->live == 0 && q->destroyed;
	pthread_mutex_unlock(&q->lock);
	if (last)
		request_free(req);
	if (queue_dead)
		queue_free(q);
}

static int enqueue(struct api_queue *q, struct api_request *req)
{
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		return -ESHUTDOWN;
	}
	req->priv->q = q;
	req->priv->refs = 2;
	q->live++;
	if (q->tail)
		q->tail->priv->next = req;
	else
		q->head = req;
	q->tail = req;
	pthread_mutex_unlock(&q->lock);
	return poke(q->evfd);
}

/* Blocks until the VMM answers, the client hangs up or the server stops. */
static int wait_answer(struct api_queue *q, struct api_request *req, int client_fd)
{
	struct pollfd p[3] = {
		{ .fd = req->priv->wake_fd, .events = POLLIN },
		{ .fd = q->stop_fd, .events = POLLIN },
		/* events 0: POLLHUP only, i.e. the peer closed; a half-close still waits. */
		{ .fd = client_fd, .events = 0 },
	};

	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents)
			return 0;
		if (p[1].revents)
			return -ESHUTDOWN;
		if (p[2].revents & (POLLHUP | POLLERR | POLLNVAL))
			return -ECONNRESET;
	}
}

int api_queue_submit_wait(struct api_queue *q, struct api_request *req, int client_fd,
			  int *status, char **body)
{
	int ret;

	req->priv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (req->priv->wake_fd < 0) {
		ret = -errno;
		request_free(req);
		return ret;
	}
	ret = enqueue(q, req);
	if (ret == -ESHUTDOWN) {
		request_free(req);
		return ret;
	}
	if (!ret)
		ret = wait_answer(q, req, client_fd);
	if (!ret) {
		pthread_mutex_lock(&q->lock);
		*status = req->priv->status;
		*body = req->priv->body;
		req->priv->body = NULL;
		pthread_mutex_unlock(&q->lock);
	}
	request_put(req);
	return ret;
}

unsigned api_queue_length(struct api_queue *q)
{
	unsigned n = 0;

	pthread_mutex_lock(&q->lock);
	for (struct api_request *r = q->head; r; r = r->priv->next)
		n++;
	pthread_mutex_unlock(&q->lock);
	return n;
}

struct api_request *api_queue_pop(struct api_queue *q)
{
	struct api_request *req;
	uint64_t count;
	bool more;

	if (read(q->evfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_warn("api: reading the request eventfd: %s", strerror(errno));
	pthread_mutex_lock(&q->lock);
	req = q->head;
	if (req) {
		q->head = req->priv->next;
		if (!q->head)
			q->tail = NULL;
		req->priv->next = NULL;
	}
	more = q->head != NULL;
	pthread_mutex_unlock(&q->lock);
	/* Stay readable while requests remain, so one pop per wakeup also drains the queue. */
	if (more && poke(q->evfd))
		pr_warn("api: re-arming the request eventfd failed");
	return req;
}

void api_request_complete(struct api_request *req, int status, const char *body_json)
{
	struct api_queue *q = req->priv->q;
	char *copy = body_json ? strdup(body_json) : NULL;

	if (body_json && !copy) {
		status = 500;   /* the answer is lost; at least do not claim success */
		pr_err("api: out of memory answering a request");
	}
	pthread_mutex_lock(&q->lock);
	req->priv->done = true;
	req->priv->status = status;
	req->priv->body = copy;
	pthread_mutex_unlock(&q->lock);
	if (poke(req->priv->wake_fd))
		pr_warn("api: waking a connection failed");
	request_put(req);
}

void api_request_fail(struct api_request *req, int status, const char *outer, ...)
{
	const char *msgs[8] = { outer };
	unsigned n = 1;
	char *body;
	va_list ap;

	va_start(ap, outer);
	while (n < 8 && (msgs[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	msgs[n < 8 ? n : 7] = NULL;
	body = api_error_json("Error from API", msgs[0], msgs[1], msgs[2], msgs[3], msgs[4],
			      msgs[5], msgs[6], msgs[7], NULL);
	api_request_complete(req, status, body);
	free(body);
}

/* Stops accepting, wakes every waiter, and drops the requests the VMM never popped. */
void api_queue_shutdown(struct api_queue *q)
{
	struct api_request *req, *next;

	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	req = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	if (poke(q->stop_fd))
		pr_warn("api: waking connections at stop failed");
	for (; req; req = next) {
		next = req->priv->next;
		request_put(req);
	}
}

void api_queue_destroy(struct api_queue *q)
{
	bool dead;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->destroyed = true;
	dead = q->live == 0;
	pthread_mutex_unlock(&q->lock);
	if (dead)
		queue_free(q);
}

int api_queue_publish_info(struct api_queue *q, const char *json)
{
	char *copy = NULL;

	if (json && !(copy = strdup(json)))
		return -ENOMEM;
	pthread_mutex_lock(&q->lock);
	free(q->info);
	q->info = copy;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

char *api_queue_info_copy(struct api_queue *q, bool *err_enomem)
{
	char *copy = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->info)
		copy = strdup(q->info);
	*err_enomem = q->info && !copy;
	pthread_mutex_unlock(&q->lock);
	return copy;
}
