// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-pci modern transport (virtio 1.2 4.1): PCI identity, the vendor capabilities, the
 * BAR0 dispatcher (common, ISR, device, notify, MSI-X table and PBA), the interrupt paths
 * (MSI-X vector through pci/msix, or ISR + INTx) and the device-side helpers.
 *
 * Threads: BAR accesses come from vCPU threads; the common and device config go through
 * vp->lock. Workers never take vp->lock (reset joins them while holding it): what they touch
 * here - ISR, vectors, generation, needs_reset, statistics - is atomic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio/internal.h"
#include "base/log.h"

/* virtio_pci_cap (4.1.4) field offsets inside a capability. */
#define CAP_CFG_TYPE   3
#define CAP_BAR        4
#define CAP_OFFSET     8
#define CAP_LENGTH     12
#define CAP_EXTRA      16      /* notify_off_multiplier, or pci_cfg_data */
#define CAP_SIZE       16
#define CAP_SIZE_EXTRA 20

uint64_t vp_offered(const struct virtio_dev *vd)
{
	/* 6: VERSION_1 is mandatory for a modern device; the ring code implements both ring
	 * features. ACCESS_PLATFORM is never offered (no IOMMU). */
	return vd->device_features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
	       VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
}

/* ------------------------------------------------------------------ interrupts */

static int intx_raise(struct virtio_pci *vp)
{
	return vp->intx && vp->intx->raise ? vp->intx->raise(vp->intx_ctx) : -EOPNOTSUPP;
}

/*
 * One event to the driver: with MSI-X enabled, @vector through msix_notify (which handles
 * the masks and the PBA; NO_VECTOR means the driver wants none); otherwise ISR bit @isr_bit
 * and INTx (4.1.4.5, 4.1.5.1.2).
 */
static int signal(struct virtio_pci *vp, uint16_t vector, uint32_t isr_bit)
{
	int ret = 0;

	if (msix_enabled(&vp->msix)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			ret = msix_notify(&vp->msix, vector);
	} else {
		__atomic_or_fetch(&vp->isr, isr_bit, __ATOMIC_SEQ_CST);
		ret = intx_raise(vp);
	}
	if (ret) {
		vp_count(&vp->stats.irq_errors);
		pr_warn_ratelimited("%s: interrupt delivery failed: %s", vp->pci.id,
				    strerror(-ret));
	}
	return ret;
}

void vp_signal_config(struct virtio_pci *vp)
{
	/* 4.1.4.5.1: the config bit is set in the ISR even when MSI-X is used. */
	if (msix_enabled(&vp->msix))
		__atomic_or_fetch(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_SEQ_CST);
	signal(vp, __atomic_load_n(&vp->config_vector, __ATOMIC_RELAXED), VIRTIO_PCI_ISR_CONFIG);
}

/*
 * 2.1.2: the device entered an error state: DEVICE_NEEDS_RESET and one config interrupt,
 * whoever gets here first. ISR bit 1 is set before the status bit shows, so a driver that
 * sees NEEDS_RESET also finds the config bit (4.1.4.5).
 */
void vp_needs_reset(struct virtio_pci *vp)
{
	int none = VP_NR_NONE;

	if (!__atomic_compare_exchange_n(&vp->needs_reset, &none, VP_NR_CLAIMED, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	vp_count(&vp->stats.needs_reset);
	pr_warn_ratelimited("%s: device needs reset", vp->pci.id);
	__atomic_or_fetch(&vp->isr, VIRTIO_PCI_ISR_CONFIG, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vp->needs_reset, VP_NR_SHOWN, __ATOMIC_SEQ_CST);
	vp_signal_config(vp);
}

void virtio_pci_intx_resample(struct virtio_pci *vp)
{
	if (__atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST) && !msix_enabled(&vp->msix))
		intx_raise(vp);
}

/* ------------------------------------------------------------------ transport ops */

/* Used-buffer notification of queue @q: its vector, or ISR bit 0 and INTx (4.1.4.5). */
static int vp_notify(void *ctx, unsigned q)
{
	struct virtio_pci *vp = ctx;

	return signal(vp, __atomic_load_n(&vp->queues[q].vector, __ATOMIC_RELAXED), 1);
}

/* 4.1.4.3.1: config_generation changes with the device configuration. */
static void vp_config_changed(void *ctx)
{
	struct virtio_pci *vp = ctx;

	__atomic_add_fetch(&vp->generation, 1, __ATOMIC_SEQ_CST);
	vp_signal_config(vp);
}

static void vp_needs_reset_hook(void *ctx)
{
	vp_needs_reset(ctx);
}

static int vp_kick_fd(void *ctx, unsigned q)
{
	return virtio_pci_kick_fd(ctx, q);
}

static void kick(struct virtio_pci *vp, unsigned q)
{
	uint64_t one = 1;

	if (write(vp->queues[q].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("%s: kick q%u: %s", vp->pci.id, q, strerror(errno));
}

static void vp_kick(void *ctx, unsigned q)
{
	kick(ctx, q);
}

static int vp_call_fd(void *ctx, unsigned q)
{
	struct virtio_pci *vp = ctx;
	uint16_t v = __atomic_load_n(&vp->queues[q].vector, __ATOMIC_RELAXED);

	return v == VIRTIO_MSI_NO_VECTOR ? -1 : msix_vector_fd(&vp->msix, v);
}

static const struct virtio_transport_ops vp_transport_ops = {
	.notify = vp_notify,
	.config_changed = vp_config_changed,
	.needs_reset = vp_needs_reset_hook,
	.kick_fd = vp_kick_fd,
	.kick = vp_kick,
	.call_fd = vp_call_fd,
};

int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned q)
{
	return q < vp->dev->nr_queues ? vp->queues[q].kick_fd : -1;
}

uint64_t virtio_pci_notify_offset(const struct virtio_pci *vp, unsigned q)
{
	(void)vp;
	return VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;
}

void vp_drain_kick(struct virtio_pci *vp, unsigned q)
{
	uint64_t v;

	while (read(vp->queues[q].kick_fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* ------------------------------------------------------------------ BAR0 */

static void bad_access(struct virtio_pci *vp, uint64_t off, unsigned len, bool write)
{
	vp_count(&vp->stats.bad_access);
	pr_warn_ratelimited("%s: ignored BAR0 %s at 0x%lx len %u", vp->pci.id,
			    write ? "write" : "read", (unsigned long)off, len);
}

/* ISR (4.1.4.5): reading returns the bits and clears them, which ends the INTx level. */
static void isr_read(struct virtio_pci *vp, uint8_t *data)
{
	uint32_t isr = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_SEQ_CST);

	data[0] = (uint8_t)isr;
	if (isr && vp->intx && vp->intx->lower)
		vp->intx->lower(vp->intx_ctx);
}

static bool dev_cfg_range(const struct virtio_pci *vp, uint64_t off, unsigned len)
{
	uint32_t size = vp->dev->config_size;

	return off < size && len <= size - off;
}

static void dev_cfg_read(struct virtio_pci *vp, uint64_t off, uint8_t *data, unsigned len)
{
	if (!dev_cfg_range(vp, off, len) || !vp->dev->ops->config_read) {
		bad_access(vp, VIRTIO_PCI_DEVICE_CFG_OFF + off, len, false);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	vp->dev->ops->config_read(vp->dev, (unsigned)off, data, len);
	pthread_mutex_unlock(&vp->lock);
}

static void dev_cfg_write(struct virtio_pci *vp, uint64_t off, const uint8_t *data, unsigned len)
{
	if (!dev_cfg_range(vp, off, len) || !vp->dev->ops->config_write) {
		bad_access(vp, VIRTIO_PCI_DEVICE_CFG_OFF + off, len, true);
		return;
	}
	pthread_mutex_lock(&vp->lock);
	vp->dev->ops->config_write(vp->dev, (unsigned)off, data, len);
	pthread_mutex_unlock(&vp->lock);
}

/* 4.1.4.4: queue_notify_off = q and a multiplier of 4, so q = offset / 4. */
static void notify_write(struct virtio_pci *vp, uint64_t off, unsigned len)
{
	uint64_t q = off / VIRTIO_PCI_NOTIFY_MULT;

	if (off % VIRTIO_PCI_NOTIFY_MULT || q >= vp->dev->nr_queues) {
		bad_access(vp, VIRTIO_PCI_NOTIFY_OFF + off, len, true);
		return;
	}
	kick(vp, (unsigned)q);
}

static bool in_region(uint64_t off, unsigned len, uint64_t start, uint64_t end)
{
	return off >= start && off < end && len <= end - off;
}

static void bar_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;

	memset(data, 0, len);
	if (!len || len > 8)
		bad_access(vp, off, len, false);
	else if (in_region(off, len, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_ISR_OFF))
		vp_common_read(vp, (unsigned)off, data, len);
	else if (off == VIRTIO_PCI_ISR_OFF)
		isr_read(vp, data);
	else if (in_region(off, len, VIRTIO_PCI_DEVICE_CFG_OFF, VIRTIO_PCI_NOTIFY_OFF))
		dev_cfg_read(vp, off - VIRTIO_PCI_DEVICE_CFG_OFF, data, len);
	else if (in_region(off, len, VIRTIO_PCI_NOTIFY_OFF, VIRTIO_PCI_MSIX_TABLE_OFF))
		;       /* notify registers read as zero */
	else if (in_region(off, len, VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF))
		msix_table_read(&vp->msix, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
	else if (in_region(off, len, VIRTIO_PCI_MSIX_PBA_OFF, VIRTIO_PCI_BAR_SIZE))
		msix_pba_read(&vp->msix, off - VIRTIO_PCI_MSIX_PBA_OFF, data, len);
	else
		bad_access(vp, off, len, false);
}

static void bar_write(void *opaque, uint64_t off, const uint8_t *data, unsigned len)
{
	struct virtio_pci *vp = opaque;

	if (!len || len > 8)
		bad_access(vp, off, len, true);
	else if (in_region(off, len, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_ISR_OFF))
		vp_common_write(vp, (unsigned)off, data, len);
	else if (in_region(off, len, VIRTIO_PCI_DEVICE_CFG_OFF, VIRTIO_PCI_NOTIFY_OFF))
		dev_cfg_write(vp, off - VIRTIO_PCI_DEVICE_CFG_OFF, data, len);
	else if (in_region(off, len, VIRTIO_PCI_NOTIFY_OFF, VIRTIO_PCI_MSIX_TABLE_OFF))
		notify_write(vp, off - VIRTIO_PCI_NOTIFY_OFF, len);
	else if (in_region(off, len, VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF))
		msix_table_write(&vp->msix, off - VIRTIO_PCI_MSIX_TABLE_OFF, data, len);
	else if (in_region(off, len, VIRTIO_PCI_MSIX_PBA_OFF, VIRTIO_PCI_BAR_SIZE))
		msix_pba_write(&vp->msix, off - VIRTIO_PCI_MSIX_PBA_OFF, data, len);
	else
		bad_access(vp, off, len, true);     /* ISR is read-only */
}

const struct bus_device_ops virtio_pci_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* ------------------------------------------------------------------ PCI_CFG capability */

/*
 * 4.1.4.9: pci_cfg_data is a window onto BAR cap.bar at cap.offset, cap.length bytes
 * (1, 2 or 4, offset aligned to it). Anything else is ignored. Called under the segment's
 * config lock; the BAR path takes vp->lock and the MSI-X lock, both below it.
 */
static bool pci_cfg_window(struct virtio_pci *vp, uint32_t *boff, uint32_t *blen)
{
	unsigned cap = vp->pci_cfg_cap;

	*boff = pci_cfg_get32(&vp->pci, cap + CAP_OFFSET);
	*blen = pci_cfg_get32(&vp->pci, cap + CAP_LENGTH);
	if (pci_cfg_get8(&vp->pci, cap + CAP_BAR) != VIRTIO_PCI_BAR)
		return false;
	if (*blen != 1 && *blen != 2 && *blen != 4)
		return false;
	return !(*boff % *blen) && *boff < VIRTIO_PCI_BAR_SIZE;
}

static bool hits_data(const struct virtio_pci *vp, unsigned off, unsigned len)
{
	unsigned data = vp->pci_cfg_cap + CAP_EXTRA;

	return vp->pci_cfg_cap && off < data + 4 && data < off + len;
}

static void pci_cfg_hook_read(struct pci_dev *dev, unsigned off, unsigned len, uint32_t *val)
{
	struct virtio_pci *vp = dev->opaque;
	unsigned data = vp->pci_cfg_cap + CAP_EXTRA, i;
	uint32_t boff, blen;
	uint8_t buf[4] = { 0 };

	if (!hits_data(vp, off, len) || !pci_cfg_window(vp, &boff, &blen))
		return;
	bar_read(vp, boff, buf, blen);
	for (i = 0; i < 4; i++)
		pci_cfg_set8(dev, data + i, buf[i]);
	*val = 0;
	for (i = 0; i < len; i++)
		*val |= (uint32_t)pci_cfg_get8(dev, off + i) << (8 * i);
}

static void pci_cfg_hook_write(struct pci_dev *dev, unsigned off, unsigned len, uint32_t val)
{
	struct virtio_pci *vp = dev->opaque;
	unsigned data = vp->pci_cfg_cap + CAP_EXTRA, i;
	uint32_t boff, blen;
	uint8_t buf[4];

	(void)val;
	/* PCI 3.0 6.2.2: Interrupt Disable masks INTx# only; an interrupt the function still
	 * holds in its ISR asserts the pin again as soon as the bit is cleared. */
	if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND &&
	    !(pci_cfg_get16(dev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE))
		virtio_pci_intx_resample(vp);
	if (!hits_data(vp, off, len) || !pci_cfg_window(vp, &boff, &blen))
		return;
	for (i = 0; i < 4; i++)
		buf[i] = pci_cfg_get8(dev, data + i);
	bar_write(vp, boff, buf, blen);
}

static const struct pci_dev_ops vp_pci_ops = {
	.cfg_read = pci_cfg_hook_read,
	.cfg_write = pci_cfg_hook_write,
};

/* ------------------------------------------------------------------ construction */

/* A virtio_pci_cap (4.1.4) for BAR0; returns its config offset or -errno. */
static int add_vcap(struct pci_dev *dev, uint8_t type, unsigned cap_len, uint32_t off,
		    uint32_t length)
{
	int cap = pci_cap_add(dev, PCI_CAP_ID_VNDR, cap_len);

	if (cap < 0)
		return cap;
	pci_cfg_set8(dev, cap + 2, (uint8_t)cap_len);
	pci_cfg_set8(dev, cap + CAP_CFG_TYPE, type);
	pci_cfg_set8(dev, cap + CAP_BAR, VIRTIO_PCI_BAR);
	pci_cfg_set32(dev, cap + CAP_OFFSET, off);
	pci_cfg_set32(dev, cap + CAP_LENGTH, length);
	return cap;
}

static int add_caps(struct virtio_pci *vp)
{
	const struct virtio_dev *vd = vp->dev;
	struct pci_dev *dev = &vp->pci;
	int ret, cap;

	ret = add_vcap(dev, VIRTIO_PCI_CAP_COMMON_CFG, CAP_SIZE, VIRTIO_PCI_COMMON_OFF,
		       VIRTIO_PCI_COMMON_LEN);
	if (ret >= 0)
		ret = add_vcap(dev, VIRTIO_PCI_CAP_ISR_CFG, CAP_SIZE, VIRTIO_PCI_ISR_OFF, 1);
	if (ret >= 0 && vd->config_size)
		ret = add_vcap(dev, VIRTIO_PCI_CAP_DEVICE_CFG, CAP_SIZE, VIRTIO_PCI_DEVICE_CFG_OFF,
			       vd->config_size);
	if (ret < 0)
		return ret;
	/* 4.1.4.4: cap.length >= queue_notify_off * multiplier + 2 for every queue. */
	cap = add_vcap(dev, VIRTIO_PCI_CAP_NOTIFY_CFG, CAP_SIZE_EXTRA, VIRTIO_PCI_NOTIFY_OFF,
		       (uint32_t)vd->nr_queues * VIRTIO_PCI_NOTIFY_MULT);
	if (cap < 0)
		return cap;
	pci_cfg_set32(dev, cap + CAP_EXTRA, VIRTIO_PCI_NOTIFY_MULT);
	/* 4.1.4.9.1: the device MUST present a PCI_CFG capability; its body is driver-set. */
	cap = add_vcap(dev, VIRTIO_PCI_CAP_PCI_CFG, CAP_SIZE_EXTRA, 0, 0);
	if (cap < 0)
		return cap;
	pci_cfg_set_wmask(dev, cap + CAP_BAR, 1, 0xff);
	pci_cfg_set_wmask(dev, cap + CAP_OFFSET, 4, 0xffffffff);
	pci_cfg_set_wmask(dev, cap + CAP_LENGTH, 4, 0xffffffff);
	pci_cfg_set_wmask(dev, cap + CAP_EXTRA, 4, 0xffffffff);
	vp->pci_cfg_cap = (unsigned)cap;
	return 0;
}

static uint32_t class_of(uint32_t type)
{
	/* Cloud Hypervisor's choice: net 02/00, block 01/80, the rest ff/ff. */
	if (type == VIRTIO_ID_NET)
		return 0x020000;
	if (type == VIRTIO_ID_BLOCK)
		return 0x018000;
	return 0xffff00;
}

static int check_dev(const struct virtio_dev *vd)
{
	if (!vd || !vd->mem || !vd->vqs || !vd->nr_queues ||
	    vd->nr_queues > VIRTIO_PCI_MAX_QUEUES || vd->nr_queues + 1 > MSIX_MAX_VECTORS)
		return -EINVAL;
	if (!vp_is_pow2(vd->max_queue_size) || vd->max_queue_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	if (vd->config_size > VIRTIO_PCI_DEVICE_CFG_MAX || vd->type + 0x1040 > 0xffff)
		return -EINVAL;
	return 0;
}

static int alloc_queues(struct virtio_pci *vp, unsigned nq)
{
	unsigned q;

	vp->queues = calloc(nq, sizeof(*vp->queues));
	if (!vp->queues)
		return -ENOMEM;
	for (q = 0; q < nq; q++)
		vp->queues[q].kick_fd = -1;
	for (q = 0; q < nq; q++) {
		vp->queues[q].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->queues[q].kick_fd < 0)
			return -errno;
	}
	return 0;
}

static void free_queues(struct virtio_pci *vp, unsigned nq)
{
	unsigned q;

	for (q = 0; vp->queues && q < nq; q++) {
		if (vp->queues[q].kick_fd >= 0)
			close(vp->queues[q].kick_fd);
	}
	free(vp->queues);
	vp->queues = NULL;
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_args *a)
{
	struct virtio_dev *vd = a->dev;
	uint16_t pci_id = (uint16_t)(0x1040 + (vd ? vd->type : 0));
	struct pci_ident ident = {
		.vendor = 0x1af4, .device = pci_id, .subsys_vendor = 0x1af4, .subsys_id = pci_id,
		.class_code = vd ? class_of(vd->type) : 0, .revision = 1, .irq_pin = 1,
	};
	int ret = check_dev(vd);

	if (ret)
		return ret;
	memset(vp, 0, sizeof(*vp));
	vp->dev = vd;
	vp->offered = vp_offered(vd);
	vp->intx = a->intx_ops;
	vp->intx_ctx = a->intx_ctx;
	vp->defer = a->defer;
	vp->defer_ctx = a->defer_ctx;
	pci_dev_init(&vp->pci, a->id, &ident, &vp_pci_ops, vp);
	ret = pci_bar_add(&vp->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, false);
	if (!ret)
		ret = add_caps(vp);
	if (ret)
		return ret;
	ret = alloc_queues(vp, vd->nr_queues);
	if (ret)
		goto err_queues;
	/* FC sizes the table num_queues + 1: one vector per queue and one for config. */
	ret = msix_init(&vp->msix, &vp->pci, vd->nr_queues + 1u, VIRTIO_PCI_BAR,
			VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_PBA_OFF,
			a->msix_ops, a->msix_ctx);
	if (ret)
		goto err_queues;
	pthread_mutex_init(&vp->lock, NULL);
	vd->transport = &vp_transport_ops;
	vd->transport_ctx = vp;
	vp_reset_state(vp);
	return 0;

err_queues:
	free_queues(vp, vd->nr_queues);
	return ret;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	if (!vp->queues)
		return;
	pthread_mutex_lock(&vp->lock);
	vp_reset_locked(vp);
	pthread_mutex_unlock(&vp->lock);
	vp->dev->transport = NULL;
	vp->dev->transport_ctx = NULL;
	msix_destroy(&vp->msix);
	free_queues(vp, vp->dev->nr_queues);
	pthread_mutex_destroy(&vp->lock);
}
int virtio_pci_pause(struct virtio_pci *vp)
{
	int ret = 0;

	virtio_pci_run_deferred(vp);      /* a snapshot never holds a half-done status change */
	pthread_mutex_lock(&vp->lock);
	if (vp->activated && vp->dev->ops->pause)
		ret = vp->dev->ops->pause(vp->dev);
	pthread_mutex_unlock(&vp->lock);
	return ret;
}

void virtio_pci_resume(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	if (vp->activated && vp->dev->ops->resume)
		vp->dev->ops->resume(vp->dev);
	pthread_mutex_unlock(&vp->lock);
}
