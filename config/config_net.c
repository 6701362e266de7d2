// SPDX-License-Identifier: Apache-2.0
/*
 * Network devices in Cloud Hypervisor's terms: the --net key=value list (with its bracketed
 * fd=[3,4]) and the checks every NetConfig passes at boot, from the command line or the API.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config.h"
#include "base/log.h"

void config_net_defaults(struct net_config *n)
{
	memset(n, 0, sizeof(*n));
	n->num_queues = 2;
	n->queue_size = 256;
	n->pci_device_id = -1;
	n->offload_tso = n->offload_ufo = n->offload_csum = true;
}

void config_net_free(struct net_config *n)
{
	free(n->tap);
	free(n->ip);
	free(n->mask);
	free(n->id);
	free(n->vhost_socket);
	for (unsigned i = 0; n->fds_owned && i < n->nr_fds; i++)
		close(n->fds[i]);
	free(n->fds);
	memset(n, 0, sizeof(*n));
}

int config_add_net(struct vm_config *cfg, const struct net_config *n)
{
	struct net_config *nets = realloc(cfg->nets, (cfg->nr_nets + 1) * sizeof(*nets));

	if (!nets)
		return -ENOMEM;
	nets[cfg->nr_nets++] = *n;
	cfg->nets = nets;
	return 0;
}

bool config_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
				      &v[4], &v[5], &end) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		if (s[3 * i] == '+' || s[3 * i] == '-' || s[3 * i] == ' ')
			return false;
		mac[i] = (uint8_t)v[i];
	}
	return true;
}

bool config_id_in_use(const struct vm_config *cfg, const char *id, int self)
{
	if (cfg->vsock.set && cfg->vsock.id && !strcmp(cfg->vsock.id, id))
		return true;
	if (config_fs_id_in_use(cfg, id, -1))
		return true;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if (cfg->disks[i].id && !strcmp(cfg->disks[i].id, id))
			return true;
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if ((int)i != self && cfg->nets[i].id && !strcmp(cfg->nets[i].id, id))
			return true;
	return false;
}

bool config_slot_in_use(const struct vm_config *cfg, int slot, int self)
{
	for (unsigned i = 0; slot > 0 && i < cfg->nr_disks; i++)
		if (cfg->disks[i].pci_device_id == slot)
			return true;
	for (unsigned i = 0; slot > 0 && i < cfg->nr_nets; i++)
		if ((int)i != self && cfg->nets[i].pci_device_id == slot)
			return true;
	return false;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return s && inet_pton(AF_INET, s, &a) == 1;
}

static int check_shape(const struct net_config *n, unsigned i, char *err, size_t errlen)
{
	unsigned qs = n->queue_size;

	if (n->num_queues < 2 || n->num_queues % 2 || n->num_queues > 2 * CONFIG_NET_MAX_PAIRS)
		return set_err(err, errlen, -EINVAL, "net[%u].num_queues: %u must be 2, 4, 6 or 8 "
			       "(2 per queue pair, at most %u pairs)", i, n->num_queues,
			       CONFIG_NET_MAX_PAIRS);
	if (n->rate_limiter.set && n->num_queues > 2 * CONFIG_NET_MAX_PAIRS_RL)
		return set_err(err, errlen, -EINVAL, "net[%u].num_queues: at most %u with a rate "
			       "limiter (%u queue pairs)", i, 2 * CONFIG_NET_MAX_PAIRS_RL,
			       CONFIG_NET_MAX_PAIRS_RL);
	if (n->nr_fds && n->num_queues != 2 * n->nr_fds)
		return set_err(err, errlen, -EINVAL, "net[%u].num_queues: %u, but %u fds were given "
			       "(one per queue pair)", i, n->num_queues, n->nr_fds);
	if (qs < 2 || qs > 32768 || (qs & (qs - 1)))
		return set_err(err, errlen, -EINVAL, "net[%u].queue_size: must be a power of two "
			       "between 2 and 32768", i);
	if (n->mtu && (n->mtu < 68 || n->mtu > 65535))
		return set_err(err, errlen, -EINVAL, "net[%u].mtu: %u is outside 68-65535", i, n->mtu);
	if (n->ip && !is_ipv4(n->ip))
		return set_err(err, errlen, -EINVAL, "net[%u].ip: '%s' is not an IPv4 address", i,
			       n->ip);
	if (n->mask && !is_ipv4(n->mask))
		return set_err(err, errlen, -EINVAL, "net[%u].mask: '%s' is not an IPv4 address", i,
			       n->mask);
	if (n->mac_set && (n->mac[0] & 1))
		return set_err(err, errlen, -EINVAL, "net[%u].mac: a multicast address", i);
	return 0;
}

/* vhost_user: the backend owns the packets; what only a tap honours is refused. */
static int check_vhost_user(const struct vm_config *cfg, const struct net_config *n, unsigned i,
			    char *err, size_t errlen)
{
	if (!n->vhost_socket || !*n->vhost_socket)
		return set_err(err, errlen, -EINVAL, "net[%u].vhost_socket: missing (vhost_user)", i);
	if (n->tap || n->nr_fds || n->ip || n->mask || n->host_mac_set || n->rate_limiter.set)
		return set_err(err, errlen, -EINVAL, "net[%u]: tap, fds, ip, mask, host_mac and "
			       "rate_limiter_config do not apply to a vhost_user net", i);
	if (n->vhost_server)
		return set_err(err, errlen, -EINVAL, "net[%u].vhost_mode: Server is not supported "
			       "by vireo (the backend listens: Client)", i);
	if (n->num_queues != 2)
		return set_err(err, errlen, -EINVAL, "net[%u].num_queues: a vhost_user net has one "
			       "queue pair in vireo (2)", i);
	if (!cfg->memory_shared)
		return set_err(err, errlen, -EINVAL, "net[%u]: vhost-user devices need "
			       "memory.shared=on (--memory shared=on)", i);
	return 0;
}

int config_validate_net(const struct vm_config *cfg, unsigned i, char *err, size_t errlen)
{
	const struct net_config *n = &cfg->nets[i];
	int ret = check_shape(n, i, err, errlen);

	if (ret)
		return ret;
	if (n->vhost_user && (ret = check_vhost_user(cfg, n, i, err, errlen)))
		return ret;
	if (!n->vhost_user && n->vhost_socket)
		return set_err(err, errlen, -EINVAL, "net[%u].vhost_socket: needs vhost_user", i);
	if (n->nr_fds && n->tap)
		return set_err(err, errlen, -EINVAL, "net[%u].tap: give either tap or fds", i);
	if (n->iommu)
		return set_err(err, errlen, -EINVAL, "net[%u].iommu: vireo has no virtual IOMMU", i);
	if (n->pci_segment >= config_pci_segments(cfg))
		return set_err(err, errlen, -EINVAL, "net[%u].pci_segment: %u is not below "
			       "platform.num_pci_segments (%u)", i, n->pci_segment,
			       config_pci_segments(cfg));
	if (n->pci_device_id == 0 || n->pci_device_id > 31)
		return set_err(err, errlen, -EINVAL, "net[%u].pci_device_id: must be between 1 and 31 "
			       "(0 is the host bridge)", i);
	if (n->id && !strncmp(n->id, "__", 2))
		return set_err(err, errlen, -EINVAL, "net[%u].id: '%s' must not start with '__'", i,
			       n->id);
	if (n->id && config_id_in_use(cfg, n->id, (int)i))
		return set_err(err, errlen, -EEXIST, "net[%u].id: identifier '%s' is not unique", i,
			       n->id);
	for (unsigned k = 0; k < n->nr_fds; k++)
		if (n->fds[k] < 0)
			return set_err(err, errlen, -EINVAL, "net[%u].fds: the snapshot's taps were "
				       "file descriptors: give new ones with net_fds", i);
	if (config_slot_in_use(cfg, n->pci_device_id, (int)i))
		return set_err(err, errlen, -EEXIST, "net[%u].pci_device_id: slot %d is already used",
			       i, n->pci_device_id);
	return 0;
}

/* ------------------------------------------------------------------ --net */

/* fd=[3,4] (or fd=3): descriptors above stderr, as Cloud Hypervisor requires. */
static int parse_fds(const char *val, struct net_config *n, char *err, size_t errlen)
{
	char *copy = strdup(val), *p, *save = NULL, *tok;
	size_t len = strlen(val);
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	p = copy;
	if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
		p[len - 1] = '\0';
		p++;
	}
	free(n->fds);
	n->fds = NULL;
	n->nr_fds = 0;
	for (tok = strtok_r(p, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		uint64_t fd;
		int *fds;

		ret = config_parse_num("--net", "fd", tok, INT32_MAX, &fd, err, errlen);
		if (!ret && fd <= 2)
			ret = set_err(err, errlen, -EINVAL, "--net: fd=%" PRIu64 " is stdin, stdout or "
				      "stderr", fd);
		if (ret)
			break;
		fds = realloc(n->fds, (n->nr_fds + 1) * sizeof(*fds));
		if (!fds) {
			ret = -ENOMEM;
			break;
		}
		n->fds = fds;
		n->fds[n->nr_fds++] = (int)fd;
	}
	if (!ret && !n->nr_fds)
		ret = set_err(err, errlen, -EINVAL, "--net: fd= lists no descriptor");
	free(copy);
	return ret;
}

static int net_mac(const char *key, const char *val, uint8_t *mac, bool *set, char *err,
		   size_t errlen)
{
	if (!config_parse_mac(val, mac))
		return set_err(err, errlen, -EINVAL, "--net: %s='%s' is not a MAC like "
			       "52:54:00:12:34:56", key, val);
	*set = true;
	return 0;
}

static int net_numbers(struct net_config *n, const char *key, const char *val, char *err,
		       size_t errlen)
{
	uint64_t v;
	int ret;

	if (!strcmp(key, "pci_device_id")) {
		if (!(ret = config_parse_num("--net", key, val, 255, &v, err, errlen)))
			n->pci_device_id = (int)v;
		return ret;
	}
	if ((ret = config_parse_num("--net", key, val, UINT16_MAX, &v, err, errlen)))
		return ret;
	if (!strcmp(key, "mtu"))
		n->mtu = (unsigned)v;
	else if (!strcmp(key, "num_queues"))
		n->num_queues = (unsigned)v;
	else if (!strcmp(key, "queue_size"))
		n->queue_size = (unsigned)v;
	else
		n->pci_segment = (uint16_t)v;
	return 0;
}

/* bw_* and ops_*: one field of one of the two token buckets (CH's keys, as --disk). */
static int net_bucket_kv(struct net_config *n, const char *key, const char *val, char *err,
			 size_t errlen)
{
	struct token_bucket *b = key[0] == 'b' ? &n->rate_limiter.bandwidth
					       : &n->rate_limiter.ops;
	const char *field = strchr(key, '_') + 1;
	uint64_t *dst = !strcmp(field, "size") ? &b->size :
			!strcmp(field, "one_time_burst") ? &b->one_time_burst :
			!strcmp(field, "refill_time") ? &b->refill_time : NULL;
	int ret;

	if (!dst)
		return set_err(err, errlen, -EINVAL, "--net: unknown key '%s'", key);
	ret = config_parse_num("--net", key, val, UINT64_MAX, dst, err, errlen);
	if (!ret)
		b->set = n->rate_limiter.set = true;
	return ret;
}

static int net_vhost_mode(const char *val, struct net_config *n, char *err, size_t errlen)
{
	if (strcasecmp(val, "client") && strcasecmp(val, "server"))
		return set_err(err, errlen, -EINVAL, "--net: vhost_mode '%s': client or server", val);
	n->vhost_server = !strcasecmp(val, "server");
	return 0;
}

static int net_kv(void *ctx, const char *key, const char *val, char *err,
		  size_t errlen)
{
	struct net_config *n = ctx;
	static const char *const numbers[] = { "mtu", "num_queues", "queue_size", "pci_segment",
					       "pci_device_id", NULL };

	if (!strcmp(key, "tap"))
		return *val ? config_set_str(&n->tap, val) : 0;        /* empty: create one */
	if (!strcmp(key, "ip"))
		return config_set_str(&n->ip, val);
	if (!strcmp(key, "mask"))
		return config_set_str(&n->mask, val);
	if (!strcmp(key, "id"))
		return config_set_str(&n->id, val);
	if (!strcmp(key, "mac"))
		return net_mac(key, val, n->mac, &n->mac_set, err, errlen);
	if (!strcmp(key, "host_mac"))
		return net_mac(key, val, n->host_mac, &n->host_mac_set, err, errlen);
	if (!strcmp(key, "fd"))
		return parse_fds(val, n, err, errlen);
	if (!strcmp(key, "iommu"))
		return config_option_bool("--net", key, val, &n->iommu, err, errlen);
	if (!strcmp(key, "vhost_user"))
		return config_option_bool("--net", key, val, &n->vhost_user, err, errlen);
	if (!strcmp(key, "socket"))
		return config_set_str(&n->vhost_socket, val);
	if (!strcmp(key, "vhost_mode"))
		return net_vhost_mode(val, n, err, errlen);
	if (!strcmp(key, "offload_tso"))
		return config_option_bool("--net", key, val, &n->offload_tso, err, errlen);
	if (!strcmp(key, "offload_ufo"))
		return config_option_bool("--net", key, val, &n->offload_ufo, err, errlen);
	if (!strcmp(key, "offload_csum"))
		return config_option_bool("--net", key, val, &n->offload_csum, err, errlen);
	for (unsigned i = 0; numbers[i]; i++)
		if (!strcmp(key, numbers[i]))
			return net_numbers(n, key, val, err, errlen);
	if (!strncmp(key, "bw_", 3) || !strncmp(key, "ops_", 4))
		return net_bucket_kv(n, key, val, err, errlen);
	return set_err(err, errlen, -EINVAL, "--net: unknown key '%s'", key);
}

char *config_item_end(char *s)
{
	int depth = 0;

	for (; *s; s++) {
		if (*s == '[')
			depth++;
		else if (*s == ']' && depth)
			depth--;
		else if (*s == ',' && !depth)
			return s;
	}
	return s;
}

int config_parse_net(const char *s, struct net_config *n, char *err, size_t errlen)
{
	int ret;

	config_net_defaults(n);
	ret = config_parse_kv("--net", s, net_kv, n, err, errlen);
	if (!ret && config_rate_limit_incomplete(&n->rate_limiter))
		ret = set_err(err, errlen, -EINVAL, "--net: a rate limit needs its *_refill_time");
	if (ret)
		config_net_free(n);
	return ret;
}

/* ------------------------------------------------------------------ restore's net_fds */

void config_net_fds_free(struct net_fds_subst *s, unsigned n)
{
	for (unsigned i = 0; s && i < n; i++) {
		for (unsigned k = 0; s[i].fds && s[i].owned && k < s[i].nr_fds; k++)
			close(s[i].fds[k]);
		free(s[i].fds);
		free(s[i].id);
	}
	free(s);
}

int config_substitute_net_fds(struct vm_config *cfg, struct net_fds_subst *s, unsigned n,
			      char *err, size_t errlen)
{
	for (unsigned i = 0; i < n; i++) {
		struct net_config *net = NULL;

		for (unsigned k = 0; k < cfg->nr_nets && !net; k++)
			if (cfg->nets[k].id && !strcmp(cfg->nets[k].id, s[i].id))
				net = &cfg->nets[k];
		if (!net)
			return set_err(err, errlen, -EINVAL, "net_fds: no net has id '%s'", s[i].id);
		if (!net->nr_fds)
			return set_err(err, errlen, -EINVAL, "net_fds: net '%s' did not use file "
				       "descriptors (it opens tap '%s' itself)", s[i].id,
				       net->tap ? net->tap : "");
		if (net->nr_fds != s[i].nr_fds)
			return set_err(err, errlen, -EINVAL, "net_fds: net '%s' had %u file "
				       "descriptors, %u given", s[i].id, net->nr_fds, s[i].nr_fds);
		free(net->fds);
		net->fds = s[i].fds;
		net->fds_owned = s[i].owned;
		s[i].fds = NULL;
	}
	return 0;
}

/* One "id@[fd,fd]" item. */
static int net_fds_item(char *item, struct net_fds_subst *s, char *err, size_t errlen)
{
	char *at = strchr(item, '@');
	struct net_config tmp;
	int ret;

	if (!at || at == item)
		return set_err(err, errlen, -EINVAL, "--restore: net_fds item '%s' is not "
			       "id@[fd,...]", item);
	*at = '\0';
	config_net_defaults(&tmp);
	if ((ret = parse_fds(at + 1, &tmp, err, errlen))) {
		free(tmp.fds);             /* those parsed before the bad one */
		return ret;
	}
	s->id = strdup(item);
	s->fds = tmp.fds;
	s->nr_fds = tmp.nr_fds;
	return s->id ? 0 : -ENOMEM;
}

int config_parse_net_fds(const char *str, struct net_fds_subst **out, unsigned *n, char *err,
			 size_t errlen)
{
	size_t len = strlen(str);
	char *copy = strdup(str), *item, *next;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!copy)
		return -ENOMEM;
	item = copy;
	if (len >= 2 && copy[0] == '[' && copy[len - 1] == ']') {
		copy[len - 1] = '\0';
		item++;
	}
	for (; !ret && *item; item = next) {
		char *end = config_item_end(item);
		struct net_fds_subst *grown = realloc(*out, (*n + 1) * sizeof(**out));

		next = *end ? end + 1 : end;
		*end = '\0';
		if (!grown) {
			ret = -ENOMEM;
			break;
		}
		*out = grown;
		memset(&grown[*n], 0, sizeof(grown[*n]));
		ret = net_fds_item(item, &grown[(*n)++], err, errlen);
	}
	free(copy);
	if (ret) {
		config_net_fds_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return ret;
}
