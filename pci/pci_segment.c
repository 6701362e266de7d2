// SPDX-License-Identifier: Apache-2.0
/*
 * A PCI segment: bus 0 with 32 single-function slots, the host bridge at 00:00.0, and the two
 * config-access front-ends, CONFIG_ADDRESS/CONFIG_DATA at 0xCF8/0xCFC (PCI 3.0 3.2.2.3.2) and
 * ECAM (PCIe 7.2.2). Absent functions, other buses and malformed accesses read all-ones.
 */
#include <errno.h>
#include <string.h>

#include "pci/internal.h"

#define CF8_ENABLE      0x80000000u
#define CF8_RO_BITS     0x3u        /* CONFIG_ADDRESS bits 1:0 read as zero */

static const struct pci_ident host_bridge_ident = {
	.vendor = PCI_HOST_BRIDGE_VENDOR,
	.device = PCI_HOST_BRIDGE_DEVICE,
	.class_code = 0x060000,         /* bridge, host bridge */
};

int pci_segment_init(struct pci_segment *seg, uint16_t id)
{
	memset(seg, 0, sizeof(*seg));
	seg->id = id;
	if (pthread_mutex_init(&seg->lock, NULL))
		return -ENOMEM;
	if (pthread_mutex_init(&seg->apply_lock, NULL)) {
		pthread_mutex_destroy(&seg->lock);
		return -ENOMEM;
	}
	pci_dev_init(&seg->host_bridge, "host-bridge", &host_bridge_ident, NULL, NULL);
	seg->host_bridge.seg = seg;
	seg->slots[0] = &seg->host_bridge;
	return 0;
}

void pci_segment_destroy(struct pci_segment *seg)
{
	unsigned s;

	pthread_mutex_lock(&seg->apply_lock);
	for (s = 1; s < PCI_NR_SLOTS; s++) {
		if (seg->slots[s]) {
			pci_dev_unmap_all(seg->slots[s]);
			seg->slots[s]->seg = NULL;
			seg->slots[s] = NULL;
		}
	}
	pthread_mutex_unlock(&seg->apply_lock);
	pthread_mutex_destroy(&seg->apply_lock);
	pthread_mutex_destroy(&seg->lock);
}

static int pick_slot(const struct pci_segment *seg, int slot)
{
	int s;

	if (slot >= PCI_NR_SLOTS || slot == 0)
		return -EINVAL;     /* 0 is the host bridge */
	if (slot > 0)
		return seg->slots[slot] ? -EBUSY : slot;
	for (s = 1; s < PCI_NR_SLOTS; s++)
		if (!seg->slots[s])
			return s;
	return -ENOSPC;
}

int pci_segment_add(struct pci_segment *seg, struct pci_dev *dev, int slot)
{
	unsigned i;
	int s;

	if (dev->seg)
		return -EBUSY;
	pthread_mutex_lock(&seg->apply_lock);
	pthread_mutex_lock(&seg->lock);
	s = pick_slot(seg, slot);
	if (s >= 0) {
		for (i = 0; i < PCI_NR_BARS; i++) {
			dev->bar[i].addr = pci_bar_reg_addr(dev, i);
			dev->bar[i].mapped = false;
		}
		dev->seg = seg;
		dev->slot = (unsigned)s;
		seg->slots[s] = dev;
		/* The first apply maps whatever the VMM left decoding. */
		pci_dev_mark_dirty(dev);
	}
	pthread_mutex_unlock(&seg->lock);
	pthread_mutex_unlock(&seg->apply_lock);
	return s < 0 ? s : 0;
}

int pci_segment_remove(struct pci_segment *seg, struct pci_dev *dev)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&seg->apply_lock);
	pthread_mutex_lock(&seg->lock);
	if (dev != &seg->host_bridge && dev->seg == seg && seg->slots[dev->slot] == dev) {
		seg->slots[dev->slot] = NULL;
		ret = 0;
	}
	pthread_mutex_unlock(&seg->lock);
	if (!ret) {
		pci_dev_unmap_all(dev);
		dev->seg = NULL;
	}
	pthread_mutex_unlock(&seg->apply_lock);
	return ret;
}

struct pci_dev *pci_segment_get(struct pci_segment *seg, unsigned slot)
{
	struct pci_dev *dev;

	if (slot >= PCI_NR_SLOTS)
		return NULL;
	pthread_mutex_lock(&seg->lock);
	dev = seg->slots[slot];
	pthread_mutex_unlock(&seg->lock);
	return dev;
}

static void count_bad(struct pci_segment *seg)
{
	__atomic_add_fetch(&seg->bad_accesses, 1, __ATOMIC_RELAXED);
}

static uint32_t ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

/* Only bus 0, function 0 exists (a single-function device per slot). Config lock held. */
static struct pci_dev *lookup(struct pci_segment *seg, unsigned bus, unsigned dev, unsigned fn)
{
	if (bus != 0 || dev >= PCI_NR_SLOTS || fn != 0)
		return NULL;
	return seg->slots[dev];
}

static uint32_t cfg_read_locked(struct pci_segment *seg, unsigned bus, unsigned dev,
				unsigned fn, unsigned reg, unsigned len)
{
	struct pci_dev *d = lookup(seg, bus, dev, fn);

	return d ? pci_cfg_read(d, reg, len) : ones(len);
}

static void cfg_write_locked(struct pci_segment *seg, unsigned bus, unsigned dev, unsigned fn,
			     unsigned reg, unsigned len, uint32_t val)
{
	struct pci_dev *d = lookup(seg, bus, dev, fn);

	if (d && pci_cfg_write(d, reg, len, val))
		count_bad(seg);
}

uint32_t pci_segment_cfg_read(struct pci_segment *seg, unsigned bus, unsigned dev, unsigned fn,
			      unsigned reg, unsigned len)
{
	uint32_t val;

	pthread_mutex_lock(&seg->lock);
	val = cfg_read_locked(seg, bus, dev, fn, reg, len);
	pthread_mutex_unlock(&seg->lock);
	return val;
}

void pci_segment_cfg_write(struct pci_segment *seg, unsigned bus, unsigned dev, unsigned fn,
			   unsigned reg, unsigned len, uint32_t val)
{
	pthread_mutex_lock(&seg->lock);
	cfg_write_locked(seg, bus, dev, fn, reg, len, val);
	pthread_mutex_unlock(&seg->lock);
}

bool pci_segment_pending(struct pci_segment *seg)
{
	return __atomic_load_n(&seg->pending, __ATOMIC_ACQUIRE);
}

int pci_segment_apply(struct pci_segment *seg)
{
	unsigned s;
	int ret = 0;

	if (!__atomic_exchange_n(&seg->pending, 0, __ATOMIC_ACQ_REL))
		return 0;
	pthread_mutex_lock(&seg->apply_lock);
	for (s = 1; s < PCI_NR_SLOTS; s++) {
		if (seg->slots[s]) {
			int r = pci_dev_apply(seg->slots[s]);

			ret = ret ? ret : r;
		}
	}
	pthread_mutex_unlock(&seg->apply_lock);
	return ret;
}

static bool size_ok(unsigned len)
{
	return len == 1 || len == 2 || len == 4;
}

static void put_le(uint8_t *data, unsigned len, uint32_t val)
{
	unsigned i;

	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(val >> (8 * i));
}

static uint32_t get_le(const uint8_t *data, unsigned len)
{
	uint32_t val = 0;
	unsigned i;

	for (i = 0; i < len; i++)
		val |= (uint32_t)data[i] << (8 * i);
	return val;
}

/*
 * CONFIG_ADDRESS (0xCF8-0xCFB): any size at any offset inside the register, merged into the
 * latch, because Linux's pci_check_type1 writes a byte to 0xCFB before the dword test.
 * CONFIG_DATA (0xCFC-0xCFF): 0xCFC + k reaches config offset (reg & ~3) + k.
 */
static bool cf8_decode(uint64_t off, unsigned len)
{
	if (!size_ok(len))
		return false;
	return off < 4 ? off + len <= 4 : off - 4 + len <= 4;
}

static void cf8_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci_segment *seg = opaque;
	uint32_t addr, val;

	if (!cf8_decode(off, len)) {
		count_bad(seg);
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&seg->lock);
	addr = seg->config_address;
	if (off < 4)
		val = addr >> (8 * off);
	else if (!(addr & CF8_ENABLE))
		val = ones(len);
	else
		val = cfg_read_locked(seg, (addr >> 16) & 0xff, (addr >> 11) & 0x1f,
				      (addr >> 8) & 0x7, (addr & 0xfc) + (unsigned)(off - 4), len);
	pthread_mutex_unlock(&seg->lock);
	put_le(data, len, val);
}

static void cf8_write(void *opaque, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pci_segment *seg = opaque;
	uint32_t addr, val = get_le(data, len);

	if (!cf8_decode(off, len)) {
		count_bad(seg);
		return;
	}
	pthread_mutex_lock(&seg->lock);
	addr = seg->config_address;
	if (off < 4) {
		/*
		 * PCI 3.0 3.2.2.3.2: only a dword write latches CONFIG_ADDRESS; narrower ones
		 * (Linux's outb(0x01, 0xCFB) probe) are other I/O and leave it alone.
		 */
		if (off == 0 && len == 4)
			seg->config_address = val & ~CF8_RO_BITS;
	} else if (addr & CF8_ENABLE) {
		cfg_write_locked(seg, (addr >> 16) & 0xff, (addr >> 11) & 0x1f, (addr >> 8) & 0x7,
				 (addr & 0xfc) + (unsigned)(off - 4), len, val);
	}
	pthread_mutex_unlock(&seg->lock);
}

const struct bus_device_ops pci_cf8_ops = {
	.read = cf8_read,
	.write = cf8_write,
};

/* ECAM: 1, 2 or 4 bytes that stay inside one dword (PCIe 7.2.2); 1 MiB per bus. */
static bool ecam_decode(uint64_t off, unsigned len, unsigned *bdf, unsigned *reg)
{
	if (!size_ok(len) || (off & 3) + len > 4 || off >> 28)
		return false;
	*bdf = (unsigned)(off >> 12);
	*reg = (unsigned)(off & 0xfff);
	return true;
}

static void ecam_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci_segment *seg = opaque;
	unsigned bdf, reg;
	uint32_t val;

	if (!ecam_decode(off, len, &bdf, &reg)) {
		count_bad(seg);
		memset(data, 0xff, len);
		return;
	}
	val = pci_segment_cfg_read(seg, bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7, reg, len);
	put_le(data, len, val);
}

static void ecam_write(void *opaque, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pci_segment *seg = opaque;
	unsigned bdf, reg;

	if (!ecam_decode(off, len, &bdf, &reg)) {
		count_bad(seg);
		return;
	}
	pci_segment_cfg_write(seg, bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7, reg, len,
			      get_le(data, len));
}

const struct bus_device_ops pci_ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};
