// SPDX-License-Identifier: Apache-2.0
/*
 * Config space of one function: the 4 KiB array with per-byte writable and RW1C masks, the
 * type-0 header, guest reads and writes, and the capability list builder.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci/internal.h"
#include "pci/msix.h"

/* COMMAND bits software may change (PCI 3.0 6.2.2): I/O, memory, bus master, parity error
 * response, SERR# enable, INTx disable. The rest of COMMAND is read-only zero for us. */
#define PCI_COMMAND_WRITABLE \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* STATUS error bits are RW1C (PCI 3.0 6.2.3); Capabilities List and Interrupt Status are RO. */
#define PCI_STATUS_RW1C \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT | \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

uint8_t pci_cfg_get8(const struct pci_dev *dev, unsigned off)
{
	return dev->cfg[off];
}

uint16_t pci_cfg_get16(const struct pci_dev *dev, unsigned off)
{
	return (uint16_t)(dev->cfg[off] | dev->cfg[off + 1] << 8);
}

uint32_t pci_cfg_get32(const struct pci_dev *dev, unsigned off)
{
	return (uint32_t)pci_cfg_get16(dev, off) | (uint32_t)pci_cfg_get16(dev, off + 2) << 16;
}

static void put_le(uint8_t *p, unsigned len, uint32_t val)
{
	unsigned i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(val >> (8 * i));
}

void pci_cfg_set8(struct pci_dev *dev, unsigned off, uint8_t val)
{
	dev->cfg[off] = val;
}

void pci_cfg_set16(struct pci_dev *dev, unsigned off, uint16_t val)
{
	put_le(&dev->cfg[off], 2, val);
}

void pci_cfg_set32(struct pci_dev *dev, unsigned off, uint32_t val)
{
	put_le(&dev->cfg[off], 4, val);
}

void pci_cfg_set_wmask(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask)
{
	put_le(&dev->wmask[off], len, mask);
}

void pci_cfg_set_w1c(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask)
{
	put_le(&dev->w1c[off], len, mask);
}

void pci_dev_init(struct pci_dev *dev, const char *id, const struct pci_ident *ident,
		  const struct pci_dev_ops *ops, void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->id, sizeof(dev->id), "%s", id ? id : "");
	dev->ops = ops;
	dev->opaque = opaque;
	dev->cap_next = PCI_CAP_START;

	pci_cfg_set16(dev, PCI_VENDOR_ID, ident->vendor);
	pci_cfg_set16(dev, PCI_DEVICE_ID, ident->device);
	pci_cfg_set8(dev, PCI_REVISION_ID, ident->revision);
	pci_cfg_set8(dev, PCI_CLASS_PROG, (uint8_t)ident->class_code);
	pci_cfg_set16(dev, PCI_CLASS_DEVICE, (uint16_t)(ident->class_code >> 8));
	/* Header type 0, single function: bit 7 (multifunction) stays clear. */
	pci_cfg_set8(dev, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
	pci_cfg_set16(dev, PCI_SUBSYSTEM_VENDOR_ID, ident->subsys_vendor);
	pci_cfg_set16(dev, PCI_SUBSYSTEM_ID, ident->subsys_id);
	pci_cfg_set8(dev, PCI_INTERRUPT_PIN, ident->irq_pin);

	pci_cfg_set_wmask(dev, PCI_COMMAND, 2, PCI_COMMAND_WRITABLE);
	pci_cfg_set_w1c(dev, PCI_STATUS, 2, PCI_STATUS_RW1C);
	/* Cache Line Size and Interrupt Line are plain scratch registers for software. */
	pci_cfg_set_wmask(dev, PCI_CACHE_LINE_SIZE, 1, 0xff);
	pci_cfg_set_wmask(dev, PCI_INTERRUPT_LINE, 1, 0xff);
}

void pci_dev_set_bar_ops(struct pci_dev *dev, const struct pci_bar_ops *ops, void *ctx)
{
	dev->bar_ops = ops;
	dev->bar_ctx = ctx;
}

/* 1, 2 or 4 bytes inside one dword of the 4 KiB space (CF8/CFC byte enables, PCIe 7.2.2). */
static bool cfg_access_ok(unsigned off, unsigned len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SIZE && (off & 3) + len <= 4;
}

static uint32_t all_ones(unsigned len)
{
	return len >= 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
}

uint32_t pci_cfg_read(struct pci_dev *dev, unsigned off, unsigned len)
{
	uint32_t val = 0;
	unsigned i;

	if (!cfg_access_ok(off, len))
		return all_ones(len);
	for (i = 0; i < len; i++)
		val |= (uint32_t)dev->cfg[off + i] << (8 * i);
	if (dev->ops && dev->ops->cfg_read)
		dev->ops->cfg_read(dev, off, len, &val);
	return val & all_ones(len);
}

static void cfg_store_byte(struct pci_dev *dev, unsigned off, uint8_t v)
{
	uint8_t w = dev->wmask[off];

	dev->cfg[off] = (uint8_t)((dev->cfg[off] & ~w) | (v & w));
	dev->cfg[off] &= (uint8_t)~(v & dev->w1c[off]);
}

int pci_cfg_write(struct pci_dev *dev, unsigned off, unsigned len, uint32_t val)
{
	uint16_t old_cmd = pci_cfg_get16(dev, PCI_COMMAND);
	unsigned i;

	if (!cfg_access_ok(off, len))
		return -EINVAL;
	for (i = 0; i < len; i++)
		cfg_store_byte(dev, off + i, (uint8_t)(val >> (8 * i)));

	/* BAR registers: sizing and relocation bookkeeping (PCI 3.0 6.2.5.1). */
	if (off >= PCI_BASE_ADDRESS_0 && off <= PCI_BASE_ADDRESS_5 + 3)
		pci_bar_reg_written(dev, (off - PCI_BASE_ADDRESS_0) / 4,
				    len == 4 && val == 0xffffffffu);
	if (pci_ranges_overlap(off, len, PCI_COMMAND, 2))
		pci_bar_command_written(dev, old_cmd);
	if (dev->msix)
		msix_cfg_written(dev->msix, off, len);
	if (dev->ops && dev->ops->cfg_write)
		dev->ops->cfg_write(dev, off, len, val);
	return 0;
}

int pci_cap_add(struct pci_dev *dev, uint8_t cap_id, unsigned len)
{
	unsigned off = (dev->cap_next + 3) & ~3u;

	if (len < 2 || len > PCI_CFG_SPACE_SIZE - PCI_CAP_START)
		return -EINVAL;
	if (off + len > PCI_CFG_SPACE_SIZE)
		return -ENOSPC;
	memset(&dev->cfg[off], 0, len);
	memset(&dev->wmask[off], 0, len);
	memset(&dev->w1c[off], 0, len);
	pci_cfg_set8(dev, off + PCI_CAP_LIST_ID, cap_id);
	pci_cfg_set8(dev, off + PCI_CAP_LIST_NEXT, 0);
	if (dev->cap_last)
		pci_cfg_set8(dev, dev->cap_last + PCI_CAP_LIST_NEXT, (uint8_t)off);
	else
		pci_cfg_set8(dev, PCI_CAPABILITY_LIST, (uint8_t)off);
	pci_cfg_set16(dev, PCI_STATUS, pci_cfg_get16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	dev->cap_last = off;
	dev->cap_next = off + len;
	return (int)off;
}

unsigned pci_cap_find(const struct pci_dev *dev, uint8_t cap_id)
{
	/* At most 48 dword-aligned capabilities fit in 0x40-0xFF: stop a looping chain. */
	unsigned off = pci_cfg_get8(dev, PCI_CAPABILITY_LIST) & ~3u, n;

	if (!(pci_cfg_get16(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	for (n = 0; n < 48 && off >= PCI_CAP_START; n++) {
		if (pci_cfg_get8(dev, off + PCI_CAP_LIST_ID) == cap_id)
			return off;
		off = pci_cfg_get8(dev, off + PCI_CAP_LIST_NEXT) & ~3u;
	}
	return 0;
}
