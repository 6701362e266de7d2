/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A guest whose RAM is the fuzz input: two 64 KiB regions with a hole between them (so
 * buffers can straddle the end of RAM), one split ring at fixed addresses in the first, its
 * size and negotiated ring features from the input's first two bytes. Everything else the
 * device reads (descriptors, avail ring and index, headers, data) is the rest of the input.
 */
#ifndef VIREO_TESTS_FUZZ_FUZZ_RING_H
#define VIREO_TESTS_FUZZ_FUZZ_RING_H

#include <stdlib.h>

#include "base/memory.h"
#include "tests/fuzz/fuzz.h"
#include "virtio/virtqueue.h"

#define FR_REGION   0x10000ULL
#define FR_GAP      0x10000ULL
#define FR_MAX_SIZE 16              /* small rings keep inputs (and the corpus) small */
#define FR_DESC     0x0ULL
#define FR_AVAIL    0x100ULL
#define FR_USED     0x140ULL

struct fuzz_ring {
	struct guest_mem mem;
	struct virtq vq;
	struct virtq_chain chain;
	uint64_t features;               /* the ring bits the input asked for */
};

static inline void fr_init(struct fuzz_ring *r)
{
	const struct guest_region layout[2] = {
		{ .gpa = 0, .size = FR_REGION },
		{ .gpa = FR_REGION + FR_GAP, .size = FR_REGION },
	};

	fz_quiet();
	if (guest_mem_create(&r->mem, layout, 2) ||
	    virtq_chain_init(&r->chain, virtq_chain_max(FR_MAX_SIZE)))
		abort();
}

/* Fills RAM from @data and enables the ring; false if the ring is refused (tiny inputs). */
static inline bool fr_load(struct fuzz_ring *r, const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	unsigned qsize = 1u << (fz_take(&in, 1) % 5);
	unsigned flags = (unsigned)fz_take(&in, 1);
	size_t first = in.n < FR_REGION ? in.n : FR_REGION, rest = in.n - first;

	if (rest > FR_REGION)
		rest = FR_REGION;
	memset(guest_mem_ptr(&r->mem, 0, FR_REGION), 0, FR_REGION);
	memset(guest_mem_ptr(&r->mem, FR_REGION + FR_GAP, FR_REGION), 0, FR_REGION);
	guest_mem_write(&r->mem, 0, in.p, first);
	guest_mem_write(&r->mem, FR_REGION + FR_GAP, in.p + first, rest);
	r->features = (flags & 1 ? VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) : 0) |
		      (flags & 2 ? VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
		      VIRTIO_BIT(VIRTIO_F_VERSION_1);
	virtq_init(&r->vq, &r->mem);
	if (virtq_enable(&r->vq, qsize, FR_DESC, FR_AVAIL, FR_USED))
		return false;
	virtq_set_features(&r->vq, r->features);
	return true;
}

#endif
