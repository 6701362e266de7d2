// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net driven as a guest would: BAR0 of a real transport, rings in real guest RAM,
 * kicks through the notify register, the device's worker doing the work. The tap is a
 * SOCK_SEQPACKET socketpair: one datagram per frame, 12-byte header first, truncated
 * reads like a tap's, so the test's end plays the host's network.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_net.h>

#include <cjson/cJSON.h>

#include "arch/x86_64/arch.h"
#include "virtio/net.h"
#include "vtest.h"

#define MEM     (16ULL << 20)
#define BUF     0x200000ULL
#define V1      VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define F(b)    VIRTIO_BIT(VIRTIO_NET_F_##b)
#define HDR     VIRTIO_NET_HDR_LEN
#define ALL_OK  (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)
#define MAXQ    5

struct fx {
	struct guest_mem mem;
	struct virtio_pci vp;
	struct virtio_net *net;
	int sp[2][2];                       /* per pair: [0] device's, [1] the host's end */
	unsigned pairs;
	unsigned ctrlq;                     /* where the driver's control queue is (5.1.2) */
	struct drv_ring r[MAXQ];
	uint16_t next_desc[MAXQ];
	uint64_t next_buf;
};

static int i_raise(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct virtio_intx_ops intx_ops = { i_raise, NULL };

static struct virtio_net_params params(struct fx *f, unsigned pairs)
{
	static int fds[2];

	fds[0] = f->sp[0][0];
	fds[1] = f->sp[1][0];
	return (struct virtio_net_params){ .fds = fds, .nr_pairs = pairs, .queue_size = 16,
					   .mac = { 0x52, 0x54, 0, 1, 2, 3 }, .mac_set = true,
					   .mtu = 1500, .offload_csum = true, .offload_tso = true,
					   .offload_ufo = true };
}

static void make(struct fx *f, unsigned pairs)
{
	struct virtio_net_params p = params(f, pairs);
	char err[256];

	f->pairs = pairs;
	assert_int_equal(virtio_net_new(&p, &f->mem, &f->net, err, sizeof(err)), 0);
}

static void make_rl(struct fx *f, struct rate_limiter_params rl)
{
	struct virtio_net_params p = params(f, 1);
	char err[256];

	p.rate_limiter = rl;
	f->pairs = 1;
	assert_int_equal(virtio_net_new(&p, &f->mem, &f->net, err, sizeof(err)), 0);
}

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000 + (uint64_t)(t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void start(struct fx *f, uint64_t features)
{
	struct virtio_dev *dev = virtio_net_dev(f->net);
	struct virtio_pci_args a = { .id = "net", .dev = dev, .intx_ops = &intx_ops,
				     .intx_ctx = f };
	unsigned q;

	assert_int_equal(virtio_pci_init(&f->vp, &a), 0);
	f->ctrlq = features & F(MQ) ? 2 * f->pairs : 2;
	drv_status(&f->vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_features(&f->vp, V1 | features);
	drv_status(&f->vp, ALL_OK & ~VIRTIO_CONFIG_S_DRIVER_OK);
	for (q = 0; q < dev->nr_queues; q++) {
		drv_init(&f->r[q], &f->mem, 16, 0x10000 + 0x10000ULL * q);
		drv_queue(&f->vp, (uint16_t)q, &f->r[q]);
	}
	drv_status(&f->vp, ALL_OK);
	assert_int_equal(drv_get_status(&f->vp), ALL_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(arch_guest_mem_init(&f->mem, MEM), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->sp[i]), 0);
	f->next_buf = BUF;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->net) {
		virtio_pci_destroy(&f->vp);
		virtio_net_free(f->net);
	}
	for (int i = 0; i < 2; i++) {
		close(f->sp[i][0]);
		close(f->sp[i][1]);
	}
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void kick(struct fx *f, unsigned q)
{
	bar_wr(&f->vp, virtio_pci_notify_offset(&f->vp, q), 2, q);
}

static bool wait_used(struct drv_ring *r, uint16_t idx)
{
	struct timespec ts = { 0, 1000000 };
	int ms = 5000;

	while (drv_used_idx(r) != idx && ms-- > 0)
		nanosleep(&ts, NULL);
	return drv_used_idx(r) == idx;
}

static void used(struct drv_ring *r, uint16_t slot, uint32_t *id, uint32_t *len)
{
	drv_used_elem(r, slot, id, len);
}

static uint8_t *g(struct fx *f, uint64_t gpa, uint64_t len)
{
	return gp(&f->mem, gpa, len);
}

/* A fresh guest buffer of @len bytes. */
static uint64_t gbuf(struct fx *f, uint32_t len)
{
	uint64_t gpa = f->next_buf;

	f->next_buf += (len + 4095) & ~4095ULL;
	memset(g(f, gpa, len), 0xee, len);
	return gpa;
}

/* A chain of one buffer per @lens entry, each @flags (plus NEXT); publishes its head. */
static uint16_t post(struct fx *f, unsigned q, const uint32_t *lens, unsigned n,
		     uint16_t flags, uint64_t *gpas)
{
	uint16_t head = f->next_desc[q];

	for (unsigned i = 0; i < n; i++) {
		uint16_t d = f->next_desc[q]++;

		gpas[i] = gbuf(f, lens[i]);
		drv_desc(&f->r[q], d, gpas[i], lens[i],
			 (uint16_t)(flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)), (uint16_t)(d + 1));
	}
	drv_publish(&f->r[q], head);
	return head;
}

static uint16_t post1(struct fx *f, unsigned q, uint32_t len, uint16_t flags, uint64_t *gpa)
{
	return post(f, q, &len, 1, flags, gpa);
}

static struct virtio_net_counters counters(struct fx *f)
{
	struct virtio_net_counters c;

	virtio_net_counters(f->net, &c);
	return c;
}

/* The host end sends one frame: header (zeroed, as tun writes it) + @len payload bytes. */
static void host_send(struct fx *f, unsigned pair, uint32_t len, uint8_t fill)
{
	uint8_t frame[HDR + 4096];

	memset(frame, 0, HDR);
	memset(frame + HDR, fill, len);
	assert_int_equal(send(f->sp[pair][1], frame, HDR + len, 0), HDR + len);
}

/* The next frame the device wrote to the tap, or -1 after 5 s. */
static ssize_t host_recv(struct fx *f, unsigned pair, uint8_t *buf, size_t len)
{
	struct pollfd pfd = { f->sp[pair][1], POLLIN, 0 };

	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	return recv(f->sp[pair][1], buf, len, MSG_DONTWAIT);
}

/* Whether the device read everything the host end sent (SIOCOUTQ: unread bytes), within 5 s. */
static bool host_sent_consumed(struct fx *f, unsigned pair)
{
	int unread = 1;

	for (int ms = 0; ms < 5000; ms++) {
		assert_int_equal(ioctl(f->sp[pair][1], SIOCOUTQ, &unread), 0);
		if (!unread)
			return true;
		usleep(1000);                        /* polling the socket, bounded */
	}
	return false;
}

static bool host_quiet(struct fx *f, unsigned pair)
{
	struct pollfd pfd = { f->sp[pair][1], POLLIN, 0 };

	return poll(&pfd, 1, 0) == 0;
}

/* ------------------------------------------------------------------ config and features */

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t off = VIRTIO_PCI_DEVICE_CFG_OFF, offered;

	make(f, 2);
	start(f, F(MAC));
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(bar_rd(&f->vp, off + i, 1), params(f, 2).mac[i]);
	assert_int_equal(bar_rd(&f->vp, off + 6, 2), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(bar_rd(&f->vp, off + 8, 2), 2);
	assert_int_equal(bar_rd(&f->vp, off + 10, 2), 1500);
	offered = drv_offered(&f->vp);
	assert_true(offered & F(MQ));
	assert_true(offered & F(CTRL_VQ));
	assert_true(offered & F(MRG_RXBUF));
	assert_true(offered & F(CSUM));
	/* The fake tap accepts no offload: nothing GUEST_* may be offered. */
	assert_false(offered & (F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_UFO)));
	assert_int_equal(virtio_net_dev(f->net)->nr_queues, 5);
}

static void test_generated_mac_is_local_unicast(void **state)
{
	struct fx *f = *state;
	struct virtio_net_params p = params(f, 1);
	uint8_t mac[6];
	char err[256];

	p.mac_set = false;
	assert_int_equal(virtio_net_new(&p, &f->mem, &f->net, err, sizeof(err)), 0);
	virtio_net_mac(f->net, mac);
	assert_int_equal(mac[0] & 3, 2);
	virtio_net_free(f->net);
	f->net = NULL;
	p.nr_pairs = VIRTIO_NET_MAX_PAIRS + 1;
	assert_int_equal(virtio_net_new(&p, &f->mem, &f->net, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "queue pairs"));
}

static void test_tap_offload_mapping(void **state)
{
	(void)state;
	assert_int_equal(virtio_net_tap_offloads(F(GUEST_TSO4)), 0);   /* needs GUEST_CSUM */
	assert_int_equal(virtio_net_tap_offloads(F(GUEST_CSUM)), 1);   /* TUN_F_CSUM */
	assert_int_equal(virtio_net_tap_offloads(F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) |
						 F(GUEST_UFO)), 0x1 | 0x2 | 0x4 | 0x10);
}

/* ------------------------------------------------------------------ transmit */

static void tx_frame(struct fx *f, uint8_t gso, uint8_t flags, uint32_t payload)
{
	uint32_t lens[2] = { HDR, payload };
	uint64_t gpa[2];
	struct virtio_net_hdr_v1 h = { .flags = flags, .gso_type = gso };

	post(f, 1, lens, 2, 0, gpa);
	memcpy(g(f, gpa[0], HDR), &h, HDR);
	memset(g(f, gpa[1], payload), 0x5a, payload);
	kick(f, 1);
}

static void test_tx_frame_reaches_tap(void **state)
{
	struct fx *f = *state;
	uint8_t buf[2048];
	uint32_t id, len;

	make(f, 1);
	start(f, F(CSUM));
	tx_frame(f, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_F_NEEDS_CSUM, 100);
	assert_true(wait_used(&f->r[1], 1));
	used(&f->r[1], 0, &id, &len);
	assert_int_equal(len, 0);
	assert_int_equal(host_recv(f, 0, buf, sizeof(buf)), HDR + 100);
	assert_int_equal(buf[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(buf[HDR + 99], 0x5a);
	assert_int_equal(counters(f).tx_frames, 1);
	assert_int_equal(counters(f).tx_bytes, 100);
}

static void test_tx_bad_chains_are_dropped_and_counted(void **state)
{
	struct fx *f = *state;
	uint64_t gpa[2];
	uint32_t lens[2] = { HDR, 64 };

	make(f, 1);
	start(f, 0);                              /* no CSUM, no TSO negotiated */
	post(f, 1, lens, 2, VRING_DESC_F_WRITE, gpa);                  /* device-writable */
	post1(f, 1, 8, 0, gpa);                                        /* shorter than a header */
	tx_frame(f, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_F_NEEDS_CSUM, 64);   /* not negotiated */
	tx_frame(f, VIRTIO_NET_HDR_GSO_NONE, 0, 64);                   /* fine */
	assert_true(wait_used(&f->r[1], 4));
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_TX_CHAIN], 2);
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_TX_HEADER], 1);
	assert_int_equal(counters(f).tx_dropped, 3);
	assert_int_equal(counters(f).tx_frames, 1);
	assert_int_equal(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static void test_tx_descriptor_outside_ram_needs_reset(void **state)
{
	struct fx *f = *state;

	make(f, 1);
	start(f, 0);
	drv_desc(&f->r[1], 0, MEM - 8, 64, 0, 0);
	drv_publish(&f->r[1], 0);
	kick(f, 1);
	for (int ms = 0; ms < 5000 && !(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET); ms++)
		usleep(1000);
	assert_true(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(drv_used_idx(&f->r[1]), 0);
	assert_int_equal(counters(f).tx_frames, 0);
}

/* ------------------------------------------------------------------ receive */

static void test_rx_single_buffer_num_buffers_1(void **state)
{
	struct fx *f = *state;
	uint64_t gpa;
	uint32_t id, len;

	make(f, 1);
	start(f, 0);
	post1(f, 0, HDR + 1514, VRING_DESC_F_WRITE, &gpa);
	kick(f, 0);
	host_send(f, 0, 60, 0xab);
	assert_true(wait_used(&f->r[0], 1));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(len, HDR + 60);
	assert_int_equal(g(f, gpa, HDR)[10], 1);          /* num_buffers, le16 */
	assert_int_equal(g(f, gpa, HDR)[11], 0);
	assert_int_equal(g(f, gpa + HDR, 60)[59], 0xab);
	assert_int_equal(counters(f).rx_frames, 1);
	assert_int_equal(counters(f).rx_bytes, 60);
}

static void test_rx_too_big_is_dropped_not_truncated(void **state)
{
	struct fx *f = *state;
	uint64_t gpa;
	uint32_t id, len;

	make(f, 1);
	start(f, 0);
	post1(f, 0, HDR + 40, VRING_DESC_F_WRITE, &gpa);
	kick(f, 0);
	host_send(f, 0, 41, 0x11);                   /* one byte too many */
	host_send(f, 0, 40, 0x22);                   /* fits exactly */
	assert_true(wait_used(&f->r[0], 1));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(len, HDR + 40);
	assert_int_equal(g(f, gpa + HDR, 40)[0], 0x22);
	assert_int_equal(counters(f).rx_dropped, 1);
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_RX_TOO_BIG], 1);
	assert_int_equal(counters(f).rx_frames, 1);
}

static void test_rx_mrg_rxbuf_accounting(void **state)
{
	struct fx *f = *state;
	uint64_t gpa[4];
	uint32_t id, len;

	make(f, 1);
	start(f, F(MRG_RXBUF));
	for (int i = 0; i < 4; i++)
		post1(f, 0, 512, VRING_DESC_F_WRITE, &gpa[i]);
	kick(f, 0);
	host_send(f, 0, 1000 - HDR, 0x33);           /* 1000 bytes: 512 + 488 */
	assert_true(wait_used(&f->r[0], 2));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 512);
	used(&f->r[0], 1, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 488);
	assert_int_equal(g(f, gpa[0], HDR)[10], 2);        /* num_buffers */
	assert_int_equal(g(f, gpa[1], 488)[487], 0x33);
	host_send(f, 0, 100, 0x44);                  /* the next frame starts in chain 2 */
	assert_true(wait_used(&f->r[0], 3));
	used(&f->r[0], 2, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, HDR + 100);
	assert_int_equal(g(f, gpa[2], HDR)[10], 1);
	assert_int_equal(counters(f).rx_frames, 2);
}

/*
 * MRG_RXBUF with fewer buffers posted than the frame needs: the frame waits (its head in the
 * posted buffers, its tail in the device) until the driver posts more, then arrives whole.
 */
static void test_rx_mrg_frame_waits_for_buffers(void **state)
{
	struct fx *f = *state;
	uint64_t gpa[3];
	uint32_t id, len;

	make(f, 1);
	start(f, F(MRG_RXBUF));
	post1(f, 0, 512, VRING_DESC_F_WRITE, &gpa[0]);
	post1(f, 0, 512, VRING_DESC_F_WRITE, &gpa[1]);
	kick(f, 0);
	host_send(f, 0, 1500, 0x77);                 /* 1512 bytes: three buffers */
	assert_true(host_sent_consumed(f, 0));       /* the device has read it */
	assert_int_equal(drv_used_idx(&f->r[0]), 0);
	assert_int_equal(counters(f).rx_dropped, 0);
	post1(f, 0, 512, VRING_DESC_F_WRITE, &gpa[2]);
	kick(f, 0);
	assert_true(wait_used(&f->r[0], 3));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(len, 512);
	used(&f->r[0], 2, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, 1512 - 1024);
	assert_int_equal(g(f, gpa[0], HDR)[10], 3);        /* num_buffers */
	assert_int_equal(g(f, gpa[2], 488)[487], 0x77);
	assert_int_equal(g(f, gpa[1], 512)[0], 0x77);
	assert_int_equal(counters(f).rx_dropped, 0);
	assert_int_equal(counters(f).rx_frames, 1);
}

/* ... unless the driver's whole ring cannot hold it: then it is dropped, the ring kept. */
static void test_rx_mrg_frame_larger_than_ring_dropped(void **state)
{
	struct fx *f = *state;
	uint64_t gpa[16];
	uint32_t id, len;

	make(f, 1);
	start(f, F(MRG_RXBUF));
	for (int i = 0; i < 16; i++)
		post1(f, 0, 64, VRING_DESC_F_WRITE, &gpa[i]);
	kick(f, 0);
	host_send(f, 0, 1500, 0x79);                 /* 1512 > 16 x 64 */
	host_send(f, 0, 40, 0x7a);
	assert_true(wait_used(&f->r[0], 1));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, HDR + 40);
	assert_int_equal(g(f, gpa[0] + HDR, 1)[0], 0x7a);
	assert_int_equal(counters(f).rx_dropped, 1);
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_RX_TOO_BIG], 1);
}

static void test_rx_bad_chain_given_back_empty(void **state)
{
	struct fx *f = *state;
	uint64_t gpa;
	uint32_t id, len;

	make(f, 1);
	start(f, 0);
	post1(f, 0, 1600, 0, &gpa);                          /* device-readable */
	post1(f, 0, 8, VRING_DESC_F_WRITE, &gpa);            /* shorter than a header */
	post1(f, 0, 1600, VRING_DESC_F_WRITE, &gpa);
	kick(f, 0);
	host_send(f, 0, 64, 0x55);
	assert_true(wait_used(&f->r[0], 3));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(len, 0);
	used(&f->r[0], 1, &id, &len);
	assert_int_equal(len, 0);
	used(&f->r[0], 2, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, HDR + 64);
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_RX_CHAIN], 2);
}

static void test_no_rx_buffers_do_not_stall_tx(void **state)
{
	struct fx *f = *state;
	uint8_t buf[256];
	uint64_t gpa;
	uint32_t id, len;

	make(f, 1);
	start(f, 0);
	for (int i = 0; i < 8; i++)
		host_send(f, 0, 64, (uint8_t)i);          /* nowhere to go yet */
	tx_frame(f, VIRTIO_NET_HDR_GSO_NONE, 0, 32);
	assert_true(wait_used(&f->r[1], 1));
	assert_int_equal(host_recv(f, 0, buf, sizeof(buf)), HDR + 32);
	/* Buffers arrive: the waiting frames flow, in order. */
	post1(f, 0, 1600, VRING_DESC_F_WRITE, &gpa);
	kick(f, 0);
	assert_true(wait_used(&f->r[0], 1));
	used(&f->r[0], 0, &id, &len);
	assert_int_equal(len, HDR + 64);
	assert_int_equal(g(f, gpa + HDR, 1)[0], 0);
	assert_true(host_quiet(f, 0));
}

/* ------------------------------------------------------------------ rate limiting */

/*
 * One frame per 100 ms each way (CH's ops bucket), and 1000 bytes per 100 ms on TX: three
 * frames take at least two refills. Only the lower bound is asserted (a slow host passes).
 */
static void tx_three(struct fx *f, struct rate_limiter_params rl, uint32_t payload)
{
	struct timespec t0;

	make_rl(f, rl);
	start(f, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 3; i++)
		tx_frame(f, VIRTIO_NET_HDR_GSO_NONE, 0, payload);
	assert_true(wait_used(&f->r[1], 3));
	assert_true(ms_since(&t0) >= 150);
	assert_int_equal(counters(f).tx_frames, 3);
	assert_true(counters(f).tx_throttled >= 1);
}

static void test_tx_rate_limited_ops(void **state)
{
	tx_three(*state, (struct rate_limiter_params){ .ops = { 1, 0, 100 } }, 64);
}

static void test_tx_rate_limited_bandwidth(void **state)
{
	tx_three(*state, (struct rate_limiter_params){ .bandwidth = { 1000, 0, 100 } }, 1000);
}

static void test_rx_rate_limited_ops(void **state)
{
	struct fx *f = *state;
	struct timespec t0;
	uint64_t gpa;

	make_rl(f, (struct rate_limiter_params){ .ops = { 1, 0, 100 } });
	start(f, 0);
	for (int i = 0; i < 3; i++)
		post1(f, 0, 1600, VRING_DESC_F_WRITE, &gpa);
	kick(f, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 3; i++)
		host_send(f, 0, 64, (uint8_t)i);
	assert_true(wait_used(&f->r[0], 3));
	assert_true(ms_since(&t0) >= 150);
	assert_int_equal(counters(f).rx_frames, 3);
	assert_int_equal(counters(f).rx_dropped, 0);
	assert_true(counters(f).rx_throttled >= 1);
}

/* ------------------------------------------------------------------ control queue */

/* Sends {class, cmd, data} on the control queue; returns the ack byte (0xee: none). */
static uint8_t ctrl(struct fx *f, uint8_t cls, uint8_t cmd, const void *data, uint32_t n,
		    bool with_ack, uint32_t *used_len)
{
	unsigned q = f->ctrlq;
	uint16_t d = f->next_desc[q];
	uint64_t cmd_gpa = gbuf(f, 2 + n), ack_gpa = gbuf(f, 1), id64;
	uint16_t idx = (uint16_t)(drv_used_idx(&f->r[q]) + 1);
	uint32_t id;

	g(f, cmd_gpa, 2)[0] = cls;
	g(f, cmd_gpa, 2)[1] = cmd;
	if (n)
		memcpy(g(f, cmd_gpa + 2, n), data, n);
	drv_desc(&f->r[q], d, cmd_gpa, 2 + n, with_ack ? VRING_DESC_F_NEXT : 0, (uint16_t)(d + 1));
	if (with_ack)
		drv_desc(&f->r[q], (uint16_t)(d + 1), ack_gpa, 1, VRING_DESC_F_WRITE, 0);
	f->next_desc[q] = (uint16_t)(d + 2);
	drv_publish(&f->r[q], d);
	kick(f, q);
	assert_true(wait_used(&f->r[q], idx));
	used(&f->r[q], (uint16_t)(idx - 1), &id, used_len);
	id64 = id;
	assert_int_equal(id64, d);
	return *g(f, ack_gpa, 1);
}

static void test_ctrl_queue_pairs_and_garbage(void **state)
{
	struct fx *f = *state;
	uint16_t two = 2, five = 5, zero = 0;
	uint64_t off = 0;
	uint32_t len;

	make(f, 2);
	start(f, F(CTRL_VQ) | F(MQ));
	assert_int_equal(virtio_net_active_pairs(f->net), 1);
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2, true,
			      &len), VIRTIO_NET_OK);
	assert_int_equal(len, 1);
	assert_int_equal(virtio_net_active_pairs(f->net), 2);
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &five, 2,
			      true, &len), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &zero, 2,
			      true, &len), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 1,
			      true, &len), VIRTIO_NET_ERR);          /* short data */
	assert_int_equal(ctrl(f, 99, 7, NULL, 0, true, &len), VIRTIO_NET_ERR);
	/* CTRL_GUEST_OFFLOADS not negotiated: refused. */
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
			      VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8, true, &len),
			 VIRTIO_NET_ERR);
	/* No ack byte: given back with nothing written. */
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2,
			      false, &len), 0xee);
	assert_int_equal(len, 0);
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_CTRL_CHAIN], 1);
	assert_int_equal(counters(f).rejected[VIRTIO_NET_R_CTRL_CMD], 5);
	assert_int_equal(virtio_net_active_pairs(f->net), 2);
	assert_int_equal(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* 5.1.2: two pairs offered, MQ not taken: the control queue is queue 2, not 4. */
static void test_ctrl_queue_without_mq_is_queue_2(void **state)
{
	struct fx *f = *state;
	uint64_t gpa;
	uint32_t len;

	make(f, 2);
	start(f, F(CTRL_VQ));
	assert_int_equal(ctrl(f, 99, 0, NULL, 0, true, &len), VIRTIO_NET_ERR);
	assert_int_equal(len, 1);
	assert_int_equal(drv_used_idx(&f->r[4]), 0);
	post1(f, 0, 1600, VRING_DESC_F_WRITE, &gpa);            /* receiveq0 still works */
	kick(f, 0);
	host_send(f, 0, 64, 0x77);
	assert_true(wait_used(&f->r[0], 1));
	assert_int_equal(g(f, gpa + HDR, 1)[0], 0x77);
	assert_int_equal(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

static void test_second_pair_serves_after_pairs_set(void **state)
{
	struct fx *f = *state;
	uint16_t two = 2;
	uint64_t gpa;
	uint32_t len;

	make(f, 2);
	start(f, F(CTRL_VQ) | F(MQ));
	post1(f, 2, 1600, VRING_DESC_F_WRITE, &gpa);            /* receiveq1 */
	kick(f, 2);
	host_send(f, 1, 64, 0x66);
	/* Inactive pair: nothing delivered until the driver enables it. */
	assert_int_equal(ctrl(f, 99, 0, NULL, 0, true, &len), VIRTIO_NET_ERR);
	assert_int_equal(drv_used_idx(&f->r[2]), 0);
	assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2, true,
			      &len), VIRTIO_NET_OK);
	assert_true(wait_used(&f->r[2], 1));
	assert_int_equal(g(f, gpa + HDR, 1)[0], 0x66);
}

/* ------------------------------------------------------------------ snapshot */

static void test_snapshot_round_trip_and_refusals(void **state)
{
	struct fx *f = *state;
	struct virtio_dev *vd;
	char err[256];
	cJSON *s;

	make(f, 2);
	vd = virtio_net_dev(f->net);
	s = vd->ops->save(vd);
	assert_non_null(s);
	assert_int_equal(vd->ops->restore(vd, s, err, sizeof(err)), 0);
	cJSON_ReplaceItemInObject(s, "curr_pairs", cJSON_CreateString("0x3"));
	assert_int_equal(vd->ops->restore(vd, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "curr_pairs"));
	cJSON_ReplaceItemInObject(s, "curr_pairs", cJSON_CreateString("0x2"));
	cJSON_ReplaceItemInObject(s, "max_pairs", cJSON_CreateString("0x1"));
	assert_int_equal(vd->ops->restore(vd, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "max_pairs"));
	cJSON_ReplaceItemInObject(s, "max_pairs", cJSON_CreateString("0x2"));
	cJSON_ReplaceItemInObject(s, "mac", cJSON_CreateString("020000000001"));
	assert_int_equal(vd->ops->restore(vd, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mac"));
	cJSON_Delete(s);
	virtio_net_free(f->net);
	f->net = NULL;
}

/* A queue's saved next_avail in a virtio_pci_save() section. */
static unsigned saved_next_avail(const cJSON *vs, unsigned q)
{
	const cJSON *queues = cJSON_GetObjectItemCaseSensitive(vs, "queues");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(queues, (int)q),
							 "next_avail");

	assert_true(cJSON_IsNumber(n));
	return (unsigned)n->valuedouble;
}

/*
 * RX chains popped ahead of a frame go back to the ring at a pause: a snapshot taken then
 * and restored into a new device has them all, and the next frame lands in them.
 */
static void test_pause_gives_back_popped_chains(void **state)
{
	struct fx *f = *state;
	struct virtio_net_params p = params(f, 1);
	struct virtio_pci vp2;
	struct virtio_net *net2;
	struct virtio_dev *vd2;
	cJSON *vs, *ns;
	uint64_t gpa[4];
	uint32_t id, len;
	char err[256];

	make(f, 1);
	start(f, F(MRG_RXBUF));
	for (int i = 0; i < 4; i++)
		post1(f, 0, 512, VRING_DESC_F_WRITE, &gpa[i]);
	kick(f, 0);
	host_send(f, 0, 1000 - HDR, 0x33);          /* chains 0 and 1; 2 popped ahead */
	assert_true(wait_used(&f->r[0], 2));
	assert_int_equal(virtio_pci_pause(&f->vp), 0);
	vs = virtio_pci_save(&f->vp);
	ns = virtio_net_dev(f->net)->ops->save(virtio_net_dev(f->net));
	assert_non_null(vs);
	assert_non_null(ns);
	assert_int_equal(saved_next_avail(vs, 0), 2);
	/* A new device on the same RAM and tap takes the state over. */
	assert_int_equal(virtio_net_new(&p, &f->mem, &net2, err, sizeof(err)), 0);
	vd2 = virtio_net_dev(net2);
	assert_int_equal(virtio_pci_init(&vp2, &(struct virtio_pci_args){
		.id = "net2", .dev = vd2, .intx_ops = &intx_ops, .intx_ctx = f }), 0);
	assert_int_equal(vd2->ops->restore(vd2, ns, err, sizeof(err)), 0);
	assert_int_equal(virtio_pci_restore(&vp2, vs, err, sizeof(err)), 0);
	host_send(f, 0, 1000 - HDR, 0x44);
	assert_true(wait_used(&f->r[0], 4));
	used(&f->r[0], 2, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, 512);
	used(&f->r[0], 3, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 488);
	assert_int_equal(g(f, gpa[2], HDR)[10], 2);
	virtio_pci_destroy(&vp2);
	virtio_net_free(net2);
	cJSON_Delete(vs);
	cJSON_Delete(ns);
	virtio_pci_resume(&f->vp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generated_mac_is_local_unicast, setup, teardown),
		cmocka_unit_test(test_tap_offload_mapping),
		cmocka_unit_test_setup_teardown(test_tx_frame_reaches_tap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bad_chains_are_dropped_and_counted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_descriptor_outside_ram_needs_reset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_single_buffer_num_buffers_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_big_is_dropped_not_truncated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_mrg_rxbuf_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mrg_frame_waits_for_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mrg_frame_larger_than_ring_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_bad_chain_given_back_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_rx_buffers_do_not_stall_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_rate_limited_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_rate_limited_bandwidth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_rate_limited_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_queue_pairs_and_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_queue_without_mq_is_queue_2, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_second_pair_serves_after_pairs_set, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_round_trip_and_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pause_gives_back_popped_chains, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
