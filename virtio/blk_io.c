// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk I/O engines. Data moves straight between guest memory and the image: the
 * request's iovecs point into guest RAM (no bounce buffer), read with preadv / written with
 * pwritev, or the io_uring READV / WRITEV equivalents.
 *
 * io_uring: one ring per queue, sized for every slot to be in flight; the queue thread sleeps
 * in the ring itself (run_ring). The image is deliberately not a registered (fixed) file: a
 * ring is torn down asynchronously after a SIGKILL, and its registered file would keep the
 * image's OFD lock for 20-40 ms after the process is gone (measured), in the way of an
 * orchestrator restarting the VM; the per-request fd lookup it would save is ~tens of ns.
 * Each request is submitted as soon as the queue has validated it (blk_queue.c), and that
 * same io_uring_enter collects what completed meanwhile. FLUSH is IORING_OP_FSYNC with
 * DATASYNC, started by the queue only once the writes submitted before it have completed.
 *
 * Synchronous: the same operations done in the queue thread.
 *
 * direct=on requests with segments O_DIRECT cannot take go through blk_bounce.c.
 *
 * Without FLUSH negotiated the device is write-through (5.2.6.2 case 1): writes carry
 * RWF_DSYNC, discard / write-zeroes are followed by fdatasync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <poll.h>
#include <unistd.h>

#include "virtio/blk_internal.h"
#include "base/log.h"

/* ------------------------------------------------------------------ helpers */

/* Drops the first @n bytes of the request's iovecs (after a short transfer). */
static void iov_advance(struct blk_req *r, uint64_t n)
{
	unsigned i = 0;

	while (i < r->nr_iov && n >= r->iov[i].iov_len) {
		n -= r->iov[i].iov_len;
		i++;
	}
	if (i < r->nr_iov && n) {
		r->iov[i].iov_base = (uint8_t *)r->iov[i].iov_base + n;
		r->iov[i].iov_len -= n;
	}
	memmove(r->iov, r->iov + i, (r->nr_iov - i) * sizeof(*r->iov));
	r->nr_iov -= i;
}

static void io_begin(struct blk_queue *q, struct blk_req *r);

/* Every completion from here; a bounced request hands the buffer on to the next in line. */
static void io_done(struct blk_queue *q, struct blk_req *r, int res)
{
	struct blk_req *next = r->bounced ? blk_bounce_release(q, r) : NULL;

	blk_req_done(q, r, res);
	if (next)
		io_begin(q, next);
}

static bool writethrough(const struct blk_queue *q)
{
	return blk_writethrough(q->blk, q->vd->features);
}

/* What the next transfer of a READ / WRITE moves: its own segments, or a bounce chunk. */
static const struct iovec *rw_iov(struct blk_queue *q, struct blk_req *r, unsigned *nr)
{
	*nr = r->bounced ? 1 : r->nr_iov;
	return r->bounced ? blk_bounce_chunk(q, r) : r->iov;
}

/* A transfer moved @n bytes (short ones go on from there); true when the request is done. */
static bool rw_advance(struct blk_queue *q, struct blk_req *r, uint64_t n)
{
	if (r->bounced)
		return blk_bounce_advance(q, r, n);
	r->done += n;
	iov_advance(r, n);
	return r->done >= r->len;
}

static int sync_rw(struct blk_queue *q, struct blk_req *r, bool write, int flags)
{
	int fd = q->blk->fd;
	bool done = false;

	while (!done) {
		unsigned nr;
		const struct iovec *v = rw_iov(q, r, &nr);
		off_t off = (off_t)(r->offset + r->done);
		ssize_t n = write ? pwritev2(fd, v, (int)nr, off, flags)
				  : preadv2(fd, v, (int)nr, off, flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO;              /* the image shrank under us */
		done = rw_advance(q, r, (uint64_t)n);
	}
	return 0;
}

static int falloc(int fd, int mode, uint64_t off, uint64_t len)
{
	return fallocate(fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ? -errno : 0;
}

/*
 * WRITE_ZEROES without ZERO_RANGE support (tmpfs, ...): punch a hole, which reads back as
 * zeroes, then try to allocate it again unless the driver allowed unmapping.
 */
static int zero_fallback(int fd, const struct blk_req *r)
{
	int ret = falloc(fd, FALLOC_FL_PUNCH_HOLE, r->offset, r->len);

	if (!ret && !r->unmap)
		(void)falloc(fd, 0, r->offset, r->len);   /* best effort: zeroes either way */
	return ret;
}

/* After a successful discard / write-zeroes: in write-through mode, make it stable. */
static int finish_falloc(struct blk_queue *q, const struct blk_req *r, int res)
{
	/* 5.2.6.2: a discard MAY deallocate; a filesystem that cannot simply does nothing. */
	if (r->op == BLK_OP_DISCARD && res == -EOPNOTSUPP)
		res = 0;
	if (r->op == BLK_OP_WRITE_ZEROES && res == -EOPNOTSUPP)
		res = zero_fallback(q->blk->fd, r);
	if (!res && writethrough(q) && fdatasync(q->blk->fd))
		res = -errno;
	return res;
}

static int falloc_mode(const struct blk_req *r)
{
	if (r->op == BLK_OP_DISCARD || r->unmap)
		return FALLOC_FL_PUNCH_HOLE;
	return FALLOC_FL_ZERO_RANGE;
}

static int sync_exec(struct blk_queue *q, struct blk_req *r)
{
	int fd = q->blk->fd;

	switch (r->op) {
	case BLK_OP_READ:
		return sync_rw(q, r, false, 0);
	case BLK_OP_WRITE:
		return sync_rw(q, r, true, writethrough(q) ? RWF_DSYNC : 0);
	case BLK_OP_FLUSH:
		return fdatasync(fd) ? -errno : 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		return finish_falloc(q, r, falloc(fd, falloc_mode(r), r->offset, r->len));
	default:
		return -EINVAL;
	}
}

/* ------------------------------------------------------------------ io_uring */

bool blk_io_hook_no_uring, blk_io_hook_nowait_kick;

int blk_io_probe(void)
{
	static const int ops[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				   IORING_OP_FALLOCATE };
	struct io_uring_probe *probe;
	struct io_uring ring;
	unsigned i;
	int ret = blk_io_hook_no_uring ? -ENOSYS : io_uring_queue_init(4, &ring, 0);

	if (ret)
		return ret;
	probe = io_uring_get_probe_ring(&ring);
	if (!probe)
		ret = -ENOSYS;
	for (i = 0; probe && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!io_uring_opcode_supported(probe, ops[i]))
			ret = -EOPNOTSUPP;
	}
	if (probe)
		io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return ret;
}

int blk_io_init(struct blk_queue *q, unsigned entries)
{
	struct blk_io *io = &q->io;
	int ret;

	io->uring = q->blk->engine == VIRTIO_BLK_ENGINE_URING;
	if (!io->uring)
		return 0;
	/*
	 * The queue thread is the ring's only user and waits in io_uring_enter, so completion
	 * work can run right there (DEFER_TASKRUN) instead of interrupting it; older kernels
	 * get a plain ring. Room for every slot plus the event reads / polls and their re-arms.
	 */
	ret = io_uring_queue_init(entries + 8, &io->ring, IORING_SETUP_SINGLE_ISSUER |
				  IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED);
	io->deferred = !ret;
	if (ret == -EINVAL)
		ret = io_uring_queue_init(entries + 8, &io->ring, 0);
	if (ret)
		return ret;
	io->ring_ok = true;
	return 0;
}

void blk_io_exit(struct blk_queue *q)
{
	struct blk_io *io = &q->io;

	if (io->ring_ok)
		io_uring_queue_exit(&io->ring);
	io->ring_ok = false;
	blk_bounce_free(q);
}

/* Hands the prepared SQEs to the kernel; 0 or -errno. */
static int submit_only(struct blk_queue *q)
{
	int ret;

	do {
		ret = io_uring_submit(&q->io.ring);
	} while (ret == -EINTR || ret == -EAGAIN);
	q->io.queued = 0;
	return ret < 0 ? ret : 0;
}

static struct io_uring_sqe *get_sqe(struct blk_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->io.ring);

	if (!sqe) {
		/* Cannot happen (a slot per SQE), but never lose a request if it did. */
		(void)submit_only(q);
		sqe = io_uring_get_sqe(&q->io.ring);
	}
	return sqe;
}

static void uring_prep(struct blk_queue *q, struct blk_req *r)
{
	struct io_uring_sqe *sqe = get_sqe(q);
	int fd = q->blk->fd;
	off_t off = (off_t)(r->offset + r->done);
	const struct iovec *v;
	unsigned nr;

	if (!sqe) {
		io_done(q, r, -EBUSY);
		return;
	}
	switch (r->op) {
	case BLK_OP_READ:
		v = rw_iov(q, r, &nr);
		io_uring_prep_readv(sqe, fd, v, nr, off);
		break;
	case BLK_OP_WRITE:
		v = rw_iov(q, r, &nr);
		io_uring_prep_writev(sqe, fd, v, nr, off);
		if (writethrough(q))
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_fallocate(sqe, fd, falloc_mode(r) | FALLOC_FL_KEEP_SIZE, off,
					(off_t)r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	q->io.queued++;
}

static void uring_complete(struct blk_queue *q, struct blk_req *r, int res)
{
	if (r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) {
		/* A short transfer (or a bounce chunk) goes on from where it stopped. */
		if (res > 0 && !rw_advance(q, r, (uint64_t)res))
			uring_prep(q, r);
		else
			io_done(q, r, res < 0 ? res : res == 0 ? -EIO : 0);
		return;
	}
	if (r->op == BLK_OP_DISCARD || r->op == BLK_OP_WRITE_ZEROES)
		res = finish_falloc(q, r, res);
	blk_req_done(q, r, res < 0 ? res : 0);
}

/* ------------------------------------------------------------------ engine interface */

void blk_io_start(struct blk_queue *q, struct blk_req *r)
{
	/* fallocate refuses a zero length; an empty range is done already. */
	if ((r->op == BLK_OP_DISCARD || r->op == BLK_OP_WRITE_ZEROES) && !r->len) {
		blk_req_done(q, r, 0);
		return;
	}
	if (blk_bounce_needed(q, r)) {
		int ret = blk_bounce_claim(q, r);

		if (ret <= 0) {
			if (ret)
				blk_req_done(q, r, ret);
			return;                   /* or waits for the buffer (io_done starts it) */
		}
	}
	io_begin(q, r);
}

static void io_begin(struct blk_queue *q, struct blk_req *r)
{
	if (q->io.uring)
		uring_prep(q, r);
	else
		io_done(q, r, sync_exec(q, r));
}

bool blk_io_kick_consumed(const struct blk_queue *q)
{
	return q->io.uring && !q->io.kick_polled;
}

static void reap(struct blk_queue *q);

/*
 * Submits what was prepared and, in the same io_uring_enter (GETEVENTS), collects what
 * completed meanwhile: those requests are pushed now and share the notification that ends
 * this pass over the avail ring instead of costing a wake-up and an interrupt of their own.
 */
void blk_io_submit(struct blk_queue *q)
{
	int ret;

	if (!q->io.uring || !q->io.queued)
		return;
	do {
		ret = io_uring_submit_and_get_events(&q->io.ring);
	} while (ret == -EINTR || ret == -EAGAIN);
	if (ret < 0)
		pr_err("disk '%s': io_uring_submit: %s", q->blk->path, strerror(-ret));
	q->io.queued = 0;
	reap(q);
}

/*
 * Event completions carry the event bit as user_data, requests their pointer. Kicks, the hot
 * one, are read from the eventfd by the ring itself (no read syscall); control and timer
 * are multishot polls.
 */
static void arm_event(struct blk_queue *q, unsigned ev)
{
	struct io_uring_sqe *sqe = get_sqe(q);
	int fd = blk_queue_event_fd(q, ev);

	if (!sqe) {
		pr_err("disk '%s': no SQE to wait for events", q->blk->path);
		return;
	}
	if (ev == BLK_EV_KICK && !q->io.kick_polled) {
		io_uring_prep_read(sqe, fd, &q->io.kick_count, sizeof(q->io.kick_count), 0);
		if (blk_io_hook_nowait_kick)
			sqe->rw_flags = RWF_NOWAIT;   /* what an O_NONBLOCK-honouring kernel does */
	} else {
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	}
	io_uring_sqe_set_data64(sqe, ev);
}

/*
 * Takes every CQE there is. What it prepares (re-armed event reads, the rest of a short
 * transfer, a FLUSH the completed writes were holding back) goes with the next submit: the
 * thread never sleeps without one (run_ring, blk_io_wait_all).
 */
static void reap(struct blk_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&q->io.ring, head, cqe) {
		uint64_t data = io_uring_cqe_get_data64(cqe);

		n++;
		if (data <= BLK_EV_IO) {
			/* Kernels that honour O_NONBLOCK for ring reads: poll the kick fd instead. */
			if (data == BLK_EV_KICK && cqe->res == -EAGAIN)
				q->io.kick_polled = true;
			q->io.events |= (unsigned)data;
			if (!(cqe->flags & IORING_CQE_F_MORE))
				arm_event(q, (unsigned)data);    /* read done, or poll ended */
			continue;
		}
		uring_complete(q, (struct blk_req *)(uintptr_t)data, cqe->res);
		q->io.events |= BLK_EV_IO;
	}
	io_uring_cq_advance(&q->io.ring, n);
}

void blk_io_wait_all(struct blk_queue *q)
{
	int ret;

	if (!q->io.uring)
		return;
	while (q->nr_free < q->nr_slots) {
		/* Submits too: a completion may have prepared more (short transfer, FLUSH). */
		ret = io_uring_submit_and_wait(&q->io.ring, 1);
		q->io.queued = 0;
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN) {
			pr_err("disk '%s': io_uring_enter: %s", q->blk->path, strerror(-ret));
			return;
		}
		reap(q);
	}
}

/* Registered by this thread (blk_io_thread_start), so unregistered by it too. */
static void release_ring_fd(struct blk_queue *q)
{
	(void)io_uring_unregister_ring_fd(&q->io.ring);
}

int blk_io_thread_start(struct blk_queue *q)
{
	if (!q->io.uring)
		return 0;
	/* SINGLE_ISSUER: the ring belongs to the thread that enables it (liburing 2.3 lacks
	 * io_uring_enable_rings). */
	if (q->io.deferred && syscall(SYS_io_uring_register, q->io.ring.ring_fd,
				      IORING_REGISTER_ENABLE_RINGS, NULL, 0))
		return -errno;
	/* Best effort: saves an fd lookup on every io_uring_enter of this thread. */
	(void)io_uring_register_ring_fd(&q->io.ring);
	return 0;
}

static void run_ring(struct blk_queue *q);

void blk_io_run(struct blk_queue *q)
{
	run_ring(q);
	blk_io_wait_all(q);               /* nothing in flight may use the file any more */
	release_ring_fd(q);
}

static void run_ring(struct blk_queue *q)
{
	unsigned events;
	int ret;

	arm_event(q, BLK_EV_CTL);
	arm_event(q, BLK_EV_KICK);
	arm_event(q, BLK_EV_TIMER);
	for (;;) {
		/* Events a submit already collected are handled before sleeping again. */
		if (!q->io.events) {
			/* Submits what is prepared and sleeps until anything completes. */
			ret = io_uring_submit_and_wait(&q->io.ring, 1);
			q->io.queued = 0;
			if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
				pr_err("disk '%s': io_uring_enter: %s", q->blk->path,
				       strerror(-ret));
				return;
			}
			reap(q);
		}
		events = q->io.events;
		q->io.events = 0;
		if (events && blk_queue_events(q, events))
			return;
	}
}
