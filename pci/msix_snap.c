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
#include "base/log.h"

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

static int load_entry(const cJSON *o, unsigned v, struct msix_entry *e, char *err,
		      size_t errlen)
{
	uint64_t addr, data, ctrl;
	char where[24];
	int ret;

	snprintf(where, sizeof(where), "table[%u]", v);
	if (!cJSON_IsObject(o))
		return json_field_err(err, errlen, where, NULL, "expected an object");
	ret = json_field_u64(o, where, "addr", &addr, err, errlen);
	ret = ret ?: json_field_u64(o, where, "data", &data, err, errlen);
	ret = ret ?: json_field_u64(o, where, "ctrl", &ctrl, err, errlen);
	if (ret)
		return ret;
	if (data > UINT32_MAX)
		return json_field_err(err, errlen, where, "data", "0x%llx is above 0xffffffff",
				      (unsigned long long)data);
	/* PCIe 6.0 7.7.2.5 (Vector Control): bit 0 is the mask, the rest reserved. */
	if (ctrl & ~(uint64_t)PCI_MSIX_ENTRY_CTRL_MASKBIT)
		return json_field_err(err, errlen, where, "ctrl", "0x%llx sets reserved bits "
				      "(only 0x1, the mask bit, is defined)",
				      (unsigned long long)ctrl);
	*e = (struct msix_entry){ (uint32_t)addr, (uint32_t)(addr >> 32), (uint32_t)data,
				  (uint32_t)ctrl };
	return 0;
}

/* One PBA word: wrapped in an object so json_field_u64 can parse it. */
static int load_pba_word(const cJSON *item, unsigned w, uint64_t *val, char *err,
			 size_t errlen)
{
	cJSON *wrap = cJSON_CreateObject();
	char key[16];
	int ret;

	snprintf(key, sizeof(key), "[%u]", w);
	if (!cJSON_IsString(item)) {
		cJSON_Delete(wrap);
		return json_field_err(err, errlen, "pba", key, "expected a \"0x...\" hex string");
	}
	if (!wrap || !cJSON_AddStringToObject(wrap, key, cJSON_GetStringValue(item))) {
		cJSON_Delete(wrap);
		return set_err(err, errlen, -ENOMEM, "out of memory");
	}
	ret = json_field_u64(wrap, "pba", key, val, err, errlen);
	cJSON_Delete(wrap);
	return ret;
}

static int load_arrays(const struct msix *m, const cJSON *json, struct msix_entry *table,
		       uint64_t *pba, char *err, size_t errlen)
{
	const cJSON *jt = cJSON_GetObjectItemCaseSensitive(json, "table");
	const cJSON *jp = cJSON_GetObjectItemCaseSensitive(json, "pba");
	unsigned v, words = (m->nr + 63) / 64;
	int ret;

	if (!cJSON_IsArray(jt) || cJSON_GetArraySize(jt) != (int)m->nr)
		return json_field_err(err, errlen, NULL, "table", "expected an array of %u "
				      "entries, got %d", m->nr,
				      cJSON_IsArray(jt) ? cJSON_GetArraySize(jt) : -1);
	if (!cJSON_IsArray(jp) || cJSON_GetArraySize(jp) != (int)words)
		return json_field_err(err, errlen, NULL, "pba", "expected an array of %u "
				      "\"0x...\" words, got %d", words,
				      cJSON_IsArray(jp) ? cJSON_GetArraySize(jp) : -1);
	for (v = 0; v < m->nr; v++) {
		ret = load_entry(cJSON_GetArrayItem(jt, (int)v), v, &table[v], err, errlen);
		if (ret)
			return ret;
	}
	for (v = 0; v < words; v++) {
		ret = load_pba_word(cJSON_GetArrayItem(jp, (int)v), v, &pba[v], err, errlen);
		if (ret)
			return ret;
	}
	/* No pending bit for a vector that does not exist. */
	if (m->nr % 64 && pba[words - 1] >> (m->nr % 64)) {
		char key[16];

		snprintf(key, sizeof(key), "[%u]", words - 1);
		return json_field_err(err, errlen, "pba", key, "0x%llx has pending bits past "
				      "vector %u, the last of this device",
				      (unsigned long long)pba[words - 1], m->nr - 1);
	}
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

/* "vectors", "enabled", "function_mask" against this device. */
static int load_control(const struct msix *m, const cJSON *json, bool *enabled, bool *fmask,
			char *err, size_t errlen)
{
	uint64_t vectors;
	int ret;

	if (!cJSON_IsObject(json))
		return json_field_err(err, errlen, NULL, NULL, "expected an object");
	ret = json_field_num(json, NULL, "vectors", PCI_MSIX_FLAGS_QSIZE + 1, &vectors, err,
			     errlen);
	if (!ret && vectors != m->nr)
		ret = json_field_err(err, errlen, NULL, "vectors", "%llu, but this device has %u",
				     (unsigned long long)vectors, m->nr);
	ret = ret ?: json_field_bool(json, NULL, "enabled", enabled, err, errlen);
	return ret ?: json_field_bool(json, NULL, "function_mask", fmask, err, errlen);
}

int msix_restore(struct msix *m, const cJSON *json, char *err, size_t errlen)
{
	struct msix_entry *table = calloc(m->nr, sizeof(*table));
	uint64_t *pba = calloc((m->nr + 63) / 64, sizeof(*pba));
	bool enabled, fmask;
	int ret;

	if (!table || !pba) {
		ret = set_err(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	ret = load_control(m, json, &enabled, &fmask, err, errlen);
	ret = ret ?: load_arrays(m, json, table, pba, err, errlen);
	if (!ret)
		install(m, table, pba, enabled, fmask);
out:
	free(table);
	free(pba);
	return ret;
}
