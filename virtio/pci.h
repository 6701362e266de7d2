/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The modern virtio-pci transport (virtio 1.2 4.1) on top of pci/: identity, the vendor
 * capabilities, BAR0 (common config, ISR, device config, notify, MSI-X), the device status
 * machine and the interrupt paths. It carries any struct virtio_dev through its transport
 * ops. Design and threads: docs/virtio.md.
 */
#ifndef VIREO_VIRTIO_PCI_H
#define VIREO_VIRTIO_PCI_H

#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/bus.h"
#include "pci/msix.h"
#include "pci/pci.h"
#include "virtio/device.h"

struct cJSON;

/*
 * BAR0 layout (64-bit memory BAR, not prefetchable): each structure on its own 8 KiB
 * boundary as Cloud Hypervisor / Firecracker do, so none shares a naturally aligned 8 KiB
 * block with the MSI-X table (PCI 3.0 6.8.2).
 */
#define VIRTIO_PCI_BAR             0
#define VIRTIO_PCI_BAR_SIZE        0x20000ULL
#define VIRTIO_PCI_COMMON_OFF      0x0000
#define VIRTIO_PCI_COMMON_LEN      0x38    /* through queue_device: what Linux maps */
#define VIRTIO_PCI_ISR_OFF         0x2000
#define VIRTIO_PCI_DEVICE_CFG_OFF  0x4000
#define VIRTIO_PCI_DEVICE_CFG_MAX  0x1000
#define VIRTIO_PCI_NOTIFY_OFF      0x6000
#define VIRTIO_PCI_NOTIFY_MULT     4       /* notify_off_multiplier; queue_notify_off = q */
#define VIRTIO_PCI_MSIX_TABLE_OFF  0x8000
#define VIRTIO_PCI_MSIX_PBA_OFF    0x10000
#define VIRTIO_PCI_MAX_QUEUES      ((VIRTIO_PCI_MSIX_TABLE_OFF - VIRTIO_PCI_NOTIFY_OFF) / \
				    VIRTIO_PCI_NOTIFY_MULT)

/*
 * INTx when the guest has not enabled MSI-X (4.1.4.5): a level interrupt held while the
 * ISR is non-zero. raise asserts the line (write the irqfd bound with KVM_IRQFD_FLAG_RESAMPLE);
 * lower (optional) deasserts after an ISR read. With a resample irqfd KVM lowers the line at
 * EOI and the VMM calls virtio_pci_intx_resample() from its resamplefd handler.
 */
struct virtio_intx_ops {
	int (*raise)(void *ctx);
	void (*lower)(void *ctx);
};

struct virtio_pci_queue {
	uint16_t size;                    /* queue_size register */
	uint16_t vector;                  /* queue_msix_vector (atomic: workers read it) */
	bool enabled;
	uint64_t desc, driver, device;
	int kick_fd;                      /* eventfd: KVM_IOEVENTFD and MMIO notify writes */
};

/* Guest mistakes and host failures, counted (never fatal). */
struct virtio_pci_stats {
	uint64_t bad_access;              /* odd-sized / unknown BAR accesses */
	uint64_t bad_queue_cfg;           /* refused queue_size / queue_enable / late writes */
	uint64_t bad_status;              /* status writes clearing bits */
	uint64_t features_refused;        /* FEATURES_OK refused */
	uint64_t irq_errors;              /* msix_notify / INTx failures */
	uint64_t activate_errors;
	uint64_t needs_reset;             /* DEVICE_NEEDS_RESET raised */
};

struct virtio_pci {
	struct pci_dev pci;
	struct msix msix;
	struct virtio_dev *dev;           /* the device this function carries */
	pthread_mutex_t lock;             /* guest register accesses, activation, reset */
	uint64_t offered;                 /* device features incl. the transport's */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	bool bad_features;                /* driver wrote a bit beyond 63 */
	uint8_t status;                   /* as the driver set it (NEEDS_RESET kept apart) */
	bool activated;
	/* Status changes carried out later by virtio_pci_run_deferred (with args.defer). */
	bool reset_pending, activate_pending;
	void (*defer)(void *ctx);
	void *defer_ctx;
	uint16_t config_vector;           /* atomic */
	uint16_t queue_select;
	struct virtio_pci_queue *queues;
	uint32_t isr;                     /* atomic; bit 0 queue, bit 1 config */
	uint32_t generation;              /* atomic; config_generation = low byte */
	int needs_reset;                  /* atomic: none, claimed, shown in device_status */
	unsigned pci_cfg_cap;             /* config offset of the VIRTIO_PCI_CAP_PCI_CFG cap */
	const struct virtio_intx_ops *intx;
	void *intx_ctx;
	struct virtio_pci_stats stats;    /* atomic increments */
};

struct virtio_pci_args {
	const char *id;                   /* e.g. "rng0" */
	struct virtio_dev *dev;           /* stays the caller's; reset by virtio_pci_destroy */
	const struct msix_irq_ops *msix_ops;
	void *msix_ctx;
	const struct virtio_intx_ops *intx_ops;
	void *intx_ctx;
	/*
	 * Activation and reset off the vCPU thread: a DRIVER_OK or reset write only records the
	 * request and calls @defer(@defer_ctx), and the owner then calls
	 * virtio_pci_run_deferred() from a thread that is no vCPU. NULL: at once, in the write.
	 */
	void (*defer)(void *ctx);
	void *defer_ctx;
};

/*
 * Builds the PCI function: identity 0x1AF4:0x1040+type rev 1 (4.1.2), BAR0, the vendor
 * capabilities (4.1.4) chained before MSI-X with num_queues + 1 vectors, one kick eventfd per
 * queue. The BAR has no address yet: pci_bar_set_addr(&vp->pci, VIRTIO_PCI_BAR, addr).
 * -EINVAL (bad ops), -ENOMEM, -errno.
 */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_args *args);
/* Resets the device (ops->reset), then frees the transport; the function must be off its
 * segment. The device itself stays the caller's (virtio_dev_destroy). */
void virtio_pci_destroy(struct virtio_pci *vp);

/* BAR0 handler for the MMIO bus, opaque = the struct virtio_pci. */
extern const struct bus_device_ops virtio_pci_bar_ops;
/* Offset in BAR0 of queue @q's notify register (for KVM_IOEVENTFD at BAR + offset). */
uint64_t virtio_pci_notify_offset(const struct virtio_pci *vp, unsigned q);
int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned q);
/*
 * Carries out a recorded reset or activation. A reset stops the device without the
 * transport lock, so vCPUs keep reading registers meanwhile, and device_status reads 0
 * only once it is complete (virtio 1.2 2.1, 4.1.4.3.1). VMM thread only.
 */
void virtio_pci_run_deferred(struct virtio_pci *vp);
/* INTx resample (EOI): raises the line again while the ISR is non-zero. */
void virtio_pci_intx_resample(struct virtio_pci *vp);
/* Snapshot quiescing: ops->pause/resume when the device is active. */
int virtio_pci_pause(struct virtio_pci *vp);
void virtio_pci_resume(struct virtio_pci *vp);

/*
 * Transport state (features, status, vectors, queues incl. indices and notification state)
 * with every u64 as a "0x..." string. The PCI config space and MSI-X are saved separately
 * (pci_dev_save, msix_save). Save with the device paused. Restore validates everything
 * (type, features subset of offered, status bits, sizes, vectors, rings inside RAM) before
 * touching @vp, -EINVAL otherwise with @err naming the field relative to the section
 * ("queues[1].size: 300 is not a power of two <= 256"); then activates the device if it was
 * active.
 */
struct cJSON *virtio_pci_save(struct virtio_pci *vp);
int virtio_pci_restore(struct virtio_pci *vp, const struct cJSON *json, char *err,
		       size_t errlen);

#endif
