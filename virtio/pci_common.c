// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci common configuration structure (virtio 1.2 4.1.4.3) and the device status
 * machine (2.1, 3.1): feature windows, status with reset / FEATURES_OK refusal / activation,
 * vectors, and the per-queue registers. Every access runs under vp->lock.
 *
 * Queue registers are the driver's scratch until queue_enable: enabling validates them
 * (size, alignment, rings inside RAM: virtq_check_rings) and hands them to the virtqueue,
 * after which they are read-only, so a worker never sees its ring move under it.
 */
#include <errno.h>
#include <string.h>

#include "virtio/internal.h"
#include "base/log.h"

static uint32_t get_le(const uint8_t *p, unsigned len)
{
	uint32_t v = 0;
	unsigned i;

	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *p, unsigned len, uint32_t v)
{
	unsigned i;

	for (i = 0; i < len && i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Natural width of the field at @off, 0 if none (4.1.3.1: drivers use the field width). */
static unsigned field_width(unsigned off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return 4;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return 1;
	}
	return 0;
}

static bool is_addr_lo(unsigned off)
{
	return off == VIRTIO_PCI_COMMON_Q_DESCLO || off == VIRTIO_PCI_COMMON_Q_AVAILLO ||
	       off == VIRTIO_PCI_COMMON_Q_USEDLO;
}

uint16_t vp_vector(const struct virtio_pci *vp, uint16_t v)
{
	return v < vp->msix.nr ? v : VIRTIO_MSI_NO_VECTOR;
}

static struct virtio_pci_queue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->dev->nr_queues ? &vp->queues[vp->queue_select] : NULL;
}

/* The 64-bit queue address register @off belongs to, and which half. */
static uint64_t *queue_addr(struct virtio_pci_queue *q, unsigned off, unsigned *shift)
{
	unsigned base = off & ~7u;

	*shift = off & 4 ? 32 : 0;
	if (base == VIRTIO_PCI_COMMON_Q_DESCLO)
		return &q->desc;
	if (base == VIRTIO_PCI_COMMON_Q_AVAILLO)
		return &q->driver;
	return &q->device;
}

/* ------------------------------------------------------------------ reads */

static uint32_t feature_window(uint64_t features, uint32_t sel)
{
	return sel == 0 ? (uint32_t)features : sel == 1 ? (uint32_t)(features >> 32) : 0;
}

static uint32_t queue_reg_read(struct virtio_pci *vp, unsigned off)
{
	struct virtio_pci_queue *q = selected(vp);
	unsigned shift;
	uint64_t *reg;

	/* 4.1.4.3.2: an unavailable queue reads queue_size 0; vectors read NO_VECTOR. */
	if (!q)
		return off == VIRTIO_PCI_COMMON_Q_MSIX ? VIRTIO_MSI_NO_VECTOR : 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return q->size;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return __atomic_load_n(&q->vector, __ATOMIC_RELAXED);
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return q->enabled;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return vp->queue_select;          /* queue_notify_off = queue index */
	}
	reg = queue_addr(q, off, &shift);
	return (uint32_t)(*reg >> shift);
}

static uint32_t reg_read(struct virtio_pci *vp, unsigned off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vp->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return feature_window(vp->offered, vp->dfselect);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vp->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return feature_window(vp->driver_features, vp->gfselect);
	case VIRTIO_PCI_COMMON_MSIX:
		return __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED);
	case VIRTIO_PCI_COMMON_NUMQ:
		return vp->dev->nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return vp->status |
		       (__atomic_load_n(&vp->needs_reset, __ATOMIC_SEQ_CST) == VP_NR_SHOWN ?
				VIRTIO_CONFIG_S_NEEDS_RESET : 0);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return (uint8_t)__atomic_load_n(&vp->generation, __ATOMIC_SEQ_CST);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return vp->queue_select;
	}
	return queue_reg_read(vp, off);
}

void vp_common_read(struct virtio_pci *vp, unsigned off, uint8_t *data, unsigned len)
{
	unsigned width = field_width(off);

	memset(data, 0, len);
	if (off >= VIRTIO_PCI_COMMON_LEN)
		return;                           /* past the structure: reads zero */
	pthread_mutex_lock(&vp->lock);
	if (len == width) {
		put_le(data, len, reg_read(vp, off));
	} else if (len == 8 && is_addr_lo(off)) {
		put_le(data, 4, reg_read(vp, off));
		put_le(data + 4, 4, reg_read(vp, off + 4));
	} else {
		vp_count(&vp->stats.bad_access);
	}
	pthread_mutex_unlock(&vp->lock);
}

/* ------------------------------------------------------------------ status machine */

/*
 * FEATURES_OK (3.1.1 step 5-6): accept only after ACKNOWLEDGE and DRIVER, a subset of what
 * was offered, and VERSION_1 (a modern-only device may refuse a legacy driver, 6.1).
 */
static bool features_acceptable(const struct virtio_pci *vp, uint8_t status)
{
	uint64_t f = vp->driver_features;

	return (status & VIRTIO_CONFIG_S_ACKNOWLEDGE) && (status & VIRTIO_CONFIG_S_DRIVER) &&
	       !vp->bad_features && !(f & ~vp->offered) &&
	       (f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

void vp_activate_locked(struct virtio_pci *vp)
{
	struct virtio_dev *vd = vp->dev;
	unsigned q;
	int ret = 0;

	for (q = 0; q < vd->nr_queues; q++)
		virtq_set_features(&vd->vqs[q], vd->features);
	if (vd->ops->activate)
		ret = vd->ops->activate(vd);
	if (ret) {
		vp_count(&vp->stats.activate_errors);
		pr_warn_ratelimited("%s: activation failed: %s", vp->pci.id, strerror(-ret));
		vp_needs_reset(vp);
		return;
	}
	vp->activated = true;
}

/*
 * 4.1.4.3.1: writing 0 resets the device; device_status reads 0 once that is done. Only an
 * activated device has threads to stop; any other reset is short and done at once.
 */
static void reset_requested(struct virtio_pci *vp)
{
	if (!vp->defer || !vp->activated) {
		vp_reset_locked(vp);
		return;
	}
	vp->activate_pending = false;
	if (!vp->reset_pending) {
		vp->reset_pending = true;
		vp->defer(vp->defer_ctx);
	}
}

static void activate_requested(struct virtio_pci *vp)
{
	if (!vp->defer) {
		vp_activate_locked(vp);
	} else if (!vp->activate_pending) {
		vp->activate_pending = true;
		vp->defer(vp->defer_ctx);
	}
}

static void status_write(struct virtio_pci *vp, uint8_t val)
{
	uint8_t old = vp->status;

	if (!val) {
		reset_requested(vp);
		return;
	}
	val &= VP_STATUS_DRIVER_BITS;             /* NEEDS_RESET is set by the device only */
	if (vp->reset_pending || (old & ~val)) {
		/* 2.1.1: the driver MUST NOT clear a status bit, nor (4.1.4.3.2) go on before
		 * a reset it asked for reads back 0. */
		vp_count(&vp->stats.bad_status);
		pr_warn_ratelimited("%s: status 0x%x -> 0x%x %s: ignored", vp->pci.id, old, val,
				    vp->reset_pending ? "during a reset" : "clears bits");
		return;
	}
	if ((val & ~old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		if (features_acceptable(vp, val)) {
			vp->dev->features = vp->driver_features;
		} else {
			val &= ~VIRTIO_CONFIG_S_FEATURES_OK;   /* re-read shows the refusal */
			vp_count(&vp->stats.features_refused);
		}
	}
	vp->status = val;
	/* CH is_driver_ready: all four bits, without FAILED, activates once (and a device that
	 * failed to activate waits for a reset). */
	if (!vp->activated && (val & VP_STATUS_READY) == VP_STATUS_READY &&
	    !(val & VIRTIO_CONFIG_S_FAILED) && !__atomic_load_n(&vp->needs_reset, __ATOMIC_SEQ_CST))
		activate_requested(vp);
}

void vp_reset_state(struct virtio_pci *vp)
{
	unsigned q;

	vp->activated = false;
	vp->reset_pending = vp->activate_pending = false;
	vp->status = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->bad_features = false;
	vp->dev->features = 0;
	vp->queue_select = 0;
	__atomic_store_n(&vp->config_vector, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
	for (q = 0; q < vp->dev->nr_queues; q++) {
		struct virtio_pci_queue *pq = &vp->queues[q];

		pq->size = vp->dev->max_queue_size;     /* 4.1.4.3.2: max on reset */
		__atomic_store_n(&pq->vector, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
		pq->enabled = false;
		pq->desc = pq->driver = pq->device = 0;
		virtq_reset(&vp->dev->vqs[q]);
		vp_drain_kick(vp, q);
	}
	__atomic_store_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vp->needs_reset, VP_NR_NONE, __ATOMIC_SEQ_CST);
}

/* The transport half of a reset, after the device stopped: no worker races the teardown. */
static void reset_transport(struct virtio_pci *vp)
{
	if (__atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST) && vp->intx && vp->intx->lower)
		vp->intx->lower(vp->intx_ctx);
	vp_reset_state(vp);
}

void vp_reset_locked(struct virtio_pci *vp)
{
	if (vp->dev->ops->reset)
		vp->dev->ops->reset(vp->dev);
	reset_transport(vp);
}

void virtio_pci_run_deferred(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	if (vp->reset_pending) {
		/* Status still reads non-zero and every status write is refused until done;
		 * the device's ops run on this thread only, so dropping the lock is safe. */
		pthread_mutex_unlock(&vp->lock);
		if (vp->dev->ops->reset)
			vp->dev->ops->reset(vp->dev);
		pthread_mutex_lock(&vp->lock);
		reset_transport(vp);
	} else if (vp->activate_pending) {
		vp->activate_pending = false;
		vp_activate_locked(vp);
	}
	pthread_mutex_unlock(&vp->lock);
}

/* ------------------------------------------------------------------ queue writes */

static void queue_refused(struct virtio_pci *vp, const char *what, uint32_t val)
{
	vp_count(&vp->stats.bad_queue_cfg);
	pr_warn_ratelimited("%s: q%u: %s 0x%x refused", vp->pci.id, vp->queue_select, what, val);
}

static void queue_enable(struct virtio_pci *vp, struct virtio_pci_queue *q, uint32_t val)
{
	struct virtq *vq = &vp->dev->vqs[vp->queue_select];
	int ret;

	/* 4.1.4.3.2: writing 0 is not allowed (no RING_RESET); enabling twice is a no-op;
	 * a queue enabled after DRIVER_OK would appear under a running worker. */
	if (val != 1 || q->enabled || vp->activated) {
		if (!(val == 1 && q->enabled))
			queue_refused(vp, "queue_enable", val);
		return;
	}
	ret = virtq_enable(vq, q->size, q->desc, q->driver, q->device);
	if (ret) {
		queue_refused(vp, ret == -EFAULT ? "ring outside RAM, queue_enable" :
						   "ring size/alignment, queue_enable", val);
		return;
	}
	virtq_set_features(vq, vp->dev->features);
	q->enabled = true;
}

static void queue_reg_write(struct virtio_pci *vp, unsigned off, uint32_t val)
{
	struct virtio_pci_queue *q = selected(vp);
	unsigned shift;
	uint64_t *reg;

	if (!q) {
		queue_refused(vp, "queue_select out of range, write", val);
		return;
	}
	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		__atomic_store_n(&q->vector, vp_vector(vp, (uint16_t)val), __ATOMIC_RELAXED);
	} else if (off == VIRTIO_PCI_COMMON_Q_ENABLE) {
		queue_enable(vp, q, val);
	} else if (off == VIRTIO_PCI_COMMON_Q_NOFF) {
		vp_count(&vp->stats.bad_access);      /* read-only */
	} else if (q->enabled) {
		queue_refused(vp, "write to an enabled queue", val);
	} else if (off == VIRTIO_PCI_COMMON_Q_SIZE) {
		/* 2.7: a power of two no larger than the maximum; otherwise keep the old size. */
		if (vp_is_pow2(val) && val <= vp->dev->max_queue_size)
			q->size = (uint16_t)val;
		else
			queue_refused(vp, "queue_size", val);
	} else {
		reg = queue_addr(q, off, &shift);
		*reg = (*reg & ~(0xffffffffULL << shift)) | (uint64_t)val << shift;
	}
}

static void driver_features_write(struct virtio_pci *vp, uint32_t val)
{
	/* Once FEATURES_OK is set the negotiated set is final (virtio 1.2 3.1.1 steps 5-6). */
	if (vp->status & VIRTIO_CONFIG_S_FEATURES_OK)
		return;
	if (vp->gfselect > 1) {
		vp->bad_features |= val != 0;     /* nothing is offered beyond bit 63 */
		return;
	}
	vp->driver_features &= ~(0xffffffffULL << (32 * vp->gfselect));
	vp->driver_features |= (uint64_t)val << (32 * vp->gfselect);
}

static void reg_write(struct virtio_pci *vp, unsigned off, uint32_t val)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dfselect = val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->gfselect = val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		driver_features_write(vp, val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		__atomic_store_n(&vp->config_vector, vp_vector(vp, (uint16_t)val),
				 __ATOMIC_RELAXED);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		status_write(vp, (uint8_t)val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)val;  /* range checked on use */
		break;
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		vp_count(&vp->stats.bad_access);  /* read-only */
		break;
	default:
		queue_reg_write(vp, off, val);
	}
}

void vp_common_write(struct virtio_pci *vp, unsigned off, const uint8_t *data, unsigned len)
{
	unsigned width = field_width(off);

	pthread_mutex_lock(&vp->lock);
	if (off < VIRTIO_PCI_COMMON_LEN && len == width) {
		reg_write(vp, off, get_le(data, len));
	} else if (off < VIRTIO_PCI_COMMON_LEN && len == 8 && is_addr_lo(off)) {
		reg_write(vp, off, get_le(data, 4));
		reg_write(vp, off + 4, get_le(data + 4, 4));
	} else {
		vp_count(&vp->stats.bad_access);
		pr_warn_ratelimited("%s: common cfg write at 0x%x len %u ignored", vp->pci.id,
				    off, len);
	}
	pthread_mutex_unlock(&vp->lock);
}
