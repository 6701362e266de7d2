/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock's wire formats, free of any I/O so the unit tests reach them directly: the
 * packet header (virtio 1.2 5.10.6), the checks every guest header passes, copies between a
 * popped chain and flat memory, and the "CONNECT <port>\n" line of Cloud Hypervisor's hybrid
 * Unix-socket backend.
 */
#ifndef VIREO_VIRTIO_VSOCK_PROTO_H
#define VIREO_VIRTIO_VSOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_vsock.h>

#include "virtio/virtqueue.h"

#define VSOCK_HOST_CID        2
#define VSOCK_HDR_SIZE        44          /* struct virtio_vsock_hdr, packed */
#define VSOCK_MAX_PKT_PAYLOAD (64u << 10) /* Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE */
#define VSOCK_EVENT_TRANSPORT_RESET 0     /* 5.10.6.7: virtio_vsock_event.id */

/* A header in host byte order. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);

/* What to do with a packet the driver put on the TX queue. */
enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_DROP,     /* malformed or not for us: count, answer nothing */
	VSOCK_PKT_RST,      /* well formed but unsupported: answer RST (5.10.6.3) */
};

/*
 * Checks a TX chain's header (5.10.6): @read_len the chain's device-readable bytes, @write_len
 * its device-writable ones (a TX buffer has none, 5.10.6.2). @why names the problem.
 */
enum vsock_verdict vsock_check_tx(const struct vsock_hdr *h, uint64_t guest_cid,
				  uint64_t read_len, uint64_t write_len, const char **why);

/* Copies up to @len bytes at @off of the chain's readable (or writable) segments. */
size_t vsock_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len);
size_t vsock_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len);
/*
 * The chain's readable (@writable false) or writable segments from @off on, at most @len bytes,
 * as at most @max iovecs; returns the count and the bytes covered in *@got.
 */
unsigned vsock_chain_iov(const struct virtq_chain *c, bool writable, size_t off, size_t len,
			 struct iovec *iov, unsigned max, size_t *got);

/*
 * The host side's first line on the Unix socket, "CONNECT <port>\n" (or "connect "), at most
 * VSOCK_HS_MAX bytes with its newline, as Cloud Hypervisor reads it: the port is the decimal
 * u32 between "CONNECT " and the newline, surrounding blanks allowed.
 */
#define VSOCK_HS_MAX 32

struct vsock_handshake {
	char buf[VSOCK_HS_MAX];
	unsigned len;
};

/*
 * How many of the @n bytes at @p belong to the line (up to and including its newline): the
 * caller consumes exactly these, so bytes the client sent after the line stay in the socket.
 */
size_t vsock_hs_span(const struct vsock_handshake *hs, const char *p, size_t n);
/* Appends @n line bytes. 1 and *@port when the line is complete, 0 when more is needed, -EINVAL. */
int vsock_hs_feed(struct vsock_handshake *hs, const char *p, size_t n, uint32_t *port);

#endif
