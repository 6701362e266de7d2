// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk request validation (virtio 1.2 5.2.6). A request is a descriptor chain: a
 * 16-byte device-readable header {type, reserved, sector}, data, and a device-writable status
 * byte. Everything about it is checked here, before the rate limiter or the file sees it,
 * on a chain whose segments virtq_pop_chain() already bounds-checked against guest RAM.
 *
 * Framing (2.6.4): the header is the first 16 device-readable bytes, however the driver split
 * them over descriptors, the status the last byte of the last segment; bytes around them in
 * those segments are data. The guest can
 * rewrite its buffers at any time, so each header or segment descriptor is copied once into
 * a local before it is looked at.
 */
#include <endian.h>
#include <string.h>

#include "virtio/blk_internal.h"

#define HDR_LEN  sizeof(struct virtio_blk_outhdr)
#define DWZ_LEN  sizeof(struct virtio_blk_discard_write_zeroes)
#define DWZ_MAX_SEG 1                     /* max_discard_seg / max_write_zeroes_seg */

static const char *const reject_names[VIRTIO_BLK_R_NR] = {
	[VIRTIO_BLK_R_NO_STATUS] = "no device-writable status descriptor",
	[VIRTIO_BLK_R_SEGMENTS] = "more segments than seg_max + 2",
	[VIRTIO_BLK_R_SEG_SIZE] = "segment larger than size_max",
	[VIRTIO_BLK_R_HEADER] = "header missing, writable or short",
	[VIRTIO_BLK_R_READ_ONLY] = "write to a read-only disk",
	[VIRTIO_BLK_R_DIRECTION] = "data in the wrong direction",
	[VIRTIO_BLK_R_NO_DATA] = "request without data",
	[VIRTIO_BLK_R_FLUSH_DATA] = "flush carrying data",
	[VIRTIO_BLK_R_ALIGN] = "length not a multiple of 512",
	[VIRTIO_BLK_R_RANGE] = "sectors beyond capacity",
	[VIRTIO_BLK_R_DWZ_FORMAT] = "discard/write-zeroes segments malformed",
	[VIRTIO_BLK_R_DWZ_SECTORS] = "discard/write-zeroes segment too large",
	[VIRTIO_BLK_R_UNSUPP_TYPE] = "unsupported request type",
	[VIRTIO_BLK_R_UNSUPP_FLAGS] = "unsupported discard/write-zeroes flags",
};

const char *virtio_blk_reject_name(enum virtio_blk_reject r)
{
	return (unsigned)r < VIRTIO_BLK_R_NR ? reject_names[r] : "?";
}

/*
 * The data part of one direction: segments [first, end) minus @skip bytes at the front
 * (the header) and @trim at the back (the status byte).
 */
struct span {
	unsigned first, end;
	uint32_t skip, trim;
	uint64_t len;
};

/* Piece @i of @s: address and length after skip/trim (length may be 0). */
static uint32_t span_piece(const struct virtq_chain *c, const struct span *s, unsigned i,
			   uint8_t **addr)
{
	uint32_t len = c->segs[i].len;

	*addr = c->segs[i].addr;
	if (i == s->first) {
		*addr += s->skip;
		len -= s->skip;
	}
	if (i + 1 == s->end)
		len -= s->trim;
	return len;
}

static void span_to_iov(const struct virtq_chain *c, const struct span *s, struct blk_req *r)
{
	unsigned i;

	r->nr_iov = 0;
	for (i = s->first; i < s->end; i++) {
		uint8_t *p;
		uint32_t len = span_piece(c, s, i, &p);

		if (len)
			r->iov[r->nr_iov++] = (struct iovec){ p, len };
	}
}

/* Copies the first @len bytes of @s out of guest memory (@len <= s->len). */
static void span_read(const struct virtq_chain *c, const struct span *s, void *dst, size_t len)
{
	uint8_t *out = dst;
	unsigned i;

	for (i = s->first; i < s->end && len; i++) {
		uint8_t *p;
		uint32_t n = span_piece(c, s, i, &p);

		if (n > len)
			n = (uint32_t)len;
		memcpy(out, p, n);
		out += n;
		len -= n;
	}
}

/* [sector, sector + bytes / 512) inside the disk, without overflow. */
static bool in_range(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	return sector <= blk->capacity &&
	       bytes >> VIRTIO_BLK_SECTOR_SHIFT <= blk->capacity - sector;
}

/* IN / OUT: @data is the direction the type moves data in, @other must be empty. */
static enum virtio_blk_reject parse_rw(const struct virtio_blk *blk, const struct virtq_chain *c,
				       const struct span *data, const struct span *other,
				       uint64_t sector, struct blk_req *r)
{
	if (other->len)
		return VIRTIO_BLK_R_DIRECTION;
	if (!data->len)
		return VIRTIO_BLK_R_NO_DATA;
	if (data->len % VIRTIO_BLK_SECTOR_SIZE)
		return VIRTIO_BLK_R_ALIGN;
	if (!in_range(blk, sector, data->len))
		return VIRTIO_BLK_R_RANGE;
	r->offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
	r->len = data->len;
	span_to_iov(c, data, r);
	return VIRTIO_BLK_R_NR;
}

/* DISCARD / WRITE_ZEROES (5.2.6): one 16-byte segment {sector, num_sectors, flags}. */
static enum virtio_blk_reject parse_dwz(const struct virtio_blk *blk, uint64_t features,
					const struct virtq_chain *c, const struct span *rd,
					const struct span *wr, bool discard, struct blk_req *r)
{
	unsigned feature = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
	struct virtio_blk_discard_write_zeroes seg;
	uint32_t flags, num;
	uint64_t sector;

	if (blk->readonly)
		return VIRTIO_BLK_R_READ_ONLY;
	if (!(features & VIRTIO_BIT(feature)))
		return VIRTIO_BLK_R_UNSUPP_TYPE;
	if (wr->len)
		return VIRTIO_BLK_R_DIRECTION;
	if (!rd->len)
		return VIRTIO_BLK_R_NO_DATA;
	if (rd->len % DWZ_LEN || rd->len / DWZ_LEN > DWZ_MAX_SEG)
		return VIRTIO_BLK_R_DWZ_FORMAT;
	span_read(c, rd, &seg, sizeof(seg));
	sector = le64toh(seg.sector);
	num = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	/* 5.2.6.2: UNSUPP for unknown flags, and for unmap on a discard. */
	if (flags & ~(discard ? 0u : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		return VIRTIO_BLK_R_UNSUPP_FLAGS;
	if (num > VIRTIO_BLK_DWZ_MAX_SECTORS)
		return VIRTIO_BLK_R_DWZ_SECTORS;
	if (!in_range(blk, sector, (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_R_RANGE;
	r->op = discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES;
	r->offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
	r->len = (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT;
	r->unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	return VIRTIO_BLK_R_NR;
}

/* Structure first: status, segment count and sizes, header. */
static enum virtio_blk_reject check_frame(const struct virtio_blk *blk,
					  const struct virtq_chain *c, struct blk_req *r)
{
	const struct virtq_seg *last;
	unsigned i;

	r->status = NULL;
	if (!c->nr || !c->segs[c->nr - 1].write)
		return VIRTIO_BLK_R_NO_STATUS;
	last = &c->segs[c->nr - 1];
	r->status = (uint8_t *)last->addr + last->len - 1;   /* len >= 1: empty ones skipped */
	if (c->nr > blk->seg_max + 2)
		return VIRTIO_BLK_R_SEGMENTS;
	for (i = 0; i < c->nr; i++) {
		if (c->segs[i].len > VIRTIO_BLK_SIZE_MAX)
			return VIRTIO_BLK_R_SEG_SIZE;
	}
	if (c->read_len < HDR_LEN)
		return VIRTIO_BLK_R_HEADER;
	return VIRTIO_BLK_R_NR;
}

enum virtio_blk_reject blk_req_parse(const struct virtio_blk *blk, uint64_t features,
				     const struct virtq_chain *c, struct blk_req *r)
{
	struct span hd = { 0, c->nr_read, 0, 0, HDR_LEN };
	struct span rd = { 0, c->nr_read, HDR_LEN, 0, 0 };
	struct span wr = { c->nr_read, c->nr, 0, 1, 0 };
	struct virtio_blk_outhdr hdr;
	enum virtio_blk_reject rej;
	uint64_t sector;

	r->head = c->head;
	r->nr_iov = 0;
	r->done = 0;
	r->unmap = false;
	r->offset = r->len = 0;
	rej = check_frame(blk, c, r);
	if (rej != VIRTIO_BLK_R_NR)
		return rej;
	span_read(c, &hd, &hdr, HDR_LEN);                /* read once, wherever it lies */
	/* The data starts in the segment where the header's 16 bytes end. */
	while (rd.first < rd.end && rd.skip >= c->segs[rd.first].len)
		rd.skip -= c->segs[rd.first++].len;
	rd.len = c->read_len - HDR_LEN;
	wr.len = c->write_len - 1;
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		r->op = BLK_OP_READ;
		return parse_rw(blk, c, &wr, &rd, sector, r);
	case VIRTIO_BLK_T_OUT:
		r->op = BLK_OP_WRITE;
		if (blk->readonly)
			return VIRTIO_BLK_R_READ_ONLY;   /* 5.2.6.2: before any I/O */
		return parse_rw(blk, c, &rd, &wr, sector, r);
	case VIRTIO_BLK_T_FLUSH:
		r->op = BLK_OP_FLUSH;
		return rd.len || wr.len ? VIRTIO_BLK_R_FLUSH_DATA : VIRTIO_BLK_R_NR;
	case VIRTIO_BLK_T_GET_ID:
		r->op = BLK_OP_GET_ID;
		if (rd.len)
			return VIRTIO_BLK_R_DIRECTION;
		if (!wr.len)
			return VIRTIO_BLK_R_NO_DATA;
		span_to_iov(c, &wr, r);
		return VIRTIO_BLK_R_NR;
	case VIRTIO_BLK_T_DISCARD:
		return parse_dwz(blk, features, c, &rd, &wr, true, r);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_dwz(blk, features, c, &rd, &wr, false, r);
	default:
		return VIRTIO_BLK_R_UNSUPP_TYPE;
	}
}

uint32_t blk_req_get_id(const struct virtio_blk *blk, struct blk_req *r)
{
	uint32_t done = 0;
	unsigned i;

	/* 5.2.6: up to 20 bytes, NUL-padded; a shorter buffer gets what fits. */
	for (i = 0; i < r->nr_iov && done < VIRTIO_BLK_ID_LEN; i++) {
		uint32_t n = VIRTIO_BLK_ID_LEN - done;

		if (n > r->iov[i].iov_len)
			n = (uint32_t)r->iov[i].iov_len;
		memcpy(r->iov[i].iov_base, blk->id + done, n);
		done += n;
	}
	return done;
}
