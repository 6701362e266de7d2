// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's packet handling (virtio/vsock_proto.c, 5.10.6) on TX chains popped from RAM
 * the input fills: header copy and decode, the TX checks, the payload's iovec; and the
 * "CONNECT <port>\n" line of the host side, fed in pieces the input decides.
 */
#include <stdlib.h>

#include "tests/fuzz/fuzz_ring.h"
#include "virtio/vsock_proto.h"

static struct fuzz_ring ring;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fr_init(&ring);
	return 0;
}

static void packet(const struct virtq_chain *c)
{
	uint8_t raw[VSOCK_HDR_SIZE] = { 0 }, again[VSOCK_HDR_SIZE];
	struct iovec iov[64];
	struct vsock_hdr h;
	const char *why = NULL;
	size_t got = 0;
	unsigned n;

	vsock_chain_read(c, 0, raw, sizeof(raw));
	vsock_hdr_decode(raw, &h);
	vsock_hdr_encode(&h, again);
	if (memcmp(raw, again, sizeof(raw)))
		abort();
	if (vsock_check_tx(&h, 3, c->read_len, c->write_len, &why) != VSOCK_PKT_OK)
		return;
	if (c->read_len < VSOCK_HDR_SIZE + (uint64_t)h.len || h.len > VSOCK_MAX_PKT_PAYLOAD)
		abort();
	n = vsock_chain_iov(c, false, VSOCK_HDR_SIZE, h.len, iov, 64, &got);
	if (n > 64 || got > h.len)
		abort();
	while (n--)
		got -= iov[n].iov_len;
	if (got)
		abort();
	vsock_chain_write(c, 0, raw, sizeof(raw));
}

static void handshake(const uint8_t *data, size_t size)
{
	struct vsock_handshake hs = { 0 };
	uint32_t port;

	while (size) {
		size_t piece = 1 + data[0] % 8, take;

		piece = piece < size ? piece : size;
		take = vsock_hs_span(&hs, (const char *)data, piece);
		if (take > piece || vsock_hs_feed(&hs, (const char *)data, take, &port))
			return;
		data += take ? take : piece;
		size -= take ? take : piece;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq *vq = &ring.vq;

	handshake(data, size);
	if (!fr_load(&ring, data, size))
		return 0;
	while (virtq_pop_chain(vq, &ring.chain) == 1) {
		packet(&ring.chain);
		virtq_push_used(vq, ring.chain.head, 0);
	}
	virtq_reset(vq);
	return 0;
}
