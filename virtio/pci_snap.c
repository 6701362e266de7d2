// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci transport state as JSON, for snapshot/restore. cJSON numbers are doubles, so
 * every u64 (features, ring addresses) is a "0x..." string; small counters and indices are
 * numbers checked to be exact integers in range. A snapshot file is untrusted input (FC
 * discipline): everything is parsed and validated into a scratch copy before anything of
 * the live device changes.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "virtio/internal.h"
#include "base/memory.h"
#include "base/log.h"

#define SNAP_VERSION 1

/* ------------------------------------------------------------------ JSON helpers */

static int put_num(cJSON *obj, const char *key, uint64_t val)
{
	return cJSON_AddNumberToObject(obj, key, (double)val) ? 0 : -ENOMEM;
}

static int put_bool(cJSON *obj, const char *key, bool val)
{
	return cJSON_AddBoolToObject(obj, key, val) ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ save */

struct snap_queue {
	uint64_t size, vector, desc, driver, device;
	uint64_t next_avail, next_used, signalled_used;
	bool enabled, signalled_valid, broken;
};

struct snap {
	uint64_t type, driver_features, dfselect, gfselect, status, config_vector;
	uint64_t queue_select, isr, generation;
	bool bad_features, needs_reset, activated;
	struct snap_queue *q;
};

static int save_queue(cJSON *arr, const struct virtio_pci_queue *pq, const struct virtq *vq)
{
	cJSON *o = cJSON_CreateObject();
	int ret;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	ret = put_num(o, "size", pq->size);
	ret = ret ?: put_num(o, "vector", __atomic_load_n(&pq->vector, __ATOMIC_RELAXED));
	ret = ret ?: put_bool(o, "enabled", pq->enabled);
	ret = ret ?: json_put_u64(o, "desc", pq->desc);
	ret = ret ?: json_put_u64(o, "driver", pq->driver);
	ret = ret ?: json_put_u64(o, "device", pq->device);
	ret = ret ?: put_num(o, "next_avail", vq->next_avail);
	ret = ret ?: put_num(o, "next_used", vq->next_used);
	ret = ret ?: put_num(o, "signalled_used", vq->signalled_used);
	ret = ret ?: put_bool(o, "signalled_valid", vq->signalled_valid);
	ret = ret ?: put_bool(o, "broken", vq->broken);
	return ret;
}

static int save_fields(cJSON *o, struct virtio_pci *vp)
{
	int ret;

	ret = put_num(o, "version", SNAP_VERSION);
	ret = ret ?: put_num(o, "type", vp->dev->type);
	ret = ret ?: json_put_u64(o, "offered", vp->offered);
	ret = ret ?: json_put_u64(o, "driver_features", vp->driver_features);
	ret = ret ?: put_bool(o, "bad_features", vp->bad_features);
	ret = ret ?: put_num(o, "dfselect", vp->dfselect);
	ret = ret ?: put_num(o, "gfselect", vp->gfselect);
	ret = ret ?: put_num(o, "status", vp->status);
	ret = ret ?: put_bool(o, "needs_reset",
			      __atomic_load_n(&vp->needs_reset, __ATOMIC_SEQ_CST) != VP_NR_NONE);
	ret = ret ?: put_bool(o, "activated", vp->activated);
	ret = ret ?: put_num(o, "config_vector", vp->config_vector);
	ret = ret ?: put_num(o, "queue_select", vp->queue_select);
	ret = ret ?: put_num(o, "isr", __atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST));
	ret = ret ?: put_num(o, "generation", __atomic_load_n(&vp->generation, __ATOMIC_SEQ_CST));
	return ret;
}

struct cJSON *virtio_pci_save(struct virtio_pci *vp)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	unsigned q;
	int ret;

	if (!o)
		return NULL;
	pthread_mutex_lock(&vp->lock);
	ret = save_fields(o, vp);
	arr = ret ? NULL : cJSON_AddArrayToObject(o, "queues");
	if (!arr)
		ret = -ENOMEM;
	for (q = 0; !ret && q < vp->dev->nr_queues; q++)
		ret = save_queue(arr, &vp->queues[q], &vp->dev->vqs[q]);
	pthread_mutex_unlock(&vp->lock);
	if (ret) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------------ restore */

static bool vector_ok(const struct virtio_pci *vp, uint64_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < vp->msix.nr;
}

/* Where a restore error points, and where it goes. */
struct perr {
	char *err;
	size_t errlen;
	char where[24];           /* "" or "queues[N]" */
};

#define FAIL(pe, key, ...) json_field_err((pe)->err, (pe)->errlen, (pe)->where, key, __VA_ARGS__)
#define NUM(pe, o, key, max, val) \
	json_field_num(o, (pe)->where, key, max, val, (pe)->err, (pe)->errlen)
#define U64(pe, o, key, val) json_field_u64(o, (pe)->where, key, val, (pe)->err, (pe)->errlen)
#define BOOL(pe, o, key, val) json_field_bool(o, (pe)->where, key, val, (pe)->err, (pe)->errlen)

static int bad_vector(struct perr *pe, const struct virtio_pci *vp, const char *key,
		      uint64_t v)
{
	return FAIL(pe, key, "%llu is neither a vector of this device (0..%u) nor 0xffff",
		    (unsigned long long)v, vp->msix.nr - 1);
}

static int parse_queue_fields(struct perr *pe, const cJSON *o, struct snap_queue *s)
{
	int ret;

	if (!cJSON_IsObject(o))
		return FAIL(pe, NULL, "expected an object");
	ret = NUM(pe, o, "size", 0xffff, &s->size);
	ret = ret ?: NUM(pe, o, "vector", 0xffff, &s->vector);
	ret = ret ?: BOOL(pe, o, "enabled", &s->enabled);
	ret = ret ?: U64(pe, o, "desc", &s->desc);
	ret = ret ?: U64(pe, o, "driver", &s->driver);
	ret = ret ?: U64(pe, o, "device", &s->device);
	ret = ret ?: NUM(pe, o, "next_avail", 0xffff, &s->next_avail);
	ret = ret ?: NUM(pe, o, "next_used", 0xffff, &s->next_used);
	ret = ret ?: NUM(pe, o, "signalled_used", 0xffff, &s->signalled_used);
	ret = ret ?: BOOL(pe, o, "signalled_valid", &s->signalled_valid);
	return ret ?: BOOL(pe, o, "broken", &s->broken);
}

/*
 * The rings of an enabled queue: aligned 16/2/4 and sized 16N, 6+2N, 6+8N bytes (2.7.5,
 * 2.7.6, 2.7.8), each inside guest RAM.
 */
static int check_rings(struct perr *pe, const struct virtio_pci *vp,
		       const struct snap_queue *s)
{
	const struct { const char *key; uint64_t gpa, align, bytes; } rings[] = {
		{ "desc", s->desc, 16, 16 * s->size },
		{ "driver", s->driver, 2, 6 + 2 * s->size },
		{ "device", s->device, 4, 6 + 8 * s->size },
	};
	unsigned i;

	for (i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		if (rings[i].gpa & (rings[i].align - 1))
			return FAIL(pe, rings[i].key, "0x%llx is not %llu-byte aligned",
				    (unsigned long long)rings[i].gpa,
				    (unsigned long long)rings[i].align);
		if (!guest_mem_ptr(vp->dev->mem, rings[i].gpa, rings[i].bytes))
			return FAIL(pe, rings[i].key, "0x%llx + 0x%llx bytes is outside guest RAM",
				    (unsigned long long)rings[i].gpa,
				    (unsigned long long)rings[i].bytes);
	}
	/* What virtq_enable() will check again; the same rules, so this cannot fire. */
	if (virtq_check_rings(vp->dev->mem, (unsigned)s->size, s->desc, s->driver, s->device))
		return FAIL(pe, NULL, "rings refused by the virtqueue");
	return 0;
}

static int parse_queue(const struct virtio_pci *vp, const cJSON *o, unsigned q,
		       struct snap_queue *s, char *err, size_t errlen)
{
	struct perr pe = { err, errlen, "" };
	uint64_t max = vp->dev->max_queue_size;
	int ret;

	snprintf(pe.where, sizeof(pe.where), "queues[%u]", q);
	ret = parse_queue_fields(&pe, o, s);
	if (ret)
		return ret;
	/* 2.7: a power of two, at most what the device offers (it offers it at reset). */
	if (!vp_is_pow2(s->size) || s->size > max)
		return FAIL(&pe, "size", "%llu is not a power of two <= %llu",
			    (unsigned long long)s->size, (unsigned long long)max);
	if (!vector_ok(vp, s->vector))
		return bad_vector(&pe, vp, "vector", s->vector);
	if (s->enabled && (ret = check_rings(&pe, vp, s)))
		return ret;
	/* The device never uses more than it took, nor holds more than the ring (2.7.13). */
	if ((uint16_t)(s->next_avail - s->next_used) > s->size)
		return FAIL(&pe, "next_used", "%llu is not within %llu behind next_avail %llu",
			    (unsigned long long)s->next_used, (unsigned long long)s->size,
			    (unsigned long long)s->next_avail);
	return 0;
}

/*
 * An active queue's indices against the restored guest RAM: the device published
 * used->idx = next_used (nothing is in flight when paused), and a healthy queue is never more
 * than a ring ahead of the driver's avail->idx.
 */
static int check_ring_indices(const struct virtio_pci *vp, unsigned q,
			      const struct snap_queue *s, char *err, size_t errlen)
{
	const uint8_t *avail = guest_mem_ptr(vp->dev->mem, s->driver, 4);
	const uint8_t *used = guest_mem_ptr(vp->dev->mem, s->device, 4);
	struct perr pe = { err, errlen, "" };
	uint16_t avail_idx, used_idx;

	snprintf(pe.where, sizeof(pe.where), "queues[%u]", q);
	if (!avail || !used)
		return FAIL(&pe, avail ? "device" : "driver", "ring outside guest RAM");
	memcpy(&avail_idx, avail + 2, sizeof(avail_idx));
	memcpy(&used_idx, used + 2, sizeof(used_idx));
	if (used_idx != (uint16_t)s->next_used)
		return FAIL(&pe, "next_used", "%llu, but used->idx in guest RAM is %u",
			    (unsigned long long)s->next_used, used_idx);
	if (!s->broken && (uint16_t)(avail_idx - s->next_avail) > s->size)
		return FAIL(&pe, "next_avail", "%llu is not within %llu behind avail->idx %u in "
			    "guest RAM", (unsigned long long)s->next_avail,
			    (unsigned long long)s->size, avail_idx);
	return 0;
}

static int parse_scalars(struct perr *pe, const cJSON *o, uint64_t *version,
			 struct snap *s)
{
	int ret;

	if (!cJSON_IsObject(o))
		return FAIL(pe, NULL, "expected an object");
	ret = NUM(pe, o, "version", 0xffff, version);
	ret = ret ?: NUM(pe, o, "type", 0xffff, &s->type);
	ret = ret ?: U64(pe, o, "driver_features", &s->driver_features);
	ret = ret ?: BOOL(pe, o, "bad_features", &s->bad_features);
	ret = ret ?: NUM(pe, o, "dfselect", 0xffffffff, &s->dfselect);
	ret = ret ?: NUM(pe, o, "gfselect", 0xffffffff, &s->gfselect);
	ret = ret ?: NUM(pe, o, "status", 0xff, &s->status);
	ret = ret ?: BOOL(pe, o, "needs_reset", &s->needs_reset);
	ret = ret ?: BOOL(pe, o, "activated", &s->activated);
	ret = ret ?: NUM(pe, o, "config_vector", 0xffff, &s->config_vector);
	ret = ret ?: NUM(pe, o, "queue_select", 0xffff, &s->queue_select);
	ret = ret ?: NUM(pe, o, "isr", 3, &s->isr);
	return ret ?: NUM(pe, o, "generation", 0xffffffff, &s->generation);
}

static int parse_fields(const struct virtio_pci *vp, const cJSON *o, struct snap *s,
			char *err, size_t errlen)
{
	struct perr pe = { err, errlen, "" };
	uint64_t version;
	int ret = parse_scalars(&pe, o, &version, s);

	if (ret)
		return ret;
	if (version != SNAP_VERSION)
		return FAIL(&pe, "version", "%llu, only %u is known", (unsigned long long)version,
			    SNAP_VERSION);
	if (s->type != vp->dev->type)
		return FAIL(&pe, "type", "%llu, but this device is virtio type %u",
			    (unsigned long long)s->type, vp->dev->type);
	/* Restore rules: acked within offered; only driver status bits; consistent stages. */
	if (s->driver_features & ~vp->offered)
		return FAIL(&pe, "driver_features", "0x%llx has bits 0x%llx this device does not "
			    "offer (0x%llx)", (unsigned long long)s->driver_features,
			    (unsigned long long)(s->driver_features & ~vp->offered),
			    (unsigned long long)vp->offered);
	if (s->status & ~VP_STATUS_DRIVER_BITS)
		return FAIL(&pe, "status", "0x%llx has bits 0x%llx a driver cannot set",
			    (unsigned long long)s->status,
			    (unsigned long long)(s->status & ~VP_STATUS_DRIVER_BITS));
	if (!vector_ok(vp, s->config_vector))
		return bad_vector(&pe, vp, "config_vector", s->config_vector);
	/* 6.1: a modern device refuses FEATURES_OK without VERSION_1. */
	if ((s->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(s->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return FAIL(&pe, "driver_features", "0x%llx lacks VERSION_1 with FEATURES_OK in "
			    "status", (unsigned long long)s->driver_features);
	if (s->activated && ((s->status & VP_STATUS_READY) != VP_STATUS_READY ||
			     (s->status & VIRTIO_CONFIG_S_FAILED)))
		return FAIL(&pe, "activated", "true, but status 0x%llx is not DRIVER_OK without "
			    "FAILED", (unsigned long long)s->status);
	return 0;
}

static int parse(const struct virtio_pci *vp, const cJSON *json, struct snap *s, char *err,
		 size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "queues"), *item;
	unsigned q = 0;
	int ret = parse_fields(vp, json, s, err, errlen);

	if (ret)
		return ret;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != (int)vp->dev->nr_queues)
		return json_field_err(err, errlen, NULL, "queues", "expected an array of %u "
				      "queues, got %d", vp->dev->nr_queues,
				      cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1);
	cJSON_ArrayForEach(item, arr) {
		ret = parse_queue(vp, item, q, &s->q[q], err, errlen);
		if (ret)
			return ret;
		q++;
	}
	return 0;
}

static void apply_queue(struct virtio_pci *vp, unsigned q, const struct snap_queue *s)
{
	struct virtio_pci_queue *pq = &vp->queues[q];
	struct virtq *vq = &vp->dev->vqs[q];

	pq->size = (uint16_t)s->size;
	__atomic_store_n(&pq->vector, (uint16_t)s->vector, __ATOMIC_RELAXED);
	pq->desc = s->desc;
	pq->driver = s->driver;
	pq->device = s->device;
	pq->enabled = s->enabled;
	if (!s->enabled)
		return;
	/* Checked in parse_queue: cannot fail. */
	virtq_enable(vq, (unsigned)s->size, s->desc, s->driver, s->device);
	virtq_set_features(vq, vp->dev->features);
	vq->next_avail = (uint16_t)s->next_avail;
	vq->next_used = (uint16_t)s->next_used;
	vq->signalled_used = (uint16_t)s->signalled_used;
	vq->signalled_valid = s->signalled_valid;
	vq->broken = s->broken;
}

static void apply(struct virtio_pci *vp, const struct snap *s)
{
	unsigned q;

	vp_reset_locked(vp);
	vp->driver_features = s->driver_features;
	vp->bad_features = s->bad_features;
	if (s->status & VIRTIO_CONFIG_S_FEATURES_OK)
		vp->dev->features = s->driver_features;
	vp->dfselect = (uint32_t)s->dfselect;
	vp->gfselect = (uint32_t)s->gfselect;
	vp->status = (uint8_t)s->status;
	vp->config_vector = (uint16_t)s->config_vector;
	vp->queue_select = (uint16_t)s->queue_select;
	__atomic_store_n(&vp->isr, (uint32_t)s->isr, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vp->generation, (uint32_t)s->generation, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vp->needs_reset, s->needs_reset ? VP_NR_SHOWN : VP_NR_NONE,
			 __ATOMIC_SEQ_CST);
	for (q = 0; q < vp->dev->nr_queues; q++)
		apply_queue(vp, q, &s->q[q]);
	if (s->activated)
		vp_activate_locked(vp);
}

int virtio_pci_restore(struct virtio_pci *vp, const struct cJSON *json, char *err,
		       size_t errlen)
{
	struct snap s = { 0 };
	int ret;

	s.q = calloc(vp->dev->nr_queues, sizeof(*s.q));
	if (!s.q)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	ret = parse(vp, json, &s, err, errlen);
	for (unsigned q = 0; !ret && s.activated && q < vp->dev->nr_queues; q++)
		if (s.q[q].enabled)
			ret = check_ring_indices(vp, q, &s.q[q], err, errlen);
	if (ret)
		goto out;   /* the caller prefixes the device's section */
	pthread_mutex_lock(&vp->lock);
	apply(vp, &s);
	pthread_mutex_unlock(&vp->lock);
	/* A pending ISR with MSI-X off means the INTx line was high: raise it again. */
	virtio_pci_intx_resample(vp);
out:
	free(s.q);
	return ret;
}
