// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock in Cloud Hypervisor's terms: the --vsock key=value list (cid, socket, id,
 * pci_segment, iommu) and the checks a VsockConfig passes at boot, whether it came from the
 * command line or from the API.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"

#define VSOCK_MIN_CID 3                /* virtio 1.2 5.10.4: 0-2 are reserved */
#define VSOCK_MAX_CID (UINT32_MAX - 1) /* -1 is VMADDR_CID_ANY */

int config_validate_vsock(const struct vm_config *cfg, char *err, size_t errlen)
{
	const struct vsock_config *v = &cfg->vsock;

	if (!v->set)
		return 0;
	if (v->cid < VSOCK_MIN_CID || v->cid > VSOCK_MAX_CID)
		return set_err(err, errlen, -EINVAL, "vsock.cid: %" PRIu64 " is outside %u-%u "
			       "(0-2 are reserved)", v->cid, VSOCK_MIN_CID, VSOCK_MAX_CID);
	if (!v->socket || !*v->socket)
		return set_err(err, errlen, -EINVAL, "vsock.socket: missing");
	if (v->iommu)
		return set_err(err, errlen, -EINVAL, "vsock.iommu: not supported by vireo (no "
			       "virtual IOMMU)");
	if (v->pci_segment >= config_pci_segments(cfg))
		return set_err(err, errlen, -EINVAL, "vsock.pci_segment: %u is not below "
			       "platform.num_pci_segments (%u)", v->pci_segment,
			       config_pci_segments(cfg));
	if (v->id && !strncmp(v->id, "__", 2))
		return set_err(err, errlen, -EINVAL, "vsock.id: '%s' must not start with '__'",
			       v->id);
	for (unsigned i = 0; v->id && i < cfg->nr_disks; i++)
		if (cfg->disks[i].id && !strcmp(cfg->disks[i].id, v->id))
			return set_err(err, errlen, -EEXIST, "vsock.id: identifier '%s' is not "
				       "unique", v->id);
	return 0;
}

static int vsock_kv(void *ctx, const char *key, const char *val, char *err,
		    size_t errlen)
{
	struct vsock_config *v = ctx;
	uint64_t n;
	int ret;

	if (!strcmp(key, "socket"))
		return config_set_str(&v->socket, val);
	if (!strcmp(key, "id"))
		return config_set_str(&v->id, val);
	if (!strcmp(key, "cid"))
		return config_parse_num("--vsock", key, val, UINT64_MAX, &v->cid, err, errlen);
	if (!strcmp(key, "pci_segment")) {
		ret = config_parse_num("--vsock", key, val, UINT16_MAX, &n, err, errlen);
		v->pci_segment = (uint16_t)n;
		return ret;
	}
	if (!strcmp(key, "iommu")) {
		if (!config_parse_bool(val, &v->iommu))
			return set_err(err, errlen, -EINVAL, "--vsock: iommu='%s' is not on or off",
				       val);
		return 0;
	}
	return set_err(err, errlen, -EINVAL, "--vsock: unknown key '%s' (supported: cid, socket, "
		       "id, pci_segment, iommu)", key);
}

int config_parse_vsock(const char *s, struct vsock_config *out, char *err, size_t errlen)
{
	struct vsock_config v = { .set = true };
	int ret = config_parse_kv("--vsock", s, vsock_kv, &v, err, errlen);

	if (!ret && !v.socket)
		ret = set_err(err, errlen, -EINVAL, "--vsock: socket= is required");
	if (!ret && !v.cid)
		ret = set_err(err, errlen, -EINVAL, "--vsock: cid= is required");
	if (ret) {
		config_vsock_free(&v);
		return ret;
	}
	config_vsock_free(out);                /* a second --vsock replaces the first */
	*out = v;
	return 0;
}

void config_vsock_free(struct vsock_config *v)
{
	free(v->socket);
	free(v->id);
	memset(v, 0, sizeof(*v));
}
