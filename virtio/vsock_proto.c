// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's wire formats (virtio 1.2 5.10.6) and the hybrid backend's CONNECT line.
 * Everything a guest or a host client sends is hostile: headers are copied out of guest
 * memory once and checked before anything acts on them.
 */
#include <errno.h>
#include <string.h>

#include "virtio/vsock_proto.h"

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets of struct virtio_vsock_hdr's fields (packed, little endian: 5.10.6). */
enum { O_SRC_CID = 0, O_DST_CID = 8, O_SRC_PORT = 16, O_DST_PORT = 20, O_LEN = 24,
       O_TYPE = 28, O_OP = 30, O_FLAGS = 32, O_BUF_ALLOC = 36, O_FWD_CNT = 40 };

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h)
{
	h->src_cid = get_le(raw + O_SRC_CID, 8);
	h->dst_cid = get_le(raw + O_DST_CID, 8);
	h->src_port = (uint32_t)get_le(raw + O_SRC_PORT, 4);
	h->dst_port = (uint32_t)get_le(raw + O_DST_PORT, 4);
	h->len = (uint32_t)get_le(raw + O_LEN, 4);
	h->type = (uint16_t)get_le(raw + O_TYPE, 2);
	h->op = (uint16_t)get_le(raw + O_OP, 2);
	h->flags = (uint32_t)get_le(raw + O_FLAGS, 4);
	h->buf_alloc = (uint32_t)get_le(raw + O_BUF_ALLOC, 4);
	h->fwd_cnt = (uint32_t)get_le(raw + O_FWD_CNT, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
	put_le(raw + O_SRC_CID, h->src_cid, 8);
	put_le(raw + O_DST_CID, h->dst_cid, 8);
	put_le(raw + O_SRC_PORT, h->src_port, 4);
	put_le(raw + O_DST_PORT, h->dst_port, 4);
	put_le(raw + O_LEN, h->len, 4);
	put_le(raw + O_TYPE, h->type, 2);
	put_le(raw + O_OP, h->op, 2);
	put_le(raw + O_FLAGS, h->flags, 4);
	put_le(raw + O_BUF_ALLOC, h->buf_alloc, 4);
	put_le(raw + O_FWD_CNT, h->fwd_cnt, 4);
}

static enum vsock_verdict drop(const char **why, const char *msg)
{
	*why = msg;
	return VSOCK_PKT_DROP;
}

enum vsock_verdict vsock_check_tx(const struct vsock_hdr *h, uint64_t guest_cid,
				  uint64_t read_len, uint64_t write_len, const char **why)
{
	*why = NULL;
	/* 5.10.6.2: the driver's TX buffers are device-readable only, header first. */
	if (write_len)
		return drop(why, "device-writable buffer on the TX queue");
	if (read_len < VSOCK_HDR_SIZE)
		return drop(why, "shorter than a header");
	if (h->src_cid != guest_cid)
		return drop(why, "src_cid is not the guest's CID");
	if (h->dst_cid != VSOCK_HOST_CID)
		return drop(why, "dst_cid is not the host (2)");   /* no guest-to-guest */
	if (h->len > read_len - VSOCK_HDR_SIZE)
		return drop(why, "len runs past the buffer");
	if (h->len > VSOCK_MAX_PKT_PAYLOAD)
		return drop(why, "len above 64 KiB");
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len)
		return drop(why, "payload on a control packet");
	/* Never answer an RST with an RST (5.10.6.3): two devices would ping-pong. */
	if (h->op == VIRTIO_VSOCK_OP_RST)
		return h->type == VIRTIO_VSOCK_TYPE_STREAM ? VSOCK_PKT_OK
							  : drop(why, "RST of an unknown type");
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		*why = "type is not STREAM";
		return VSOCK_PKT_RST;
	}
	if (h->op == VIRTIO_VSOCK_OP_INVALID || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
		*why = "unknown op";
		return VSOCK_PKT_RST;
	}
	return VSOCK_PKT_OK;
}

/* ------------------------------------------------------------------ chains */

/* Segments [first, end) of the chain: the readable ones, or the writable ones. */
static void seg_range(const struct virtq_chain *c, bool writable, unsigned *first, unsigned *end)
{
	*first = writable ? c->nr_read : 0;
	*end = writable ? c->nr : c->nr_read;
}

unsigned vsock_chain_iov(const struct virtq_chain *c, bool writable, size_t off, size_t len,
			 struct iovec *iov, unsigned max, size_t *got)
{
	unsigned i, end, n = 0;

	*got = 0;
	seg_range(c, writable, &i, &end);
	for (; i < end && n < max && *got < len; i++) {
		size_t seg = c->segs[i].len, take;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		take = seg - off;
		if (take > len - *got)
			take = len - *got;
		iov[n].iov_base = (uint8_t *)c->segs[i].addr + off;
		iov[n++].iov_len = take;
		*got += take;
		off = 0;
	}
	return n;
}

static size_t chain_copy(const struct virtq_chain *c, bool writable, size_t off, void *flat,
			 size_t len)
{
	struct iovec iov[8];
	size_t done = 0;

	while (done < len) {
		size_t got;
		unsigned n = vsock_chain_iov(c, writable, off + done, len - done, iov, 8, &got);

		if (!n)
			break;
		for (unsigned i = 0; i < n; i++) {
			uint8_t *p = (uint8_t *)flat + done;

			if (writable)
				memcpy(iov[i].iov_base, p, iov[i].iov_len);
			else
				memcpy(p, iov[i].iov_base, iov[i].iov_len);
			done += iov[i].iov_len;
		}
	}
	return done;
}

size_t vsock_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len)
{
	return chain_copy(c, false, off, dst, len);
}

size_t vsock_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len)
{
	return chain_copy(c, true, off, (void *)src, len);
}

/* ------------------------------------------------------------------ CONNECT line */

size_t vsock_hs_span(const struct vsock_handshake *hs, const char *p, size_t n)
{
	size_t room = VSOCK_HS_MAX - hs->len;
	const char *nl;

	if (n > room)
		n = room;
	nl = memchr(p, '\n', n);
	return nl ? (size_t)(nl - p) + 1 : n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The decimal u32 in [p, end), blanks around it allowed. */
static int parse_port(const char *p, const char *end, uint32_t *port)
{
	uint64_t v = 0;
	const char *digits;

	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end)
		return -EINVAL;
	for (digits = p; p < end; p++) {
		if (*p < '0' || *p > '9' || p - digits >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

int vsock_hs_feed(struct vsock_handshake *hs, const char *p, size_t n, uint32_t *port)
{
	static const size_t word = sizeof("CONNECT ") - 1;
	const char *nl;

	if (n > VSOCK_HS_MAX - hs->len)
		return -EINVAL;
	memcpy(hs->buf + hs->len, p, n);
	hs->len += (unsigned)n;
	/* Refuse garbage as soon as the first word is wrong, not only at the newline. */
	if (memcmp(hs->buf, "CONNECT ", hs->len < word ? hs->len : word) &&
	    memcmp(hs->buf, "connect ", hs->len < word ? hs->len : word))
		return -EINVAL;
	nl = memchr(hs->buf, '\n', hs->len);
	if (!nl)
		return hs->len < VSOCK_HS_MAX ? 0 : -EINVAL;   /* over-long line */
	if (nl != hs->buf + hs->len - 1 || (size_t)(nl - hs->buf) < word)
		return -EINVAL;
	return parse_port(hs->buf + word, nl, port) ? -EINVAL : 1;
}
