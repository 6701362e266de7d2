/* SPDX-License-Identifier: Apache-2.0 */
/* Private glue between the files of pci/: not part of the public API. */
#ifndef VIREO_PCI_INTERNAL_H
#define VIREO_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/json.h"
#include "pci/pci.h"

struct cJSON;

/* pci_bar.c: called by pci_cfg_write() after the masked store, config lock held. */
void pci_bar_reg_written(struct pci_dev *dev, unsigned reg, bool probe);
void pci_bar_command_written(struct pci_dev *dev, uint16_t old_cmd);
/* Runs the owner calls a dirty function needs; apply lock held, config lock not held. */
int pci_dev_apply(struct pci_dev *dev);
/* Unmaps every mapped BAR (device removal); apply lock held. */
void pci_dev_unmap_all(struct pci_dev *dev);
void pci_dev_mark_dirty(struct pci_dev *dev);

/* msix.c: MSI-X Message Control was written (config lock held). */
void msix_cfg_written(struct msix *m, unsigned off, unsigned len);
/* Routes every vector per its mask state, commits, delivers pending; MSI-X lock held. */
void msix_sync_all_locked(struct msix *m);

static inline bool pci_ranges_overlap(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
	return a < b + blen && b < a + alen;
}

static inline bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

#endif
