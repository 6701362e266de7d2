// SPDX-License-Identifier: Apache-2.0
/*
 * CH's VmConfig JSON into struct vm_config. Field names, defaults and required fields follow
 * CH's serde definitions (its vmm/src/vm_config.rs): unknown fields are
 * ignored, except inside RateLimiterConfig/TokenBucket (deny_unknown_fields). Like serde this
 * checks types only; ranges wait for api_config_validate() at boot, as in CH. Fields CH knows
 * but vireo cannot honour are refused with a clear message rather than ignored: the payload's
 * and consoles' here, the rest by config_refuse.c's tables (unless they hold CH's default).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

static struct jfield sub(const struct jfield *parent, const cJSON *obj, const char *ctx)
{
	return (struct jfield){ .obj = obj, .ctx = ctx, .err = parent->err,
				.errlen = parent->errlen };
}

/* The object at @key, NULL if absent; an error if it is not an object. */
static int get_object(struct jfield *f, const char *key, const cJSON **out)
{
	int ret = jf_get(f, key, out);

	if (ret)
		return ret;
	if (*out && !cJSON_IsObject(*out))
		return jf_fail(f, key, "invalid type: expected an object");
	return 0;
}

static int refuse(struct jfield *f, const char *key, const char *why)
{
	const cJSON *it;
	int ret = jf_get(f, key, &it);

	if (ret || !it)
		return ret;
	return jf_fail(f, key, "%s", why);
}

/* serde's deny_unknown_fields, for RateLimiterConfig and TokenBucket. */
static int deny_unknown(struct jfield *f, const char *const *known)
{
	for (const cJSON *c = f->obj->child; c; c = c->next) {
		unsigned i;

		for (i = 0; known[i] && strcmp(known[i], c->string); i++)
			;
		if (!known[i])
			return jf_fail(f, c->string, "unknown field");
	}
	return 0;
}

static int parse_payload(struct jfield *top, struct vm_config *cfg)
{
	struct jfield f;
	const cJSON *o;
	int ret = get_object(top, "payload", &o);

	if (ret || !o)
		return ret;
	f = sub(top, o, "payload");
	if ((ret = refuse(&f, "firmware", "not supported by vireo (use payload.kernel)")) ||
	    (ret = refuse(&f, "igvm", "not supported by vireo")) ||
	    (ret = refuse(&f, "host_data", "not supported by vireo")))
		return ret;
	if ((ret = jf_str(&f, "kernel", &cfg->kernel)) ||
	    (ret = jf_str(&f, "initramfs", &cfg->initramfs)))
		return ret;
	return jf_str(&f, "cmdline", &cfg->cmdline);
}

static int require(struct jfield *f, const char *key)
{
	const cJSON *it;
	int ret = jf_get(f, key, &it);

	if (!ret && !it)
		ret = jf_fail(f, key, "missing field");
	return ret;
}

static int parse_topology(struct jfield *cpus, struct cpu_topology *t)
{
	static const char *const keys[] = { "threads_per_core", "cores_per_die",
					    "dies_per_package", "packages" };
	unsigned *dst[] = { &t->threads_per_core, &t->cores_per_die, &t->dies_per_package,
			    &t->packages };
	struct jfield f;
	const cJSON *o;
	uint64_t v;
	int ret = get_object(cpus, "topology", &o);

	if (ret || !o)
		return ret;
	f = sub(cpus, o, "cpus.topology");
	for (unsigned i = 0; i < 4; i++) {
		bool has;

		if ((ret = jf_u64(&f, keys[i], 255, &v, &has)))
			return ret;
		if (!has || !v)
			return jf_fail(&f, keys[i], has ? "must be 1 or more" : "missing field");
		*dst[i] = (unsigned)v;
	}
	return 0;
}

/* CpusConfig: boot_vcpus and max_vcpus are u8s (CH requires max_vcpus, vireo defaults it). */
static int parse_cpus(struct jfield *top, struct vm_config *cfg)
{
	uint64_t boot, max = 0;
	struct jfield f;
	const cJSON *o;
	int ret = get_object(top, "cpus", &o);

	if (ret || !o)
		return ret;
	f = sub(top, o, "cpus");
	if ((ret = require(&f, "boot_vcpus")) || (ret = jf_u64(&f, "boot_vcpus", 255, &boot, NULL)))
		return ret;
	if ((ret = jf_u64(&f, "max_vcpus", 255, &max, NULL)))
		return ret;
	cfg->boot_vcpus = (unsigned)boot;
	cfg->max_vcpus = (unsigned)max;
	return parse_topology(&f, &cfg->topology);
}

static int parse_memory(struct jfield *top, struct vm_config *cfg)
{
	struct jfield f;
	const cJSON *o;
	int ret = get_object(top, "memory", &o);

	if (ret || !o)
		return ret;
	f = sub(top, o, "memory");
	if ((ret = require(&f, "size")) || (ret = jf_bool(&f, "shared", &cfg->memory_shared)))
		return ret;
	return jf_u64(&f, "size", UINT64_MAX, &cfg->memory_size, NULL);
}

static int parse_mode(struct jfield *f, enum console_mode *mode)
{
	static const char *const names[] = { "Off", "Null", "Tty", "File" };
	const cJSON *it;
	int ret = jf_get(f, "mode", &it);

	if (ret)
		return ret;
	if (!it)
		return jf_fail(f, "mode", "missing field");
	if (!cJSON_IsString(it))
		return jf_fail(f, "mode", "invalid type: expected a string");
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(it->valuestring, names[i])) {
			*mode = (enum console_mode)i;   /* same order as enum console_mode */
			return 0;
		}
	}
	if (!strcmp(it->valuestring, "Pty") || !strcmp(it->valuestring, "Socket"))
		return jf_fail(f, "mode", "'%s' is not supported by vireo yet", it->valuestring);
	return jf_fail(f, "mode", "unknown variant '%.64s', expected one of Off, Null, Tty, "
		       "File, Pty, Socket", it->valuestring);
}

static int parse_console(struct jfield *top, const char *key, struct console_config *c)
{
	struct jfield f;
	const cJSON *o;
	int ret = get_object(top, key, &o);

	if (ret || !o)
		return ret;
	f = sub(top, o, key);
	if ((ret = parse_mode(&f, &c->mode)))
		return ret;
	return jf_str(&f, "file", &c->file);
}

static int parse_bucket(struct jfield *parent, const char *key, struct token_bucket *b)
{
	static const char *const known[] = { "size", "one_time_burst", "refill_time", NULL };
	char ctx[96];
	struct jfield f;
	const cJSON *o;
	int ret = get_object(parent, key, &o);

	if (ret || !o)
		return ret;
	f = sub(parent, o, msg_fmt(ctx, sizeof(ctx), "%s.%s", parent->ctx, key));
	if ((ret = deny_unknown(&f, known)) || (ret = require(&f, "size")) ||
	    (ret = require(&f, "refill_time")))
		return ret;
	if ((ret = jf_u64(&f, "size", UINT64_MAX, &b->size, NULL)) ||
	    (ret = jf_u64(&f, "one_time_burst", UINT64_MAX, &b->one_time_burst, NULL)) ||
	    (ret = jf_u64(&f, "refill_time", UINT64_MAX, &b->refill_time, NULL)))
		return ret;
	b->set = true;
	return 0;
}

static int parse_rate_limiter(struct jfield *disk, struct rate_limiter_config *rl)
{
	static const char *const known[] = { "bandwidth", "ops", NULL };
	char ctx[80];
	struct jfield f;
	const cJSON *o;
	int ret = get_object(disk, "rate_limiter_config", &o);

	if (ret || !o)
		return ret;
	f = sub(disk, o, msg_fmt(ctx, sizeof(ctx), "%s%srate_limiter_config", disk->ctx,
				 *disk->ctx ? "." : ""));
	if ((ret = deny_unknown(&f, known)) || (ret = parse_bucket(&f, "bandwidth", &rl->bandwidth)) ||
	    (ret = parse_bucket(&f, "ops", &rl->ops)))
		return ret;
	rl->set = true;
	return 0;
}

static int parse_disk(struct jfield *f, struct disk_config *d)
{
	uint64_t nq = 1, qs = 128, seg = 0, slot = 0;
	bool has_slot = false;
	int ret;

	d->num_queues = 1;
	d->queue_size = 128;
	d->pci_device_id = -1;
	if ((ret = jf_bool(f, "vhost_user", &d->vhost_user)) ||
	    (ret = jf_str(f, "vhost_socket", &d->vhost_socket)) ||
	    (ret = api_refuse_disk_fields(f)))
		return ret;
	if ((ret = jf_str(f, "path", &d->path)) || (ret = jf_bool(f, "readonly", &d->readonly)) ||
	    (ret = jf_bool(f, "direct", &d->direct)) || (ret = jf_bool(f, "iommu", &d->iommu)) ||
	    (ret = jf_u64(f, "num_queues", UINT32_MAX, &nq, NULL)) ||
	    (ret = jf_u64(f, "queue_size", UINT16_MAX, &qs, NULL)) ||
	    (ret = jf_u64(f, "pci_segment", UINT16_MAX, &seg, NULL)) ||
	    (ret = jf_u64(f, "pci_device_id", UINT8_MAX, &slot, &has_slot)) ||
	    (ret = jf_str(f, "id", &d->id)) || (ret = jf_str(f, "serial", &d->serial)))
		return ret;
	d->num_queues = (unsigned)nq;
	d->queue_size = (unsigned)qs;
	d->pci_segment = (uint16_t)seg;
	if (has_slot)
		d->pci_device_id = (int)slot;
	return parse_rate_limiter(f, &d->rate_limiter);
}

void api_disk_config_free(struct disk_config *disk)
{
	config_disk_free(disk);
}

int api_disk_from_json(const cJSON *json, struct disk_config *disk, char *err, size_t errlen)
{
	struct jfield f = { .obj = json, .ctx = "", .err = err, .errlen = errlen };
	int ret;

	memset(disk, 0, sizeof(*disk));
	if (!jf_is_object(json))
		return jf_fail(&f, "", "invalid type: expected a DiskConfig object");
	ret = parse_disk(&f, disk);
	if (ret)
		api_disk_config_free(disk);
	return ret;
}

static int parse_disks(struct jfield *top, struct vm_config *cfg)
{
	const cJSON *arr;
	unsigned n;
	int ret = jf_get(top, "disks", &arr);

	if (ret || !arr)
		return ret;
	if (!cJSON_IsArray(arr))
		return jf_fail(top, "disks", "invalid type: expected an array");
	n = (unsigned)cJSON_GetArraySize(arr);
	if (!n)
		return 0;
	cfg->disks = calloc(n, sizeof(*cfg->disks));
	if (!cfg->disks)
		return -ENOMEM;
	for (const cJSON *it = arr->child; it; it = it->next) {
		struct disk_config *d = &cfg->disks[cfg->nr_disks++];
		char ctx[32];
		struct jfield f = sub(top, it, msg_fmt(ctx, sizeof(ctx), "disks[%u]",
						       cfg->nr_disks - 1));

		d->num_queues = 1;
		d->queue_size = 128;
		d->pci_device_id = -1;
		if (!cJSON_IsObject(it))
			return jf_fail(&f, "", "invalid type: expected a DiskConfig object");
		if ((ret = parse_disk(&f, d)))
			return ret;
	}
	return 0;
}

/* "52:54:00:12:34:56" at @key, if present. */
static int jf_mac(struct jfield *f, const char *key, uint8_t mac[6], bool *set)
{
	char *s = NULL;
	int ret = jf_str(f, key, &s);

	if (!ret && s && !config_parse_mac(s, mac))
		ret = jf_fail(f, key, "'%.32s' is not a MAC address like 52:54:00:12:34:56", s);
	else if (!ret && s)
		*set = true;
	free(s);
	return ret;
}

/*
 * vhost_user, vhost_socket and vhost_mode (CH's Client/Server enum; config_validate_net judges
 * them). fds: a body cannot carry descriptors; vm.add-net's come over the socket and replace
 * any in the body.
 */
static int net_vhost(struct jfield *f, struct net_config *n, bool fds_ok)
{
	const cJSON *it;
	int ret;

	if ((ret = jf_bool(f, "vhost_user", &n->vhost_user)) ||
	    (ret = jf_str(f, "vhost_socket", &n->vhost_socket)))
		return ret;
	if (!fds_ok && (ret = refuse(f, "fds", "file descriptors cannot travel in a JSON body: "
				     "send them with vm.add-net (SCM_RIGHTS)")))
		return ret;
	if ((ret = jf_get(f, "vhost_mode", &it)) || !it)
		return ret;
	if (!cJSON_IsString(it) || (strcmp(it->valuestring, "Client") &&
				    strcmp(it->valuestring, "Server")))
		return jf_fail(f, "vhost_mode", "expected Client or Server");
	n->vhost_server = !strcmp(it->valuestring, "Server");
	return 0;
}

static int parse_net(struct jfield *f, struct net_config *n, bool fds_ok)
{
	uint64_t nq = 2, qs = 256, seg = 0, slot = 0, mtu = 0;
	bool has_slot = false;
	int ret;

	config_net_defaults(n);
	if ((ret = net_vhost(f, n, fds_ok)))
		return ret;
	if ((ret = jf_str(f, "tap", &n->tap)) || (ret = jf_str(f, "ip", &n->ip)) ||
	    (ret = jf_str(f, "mask", &n->mask)) || (ret = jf_mac(f, "mac", n->mac, &n->mac_set)) ||
	    (ret = jf_mac(f, "host_mac", n->host_mac, &n->host_mac_set)) ||
	    (ret = jf_u64(f, "mtu", UINT16_MAX, &mtu, NULL)) || (ret = jf_bool(f, "iommu", &n->iommu)) ||
	    (ret = jf_u64(f, "num_queues", UINT32_MAX, &nq, NULL)) ||
	    (ret = jf_u64(f, "queue_size", UINT16_MAX, &qs, NULL)) ||
	    (ret = jf_str(f, "id", &n->id)) ||
	    (ret = jf_bool(f, "offload_tso", &n->offload_tso)) ||
	    (ret = jf_bool(f, "offload_ufo", &n->offload_ufo)) ||
	    (ret = jf_bool(f, "offload_csum", &n->offload_csum)) ||
	    (ret = jf_u64(f, "pci_segment", UINT16_MAX, &seg, NULL)) ||
	    (ret = jf_u64(f, "pci_device_id", UINT8_MAX, &slot, &has_slot)))
		return ret;
	if (n->tap && !*n->tap) {
		free(n->tap);
		n->tap = NULL;                 /* CH: an empty tap name creates one */
	}
	n->mtu = (unsigned)mtu;
	n->num_queues = (unsigned)nq;
	n->queue_size = (unsigned)qs;
	n->pci_segment = (uint16_t)seg;
	if (has_slot)
		n->pci_device_id = (int)slot;
	return parse_rate_limiter(f, &n->rate_limiter);
}

/* vm.add-net: the descriptors that came with the request become the net's (CH's rule). */
static int take_fds(struct jfield *f, struct net_config *net, int *fds, unsigned nr_fds)
{
	const cJSON *body_fds;
	int ret = jf_get(f, "fds", &body_fds);

	if (ret)
		return ret;
	if (!nr_fds)
		return body_fds ? jf_fail(f, "fds", "no file descriptors came with the request "
					 "(send them with SCM_RIGHTS)") : 0;
	if (net->tap)
		return jf_fail(f, "tap", "give either tap or file descriptors");
	net->fds = malloc(nr_fds * sizeof(int));
	if (!net->fds)
		return -ENOMEM;
	memcpy(net->fds, fds, nr_fds * sizeof(int));
	net->nr_fds = nr_fds;
	net->fds_owned = true;
	return 0;
}

int api_net_from_json(const cJSON *json, int *fds, unsigned nr_fds, struct net_config *net,
		      char *err, size_t errlen)
{
	struct jfield f = { .obj = json, .ctx = "", .err = err, .errlen = errlen };
	int ret;

	config_net_defaults(net);
	if (!jf_is_object(json))
		return jf_fail(&f, "", "invalid type: expected a NetConfig object");
	ret = parse_net(&f, net, true);
	ret = ret ?: take_fds(&f, net, fds, nr_fds);
	if (ret)
		config_net_free(net);
	return ret;
}

/* config.json's "fds" of a net whose taps were descriptors: placeholders for net_fds. */
static int stale_fds(struct jfield *f, struct net_config *n)
{
	const cJSON *arr;
	int ret = jf_get(f, "fds", &arr);

	if (ret || !arr)
		return ret;
	if (!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr) ||
	    cJSON_GetArraySize(arr) > CONFIG_NET_MAX_PAIRS)
		return jf_fail(f, "fds", "expected an array of 1-%u descriptors",
			       CONFIG_NET_MAX_PAIRS);
	n->nr_fds = (unsigned)cJSON_GetArraySize(arr);
	n->fds = malloc(n->nr_fds * sizeof(int));
	if (!n->fds)
		return -ENOMEM;
	for (unsigned i = 0; i < n->nr_fds; i++)
		n->fds[i] = -1;
	return 0;
}

static int parse_nets(struct jfield *top, struct vm_config *cfg, bool snapshot)
{
	const cJSON *arr;
	unsigned n;
	int ret = jf_get(top, "net", &arr);

	if (ret || !arr)
		return ret;
	if (!cJSON_IsArray(arr))
		return jf_fail(top, "net", "invalid type: expected an array");
	n = (unsigned)cJSON_GetArraySize(arr);
	if (!n)
		return 0;
	cfg->nets = calloc(n, sizeof(*cfg->nets));
	if (!cfg->nets)
		return -ENOMEM;
	for (const cJSON *it = arr->child; it; it = it->next) {
		struct net_config *nc = &cfg->nets[cfg->nr_nets++];
		char ctx[32];
		struct jfield f = sub(top, it, msg_fmt(ctx, sizeof(ctx), "net[%u]", cfg->nr_nets - 1));

		config_net_defaults(nc);
		if (!cJSON_IsObject(it))
			return jf_fail(&f, "", "invalid type: expected a NetConfig object");
		if ((ret = parse_net(&f, nc, snapshot)) || (snapshot && (ret = stale_fds(&f, nc))))
			return ret;
	}
	return 0;
}

/*
 * platform.num_pci_segments (1-16) and pci_segments[]: every segment gets an equal share of
 * both windows, so a segment below num_pci_segments with weights 1 (CH's default) is
 * accepted; other weights are refused rather than ignored.
 */
static int parse_platform(struct jfield *top, struct vm_config *cfg)
{
	struct jfield f;
	const cJSON *plat;
	uint64_t n;
	bool has;
	int ret = get_object(top, "platform", &plat);

	if (ret || !plat)
		return ret;
	f = sub(top, plat, "platform");
	ret = jf_u64(&f, "num_pci_segments", UINT16_MAX, &n, &has);
	if (!ret && has && (n < 1 || n > CONFIG_MAX_PCI_SEGMENTS))
		return jf_fail(&f, "num_pci_segments", "must be between 1 and 16");
	if (!ret && has)
		cfg->num_pci_segments = (unsigned)n;
	return ret;
}

static int parse_segments(struct jfield *top, struct vm_config *cfg)
{
	const cJSON *arr, *it;
	uint64_t seg, w;
	unsigned i = 0;
	char ctx[40];
	int ret = parse_platform(top, cfg) ?: jf_get(top, "pci_segments", &arr);

	if (!ret && arr && !cJSON_IsArray(arr))
		return jf_fail(top, "pci_segments", "invalid type: expected an array");
	for (it = arr ? arr->child : NULL; !ret && it; it = it->next, i++) {
		struct jfield f = sub(top, it, msg_fmt(ctx, sizeof(ctx), "pci_segments[%u]", i));
		bool has;

		if (!cJSON_IsObject(it))
			return jf_fail(&f, "", "invalid type: expected a PciSegmentConfig object");
		ret = jf_u64(&f, "pci_segment", UINT16_MAX, &seg, &has);
		if (!ret && !has)
			return jf_fail(&f, "pci_segment", "missing field");
		if (!ret && seg >= config_pci_segments(cfg))
			return jf_fail(&f, "pci_segment", "not below platform.num_pci_segments");
		ret = ret ?: jf_u64(&f, "mmio32_aperture_weight", UINT32_MAX, &w, &has);
		if (!ret && has && w != 1 && config_pci_segments(cfg) > 1)
			return jf_fail(&f, "mmio32_aperture_weight", "vireo divides the windows "
				       "equally (weight 1)");
		ret = ret ?: jf_u64(&f, "mmio64_aperture_weight", UINT32_MAX, &w, &has);
		if (!ret && has && w != 1 && config_pci_segments(cfg) > 1)
			return jf_fail(&f, "mmio64_aperture_weight", "vireo divides the windows "
				       "equally (weight 1)");
	}
	return ret;
}

/* CH's defaults for a VmConfig given as JSON, where they differ from the CLI's. */
static int json_defaults(struct vm_config *cfg)
{
	return config_init_defaults(cfg);    /* CLI and JSON share CH's defaults */
}

static int parse_rng(struct jfield *top, struct vm_config *cfg)
{
	struct jfield f;
	const cJSON *o;
	int ret = get_object(top, "rng", &o);

	if (ret || !o)
		return ret;
	f = sub(top, o, "rng");
	if ((ret = require(&f, "src")))
		return ret;
	return jf_str(&f, "src", &cfg->rng.src);
}

/* VsockConfig {cid, socket, iommu, id, pci_segment}: cid and socket required, as in CH. */
static int parse_vsock_fields(struct jfield *f, struct vsock_config *v)
{
	uint64_t seg = 0;
	int ret;

	if ((ret = api_refuse_vsock_fields(f)) || (ret = require(f, "cid")) ||
	    (ret = require(f, "socket")) ||
	    (ret = jf_u64(f, "cid", UINT64_MAX, &v->cid, NULL)) ||
	    (ret = jf_str(f, "socket", &v->socket)) || (ret = jf_bool(f, "iommu", &v->iommu)) ||
	    (ret = jf_str(f, "id", &v->id)) ||
	    (ret = jf_u64(f, "pci_segment", UINT16_MAX, &seg, NULL)))
		return ret;
	if (v->iommu)
		return jf_fail(f, "iommu", "not supported by vireo (no virtual IOMMU)");
	v->pci_segment = (uint16_t)seg;
	v->set = true;
	return 0;
}

static int parse_vsock(struct jfield *top, struct vm_config *cfg)
{
	struct jfield f;
	const cJSON *o;
	int ret = get_object(top, "vsock", &o);

	if (ret || !o)
		return ret;
	f = sub(top, o, "vsock");
	return parse_vsock_fields(&f, &cfg->vsock);
}

int api_vsock_from_json(const cJSON *json, struct vsock_config *v, char *err, size_t errlen)
{
	struct jfield f = { .obj = json, .ctx = "", .err = err, .errlen = errlen };
	int ret;

	memset(v, 0, sizeof(*v));
	if (!jf_is_object(json))
		return jf_fail(&f, "", "invalid type: expected a VsockConfig object");
	ret = parse_vsock_fields(&f, v);
	if (ret)
		config_vsock_free(v);
	return ret;
}

static int config_from_json(const cJSON *json, struct vm_config *cfg, char *err, size_t errlen,
			    bool snapshot)
{
	struct jfield top = { .obj = json, .ctx = "", .err = err, .errlen = errlen };
	int ret;

	if (json_defaults(cfg)) {
		ret = -ENOMEM;
		goto fail;
	}
	if (!jf_is_object(json))
		return jf_fail(&top, "", "invalid type: expected a VmConfig object");
	if ((ret = api_refuse_unsupported(&top)))
		goto fail;
	if ((ret = parse_payload(&top, cfg)) || (ret = parse_cpus(&top, cfg)) ||
	    (ret = parse_memory(&top, cfg)) || (ret = parse_console(&top, "serial", &cfg->serial)) ||
	    (ret = parse_console(&top, "console", &cfg->console)) || (ret = parse_disks(&top, cfg)) ||
	    (ret = parse_nets(&top, cfg, snapshot)) || (ret = parse_rng(&top, cfg)) || (ret = parse_segments(&top, cfg)))
		goto fail;
	if ((ret = parse_vsock(&top, cfg)) || (ret = api_parse_fs_list(&top, cfg)))
		goto fail;
	if (!cfg->cmdline && !(cfg->cmdline = strdup(""))) {
		ret = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	if (ret == -ENOMEM)
		msg_fmt(err, errlen, "out of memory");
	config_free(cfg);
	return ret;
}

int api_config_from_json(const cJSON *json, struct vm_config *cfg, char *err, size_t errlen)
{
	return config_from_json(json, cfg, err, errlen, false);
}

int api_config_from_snapshot_json(const cJSON *json, struct vm_config *cfg, char *err,
				  size_t errlen)
{
	return config_from_json(json, cfg, err, errlen, true);
}
