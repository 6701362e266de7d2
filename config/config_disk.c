// SPDX-License-Identifier: Apache-2.0
/*
 * Disks in Cloud Hypervisor's terms: the --disk key=value list and the checks every DiskConfig
 * passes at boot, whether it came from the command line or from the API.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/log.h"

/* vhost_user: the backend owns the image; what only a local image honours is refused. */
static int validate_vhost_user(const struct vm_config *cfg, unsigned i, char *err,
			       size_t errlen)
{
	const struct disk_config *d = &cfg->disks[i];

	if (!d->vhost_socket || !*d->vhost_socket)
		return set_err(err, errlen, -EINVAL, "disks[%u].vhost_socket: missing (needed with "
			       "vhost_user)", i);
	if (!cfg->memory_shared)
		return set_err(err, errlen, -EINVAL, "disks[%u]: vhost-user devices need "
			       "memory.shared=on (--memory shared=on)", i);
	if (d->readonly || d->direct || d->rate_limiter.set || d->serial)
		return set_err(err, errlen, -EINVAL, "disks[%u]: readonly, direct, serial and "
			       "rate_limiter_config belong to the vhost-user backend", i);
	if (d->num_queues < 1 || d->num_queues > 16 || d->queue_size < 2 ||
	    d->queue_size > 1024 || (d->queue_size & (d->queue_size - 1)))
		return set_err(err, errlen, -EINVAL, "disks[%u]: vhost-user needs num_queues 1-16 "
			       "and queue_size a power of two up to 1024", i);
	if (d->pci_segment >= config_pci_segments(cfg))
		return set_err(err, errlen, -EINVAL, "disks[%u].pci_segment: %u is not below "
			       "platform.num_pci_segments (%u)", i, d->pci_segment,
			       config_pci_segments(cfg));
	for (unsigned j = 0; j < i; j++)
		if (d->id && cfg->disks[j].id && !strcmp(d->id, cfg->disks[j].id))
			return set_err(err, errlen, -EEXIST, "disks[%u].id: identifier '%s' is not "
				       "unique", i, d->id);
	return 0;
}

int config_validate_disk(const struct vm_config *cfg, unsigned i, char *err, size_t errlen)
{
	const struct disk_config *d = &cfg->disks[i];
	unsigned qs = d->queue_size;

	if (d->vhost_user)
		return validate_vhost_user(cfg, i, err, errlen);
	if (!d->path || !*d->path)
		return set_err(err, errlen, -EINVAL, "disks[%u].path: missing", i);
	if (d->num_queues < 1 || d->num_queues > 64)
		return set_err(err, errlen, -EINVAL, "disks[%u].num_queues: must be between 1 and 64", i);
	if (qs <= 2 || qs > 32768 || (qs & (qs - 1)))
		return set_err(err, errlen, -EINVAL,
			   "disks[%u].queue_size: must be a power of two between 4 and 32768", i);
	if (d->id && !strncmp(d->id, "__", 2))
		return set_err(err, errlen, -EINVAL, "disks[%u].id: '%s' must not start with '__'", i,
			   d->id);
	if (d->pci_segment >= config_pci_segments(cfg))
		return set_err(err, errlen, -EINVAL, "disks[%u].pci_segment: %u is not below "
			       "platform.num_pci_segments (%u)", i, d->pci_segment,
			       config_pci_segments(cfg));
	if (d->pci_device_id == 0 || d->pci_device_id > 31)
		return set_err(err, errlen, -EINVAL, "disks[%u].pci_device_id: must be between 1 and 31 "
			   "(0 is the host bridge)", i);
	for (unsigned j = 0; j < i; j++) {
		/* CH's IdentifierNotUnique and DuplicateDevicePath, answered 409. */
		if (d->id && cfg->disks[j].id && !strcmp(d->id, cfg->disks[j].id))
			return set_err(err, errlen, -EEXIST, "disks[%u].id: identifier '%s' is not unique",
				   i, d->id);
		if (d->pci_device_id > 0 && d->pci_device_id == cfg->disks[j].pci_device_id)
			return set_err(err, errlen, -EEXIST, "disks[%u].pci_device_id: slot %d is already "
				   "used by disks[%u]", i, d->pci_device_id, j);
		if (cfg->disks[j].path && !cfg->disks[j].vhost_user && !strcmp(d->path, cfg->disks[j].path))
			return set_err(err, errlen, -EEXIST, "disks[%u].path: '%s' is already used by "
				   "disks[%u]", i, d->path, j);
	}
	return 0;
}

/* ------------------------------------------------------------------ --disk */

/* bw_* and ops_*: one field of one of the two token buckets. */
static int disk_bucket_kv(struct disk_config *d, const char *key, const char *val, char *err,
			  size_t errlen)
{
	struct token_bucket *b = !strncmp(key, "bw_", 3) ? &d->rate_limiter.bandwidth
							 : &d->rate_limiter.ops;
	const char *field = strchr(key, '_') + 1;
	uint64_t *dst = !strcmp(field, "size") ? &b->size :
			!strcmp(field, "one_time_burst") ? &b->one_time_burst :
			!strcmp(field, "refill_time") ? &b->refill_time : NULL;
	int ret;

	if (!dst)
		return 1;
	ret = config_parse_num("--disk", key, val, UINT64_MAX, dst, err, errlen);
	if (!ret)
		b->set = d->rate_limiter.set = true;
	return ret;
}

static int disk_kv(void *ctx, const char *key, const char *val, char *err,
		   size_t errlen)
{
	struct disk_config *d = ctx;
	static const char *const unsupported[] = {
		"rate_limit_group", "queue_affinity", "backing_files", NULL,
	};
	uint64_t n;
	int ret;

	if (!strcmp(key, "path"))
		return config_set_str(&d->path, val);
	if (!strcmp(key, "socket") || !strcmp(key, "vhost_socket"))
		return config_set_str(&d->vhost_socket, val);
	if (!strcmp(key, "vhost_user"))
		return config_option_bool("--disk", key, val, &d->vhost_user, err, errlen);
	if (!strcmp(key, "id"))
		return config_set_str(&d->id, val);
	if (!strcmp(key, "serial"))
		return config_set_str(&d->serial, val);
	if (!strcmp(key, "readonly"))
		return config_option_bool("--disk", key, val, &d->readonly, err, errlen);
	if (!strcmp(key, "direct"))
		return config_option_bool("--disk", key, val, &d->direct, err, errlen);
	if (!strcmp(key, "iommu"))
		return config_option_bool("--disk", key, val, &d->iommu, err, errlen);
	if (!strcmp(key, "pci_device_id")) {
		ret = config_parse_num("--disk", key, val, 255, &n, err, errlen);
		if (!ret)
			d->pci_device_id = (int)n;
		return ret;
	}
	if (!strcmp(key, "num_queues") || !strcmp(key, "queue_size") ||
	    !strcmp(key, "pci_segment")) {
		ret = config_parse_num("--disk", key, val, UINT16_MAX, &n, err, errlen);
		if (!ret && key[0] == 'n')
			d->num_queues = (unsigned)n;
		else if (!ret && key[0] == 'q')
			d->queue_size = (unsigned)n;
		else if (!ret)
			d->pci_segment = (uint16_t)n;
		return ret;
	}
	if (!strncmp(key, "bw_", 3) || !strncmp(key, "ops_", 4)) {
		ret = disk_bucket_kv(d, key, val, err, errlen);
		if (ret <= 0)
			return ret;
	}
	if (!strcmp(key, "image_type") && strcmp(val, "raw"))
		return set_err(err, errlen, -EINVAL, "--disk: image_type=%s is not supported (raw only)",
			   val);
	if (!strcmp(key, "image_type"))
		return 0;
	for (unsigned i = 0; unsupported[i]; i++)
		if (!strcmp(key, unsupported[i]))
			return set_err(err, errlen, -EINVAL, "--disk: %s is not supported by vireo", key);
	return set_err(err, errlen, -EINVAL, "--disk: unknown key '%s'", key);
}

int config_parse_disk(const char *s, struct disk_config *d, char *err, size_t errlen)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->num_queues = 1;
	d->queue_size = 128;
	d->pci_device_id = -1;
	ret = config_parse_kv("--disk", s, disk_kv, d, err, errlen);
	if (!ret && !d->path && !d->vhost_user)
		ret = set_err(err, errlen, -EINVAL, "--disk: path= is required");
	if (!ret && d->vhost_user && !d->vhost_socket)
		ret = set_err(err, errlen, -EINVAL, "--disk: vhost_user=on needs socket=");
	if (!ret && config_rate_limit_incomplete(&d->rate_limiter))
		ret = set_err(err, errlen, -EINVAL, "--disk: a rate limit needs its *_refill_time");
	if (ret)
		config_disk_free(d);
	return ret;
}

void config_disk_free(struct disk_config *d)
{
	free(d->path);
	free(d->vhost_socket);
	free(d->id);
	free(d->serial);
	memset(d, 0, sizeof(*d));
}

int config_add_disk(struct vm_config *cfg, const struct disk_config *d)
{
	struct disk_config *disks = realloc(cfg->disks, (cfg->nr_disks + 1) * sizeof(*disks));

	if (!disks)
		return -ENOMEM;
	disks[cfg->nr_disks++] = *d;
	cfg->disks = disks;
	return 0;
}
