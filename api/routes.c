// SPDX-License-Identifier: Apache-2.0
/*
 * The route table and request bodies. Routes are exact matches of "/api/v1/<name>" (Cloud
 * Hypervisor's HTTP_ROUTES); GET only for vmm.ping, vm.info and vm.counters. Which action
 * each VM state allows is the VMM's (vmm/state.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"

#define API_ROOT "/api/v1/"

static const struct api_route routes[] = {
	{ API_ROOT "vmm.ping",               "GET", API_VMM_PING,         BODY_IGNORED,  HANDLE_PING },
	{ API_ROOT "vmm.shutdown",           "PUT", API_VMM_SHUTDOWN,     BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.create",              "PUT", API_VM_CREATE,        BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.delete",              "PUT", API_VM_DELETE,        BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.boot",                "PUT", API_VM_BOOT,          BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.info",                "GET", API_VM_INFO,          BODY_IGNORED,  HANDLE_INFO },
	{ API_ROOT "vm.counters",            "GET", API_VM_COUNTERS,      BODY_IGNORED,  HANDLE_QUEUE },
	{ API_ROOT "vm.pause",               "PUT", API_VM_PAUSE,         BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.resume",              "PUT", API_VM_RESUME,        BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.shutdown",            "PUT", API_VM_SHUTDOWN,      BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.reboot",              "PUT", API_VM_REBOOT,        BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.power-button",        "PUT", API_VM_POWER_BUTTON,  BODY_NONE,     HANDLE_QUEUE },
	{ API_ROOT "vm.add-disk",            "PUT", API_VM_ADD_DISK,      BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.add-net",             "PUT", API_VM_ADD_NET,       BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.remove-device",       "PUT", API_VM_REMOVE_DEVICE, BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.snapshot",            "PUT", API_VM_SNAPSHOT,      BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.restore",             "PUT", API_VM_RESTORE,       BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.add-vsock",           "PUT", API_VM_ADD_VSOCK,     BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.resize",              "PUT", API_VM_RESIZE,        BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.add-fs",              "PUT", API_VM_ADD_FS,        BODY_REQUIRED, HANDLE_QUEUE },
};

#define NR_ROUTES (sizeof(routes) / sizeof(routes[0]))

const struct api_route *api_route_find(const char *url)
{
	for (unsigned i = 0; i < NR_ROUTES; i++)
		if (!strcmp(routes[i].path, url))
			return &routes[i];
	return NULL;
}

const char *api_route_path(unsigned i)
{
	return i < NR_ROUTES ? routes[i].path : NULL;
}

const char *api_route_method(unsigned i)
{
	return i < NR_ROUTES ? routes[i].method : NULL;
}

/* ---- request bodies ----------------------------------------------------------------------- */

/* One RestoreConfig.net_fds entry {id, num_fds}; its fds are the next ones the request brought. */
static int net_fds_entry(struct jfield *f, struct api_request *req, unsigned *used,
			 struct net_fds_subst *s)
{
	uint64_t num;
	bool has;
	int ret = jf_str(f, "id", &s->id);

	ret = ret ?: jf_u64(f, "num_fds", CONFIG_NET_MAX_PAIRS, &num, &has);
	if (!ret && !s->id)
		return jf_fail(f, "id", "missing field");
	if (!ret && (!has || !num))
		return jf_fail(f, "num_fds", "missing or 0");
	if (ret)
		return ret;
	if (req->nr_fds - *used < num)
		return jf_fail(f, "num_fds", "%u file descriptors came with the request, fewer than "
			       "net_fds names", req->nr_fds);
	s->fds = malloc(num * sizeof(int));
	if (!s->fds)
		return -ENOMEM;
	memcpy(s->fds, req->fds + *used, num * sizeof(int));
	s->nr_fds = (unsigned)num;      /* owned once every entry parsed: until then req's */
	*used += (unsigned)num;
	return 0;
}

/* RestoreConfig.net_fds: the request's fds, in order, split by net id (ch-api.md). */
static int parse_net_fds(struct jfield *f, struct api_request *req)
{
	const cJSON *arr, *it;
	unsigned used = 0, i = 0;
	char ctx[32];
	int ret = jf_get(f, "net_fds", &arr);

	if (!ret && arr && !cJSON_IsArray(arr))
		return jf_fail(f, "net_fds", "invalid type: expected an array");
	if (!ret && arr && !(req->restore.net_fds = calloc((size_t)cJSON_GetArraySize(arr) + 1,
							     sizeof(*req->restore.net_fds))))
		return -ENOMEM;
	for (it = arr ? arr->child : NULL; !ret && it; it = it->next, i++) {
		struct jfield e = { .obj = it, .ctx = msg_fmt(ctx, sizeof(ctx), "net_fds[%u]", i),
				    .err = f->err, .errlen = f->errlen };

		req->restore.nr_net_fds = i + 1;
		ret = cJSON_IsObject(it) ? net_fds_entry(&e, req, &used, &req->restore.net_fds[i])
					 : jf_fail(&e, "", "invalid type: expected an object");
	}
	if (!ret && used != req->nr_fds)
		ret = jf_fail(f, "net_fds", "names %u file descriptors, %u came with the request",
			      used, req->nr_fds);
	if (!ret && req->nr_fds) {       /* now the net_fds entries' own */
		for (i = 0; i < req->restore.nr_net_fds; i++)
			req->restore.net_fds[i].owned = true;
		free(req->fds);
		req->fds = NULL;
		req->nr_fds = 0;
	}
	return ret;
}

/*
 * VmSnapshotConfig {destination_url} and RestoreConfig {source_url, prefault, resume,
 * memory_restore_mode}. The URL's scheme is checked by the VMM (its error names the URL).
 */
static int parse_snapshot_body(enum api_action a, struct jfield *f, struct api_request *req)
{
	const char *key = a == API_VM_SNAPSHOT ? "destination_url" : "source_url";
	char *mode = NULL;
	int ret;

	if (!jf_is_object(f->obj))
		return jf_fail(f, "", "invalid type: expected a %s object",
			       a == API_VM_SNAPSHOT ? "VmSnapshotConfig" : "RestoreConfig");
	ret = jf_str(f, key, &req->url);
	if (!ret && !req->url)
		ret = jf_fail(f, key, "missing field");
	if (ret || a == API_VM_SNAPSHOT)
		return ret;
	req->restore = (struct api_restore_opts){ .memory_mode = API_RESTORE_ONDEMAND };
	if ((ret = jf_bool(f, "prefault", &req->restore.prefault)) ||
	    (ret = jf_bool(f, "resume", &req->restore.resume)) ||
	    (ret = jf_str(f, "memory_restore_mode", &mode)))
		return ret;
	if (mode && !strcmp(mode, "Copy"))
		req->restore.memory_mode = API_RESTORE_COPY;
	else if (mode && strcmp(mode, "OnDemand"))
		ret = jf_fail(f, "memory_restore_mode", "unknown variant '%.32s', expected Copy or "
			      "OnDemand", mode);
	free(mode);
	return ret ?: parse_net_fds(f, req);
}

/*
 * VmResize {desired_vcpus, desired_ram, desired_balloon}: vireo has no memory hotplug and no
 * balloon, so the memory fields are refused by name rather than ignored.
 */
static int parse_resize(struct jfield *f, struct api_request *req)
{
	const cJSON *it;
	uint64_t n;
	int ret;

	if (!jf_is_object(f->obj))
		return jf_fail(f, "", "invalid type: expected a VmResize object");
	if ((ret = jf_get(f, "desired_ram", &it)) || (it && (ret = jf_fail(f, "desired_ram",
	    "not supported by vireo (no memory hotplug)"))))
		return ret;
	if ((ret = jf_get(f, "desired_balloon", &it)) || (it && (ret = jf_fail(f,
	    "desired_balloon", "not supported by vireo (no balloon device)"))))
		return ret;
	ret = jf_u64(f, "desired_vcpus", 255, &n, &req->resize.has_vcpus);
	if (!ret && req->resize.has_vcpus && !n)
		ret = jf_fail(f, "desired_vcpus", "must be 1 or more");
	req->resize.desired_vcpus = (unsigned)n;
	return ret;
}

static int parse_typed(const struct api_route *r, const cJSON *json, struct api_request *req,
		       char *err, size_t errlen)
{
	struct jfield f = { .obj = json, .ctx = "", .err = err, .errlen = errlen };
	int ret;

	switch (r->action) {
	case API_VM_CREATE:
		req->config = calloc(1, sizeof(*req->config));
		if (!req->config)
			return -ENOMEM;
		return api_config_from_json(json, req->config, err, errlen);
	case API_VM_ADD_DISK:
		req->disk = calloc(1, sizeof(*req->disk));
		if (!req->disk)
			return -ENOMEM;
		return api_disk_from_json(json, req->disk, err, errlen);
	case API_VM_ADD_NET:
		req->net = calloc(1, sizeof(*req->net));
		if (!req->net)
			return -ENOMEM;
		ret = api_net_from_json(json, req->fds, req->nr_fds, req->net, err, errlen);
		if (!ret) {               /* the net owns them now */
			free(req->fds);
			req->fds = NULL;
			req->nr_fds = 0;
		}
		return ret;
	case API_VM_SNAPSHOT:
	case API_VM_RESTORE:
		return parse_snapshot_body(r->action, &f, req);
	case API_VM_ADD_VSOCK:
		req->vsock = calloc(1, sizeof(*req->vsock));
		if (!req->vsock)
			return -ENOMEM;
		return api_vsock_from_json(json, req->vsock, err, errlen);
	case API_VM_RESIZE:
		return parse_resize(&f, req);
	case API_VM_ADD_FS:
		req->fs = calloc(1, sizeof(*req->fs));
		if (!req->fs)
			return -ENOMEM;
		return api_fs_from_json(json, req->fs, err, errlen);
	case API_VM_REMOVE_DEVICE:   /* VmRemoveDevice {id} */
		if (!jf_is_object(json))
			return jf_fail(&f, "", "invalid type: expected a VmRemoveDevice object");
		ret = jf_str(&f, "id", &req->device_id);
		if (!ret && !req->device_id)
			ret = jf_fail(&f, "id", "missing field");
		return ret;
	default:
		return 0;
	}
}

int api_route_parse_body(const struct api_route *r, const char *body, size_t len,
			 struct api_request *req, char **err_body)
{
	char err[512];
	cJSON *json;
	int ret;

	*err_body = NULL;
	ret = api_json_parse(body, len, &json, err, sizeof(err));
	if (!ret) {
		ret = parse_typed(r, json, req, err, sizeof(err));
		cJSON_Delete(json);
	}
	if (!ret)
		return 0;
	api_request_free_payload(req);
	/* CH: HttpError::SerdeJsonDeserialize, answered 400. */
	*err_body = api_error_json("Failed to deserialize JSON",
				   ret == -ENOMEM ? "out of memory" : err, NULL);
	return 400;
}

void api_request_free_payload(struct api_request *req)
{
	if (req->config) {
		config_free(req->config);
		free(req->config);
		req->config = NULL;
	}
	if (req->disk) {
		api_disk_config_free(req->disk);
		free(req->disk);
		req->disk = NULL;
	}
	if (req->net) {
		config_net_free(req->net);
		free(req->net);
		req->net = NULL;
	}
	for (unsigned i = 0; i < req->nr_fds; i++)
		close(req->fds[i]);
	free(req->fds);
	req->fds = NULL;
	req->nr_fds = 0;
	config_net_fds_free(req->restore.net_fds, req->restore.nr_net_fds);
	req->restore.net_fds = NULL;
	req->restore.nr_net_fds = 0;
	if (req->fs) {
		config_fs_free(req->fs);
		free(req->fs);
		req->fs = NULL;
	}
	if (req->vsock) {
		config_vsock_free(req->vsock);
		free(req->vsock);
		req->vsock = NULL;
	}
	free(req->device_id);
	req->device_id = NULL;
	free(req->url);
	req->url = NULL;
}
