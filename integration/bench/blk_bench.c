// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk host-side benchmark harness (not a test). It plays the guest driver against the
 * real device model: guest RAM is vireo's (private, transparent huge pages where the host
 * allows; --small-pages: 4 KiB pages, as fio's buffers), the device sits behind the real
 * virtio-pci transport, requests are split-ring chains {header, data, status} in that RAM,
 * kicks go to the queue's kick eventfd (what KVM's ioeventfd would write) and completions
 * come back as INTx interrupts on an eventfd. No KVM and no guest CPU are involved, so the
 * numbers measure the device model and the host I/O path only. EVENT_IDX is negotiated and
 * used as a Linux driver would (used_event to ask for the next interrupt, avail_event to
 * decide whether to kick).
 *
 * usage: blk_bench --file PATH --rw randread|randwrite|read|write [--bs 4096] [--depth 32]
 *                  [--seconds 5] [--engine uring|sync] [--direct] [--queue-size N] [--small-pages]
 *                  [--bw-size B --bw-refill-ms M] [--ops-size N --ops-refill-ms M]
 * prints one JSON line: ops, bytes, seconds, iops, bw_bytes, errors, throttled.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_blk.h>

#include "arch/x86_64/arch.h"
#include "vtest.h"                        /* driver-side ring helpers (tests/virtio) */

#define RING_GPA  0x10000ULL
#define HDR_GPA   0x200000ULL
#define STAT_GPA  0x300000ULL
#define DATA_GPA  0x1000000ULL

struct opts {
	const char *file, *rw;
	unsigned bs, depth, queue_size;
	double seconds;
	enum virtio_blk_engine engine;
	bool direct, poll, small_pages;
	struct rate_limiter_params rl;
};

struct bench {
	struct opts o;
	struct guest_mem mem;
	struct virtio_pci vp;
	struct virtio_blk *blk;
	struct drv_ring ring;
	int irq_fd, kick_fd;
	uint64_t slots, pos, rnd;          /* bs-sized blocks in the image; seq position; PRNG */
	bool write, random;
	uint16_t last_used;
	uint64_t ops, bytes, errors;
	double *sent;                      /* per request: when it was published */
	double e2e;                        /* sum of publish-to-harvest times */
};

static int irq_raise(void *ctx)
{
	struct bench *b = ctx;
	uint64_t one = 1;

	return write(b->irq_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static const struct virtio_intx_ops irq_ops = { irq_raise, NULL };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "blk_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static uint64_t next_offset(struct bench *b)
{
	if (b->random) {
		b->rnd ^= b->rnd << 13;
		b->rnd ^= b->rnd >> 7;
		b->rnd ^= b->rnd << 17;
		return (b->rnd % b->slots) * b->o.bs;
	}
	b->pos = (b->pos + 1) % b->slots;
	return b->pos * b->o.bs;
}

static uint64_t data_gpa(const struct bench *b, unsigned i)
{
	return DATA_GPA + (uint64_t)i * ((b->o.bs + 4095) & ~4095u);
}

/* Request @i uses descriptors 3i..3i+2: header, data, status. */
static void prep(struct bench *b, unsigned i)
{
	struct virtio_blk_outhdr h = {
		htole32(b->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN), 0,
		htole64(next_offset(b) >> VIRTIO_BLK_SECTOR_SHIFT) };
	uint16_t d = (uint16_t)(3 * i);

	memcpy(gp(&b->mem, HDR_GPA + 16ULL * i, 16), &h, 16);
	drv_desc(&b->ring, d, HDR_GPA + 16ULL * i, 16, VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	drv_desc(&b->ring, (uint16_t)(d + 1), data_gpa(b, i), b->o.bs,
		 (uint16_t)(VRING_DESC_F_NEXT | (b->write ? 0 : VRING_DESC_F_WRITE)),
		 (uint16_t)(d + 2));
	drv_desc(&b->ring, (uint16_t)(d + 2), STAT_GPA + i, 1, VRING_DESC_F_WRITE, 0);
	*drv_u16(&b->ring, b->ring.avail + 4 + 2ULL * (b->ring.avail_idx % b->ring.size)) = d;
	b->ring.avail_idx++;
	b->sent[i] = now_s();
}

/* Publishes the new avail index and kicks only if the device asked for it (2.7.10). */
static void publish(struct bench *b, uint16_t old)
{
	uint64_t one = 1;

	__atomic_store_n(drv_u16(&b->ring, b->ring.avail + 2), b->ring.avail_idx,
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (virtq_need_event(drv_avail_event(&b->ring), b->ring.avail_idx, old) &&
	    write(b->kick_fd, &one, sizeof(one)) != sizeof(one))
		die("kick: %s", strerror(errno));
}

/* Takes what completed; resubmits unless @stop. Returns the number harvested. */
static unsigned harvest(struct bench *b, bool stop)
{
	uint16_t used = drv_used_idx(&b->ring), old = b->ring.avail_idx;
	unsigned n = 0;

	while (b->last_used != used) {
		uint32_t id, len;
		unsigned i;

		drv_used_elem(&b->ring, b->last_used++, &id, &len);
		i = id / 3;
		if (*(uint8_t *)gp(&b->mem, STAT_GPA + i, 1) != VIRTIO_BLK_S_OK)
			b->errors++;
		b->ops++;
		b->bytes += b->o.bs;
		b->e2e += now_s() - b->sent[i];
		n++;
		if (!stop)
			prep(b, i);
	}
	if (n && !stop)
		publish(b, old);
	return n;
}

/* Sleeps until the next interrupt unless completions are already there. */
static void wait_irq(struct bench *b)
{
	uint64_t v;

	if (b->o.poll) {
		/* Polling driver: no interrupts asked for, spin on the used index. */
		while (drv_used_idx(&b->ring) == b->last_used)
			__builtin_ia32_pause();
		return;
	}
	drv_set_used_event(&b->ring, b->last_used);   /* interrupt me at the next one */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (drv_used_idx(&b->ring) != b->last_used)
		return;
	if (read(b->irq_fd, &v, sizeof(v)) < 0 && errno != EINTR)
		die("irq eventfd: %s", strerror(errno));
}

/* Keeps depth requests in flight for the duration, then drains; returns the seconds. */
static double run(struct bench *b)
{
	double t0, end;
	unsigned i;

	for (i = 0; i < b->o.depth; i++)
		prep(b, i);
	t0 = now_s();
	end = t0 + b->o.seconds;
	publish(b, 0);
	while (now_s() < end) {
		wait_irq(b);
		harvest(b, false);
	}
	while (b->ring.avail_idx != b->last_used) {
		wait_irq(b);
		harvest(b, true);
	}
	return now_s() - t0;
}

/* ------------------------------------------------------------------ setup */

static void bring_up(struct bench *b)
{
	uint8_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t features;

	drv_status(&b->vp, status);
	/* What Linux takes: everything offered but indirect descriptors (not needed here). */
	features = drv_offered(&b->vp) & ~VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	if (!(features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX)))
		die("device does not offer EVENT_IDX");
	drv_features(&b->vp, features);
	status |= VIRTIO_CONFIG_S_FEATURES_OK;
	drv_status(&b->vp, status);
	drv_init(&b->ring, &b->mem, (uint16_t)b->o.queue_size, RING_GPA);
	drv_queue(&b->vp, 0, &b->ring);
	status |= VIRTIO_CONFIG_S_DRIVER_OK;
	drv_status(&b->vp, status);
	if (drv_get_status(&b->vp) != status)
		die("device refused to start (status 0x%x)", drv_get_status(&b->vp));
}

static void setup(struct bench *b)
{
	struct virtio_blk_params cfg = { .path = b->o.file, .direct = b->o.direct,
				   .num_queues = 1, .queue_size = b->o.queue_size,
				   .rate_limiter = b->o.rl };
	struct virtio_pci_args a = { .id = "bench-blk", .intx_ops = &irq_ops, .intx_ctx = b };
	uint64_t mem = DATA_GPA + (uint64_t)b->o.depth * ((b->o.bs + 4095) & ~4095u) + (1 << 20);
	char err[256];
	unsigned i;
	int ret;

	mem = (mem + (2 << 20) - 1) & ~((2ULL << 20) - 1);
	if (arch_guest_mem_init(&b->mem, mem))
		die("guest memory: %s", strerror(errno));
	/* Before the first touch: the pages stay 4 KiB, so each 1 MiB buffer is 256 segments. */
	if (b->o.small_pages && madvise(b->mem.base, b->mem.total, MADV_NOHUGEPAGE))
		die("madvise: %s", strerror(errno));
	ret = virtio_blk_new(&cfg, b->o.engine, &b->mem, &b->blk, err, sizeof(err));
	if (ret)
		die("%s", err);
	b->slots = virtio_blk_capacity(b->blk) * VIRTIO_BLK_SECTOR_SIZE / b->o.bs;
	if (!b->slots)
		die("image smaller than one block");
	a.dev = virtio_blk_dev(b->blk);
	ret = virtio_pci_init(&b->vp, &a);
	if (ret)
		die("virtio_pci_init: %s", strerror(-ret));
	b->irq_fd = eventfd(0, EFD_CLOEXEC);
	b->kick_fd = virtio_pci_kick_fd(&b->vp, 0);
	if (b->irq_fd < 0)
		die("eventfd: %s", strerror(errno));
	for (i = 0; i < b->o.depth; i++)
		memset(gp(&b->mem, data_gpa(b, i), b->o.bs), 0x5a + i, b->o.bs);
	bring_up(b);
}

static uint64_t num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		die("%s: '%s' is not a number", what, s);
	return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "file", 1, 0, 'f' }, { "rw", 1, 0, 'r' }, { "bs", 1, 0, 'b' },
		{ "depth", 1, 0, 'd' }, { "seconds", 1, 0, 's' }, { "engine", 1, 0, 'e' },
		{ "direct", 0, 0, 'D' }, { "poll", 0, 0, 'p' }, { "queue-size", 1, 0, 'q' },
		{ "small-pages", 0, 0, 'S' }, { "bw-size", 1, 0, 1 },
		{ "bw-refill-ms", 1, 0, 2 }, { "ops-size", 1, 0, 3 }, { "ops-refill-ms", 1, 0, 4 },
		{ 0, 0, 0, 0 } };
	int c;

	*o = (struct opts){ .rw = "randread", .bs = 4096, .depth = 32, .seconds = 5,
			    .engine = VIRTIO_BLK_ENGINE_URING };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o->file = optarg; break;
		case 'r': o->rw = optarg; break;
		case 'b': o->bs = (unsigned)num(optarg, "--bs"); break;
		case 'd': o->depth = (unsigned)num(optarg, "--depth"); break;
		case 's': o->seconds = atof(optarg); break;
		case 'D': o->direct = true; break;
		case 'p': o->poll = true; break;
		case 'S': o->small_pages = true; break;
		case 'q': o->queue_size = (unsigned)num(optarg, "--queue-size"); break;
		case 'e':
			if (!strcmp(optarg, "sync"))
				o->engine = VIRTIO_BLK_ENGINE_SYNC;
			else if (strcmp(optarg, "uring"))
				die("--engine: uring or sync");
			break;
		case 1: o->rl.bandwidth.size = num(optarg, "--bw-size"); break;
		case 2: o->rl.bandwidth.refill_time = num(optarg, "--bw-refill-ms"); break;
		case 3: o->rl.ops.size = num(optarg, "--ops-size"); break;
		case 4: o->rl.ops.refill_time = num(optarg, "--ops-refill-ms"); break;
		default: die("unknown option (see the comment at the top of blk_bench.c)");
		}
	}
	if (!o->file)
		die("--file is required");
	if (!o->bs || o->bs % 512 || o->bs > VIRTIO_BLK_SIZE_MAX)
		die("--bs must be a multiple of 512 up to %u", VIRTIO_BLK_SIZE_MAX);
	if (!o->queue_size) {
		o->queue_size = 128;
		while (o->queue_size < 3 * o->depth)
			o->queue_size *= 2;
	}
	if (!o->depth || 3 * o->depth > o->queue_size || o->queue_size > VIRTQ_MAX_SIZE)
		die("--depth: 3 descriptors per request must fit the queue");
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct virtio_blk_counters c;
	double secs;

	parse(argc, argv, &b.o);
	b.write = strstr(b.o.rw, "write") != NULL;
	b.random = !strncmp(b.o.rw, "rand", 4);
	if (strcmp(b.o.rw, "read") && strcmp(b.o.rw, "write") && strcmp(b.o.rw, "randread") &&
	    strcmp(b.o.rw, "randwrite"))
		die("--rw: randread, randwrite, read or write");
	b.rnd = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	b.pos = (uint64_t)-1;
	b.sent = calloc(b.o.depth, sizeof(*b.sent));
	if (!b.sent)
		die("out of memory");
	setup(&b);
	secs = run(&b);
	virtio_blk_counters(b.blk, &c);
	printf("{\"engine\": \"%s\", \"rw\": \"%s\", \"bs\": %u, \"depth\": %u, "
	       "\"seconds\": %.3f, \"ops\": %llu, \"bytes\": %llu, \"iops\": %.1f, "
	       "\"bw_bytes\": %.1f, \"errors\": %llu, \"throttled\": %llu, \"device_lat_us\": %llu, \"e2e_lat_us\": %.0f}\n",
	       b.o.engine == VIRTIO_BLK_ENGINE_SYNC ? "sync" : "uring", b.o.rw, b.o.bs, b.o.depth,
	       secs, (unsigned long long)b.ops, (unsigned long long)b.bytes, b.ops / secs,
	       b.bytes / secs, (unsigned long long)(b.errors + c.io_errors),
	       (unsigned long long)c.throttled,
	       (unsigned long long)(b.write ? c.write_latency_avg : c.read_latency_avg),
	       b.ops ? b.e2e / (double)b.ops * 1e6 : 0.0);
	virtio_pci_destroy(&b.vp);
	virtio_blk_free(b.blk);
	guest_mem_destroy(&b.mem);
	return b.errors ? 1 : 0;
}
