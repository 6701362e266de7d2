/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio device, independent of its transport (virtio 1.2 2, 3): the device-type ops, the
 * per-instance description the transport presents to the driver, the seam through which a
 * device reaches its transport, and the worker thread most devices run their queues on.
 *
 * Layering: device (rng.c, console.c, blk*.c) -> struct virtio_dev -> transport ops
 * (pci_transport.c implements them for virtio-pci) -> MSI-X vector or INTx.
 */
#ifndef VIREO_VIRTIO_DEVICE_H
#define VIREO_VIRTIO_DEVICE_H

#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/sysfilter.h"
#include "virtio/virtqueue.h"

struct cJSON;
struct virtio_dev;

/*
 * What a device type implements: one const table per type, NULL = unsupported. Called by
 * the transport: config_*, activate and reset on the VMM thread or a vCPU thread with the
 * transport lock held (keep them short, never touch a bus); queue_notify on the device's
 * worker thread (never a vCPU).
 *  config_*:     device config space access, @off + @len <= vd->config_size.
 *  activate:     DRIVER_OK: vd->features and vd->vqs are final; start serving. An error
 *                sets DEVICE_NEEDS_RESET.
 *  reset:        stop all I/O (join workers) and forget the negotiated state; on return
 *                no thread touches the queues. Also called when never activated.
 *  queue_notify: the driver kicked queue @q (or activation polls every queue once).
 *  pause/resume: quiesce for a snapshot: on return from pause no chain is in flight.
 *  save/restore: the device's own snapshot section (the transport saves the rings); restore
 *                validates against this instance, @err naming the field, before any change.
 *  counters:     adds the device's counters to @out (vm.counters), false on ENOMEM.
 *  info:         adds what vm.info's device tree node should say of the device's backend.
 *  destroy:      frees the device; the transport has reset it and let go of it.
 */
struct virtio_device_ops {
	const char *name;                 /* "blk", "rng": the snapshot section's key */
	void (*config_read)(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len);
	void (*config_write)(struct virtio_dev *vd, unsigned off, const uint8_t *data,
			     unsigned len);
	int (*activate)(struct virtio_dev *vd);
	void (*reset)(struct virtio_dev *vd);
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	int (*pause)(struct virtio_dev *vd);
	void (*resume)(struct virtio_dev *vd);
	struct cJSON *(*save)(struct virtio_dev *vd);
	int (*restore)(struct virtio_dev *vd, const struct cJSON *json, char *err, size_t errlen);
	bool (*counters)(struct virtio_dev *vd, struct cJSON *out);
	bool (*info)(struct virtio_dev *vd, struct cJSON *node);
	void (*destroy)(struct virtio_dev *vd);
};

/*
 * How a device reaches whatever transport carries it (virtio 1.2 4: PCI, MMIO, ...). The
 * transport fills vd->transport when it takes the device; every hook is safe from a worker.
 *  notify:         a used-buffer notification for queue @q (2.7.7, 4.1.4.5).
 *  config_changed: a configuration change notification (2.5.1).
 *  needs_reset:    the device entered an error state: DEVICE_NEEDS_RESET (2.1.2).
 *  kick_fd:        the eventfd a driver's notification of queue @q lands on.
 *  kick:           wakes queue @q as a driver would (a worker that stops early with work).
 *  call_fd:        optional: an eventfd whose writes notify queue @q's driver with no VMM
 *                  work (the MSI-X vector's irqfd), or -1 (no vector, INTx, unsupported).
 */
struct virtio_transport_ops {
	int (*notify)(void *ctx, unsigned q);
	void (*config_changed)(void *ctx);
	void (*needs_reset)(void *ctx);
	int (*kick_fd)(void *ctx, unsigned q);
	void (*kick)(void *ctx, unsigned q);
	int (*call_fd)(void *ctx, unsigned q);
};

/* A device instance: what the transport presents, and the negotiated state. */
struct virtio_dev {
	const struct virtio_device_ops *ops;
	void *opaque;                     /* the device's own state */
	uint32_t type;                    /* VIRTIO_ID_* */
	unsigned nr_queues;
	uint16_t max_queue_size;          /* power of two <= VIRTQ_MAX_SIZE */
	uint32_t config_size;
	uint64_t device_features;         /* the type's bits; the transport adds the ring ones */
	const struct guest_mem *mem;
	uint64_t features;                /* negotiated; final at activate */
	struct virtq *vqs;
	const struct virtio_transport_ops *transport;
	void *transport_ctx;
};

struct virtio_dev_params {
	uint32_t type;
	unsigned nr_queues;
	uint16_t max_queue_size;
	uint32_t config_size;
	uint64_t features;
};

/* Fills @vd and allocates its virtqueues: 0, -EINVAL (bad params) or -ENOMEM. */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_params *p,
		    const struct virtio_device_ops *ops, void *opaque, const struct guest_mem *mem);
/* Frees the virtqueues (the device's own state is ops->destroy's). */
void virtio_dev_fini(struct virtio_dev *vd);
/* Resets the device, then ops->destroy. NULL is a no-op. */
void virtio_dev_destroy(struct virtio_dev *vd);

/*
 * Device-side helpers (worker thread). pop: virtq_pop_chain(), and on a structural error
 * the transport sets DEVICE_NEEDS_RESET and raises the config interrupt (once). push:
 * virtq_push_used(). notify: used-buffer notification if virtq_needs_notify() says so.
 */
int virtio_dev_pop(struct virtio_dev *vd, unsigned q, struct virtq_chain *c);
int virtio_dev_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len);
int virtio_dev_notify(struct virtio_dev *vd, unsigned q);
/* Device config changed: the transport bumps the generation and notifies the driver. */
void virtio_dev_config_changed(struct virtio_dev *vd);
/* The eventfd that signals kicks of queue @q (transport owned), or -1. */
int virtio_dev_kick_fd(const struct virtio_dev *vd, unsigned q);
/* transport->call_fd, or -1. */
int virtio_dev_call_fd(const struct virtio_dev *vd, unsigned q);
/* Kicks queue @q as the driver would: for a worker that stops early (pause) with work left. */
void virtio_dev_kick(struct virtio_dev *vd, unsigned q);

/* ------------------------------------------------------------------ thread control */

/*
 * The stop/pause handshake between the VMM thread and one device thread (the worker below
 * and each virtio-blk queue thread): flags under a lock, and a wake-up on an eventfd the
 * device thread polls with its other fds. A pause returns once the thread is parked
 * between requests; a stop is followed by a join.
 */
struct virtio_thread_ctl {
	int fd;                           /* eventfd: readable when something was requested */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, pause_req, paused;     /* under lock */
	int pending;                      /* atomic copy of stop || pause_req, for the thread */
};

int virtio_ctl_init(struct virtio_thread_ctl *c);
void virtio_ctl_destroy(struct virtio_thread_ctl *c);
/* Before a thread starts: nothing requested, nothing left in the eventfd. */
void virtio_ctl_clear(struct virtio_thread_ctl *c);
/* VMM thread: asks for a stop (join next) or a pause, and wakes the device thread. */
void virtio_ctl_request(struct virtio_thread_ctl *c, bool stop);
/* VMM thread, after a pause request: returns once the thread is parked (or gone). */
void virtio_ctl_wait_parked(struct virtio_thread_ctl *c);
void virtio_ctl_resume(struct virtio_thread_ctl *c);
/* Device thread: whether a stop or pause waits (a lock-free peek). */
static inline bool virtio_ctl_pending(const struct virtio_thread_ctl *c)
{
	return __atomic_load_n(&c->pending, __ATOMIC_ACQUIRE);
}
/* Device thread, when c->fd fired: parks while paused; true when it must exit. */
bool virtio_ctl_handle(struct virtio_thread_ctl *c);
/* Whether a stop was requested (under the lock). */
bool virtio_ctl_stopping(struct virtio_thread_ctl *c);
/* Device thread leaving on its own (a broken loop): nobody may wait for it to park. */
void virtio_ctl_exited(struct virtio_thread_ctl *c);

/* ------------------------------------------------------------------ worker */

/*
 * A device thread: by default an epoll loop over a control eventfd (stop, pause), the kick
 * eventfds of the queues it serves (-> ops->queue_notify) and up to VIRTIO_WORKER_MAX_FDS
 * device fds. It serves every queue of the device, or the range virtio_worker_serve() gives
 * (virtio-blk runs one worker per queue). On start, and after a pause, it polls each of its
 * queues once: kicks written before activation are latched in the eventfds, but a restored
 * device has no kick at all, and a callback may have stopped early for the pause. A spurious
 * poll is harmless: a driver may notify at any time (virtio 1.2 2.7.13).
 *
 * A device that waits its own way (virtio-blk's io_uring engine waits in its ring) gives a
 * loop instead (virtio_worker_set_loop): it runs on the worker's thread in place of all of
 * the above, polls w->ctl.fd with its own fds, calls virtio_ctl_handle() when that fires and
 * returns when it says to exit. The worker keeps the thread, the stop/pause handshake and
 * the exit bookkeeping either way.
 */
#define VIRTIO_WORKER_MAX_FDS 4

struct virtio_worker;
typedef void (*virtio_worker_fn)(void *opaque, uint32_t events);
typedef void (*virtio_worker_loop_fn)(struct virtio_worker *w, void *opaque);

struct virtio_worker {
	struct virtio_dev *vd;
	struct virtio_thread_ctl ctl;
	int epfd;
	pthread_t thread;
	bool running;
	char name[16];                    /* the thread's name (before start; "vireo-worker") */
	unsigned first_queue, nr_queues;  /* served queues; nr_queues 0 = all of vd's */
	virtio_worker_loop_fn loop;       /* NULL: the epoll loop */
	void *loop_opaque;
	unsigned nr_fds;
	struct {
		int fd;
		uint32_t events;
		virtio_worker_fn fn;
		void *opaque;
	} fds[VIRTIO_WORKER_MAX_FDS];
};

/* What a worker's thread may call (virtio/worker_filter.c), applied as it starts. */
extern const struct sysfilter_policy virtio_worker_sysfilter;

int virtio_worker_init(struct virtio_worker *w);
void virtio_worker_destroy(struct virtio_worker *w);
/* Registers @fd (before start); @events may be 0 (parked). -ENOSPC, -EBUSY if running. */
int virtio_worker_add_fd(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
			 void *opaque);
/* From the worker thread: changes what @fd waits for (EPOLLIN, or 0 to park it). */
int virtio_worker_set_events(struct virtio_worker *w, int fd, uint32_t events);
/* Before start: serve queues [@first, @first + @count) only; -EBUSY if running. */
int virtio_worker_serve(struct virtio_worker *w, unsigned first, unsigned count);
/* Before start: run @loop on the thread instead of the epoll loop; -EBUSY if running. */
int virtio_worker_set_loop(struct virtio_worker *w, virtio_worker_loop_fn loop, void *opaque);
/* -EINVAL: no loop and no ops->queue_notify, or a served range outside vd's queues. */
int virtio_worker_start(struct virtio_worker *w, struct virtio_dev *vd);
/* Asks for a stop without waiting: several workers then stop in parallel (stop joins). */
void virtio_worker_request_stop(struct virtio_worker *w);
/* Stops and joins; no-op when not running. */
void virtio_worker_stop(struct virtio_worker *w);
/* Returns once the thread is parked between callbacks (or not running); resume undoes. */
int virtio_worker_pause(struct virtio_worker *w);
/* Asks for a pause without waiting (then virtio_worker_pause waits for it). */
void virtio_worker_request_pause(struct virtio_worker *w);
void virtio_worker_resume(struct virtio_worker *w);
/*
 * From a callback: waits until @fd has @events (poll bits). 1 ready, 0 when a stop or pause
 * was requested (give up and return so it can be served), -errno.
 */
int virtio_worker_wait_fd(struct virtio_worker *w, int fd, short events);

#endif
