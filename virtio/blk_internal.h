/* SPDX-License-Identifier: Apache-2.0 */
/* Private glue between the virtio-blk files (blk*.c): not part of the public API. */
#ifndef VIREO_VIRTIO_BLK_INTERNAL_H
#define VIREO_VIRTIO_BLK_INTERNAL_H

#include <liburing.h>
#include <linux/virtio_blk.h>
#include <sys/uio.h>

#include "virtio/blk.h"

struct blk_queue;

/* What a validated request does. */
enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH, BLK_OP_GET_ID, BLK_OP_DISCARD,
	      BLK_OP_WRITE_ZEROES };

/* One request from pop to used; lives in its queue's slot table. */
struct blk_req {
	enum blk_op op;
	uint16_t head;
	uint8_t *status;                  /* last byte of the last writable segment */
	uint64_t offset, len;             /* bytes */
	bool unmap;                       /* WRITE_ZEROES may deallocate */
	struct iovec *iov;                /* this slot's iovec array (seg_max + 2 entries) */
	unsigned nr_iov;
	uint64_t done;                    /* bytes transferred so far (short I/O resumes) */
	uint64_t start_ns;
	unsigned slot;
	/* Flush ordering: writes carry the queue's epoch; a flush waits for older ones. */
	uint64_t epoch;
	unsigned waiting;                 /* FLUSH: older writes still in flight */
	struct blk_req *next_flush;
	/* direct=on with a segment O_DIRECT cannot take: through the queue's bounce buffer. */
	bool bounced;
	struct blk_req *bounce_next;      /* waiting for the buffer behind this one */
};

/* The disk, shared by every queue. */
struct virtio_blk {
	struct virtio_dev vdev;           /* what the transport carries */
	int fd;
	char *path;
	bool readonly, direct;
	uint32_t dio_mem_align;           /* direct=on: address/length alignment O_DIRECT needs */
	enum virtio_blk_engine engine;
	uint64_t capacity;                /* sectors */
	uint32_t seg_max;
	unsigned num_queues, queue_size;
	uint8_t id[VIRTIO_BLK_ID_LEN];    /* GET_ID answer, NUL-padded */
	bool id_from_serial;              /* the user gave serial=; else derived from the inode */
	struct virtio_blk_config config;  /* little-endian, as the driver reads it */
	struct rate_limiter rl;
	struct blk_queue *queues;         /* num_queues, threads started at activate */
	/* counters (atomics) */
	struct virtio_blk_counters ctr;
	uint64_t read_lat_sum, write_lat_sum;   /* ns */
	unsigned inflight;
};

/* What woke a queue thread (bits). */
enum { BLK_EV_CTL = 1, BLK_EV_KICK = 2, BLK_EV_TIMER = 4, BLK_EV_IO = 8 };

/* Per-queue engine state. */
struct blk_io {
	bool uring;
	bool ring_ok;
	struct io_uring ring;
	bool deferred;                    /* SINGLE_ISSUER | DEFER_TASKRUN, enabled by the thread */
	unsigned queued;                  /* requests prepared, not yet submitted (event
					     re-arms wait for the next submit) */
	unsigned events;                  /* BLK_EV_* seen on the ring, not yet handled */
	uint64_t kick_count;              /* the kick eventfd, read through the ring */
	bool kick_polled;                 /* ...or polled, where ring reads do not wait */
};

/* The queue's one aligned buffer for misaligned direct I/O (blk_bounce.c). */
struct blk_bounce {
	uint8_t *buf;                     /* allocated on first use */
	struct iovec iov;                 /* the chunk in flight */
	struct blk_req *owner;            /* the request moving through it */
	struct blk_req *head, *tail;      /* requests waiting for it, in order */
};

struct blk_queue {
	struct virtio_blk *blk;
	struct virtio_dev *vd;
	unsigned idx;
	struct virtio_worker worker;      /* serves this queue alone */
	int timer_fd;
	struct virtq_chain chain;
	struct blk_io io;
	struct blk_req *reqs;
	struct iovec *iovs;
	unsigned *free_slots, nr_free, nr_slots, iov_per_req;
	bool throttled;                   /* waiting for timer_fd */
	bool starved;                     /* stopped popping: every slot in flight */
	bool pushed;                      /* used entries not yet notified */
	uint64_t epoch;                   /* bumped by every FLUSH that has to wait */
	unsigned writes_inflight;         /* OUT / DISCARD / WRITE_ZEROES started, not done */
	struct blk_req *flush_head, *flush_tail;   /* FLUSHes waiting, oldest first */
	struct blk_bounce bounce;
};

/* blk_req.c: validation (5.2.6) of q->chain into @r; VIRTIO_BLK_R_NR when valid. */
enum virtio_blk_reject blk_req_parse(const struct virtio_blk *blk, uint64_t features,
				     const struct virtq_chain *c, struct blk_req *r);
/* Copies the device ID into the request's writable data; returns the bytes written. */
uint32_t blk_req_get_id(const struct virtio_blk *blk, struct blk_req *r);

/* blk_bounce.c: misaligned direct I/O through one aligned buffer per queue. */
bool blk_bounce_needed(const struct blk_queue *q, const struct blk_req *r);
/* 1: @r owns the buffer and may start; 0: queued behind the owner; -ENOMEM. */
int blk_bounce_claim(struct blk_queue *q, struct blk_req *r);
/* The iovec for @r's next chunk (a write's bytes copied in from the guest). */
const struct iovec *blk_bounce_chunk(struct blk_queue *q, struct blk_req *r);
/* The chunk moved @n bytes (a read's copied out to the guest); true when @r is complete. */
bool blk_bounce_advance(struct blk_queue *q, struct blk_req *r, uint64_t n);
/* @r is over: the next request to own the buffer, to be started, or NULL. */
struct blk_req *blk_bounce_release(struct blk_queue *q, struct blk_req *r);
void blk_bounce_free(struct blk_queue *q);

/* blk_queue.c: a worker per queue. */
int blk_queues_start(struct virtio_blk *blk, struct virtio_dev *vd);
void blk_queues_stop(struct virtio_blk *blk);
void blk_queues_pause(struct virtio_blk *blk);
void blk_queues_resume(struct virtio_blk *blk);
/* A request is over: status byte, counters, used ring. @res 0 or -errno. */
void blk_req_done(struct blk_queue *q, struct blk_req *r, int res);
/* ops->queue_notify: the worker's epoll loop saw queue @q kicked (synchronous engine). */
void blk_queue_notify(struct virtio_dev *vd, unsigned q);
/* Handles BLK_EV_* bits; true when the thread must exit. */
bool blk_queue_events(struct blk_queue *q, unsigned events);
/* The fds behind BLK_EV_CTL, BLK_EV_KICK, BLK_EV_TIMER. */
int blk_queue_event_fd(const struct blk_queue *q, unsigned ev);

/*
 * blk_io.c: engines. start either completes @r (sync) or queues it (io_uring). With
 * io_uring the queue thread waits in the ring itself (blk_io_run): the event fds are polled
 * by multishot POLL_ADDs, so one io_uring_enter submits, waits and wakes for everything.
 */
int blk_io_probe(void);
/*
 * Test hooks (tests/virtio only; false in vireo): probe as if io_uring were missing (AUTO then
 * falls back to the synchronous engine), and read the kick eventfd with RWF_NOWAIT, as kernels
 * that honour O_NONBLOCK for ring reads do (the thread then polls the kick fd and drains it).
 */
extern bool blk_io_hook_no_uring, blk_io_hook_nowait_kick;
int blk_io_init(struct blk_queue *q, unsigned entries);
/* In the queue thread, before anything else: the ring becomes this thread's. */
int blk_io_thread_start(struct blk_queue *q);
void blk_io_run(struct blk_queue *q);
/* Whether the ring already read the kick eventfd (else the thread drains it). */
bool blk_io_kick_consumed(const struct blk_queue *q);
void blk_io_exit(struct blk_queue *q);
void blk_io_start(struct blk_queue *q, struct blk_req *r);
/* Submits the prepared requests and completes (pushes) those already done. */
void blk_io_submit(struct blk_queue *q);
void blk_io_wait_all(struct blk_queue *q);

/* blk.c */
void blk_count_add(uint64_t *c, uint64_t n);
/* A successful request's counters; @lat_ns from pop to completion. */
void blk_account(struct virtio_blk *blk, const struct blk_req *r, uint64_t lat_ns);
bool blk_writethrough(const struct virtio_blk *blk, uint64_t features);

#endif
