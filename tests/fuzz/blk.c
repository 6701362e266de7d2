// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk request validation (virtio/blk_req.c, 5.2.6) on chains the split-ring walker
 * pops from RAM the input fills. A disk's shape (capacity, seg_max, read-only, features)
 * comes from the input's first four bytes. A request found valid must describe only guest
 * RAM, in the right direction, its length matching its iovec.
 */
#include <stdlib.h>

#include "tests/fuzz/fuzz_ring.h"
#include "virtio/blk_internal.h"

static struct fuzz_ring ring;
static struct iovec iov[2 * FR_MAX_SIZE + 2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fr_init(&ring);
	return 0;
}

static bool in_ram(const void *p, size_t len)
{
	const uint8_t *lo = guest_mem_ptr(&ring.mem, 0, FR_REGION),
		      *hi = guest_mem_ptr(&ring.mem, FR_REGION + FR_GAP, FR_REGION), *b = p;

	return (b >= lo && b + len <= lo + FR_REGION) || (b >= hi && b + len <= hi + FR_REGION);
}

static void check_req(const struct virtio_blk *blk, struct blk_req *r)
{
	uint64_t total = 0;

	if (!r->status || !in_ram(r->status, 1) || r->nr_iov > blk->seg_max + 2)
		abort();
	for (unsigned i = 0; i < r->nr_iov; i++) {
		if (!in_ram(r->iov[i].iov_base, r->iov[i].iov_len))
			abort();
		total += r->iov[i].iov_len;
	}
	if ((r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) &&
	    (total != r->len || r->offset + r->len > blk->capacity << 9 || r->len % 512))
		abort();
	if (r->op == BLK_OP_WRITE && blk->readonly)
		abort();
	if (r->op == BLK_OP_GET_ID)
		blk_req_get_id(blk, r);
	*r->status = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct virtio_blk blk = {
		.capacity = fz_take(&in, 2),
		.seg_max = 1 + (unsigned)fz_take(&in, 1),
		.readonly = size > 3 && data[3] & 1,
		.id = "fuzz-serial",
	};
	uint64_t features = size > 3 && data[3] & 2 ? VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) : 0;
	struct blk_req r = { .iov = iov };
	struct virtq *vq = &ring.vq;

	features |= size > 3 && data[3] & 4 ? VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) : 0;
	if (fz_take(&in, 1) & 8)
		blk.capacity = UINT64_MAX >> 9;        /* the largest a disk can claim */
	if (blk.seg_max > FR_MAX_SIZE)
		blk.seg_max = FR_MAX_SIZE;
	if (!fr_load(&ring, in.p, in.n))
		return 0;
	while (virtq_pop_chain(vq, &ring.chain) == 1) {
		if (blk_req_parse(&blk, features | ring.features, &ring.chain, &r) == VIRTIO_BLK_R_NR)
			check_req(&blk, &r);
		virtq_push_used(vq, ring.chain.head, 1);
	}
	virtq_reset(vq);
	return 0;
}
