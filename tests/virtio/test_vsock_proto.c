// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's wire formats alone: the hybrid backend's CONNECT line as a host client may
 * send it (in pieces, too long, garbage, bad ports), the header codec, and the verdict on
 * every kind of malformed guest header.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/vsock_proto.h"

/* Feeds @s as a client's bytes would arrive, @step at a time, consuming what span says. */
static int feed(const char *s, size_t step, uint32_t *port, size_t *consumed)
{
	struct vsock_handshake hs = { .len = 0 };
	size_t off = 0, n = strlen(s);
	int ret = 0;

	while (off < n && !ret) {
		size_t avail = n - off < step ? n - off : step;
		size_t span = vsock_hs_span(&hs, s + off, avail);

		ret = vsock_hs_feed(&hs, s + off, span, port);
		off += span;
	}
	*consumed = off;
	return ret;
}

static void test_hs_whole_and_partial_lines(void **state)
{
	uint32_t port = 0;
	size_t used;

	(void)state;
	for (size_t step = 1; step <= 16; step++) {
		port = 0;
		assert_int_equal(feed("CONNECT 1024\n", step, &port, &used), 1);
		assert_int_equal(port, 1024);
		assert_int_equal(used, 13);
	}
	assert_int_equal(feed("connect 52\n", 32, &port, &used), 1);
	assert_int_equal(port, 52);
	assert_int_equal(feed("CONNECT  7 \r\n", 32, &port, &used), 1);
	assert_int_equal(port, 7);
	assert_int_equal(feed("CONNECT 4294967295\n", 3, &port, &used), 1);
	assert_int_equal(port, 4294967295u);
	/* Only half a line: more is needed, nothing refused. */
	assert_int_equal(feed("CONN", 32, &port, &used), 0);
	assert_int_equal(feed("CONNECT 10", 32, &port, &used), 0);
}

/* The client's first data bytes, sent with its line, are not the line's. */
static void test_hs_stops_at_newline(void **state)
{
	uint32_t port;
	size_t used;

	(void)state;
	assert_int_equal(feed("CONNECT 9\nhello", 32, &port, &used), 1);
	assert_int_equal(port, 9);
	assert_int_equal(used, 10);
}

static void test_hs_garbage_and_bad_ports(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\n", "CONNECT\n", "CONNECT \n", "CONNECT abc\n", "CONNECT -1\n",
		"CONNECT 4294967296\n", "CONNECT 99999999999\n", "CONNECT 1 2\n", "CONNECT 0x10\n",
		"CONNECTX 5\n", "\n", "OK 5\n", "CONNECT +5\n", "CONNECT 5\t5\n",
	};
	uint32_t port;
	size_t used;

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t step = 1; step <= 32; step *= 2) {
			int ret = feed(bad[i], step, &port, &used);

			if (ret != -EINVAL)
				fail_msg("'%s' step %zu: %d", bad[i], step, ret);
		}
	}
	/* Garbage is refused at its first wrong byte, not only at a newline. */
	assert_int_equal(feed("X", 32, &port, &used), -EINVAL);
	assert_int_equal(feed("CONNECT\x01", 32, &port, &used), -EINVAL);
}

static void test_hs_over_long_line(void **state)
{
	char line[64];
	uint32_t port;
	size_t used;

	(void)state;
	/* 31 bytes and the newline fit; one blank more does not. */
	snprintf(line, sizeof(line), "CONNECT %23s\n", "5");
	assert_int_equal(strlen(line), VSOCK_HS_MAX);
	assert_int_equal(feed(line, 7, &port, &used), 1);
	assert_int_equal(port, 5);
	snprintf(line, sizeof(line), "CONNECT %24s\n", "5");
	assert_int_equal(feed(line, 7, &port, &used), -EINVAL);
	assert_int_equal(used, VSOCK_HS_MAX);    /* never reads past its buffer */
	memset(line, '1', sizeof(line) - 1);
	memcpy(line, "CONNECT ", 8);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(feed(line, 64, &port, &used), -EINVAL);
}

/* ------------------------------------------------------------------ headers */

static void test_hdr_round_trip(void **state)
{
	struct vsock_hdr h, back;
	uint8_t raw[VSOCK_HDR_SIZE];

	(void)state;
	h = (struct vsock_hdr){ 0x1122334455667788ULL, 2, 0xdeadbeef, 1024, 77, 1, 5, 3, 262144,
				99 };
	vsock_hdr_encode(&h, raw);
	assert_int_equal(raw[0], 0x88);             /* little endian, packed */
	assert_int_equal(raw[16], 0xef);
	assert_int_equal(raw[30], 5);
	vsock_hdr_decode(raw, &back);
	assert_true(h.src_cid == back.src_cid && h.dst_cid == back.dst_cid &&
		    h.src_port == back.src_port && h.dst_port == back.dst_port &&
		    h.len == back.len && h.type == back.type && h.op == back.op &&
		    h.flags == back.flags && h.buf_alloc == back.buf_alloc &&
		    h.fwd_cnt == back.fwd_cnt);
}

static struct vsock_hdr good(uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = 3, .dst_cid = 2, .src_port = 1, .dst_port = 2,
				   .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op };
}

static void test_check_tx(void **state)
{
	struct vsock_hdr h;
	const char *why;

	(void)state;
	h = good(VIRTIO_VSOCK_OP_RW, 10);
	assert_int_equal(vsock_check_tx(&h, 3, 54, 0, &why), VSOCK_PKT_OK);
	assert_int_equal(vsock_check_tx(&h, 3, 53, 0, &why), VSOCK_PKT_DROP);  /* len > chain */
	assert_int_equal(vsock_check_tx(&h, 3, 54, 4, &why), VSOCK_PKT_DROP);  /* writable */
	assert_int_equal(vsock_check_tx(&h, 3, 43, 0, &why), VSOCK_PKT_DROP);  /* no header */
	assert_int_equal(vsock_check_tx(&h, 4, 54, 0, &why), VSOCK_PKT_DROP);  /* spoofed src */
	assert_non_null(why);
	h.dst_cid = 5;
	assert_int_equal(vsock_check_tx(&h, 3, 54, 0, &why), VSOCK_PKT_DROP);  /* not the host */
	h = good(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PKT_PAYLOAD + 1);
	assert_int_equal(vsock_check_tx(&h, 3, 1 << 20, 0, &why), VSOCK_PKT_DROP);
	h = good(VIRTIO_VSOCK_OP_REQUEST, 4);
	assert_int_equal(vsock_check_tx(&h, 3, 48, 0, &why), VSOCK_PKT_DROP);  /* payload */
	h = good(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	assert_int_equal(vsock_check_tx(&h, 3, 44, 0, &why), VSOCK_PKT_RST);   /* not offered */
	h = good(VIRTIO_VSOCK_OP_RST, 0);
	h.type = 9;
	assert_int_equal(vsock_check_tx(&h, 3, 44, 0, &why), VSOCK_PKT_DROP);  /* no RST for RST */
	for (uint16_t op = 0; op < 12; op++) {
		h = good(op, 0);
		assert_int_equal(vsock_check_tx(&h, 3, 44, 0, &why),
				 op >= 1 && op <= 7 ? VSOCK_PKT_OK : VSOCK_PKT_RST);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hs_whole_and_partial_lines),
		cmocka_unit_test(test_hs_stops_at_newline),
		cmocka_unit_test(test_hs_garbage_and_bad_ports),
		cmocka_unit_test(test_hs_over_long_line),
		cmocka_unit_test(test_hdr_round_trip),
		cmocka_unit_test(test_check_tx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
