// SPDX-License-Identifier: Apache-2.0
/*
 * Split virtqueue, device side (virtio 1.2 2.7). The rings live in guest RAM that the guest
 * writes concurrently: every descriptor is copied once into a local before it is checked and
 * used (no TOCTOU), every index is bounded, every buffer is translated with guest_mem_ptr()
 * (whole range inside RAM, overflow-checked), and chains are bounded by the queue size.
 *
 * Memory ordering (virtio 1.2 2.7.13): acquire after reading avail->idx and before the
 * ring/descriptors; release between the used element and used->idx; a full fence between
 * publishing used->idx and reading the driver's suppression state, and between re-enabling
 * kicks and re-reading avail->idx.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtqueue.h"
#include "base/log.h"
#include "base/memory.h"

/* 2.7.5: struct virtq_desc, 16 bytes. */
#define DESC_SIZE          16
/* 2.7.6 avail {flags, idx, ring[N], used_event}; 2.7.8 used {flags, idx, ring[N], avail_event}. */
#define AVAIL_RING(i)      (4 + 2 * (uint64_t)(i))
#define USED_RING(i)       (4 + 8 * (uint64_t)(i))
#define AVAIL_BYTES(n)     (6 + 2 * (uint64_t)(n))
#define USED_BYTES(n)      (6 + 8 * (uint64_t)(n))

static const char *const error_names[VIRTQ_NR_ERRORS] = {
	[VIRTQ_E_AVAIL_IDX - VIRTQ_E_BASE] = "avail index jump",
	[VIRTQ_E_HEAD - VIRTQ_E_BASE] = "head index out of range",
	[VIRTQ_E_NEXT - VIRTQ_E_BASE] = "next index out of range",
	[VIRTQ_E_CHAIN_LEN - VIRTQ_E_BASE] = "chain too long (loop?)",
	[VIRTQ_E_BUFFER - VIRTQ_E_BASE] = "buffer outside guest RAM",
	[VIRTQ_E_ORDER - VIRTQ_E_BASE] = "readable descriptor after a writable one",
	[VIRTQ_E_INDIRECT_FEATURE - VIRTQ_E_BASE] = "indirect descriptor not negotiated",
	[VIRTQ_E_INDIRECT_LEN - VIRTQ_E_BASE] = "indirect table length",
	[VIRTQ_E_INDIRECT_SIZE - VIRTQ_E_BASE] = "indirect table larger than the queue",
	[VIRTQ_E_INDIRECT_NESTED - VIRTQ_E_BASE] = "nested indirect descriptor",
	[VIRTQ_E_INDIRECT_NEXT - VIRTQ_E_BASE] = "indirect descriptor with NEXT",
	[VIRTQ_E_BROKEN - VIRTQ_E_BASE] = "queue broken",
};

const char *virtq_strerror(int err)
{
	int code = err < 0 ? -err : err;

	if (code >= VIRTQ_E_BASE && code < VIRTQ_E_END)
		return error_names[code - VIRTQ_E_BASE];
	return strerror(code);
}

int virtq_chain_init(struct virtq_chain *c, unsigned cap)
{
	memset(c, 0, sizeof(*c));
	c->segs = calloc(cap ? cap : 1, sizeof(*c->segs));
	if (!c->segs)
		return -ENOMEM;
	c->cap = cap;
	return 0;
}

void virtq_chain_free(struct virtq_chain *c)
{
	free(c->segs);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------ ring access */

static inline uint16_t ring_load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline void ring_store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void ring_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ setup */

void virtq_init(struct virtq *vq, const struct guest_mem *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int virtq_check_rings(const struct guest_mem *mem, unsigned size, uint64_t desc,
		      uint64_t avail, uint64_t used)
{
	/* 2.7: power-of-two size; 2.7.5/2.7.6/2.7.8: alignments 16, 2, 4. */
	if (!is_pow2(size) || size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -EINVAL;
	if (!guest_mem_ptr(mem, desc, (uint64_t)size * DESC_SIZE) ||
	    !guest_mem_ptr(mem, avail, AVAIL_BYTES(size)) ||
	    !guest_mem_ptr(mem, used, USED_BYTES(size)))
		return -EFAULT;
	return 0;
}

int virtq_enable(struct virtq *vq, unsigned size, uint64_t desc, uint64_t avail, uint64_t used)
{
	int ret = virtq_check_rings(vq->mem, size, desc, avail, used);

	if (ret)
		return ret;
	virtq_reset(vq);
	vq->size = (uint16_t)size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->desc = guest_mem_ptr(vq->mem, desc, (uint64_t)size * DESC_SIZE);
	vq->avail = guest_mem_ptr(vq->mem, avail, AVAIL_BYTES(size));
	vq->used = guest_mem_ptr(vq->mem, used, USED_BYTES(size));
	vq->ready = true;
	return 0;
}

void virtq_set_features(struct virtq *vq, uint64_t features)
{
	vq->event_idx = features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
}

void virtq_reset(struct virtq *vq)
{
	vq->ready = false;
	vq->broken = false;
	vq->size = 0;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->desc = vq->avail = vq->used = NULL;
	vq->next_avail = vq->next_used = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
}

/* ------------------------------------------------------------------ pop */

static int vq_fail(struct virtq *vq, int code)
{
	vq->broken = true;
	vq->errors[code - VIRTQ_E_BASE]++;
	pr_warn_ratelimited("virtq: %s (size %u, next_avail %u): queue stopped",
			    error_names[code - VIRTQ_E_BASE], vq->size, vq->next_avail);
	return -code;
}

/* Walk state: the table being followed (the ring's or an indirect one). */
struct walk {
	const uint8_t *table;
	uint32_t entries;
	uint32_t ttl;                 /* descriptors still allowed in this table */
	bool in_indirect;
	bool seen_write;
};

static int add_seg(struct virtq *vq, struct virtq_chain *c, struct walk *w, uint64_t addr,
		   uint32_t len, bool write)
{
	void *p = guest_mem_ptr(vq->mem, addr, len);

	if (!p)
		return VIRTQ_E_BUFFER;
	/* 2.7.4.2: device-readable descriptors precede device-writable ones. */
	if (!write && w->seen_write)
		return VIRTQ_E_ORDER;
	w->seen_write |= write;
	if (!len)
		return 0;
	c->segs[c->nr++] = (struct virtq_seg){ p, len, write };
	if (write) {
		c->write_len += len;
	} else {
		c->read_len += len;
		c->nr_read++;
	}
	return 0;
}

/*
 * Switches the walk to the indirect table @d refers to (2.7.5.3): negotiated, not nested,
 * no NEXT, length a non-zero multiple of 16 with at most size entries, inside RAM. The
 * WRITE flag of the referring descriptor is ignored (2.7.5.3.2).
 */
static int enter_indirect(struct virtq *vq, struct walk *w, uint64_t addr, uint32_t len,
			  uint16_t flags)
{
	if (w->in_indirect)
		return VIRTQ_E_INDIRECT_NESTED;
	if (!vq->indirect)
		return VIRTQ_E_INDIRECT_FEATURE;
	if (flags & VRING_DESC_F_NEXT)
		return VIRTQ_E_INDIRECT_NEXT;
	if (!len || len % DESC_SIZE)
		return VIRTQ_E_INDIRECT_LEN;
	if (len / DESC_SIZE > vq->size)
		return VIRTQ_E_INDIRECT_SIZE;
	w->table = guest_mem_ptr(vq->mem, addr, len);
	if (!w->table)
		return VIRTQ_E_BUFFER;
	w->entries = len / DESC_SIZE;
	w->ttl = w->entries;
	w->in_indirect = true;
	return 0;
}

/* Follows the chain from @head; returns 0 or a VIRTQ_E_* code (positive). */
static int walk_chain(struct virtq *vq, struct virtq_chain *c, uint16_t head)
{
	struct walk w = { vq->desc, vq->size, vq->size, false, false };
	uint32_t idx = head;

	for (;;) {
		struct vring_desc d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		int ret;

		/* 2.7.5.3.1 / 2.7.5.2: no chain longer than the queue, no loops. */
		if (!w.ttl--)
			return VIRTQ_E_CHAIN_LEN;
		memcpy(&d, w.table + (uint64_t)idx * DESC_SIZE, sizeof(d));   /* read once */
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			ret = enter_indirect(vq, &w, addr, len, flags);
			if (ret)
				return ret;
			idx = 0;
			continue;
		}
		ret = add_seg(vq, c, &w, addr, len, flags & VRING_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
		if (idx >= w.entries)
			return VIRTQ_E_NEXT;
	}
}

int virtq_pop_chain(struct virtq *vq, struct virtq_chain *c)
{
	uint16_t avail_idx, head;
	int ret;

	if (!vq->ready)
		return 0;
	if (vq->broken)
		return -VIRTQ_E_BROKEN;
	if (c->cap < virtq_chain_max(vq->size))
		return -EINVAL;
	avail_idx = ring_load16(vq->avail + 2);
	/* More than a queue's worth ahead cannot be real (FC InvalidAvailIdx). */
	if ((uint16_t)(avail_idx - vq->next_avail) > vq->size)
		return vq_fail(vq, VIRTQ_E_AVAIL_IDX);
	if (avail_idx == vq->next_avail)
		return 0;
	/* The ring entry and descriptors were written before avail->idx (2.7.13.3). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = ring_load16(vq->avail + AVAIL_RING(vq->next_avail % vq->size));
	if (head >= vq->size)
		return vq_fail(vq, VIRTQ_E_HEAD);
	c->head = head;
	c->nr = c->nr_read = 0;
	c->read_len = c->write_len = 0;
	ret = walk_chain(vq, c, head);
	if (ret)
		return vq_fail(vq, ret);
	vq->next_avail++;
	vq->popped++;
	return 1;
}

/* ------------------------------------------------------------------ used ring */

int virtq_push_used(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *elem;

	if (!vq->ready || head >= vq->size)
		return -EINVAL;
	if (vq->broken)
		return -EIO;
	elem = vq->used + USED_RING(vq->next_used % vq->size);
	ring_store32(elem, head);
	ring_store32(elem + 4, len);
	/* The element must be visible before the index that publishes it (2.7.8.2). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	vq->next_used++;
	ring_store16(vq->used + 2, vq->next_used);
	vq->pushed++;
	return 0;
}

bool virtq_needs_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new_idx = vq->next_used;
	bool valid = vq->signalled_valid, notify;

	if (!vq->ready || vq->broken)
		return false;
	/* used->idx must be visible before we read what the driver asked for (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	/* Nothing pushed since the last notification (or since the queue was enabled, when
	 * signalled_used = next_used = 0): no batch holds 65536 entries, so equal means none. */
	if (old == new_idx)
		return false;
	if (vq->event_idx) {
		uint16_t used_event = ring_load16(vq->avail + AVAIL_RING(vq->size));

		notify = !valid || virtq_need_event(used_event, new_idx, old);
	} else {
		notify = !(ring_load16(vq->avail) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	return notify;
}

void virtq_disable_notify(struct virtq *vq)
{
	/* With EVENT_IDX, leaving avail_event behind next_avail already suppresses kicks. */
	if (!vq->ready || vq->event_idx)
		return;
	ring_store16(vq->used, VRING_USED_F_NO_NOTIFY);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx)
		ring_store16(vq->used + USED_RING(vq->size), vq->next_avail);   /* avail_event */
	else
		ring_store16(vq->used, 0);
	/* Publish the request before re-checking, or a buffer added meanwhile goes unseen. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ring_load16(vq->avail + 2) != vq->next_avail;
}
