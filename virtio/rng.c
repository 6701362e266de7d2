// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-rng, the entropy device (virtio 1.2 5.4): one requestq of device-writable buffers
 * that the device fills with random bytes from a host fd (normally /dev/urandom). No
 * feature bits, no config space. Each request is bounded (VIRTIO_RNG_MAX_REQUEST) so one
 * huge buffer cannot keep the worker reading forever.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "virtio/rng.h"

struct virtio_rng {
	struct virtio_dev vdev;
	int src_fd;
	struct virtio_worker worker;
	struct virtq_chain chain;
	uint64_t bytes, refused;
};

enum fill_result { FILL_DONE, FILL_INTERRUPTED, FILL_SOURCE_FAILED };

/* Reads up to @want bytes into @dst. */
static enum fill_result read_src(struct virtio_rng *rng, uint8_t *dst, uint32_t want,
				 uint32_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t n;
		int ret = virtio_worker_wait_fd(&rng->worker, rng->src_fd, POLLIN);

		if (ret == 0)
			return FILL_INTERRUPTED;
		n = ret < 0 ? -1 : read(rng->src_fd, dst + *got, want - *got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			pr_warn_ratelimited("virtio-rng: entropy source %s",
					    n ? "read failed" : "at end of file");
			return FILL_SOURCE_FAILED;
		}
		*got += (uint32_t)n;
	}
	return FILL_DONE;
}

/* Fills the writable segments with at most VIRTIO_RNG_MAX_REQUEST bytes in all. */
static enum fill_result fill(struct virtio_rng *rng, const struct virtq_chain *c, uint32_t *len)
{
	enum fill_result res = FILL_DONE;
	unsigned i;

	*len = 0;
	for (i = c->nr_read; i < c->nr && *len < VIRTIO_RNG_MAX_REQUEST; i++) {
		uint32_t want = c->segs[i].len, got;

		if (want > VIRTIO_RNG_MAX_REQUEST - *len)
			want = VIRTIO_RNG_MAX_REQUEST - *len;
		res = read_src(rng, c->segs[i].addr, want, &got);
		*len += got;
		if (res != FILL_DONE)
			break;
	}
	return res;
}

/*
 * One chain: filled, or given back empty if it offers device-readable buffers (5.4.6.1:
 * the driver places only device-writable buffers on the requestq).
 */
static enum fill_result serve(struct virtio_dev *vd, struct virtio_rng *rng)
{
	const struct virtq_chain *c = &rng->chain;
	enum fill_result res = FILL_DONE;
	uint32_t len = 0;

	if (c->nr_read) {
		__atomic_add_fetch(&rng->refused, 1, __ATOMIC_RELAXED);
		pr_warn_ratelimited("virtio-rng: request with device-readable buffers refused");
	} else {
		res = fill(rng, c, &len);
		__atomic_add_fetch(&rng->bytes, len, __ATOMIC_RELAXED);
	}
	virtio_dev_push(vd, 0, c->head, len);
	virtio_dev_notify(vd, 0);
	return res;
}

static void rng_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_rng *rng = vd->opaque;
	struct virtq *vq = &vd->vqs[0];
	int ret;

	if (q != 0)
		return;
	do {
		virtq_disable_notify(vq);
		while ((ret = virtio_dev_pop(vd, 0, &rng->chain)) == 1) {
			enum fill_result res = serve(vd, rng);

			if (res == FILL_DONE)
				continue;
			/* Keep kicks on; when only paused or stopping, come back to the rest. */
			virtq_enable_notify(vq);
			if (res == FILL_INTERRUPTED)
				virtio_dev_kick(vd, 0);
			return;
		}
		if (ret < 0)
			return;                   /* broken: the transport asked for a reset */
	} while (virtq_enable_notify(vq));
}

static int rng_activate(struct virtio_dev *vd)
{
	struct virtio_rng *rng = vd->opaque;

	return virtio_worker_start(&rng->worker, vd);
}

static void rng_reset(struct virtio_dev *vd)
{
	struct virtio_rng *rng = vd->opaque;

	virtio_worker_stop(&rng->worker);
}

static int rng_pause(struct virtio_dev *vd)
{
	struct virtio_rng *rng = vd->opaque;

	return virtio_worker_pause(&rng->worker);
}

static void rng_resume(struct virtio_dev *vd)
{
	struct virtio_rng *rng = vd->opaque;

	virtio_worker_resume(&rng->worker);
}

static bool rng_counters(struct virtio_dev *vd, cJSON *out)
{
	return !json_put_count(out, "entropy_bytes", virtio_rng_bytes(vd->opaque)) &&
	       !json_put_count(out, "refused_requests", virtio_rng_refused(vd->opaque));
}

static void rng_destroy(struct virtio_dev *vd)
{
	virtio_rng_free(vd->opaque);
}

static const struct virtio_device_ops rng_ops = {
	.name = "rng",
	.activate = rng_activate,
	.reset = rng_reset,
	.queue_notify = rng_queue_notify,
	.pause = rng_pause,
	.resume = rng_resume,
	.counters = rng_counters,
	.destroy = rng_destroy,
};

static const struct virtio_dev_params rng_params = {
	.type = VIRTIO_ID_RNG, .nr_queues = 1, .max_queue_size = VIRTIO_RNG_QUEUE_SIZE,
};

struct virtio_rng *virtio_rng_new(int src_fd, const struct guest_mem *mem)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));

	if (!rng) {
		close(src_fd);
		return NULL;
	}
	rng->src_fd = src_fd;
	if (virtio_dev_init(&rng->vdev, &rng_params, &rng_ops, rng, mem))
		goto err_free;
	if (virtq_chain_init(&rng->chain, virtq_chain_max(VIRTIO_RNG_QUEUE_SIZE)))
		goto err_dev;
	if (virtio_worker_init(&rng->worker))
		goto err_chain;
	return rng;

err_chain:
	virtq_chain_free(&rng->chain);
err_dev:
	virtio_dev_fini(&rng->vdev);
err_free:
	close(src_fd);
	free(rng);
	return NULL;
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *rng)
{
	return &rng->vdev;
}

void virtio_rng_free(struct virtio_rng *rng)
{
	if (!rng)
		return;
	virtio_worker_destroy(&rng->worker);
	virtq_chain_free(&rng->chain);
	virtio_dev_fini(&rng->vdev);
	if (rng->src_fd >= 0)
		close(rng->src_fd);
	free(rng);
}
uint64_t virtio_rng_bytes(const struct virtio_rng *rng)
{
	return __atomic_load_n(&rng->bytes, __ATOMIC_RELAXED);
}

uint64_t virtio_rng_refused(const struct virtio_rng *rng)
{
	return __atomic_load_n(&rng->refused, __ATOMIC_RELAXED);
}
