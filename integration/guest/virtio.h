/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: a small modern virtio-pci driver (virtio 1.2 4.1) with split virtqueues
 * (2.7) and MSI-X (PCI 3.0 6.8), shared by the virtio checks (vcheck.c, vmove.c) and the
 * hostile checks (hostile.c). See README.md "Virtio checks".
 */
#ifndef VIREO_GUEST_VIRTIO_H
#define VIREO_GUEST_VIRTIO_H

#include "guest.h"

#define VIRTIO_ID_BLOCK         0x1042        /* 0x1040 + 2 (4.1.2.1) */
#define VIRTIO_ID_CONSOLE       0x1043        /* 0x1040 + 3 */
#define VIRTIO_ID_RNG           0x1044        /* 0x1040 + 4 */

/* virtio_pci_cap cfg_type (4.1.4) */
#define VCAP_COMMON             1
#define VCAP_NOTIFY             2
#define VCAP_ISR                3
#define VCAP_DEVICE             4
#define VCAP_PCI_CFG            5

/* Common configuration (4.1.4.3) */
#define VC_DFSELECT             0x00
#define VC_DF                   0x04
#define VC_GFSELECT             0x08
#define VC_GF                   0x0C
#define VC_MSIX                 0x10
#define VC_NUMQ                 0x12
#define VC_STATUS               0x14
#define VC_GENERATION           0x15
#define VC_QSELECT              0x16
#define VC_QSIZE                0x18
#define VC_QMSIX                0x1A
#define VC_QENABLE              0x1C
#define VC_QNOFF                0x1E
#define VC_QDESC                0x20
#define VC_QDRIVER              0x28
#define VC_QDEVICE              0x30

/* Device status (2.1) */
#define VS_ACK                  0x01
#define VS_DRIVER               0x02
#define VS_DRIVER_OK            0x04
#define VS_FEATURES_OK          0x08
#define VS_NEEDS_RESET          0x40
#define VS_FAILED               0x80
#define VS_READY                (VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK)

#define VF_INDIRECT_DESC        (1ULL << 28)
#define VF_EVENT_IDX            (1ULL << 29)
#define VF_VERSION_1            (1ULL << 32)
#define VIRTIO_NO_VECTOR        0xFFFF

/* Split virtqueue (2.7.5) */
#define VD_NEXT                 1
#define VD_WRITE                2
#define VD_INDIRECT             4
struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

#define VQ_MAX                  128           /* largest ring that fits VQ_MEM */
#define VQ_WANT                 16            /* default queue_size to ask for (max if smaller) */
#define VQ_MEM                  4096          /* desc 0, avail 0x400, used 0x800 (ring_layout) */
#define VDEV_QUEUES             3
#define VIRTIO_TIMEOUT_US       10000000ULL   /* LAPIC time for any device reaction */

struct vq {
	unsigned index;
	uint16_t size;
	uint64_t mem;                             /* guest-physical ring memory (VQ_MEM) */
	volatile struct vring_desc *desc;
	volatile uint16_t *avail;                 /* flags, idx, ring[size], used_event */
	volatile uint32_t *used;                  /* flags|idx, then {id, len} pairs */
	uint16_t avail_idx, used_seen, next_desc;
	uint16_t notify_off;
};

struct vcap {
	unsigned cfg;                             /* config offset of the capability, 0: absent */
	uint8_t bar;
	uint32_t off, len;
};

struct vdev {
	const char *name;                         /* "rng", "con": check-name infix */
	struct pci_fn *f;
	struct vcap common, notify, isr, device, pcicfg;
	uint32_t notify_mult;
	unsigned msix;                            /* config offset of the MSI-X capability */
	uint16_t msix_n;                          /* table size */
	unsigned msix_used;                       /* entries programmed (msix_setup) */
	uint8_t tbl_bir, pba_bir;
	uint32_t tbl_off, pba_off;
	volatile uint8_t *cc, *isrp, *ntf, *tbl, *pba;   /* at the BARs' current addresses */
	uint8_t vec0;                             /* IDT vector of MSI-X entry 0 (config) */
	uint64_t offered, features;
	uint16_t num_queues;
	unsigned nvq;
	struct vq vq[VDEV_QUEUES];
	/* Set between vdev_probe and vdev_init (probe clears them): 0 / NULL = defaults. */
	uint16_t qsize_want;                      /* queue_size to ask for (VQ_WANT) */
	uint8_t (*rings)[VQ_MEM];                 /* own ring memory, used cyclically */
	unsigned nrings, ring_next;
};

/* IDT vector of MSI-X entry e: config = entry 0, queue q = entry 1 + q. */
static inline unsigned vdev_vec(const struct vdev *d, unsigned entry) { return d->vec0 + entry; }
/*
 * Queue q's MSI-X entry: its own (1 + q) when the table is large enough, else the last one
 * programmed, shared by the remaining queues (QEMU's virtio-serial-pci has 2 vectors), as
 * Linux falls back to one shared queue vector.
 */
static inline unsigned vq_entry(const struct vdev *d, unsigned q)
{
	return d->msix_used > 1 + q ? 1 + q : d->msix_used - 1;
}

/* virtio.c: transport and rings. */
uint8_t cc_r8(struct vdev *d, unsigned off);
uint16_t cc_r16(struct vdev *d, unsigned off);
uint32_t cc_r32(struct vdev *d, unsigned off);
void cc_w8(struct vdev *d, unsigned off, uint8_t v);
void cc_w16(struct vdev *d, unsigned off, uint16_t v);
void cc_w32(struct vdev *d, unsigned off, uint32_t v);
/* Finds the `nth` function (0: first) with that ID, reads its capabilities, maps its BARs. */
bool vdev_probe(struct vdev *d, uint16_t device_id, unsigned nth, const char *name, uint8_t vec0,
                char *why, size_t n);
/* Recomputes the register pointers from the BAR registers (after a move). */
bool vdev_map(struct vdev *d, char *why, size_t n);
/* Writes 0 to device_status and waits until it reads 0 (4.1.4.3.2). */
bool vdev_reset(struct vdev *d);
/*
 * Driver initialization (3.1.1) with MSI-X vectors (config: entry 0, queue q: entry 1+q),
 * `nvq` queues in fresh ring memory, features = offered & (VERSION_1 | `extra`).
 */
bool vdev_init(struct vdev *d, unsigned nvq, uint64_t extra, char *why, size_t n);
/* Adds a direct chain of `n` buffers and makes it available; returns its head. */
struct vbuf {
	uint64_t addr;
	uint32_t len;
	bool write;
};
uint16_t vq_post(struct vq *q, const struct vbuf *b, unsigned n);
/* Makes descriptor `head` available (avail ring entry, then avail->idx). */
void vq_publish(struct vq *q, uint16_t head);
void vq_kick(struct vdev *d, struct vq *q);
uint16_t vq_used_idx(const struct vq *q);
/* The next used element (id, len), if the device published one. */
bool vq_pop_used(struct vq *q, uint32_t *id, uint32_t *len);
/* Polls (interrupts on) until used->idx reaches `want`; false on timeout. */
bool vq_wait_used(struct vq *q, uint16_t want, uint64_t timeout_us);
/* One request: post, kick, wait for the queue's interrupt and the used element. */
bool vq_request(struct vdev *d, struct vq *q, const struct vbuf *b, unsigned n, uint32_t *len,
                char *why, size_t wn);

/* msix.c: MSI-X for a virtio function (up to `entries`, as many as the table has), waits. */
bool msix_setup(struct vdev *d, unsigned entries, char *why, size_t n);
void msix_mask(struct vdev *d, unsigned entry, bool masked);
void msix_function_mask(struct vdev *d, bool masked);
bool msix_pending(struct vdev *d, unsigned entry);
uint32_t msix_entry_rd(struct vdev *d, unsigned entry, unsigned dword);
/* Takes the interrupts already pending in the local APIC (stale ones). */
void irq_drain(void);
/* Interrupts on until irq_count(vec) differs from `before`; false on timeout. */
bool irq_wait(unsigned vec, unsigned before, uint64_t timeout_us);
/* Polls (interrupts on) until cond(arg) holds; false on timeout. */
bool poll_until(bool (*cond)(void *), void *arg, uint64_t timeout_us);

/* vcheck.c, vmove.c, hostile.c: the checks. */
/* What virtio_bring_up looks for and how it initializes it. */
struct vdev_want {
	uint16_t id;
	unsigned nth;                             /* the nth function with that ID */
	const char *tag;                          /* check-name infix: virtio_<tag>_caps */
	uint8_t vec0;                             /* IDT vector of MSI-X entry 0 */
	unsigned nvq;                             /* 0: num_queues, at most VDEV_QUEUES */
	uint16_t qsize;                           /* 0: VQ_WANT */
	uint64_t features;                        /* accepted if offered, besides VERSION_1 */
	uint8_t (*rings)[VQ_MEM];                 /* NULL: the shared pool */
	unsigned nrings;
	bool must;                                /* absent is a FAIL */
};
/* Prints virtio_<tag>_caps, _features, _init; false if the device is unusable. */
bool virtio_bring_up(struct vdev *d, const struct vdev_want *w);
struct virtio_opts {
	bool want_rng, want_con;                  /* virtio=rng,console: must be present */
	bool hostile;                             /* hostile=1 */
	const char *conin;                        /* conin=WORD: the line the host feeds */
	size_t conin_len;
};
/* All of them (main.c, after the PCI checks). */
void virtio_checks(const struct virtio_opts *o);
void virtio_rng_checks(struct vdev *d);
void virtio_con_checks(struct vdev *d, const struct virtio_opts *o);
void virtio_move_check(struct vdev *d);
void virtio_hostile_checks(struct vdev *d);
/* netcheck.c: net=MAC (12 hex digits) asks for the virtio-net checks. */
bool net_parse_word(const char *w, size_t len);
void net_checks(void);
/* vsockcheck.c: vsock=CID asks for the virtio-vsock checks. */
bool vsock_parse_word(const char *w, size_t len);
void vsock_checks(void);
bool rng_fetch(struct vdev *d, uint8_t *buf, uint32_t len, uint32_t *got, char *why, size_t n);
bool rng_looks_random(const uint8_t *b, uint32_t len);
/* intx.c: virtio-rng on INTx, MSI-X off (intx=1, after the other virtio checks). */
void virtio_intx_check(void);
/* blk.c: virtio-blk checks (README.md "virtio-blk checks"); blk* command-line words. */
bool blk_parse_word(const char *w, size_t len);
void blk_checks(void);

#endif
