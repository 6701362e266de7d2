// SPDX-License-Identifier: Apache-2.0
/*
 * CH's FsConfig {tag, socket, num_queues, queue_size, id, pci_segment} in VmConfig.fs[] and
 * vm.add-fs: JSON in and out, and the config edit on a created VM. tag and socket are
 * required as in CH; the ranges wait for config_validate_fs at boot (or at vm.add-fs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/json.h"

static int require(struct jfield *f, const char *key)
{
	const cJSON *it;
	int ret = jf_get(f, key, &it);

	return !ret && !it ? jf_fail(f, key, "missing field") : ret;
}

static int parse_fs_fields(struct jfield *f, struct fs_config *fs)
{
	uint64_t nq = 1, qs = CONFIG_FS_DEFAULT_QUEUE_SIZE, seg = 0;
	int ret;

	if ((ret = require(f, "tag")) || (ret = require(f, "socket")) ||
	    (ret = jf_str(f, "tag", &fs->tag)) || (ret = jf_str(f, "socket", &fs->socket)) ||
	    (ret = jf_u64(f, "num_queues", UINT16_MAX, &nq, NULL)) ||
	    (ret = jf_u64(f, "queue_size", UINT16_MAX, &qs, NULL)) ||
	    (ret = jf_str(f, "id", &fs->id)) ||
	    (ret = jf_u64(f, "pci_segment", UINT16_MAX, &seg, NULL)))
		return ret;
	fs->num_queues = (unsigned)nq;
	fs->queue_size = (unsigned)qs;
	fs->pci_segment = (uint16_t)seg;
	return 0;
}

int api_fs_from_json(const cJSON *json, struct fs_config *fs, char *err, size_t errlen)
{
	struct jfield f = { .obj = json, .ctx = "", .err = err, .errlen = errlen };
	int ret;

	memset(fs, 0, sizeof(*fs));
	if (!jf_is_object(json))
		return jf_fail(&f, "", "invalid type: expected an FsConfig object");
	ret = parse_fs_fields(&f, fs);
	if (ret)
		config_fs_free(fs);
	return ret;
}

int api_parse_fs_list(struct jfield *top, struct vm_config *cfg)
{
	const cJSON *arr;
	unsigned n;
	int ret = jf_get(top, "fs", &arr);

	if (ret || !arr)
		return ret;
	if (!cJSON_IsArray(arr))
		return jf_fail(top, "fs", "invalid type: expected an array");
	n = (unsigned)cJSON_GetArraySize(arr);
	if (!n)
		return 0;
	cfg->fs = calloc(n, sizeof(*cfg->fs));
	if (!cfg->fs)
		return -ENOMEM;
	for (const cJSON *it = arr->child; it; it = it->next) {
		char ctx[32];
		struct jfield f = { .obj = it, .err = top->err, .errlen = top->errlen,
				    .ctx = msg_fmt(ctx, sizeof(ctx), "fs[%u]", cfg->nr_fs) };

		if (!cJSON_IsObject(it))
			return jf_fail(&f, "", "invalid type: expected an FsConfig object");
		if ((ret = parse_fs_fields(&f, &cfg->fs[cfg->nr_fs++])))
			return ret;
	}
	return 0;
}

bool api_fs_list_out(cJSON *root, const struct vm_config *cfg)
{
	cJSON *arr, *o;

	if (!cfg->nr_fs)
		return true;                 /* CH's Option<Vec<FsConfig>>: omitted when None */
	if (!(arr = cJSON_AddArrayToObject(root, "fs")))
		return false;
	for (unsigned i = 0; i < cfg->nr_fs; i++) {
		const struct fs_config *fs = &cfg->fs[i];

		if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(arr, o))
			return cJSON_Delete(o), false;
		if (!cJSON_AddStringToObject(o, "tag", fs->tag) ||
		    !cJSON_AddStringToObject(o, "socket", fs->socket) ||
		    json_put_count(o, "num_queues", fs->num_queues) ||
		    json_put_count(o, "queue_size", fs->queue_size) ||
		    (fs->id && !cJSON_AddStringToObject(o, "id", fs->id)) ||
		    json_put_count(o, "pci_segment", fs->pci_segment))
			return false;
	}
	return true;
}

int api_config_add_fs(struct vm_config *cfg, struct fs_config *fs, char *err, size_t errlen)
{
	int ret;

	if (config_add_fs(cfg, fs))
		return set_err(err, errlen, -ENOMEM, "out of memory");
	ret = config_validate_fs(cfg, cfg->nr_fs - 1, err, errlen);
	if (ret) {
		cfg->nr_fs--;                /* the slot is not owned: *fs still is the caller's */
		return ret;
	}
	memset(fs, 0, sizeof(*fs));
	return 0;
}

int api_config_remove_fs(struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_fs; i++) {
		if (!cfg->fs[i].id || strcmp(cfg->fs[i].id, id))
			continue;
		config_fs_free(&cfg->fs[i]);
		memmove(&cfg->fs[i], &cfg->fs[i + 1], (cfg->nr_fs - i - 1) * sizeof(cfg->fs[0]));
		cfg->nr_fs--;
		return 0;
	}
	return -ENOENT;
}
