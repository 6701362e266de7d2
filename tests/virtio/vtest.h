/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-side driver helpers: craft split rings (virtio 1.2 2.7) in a real struct guest_mem
 * the way a driver would, and poke a virtio-pci BAR0 through its bus handler.
 */
#ifndef VIREO_TESTS_VIRTIO_VTEST_H
#define VIREO_TESTS_VIRTIO_VTEST_H

#include <stdint.h>
#include <string.h>

#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "arch/x86_64/arch.h"
#include "base/memory.h"

/* A driver's view of one split ring at guest address @base. */
struct drv_ring {
	struct guest_mem *mem;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx;
};

static inline void *gp(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	assert_non_null(p);
	return p;
}

static inline void drv_init(struct drv_ring *r, struct guest_mem *mem, uint16_t size,
			    uint64_t base)
{
	uint64_t bytes;

	r->mem = mem;
	r->size = size;
	r->desc = base;
	r->avail = base + 16ULL * size;
	r->used = (r->avail + 6 + 2ULL * size + 4095) & ~4095ULL;
	r->avail_idx = 0;
	bytes = r->used + 6 + 8ULL * size - base;
	memset(gp(mem, base, bytes), 0, bytes);
}

static inline void drv_desc(struct drv_ring *r, uint16_t i, uint64_t addr, uint32_t len,
			    uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(gp(r->mem, r->desc + 16ULL * i, 16), &d, 16);
}

/* A descriptor inside an indirect table at @table. */
static inline void drv_idesc(struct guest_mem *mem, uint64_t table, uint16_t i, uint64_t addr,
			     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(gp(mem, table + 16ULL * i, 16), &d, 16);
}

static inline uint16_t *drv_u16(struct drv_ring *r, uint64_t gpa)
{
	return gp(r->mem, gpa, 2);
}

static inline void drv_set_avail_idx(struct drv_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	__atomic_store_n(drv_u16(r, r->avail + 2), idx, __ATOMIC_RELEASE);
}

/* Puts @head in the next avail slot and publishes it. */
static inline void drv_publish(struct drv_ring *r, uint16_t head)
{
	*drv_u16(r, r->avail + 4 + 2ULL * (r->avail_idx % r->size)) = head;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	drv_set_avail_idx(r, (uint16_t)(r->avail_idx + 1));
}

static inline void drv_set_avail_flags(struct drv_ring *r, uint16_t flags)
{
	*drv_u16(r, r->avail) = flags;
}

static inline void drv_set_used_event(struct drv_ring *r, uint16_t v)
{
	*drv_u16(r, r->avail + 4 + 2ULL * r->size) = v;
}

static inline uint16_t drv_used_idx(struct drv_ring *r)
{
	return __atomic_load_n(drv_u16(r, r->used + 2), __ATOMIC_ACQUIRE);
}

static inline uint16_t drv_used_flags(struct drv_ring *r)
{
	return *drv_u16(r, r->used);
}

static inline uint16_t drv_avail_event(struct drv_ring *r)
{
	return *drv_u16(r, r->used + 4 + 8ULL * r->size);
}

static inline void drv_used_elem(struct drv_ring *r, uint16_t slot, uint32_t *id, uint32_t *len)
{
	uint32_t *e = gp(r->mem, r->used + 4 + 8ULL * (slot % r->size), 8);

	*id = __atomic_load_n(&e[0], __ATOMIC_RELAXED);
	*len = __atomic_load_n(&e[1], __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ BAR0 access */

static inline uint64_t bar_rd(struct virtio_pci *vp, uint64_t off, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;
	unsigned i;

	virtio_pci_bar_ops.read(vp, off, d, len);
	for (i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static inline void bar_wr(struct virtio_pci *vp, uint64_t off, unsigned len, uint64_t v)
{
	uint8_t d[8];
	unsigned i;

	for (i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	virtio_pci_bar_ops.write(vp, off, d, len);
}

#define COMMON(f) (VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_##f)

static inline void drv_status(struct virtio_pci *vp, uint8_t s)
{
	bar_wr(vp, COMMON(STATUS), 1, s);
}

static inline uint8_t drv_get_status(struct virtio_pci *vp)
{
	return (uint8_t)bar_rd(vp, COMMON(STATUS), 1);
}

/* Driver features, both halves. */
static inline void drv_features(struct virtio_pci *vp, uint64_t f)
{
	bar_wr(vp, COMMON(GFSELECT), 4, 0);
	bar_wr(vp, COMMON(GF), 4, (uint32_t)f);
	bar_wr(vp, COMMON(GFSELECT), 4, 1);
	bar_wr(vp, COMMON(GF), 4, (uint32_t)(f >> 32));
}

static inline uint64_t drv_offered(struct virtio_pci *vp)
{
	uint64_t f;

	bar_wr(vp, COMMON(DFSELECT), 4, 0);
	f = bar_rd(vp, COMMON(DF), 4);
	bar_wr(vp, COMMON(DFSELECT), 4, 1);
	return f | bar_rd(vp, COMMON(DF), 4) << 32;
}

/* queue_select, size, addresses (as 32-bit halves, like Linux), then queue_enable = 1. */
static inline void drv_queue(struct virtio_pci *vp, uint16_t q, const struct drv_ring *r)
{
	bar_wr(vp, COMMON(Q_SELECT), 2, q);
	bar_wr(vp, COMMON(Q_SIZE), 2, r->size);
	bar_wr(vp, COMMON(Q_DESCLO), 4, (uint32_t)r->desc);
	bar_wr(vp, COMMON(Q_DESCHI), 4, r->desc >> 32);
	bar_wr(vp, COMMON(Q_AVAILLO), 4, (uint32_t)r->avail);
	bar_wr(vp, COMMON(Q_AVAILHI), 4, r->avail >> 32);
	bar_wr(vp, COMMON(Q_USEDLO), 4, (uint32_t)r->used);
	bar_wr(vp, COMMON(Q_USEDHI), 4, r->used >> 32);
	bar_wr(vp, COMMON(Q_ENABLE), 2, 1);
}

#endif
