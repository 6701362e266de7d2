// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs in Cloud Hypervisor's terms: the --fs key=value list (tag, socket, num_queues,
 * queue_size, id, pci_segment) and the checks an FsConfig passes at boot, from the command
 * line or the API. The device needs shared guest memory (a vhost-user backend maps it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"

#define FS_TAG_MAX 36                  /* virtio 1.2 5.11.4: tag[36] */

bool config_fs_id_in_use(const struct vm_config *cfg, const char *id, int self)
{
	for (unsigned i = 0; i < cfg->nr_fs; i++)
		if ((int)i != self && cfg->fs[i].id && !strcmp(cfg->fs[i].id, id))
			return true;
	return false;
}

/* Another device of any type has @id (config_id_in_use counts every fs, this one too). */
static bool id_taken(const struct vm_config *cfg, unsigned self, const char *id)
{
	struct vm_config others = *cfg;

	others.nr_fs = 0;
	return config_id_in_use(&others, id, -1) || config_fs_id_in_use(cfg, id, (int)self);
}

int config_validate_fs(const struct vm_config *cfg, unsigned i, char *err, size_t errlen)
{
	const struct fs_config *f = &cfg->fs[i];
	unsigned qs = f->queue_size;

	if (!f->tag || !*f->tag || strlen(f->tag) > FS_TAG_MAX)
		return set_err(err, errlen, -EINVAL, "fs[%u].tag: must be 1-%d bytes", i,
			       FS_TAG_MAX);
	if (!f->socket || !*f->socket)
		return set_err(err, errlen, -EINVAL, "fs[%u].socket: missing", i);
	if (f->num_queues < 1 || f->num_queues > CONFIG_FS_MAX_QUEUES)
		return set_err(err, errlen, -EINVAL, "fs[%u].num_queues: %u is outside 1-%u", i,
			       f->num_queues, CONFIG_FS_MAX_QUEUES);
	if (qs < 2 || qs > CONFIG_FS_DEFAULT_QUEUE_SIZE || (qs & (qs - 1)))
		return set_err(err, errlen, -EINVAL, "fs[%u].queue_size: %u is not a power of two "
			       "in 2-%u", i, qs, CONFIG_FS_DEFAULT_QUEUE_SIZE);
	if (f->pci_segment >= config_pci_segments(cfg))
		return set_err(err, errlen, -EINVAL, "fs[%u].pci_segment: %u is not below "
			       "platform.num_pci_segments (%u)", i, f->pci_segment,
			       config_pci_segments(cfg));
	if (!cfg->memory_shared)
		return set_err(err, errlen, -EINVAL, "fs[%u]: vhost-user devices need "
			       "memory.shared=on (--memory shared=on)", i);
	if (f->id && !strncmp(f->id, "__", 2))
		return set_err(err, errlen, -EINVAL, "fs[%u].id: '%s' must not start with '__'", i,
			       f->id);
	if (f->id && id_taken(cfg, i, f->id))
		return set_err(err, errlen, -EEXIST, "fs[%u].id: identifier '%s' is not unique", i,
			       f->id);
	return 0;
}

static int fs_kv(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	struct fs_config *f = ctx;
	uint64_t n;
	int ret;

	if (!strcmp(key, "tag"))
		return config_set_str(&f->tag, val);
	if (!strcmp(key, "socket"))
		return config_set_str(&f->socket, val);
	if (!strcmp(key, "id"))
		return config_set_str(&f->id, val);
	if (!strcmp(key, "num_queues") || !strcmp(key, "queue_size") ||
	    !strcmp(key, "pci_segment")) {
		ret = config_parse_num("--fs", key, val, UINT16_MAX, &n, err, errlen);
		if (key[0] == 'n')
			f->num_queues = (unsigned)n;
		else if (key[0] == 'q')
			f->queue_size = (unsigned)n;
		else
			f->pci_segment = (uint16_t)n;
		return ret;
	}
	return set_err(err, errlen, -EINVAL, "--fs: unknown key '%s' (supported: tag, socket, "
		       "num_queues, queue_size, id, pci_segment)", key);
}

int config_parse_fs(const char *s, struct fs_config *out, char *err, size_t errlen)
{
	struct fs_config f = { .num_queues = 1, .queue_size = CONFIG_FS_DEFAULT_QUEUE_SIZE };
	int ret = config_parse_kv("--fs", s, fs_kv, &f, err, errlen);

	if (!ret && !f.tag)
		ret = set_err(err, errlen, -EINVAL, "--fs: tag= is required");
	if (!ret && !f.socket)
		ret = set_err(err, errlen, -EINVAL, "--fs: socket= is required");
	if (ret) {
		config_fs_free(&f);
		return ret;
	}
	*out = f;
	return 0;
}

void config_fs_free(struct fs_config *f)
{
	free(f->tag);
	free(f->socket);
	free(f->id);
	memset(f, 0, sizeof(*f));
}

int config_add_fs(struct vm_config *cfg, const struct fs_config *f)
{
	struct fs_config *arr = realloc(cfg->fs, (cfg->nr_fs + 1) * sizeof(*arr));

	if (!arr)
		return -ENOMEM;
	cfg->fs = arr;
	arr[cfg->nr_fs++] = *f;
	return 0;
}
