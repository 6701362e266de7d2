// SPDX-License-Identifier: Apache-2.0
/*
 * direct=on requests whose segments O_DIRECT cannot take: an address or length that misses
 * the file's memory alignment (statx STATX_DIOALIGN). Linux drivers align their buffers;
 * another driver, or a header sharing its descriptor with the data (virtio 1.2 2.6.4), need
 * not. Such a request moves through the queue's one aligned buffer, BLK_BOUNCE_CHUNK bytes at
 * a time, instead of failing. One request owns the buffer; later ones wait in order. So a
 * guest that sends nothing but misaligned requests, however large or aliased, costs one
 * chunk of host memory per queue, and aligned requests never copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk_internal.h"

#define BLK_BOUNCE_CHUNK (256u << 10)

bool blk_bounce_needed(const struct blk_queue *q, const struct blk_req *r)
{
	uintptr_t bits = 0;
	unsigned i;

	if (!q->blk->direct || (r->op != BLK_OP_READ && r->op != BLK_OP_WRITE))
		return false;
	for (i = 0; i < r->nr_iov; i++)
		bits |= (uintptr_t)r->iov[i].iov_base | r->iov[i].iov_len;
	return bits & (q->blk->dio_mem_align - 1);
}

int blk_bounce_claim(struct blk_queue *q, struct blk_req *r)
{
	struct blk_bounce *b = &q->bounce;
	size_t align = q->blk->dio_mem_align > 4096 ? q->blk->dio_mem_align : 4096;

	if (!b->buf && posix_memalign((void **)&b->buf, align, BLK_BOUNCE_CHUNK)) {
		b->buf = NULL;
		return -ENOMEM;
	}
	blk_count_add(&q->blk->ctr.bounced, 1);
	r->bounced = true;
	r->bounce_next = NULL;
	if (!b->owner) {
		b->owner = r;
		return 1;
	}
	if (b->tail)
		b->tail->bounce_next = r;
	else
		b->head = r;
	b->tail = r;
	return 0;
}

/* Copies @n bytes between the guest's segments, from byte @off on, and @buf. */
static void copy_guest(struct blk_req *r, uint64_t off, uint8_t *buf, size_t n, bool to_buf)
{
	unsigned i;

	for (i = 0; i < r->nr_iov && n; i++) {
		size_t len = r->iov[i].iov_len, m;
		uint8_t *g;

		if (off >= len) {
			off -= len;
			continue;
		}
		m = len - off < n ? len - off : n;
		g = (uint8_t *)r->iov[i].iov_base + off;
		memcpy(to_buf ? buf : g, to_buf ? g : buf, m);
		buf += m;
		n -= m;
		off = 0;
	}
}

const struct iovec *blk_bounce_chunk(struct blk_queue *q, struct blk_req *r)
{
	struct blk_bounce *b = &q->bounce;
	uint64_t left = r->len - r->done;

	b->iov = (struct iovec){ b->buf, left < BLK_BOUNCE_CHUNK ? left : BLK_BOUNCE_CHUNK };
	if (r->op == BLK_OP_WRITE)
		copy_guest(r, r->done, b->buf, b->iov.iov_len, true);
	return &b->iov;
}

bool blk_bounce_advance(struct blk_queue *q, struct blk_req *r, uint64_t n)
{
	if (n > q->bounce.iov.iov_len)
		n = q->bounce.iov.iov_len;
	if (r->op == BLK_OP_READ)
		copy_guest(r, r->done, q->bounce.buf, n, false);
	r->done += n;
	return r->done >= r->len;
}

struct blk_req *blk_bounce_release(struct blk_queue *q, struct blk_req *r)
{
	struct blk_bounce *b = &q->bounce;

	r->bounced = false;
	if (b->owner != r)
		return NULL;              /* failed before it got the buffer */
	b->owner = b->head;
	if (b->head && !(b->head = b->head->bounce_next))
		b->tail = NULL;
	return b->owner;
}

void blk_bounce_free(struct blk_queue *q)
{
	free(q->bounce.buf);
	memset(&q->bounce, 0, sizeof(q->bounce));
}
