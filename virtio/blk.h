/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VIREO_VIRTIO_BLK_H
#define VIREO_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"
#include "virtio/ratelimit.h"

struct cJSON;

/*
 * virtio-blk (5.2) on a raw image: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES; one worker
 * thread per queue; io_uring with many requests in flight, or synchronous I/O. Every request
 * is validated before it costs a rate-limit token or touches the file. Design, limits and
 * the wiring checklist: docs/virtio-blk.md.
 */
#define VIRTIO_BLK_SECTOR_SHIFT   9
#define VIRTIO_BLK_SECTOR_SIZE    512u
#define VIRTIO_BLK_MAX_QUEUES     64           /* one thread each */
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
		   const struct guest_mem *mem, struct virtio_blk **out, char *err, size_t errlen);
/* The device a transport carries (queue count, sizes and features are this disk's). */
struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk);
/* Resets nothing: call after virtio_pci_destroy() (which stops the workers). */
void virtio_blk_free(struct virtio_blk *blk);
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
