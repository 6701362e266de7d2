// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk (virtio 1.2 5.2) on a raw image: opening and locking the image, sizing it,
 * feature set and configuration space, the ops table, counters and snapshot identity.
 * Request validation is in blk_req.c, the per-queue workers in blk_queue.c, the I/O engines
 * (io_uring, synchronous) in blk_io.c.
 */
#include <cjson/cJSON.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "virtio/blk_internal.h"
#include "base/file.h"
#include "base/log.h"

#define LATENCY_SCALE 10000ULL           /* CH reports avg / LATENCY_SCALE */

/* Features besides RO / DISCARD / WRITE_ZEROES, which depend on the disk. */
#define BLK_FEATURES (VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | \
		      VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | \
		      VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_MQ))

void blk_count_add(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* 5.2.6.2: with FLUSH offered but not negotiated (and no CONFIG_WCE), writes are stable. */
bool blk_writethrough(const struct virtio_blk *blk, uint64_t features)
{
	(void)blk;
	return !(features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
}

/* ------------------------------------------------------------------ image */

/*
 * OFD lock on the whole image: a second VMM (or a second disk of this one) cannot open a
 * writable image in use, nor write to one others read.
 */
static int lock_image(struct virtio_blk *blk, char *err, size_t errlen)
{
	struct flock fl = { .l_type = blk->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };

	if (!fcntl(blk->fd, F_OFD_SETLK, &fl))
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return set_err(err, errlen, -EBUSY, "disk '%s' is locked by another process "
			    "(already in use by a VM?)", blk->path);
	return set_err(err, errlen, -errno, "disk '%s': cannot lock: %s", blk->path,
		    strerror(errno));
}

struct geometry {
	uint64_t bytes;
	uint32_t logical, physical, min_io, opt_io;
};

static int probe_size(struct virtio_blk *blk, struct geometry *g, char *err, size_t errlen)
{
	struct statx stx;
	struct stat st;

	*g = (struct geometry){ 0, VIRTIO_BLK_SECTOR_SIZE, VIRTIO_BLK_SECTOR_SIZE, 0, 0 };
	if (fstat(blk->fd, &st))
		return set_err(err, errlen, -errno, "disk '%s': %s", blk->path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		int lbs = 0, pbs = 0;
		unsigned min_io = 0, opt_io = 0;

		if (ioctl(blk->fd, BLKGETSIZE64, &g->bytes) || ioctl(blk->fd, BLKSSZGET, &lbs) ||
		    ioctl(blk->fd, BLKPBSZGET, &pbs) || ioctl(blk->fd, BLKIOMIN, &min_io) ||
		    ioctl(blk->fd, BLKIOOPT, &opt_io))
			return set_err(err, errlen, -errno, "disk '%s': cannot size block device: %s",
				    blk->path, strerror(errno));
		*g = (struct geometry){ g->bytes, (uint32_t)lbs, (uint32_t)pbs, min_io, opt_io };
	} else if (S_ISREG(st.st_mode)) {
		g->bytes = (uint64_t)st.st_size;
		/* A filesystem block is the natural unit of a file's I/O. */
		if ((long)st.st_blksize >= VIRTIO_BLK_SECTOR_SIZE && st.st_blksize <= 65536)
			g->physical = (uint32_t)st.st_blksize;
		/* With O_DIRECT the guest must align offsets to what the filesystem requires;
		 * memory it need not (blk_bounce.c), but that is what it costs. */
		if (blk->direct && !statx(blk->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
		    (stx.stx_mask & STATX_DIOALIGN)) {
			if (stx.stx_dio_offset_align > g->logical)
				g->logical = stx.stx_dio_offset_align;
			blk->dio_mem_align = stx.stx_dio_mem_align;
		}
	} else {
		return set_err(err, errlen, -EINVAL, "disk '%s' is neither a file nor a block device",
			    blk->path);
	}
	if (g->logical < VIRTIO_BLK_SECTOR_SIZE || (g->logical & (g->logical - 1)) ||
	    g->logical > 65536)
		return set_err(err, errlen, -EINVAL, "disk '%s': unusable block size %u", blk->path,
			    g->logical);
	if (g->physical < g->logical || (g->physical & (g->physical - 1)))
		g->physical = g->logical;
	if (g->bytes % VIRTIO_BLK_SECTOR_SIZE)
		pr_warn("disk '%s': size %" PRIu64 " is not a multiple of 512; the tail is not "
			"visible to the guest", blk->path, g->bytes);
	/* Unknown (block device, older kernel): the logical block size is the safe guess. */
	if (!blk->dio_mem_align || (blk->dio_mem_align & (blk->dio_mem_align - 1)))
		blk->dio_mem_align = g->logical;
	blk->capacity = g->bytes >> VIRTIO_BLK_SECTOR_SHIFT;
	return 0;
}

/* Without blocking (a FIFO would wait for a writer) and only a file or a block device. */
static int open_image(struct virtio_blk *blk, char *err, size_t errlen)
{
	int fd = file_open("disk", blk->path, blk->readonly ? O_RDONLY : O_RDWR, 0,
			   FILE_TYPE_REG | FILE_TYPE_BLK, err, errlen), fl;

	if (fd < 0)
		return fd;
	blk->fd = fd;
	fl = fcntl(fd, F_GETFL);
	if (!blk->direct || (fl >= 0 && !fcntl(fd, F_SETFL, fl | O_DIRECT)))
		return 0;
	if (errno == EINVAL)
		return set_err(err, errlen, -EINVAL, "disk '%s': direct=on is not supported by its "
			    "filesystem", blk->path);
	return set_err(err, errlen, -errno, "disk '%s': direct=on: %s", blk->path,
		       strerror(errno));
}

/* GET_ID: the given serial, else CH's "device id" of the image (dev, rdev, inode). */
static void build_id(struct virtio_blk *blk, const char *serial)
{
	char buf[3 * 17];
	struct stat st;

	memset(blk->id, 0, sizeof(blk->id));
	blk->id_from_serial = serial != NULL;
	if (!serial) {
		if (fstat(blk->fd, &st))
			return;
		snprintf(buf, sizeof(buf), "%" PRIx64 "%" PRIx64 "%" PRIx64, (uint64_t)st.st_dev,
			 (uint64_t)st.st_rdev, (uint64_t)st.st_ino);
		serial = buf;
	}
	memcpy(blk->id, serial, strnlen(serial, VIRTIO_BLK_ID_LEN));
}

/* ------------------------------------------------------------------ config space */

static unsigned log2u(uint32_t v)
{
	unsigned n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static void build_config(struct virtio_blk *blk, const struct geometry *g)
{
	struct virtio_blk_config *c = &blk->config;
	uint32_t lsec = g->logical / VIRTIO_BLK_SECTOR_SIZE;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(blk->capacity);
	c->size_max = htole32(VIRTIO_BLK_SIZE_MAX);
	c->seg_max = htole32(blk->seg_max);
	c->blk_size = htole32(g->logical);
	c->physical_block_exp = (uint8_t)log2u(g->physical / g->logical);
	c->min_io_size = htole16((uint16_t)(g->min_io > g->logical ? g->min_io / g->logical : 1));
	c->opt_io_size = htole32(g->opt_io / g->logical);
	c->wce = 1;                       /* writeback; fixed without CONFIG_WCE */
	c->num_queues = htole16((uint16_t)blk->num_queues);
	if (!blk->readonly) {
		c->max_discard_sectors = htole32(VIRTIO_BLK_DWZ_MAX_SECTORS);
		c->max_discard_seg = htole32(1);
		c->discard_sector_alignment = htole32(lsec);
		c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_DWZ_MAX_SECTORS);
		c->max_write_zeroes_seg = htole32(1);
		c->write_zeroes_may_unmap = 1;
	}
}

static void blk_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	const struct virtio_blk *blk = vd->opaque;

	memcpy(data, (const uint8_t *)&blk->config + off, len);   /* transport bounds it */
}

static void blk_config_write(struct virtio_dev *vd, unsigned off, const uint8_t *data,
			     unsigned len)
{
	/* Only writeback is writable, and only with CONFIG_WCE, which is not offered. */
	(void)vd;
	(void)data;
	pr_warn_ratelimited("virtio-blk: config write at %u (%u bytes) ignored", off, len);
}

/* ------------------------------------------------------------------ ops */

static int blk_activate(struct virtio_dev *vd)
{
	return blk_queues_start(vd->opaque, vd);
}

static void blk_reset(struct virtio_dev *vd)
{
	blk_queues_stop(vd->opaque);
}

static int blk_pause(struct virtio_dev *vd)
{
	blk_queues_pause(vd->opaque);
	return 0;
}

static void blk_resume(struct virtio_dev *vd)
{
	blk_queues_resume(vd->opaque);
}

static int check_params(const struct virtio_blk_params *cfg, unsigned *nq, unsigned *qs,
			char *err, size_t errlen)
{
	*nq = cfg->num_queues ? cfg->num_queues : 1;
	*qs = cfg->queue_size ? cfg->queue_size : 128;
	if (!cfg->path || !*cfg->path)
		return set_err(err, errlen, -EINVAL, "disk: no path given");
	if (*nq > VIRTIO_BLK_MAX_QUEUES)
		return set_err(err, errlen, -EINVAL, "disk '%s': num_queues=%u is out of range "
			    "(1-%u)", cfg->path, *nq, VIRTIO_BLK_MAX_QUEUES);
	if (*qs < 2 || *qs > VIRTQ_MAX_SIZE || (*qs & (*qs - 1)))
		return set_err(err, errlen, -EINVAL, "disk '%s': queue_size=%u is not a power of two "
			    "in 2-%u", cfg->path, *qs, VIRTQ_MAX_SIZE);
	return 0;
}

static const struct virtio_device_ops blk_ops;

/* Per disk: its queues and sizes, and RO or DISCARD + WRITE_ZEROES by its mode. */
static struct virtio_dev_params dev_params(const struct virtio_blk *blk)
{
	uint64_t features = BLK_FEATURES;

	if (blk->readonly)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return (struct virtio_dev_params){
		.type = VIRTIO_ID_BLOCK, .nr_queues = blk->num_queues,
		.max_queue_size = (uint16_t)blk->queue_size,
		.config_size = sizeof(struct virtio_blk_config), .features = features,
	};
}

static int pick_engine(struct virtio_blk *blk, enum virtio_blk_engine engine, char *err,
		       size_t errlen)
{
	int ret = engine == VIRTIO_BLK_ENGINE_SYNC ? -ENOSYS : blk_io_probe();

	if (!ret) {
		blk->engine = VIRTIO_BLK_ENGINE_URING;
		return 0;
	}
	if (engine == VIRTIO_BLK_ENGINE_URING)
		return set_err(err, errlen, ret, "disk '%s': io_uring unavailable: %s", blk->path,
			    strerror(-ret));
	if (engine == VIRTIO_BLK_ENGINE_AUTO)
		pr_info("disk '%s': io_uring unavailable (%s), synchronous I/O", blk->path,
			strerror(-ret));
	blk->engine = VIRTIO_BLK_ENGINE_SYNC;
	return 0;
}

int virtio_blk_new(const struct virtio_blk_params *cfg, enum virtio_blk_engine engine,
		   const struct guest_mem *mem, struct virtio_blk **out, char *err, size_t errlen)
{
	struct virtio_dev_params params;
	struct virtio_blk *blk;
	struct geometry g;
	unsigned nq, qs;
	int ret = check_params(cfg, &nq, &qs, err, errlen);

	*out = NULL;
	if (ret)
		return ret;
	blk = calloc(1, sizeof(*blk));
	if (!blk || !(blk->path = strdup(cfg->path))) {
		free(blk);
		return set_err(err, errlen, -ENOMEM, "disk '%s': out of memory", cfg->path);
	}
	blk->readonly = cfg->readonly;
	blk->direct = cfg->direct;
	blk->num_queues = nq;
	blk->queue_size = qs;
	blk->seg_max = qs - 2 < VIRTIO_BLK_SEG_MAX_CAP ? (qs > 2 ? qs - 2 : 1)
						     : VIRTIO_BLK_SEG_MAX_CAP;
	ret = open_image(blk, err, errlen);
	if (ret)
		goto err_free;
	ret = lock_image(blk, err, errlen) ?: probe_size(blk, &g, err, errlen) ?:
	      pick_engine(blk, engine, err, errlen);
	if (ret)
		goto err_close;
	ret = rate_limiter_init(&blk->rl, &cfg->rate_limiter, rl_now_ns());
	if (ret) {
		set_err(err, errlen, ret, "disk '%s': rate limiter: %s", blk->path, strerror(-ret));
		goto err_close;
	}
	blk->queues = calloc(nq, sizeof(*blk->queues));
	if (!blk->queues) {
		ret = set_err(err, errlen, -ENOMEM, "disk '%s': out of memory", blk->path);
		goto err_rl;
	}
	params = dev_params(blk);
	ret = virtio_dev_init(&blk->vdev, &params, &blk_ops, blk, mem);
	if (ret) {
		set_err(err, errlen, ret, "disk '%s': %s", blk->path, strerror(-ret));
		goto err_queues;
	}
	build_id(blk, cfg->serial);
	build_config(blk, &g);
	blk->ctr.read_latency_min = blk->ctr.read_latency_max = UINT64_MAX;
	blk->ctr.write_latency_min = blk->ctr.write_latency_max = UINT64_MAX;
	*out = blk;
	return 0;

err_queues:
	free(blk->queues);
err_rl:
	rate_limiter_destroy(&blk->rl);
err_close:
	close(blk->fd);                   /* drops the OFD lock too */
err_free:
	free(blk->path);
	free(blk);
	return ret;
}

void virtio_blk_free(struct virtio_blk *blk)
{
	if (!blk)
		return;
	blk_queues_stop(blk);
	rate_limiter_destroy(&blk->rl);
	close(blk->fd);
	free(blk->queues);
	virtio_dev_fini(&blk->vdev);
	free(blk->path);
	free(blk);
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk)
{
	return &blk->vdev;
}

uint64_t virtio_blk_capacity(const struct virtio_blk *blk)
{
	return blk->capacity;
}

enum virtio_blk_engine virtio_blk_engine(const struct virtio_blk *blk)
{
	return blk->engine;
}

unsigned virtio_blk_inflight(const struct virtio_blk *blk)
{
	return __atomic_load_n(&blk->inflight, __ATOMIC_ACQUIRE);
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* CH reports avg scaled down, UINT64_MAX / scale before the first operation. */
static uint64_t avg_us(uint64_t sum_ns, uint64_t ops)
{
	return ops ? sum_ns / ops / 1000 : UINT64_MAX / LATENCY_SCALE;
}

void virtio_blk_counters(const struct virtio_blk *blk, struct virtio_blk_counters *c)
{
	const uint64_t *src = (const uint64_t *)&blk->ctr;
	uint64_t *dst = (uint64_t *)c;
	size_t i;

	for (i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] = load(&src[i]);
	c->read_latency_avg = avg_us(load(&blk->read_lat_sum), c->read_ops);
	c->write_latency_avg = avg_us(load(&blk->write_lat_sum), c->write_ops);
}

/* ------------------------------------------------------------------ accounting */

static void atomic_min(uint64_t *v, uint64_t x)
{
	uint64_t cur = __atomic_load_n(v, __ATOMIC_RELAXED);

	while (x < cur && !__atomic_compare_exchange_n(v, &cur, x, true, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

/* max, where UINT64_MAX means "none yet" (CH's initial value). */
static void atomic_max(uint64_t *v, uint64_t x)
{
	uint64_t cur = __atomic_load_n(v, __ATOMIC_RELAXED);

	while ((cur == UINT64_MAX || x > cur) &&
	       !__atomic_compare_exchange_n(v, &cur, x, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static void account_rw(uint64_t *ops, uint64_t *bytes, uint64_t *lmin, uint64_t *lmax,
		       uint64_t *lsum, uint64_t len, uint64_t lat_ns)
{
	blk_count_add(ops, 1);
	blk_count_add(bytes, len);
	blk_count_add(lsum, lat_ns);
	atomic_min(lmin, lat_ns / 1000);
	atomic_max(lmax, lat_ns / 1000);
}

void blk_account(struct virtio_blk *blk, const struct blk_req *r, uint64_t lat)
{
	struct virtio_blk_counters *c = &blk->ctr;

	switch (r->op) {
	case BLK_OP_READ:
		account_rw(&c->read_ops, &c->read_bytes, &c->read_latency_min,
			   &c->read_latency_max, &blk->read_lat_sum, r->len, lat);
		break;
	case BLK_OP_WRITE:
		account_rw(&c->write_ops, &c->write_bytes, &c->write_latency_min,
			   &c->write_latency_max, &blk->write_lat_sum, r->len, lat);
		break;
	case BLK_OP_FLUSH:
		blk_count_add(&c->flush_ops, 1);
		break;
	case BLK_OP_GET_ID:
		blk_count_add(&c->get_id_ops, 1);
		break;
	case BLK_OP_DISCARD:
		blk_count_add(&c->discard_ops, 1);
		break;
	case BLK_OP_WRITE_ZEROES:
		blk_count_add(&c->write_zeroes_ops, 1);
		break;
	}
}

/* ------------------------------------------------------------------ snapshot */

static void id_string(const struct virtio_blk *blk, char out[VIRTIO_BLK_ID_LEN + 1])
{
	memcpy(out, blk->id, VIRTIO_BLK_ID_LEN);
	out[VIRTIO_BLK_ID_LEN] = 0;
}

struct cJSON *virtio_blk_save(const struct virtio_blk *blk)
{
	char id[VIRTIO_BLK_ID_LEN + 1];
	cJSON *o = cJSON_CreateObject();

	id_string(blk, id);
	if (!o || json_put_u64(o, "capacity", blk->capacity) ||
	    !cJSON_AddBoolToObject(o, "readonly", blk->readonly) ||
	    json_put_u64(o, "num_queues", blk->num_queues) ||
	    json_put_u64(o, "queue_size", blk->queue_size) || !cJSON_AddStringToObject(o, "id", id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A saved u64 that must equal this disk's @have. */
static int blk_same(const cJSON *json, const char *key, uint64_t have, const char *what,
		    char *err, size_t errlen)
{
	uint64_t v;
	int ret = json_field_u64(json, NULL, key, &v, err, errlen);

	if (!ret && v != have)
		ret = json_field_err(err, errlen, NULL, key, "0x%" PRIx64 ", but this disk has "
				     "0x%" PRIx64 "%s", v, have, what);
	return ret;
}

int virtio_blk_restore(struct virtio_blk *blk, const struct cJSON *json, char *err,
			   size_t errlen)
{
	const cJSON *saved_id = cJSON_GetObjectItemCaseSensitive(json, "id");
	char id[VIRTIO_BLK_ID_LEN + 1];
	bool readonly;
	int ret;

	if (!cJSON_IsObject(json))
		return json_field_err(err, errlen, NULL, NULL, "expected an object");
	/*
	 * The disk must look the same to the guest: size, mode, queues, and a serial= the user
	 * gave. An ID derived from the image's inode is not the user's: a copied or moved image
	 * keeps answering GET_ID with the ID the guest already saw.
	 */
	ret = blk_same(json, "capacity", blk->capacity, " sectors", err, errlen);
	ret = ret ?: json_field_bool(json, NULL, "readonly", &readonly, err, errlen);
	if (!ret && readonly != blk->readonly)
		ret = json_field_err(err, errlen, NULL, "readonly", "%s, but this disk is %s",
				     readonly ? "true" : "false",
				     blk->readonly ? "read-only" : "writable");
	ret = ret ?: blk_same(json, "num_queues", blk->num_queues, " queues", err, errlen);
	ret = ret ?: blk_same(json, "queue_size", blk->queue_size, "", err, errlen);
	if (ret)
		return ret;
	if (!cJSON_IsString(saved_id) || strlen(saved_id->valuestring) > VIRTIO_BLK_ID_LEN)
		return json_field_err(err, errlen, NULL, "id", "expected a string of at most %u "
				      "bytes", VIRTIO_BLK_ID_LEN);
	id_string(blk, id);
	if (blk->id_from_serial && strcmp(saved_id->valuestring, id))
		return json_field_err(err, errlen, NULL, "id", "\"%.20s\", but this disk's "
				      "serial= is \"%s\"", saved_id->valuestring, id);
	if (!blk->id_from_serial) {
		memset(blk->id, 0, sizeof(blk->id));
		memcpy(blk->id, saved_id->valuestring, strlen(saved_id->valuestring));
	}
	return 0;
}

/* ------------------------------------------------------------------ ops */

/* Cloud Hypervisor's block counter names first, then vireo's. */
static bool blk_counters_json(struct virtio_dev *vd, cJSON *o)
{
	struct virtio_blk_counters c;
	uint64_t rejected = 0;

	virtio_blk_counters(vd->opaque, &c);
	for (unsigned r = 0; r < VIRTIO_BLK_R_NR; r++)
		rejected += c.rejected[r];
	return !(json_put_count(o, "read_bytes", c.read_bytes) ||
		 json_put_count(o, "write_bytes", c.write_bytes) ||
		 json_put_count(o, "read_ops", c.read_ops) ||
		 json_put_count(o, "write_ops", c.write_ops) ||
		 json_put_count(o, "read_latency_min", c.read_latency_min) ||
		 json_put_count(o, "read_latency_max", c.read_latency_max) ||
		 json_put_count(o, "read_latency_avg", c.read_latency_avg) ||
		 json_put_count(o, "write_latency_min", c.write_latency_min) ||
		 json_put_count(o, "write_latency_max", c.write_latency_max) ||
		 json_put_count(o, "write_latency_avg", c.write_latency_avg) ||
		 json_put_count(o, "flush_ops", c.flush_ops) ||
		 json_put_count(o, "discard_ops", c.discard_ops) ||
		 json_put_count(o, "write_zeroes_ops", c.write_zeroes_ops) ||
		 json_put_count(o, "io_errors", c.io_errors) ||
		 json_put_count(o, "throttled", c.throttled) ||
		 json_put_count(o, "bounced_requests", c.bounced) ||
		 json_put_count(o, "rejected_requests", rejected));
}

static cJSON *blk_save(struct virtio_dev *vd)
{
	return virtio_blk_save(vd->opaque);
}

static int blk_restore(struct virtio_dev *vd, const cJSON *json, char *err, size_t errlen)
{
	return virtio_blk_restore(vd->opaque, json, err, errlen);
}

static void blk_destroy(struct virtio_dev *vd)
{
	virtio_blk_free(vd->opaque);
}

static const struct virtio_device_ops blk_ops = {
	.name = "blk",
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
	.pause = blk_pause,
	.resume = blk_resume,
	.save = blk_save,
	.restore = blk_restore,
	.counters = blk_counters_json,
	.destroy = blk_destroy,
};
