// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock driven as a guest driver would (rings in real guest RAM, kicks through BAR0,
 * the device's own worker), against real Unix sockets on the host side: the hybrid backend's
 * handshake both ways, data, credit, SHUTDOWN and RST, malformed packets, the connection
 * limit, and the transport-reset event after a restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "vtest.h"
#include "virtio/vsock.h"
#include "virtio/vsock_proto.h"

#define MEM     (16ULL << 20)
#define QS      16
#define RX_BUF  0x100000ULL        /* QS slots of 0x10000 */
#define TX_BUF  0x300000ULL        /* one packet at a time, up to 64 KiB + header */
#define EV_BUF  0x500000ULL
#define RX_LEN  (4096 + VSOCK_HDR_SIZE)
#define CID     3
#define V1      VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define ALL_OK  (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)
#define OP(x)   VIRTIO_VSOCK_OP_##x

struct fx {
	struct guest_mem mem;
	struct virtio_pci vp;
	struct virtio_vsock *vs;
	struct virtio_dev *vd;
	struct drv_ring r[3];
	uint16_t rx_seen, tx_n;
	char dir[64], path[96];
};

static int i_raise(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct virtio_intx_ops intx_ops = { i_raise, NULL };

static void kick(struct fx *f, unsigned q)
{
	bar_wr(&f->vp, virtio_pci_notify_offset(&f->vp, q), 2, q);
}

/* Whether used->idx reached @idx (it may pass it: the device pushes in batches). */
static bool used_reached(struct drv_ring *r, uint16_t idx)
{
	return (int16_t)(drv_used_idx(r) - idx) >= 0;
}

static bool wait_used(struct drv_ring *r, uint16_t idx)
{
	struct timespec ts = { 0, 1000000 };

	for (int ms = 0; ms < 6000 && !used_reached(r, idx); ms++)
		nanosleep(&ts, NULL);
	return used_reached(r, idx);
}

static void post_rx(struct fx *f, uint16_t head)
{
	drv_desc(&f->r[0], head, RX_BUF + 0x10000ULL * head, RX_LEN, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], head);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_pci_args a = { .id = "vsock", .intx_ops = &intx_ops, .intx_ctx = f };
	char err[256];

	assert_int_equal(arch_guest_mem_init(&f->mem, MEM), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsock-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
	assert_int_equal(virtio_vsock_new(CID, f->path, &f->mem, &f->vs, err, sizeof(err)), 0);
	f->vd = virtio_vsock_dev(f->vs);
	a.dev = f->vd;
	assert_int_equal(virtio_pci_init(&f->vp, &a), 0);
	drv_status(&f->vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_features(&f->vp, V1);
	drv_status(&f->vp, ALL_OK & ~VIRTIO_CONFIG_S_DRIVER_OK);
	for (unsigned q = 0; q < 3; q++) {
		drv_init(&f->r[q], &f->mem, QS, 0x10000 + 0x10000ULL * q);
		drv_queue(&f->vp, (uint16_t)q, &f->r[q]);
	}
	for (uint16_t i = 0; i < QS; i++)
		post_rx(f, i);
	drv_status(&f->vp, ALL_OK);
	assert_int_equal(drv_get_status(&f->vp), ALL_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	virtio_pci_destroy(&f->vp);
	virtio_dev_destroy(f->vd);
	for (unsigned port = 2; port < 5003; port = port == 2 ? 5000 : port + 1) {
		snprintf(p, sizeof(p), "%s_%u", f->path, port);
		unlink(p);
	}
	assert_int_equal(rmdir(f->dir), 0);         /* the device removed its socket */
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* ------------------------------------------------------------------ driver side */

static struct vsock_hdr hdr(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = CID, .dst_cid = VSOCK_HOST_CID,
				   .src_port = src_port, .dst_port = dst_port, .len = len,
				   .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = 1 << 20 };
}

/* One TX chain (header + payload in one readable descriptor, or @flags), served. */
static void tx_raw(struct fx *f, const struct vsock_hdr *h, const void *data, uint32_t len,
		   uint16_t flags)
{
	uint16_t head = f->tx_n % QS;

	vsock_hdr_encode(h, gp(&f->mem, TX_BUF, VSOCK_HDR_SIZE));
	if (len)
		memcpy(gp(&f->mem, TX_BUF + VSOCK_HDR_SIZE, len), data, len);
	drv_desc(&f->r[1], head, TX_BUF, VSOCK_HDR_SIZE + len, flags, 0);
	drv_publish(&f->r[1], head);
	kick(f, 1);
	assert_true(wait_used(&f->r[1], ++f->tx_n));
}

static void tx(struct fx *f, struct vsock_hdr h, const void *data)
{
	tx_raw(f, &h, data, h.len, 0);
}

/* The next packet the device gave the guest; its buffer goes back on the ring. */
static void rx(struct fx *f, struct vsock_hdr *h, void *data, size_t cap)
{
	uint32_t id, len;

	if (!wait_used(&f->r[0], (uint16_t)(f->rx_seen + 1)))
		fail_msg("no RX packet");
	drv_used_elem(&f->r[0], f->rx_seen++, &id, &len);
	assert_true(id < QS && len >= VSOCK_HDR_SIZE && len <= RX_LEN);
	vsock_hdr_decode(gp(&f->mem, RX_BUF + 0x10000ULL * id, VSOCK_HDR_SIZE), h);
	assert_int_equal(h->len, len - VSOCK_HDR_SIZE);
	assert_true(h->len <= cap);
	memcpy(data, gp(&f->mem, RX_BUF + 0x10000ULL * id + VSOCK_HDR_SIZE, h->len + 1), h->len);
	assert_int_equal(h->src_cid, VSOCK_HOST_CID);
	assert_int_equal(h->dst_cid, CID);
	assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	post_rx(f, (uint16_t)id);
	kick(f, 0);
}

/* The next packet, of op @op (ANY_OP: whichever comes). */
#define ANY_OP 0xffff
static void rx_expect(struct fx *f, uint16_t op, struct vsock_hdr *h)
{
	uint8_t buf[4096];

	rx(f, h, buf, sizeof(buf));
	if (op != ANY_OP)
		assert_int_equal(h->op, op);
}

static uint64_t counter(struct fx *f, const char *name)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *it;
	uint64_t v;

	assert_true(f->vd->ops->counters(f->vd, o));
	it = cJSON_GetObjectItem(o, name);
	assert_true(cJSON_IsRaw(it));
	v = strtoull(it->valuestring, NULL, 10);
	cJSON_Delete(o);
	return v;
}

/* ------------------------------------------------------------------ host side */

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int unix_listen(struct fx *f, unsigned port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", f->path, port);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 512), 0);
	return fd;
}

/* Reads exactly @len bytes within 3 s; returns what it got (0 at EOF). */
static size_t read_n(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 3000) != 1)
			break;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static bool at_eof(int fd)
{
	char c;

	return read_n(fd, &c, 1) == 0;
}

/* A host client through CONNECT, up to the guest's RESPONSE; returns the host-side port. */
static uint32_t host_connect(struct fx *f, int *cfd, uint32_t guest_port)
{
	struct vsock_hdr h;
	char line[32], want[32];

	*cfd = unix_connect(f->path);
	snprintf(line, sizeof(line), "CONNECT %u\n", guest_port);
	assert_int_equal(write(*cfd, line, strlen(line)), (ssize_t)strlen(line));
	rx_expect(f, OP(REQUEST), &h);
	assert_int_equal(h.dst_port, guest_port);
	assert_true(h.src_port >= (1u << 30));
	assert_int_equal(h.buf_alloc, 256 << 10);
	tx(f, hdr(OP(RESPONSE), guest_port, h.src_port, 0), NULL);
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	assert_int_equal(read_n(*cfd, line, strlen(want)), strlen(want));
	assert_memory_equal(line, want, strlen(want));
	return h.src_port;
}

/* ------------------------------------------------------------------ tests */

static void test_host_initiated_stream(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	char buf[4096];
	int cfd;
	uint32_t hp = host_connect(f, &cfd, 1024);

	assert_int_equal(write(cfd, "ping", 4), 4);
	rx(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, OP(RW));
	assert_int_equal(h.src_port, hp);
	assert_int_equal(h.dst_port, 1024);
	assert_memory_equal(buf, "ping", 4);
	tx(f, hdr(OP(RW), 1024, hp, 4), "pong");
	assert_int_equal(read_n(cfd, buf, 4), 4);
	assert_memory_equal(buf, "pong", 4);
	/* The guest closes both ways: the host client sees EOF, the guest an RST (5.10.6.5). */
	h = hdr(OP(SHUTDOWN), 1024, hp, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx(f, h, NULL);
	rx_expect(f, OP(RST), &h);
	assert_int_equal(h.src_port, hp);
	assert_true(at_eof(cfd));
	close(cfd);
}

static void test_host_initiated_refused(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	int cfd = unix_connect(f->path);

	assert_int_equal(write(cfd, "CONNECT 77\n", 11), 11);
	rx_expect(f, OP(REQUEST), &h);
	tx(f, hdr(OP(RST), 77, h.src_port, 0), NULL);   /* nobody listens in the guest */
	assert_true(at_eof(cfd));
	close(cfd);
	/* A bad line closes the client too, and is counted. */
	cfd = unix_connect(f->path);
	assert_int_equal(write(cfd, "HELLO\n", 6), 6);
	assert_true(at_eof(cfd));
	close(cfd);
	assert_int_equal(counter(f, "handshake_failed"), 1);
}

static void test_guest_initiated_stream(void **state)
{
	struct fx *f = *state;
	int lfd = unix_listen(f, 5000), sfd;
	struct vsock_hdr h;
	char buf[4096];

	tx(f, hdr(OP(REQUEST), 777, 5000, 0), NULL);
	rx_expect(f, OP(RESPONSE), &h);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(h.dst_port, 777);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	tx(f, hdr(OP(RW), 777, 5000, 3), "abc");
	assert_int_equal(read_n(sfd, buf, 3), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(write(sfd, "xyz", 3), 3);
	rx(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, OP(RW));
	assert_memory_equal(buf, "xyz", 3);
	/* The host peer closes: the guest is told neither side sends any more. */
	close(sfd);
	rx_expect(f, OP(SHUTDOWN), &h);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* The guest owes an RST now; it never comes, so the device gives up on its own. */
	rx_expect(f, OP(RST), &h);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(counter(f, "conns_expired"), 1);
	/* Nobody listens on port 5001: RST. */
	tx(f, hdr(OP(REQUEST), 778, 5001, 0), NULL);
	rx_expect(f, OP(RST), &h);
	assert_int_equal(h.src_port, 5001);
	assert_int_equal(h.dst_port, 778);
	assert_int_equal(counter(f, "connect_failed"), 1);
	close(lfd);
}

/* The guest's credit bounds what is read from the host (5.10.6.3). */
static void test_credit_towards_guest(void **state)
{
	struct fx *f = *state;
	int lfd = unix_listen(f, 5001), sfd;
	struct vsock_hdr h = hdr(OP(REQUEST), 900, 5001, 0);
	char buf[4096], data[300];
	uint32_t got = 0;

	memset(data, 'd', sizeof(data));
	h.buf_alloc = 100;
	tx(f, h, NULL);
	rx_expect(f, OP(RESPONSE), &h);
	sfd = accept(lfd, NULL, NULL);
	assert_int_equal(write(sfd, data, sizeof(data)), sizeof(data));
	while (got < 100) {
		rx(f, &h, buf, sizeof(buf));
		assert_int_equal(h.op, OP(RW));
		got += h.len;
	}
	assert_int_equal(got, 100);
	rx_expect(f, OP(CREDIT_REQUEST), &h);      /* full: the device asks, reads no more */
	h = hdr(OP(CREDIT_UPDATE), 900, 5001, 0);
	h.buf_alloc = 100;
	h.fwd_cnt = 100;                            /* the guest consumed it all */
	tx(f, h, NULL);
	rx(f, &h, buf, sizeof(buf));
	assert_int_equal(h.op, OP(RW));
	assert_int_equal(h.len, 100);
	close(sfd);
	close(lfd);
}

/* A guest that sends past its credit gets an RST: what waits here stays bounded. */
static void test_credit_violation(void **state)
{
	struct fx *f = *state;
	int lfd = unix_listen(f, 5002), sfd, rcv = 4096;
	static char chunk[60000];
	struct vsock_hdr h;
	unsigned sent = 0;

	tx(f, hdr(OP(REQUEST), 901, 5002, 0), NULL);
	rx_expect(f, OP(RESPONSE), &h);
	sfd = accept(lfd, NULL, NULL);
	setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));   /* a slow host peer */
	while (!counter(f, "credit_violations") && sent < (8u << 20)) {
		tx(f, hdr(OP(RW), 901, 5002, sizeof(chunk)), chunk);
		sent += sizeof(chunk);
	}
	assert_int_equal(counter(f, "credit_violations"), 1);
	do {                                        /* credit updates may come first */
		char buf[4096];

		rx(f, &h, buf, sizeof(buf));
		assert_true(h.op == OP(RST) || h.op == OP(CREDIT_UPDATE));
	} while (h.op != OP(RST));
	assert_int_equal(h.src_port, 5002);
	close(sfd);
	close(lfd);
}

static void test_malformed_packets(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h = hdr(OP(RW), 1, 2, 4);

	h.src_cid = 7;                              /* not the guest's CID */
	tx(f, h, "abcd");
	h = hdr(OP(RW), 1, 2, 4);
	tx_raw(f, &h, "abcd", 4, VRING_DESC_F_WRITE);     /* writable TX buffer */
	h.len = 100;
	tx_raw(f, &h, "abcd", 4, 0);                /* len past the buffer */
	assert_int_equal(counter(f, "malformed_packets"), 3);
	/* A well-formed packet for no connection: RST, ports swapped. */
	tx(f, hdr(OP(RW), 11, 12, 4), "abcd");
	rx_expect(f, OP(RST), &h);
	assert_int_equal(h.src_port, 12);
	assert_int_equal(h.dst_port, 11);
	assert_int_equal(counter(f, "unknown_conn_packets"), 1);
	assert_int_equal(drv_get_status(&f->vp), ALL_OK);    /* no reset needed */
}

/* Host clients beyond the limit are accepted and closed at once, and counted. */
static void test_connection_limit(void **state)
{
	struct fx *f = *state;
	int fds[257];

	for (unsigned i = 0; i < 257; i++)
		fds[i] = unix_connect(f->path);
	assert_true(at_eof(fds[256]));
	assert_int_equal(counter(f, "conn_limit_refused"), 1);
	for (unsigned i = 0; i < 257; i++)
		close(fds[i]);
}

/* A guest flooding a listening host port with requests holds at most 256 of vireo's fds. */
static void test_guest_request_flood(void **state)
{
	struct fx *f = *state;
	int lfd = unix_listen(f, 5000);
	unsigned responses = 0, rsts = 0;
	struct vsock_hdr h;

	for (unsigned i = 0; i < 300; i++)
		tx(f, hdr(OP(REQUEST), 10000 + i, 5000, 0), NULL);
	for (unsigned i = 0; i < 300; i++) {
		rx_expect(f, ANY_OP, &h);
		responses += h.op == OP(RESPONSE);
		rsts += h.op == OP(RST);
	}
	assert_int_equal(responses, 256);
	assert_int_equal(rsts, 44);
	assert_int_equal(counter(f, "conn_limit_refused"), 44);
	close(lfd);
}

/* A header as a careless or hostile driver writes it: mostly sane, sometimes anything. */
static struct vsock_hdr random_hdr(unsigned *seed)
{
	static const uint16_t ops[] = { OP(REQUEST), OP(RW), OP(RW), OP(RW), OP(SHUTDOWN),
					OP(CREDIT_UPDATE), OP(CREDIT_REQUEST), OP(RST),
					OP(RESPONSE), 0, 8, 0xffff };
	struct vsock_hdr h = hdr(ops[rand_r(seed) % 12], 1 + rand_r(seed) % 4,
				 rand_r(seed) % 4 ? 2 : 1 + rand_r(seed) % 4, 0);

	h.len = h.op == OP(RW) || rand_r(seed) % 16 == 0 ? (uint32_t)(rand_r(seed) % 64) : 0;
	h.type = (uint16_t)(rand_r(seed) % 8 ? VIRTIO_VSOCK_TYPE_STREAM : rand_r(seed) % 3);
	h.flags = (uint32_t)rand_r(seed) % 4;
	h.buf_alloc = (uint32_t)rand_r(seed) % 8192;
	h.fwd_cnt = (uint32_t)rand_r(seed) % 8192;
	if (rand_r(seed) % 16 == 0)
		h.src_cid = (uint64_t)rand_r(seed);
	return h;
}

/*
 * Packets of every op, type and length a guest can write, on a few ports, many for live
 * connections: each is acted on or refused, the device keeps running, a new stream works.
 */
static void test_random_packets(void **state)
{
	struct fx *f = *state;
	unsigned seed = 12345;
	uint8_t payload[64];
	struct vsock_hdr h;
	int cfd, lfd = unix_listen(f, 2);

	for (unsigned i = 0; i < 3000; i++) {
		h = random_hdr(&seed);
		for (unsigned b = 0; b < sizeof(payload); b++)
			payload[b] = (uint8_t)rand_r(&seed);
		tx_raw(f, &h, payload, rand_r(&seed) % 16 ? h.len : sizeof(payload),
		       rand_r(&seed) % 32 ? 0 : VRING_DESC_F_WRITE);
		while (used_reached(&f->r[0], (uint16_t)(f->rx_seen + 1)))
			rx_expect(f, ANY_OP, &h);     /* keep the RX ring stocked */
	}
	assert_int_equal(drv_get_status(&f->vp), ALL_OK);
	assert_true(counter(f, "malformed_packets") > 0);
	assert_true(counter(f, "conns_opened") > 10);
	assert_true(counter(f, "tx_bytes") > 0);
	/* Still serving: a host client's CONNECT reaches the guest (late RSTs may come first). */
	cfd = unix_connect(f->path);
	assert_int_equal(write(cfd, "CONNECT 4242\n", 13), 13);
	do
		rx_expect(f, ANY_OP, &h);
	while (h.op != OP(REQUEST) || h.dst_port != 4242);
	close(cfd);
	close(lfd);
}

/* After a restore the guest is told its connections are gone (5.10.6.7). */
static void test_restore_sends_transport_reset(void **state)
{
	struct fx *f = *state;
	cJSON *saved = f->vd->ops->save(f->vd), *bad;
	char err[256];
	uint32_t id, len;
	int cfd;

	assert_non_null(saved);
	bad = cJSON_Duplicate(saved, true);
	cJSON_ReplaceItemInObject(bad, "guest_cid", cJSON_CreateString("0x4"));
	assert_int_equal(f->vd->ops->restore(f->vd, bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "guest_cid"));
	cJSON_ReplaceItemInObject(bad, "guest_cid", cJSON_CreateString("0x3"));
	cJSON_ReplaceItemInObject(bad, "next_host_port", cJSON_CreateString("0x5"));
	assert_int_equal(f->vd->ops->restore(f->vd, bad, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "next_host_port"));
	assert_int_equal(f->vd->ops->pause(f->vd), 0);
	assert_int_equal(f->vd->ops->restore(f->vd, saved, err, sizeof(err)), 0);
	f->vd->ops->resume(f->vd);
	drv_desc(&f->r[2], 0, EV_BUF, 4, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[2], 0);
	kick(f, 2);
	assert_true(wait_used(&f->r[2], 1));
	drv_used_elem(&f->r[2], 0, &id, &len);
	assert_int_equal(len, 4);
	assert_int_equal(*(uint32_t *)gp(&f->mem, EV_BUF, 4), VSOCK_EVENT_TRANSPORT_RESET);
	assert_int_equal(counter(f, "reset_events"), 1);
	/* Host ports go on from the saved one, past those the guest may still hold. */
	cJSON_ReplaceItemInObject(saved, "next_host_port", cJSON_CreateString("0x40000100"));
	assert_int_equal(f->vd->ops->pause(f->vd), 0);
	assert_int_equal(f->vd->ops->restore(f->vd, saved, err, sizeof(err)), 0);
	f->vd->ops->resume(f->vd);
	assert_int_equal(host_connect(f, &cfd, 1024), 0x40000100);
	close(cfd);
	cJSON_Delete(saved);
	cJSON_Delete(bad);
}

static void test_config_and_socket_mode(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF, 4), CID);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + 4, 4), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_socket_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_initiated_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_initiated_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_initiated_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_towards_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_violation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_request_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_sends_transport_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
