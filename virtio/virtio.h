/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio (virtio 1.2): the device side of split virtqueues (2.7), the modern virtio-pci
 * transport (4.1) on top of pci/, a small worker-thread helper, and the first devices
 * (entropy 5.4, console 5.3). Layering: device ops -> transport -> MSI-X vector or INTx.
 * Design, threading and integration notes: docs/virtio.md.
 */
#ifndef VIREO_VIRTIO_VIRTIO_H
#define VIREO_VIRTIO_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/msix.h"
#include "pci/pci.h"
#include "base/bus.h"

struct cJSON;
struct guest_mem;
struct virtio_dev;

#define VIRTIO_BIT(b)        (1ULL << (b))
#define VIRTQ_MAX_SIZE       32768   /* 2.7: Queue Size <= 32768 */

/* ------------------------------------------------------------------ split virtqueue */

/*
 * Structural violations a hostile or buggy driver can cause (vmm-tech 6.7). Each one breaks
 * the queue until it is reset and bumps vq->errors[code - VIRTQ_E_BASE]. The codes start
 * above the errno range, so "< 0" still means failure and they never alias an errno.
 */
enum virtq_error {
	VIRTQ_E_BASE = 4096,
	VIRTQ_E_AVAIL_IDX = VIRTQ_E_BASE, /* avail->idx more than size ahead of next_avail */
	VIRTQ_E_HEAD,                     /* head index >= size */
	VIRTQ_E_NEXT,                     /* next index >= size (or indirect table entries) */
	VIRTQ_E_CHAIN_LEN,                /* chain longer than the queue / table: loops too */
	VIRTQ_E_BUFFER,                   /* (addr, len) not wholly inside guest RAM */
	VIRTQ_E_ORDER,                    /* device-readable descriptor after a writable one */
	VIRTQ_E_INDIRECT_FEATURE,         /* INDIRECT without VIRTIO_F_INDIRECT_DESC */
	VIRTQ_E_INDIRECT_LEN,             /* table length 0 or not a multiple of 16 */
	VIRTQ_E_INDIRECT_SIZE,            /* table with more than size entries */
	VIRTQ_E_INDIRECT_NESTED,          /* INDIRECT inside an indirect table */
	VIRTQ_E_INDIRECT_NEXT,            /* INDIRECT together with NEXT */
	VIRTQ_E_BROKEN,                   /* the queue broke earlier: not counted again */
	VIRTQ_E_END
};
#define VIRTQ_NR_ERRORS (VIRTQ_E_END - VIRTQ_E_BASE)

/* A short description of a -VIRTQ_E_* code ("avail index jump", ...), or strerror(). */
const char *virtq_strerror(int err);

/* One guest buffer of a chain, already translated and bounds-checked. */
struct virtq_seg {
	void *addr;
	uint32_t len;
	bool write;                       /* device-writable */
};

/*
 * A popped descriptor chain: the device-readable segments first (nr_read of them), then the
 * device-writable ones. Zero-length descriptors are validated but not listed. The segments
 * point into guest RAM: the guest can change the bytes at any time, never the bounds.
 */
struct virtq_chain {
	uint16_t head;
	unsigned nr, nr_read;
	uint64_t read_len, write_len;
	unsigned cap;
	struct virtq_seg *segs;
};

/* Room for any chain of a queue of @size: a direct chain plus one indirect table. */
static inline unsigned virtq_chain_max(unsigned size)
{
	return 2 * size;
}

/* Allocates room for @cap segments (use virtq_chain_max()); 0 or -ENOMEM. */
int virtq_chain_init(struct virtq_chain *c, unsigned cap);
void virtq_chain_free(struct virtq_chain *c);

struct virtq {
	const struct guest_mem *mem;
	/* Fixed while ready (set by virtq_enable). */
	uint16_t size;
	bool ready;
	bool event_idx, indirect;         /* negotiated VIRTIO_F_EVENT_IDX / INDIRECT_DESC */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint8_t *desc, *avail, *used;     /* host views of the three areas */
	/* Device progress: owned by the thread serving the queue. */
	uint16_t next_avail, next_used;
	uint16_t signalled_used;          /* next_used when the driver was last notified */
	bool signalled_valid;             /* false until the first notification decision */
	bool broken;                      /* a structural violation: no service until reset */
	uint64_t errors[VIRTQ_NR_ERRORS];
	uint64_t popped, pushed;
};

/* Not ready, indices zero, counters zero. */
void virtq_init(struct virtq *vq, const struct guest_mem *mem);
/*
 * Checks a split ring (2.7): @size a power of two <= VIRTQ_MAX_SIZE; descriptor table 16-byte,
 * driver area 2-byte, device area 4-byte aligned; each area (event fields included) wholly
 * inside guest RAM. -EINVAL (size/alignment) or -EFAULT (not RAM).
 */
int virtq_check_rings(const struct guest_mem *mem, unsigned size, uint64_t desc,
		      uint64_t avail, uint64_t used);
/* virtq_check_rings, then ready with indices zero and not broken. Counters are kept. */
int virtq_enable(struct virtq *vq, unsigned size, uint64_t desc, uint64_t avail, uint64_t used);
/* Picks VIRTIO_F_EVENT_IDX and VIRTIO_F_INDIRECT_DESC out of the negotiated features. */
void virtq_set_features(struct virtq *vq, uint64_t features);
/* Back to not ready, indices zero, not broken; counters kept (they are the device's). */
void virtq_reset(struct virtq *vq);

/*
 * Takes the next available chain (2.7.13.2), validating every descriptor, each read once.
 * Returns 1 and fills @c, 0 when nothing is available (or the queue is not ready), or
 * -VIRTQ_E_* when the queue is (now) broken; -EINVAL if @c->cap < virtq_chain_max(size).
 */
int virtq_pop_chain(struct virtq *vq, struct virtq_chain *c);
/*
 * Publishes (head, len) in the used ring, then used->idx (release ordering, 2.7.13.3).
 * @len is what the device wrote; nothing here is read back from the guest. -EINVAL if not
 * ready or @head >= size, -EIO if broken.
 */
int virtq_push_used(struct virtq *vq, uint16_t head, uint32_t len);
/*
 * Whether the driver wants a used-buffer notification for what was pushed since the last
 * call (2.7.7.2, 2.7.10): with EVENT_IDX, vring_need_event(used_event, new, old); without,
 * avail->flags NO_INTERRUPT clear. Full fence first. Records the new state.
 */
bool virtq_needs_notify(struct virtq *vq);
/* u16-wrapping "did [old, new) cross event" (2.7.10). */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}
/* Driver kicks not needed for now: sets used->flags NO_NOTIFY (no-op with EVENT_IDX). */
void virtq_disable_notify(struct virtq *vq);
/*
 * Asks for kicks again (avail_event = next_avail, or NO_NOTIFY cleared), full fence, then
 * re-reads avail->idx: true if buffers arrived meanwhile, so the caller must keep going
 * (otherwise that kick would be lost).
 */
bool virtq_enable_notify(struct virtq *vq);

/* ------------------------------------------------------------------ devices */

/*
 * What a device implements (kept small, NULL = unsupported). Called by the transport:
 * config_*, activate and reset on a vCPU thread with the transport lock held (keep them
 * short, never touch a bus); queue_notify on the device's worker thread (never a vCPU).
 *  features:     device-type feature bits offered; the transport adds VERSION_1,
 *                EVENT_IDX and INDIRECT_DESC (the virtqueue code implements both).
 *  config_*:     device config space access, @off + @len <= config_size (4.1.4.6).
 *  activate:     DRIVER_OK: vd->features and vd->vqs are final; start serving. An error
 *                sets DEVICE_NEEDS_RESET.
 *  reset:        stop all I/O (join workers) and forget the negotiated state; on return
 *                no thread touches the queues. Also called when never activated.
 *  queue_notify: the driver kicked queue @q (or activation polls every queue once).
 *  pause/resume: quiesce for a snapshot: on return from pause no chain is in flight.
 */
struct virtio_device_ops {
	uint32_t type;                    /* VIRTIO_ID_* */
	uint16_t num_queues;
	uint16_t max_queue_size;          /* power of two <= VIRTQ_MAX_SIZE */
	uint32_t config_size;             /* <= VIRTIO_PCI_DEVICE_CFG_MAX */
	uint64_t features;
	void (*config_read)(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len);
	void (*config_write)(struct virtio_dev *vd, unsigned off, const uint8_t *data,
			     unsigned len);
	int (*activate)(struct virtio_dev *vd);
	void (*reset)(struct virtio_dev *vd);
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	int (*pause)(struct virtio_dev *vd);
	void (*resume)(struct virtio_dev *vd);
};

/* The transport-independent view a device gets. */
struct virtio_dev {
	const struct virtio_device_ops *ops;
	void *opaque;                     /* the device's own state */
	const struct guest_mem *mem;
	uint64_t features;                /* negotiated; final at activate */
	unsigned nr_queues;
	struct virtq *vqs;
};

/*
 * Device-side helpers (worker thread). pop: virtq_pop_chain(), and on a structural error
 * the transport sets DEVICE_NEEDS_RESET and raises the config interrupt (once). push:
 * virtq_push_used(). notify: used-buffer notification if virtq_needs_notify() says so.
 */
int virtio_dev_pop(struct virtio_dev *vd, unsigned q, struct virtq_chain *c);
int virtio_dev_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len);
int virtio_dev_notify(struct virtio_dev *vd, unsigned q);
/* Device config changed (4.1.4.3.1): generation bump, ISR bit 1, config vector or INTx. */
void virtio_dev_config_changed(struct virtio_dev *vd);
/* The eventfd that signals kicks of queue @q (transport owned). */
int virtio_dev_kick_fd(const struct virtio_dev *vd, unsigned q);
/* Kicks queue @q as the driver would: for a worker that stops early (pause) with work left. */
void virtio_dev_kick(struct virtio_dev *vd, unsigned q);

/* ------------------------------------------------------------------ worker helper */

/*
 * One thread per device, epolling a control eventfd (stop, pause), every queue's kick
 * eventfd (-> ops->queue_notify) and up to VIRTIO_WORKER_MAX_FDS device fds. On start it
 * polls every queue once: kicks written before activation are also latched in the eventfds,
 * but a restored device has no kick at all. Not a virtio requirement, a convenience.
 */
#define VIRTIO_WORKER_MAX_FDS 4

typedef void (*virtio_worker_fn)(void *opaque, uint32_t events);

struct virtio_worker {
	struct virtio_dev *vd;
	int ctl_fd, epfd;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, pause_req, paused;     /* under lock */
	unsigned nr_fds;
	struct {
		int fd;
		uint32_t events;
		virtio_worker_fn fn;
		void *opaque;
	} fds[VIRTIO_WORKER_MAX_FDS];
};

int virtio_worker_init(struct virtio_worker *w);
void virtio_worker_destroy(struct virtio_worker *w);
/* Registers @fd (before start); @events may be 0 (parked). -ENOSPC, -EBUSY if running. */
int virtio_worker_add_fd(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
			 void *opaque);
/* From the worker thread: changes what @fd waits for (EPOLLIN, or 0 to park it). */
int virtio_worker_set_events(struct virtio_worker *w, int fd, uint32_t events);
int virtio_worker_start(struct virtio_worker *w, struct virtio_dev *vd);
/* Stops and joins; no-op when not running. */
void virtio_worker_stop(struct virtio_worker *w);
/* Returns once the thread is parked between callbacks (or not running); resume undoes. */
int virtio_worker_pause(struct virtio_worker *w);
void virtio_worker_resume(struct virtio_worker *w);
/*
 * From a callback: waits until @fd has @events (poll bits). 1 ready, 0 when a stop or pause
 * was requested (give up and return so it can be served), -errno.
 */
int virtio_worker_wait_fd(struct virtio_worker *w, int fd, short events);

/* ------------------------------------------------------------------ virtio-pci */

/*
 * BAR0 layout (64-bit memory BAR, not prefetchable): each structure on its own 8 KiB
 * boundary as Cloud Hypervisor / Firecracker do, so none shares a naturally aligned 8 KiB
 * block with the MSI-X table (PCI 3.0 6.8.2).
 */
#define VIRTIO_PCI_BAR             0
#define VIRTIO_PCI_BAR_SIZE        0x20000ULL
#define VIRTIO_PCI_COMMON_OFF      0x0000
#define VIRTIO_PCI_COMMON_LEN      0x38    /* through queue_device: what Linux maps */
#define VIRTIO_PCI_ISR_OFF         0x2000
#define VIRTIO_PCI_DEVICE_CFG_OFF  0x4000
#define VIRTIO_PCI_DEVICE_CFG_MAX  0x1000
#define VIRTIO_PCI_NOTIFY_OFF      0x6000
#define VIRTIO_PCI_NOTIFY_MULT     4       /* notify_off_multiplier; queue_notify_off = q */
#define VIRTIO_PCI_MSIX_TABLE_OFF  0x8000
#define VIRTIO_PCI_MSIX_PBA_OFF    0x10000
#define VIRTIO_PCI_MAX_QUEUES      ((VIRTIO_PCI_MSIX_TABLE_OFF - VIRTIO_PCI_NOTIFY_OFF) / \
				    VIRTIO_PCI_NOTIFY_MULT)

/*
 * INTx when the guest has not enabled MSI-X (4.1.4.5): a level interrupt held while the
 * ISR is non-zero. raise asserts the line (write the irqfd bound with KVM_IRQFD_FLAG_RESAMPLE);
 * lower (optional) deasserts after an ISR read. With a resample irqfd KVM lowers the line at
 * EOI and the VMM calls virtio_pci_intx_resample() from its resamplefd handler.
 */
struct virtio_intx_ops {
	int (*raise)(void *ctx);
	void (*lower)(void *ctx);
};

struct virtio_pci_queue {
	uint16_t size;                    /* queue_size register */
	uint16_t vector;                  /* queue_msix_vector (atomic: workers read it) */
	bool enabled;
	uint64_t desc, driver, device;
	int kick_fd;                      /* eventfd: KVM_IOEVENTFD and MMIO notify writes */
};

/* Guest mistakes and host failures, counted (never fatal). */
struct virtio_pci_stats {
	uint64_t bad_access;              /* odd-sized / unknown BAR accesses */
	uint64_t bad_queue_cfg;           /* refused queue_size / queue_enable / late writes */
	uint64_t bad_status;              /* status writes clearing bits */
	uint64_t features_refused;        /* FEATURES_OK refused */
	uint64_t irq_errors;              /* msix_notify / INTx failures */
	uint64_t activate_errors;
	uint64_t needs_reset;             /* DEVICE_NEEDS_RESET raised */
};

struct virtio_pci {
	struct pci_dev pci;
	struct msix msix;
	struct virtio_dev vdev;
	pthread_mutex_t lock;             /* guest register accesses, activation, reset */
	uint64_t offered;                 /* device features incl. the transport's */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	bool bad_features;                /* driver wrote a bit beyond 63 */
	uint8_t status;                   /* as the driver set it (NEEDS_RESET kept apart) */
	bool activated;
	uint16_t config_vector;           /* atomic */
	uint16_t queue_select;
	struct virtio_pci_queue *queues;
	uint32_t isr;                     /* atomic; bit 0 queue, bit 1 config */
	uint32_t generation;              /* atomic; config_generation = low byte */
	int needs_reset;                  /* atomic: none, claimed, shown in device_status */
	unsigned pci_cfg_cap;             /* config offset of the VIRTIO_PCI_CAP_PCI_CFG cap */
	const struct virtio_intx_ops *intx;
	void *intx_ctx;
	struct virtio_pci_stats stats;    /* atomic increments */
};

struct virtio_pci_args {
	const char *id;                   /* e.g. "rng0" */
	const struct virtio_device_ops *ops;
	void *opaque;                     /* becomes vdev.opaque */
	const struct guest_mem *mem;
	const struct msix_irq_ops *msix_ops;
	void *msix_ctx;
	const struct virtio_intx_ops *intx_ops;
	void *intx_ctx;
};

/*
 * Builds the PCI function: identity 0x1AF4:0x1040+type rev 1 (4.1.2), BAR0, the vendor
 * capabilities (4.1.4) chained before MSI-X with num_queues + 1 vectors, one kick eventfd per
 * queue. The BAR has no address yet: pci_bar_set_addr(&vp->pci, VIRTIO_PCI_BAR, addr).
 * -EINVAL (bad ops), -ENOMEM, -errno.
 */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_args *args);
/* Resets the device (ops->reset), then frees; the function must be off its segment. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* BAR0 handler for the MMIO bus, opaque = the struct virtio_pci. */
extern const struct bus_device_ops virtio_pci_bar_ops;
/* Offset in BAR0 of queue @q's notify register (for KVM_IOEVENTFD at BAR + offset). */
uint64_t virtio_pci_notify_offset(const struct virtio_pci *vp, unsigned q);
int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned q);
/* INTx resample (EOI): raises the line again while the ISR is non-zero. */
void virtio_pci_intx_resample(struct virtio_pci *vp);
/* Snapshot quiescing: ops->pause/resume when the device is active. */
int virtio_pci_pause(struct virtio_pci *vp);
void virtio_pci_resume(struct virtio_pci *vp);

/*
 * Transport state (features, status, vectors, queues incl. indices and notification state)
 * with every u64 as a "0x..." string. The PCI config space and MSI-X are saved separately
 * (pci_dev_save, msix_save). Save with the device paused. Restore validates everything
 * (type, features subset of offered, status bits, sizes, vectors, rings inside RAM) before
 * touching @vp, -EINVAL otherwise with @err naming the field relative to the section
 * ("queues[1].size: 300 is not a power of two <= 256"); then activates the device if it was
 * active.
 */
struct cJSON *virtio_pci_save(struct virtio_pci *vp);
int virtio_pci_restore(struct virtio_pci *vp, const struct cJSON *json, char *err,
		       size_t errlen);

/* ------------------------------------------------------------------ devices */

/* virtio-rng (5.4): one requestq; fills device-writable buffers from @src_fd. */
#define VIRTIO_RNG_MAX_REQUEST 65536      /* bytes per request, bounded */
#define VIRTIO_RNG_QUEUE_SIZE  256
extern const struct virtio_device_ops virtio_rng_ops;
struct virtio_rng;
/* @src_fd stays the caller's. NULL on ENOMEM. */
struct virtio_rng *virtio_rng_new(int src_fd);
void virtio_rng_free(struct virtio_rng *rng);
uint64_t virtio_rng_bytes(const struct virtio_rng *rng);     /* delivered */
uint64_t virtio_rng_refused(const struct virtio_rng *rng);   /* requests with readable buffers */

/*
 * virtio-console (5.3) without MULTIPORT: receiveq0 (0), transmitq0 (1); offers EMERG_WRITE.
 * Transmitted bytes go to @out_fd, received ones come from @in_fd; either may be -1 (null).
 */
#define VIRTIO_CONSOLE_RX          0
#define VIRTIO_CONSOLE_TX          1
#define VIRTIO_CONSOLE_QUEUE_SIZE  256
extern const struct virtio_device_ops virtio_console_ops;
struct virtio_console;
struct virtio_console *virtio_console_new(int in_fd, int out_fd);
void virtio_console_free(struct virtio_console *con);
struct virtio_console_stats {
	uint64_t tx_bytes, tx_dropped, rx_bytes;
};
void virtio_console_stats(const struct virtio_console *con, struct virtio_console_stats *st);

/* ------------------------------------------------------------------ rate limiter */

/*
 * Token bucket with Firecracker / Cloud Hypervisor semantics: @size tokens refilled
 * continuously at size per refill time, a one-time burst spent first, a request larger than
 * the bucket allowed once and paid back by blocking. Times are CLOCK_MONOTONIC ns, passed
 * in so the arithmetic is testable. Design: docs/virtio-blk.md.
 */
struct rl_bucket {
	uint64_t size, one_time_burst, refill_ns;
	uint64_t budget, last_update_ns;
	uint64_t cap_per_gcd, time_per_gcd;   /* size and refill_ns over their gcd */
};

enum rl_result { RL_OK, RL_FAIL, RL_OVER };

uint64_t rl_now_ns(void);
/* False (bucket unused, no limit) when @size or @refill_ms is 0, as CH and FC do. */
bool rl_bucket_init(struct rl_bucket *b, uint64_t size, uint64_t one_time_burst,
		    uint64_t refill_ms, uint64_t now_ns);
/*
 * Takes @tokens: RL_OK; RL_FAIL (nothing taken); RL_OVER when @tokens exceeds the bucket:
 * taken anyway, bucket emptied, *@debt_ns = how long the excess takes to refill.
 */
enum rl_result rl_bucket_reduce(struct rl_bucket *b, uint64_t tokens, uint64_t now_ns,
				uint64_t *debt_ns);
/* Gives @tokens back (capped at size): undoes a reduce. */
void rl_bucket_replenish(struct rl_bucket *b, uint64_t tokens);
/* How long until @tokens fit (0: they do now). */
uint64_t rl_bucket_wait_ns(const struct rl_bucket *b, uint64_t tokens, uint64_t now_ns);

/* One bucket as the user gives it: @size tokens per @refill_time ms; 0 in either: no limit. */
struct rl_bucket_params {
	uint64_t size, one_time_burst, refill_time;
};

struct rate_limiter_params {
	struct rl_bucket_params bandwidth, ops;
};

/* A bandwidth (bytes) and an ops bucket, shared by the threads of one device. */
struct rate_limiter {
	pthread_mutex_t lock;
	bool has_bw, has_ops;
	struct rl_bucket bw, ops;
	uint64_t blocked_until_ns;        /* paying back an over-consumption */
};

/* Buckets per @p (NULL: no limit). 0 or -errno. */
int rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_params *p,
		      uint64_t now_ns);
void rate_limiter_destroy(struct rate_limiter *rl);
bool rate_limiter_enabled(const struct rate_limiter *rl);
/*
 * One operation of @bytes (0 for requests that move no data): true when both buckets allow
 * it (tokens taken), false with *@wait_ns until a retry can succeed (nothing taken).
 */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns,
			  uint64_t *wait_ns);

/* ------------------------------------------------------------------ virtio-blk */

/*
 * virtio-blk (5.2) on a raw image: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES; one worker
 * thread per queue; io_uring with many requests in flight, or synchronous I/O. Every request
 * is validated before it costs a rate-limit token or touches the file. Design, limits and
 * the wiring checklist: docs/virtio-blk.md.
 */
#define VIRTIO_BLK_SECTOR_SHIFT   9
#define VIRTIO_BLK_SECTOR_SIZE    512u
#define VIRTIO_BLK_SIZE_MAX       (1u << 20)   /* size_max: bytes in one segment */
#define VIRTIO_BLK_SEG_MAX_CAP    254u         /* seg_max = min(queue_size - 2, this) */
#define VIRTIO_BLK_MAX_INFLIGHT   256u         /* requests in flight per queue */
#define VIRTIO_BLK_DWZ_MAX_SECTORS (1u << 22)  /* per discard / write-zeroes segment */
#define VIRTIO_BLK_ID_LEN         20           /* GET_ID answer (5.2.6) */

enum virtio_blk_engine {
	VIRTIO_BLK_ENGINE_AUTO,           /* io_uring if the kernel offers it, else sync */
	VIRTIO_BLK_ENGINE_URING,
	VIRTIO_BLK_ENGINE_SYNC,
};

/*
 * Why a request was refused (one counter each). All but NO_STATUS complete with a status:
 * IOERR, or UNSUPP for UNSUPP_TYPE / UNSUPP_FLAGS. NO_STATUS chains are never marked used.
 */
enum virtio_blk_reject {
	VIRTIO_BLK_R_NO_STATUS,           /* last descriptor not device-writable */
	VIRTIO_BLK_R_SEGMENTS,            /* more than seg_max + 2 segments */
	VIRTIO_BLK_R_SEG_SIZE,            /* a segment larger than size_max */
	VIRTIO_BLK_R_HEADER,              /* first segment not readable, or < 16 bytes */
	VIRTIO_BLK_R_READ_ONLY,           /* OUT / DISCARD / WRITE_ZEROES on a read-only disk */
	VIRTIO_BLK_R_DIRECTION,           /* data in the wrong direction for the type */
	VIRTIO_BLK_R_NO_DATA,             /* IN / OUT / GET_ID / DISCARD / WRITE_ZEROES empty */
	VIRTIO_BLK_R_FLUSH_DATA,          /* FLUSH carrying data */
	VIRTIO_BLK_R_ALIGN,               /* IN / OUT length not a multiple of 512 */
	VIRTIO_BLK_R_RANGE,               /* sectors beyond capacity (overflow-checked) */
	VIRTIO_BLK_R_DWZ_FORMAT,          /* not whole 16-byte segments, or more than max_seg */
	VIRTIO_BLK_R_DWZ_SECTORS,         /* num_sectors above the maximum */
	VIRTIO_BLK_R_UNSUPP_TYPE,         /* unknown type, or its feature not negotiated */
	VIRTIO_BLK_R_UNSUPP_FLAGS,        /* unknown flag, or unmap on DISCARD (5.2.6.2) */
	VIRTIO_BLK_R_NR
};
const char *virtio_blk_reject_name(enum virtio_blk_reject r);

/*
 * Per-disk counters. The first ten are Cloud Hypervisor's vm.counters names and units:
 * latencies in microseconds, min/max UINT64_MAX and avg UINT64_MAX / 10000 before the first
 * operation (CH's initial values). Only successful IN / OUT count as reads / writes.
 */
struct virtio_blk_counters {
	uint64_t read_bytes, write_bytes, read_ops, write_ops;
	uint64_t read_latency_min, read_latency_max, read_latency_avg;
	uint64_t write_latency_min, write_latency_max, write_latency_avg;
	uint64_t flush_ops, discard_ops, write_zeroes_ops, get_id_ops;
	uint64_t io_errors;               /* host I/O failed: IOERR */
	uint64_t throttled;               /* requests put back by the rate limiter */
	uint64_t bounced;                 /* direct=on: misaligned, copied via an aligned buffer */
	uint64_t rejected[VIRTIO_BLK_R_NR];
};

/* What a disk is made of; the VM wiring fills it from the user's configuration. */
struct virtio_blk_params {
	const char *path;
	bool readonly;
	bool direct;                      /* O_DIRECT */
	unsigned num_queues;              /* 0: 1 */
	unsigned queue_size;              /* 0: 128 */
	const char *serial;               /* GET_ID answer; NULL: derived from the image */
	struct rate_limiter_params rate_limiter;
};

struct virtio_blk;

/*
 * Opens p->path (O_RDONLY or O_RDWR, O_DIRECT with direct=on), takes an OFD lock (write
 * lock for a writable image, read lock for a read-only one) and fails if another process
 * holds a conflicting one, sizes the disk, builds config space and features. @engine AUTO
 * picks io_uring when the kernel has it. On error: -errno and one line in @err.
 */
int virtio_blk_new(const struct virtio_blk_params *p, enum virtio_blk_engine engine,
		   struct virtio_blk **out, char *err, size_t errlen);
/* Resets nothing: call after virtio_pci_destroy() (which stops the workers). */
void virtio_blk_free(struct virtio_blk *blk);
/* The device's ops table (per disk: queue count, sizes and features are the disk's). */
const struct virtio_device_ops *virtio_blk_ops(const struct virtio_blk *blk);
void virtio_blk_counters(const struct virtio_blk *blk, struct virtio_blk_counters *c);
uint64_t virtio_blk_capacity(const struct virtio_blk *blk);   /* 512-byte sectors */
enum virtio_blk_engine virtio_blk_engine(const struct virtio_blk *blk);   /* never AUTO */
/* Requests in flight (all queues); 0 whenever the device is paused or reset. */
unsigned virtio_blk_inflight(const struct virtio_blk *blk);
/*
 * Snapshot: the disk's identity (capacity, read-only, queues, queue size, serial); the
 * device keeps no other guest-visible state: pause it first, then no request is in flight
 * and the rings (virtio_pci_save) say everything. Restore refuses (-EINVAL) a state taken
 * with a different disk.
 */
struct cJSON *virtio_blk_save(const struct virtio_blk *blk);
/* @err names the field ("capacity: 0x1000, but this disk has 0x800 sectors"). */
int virtio_blk_restore(struct virtio_blk *blk, const struct cJSON *json, char *err,
		       size_t errlen);

#endif
