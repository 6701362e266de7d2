// SPDX-License-Identifier: Apache-2.0
/*
 * The split-ring walker (virtio/virtqueue.c) against RAM the input fills: every chain popped
 * is checked against what the walker promises (segments inside RAM, readable ones first,
 * lengths adding up), then pushed, with the notification decisions in between.
 */
#include <stdlib.h>

#include "tests/fuzz/fuzz_ring.h"

static struct fuzz_ring ring;
static volatile unsigned sink;       /* keeps the reads of guest bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fr_init(&ring);
	return 0;
}

/* What virtq_pop_chain promises of a chain it returns; a broken promise is a finding. */
static void check_chain(const struct virtq *vq, const struct virtq_chain *c)
{
	uint64_t rd = 0, wr = 0;
	unsigned sum = 0;

	if (c->head >= vq->size || c->nr > c->cap || c->nr_read > c->nr)
		abort();
	for (unsigned i = 0; i < c->nr; i++) {
		const struct virtq_seg *s = &c->segs[i];
		uint8_t *lo = guest_mem_ptr(&ring.mem, 0, FR_REGION),
			*hi = guest_mem_ptr(&ring.mem, FR_REGION + FR_GAP, FR_REGION);
		uint8_t *p = s->addr;

		if (!s->len || s->write != (i >= c->nr_read))
			abort();
		if (!((p >= lo && p + s->len <= lo + FR_REGION) ||
		      (p >= hi && p + s->len <= hi + FR_REGION)))
			abort();
		if (s->write)
			memset(p, 0xa5, s->len);       /* the device may write all of it */
		else
			sum += p[0] + p[s->len - 1];   /* and read all of it */
		*(s->write ? &wr : &rd) += s->len;
	}
	if (rd != c->read_len || wr != c->write_len)
		abort();
	sink = sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq *vq = &ring.vq;
	int ret;

	if (!fr_load(&ring, data, size))
		return 0;
	for (unsigned i = 0; i < 2u * vq->size + 2; i++) {
		if (i & 1)
			virtq_disable_notify(vq);
		ret = virtq_pop_chain(vq, &ring.chain);
		if (ret <= 0) {
			if (ret < 0 && (!vq->broken || virtq_pop_chain(vq, &ring.chain) >= 0))
				abort();           /* an error breaks the queue for good */
			if (ret == 0 && virtq_enable_notify(vq))
				continue;
			break;
		}
		check_chain(vq, &ring.chain);
		if (virtq_push_used(vq, ring.chain.head, (uint32_t)ring.chain.write_len))
			abort();
		virtq_needs_notify(vq);
	}
	virtq_reset(vq);
	return 0;
}
