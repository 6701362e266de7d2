// SPDX-License-Identifier: Apache-2.0
/*
 * struct vm_config back to CH's VmConfig JSON (vm.info, later config.json), CH's boot-time
 * validation, device ids, and the VmInfo / VmmPing answers. CH serializes with
 * skip_serializing_none, so absent optionals are omitted. Integers go out as raw text: cJSON
 * would print them through a double and round anything above 2^53.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "base/json.h"
#include "base/log.h"

static bool add_u64(cJSON *obj, const char *key, uint64_t v)
{
	return !json_put_count(obj, key, v);
}

static bool add_str_opt(cJSON *obj, const char *key, const char *v)
{
	return !v || cJSON_AddStringToObject(obj, key, v);
}

static const char *const mode_names[] = { "Off", "Null", "Tty", "File" };

static bool add_console(cJSON *root, const char *key, const struct console_config *c)
{
	cJSON *o = cJSON_AddObjectToObject(root, key);

	return o && cJSON_AddStringToObject(o, "mode", mode_names[c->mode]) &&
	       add_str_opt(o, "file", c->file);
}

static bool add_bucket(cJSON *rl, const char *key, const struct token_bucket *b)
{
	cJSON *o;

	if (!b->set)
		return true;
	o = cJSON_AddObjectToObject(rl, key);
	return o && add_u64(o, "size", b->size) &&
	       (!b->one_time_burst || add_u64(o, "one_time_burst", b->one_time_burst)) &&
	       add_u64(o, "refill_time", b->refill_time);
}

static bool add_disk(cJSON *arr, const struct disk_config *d)
{
	cJSON *o = cJSON_CreateObject(), *rl;

	if (!o)
		return false;
	cJSON_AddItemToArray(arr, o);
	if (!add_str_opt(o, "path", d->path) || !cJSON_AddBoolToObject(o, "readonly", d->readonly) ||
	    !cJSON_AddBoolToObject(o, "direct", d->direct) ||
	    !cJSON_AddBoolToObject(o, "iommu", d->iommu) ||
	    !add_u64(o, "num_queues", d->num_queues) || !add_u64(o, "queue_size", d->queue_size) ||
	    !add_str_opt(o, "id", d->id) || !add_str_opt(o, "serial", d->serial) ||
	    !add_u64(o, "pci_segment", d->pci_segment) ||
	    (d->vhost_user && (!cJSON_AddBoolToObject(o, "vhost_user", true) ||
			       !add_str_opt(o, "vhost_socket", d->vhost_socket))) ||
	    (d->pci_device_id >= 0 && !add_u64(o, "pci_device_id", (uint64_t)d->pci_device_id)))
		return false;
	if (!d->rate_limiter.set)
		return true;
	rl = cJSON_AddObjectToObject(o, "rate_limiter_config");
	return rl && add_bucket(rl, "bandwidth", &d->rate_limiter.bandwidth) &&
	       add_bucket(rl, "ops", &d->rate_limiter.ops);
}

static bool add_mac(cJSON *o, const char *key, const uint8_t *mac, bool set)
{
	char buf[18];

	if (!set)
		return true;
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return cJSON_AddStringToObject(o, key, buf);
}

static bool add_net(cJSON *arr, const struct net_config *n)
{
	cJSON *o = cJSON_CreateObject(), *fds;

	if (!o)
		return false;
	cJSON_AddItemToArray(arr, o);
	if (!add_str_opt(o, "tap", n->tap) || !add_str_opt(o, "ip", n->ip) ||
	    !add_str_opt(o, "mask", n->mask) || !add_mac(o, "mac", n->mac, n->mac_set) ||
	    !add_mac(o, "host_mac", n->host_mac, n->host_mac_set) ||
	    (n->mtu && !add_u64(o, "mtu", n->mtu)) || !cJSON_AddBoolToObject(o, "iommu", n->iommu) ||
	    !add_u64(o, "num_queues", n->num_queues) || !add_u64(o, "queue_size", n->queue_size) ||
	    !cJSON_AddBoolToObject(o, "vhost_user", n->vhost_user) ||
	    !add_str_opt(o, "vhost_socket", n->vhost_socket) ||
	    (n->vhost_user && !cJSON_AddStringToObject(o, "vhost_mode",
						       n->vhost_server ? "Server" : "Client")) ||
	    !add_str_opt(o, "id", n->id) ||
	    !cJSON_AddBoolToObject(o, "offload_tso", n->offload_tso) ||
	    !cJSON_AddBoolToObject(o, "offload_ufo", n->offload_ufo) ||
	    !cJSON_AddBoolToObject(o, "offload_csum", n->offload_csum) ||
	    !add_u64(o, "pci_segment", n->pci_segment) ||
	    (n->pci_device_id >= 0 && !add_u64(o, "pci_device_id", (uint64_t)n->pci_device_id)))
		return false;
	if (n->rate_limiter.set) {
		cJSON *rl = cJSON_AddObjectToObject(o, "rate_limiter_config");

		if (!rl || !add_bucket(rl, "bandwidth", &n->rate_limiter.bandwidth) ||
		    !add_bucket(rl, "ops", &n->rate_limiter.ops))
			return false;
	}
	if (!n->nr_fds)
		return true;
	fds = cJSON_AddArrayToObject(o, "fds");
	for (unsigned i = 0; fds && i < n->nr_fds; i++) {
		cJSON *it = json_create_count((uint64_t)n->fds[i]);

		if (!it)
			return false;
		cJSON_AddItemToArray(fds, it);
	}
	return fds;
}

static bool add_nets(cJSON *root, const struct vm_config *cfg)
{
	cJSON *nets;

	if (!cfg->nr_nets)
		return true;
	nets = cJSON_AddArrayToObject(root, "net");
	for (unsigned i = 0; nets && i < cfg->nr_nets; i++)
		if (!add_net(nets, &cfg->nets[i]))
			return false;
	return nets;
}

/* PlatformConfig, only when it says more than CH's default of one segment. */
static bool add_platform(cJSON *root, const struct vm_config *cfg)
{
	cJSON *o;

	if (config_pci_segments(cfg) == 1)
		return true;
	o = cJSON_AddObjectToObject(root, "platform");
	return o && add_u64(o, "num_pci_segments", config_pci_segments(cfg));
}

/* CH's VsockConfig; omitted when there is none (Option<VsockConfig>). */
static bool add_vsock(cJSON *root, const struct vsock_config *v)
{
	cJSON *o;

	if (!v->set)
		return true;
	o = cJSON_AddObjectToObject(root, "vsock");
	return o && add_u64(o, "cid", v->cid) && add_str_opt(o, "socket", v->socket) &&
	       cJSON_AddBoolToObject(o, "iommu", v->iommu) && add_str_opt(o, "id", v->id) &&
	       add_u64(o, "pci_segment", v->pci_segment);
}

static bool add_payload(cJSON *root, const struct vm_config *cfg)
{
	/* vireo keeps "" for "no cmdline"; CH's Option<String> is omitted then. */
	const char *cmdline = cfg->cmdline && *cfg->cmdline ? cfg->cmdline : NULL;
	cJSON *p;

	if (!cfg->kernel && !cmdline && !cfg->initramfs)
		return true;     /* CH's Option<PayloadConfig>: omitted when None */
	p = cJSON_AddObjectToObject(root, "payload");
	return p && add_str_opt(p, "kernel", cfg->kernel) && add_str_opt(p, "cmdline", cmdline) &&
	       add_str_opt(p, "initramfs", cfg->initramfs);
}

/* CpusConfig; the topology only when given (CH's Option<CpuTopology>). */
static bool add_cpus(cJSON *root, const struct vm_config *cfg)
{
	cJSON *cpus = cJSON_AddObjectToObject(root, "cpus"), *t;
	const struct cpu_topology *tp = &cfg->topology;

	if (!cpus || !add_u64(cpus, "boot_vcpus", cfg->boot_vcpus) ||
	    !add_u64(cpus, "max_vcpus", config_max_vcpus(cfg)))
		return false;
	if (!tp->threads_per_core)
		return true;
	t = cJSON_AddObjectToObject(cpus, "topology");
	return t && add_u64(t, "threads_per_core", tp->threads_per_core) &&
	       add_u64(t, "cores_per_die", tp->cores_per_die) &&
	       add_u64(t, "dies_per_package", tp->dies_per_package) &&
	       add_u64(t, "packages", tp->packages);
}

static bool build_config(cJSON *root, const struct vm_config *cfg)
{
	cJSON *mem, *disks, *rng;

	if (!add_cpus(root, cfg))
		return false;
	mem = cJSON_AddObjectToObject(root, "memory");
	if (!mem || !add_u64(mem, "size", cfg->memory_size) ||
	    (cfg->memory_shared && !cJSON_AddBoolToObject(mem, "shared", true)) ||
	    !add_payload(root, cfg))
		return false;
	if (cfg->nr_disks) {
		disks = cJSON_AddArrayToObject(root, "disks");
		if (!disks)
			return false;
		for (unsigned i = 0; i < cfg->nr_disks; i++)
			if (!add_disk(disks, &cfg->disks[i]))
				return false;
	}
	if (!add_nets(root, cfg))
		return false;
	rng = cJSON_AddObjectToObject(root, "rng");
	return rng && cJSON_AddStringToObject(rng, "src", cfg->rng.src) &&
	       add_console(root, "serial", &cfg->serial) &&
	       add_console(root, "console", &cfg->console) && add_vsock(root, &cfg->vsock) &&
	       api_fs_list_out(root, cfg) &&
	       add_platform(root, cfg);
}

cJSON *api_config_to_cjson(const struct vm_config *cfg)
{
	cJSON *root = cJSON_CreateObject();

	if (root && !build_config(root, cfg)) {
		cJSON_Delete(root);
		root = NULL;
	}
	return root;
}

char *api_config_to_json(const struct vm_config *cfg)
{
	cJSON *root = api_config_to_cjson(cfg);
	char *out = root ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	return out;
}

/* ---- validation (CH's VmConfig::validate at boot, plus vireo's limits) --------------------- */

static int validate_console(const char *name, const struct console_config *c, char *err,
			    size_t errlen)
{
	if (c->mode == CONSOLE_FILE && (!c->file || !*c->file))
		return set_err(err, errlen, -EINVAL, "%s.file: required with mode File", name);
	return 0;
}

int api_config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	int ret;

	if (!cfg->kernel || !*cfg->kernel)
		return set_err(err, errlen, -EINVAL, "payload.kernel: No bootitem provided");
	if ((ret = config_validate_cpus(cfg, err, errlen)))
		return ret;
	if (cfg->memory_size < CONFIG_MIN_MEMORY || cfg->memory_size > CONFIG_MAX_MEMORY)
		return set_err(err, errlen, -EINVAL, "memory.size: %" PRIu64 " is outside 2 MiB..1 TiB",
			   cfg->memory_size);
	if (cfg->memory_size & 0xfff)
		return set_err(err, errlen, -EINVAL, "memory.size: %" PRIu64 " is not a multiple of 4 KiB",
			   cfg->memory_size);
	if ((ret = validate_console("serial", &cfg->serial, err, errlen)))
		return ret;
	if ((ret = validate_console("console", &cfg->console, err, errlen)))
		return ret;
	if (!cfg->rng.src || !*cfg->rng.src)
		return set_err(err, errlen, -EINVAL, "rng.src: must not be empty");
	if ((ret = config_check_consoles(cfg, err, errlen)))
		return ret;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if ((ret = config_validate_disk(cfg, i, err, errlen)))
			return ret;
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if ((ret = config_validate_net(cfg, i, err, errlen)))
			return ret;
	for (unsigned i = 0; i < cfg->nr_fs; i++)
		if ((ret = config_validate_fs(cfg, i, err, errlen)))
			return ret;
	return config_validate_vsock(cfg, err, errlen);
}

/* ---- device ids and config edits ---------------------------------------------------------- */

/* A fresh "<prefix><N>" into *@dst (CH's next_device_name: one counter for all types). */
static int assign_id(struct vm_config *cfg, char **dst, const char *prefix, unsigned *counter)
{
	char id[32];

	if (*dst)
		return 0;
	do
		snprintf(id, sizeof(id), "%s%u", prefix, (*counter)++);
	while (config_id_in_use(cfg, id, -1));
	*dst = strdup(id);
	return *dst ? 0 : -ENOMEM;
}

/* The vsock device without an id gets "_vsock<N>" from the same counter (CH's). */
static int assign_vsock_id(struct vm_config *cfg, unsigned *counter)
{
	char id[32];

	if (!cfg->vsock.set || cfg->vsock.id)
		return 0;
	do
		snprintf(id, sizeof(id), "_vsock%u", (*counter)++);
	while (config_id_in_use(cfg, id, -1));
	cfg->vsock.id = strdup(id);
	return cfg->vsock.id ? 0 : -ENOMEM;
}

int api_config_assign_ids(struct vm_config *cfg, unsigned *counter)
{
	int ret = 0;

	for (unsigned i = 0; !ret && i < cfg->nr_disks; i++)
		ret = assign_id(cfg, &cfg->disks[i].id, "_disk", counter);
	for (unsigned i = 0; !ret && i < cfg->nr_nets; i++)
		ret = assign_id(cfg, &cfg->nets[i].id, "_net", counter);
	for (unsigned i = 0; !ret && i < cfg->nr_fs; i++)
		ret = assign_id(cfg, &cfg->fs[i].id, "_fs", counter);
	return ret ?: assign_vsock_id(cfg, counter);
}

int api_config_add_net(struct vm_config *cfg, struct net_config *net, char *err,
		       size_t errlen)
{
	struct net_config *nets = realloc(cfg->nets, (cfg->nr_nets + 1) * sizeof(*nets));
	int ret;

	if (!nets)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	cfg->nets = nets;
	nets[cfg->nr_nets] = *net;
	cfg->nr_nets++;                  /* validated in place; undone on error */
	ret = config_validate_net(cfg, cfg->nr_nets - 1, err, errlen);
	if (ret) {
		cfg->nr_nets--;
		return ret;
	}
	memset(net, 0, sizeof(*net));
	return 0;
}

int api_config_add_vsock(struct vm_config *cfg, struct vsock_config *v, char *err,
			 size_t errlen)
{
	struct vm_config probe;
	int ret;

	/* CH: TooManyVsockDevices; one device per VM. */
	if (cfg->vsock.set)
		return set_err(err, errlen, -EINVAL, "vsock: the VM already has a vsock device");
	probe = *cfg;
	probe.vsock = *v;
	ret = config_validate_vsock(&probe, err, errlen);
	if (ret)
		return ret;
	cfg->vsock = *v;
	memset(v, 0, sizeof(*v));
	return 0;
}

int api_config_add_disk(struct vm_config *cfg, struct disk_config *disk, char *err,
			size_t errlen)
{
	struct disk_config *disks = realloc(cfg->disks, (cfg->nr_disks + 1) * sizeof(*disks));
	int ret;

	if (!disks)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	cfg->disks = disks;
	disks[cfg->nr_disks] = *disk;
	/* CH validates a copy of the config with the disk appended. */
	ret = config_validate_disk(cfg, cfg->nr_disks, err, errlen);
	if (ret)
		return ret;     /* the slot past nr_disks is not owned: *disk still is the caller's */
	cfg->nr_disks++;
	memset(disk, 0, sizeof(*disk));
	return 0;
}

static int remove_net(struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		if (!cfg->nets[i].id || strcmp(cfg->nets[i].id, id))
			continue;
		config_net_free(&cfg->nets[i]);
		memmove(&cfg->nets[i], &cfg->nets[i + 1],
			(cfg->nr_nets - i - 1) * sizeof(cfg->nets[0]));
		cfg->nr_nets--;
		return 0;
	}
	return -ENOENT;
}

int api_config_remove_device(struct vm_config *cfg, const char *id)
{
	if (!remove_net(cfg, id) || !api_config_remove_fs(cfg, id))
		return 0;
	if (cfg->vsock.set && cfg->vsock.id && !strcmp(cfg->vsock.id, id)) {
		config_vsock_free(&cfg->vsock);
		return 0;
	}
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		if (!cfg->disks[i].id || strcmp(cfg->disks[i].id, id))
			continue;
		api_disk_config_free(&cfg->disks[i]);
		memmove(&cfg->disks[i], &cfg->disks[i + 1],
			(cfg->nr_disks - i - 1) * sizeof(cfg->disks[0]));
		cfg->nr_disks--;
		return 0;
	}
	return -ENOENT;
}

/* ---- VmInfo and VmmPing ------------------------------------------------------------------- */

char *api_vm_info_json(const struct vm_config *cfg, const char *state,
		       uint64_t memory_actual_size, cJSON *device_tree)
{
	cJSON *root = cJSON_CreateObject(), *c = api_config_to_cjson(cfg), *tree = device_tree;
	char *out = NULL;

	if (!root || !c)
		goto out;
	cJSON_AddItemToObject(root, "config", c);
	c = NULL;
	if (!cJSON_AddStringToObject(root, "state", state ? state : "Created") ||
	    !add_u64(root, "memory_actual_size", memory_actual_size))
		goto out;
	if (tree) {
		cJSON_AddItemToObject(root, "device_tree", tree);
		tree = NULL;
	}
	out = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(c);
	cJSON_Delete(tree);
	cJSON_Delete(root);
	return out;
}

char *api_ping_json(void)
{
	cJSON *root = cJSON_CreateObject(), *features;
	char *out = NULL;

	/* CH's VmmPingResponse; build_version is `git describe` there, the release here. */
	if (!root || !cJSON_AddStringToObject(root, "build_version", "v" VIREO_VERSION) ||
	    !cJSON_AddStringToObject(root, "version", VIREO_VERSION) ||
	    !add_u64(root, "pid", (uint64_t)getpid()))
		goto out;
	features = cJSON_AddArrayToObject(root, "features");
	if (!features)
		goto out;
	cJSON_AddItemToArray(features, cJSON_CreateString("kvm"));
	out = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return out;
}
