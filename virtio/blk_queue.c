// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk queues: one device worker (virtio/worker.c) per queue the driver enabled, woken
 * by the queue's kick eventfd, its rate-limit timerfd, the worker's control eventfd (stop,
 * pause) and, with io_uring, completions. The io_uring engine waits for all of them in its
 * ring (blk_io_run, the worker's loop), so one io_uring_enter submits, reaps and sleeps; the
 * synchronous engine uses the worker's epoll loop. Requests are popped, validated, charged to
 * the rate limiter, then
 * started; with io_uring up to VIRTIO_BLK_MAX_INFLIGHT of them per queue are in flight and
 * complete out of order.
 *
 * A request the rate limiter refuses is put back (the avail index is rewound, as CH's
 * go_to_previous_position) and the queue sleeps on its timerfd; kicks are drained but ignored
 * meanwhile, and the control eventfd still stops or pauses the thread at once. Pause and stop
 * first wait for every request in flight, so a paused device has no half-done request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "virtio/blk_internal.h"
#include "base/log.h"

/* eventfd / timerfd: one read returns and resets the whole count. */
static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("virtio-blk: event fd read: %s", strerror(errno));
}

static uint64_t now_ns(void)
{
	return rl_now_ns();
}

/* ------------------------------------------------------------------ completion */

static bool write_like(const struct blk_req *r)
{
	return r->op == BLK_OP_WRITE || r->op == BLK_OP_DISCARD || r->op == BLK_OP_WRITE_ZEROES;
}

/*
 * A write-like request finished: FLUSHes that arrived after it was started stop waiting for
 * it; those with nothing older left in flight start now.
 */
static void write_finished(struct blk_queue *q, const struct blk_req *w)
{
	struct blk_req **link = &q->flush_head, *f;

	q->writes_inflight--;
	q->flush_tail = NULL;
	while ((f = *link)) {
		if (f->epoch >= w->epoch)
			f->waiting--;
		if (f->waiting) {
			q->flush_tail = f;
			link = &f->next_flush;
			continue;
		}
		*link = f->next_flush;
		blk_io_start(q, f);
	}
}

/*
 * 5.2.6.2: a FLUSH makes the writes completed before it stable. Submitted together with
 * writes still in flight it could overtake them, so it waits for every write-like request
 * started before it (later ones do not hold it up).
 */
static void start(struct blk_queue *q, struct blk_req *r)
{
	if (write_like(r)) {
		r->epoch = q->epoch;
		q->writes_inflight++;
	} else if (r->op == BLK_OP_FLUSH && q->writes_inflight) {
		r->epoch = q->epoch++;
		r->waiting = q->writes_inflight;
		r->next_flush = NULL;
		if (q->flush_tail)
			q->flush_tail->next_flush = r;
		else
			q->flush_head = r;
		q->flush_tail = r;
		return;
	}
	blk_io_start(q, r);
}

void blk_req_done(struct blk_queue *q, struct blk_req *r, int res)
{
	struct virtio_blk *blk = q->blk;
	uint32_t used = 1;                /* 2.7.8: bytes written, the status byte included */

	if (res) {
		blk_count_add(&blk->ctr.io_errors, 1);
		pr_warn_ratelimited("disk '%s': I/O error at byte %llu: %s", blk->path,
				    (unsigned long long)r->offset, strerror(-res));
		*r->status = VIRTIO_BLK_S_IOERR;
	} else {
		blk_account(blk, r, now_ns() - r->start_ns);
		if (r->op == BLK_OP_READ || r->op == BLK_OP_GET_ID)
			used += (uint32_t)r->len;
		*r->status = VIRTIO_BLK_S_OK;
	}
	virtio_dev_push(q->vd, q->idx, r->head, used);
	q->pushed = true;
	q->free_slots[q->nr_free++] = r->slot;
	__atomic_sub_fetch(&blk->inflight, 1, __ATOMIC_RELEASE);
	if (write_like(r))
		write_finished(q, r);
}

/* Used-buffer notification for what was pushed since the last one (none for nothing). */
static void notify(struct blk_queue *q)
{
	if (!q->pushed)
		return;
	q->pushed = false;
	virtio_dev_notify(q->vd, q->idx);
}

/* ------------------------------------------------------------------ submission */

static void reject(struct blk_queue *q, struct blk_req *r, enum virtio_blk_reject why)
{
	struct virtio_blk *blk = q->blk;

	blk_count_add(&blk->ctr.rejected[why], 1);
	pr_warn_ratelimited("disk '%s' queue %u: request refused: %s", blk->path, q->idx,
			    virtio_blk_reject_name(why));
	/* Without a status byte a used entry would read as success: the chain is dropped. */
	if (why == VIRTIO_BLK_R_NO_STATUS)
		return;
	*r->status = why == VIRTIO_BLK_R_UNSUPP_TYPE || why == VIRTIO_BLK_R_UNSUPP_FLAGS ?
		     VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
	virtio_dev_push(q->vd, q->idx, r->head, 1);
	q->pushed = true;
}

/* Gives the chain back to the ring and sleeps until the tokens exist. */
static void throttle(struct blk_queue *q, uint64_t wait_ns)
{
	struct virtq *vq = &q->vd->vqs[q->idx];
	struct itimerspec its = { .it_value = { (time_t)(wait_ns / 1000000000ULL),
						(long)(wait_ns % 1000000000ULL) } };

	/* Popped, validated, not started: rewinding is all it takes to retry it in order. */
	vq->next_avail--;
	vq->popped--;
	if (!wait_ns)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(q->timer_fd, 0, &its, NULL))
		pr_err("disk '%s': timerfd: %s", q->blk->path, strerror(errno));
	q->throttled = true;
	blk_count_add(&q->blk->ctr.throttled, 1);
}

static uint64_t bytes_of(const struct blk_req *r)
{
	return r->op == BLK_OP_READ || r->op == BLK_OP_WRITE ? r->len : 0;
}

/* One popped chain; false when the rate limiter put it back. */
static bool handle_chain(struct blk_queue *q)
{
	struct virtio_blk *blk = q->blk;
	struct blk_req *r = &q->reqs[q->free_slots[q->nr_free - 1]];
	enum virtio_blk_reject why = blk_req_parse(blk, q->vd->features, &q->chain, r);
	uint64_t now, wait;

	if (why != VIRTIO_BLK_R_NR) {
		reject(q, r, why);
		return true;
	}
	now = now_ns();
	/* CH: one op token per request, byte tokens for the data of reads and writes. */
	if (rate_limiter_enabled(&blk->rl) &&
	    !rate_limiter_consume(&blk->rl, bytes_of(r), now, &wait)) {
		throttle(q, wait);
		return false;
	}
	q->nr_free--;
	__atomic_add_fetch(&blk->inflight, 1, __ATOMIC_RELAXED);
	r->start_ns = now;
	if (r->op == BLK_OP_GET_ID) {
		r->len = blk_req_get_id(blk, r);
		blk_req_done(q, r, 0);
		return true;
	}
	start(q, r);
	return true;
}

static bool ctl_requested(const struct blk_queue *q)
{
	return virtio_ctl_pending(&q->worker.ctl);
}

/* Pops and starts requests: true when the ring is empty, false when something stopped us. */
static bool pop_requests(struct blk_queue *q)
{
	int ret;

	while (!ctl_requested(q)) {
		if (!q->nr_free) {
			q->starved = true;        /* a completion resumes popping */
			return false;
		}
		ret = virtio_dev_pop(q->vd, q->idx, &q->chain);
		if (ret <= 0)
			return ret == 0;          /* < 0: broken, the transport asked for a reset */
		if (!handle_chain(q))
			return false;
		/* To the kernel as soon as it is validated, not at the end of the pass: the first
		 * of a batch waiting for the others cost 4 KiB random reads at depth 32 about 10%
		 * of their IOPS (blk_bench A/B, docs/virtio-blk.md). A no-op for the sync engine. */
		blk_io_submit(q);
		if (!q->io.uring)
			notify(q);          /* sync: each one is done already */
	}
	return false;
}

static void process(struct blk_queue *q)
{
	struct virtq *vq = &q->vd->vqs[q->idx];
	bool empty;

	if (q->throttled)
		return;
	q->starved = false;
	do {
		virtq_disable_notify(vq);
		empty = pop_requests(q);
		blk_io_submit(q);
	} while (empty && virtq_enable_notify(vq));
	notify(q);
}

/* ------------------------------------------------------------------ events */

/* Control event: finishes what is in flight, parks while paused; true = exit. */
static bool handle_ctl(struct blk_queue *q)
{
	blk_io_wait_all(q);
	notify(q);
	return virtio_ctl_handle(&q->worker.ctl);
}

int blk_queue_event_fd(const struct blk_queue *q, unsigned ev)
{
	if (ev == BLK_EV_KICK)
		return virtio_dev_kick_fd(q->vd, q->idx);
	return ev == BLK_EV_TIMER ? q->timer_fd : q->worker.ctl.fd;
}

bool blk_queue_events(struct blk_queue *q, unsigned events)
{
	if (events & BLK_EV_CTL) {
		if (handle_ctl(q))
			return true;
		events |= BLK_EV_KICK;            /* resumed: serve what the pause left */
	}
	if (events & BLK_EV_TIMER) {
		drain_fd(q->timer_fd);
		q->throttled = false;
		events |= BLK_EV_KICK;
	}
	if (events & BLK_EV_KICK) {
		if (!blk_io_kick_consumed(q))
			drain_fd(virtio_dev_kick_fd(q->vd, q->idx));
		process(q);
	} else if (q->starved) {
		process(q);                       /* completions freed slots */
	} else {
		notify(q);
	}
	return false;
}

void blk_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_blk *blk = vd->opaque;

	process(&blk->queues[q]);
}

/* The synchronous engine's timerfd, in the worker's epoll loop. */
static void timer_ready(void *opaque, uint32_t events)
{
	(void)events;
	blk_queue_events(opaque, BLK_EV_TIMER);
}

/* The io_uring engine's loop on the worker thread: the ring becomes this thread's first. */
static void ring_loop(struct virtio_worker *w, void *opaque)
{
	struct blk_queue *q = opaque;
	int ret = blk_io_thread_start(q);

	(void)w;
	if (ret) {
		pr_err("disk '%s': queue %u: io_uring: %s", q->blk->path, q->idx, strerror(-ret));
		return;
	}
	process(q);                       /* kicks may predate activation or a restore */
	blk_io_run(q);
}

/* ------------------------------------------------------------------ start / stop */

static int alloc_slots(struct blk_queue *q, unsigned vq_size)
{
	unsigned i;

	q->nr_slots = vq_size < VIRTIO_BLK_MAX_INFLIGHT ? vq_size : VIRTIO_BLK_MAX_INFLIGHT;
	q->iov_per_req = q->blk->seg_max + 2;
	q->reqs = calloc(q->nr_slots, sizeof(*q->reqs));
	q->iovs = calloc((size_t)q->nr_slots * q->iov_per_req, sizeof(*q->iovs));
	q->free_slots = calloc(q->nr_slots, sizeof(*q->free_slots));
	if (!q->reqs || !q->iovs || !q->free_slots)
		return -ENOMEM;
	for (i = 0; i < q->nr_slots; i++) {
		q->reqs[i].slot = i;
		q->reqs[i].iov = q->iovs + (size_t)i * q->iov_per_req;
		q->free_slots[i] = q->nr_slots - 1 - i;
	}
	q->nr_free = q->nr_slots;
	return virtq_chain_init(&q->chain, virtq_chain_max(vq_size));
}

/* The worker serves queue q->idx alone, with the engine's way of waiting. */
static int setup_worker(struct blk_queue *q)
{
	struct virtio_worker *w = &q->worker;
	int ret;

	q->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (q->timer_fd < 0)
		return -errno;
	ret = blk_io_init(q, q->nr_slots);
	ret = ret ?: virtio_worker_serve(w, q->idx, 1);
	if (ret)
		return ret;
	snprintf(w->name, sizeof(w->name), "vireo-blk%hu", (unsigned short)q->idx);
	if (q->io.uring)
		return virtio_worker_set_loop(w, ring_loop, q);   /* it polls the fds itself */
	return virtio_worker_add_fd(w, q->timer_fd, EPOLLIN, timer_ready, q);
}

/* Undoes queue_start (also a partial one). The worker is stopped. */
static void queue_free(struct blk_queue *q)
{
	blk_io_exit(q);
	virtio_worker_destroy(&q->worker);
	if (q->timer_fd >= 0)
		close(q->timer_fd);
	virtq_chain_free(&q->chain);
	free(q->reqs);
	free(q->iovs);
	free(q->free_slots);
	memset(q, 0, sizeof(*q));
}

static int queue_start(struct virtio_blk *blk, struct virtio_dev *vd, unsigned idx)
{
	struct blk_queue *q = &blk->queues[idx];
	int ret;

	memset(q, 0, sizeof(*q));
	q->timer_fd = -1;
	q->blk = blk;
	q->vd = vd;
	q->idx = idx;
	ret = virtio_worker_init(&q->worker);
	ret = ret ?: alloc_slots(q, vd->vqs[idx].size);
	ret = ret ?: setup_worker(q);
	ret = ret ?: virtio_worker_start(&q->worker, vd);
	if (ret)
		queue_free(q);
	return ret;
}

int blk_queues_start(struct virtio_blk *blk, struct virtio_dev *vd)
{
	unsigned i;
	int ret;

	for (i = 0; i < blk->num_queues; i++) {
		/* Linux enables min(num_queues, CPUs) queues: the others get no worker. */
		if (!vd->vqs[i].ready)
			continue;
		ret = queue_start(blk, vd, i);
		if (ret) {
			pr_err("disk '%s': queue %u: %s", blk->path, i, strerror(-ret));
			blk_queues_stop(blk);
			return ret;
		}
	}
	return 0;
}

void blk_queues_stop(struct virtio_blk *blk)
{
	unsigned i;

	/* Every queue finishes its requests in parallel, then each is joined. */
	for (i = 0; i < blk->num_queues; i++)
		virtio_worker_request_stop(&blk->queues[i].worker);
	for (i = 0; i < blk->num_queues; i++) {
		if (!blk->queues[i].worker.running)
			continue;
		virtio_worker_stop(&blk->queues[i].worker);
		queue_free(&blk->queues[i]);
	}
}

void blk_queues_pause(struct virtio_blk *blk)
{
	unsigned i;

	for (i = 0; i < blk->num_queues; i++)
		virtio_worker_request_pause(&blk->queues[i].worker);
	for (i = 0; i < blk->num_queues; i++)
		virtio_worker_pause(&blk->queues[i].worker);
}

void blk_queues_resume(struct virtio_blk *blk)
{
	unsigned i;

	for (i = 0; i < blk->num_queues; i++)
		virtio_worker_resume(&blk->queues[i].worker);
}
