/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI segment model, device independent: per-function config space with writable and RW1C
 * masks, the capability list, BARs with the sizing protocol and relocation, the segment with
 * its host bridge and the two config-access front-ends (0xCF8/0xCFC and ECAM), and the
 * address-range and GSI allocators. Design and integration notes: docs/pci.md.
 *
 * Locking: each segment has a config lock (every config access of every function on it) and
 * an apply lock (BAR map/unmap/move calls into the owner). Config writes never call the owner;
 * they mark the function dirty, and pci_segment_apply() - called by the VMM once no bus lock is
 * held - performs the map/unmap/move calls. See "Re-entrancy" in docs/pci.md.
 */
#ifndef VIREO_PCI_PCI_H
#define VIREO_PCI_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bus.h"
#include "base/ranges.h"

struct cJSON;
struct msix;
struct pci_dev;

#define PCI_CFG_SIZE         4096   /* PCIe 7.2.2: 4 KiB per function */
#define PCI_NR_BARS          6
#define PCI_NR_SLOTS         32
#define PCI_CAP_START        0x40   /* PCI 3.0 6.7: capabilities live in 0x40-0xFF */

/* Host bridge at 00:00.0, as Cloud Hypervisor: Intel 0x0D57, class 06/00/00. */
#define PCI_HOST_BRIDGE_VENDOR 0x8086
#define PCI_HOST_BRIDGE_DEVICE 0x0d57

/* ------------------------------------------------------------------ allocators */

/*
 * Address-range allocator over one window [base, base + size): the 32-bit and 64-bit MMIO
 * windows and the I/O port space. Not thread-safe: the VMM serializes (vm lock / apply lock).
 * Errors: -EINVAL bad size, alignment (power of two) or outside the window; -EEXIST overlap;
 * -ENOSPC exhausted; -ENOENT unknown base; -ENOMEM.
 */
struct range_alloc_entry {
	uint64_t base, size, align;       /* base, size: a struct range (base/ranges.h) */
};

struct range_alloc {
	char name[16];
	uint64_t base, size;
	struct range_array used;          /* of struct range_alloc_entry */
};

static inline const struct range_alloc_entry *range_alloc_entry(const struct range_alloc *a,
								unsigned i)
{
	return range_at(&a->used, i);
}

int range_alloc_init(struct range_alloc *a, const char *name, uint64_t base, uint64_t size);
void range_alloc_destroy(struct range_alloc *a);
/* Lowest free address aligned to @align (power of two) that fits @size. */
int range_alloc_alloc(struct range_alloc *a, uint64_t size, uint64_t align, uint64_t *base);
/* Exactly [base, base + size); @base must be a multiple of @align. */
int range_alloc_reserve(struct range_alloc *a, uint64_t base, uint64_t size, uint64_t align);
int range_alloc_free(struct range_alloc *a, uint64_t base);
/* Free + exact reserve at @new_base with the same size and alignment; unchanged on failure. */
int range_alloc_move(struct range_alloc *a, uint64_t old_base, uint64_t new_base);
/* The entry starting at @base, or NULL. */
const struct range_alloc_entry *range_alloc_find(const struct range_alloc *a, uint64_t base);
/* {"name","base":"0x..","size":"0x..","ranges":[{"base","size","align"}]}; NULL on ENOMEM. */
struct cJSON *range_alloc_save(const struct range_alloc *a);
/*
 * Replaces the used ranges; the window must match. -EINVAL on any inconsistency (@err names
 * the field: "ranges[1].base: ..."), -ENOMEM; @a unchanged on failure.
 */
int range_alloc_restore(struct range_alloc *a, const struct cJSON *json, char *err,
			size_t errlen);

/*
 * GSI allocator: 0-23 are the IOAPIC pins (legacy), 24..4095 MSI routes (KVM_MAX_IRQ_ROUTES).
 * gsi_alloc_msi() only hands out MSI GSIs; gsi_alloc_legacy() hands out a free pin from
 * GSI_LEGACY_FIRST up (INTx); fixed platform GSIs are taken with gsi_alloc_reserve().
 */
#define GSI_NR_LEGACY    24
#define GSI_LEGACY_FIRST 5
#define GSI_MAX          4096

struct gsi_alloc {
	uint64_t used[GSI_MAX / 64];
};

void gsi_alloc_init(struct gsi_alloc *g);
int gsi_alloc_msi(struct gsi_alloc *g, uint32_t *gsi);         /* -ENOSPC */
int gsi_alloc_legacy(struct gsi_alloc *g, uint32_t *gsi);      /* -ENOSPC */
int gsi_alloc_reserve(struct gsi_alloc *g, uint32_t gsi);      /* -EINVAL, -EEXIST */
int gsi_alloc_free(struct gsi_alloc *g, uint32_t gsi);         /* -EINVAL, -ENOENT */
bool gsi_alloc_used(const struct gsi_alloc *g, uint32_t gsi);
/* {"used":[[first,last],...]} (numbers < 4096 are exact in JSON doubles). */
struct cJSON *gsi_alloc_save(const struct gsi_alloc *g);
/* -EINVAL, @err naming the field ("used[2][1]: ..."); @g unchanged on failure. */
int gsi_alloc_restore(struct gsi_alloc *g, const struct cJSON *json, char *err,
		      size_t errlen);

/* ------------------------------------------------------------------ functions */

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

/*
 * The owner's side of a BAR (the VMM: allocator + bus + ioeventfds). NULL table or hook =
 * nothing to do. Called from pci_segment_apply() only, never with a bus lock held by vireo.
 *  map:   start decoding at @addr (bus register, ioeventfd assign). The reservation is there.
 *  unmap: stop decoding at @addr (bus unregister, ioeventfd deassign); keep the reservation.
 *  move:  the BAR's placement changes from @old to @new: allocator move, and if @mapped also
 *         the bus range and every ioeventfd. On failure everything must be left at @old; the
 *         PCI side then rolls the BAR register back to @old.
 */
struct pci_bar_ops {
	int (*map)(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size);
	void (*unmap)(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size);
	int (*move)(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t old_addr,
		    uint64_t new_addr, uint64_t size, bool mapped);
};

/*
 * Device hooks around the generic config-space code (NULL = none). Called with the segment's
 * config lock held: they must not touch a bus or call back into the segment.
 *  cfg_read:  may replace *@val (already read from the model) for device-computed registers.
 *  cfg_write: after the masked write was stored (e.g. virtio_pci_cfg_cap).
 */
struct pci_dev_ops {
	void (*cfg_read)(struct pci_dev *dev, unsigned off, unsigned len, uint32_t *val);
	void (*cfg_write)(struct pci_dev *dev, unsigned off, unsigned len, uint32_t val);
};

struct pci_ident {
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_id;
	uint32_t class_code;      /* base class << 16 | subclass << 8 | prog-if */
	uint8_t revision;
	uint8_t irq_pin;          /* 0 = none, 1-4 = INTA#-INTD# */
};

struct pci_bar {
	enum pci_bar_type type;   /* PCI_BAR_NONE also for the high half of a 64-bit BAR */
	bool prefetch;
	uint64_t size;
	/* Guest programming state (config lock). */
	bool probe_lo, probe_hi;  /* all-ones written, not yet restored */
	bool hi_pending;          /* 64-bit: low dword written, waiting for the high one */
	/* What the owner has been told (apply lock). */
	uint64_t addr;            /* placement: reserved by the owner */
	bool mapped;              /* decoding at addr */
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];      /* bits software may write */
	uint8_t w1c[PCI_CFG_SIZE];        /* bits cleared by writing 1 */
	struct pci_bar bar[PCI_NR_BARS];
	char id[32];
	unsigned cap_next, cap_last;      /* capability builder */
	const struct pci_dev_ops *ops;
	void *opaque;                     /* the device's own state */
	const struct pci_bar_ops *bar_ops;
	void *bar_ctx;
	struct msix *msix;                /* set by msix_init() */
	struct pci_segment *seg;          /* set by pci_segment_add() */
	unsigned slot;
	bool dirty;                       /* BAR/COMMAND written since the last apply */
};

/* Type-0 header (PCI 3.0 6.1), COMMAND/STATUS masks, no capabilities, no BARs. */
void pci_dev_init(struct pci_dev *dev, const char *id, const struct pci_ident *ident,
		  const struct pci_dev_ops *ops, void *opaque);
void pci_dev_set_bar_ops(struct pci_dev *dev, const struct pci_bar_ops *ops, void *ctx);

/*
 * Guest-visible accesses (what both front-ends call, under the config lock). 1, 2 or 4 bytes
 * within one dword of the 4 KiB space; anything else reads all-ones (truncated to @len) and
 * writes are dropped with -EINVAL.
 */
uint32_t pci_cfg_read(struct pci_dev *dev, unsigned off, unsigned len);
int pci_cfg_write(struct pci_dev *dev, unsigned off, unsigned len, uint32_t val);

/* Construction-time raw accessors: no masks, no side effects. */
uint8_t pci_cfg_get8(const struct pci_dev *dev, unsigned off);
uint16_t pci_cfg_get16(const struct pci_dev *dev, unsigned off);
uint32_t pci_cfg_get32(const struct pci_dev *dev, unsigned off);
void pci_cfg_set8(struct pci_dev *dev, unsigned off, uint8_t val);
void pci_cfg_set16(struct pci_dev *dev, unsigned off, uint16_t val);
void pci_cfg_set32(struct pci_dev *dev, unsigned off, uint32_t val);
/* Per-byte masks for @len bytes at @off from the little-endian @mask. */
void pci_cfg_set_wmask(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask);
void pci_cfg_set_w1c(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask);

/*
 * Appends a capability of @len bytes (ID and next included) at the next dword-aligned offset
 * in 0x40-0xFF, links it at the end of the chain and sets STATUS.Capabilities List. ID and
 * next are read-only; the body is zero and read-only until the caller sets masks.
 * Returns the offset, -EINVAL or -ENOSPC.
 */
int pci_cap_add(struct pci_dev *dev, uint8_t cap_id, unsigned len);
/* Offset of the first capability with @cap_id (walk bounded against loops), or 0. */
unsigned pci_cap_find(const struct pci_dev *dev, uint8_t cap_id);

/*
 * Declares BAR @bar (PCI 3.0 6.2.5.1): size a power of two, memory >= 16 B (32-bit <= 2 GiB),
 * I/O 4-256 B and never prefetchable; a 64-bit BAR also takes register @bar + 1. -EINVAL/-EBUSY.
 */
int pci_bar_add(struct pci_dev *dev, unsigned bar, enum pci_bar_type type, uint64_t size,
		bool prefetch);
/* Pre-assigns the BAR (register and owner placement); before pci_segment_add(). -EINVAL. */
int pci_bar_set_addr(struct pci_dev *dev, unsigned bar, uint64_t addr);
/* The address currently programmed in the BAR register(s) (type bits stripped). */
uint64_t pci_bar_reg_addr(const struct pci_dev *dev, unsigned bar);

/* What vm.info reports for a BAR: the owner's view, read under the apply lock. -EINVAL. */
struct pci_bar_info {
	enum pci_bar_type type;
	bool prefetch, mapped;
	uint64_t addr, size;
};
int pci_dev_bar_info(struct pci_dev *dev, unsigned bar, struct pci_bar_info *info);

/* ------------------------------------------------------------------ segment */

struct pci_segment {
	uint16_t id;
	pthread_mutex_t lock;             /* config space of every function, config_address */
	pthread_mutex_t apply_lock;       /* owner calls; slot changes */
	struct pci_dev *slots[PCI_NR_SLOTS];
	struct pci_dev host_bridge;
	uint32_t config_address;          /* 0xCF8 latch */
	int pending;                      /* atomic: some function is dirty */
	uint64_t bad_accesses;            /* atomic: malformed config accesses, counted */
};

int pci_segment_init(struct pci_segment *seg, uint16_t id);
/* Unmaps every mapped BAR of every device still present; does not free the devices. */
void pci_segment_destroy(struct pci_segment *seg);
/*
 * Plugs @dev at @slot (1-31), or the lowest free slot when @slot < 0 (Cloud Hypervisor's
 * pci_device_id). Function 0 only. -EINVAL bad slot, -EBUSY slot taken, -ENOSPC full.
 * The BAR registers' current addresses become the owner placements (unmapped).
 */
int pci_segment_add(struct pci_segment *seg, struct pci_dev *dev, int slot);
/* Unmaps the device's mapped BARs and frees its slot. -ENOENT. */
int pci_segment_remove(struct pci_segment *seg, struct pci_dev *dev);
struct pci_dev *pci_segment_get(struct pci_segment *seg, unsigned slot);

/* Locked config accesses by bus/device/function, as the front-ends do them. */
uint32_t pci_segment_cfg_read(struct pci_segment *seg, unsigned bus, unsigned dev, unsigned fn,
			      unsigned reg, unsigned len);
void pci_segment_cfg_write(struct pci_segment *seg, unsigned bus, unsigned dev, unsigned fn,
			   unsigned reg, unsigned len, uint32_t val);

/*
 * Deferred BAR work. A config write that changes a BAR's placement or decode only marks the
 * function; the VMM calls pci_segment_apply() after the bus dispatch returned (so neither the
 * port nor the MMIO bus lock is held) whenever pci_segment_pending() says so. Returns 0 or the
 * first owner error (already logged; the registers were rolled back).
 */
bool pci_segment_pending(struct pci_segment *seg);
int pci_segment_apply(struct pci_segment *seg);

/*
 * Front-ends, opaque = the segment. CONFIG_ADDRESS/CONFIG_DATA: register at port 0xCF8,
 * length 8 (PCI 3.0 3.2.2.3.2). ECAM: register at the ECAM base, length up to 256 MiB
 * (bus << 20 | dev << 15 | fn << 12 | reg, PCIe 7.2.2).
 */
#define PCI_CF8_PORT  0xcf8
#define PCI_CF8_LEN   8
extern const struct bus_device_ops pci_cf8_ops;
extern const struct bus_device_ops pci_ecam_ops;

/* ------------------------------------------------------------------ snapshot */

/*
 * Config space, masks untouched (they come from construction), plus BAR programming state and
 * placements. Restore validates against the freshly constructed device: read-only bits must
 * be identical (same device), BAR placements aligned; then maps the BARs that were mapped.
 * For a device added to a segment with the VM paused.
 */
struct cJSON *pci_dev_save(struct pci_dev *dev);
/* -EINVAL with @err naming the field ("cfg[0x0]: ...", "bars[2].addr: ..."), or -ENOMEM. */
int pci_dev_restore(struct pci_dev *dev, const struct cJSON *json, char *err, size_t errlen);

#endif
