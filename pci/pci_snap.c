// SPDX-License-Identifier: Apache-2.0
/*
 * One function's config space and BAR state as JSON. The masks are not saved: they come from
 * constructing the same device again, and restore uses them to check the snapshot belongs to
 * that device (every read-only bit identical, every RW1C-only or writable bit free).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/internal.h"
#include "pci/msix.h"
#include "base/log.h"

static int save_bar(cJSON *bars, const struct pci_bar *b)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(bars, o);
	if (json_put_u64(o, "addr", b->addr) || !cJSON_AddBoolToObject(o, "mapped", b->mapped) ||
	    !cJSON_AddBoolToObject(o, "probe_lo", b->probe_lo) ||
	    !cJSON_AddBoolToObject(o, "probe_hi", b->probe_hi) ||
	    !cJSON_AddBoolToObject(o, "hi_pending", b->hi_pending))
		return -ENOMEM;
	return 0;
}

static int save_locked(struct pci_dev *dev, cJSON *root)
{
	cJSON *bars;
	unsigned i;

	if (json_put_hex(root, "cfg", dev->cfg, PCI_CFG_SIZE))
		return -ENOMEM;
	bars = cJSON_AddArrayToObject(root, "bars");
	if (!bars)
		return -ENOMEM;
	for (i = 0; i < PCI_NR_BARS; i++)
		if (save_bar(bars, &dev->bar[i]))
			return -ENOMEM;
	return 0;
}

cJSON *pci_dev_save(struct pci_dev *dev)
{
	cJSON *root = cJSON_CreateObject();
	int ret;

	if (!root)
		return NULL;
	if (dev->seg) {
		pthread_mutex_lock(&dev->seg->apply_lock);
		pthread_mutex_lock(&dev->seg->lock);
	}
	ret = save_locked(dev, root);
	if (dev->seg) {
		pthread_mutex_unlock(&dev->seg->lock);
		pthread_mutex_unlock(&dev->seg->apply_lock);
	}
	if (ret) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* ------------------------------------------------------------------ restore */

/* Read-only bits must match the constructed device; w1c bits may only be set where allowed. */
static int check_cfg(const struct pci_dev *dev, const uint8_t *cfg, char *err, size_t errlen)
{
	char where[16];
	unsigned i;

	for (i = 0; i < PCI_CFG_SIZE; i++) {
		uint8_t ro = (uint8_t)~(dev->wmask[i] | dev->w1c[i]);

		if (!((cfg[i] ^ dev->cfg[i]) & ro))
			continue;
		snprintf(where, sizeof(where), "cfg[0x%x]", i);
		return json_field_err(err, errlen, where, NULL, "0x%02x, but this device has 0x%02x "
				      "in read-only bits 0x%02x (another device?)", cfg[i],
				      dev->cfg[i], ro);
	}
	return 0;
}

static int load_bar(const struct pci_dev *dev, unsigned i, const cJSON *o, struct pci_bar *b,
		    char *err, size_t errlen)
{
	char where[16];
	int ret;

	snprintf(where, sizeof(where), "bars[%u]", i);
	*b = dev->bar[i];
	if (!cJSON_IsObject(o))
		return json_field_err(err, errlen, where, NULL, "expected an object");
	ret = json_field_u64(o, where, "addr", &b->addr, err, errlen);
	ret = ret ?: json_field_bool(o, where, "mapped", &b->mapped, err, errlen);
	ret = ret ?: json_field_bool(o, where, "probe_lo", &b->probe_lo, err, errlen);
	ret = ret ?: json_field_bool(o, where, "probe_hi", &b->probe_hi, err, errlen);
	ret = ret ?: json_field_bool(o, where, "hi_pending", &b->hi_pending, err, errlen);
	if (ret)
		return ret;
	if (b->type == PCI_BAR_NONE && (b->addr || b->mapped))
		return json_field_err(err, errlen, where, b->mapped ? "mapped" : "addr",
				      "BAR%u is not implemented by this device (addr 0x%llx, %s)",
				      i, (unsigned long long)b->addr,
				      b->mapped ? "mapped" : "unmapped");
	if (b->type != PCI_BAR_NONE && b->addr & (b->size - 1))
		return json_field_err(err, errlen, where, "addr", "0x%llx is not aligned to the "
				      "BAR size 0x%llx", (unsigned long long)b->addr,
				      (unsigned long long)b->size);
	return 0;
}

static int load(const struct pci_dev *dev, const cJSON *json, uint8_t *cfg,
		struct pci_bar *bars, char *err, size_t errlen)
{
	const cJSON *jb = cJSON_GetObjectItemCaseSensitive(json, "bars");
	unsigned i;
	int ret;

	if (!cJSON_IsObject(json))
		return json_field_err(err, errlen, NULL, NULL, "expected an object");
	if (!cJSON_GetObjectItemCaseSensitive(json, "cfg"))
		return json_field_err(err, errlen, NULL, "cfg", "missing");
	if (json_get_hex(json, "cfg", cfg, PCI_CFG_SIZE))
		return json_field_err(err, errlen, NULL, "cfg", "expected %u hex digits (%u bytes)",
				      2 * PCI_CFG_SIZE, PCI_CFG_SIZE);
	ret = check_cfg(dev, cfg, err, errlen);
	if (ret)
		return ret;
	if (!cJSON_IsArray(jb) || cJSON_GetArraySize(jb) != PCI_NR_BARS)
		return json_field_err(err, errlen, NULL, "bars", "expected an array of %u objects",
				      PCI_NR_BARS);
	for (i = 0; i < PCI_NR_BARS; i++) {
		ret = load_bar(dev, i, cJSON_GetArrayItem(jb, (int)i), &bars[i], err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Maps what was mapped; on failure unmaps what this call mapped. Apply lock held. */
static int remap(struct pci_dev *dev)
{
	const struct pci_bar_ops *ops = dev->bar_ops;
	bool want[PCI_NR_BARS];
	unsigned i;
	int ret = 0;

	for (i = 0; i < PCI_NR_BARS; i++) {
		want[i] = dev->bar[i].type != PCI_BAR_NONE && dev->bar[i].mapped;
		dev->bar[i].mapped = false;
	}
	for (i = 0; i < PCI_NR_BARS && !ret; i++) {
		struct pci_bar *b = &dev->bar[i];

		if (!want[i])
			continue;
		if (ops && ops->map)
			ret = ops->map(dev->bar_ctx, dev, i, b->addr, b->size);
		b->mapped = !ret;
	}
	if (ret)
		pci_dev_unmap_all(dev);
	return ret;
}

int pci_dev_restore(struct pci_dev *dev, const cJSON *json, char *err, size_t errlen)
{
	struct pci_bar bars[PCI_NR_BARS];
	uint8_t *cfg = malloc(PCI_CFG_SIZE);
	int ret;

	if (!cfg)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	ret = load(dev, json, cfg, bars, err, errlen);
	if (!ret && !dev->seg)
		ret = json_field_err(err, errlen, NULL, "bars", "the device is on no PCI segment");
	if (ret)
		goto out;
	pthread_mutex_lock(&dev->seg->apply_lock);
	pci_dev_unmap_all(dev);
	pthread_mutex_lock(&dev->seg->lock);
	memcpy(dev->cfg, cfg, PCI_CFG_SIZE);
	memcpy(dev->bar, bars, sizeof(bars));
	dev->dirty = false;
	pthread_mutex_unlock(&dev->seg->lock);
	ret = remap(dev);
	pthread_mutex_unlock(&dev->seg->apply_lock);
	if (ret)
		set_err(err, errlen, ret, "bars: cannot map a BAR again: %s", strerror(-ret));
out:
	free(cfg);
	return ret;
}
