// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X state as JSON: control bits, every table entry and the PBA, u64 values as "0x..."
 * strings. Restore parses into scratch arrays and validates everything before touching the
 * live state, then replays the routes through the msix_irq_ops seam.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci/internal.h"
#include "pci/msix.h"

static int save_entry(cJSON *table, const struct msix_entry *e)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return -ENOMEM;
	cJSON_AddItemToArray(table, o);
	if (json_put_u64(o, "addr", (uint64_t)e->addr_hi << 32 | e->addr_lo) ||
	    json_put_u64(o, "data", e->data) || json_put_u64(o, "ctrl", e->ctrl))
		return -ENOMEM;
	return 0;
}

static int save_locked(const struct msix *m, cJSON *root)
{
	cJSON *table, *pba;
	unsigned v, w;

	if (!cJSON_AddNumberToObject(root, "vectors", m->nr) ||
	    !cJSON_AddBoolToObject(root, "enabled", m->enabled) ||
	    !cJSON_AddBoolToObject(root, "function_mask", m->fmask))
		return -ENOMEM;
	table = cJSON_AddArrayToObject(root, "table");
	pba = cJSON_AddArrayToObject(root, "pba");
	if (!table || !pba)
		return -ENOMEM;
	for (v = 0; v < m->nr; v++)
		if (save_entry(table, &m->table[v]))
			return -ENOMEM;
	for (w = 0; w < (m->nr + 63) / 64; w++) {
		char buf[24];

		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)m->pba[w]);
		if (!cJSON_AddItemToArray(pba, cJSON_CreateString(buf)))
			return -ENOMEM;
	}
	return 0;
}

cJSON *msix_save(struct msix *m)
{
	cJSON *root = cJSON_CreateObject();
	int ret;

	if (!root)
		return NULL;
	pthread_mutex_lock(&m->lock);
	ret = save_locked(m, root);
	pthread_mutex_unlock(&m->lock);
	if (ret) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static int load_entry(const cJSON *o, struct msix_entry *e)
{
	uint64_t addr, data, ctrl;

	if (!cJSON_IsObject(o) || json_get_u64(o, "addr", &addr) ||
	    json_get_u64(o, "data", &data) || json_get_u64(o, "ctrl", &ctrl))
		return -EINVAL;
	if (data > UINT32_MAX || ctrl & ~(uint64_t)PCI_MSIX_ENTRY_CTRL_MASKBIT)
		return -EINVAL;
	*e = (struct msix_entry){ (uint32_t)addr, (uint32_t)(addr >> 32), (uint32_t)data,
				  (uint32_t)ctrl };
	return 0;
}

/* One PBA word: wrapped in an object so json_get_u64 can parse it. */
static int load_pba_word(const cJSON *item, uint64_t *w)
{
	cJSON *wrap = cJSON_CreateObject();
	int ret;

	if (!wrap || !cJSON_IsString(item) ||
	    !cJSON_AddStringToObject(wrap, "w", cJSON_GetStringValue(item))) {
		cJSON_Delete(wrap);
		return -EINVAL;
	}
	ret = json_get_u64(wrap, "w", w);
	cJSON_Delete(wrap);
	return ret;
}

static int load_arrays(const struct msix *m, const cJSON *json, struct msix_entry *table,
		       uint64_t *pba)
{
	const cJSON *jt = cJSON_GetObjectItemCaseSensitive(json, "table");
	const cJSON *jp = cJSON_GetObjectItemCaseSensitive(json, "pba");
	unsigned v, words = (m->nr + 63) / 64;

	if (!cJSON_IsArray(jt) || !cJSON_IsArray(jp) || cJSON_GetArraySize(jt) != (int)m->nr ||
	    cJSON_GetArraySize(jp) != (int)words)
		return -EINVAL;
	for (v = 0; v < m->nr; v++)
		if (load_entry(cJSON_GetArrayItem(jt, (int)v), &table[v]))
			return -EINVAL;
	for (v = 0; v < words; v++)
		if (load_pba_word(cJSON_GetArrayItem(jp, (int)v), &pba[v]))
			return -EINVAL;
	/* No pending bit for a vector that does not exist. */
	if (m->nr % 64 && pba[words - 1] >> (m->nr % 64))
		return -EINVAL;
	return 0;
}

static void install(struct msix *m, const struct msix_entry *table, const uint64_t *pba,
		    bool enabled, bool fmask)
{
	unsigned words = (m->nr + 63) / 64;
	uint16_t ctl = pci_cfg_get16(m->dev, m->cap + PCI_MSIX_FLAGS);

	ctl &= (uint16_t)~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ctl |= (enabled ? PCI_MSIX_FLAGS_ENABLE : 0) | (fmask ? PCI_MSIX_FLAGS_MASKALL : 0);
	pci_cfg_set16(m->dev, m->cap + PCI_MSIX_FLAGS, ctl);

	pthread_mutex_lock(&m->lock);
	memcpy(m->table, table, m->nr * sizeof(*table));
	memcpy(m->pba, pba, words * sizeof(*pba));
	memset(m->routed, 0, words * sizeof(*m->routed));
	m->enabled = enabled;
	m->fmask = fmask;
	/* Nothing is routed in a fresh VMM: every unmasked vector gets its route back. */
	msix_sync_all_locked(m);
	pthread_mutex_unlock(&m->lock);
}

int msix_restore(struct msix *m, const cJSON *json)
{
	const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(json, "vectors");
	struct msix_entry *table = calloc(m->nr, sizeof(*table));
	uint64_t *pba = calloc((m->nr + 63) / 64, sizeof(*pba));
	bool enabled, fmask;
	int ret = -EINVAL;

	if (!table || !pba) {
		ret = -ENOMEM;
		goto out;
	}
	if (!cJSON_IsObject(json) || !cJSON_IsNumber(vectors) ||
	    cJSON_GetNumberValue(vectors) != (double)m->nr ||
	    json_get_bool(json, "enabled", &enabled) ||
	    json_get_bool(json, "function_mask", &fmask) || load_arrays(m, json, table, pba))
		goto out;
	install(m, table, pba, enabled, fmask);
	ret = 0;
out:
	free(table);
	free(pba);
	return ret;
}
