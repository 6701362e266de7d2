// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-rng and virtio-console driven end to end as a guest would: through BAR0 of a real
 * transport, rings in real guest RAM, kicks through the notify register, and the devices'
 * own worker threads doing the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_console.h>

#include "arch/x86_64/arch.h"
#include "vtest.h"

#define MEM  (16ULL << 20)
#define BUF  0x100000ULL
#define V1   VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define ALL_OK (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK)

struct fx {
	struct guest_mem mem;
	struct virtio_pci vp;
	struct virtio_rng *rng;
	struct virtio_console *con;
	int src[2], in[2], out[2];          /* pipes: [0] read end, [1] write end */
	unsigned raises;
	struct drv_ring r[2];
};

static int i_raise(void *ctx)
{
	__atomic_add_fetch(&((struct fx *)ctx)->raises, 1, __ATOMIC_RELAXED);
	return 0;
}

static const struct virtio_intx_ops intx_ops = { i_raise, NULL };

static void start(struct fx *f, struct virtio_dev *dev)
{
	struct virtio_pci_args a = { .id = "dev", .dev = dev, .intx_ops = &intx_ops,
				     .intx_ctx = f };
	unsigned q;

	assert_int_equal(virtio_pci_init(&f->vp, &a), 0);
	drv_status(&f->vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_features(&f->vp, V1 | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
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
	assert_int_equal(pipe2(f->src, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->out, O_CLOEXEC | O_NONBLOCK), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int i;

	virtio_pci_destroy(&f->vp);              /* resets: workers stopped */
	virtio_rng_free(f->rng);
	virtio_console_free(f->con);
	for (i = 0; i < 2; i++) {
		close(f->src[i]);
		close(f->in[i]);
		close(f->out[i]);
	}
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static void kick(struct fx *f, unsigned q)
{
	bar_wr(&f->vp, virtio_pci_notify_offset(&f->vp, q), 2, q);
}

static bool wait_used(struct drv_ring *r, uint16_t idx, int ms)
{
	struct timespec ts = { 0, 1000000 };

	while (drv_used_idx(r) != idx && ms-- > 0)
		nanosleep(&ts, NULL);
	return drv_used_idx(r) == idx;
}

static uint32_t used_len(struct drv_ring *r, uint16_t slot)
{
	uint32_t id, len;

	drv_used_elem(r, slot, &id, &len);
	return len;
}

static uint8_t *gbuf(struct fx *f, uint64_t gpa)
{
	return gp(&f->mem, gpa, 1);
}

/* ------------------------------------------------------------------ rng */

static void start_rng(struct fx *f, int src)
{
	f->rng = virtio_rng_new(dup(src), &f->mem);   /* the device closes its copy */
	assert_non_null(f->rng);
	start(f, virtio_rng_dev(f->rng));
}

static void test_rng_fills_writable_chain(void **state)
{
	struct fx *f = *state;
	uint8_t pattern[64];
	unsigned i;

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(write(f->src[1], pattern, sizeof(pattern)), sizeof(pattern));
	start_rng(f, f->src[0]);
	drv_desc(&f->r[0], 0, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	drv_desc(&f->r[0], 1, BUF + 0x1000, 16, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	kick(f, 0);
	assert_true(wait_used(&f->r[0], 1, 2000));
	assert_int_equal(used_len(&f->r[0], 0), 32);
	assert_memory_equal(gbuf(f, BUF), pattern, 16);
	assert_memory_equal(gbuf(f, BUF + 0x1000), pattern + 16, 16);
	assert_int_equal(virtio_rng_bytes(f->rng), 32);
	assert_true(__atomic_load_n(&f->raises, __ATOMIC_RELAXED) >= 1);   /* INTx */
}

/*
 * The transport seam: virtio-rng served through a bare transport of five hooks, no PCI at
 * all, as a virtio-mmio transport would carry it.
 */
struct bare_transport {
	int kick_fd;
	unsigned notified;
};

static int bare_notify(void *ctx, unsigned q)
{
	(void)q;
	__atomic_add_fetch(&((struct bare_transport *)ctx)->notified, 1, __ATOMIC_RELAXED);
	return 0;
}

static void bare_config_changed(void *ctx)
{
	(void)ctx;
}

static void bare_needs_reset(void *ctx)
{
	(void)ctx;
	fail_msg("the device asked for a reset");
}

static int bare_kick_fd(void *ctx, unsigned q)
{
	return q ? -1 : ((struct bare_transport *)ctx)->kick_fd;
}

static void bare_kick(void *ctx, unsigned q)
{
	uint64_t one = 1;

	if (!q)
		assert_int_equal(write(((struct bare_transport *)ctx)->kick_fd, &one, 8), 8);
}

static const struct virtio_transport_ops bare_ops = {
	bare_notify, bare_config_changed, bare_needs_reset, bare_kick_fd, bare_kick, NULL,
};

static void test_rng_on_a_bare_transport(void **state)
{
	struct fx *f = *state;
	struct bare_transport t = { .kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	struct virtio_dev *vd;

	assert_int_equal(write(f->src[1], "0123456789abcdef", 16), 16);
	f->rng = virtio_rng_new(dup(f->src[0]), &f->mem);
	vd = virtio_rng_dev(f->rng);
	vd->transport = &bare_ops;
	vd->transport_ctx = &t;
	drv_init(&f->r[0], &f->mem, 16, 0x10000);
	assert_int_equal(virtq_enable(&vd->vqs[0], 16, f->r[0].desc, f->r[0].avail, f->r[0].used),
			 0);
	assert_int_equal(vd->ops->activate(vd), 0);
	drv_desc(&f->r[0], 0, BUF, 16, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	bare_kick(&t, 0);
	assert_true(wait_used(&f->r[0], 1, 2000));
	assert_int_equal(used_len(&f->r[0], 0), 16);
	assert_memory_equal(gbuf(f, BUF), "0123456789abcdef", 16);
	assert_true(__atomic_load_n(&t.notified, __ATOMIC_RELAXED) >= 1);
	virtio_dev_destroy(vd);               /* reset (joins the worker), then the device */
	f->rng = NULL;
	close(t.kick_fd);
}

static void test_rng_refuses_readonly(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write(f->src[1], "0123456789abcdef", 16), 16);
	start_rng(f, f->src[0]);
	memset(gbuf(f, BUF), 0x5a, 16);
	drv_desc(&f->r[0], 0, BUF, 16, 0, 0);
	drv_publish(&f->r[0], 0);
	kick(f, 0);
	assert_true(wait_used(&f->r[0], 1, 2000));
	assert_int_equal(used_len(&f->r[0], 0), 0);
	assert_int_equal(*gbuf(f, BUF), 0x5a);
	assert_int_equal(virtio_rng_refused(f->rng), 1);
	assert_int_equal(virtio_rng_bytes(f->rng), 0);
}

static void test_rng_bounded(void **state)
{
	struct fx *f = *state;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	start_rng(f, fd);
	drv_desc(&f->r[0], 0, BUF, 128 * 1024, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	kick(f, 0);
	assert_true(wait_used(&f->r[0], 1, 2000));
	assert_int_equal(used_len(&f->r[0], 0), VIRTIO_RNG_MAX_REQUEST);
	virtio_pci_destroy(&f->vp);
	memset(&f->vp, 0, sizeof(f->vp));
	close(fd);
}

/* A reset while the worker waits on an empty source must not hang; the device restarts. */
static void test_rng_reset_while_blocked(void **state)
{
	struct fx *f = *state;
	struct timespec ts = { 0, 20 * 1000000 };

	start_rng(f, f->src[0]);
	drv_desc(&f->r[0], 0, BUF, 8, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	kick(f, 0);
	nanosleep(&ts, NULL);
	drv_status(&f->vp, 0);                   /* returns: the worker was interrupted */
	assert_int_equal(drv_get_status(&f->vp), 0);
	/* Bring it up again, this time with entropy available. */
	assert_int_equal(write(f->src[1], "12345678", 8), 8);
	drv_status(&f->vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_features(&f->vp, V1);
	drv_status(&f->vp, ALL_OK & ~VIRTIO_CONFIG_S_DRIVER_OK);
	drv_init(&f->r[0], &f->mem, 16, 0x10000);
	drv_queue(&f->vp, 0, &f->r[0]);
	drv_desc(&f->r[0], 0, BUF, 8, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);                 /* before DRIVER_OK: the first poll finds it */
	drv_status(&f->vp, ALL_OK);
	assert_true(wait_used(&f->r[0], 1, 2000));
	assert_memory_equal(gbuf(f, BUF), "12345678", 8);
}

static void test_rng_pause_resume(void **state)
{
	struct fx *f = *state;
	struct timespec ts = { 0, 50 * 1000000 };

	assert_int_equal(write(f->src[1], "abcdefgh", 8), 8);
	start_rng(f, f->src[0]);
	assert_int_equal(virtio_pci_pause(&f->vp), 0);
	drv_desc(&f->r[0], 0, BUF, 8, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[0], 0);
	kick(f, 0);
	nanosleep(&ts, NULL);
	assert_int_equal(drv_used_idx(&f->r[0]), 0);          /* paused: nothing moves */
	virtio_pci_resume(&f->vp);
	assert_true(wait_used(&f->r[0], 1, 2000));
	assert_int_equal(used_len(&f->r[0], 0), 8);
}

/* ------------------------------------------------------------------ console */

static void start_console(struct fx *f, int in, int out)
{
	f->con = virtio_console_new(in, out, &f->mem);
	assert_non_null(f->con);
	start(f, virtio_console_dev(f->con));
}

static size_t read_out(struct fx *f, char *buf, size_t len, size_t want)
{
	size_t got = 0;

	while (got < want) {
		struct pollfd p = { f->out[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 2000) != 1)
			break;
		n = read(f->out[0], buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void test_console_tx(void **state)
{
	struct fx *f = *state;
	static const char msg1[] = "hello, ", msg2[] = "world\n";
	struct virtio_console_stats st;
	char buf[64] = { 0 };

	start_console(f, f->in[0], f->out[1]);
	memcpy(gbuf(f, BUF), msg1, 7);
	memcpy(gbuf(f, BUF + 0x100), msg2, 6);
	drv_desc(&f->r[VIRTIO_CONSOLE_TX], 0, BUF, 7, VRING_DESC_F_NEXT, 1);
	drv_desc(&f->r[VIRTIO_CONSOLE_TX], 1, BUF + 0x100, 6, 0, 0);
	drv_publish(&f->r[VIRTIO_CONSOLE_TX], 0);
	kick(f, VIRTIO_CONSOLE_TX);
	assert_int_equal(read_out(f, buf, sizeof(buf), 13), 13);
	assert_string_equal(buf, "hello, world\n");
	assert_true(wait_used(&f->r[VIRTIO_CONSOLE_TX], 1, 2000));
	assert_int_equal(used_len(&f->r[VIRTIO_CONSOLE_TX], 0), 0);
	virtio_console_stats(f->con, &st);
	assert_int_equal(st.tx_bytes, 13);
}

static void post_rx(struct fx *f, uint16_t head, uint64_t gpa, uint32_t len)
{
	drv_desc(&f->r[VIRTIO_CONSOLE_RX], head, gpa, len, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r[VIRTIO_CONSOLE_RX], head);
	kick(f, VIRTIO_CONSOLE_RX);
}

static void test_console_rx(void **state)
{
	struct fx *f = *state;
	struct drv_ring *rx = &f->r[VIRTIO_CONSOLE_RX];
	struct virtio_console_stats st;
	struct timespec ts = { 0, 30 * 1000000 };

	start_console(f, f->in[0], f->out[1]);
	post_rx(f, 0, BUF, 64);
	assert_int_equal(write(f->in[1], "abc", 3), 3);
	assert_true(wait_used(rx, 1, 2000));
	assert_int_equal(used_len(rx, 0), 3);
	assert_memory_equal(gbuf(f, BUF), "abc", 3);
	/* Input with no buffer posted waits (parked), then goes to the next buffer. */
	assert_int_equal(write(f->in[1], "xyz", 3), 3);
	nanosleep(&ts, NULL);
	assert_int_equal(drv_used_idx(rx), 1);
	post_rx(f, 1, BUF + 0x100, 2);                          /* smaller than the input */
	assert_true(wait_used(rx, 2, 2000));
	assert_int_equal(used_len(rx, 1), 2);
	assert_memory_equal(gbuf(f, BUF + 0x100), "xy", 2);
	post_rx(f, 2, BUF + 0x200, 64);
	assert_true(wait_used(rx, 3, 2000));
	assert_int_equal(used_len(rx, 2), 1);
	assert_int_equal(*gbuf(f, BUF + 0x200), 'z');
	virtio_console_stats(f->con, &st);
	assert_int_equal(st.rx_bytes, 6);
}

static void test_console_emerg_write_and_config(void **state)
{
	struct fx *f = *state;
	char c = 0;

	start_console(f, -1, f->out[1]);
	assert_true(drv_offered(&f->vp) & VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE));
	assert_false(drv_offered(&f->vp) & VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT));
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF, 4), 0);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + 8, 4), 0);
	bar_wr(&f->vp, VIRTIO_PCI_DEVICE_CFG_OFF + 8, 4, 'E');
	assert_int_equal(read_out(f, &c, 1, 1), 1);
	assert_int_equal(c, 'E');
}

static void test_console_null(void **state)
{
	struct fx *f = *state;
	struct virtio_console_stats st;

	start_console(f, -1, -1);
	drv_desc(&f->r[VIRTIO_CONSOLE_TX], 0, BUF, 100, 0, 0);
	drv_publish(&f->r[VIRTIO_CONSOLE_TX], 0);
	kick(f, VIRTIO_CONSOLE_TX);
	assert_true(wait_used(&f->r[VIRTIO_CONSOLE_TX], 1, 2000));
	virtio_console_stats(f->con, &st);
	assert_int_equal(st.tx_bytes, 100);
}

/* A hostile TX chain stops the queue and flags the device; nothing crashes or spins. */
static void test_console_hostile_tx(void **state)
{
	struct fx *f = *state;
	struct timespec ts = { 0, 1000000 };
	int ms = 2000;

	start_console(f, f->in[0], f->out[1]);
	drv_desc(&f->r[VIRTIO_CONSOLE_TX], 0, 0xd0000000ULL, 100, 0, 0);   /* MMIO hole */
	drv_publish(&f->r[VIRTIO_CONSOLE_TX], 0);
	kick(f, VIRTIO_CONSOLE_TX);
	while (!(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET) && ms-- > 0)
		nanosleep(&ts, NULL);
	assert_true(drv_get_status(&f->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(bar_rd(&f->vp, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_PCI_ISR_CONFIG);
	assert_int_equal(drv_used_idx(&f->r[VIRTIO_CONSOLE_TX]), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rng_fills_writable_chain),
		T(test_rng_on_a_bare_transport),
		T(test_rng_refuses_readonly),
		T(test_rng_bounded),
		T(test_rng_reset_while_blocked),
		T(test_rng_pause_resume),
		T(test_console_tx),
		T(test_console_rx),
		T(test_console_emerg_write_and_config),
		T(test_console_null),
		T(test_console_hostile_tx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
