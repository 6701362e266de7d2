/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side of split virtqueues (virtio 1.2 2.7): ring checks, chain validation with
 * every guest value treated as hostile, the used ring and the notification decisions.
 */
#ifndef VIREO_VIRTIO_VIRTQUEUE_H
#define VIREO_VIRTIO_VIRTQUEUE_H

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

#define VIRTIO_BIT(b)        (1ULL << (b))
#define VIRTQ_MAX_SIZE       32768   /* 2.7: Queue Size <= 32768 */

/*
 * Structural violations a hostile or buggy driver can cause (virtio 1.2 2.7.5, 2.7.13).
 * Each breaks the queue until it is reset and bumps vq->errors[code - VIRTQ_E_BASE]. The
 * codes start above the errno range, so "< 0" still means failure and never alias an errno.
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

#endif
