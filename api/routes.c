// SPDX-License-Identifier: Apache-2.0
/*
 * The route table and CH's VM state machine. Routes are exact matches of "/api/v1/<name>"
 * (CH's HTTP_ROUTES); GET only for vmm.ping, vm.info and vm.counters. The table of which
 * action each state allows, and what CH answers otherwise, is ch-api.md section 1; the error
 * messages are CH's Display strings (vmm/src/api/mod.rs ApiError, vmm/src/vm.rs Error), in
 * CH's order from the outer error to the root cause, behind HttpError's "Error from API".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	{ API_ROOT "vm.remove-device",       "PUT", API_VM_REMOVE_DEVICE, BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.snapshot",            "PUT", API_VM_SNAPSHOT,      BODY_REQUIRED, HANDLE_QUEUE },
	{ API_ROOT "vm.restore",             "PUT", API_VM_RESTORE,       BODY_REQUIRED, HANDLE_QUEUE },
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

/* ---- state machine ------------------------------------------------------------------------ */

static const char *const state_names[] = {
	[API_STATE_CREATED] = "Created", [API_STATE_RUNNING] = "Running",
	[API_STATE_SHUTDOWN] = "Shutdown", [API_STATE_PAUSED] = "Paused",
	[API_STATE_BREAKPOINT] = "BreakPoint",
};

const char *api_vm_state_name(enum api_vm_state s)
{
	return s > API_STATE_NONE && s <= API_STATE_BREAKPOINT ? state_names[s] : NULL;
}

/* CH's VmState::valid_transition (vmm/src/vm.rs). */
bool api_vm_state_transition_valid(enum api_vm_state from, enum api_vm_state to)
{
	switch (from) {
	case API_STATE_CREATED:
		return to == API_STATE_RUNNING || to == API_STATE_PAUSED || to == API_STATE_SHUTDOWN ||
		       to == API_STATE_BREAKPOINT;
	case API_STATE_RUNNING:
		return to == API_STATE_PAUSED || to == API_STATE_SHUTDOWN || to == API_STATE_BREAKPOINT;
	case API_STATE_PAUSED:
		return to == API_STATE_RUNNING || to == API_STATE_SHUTDOWN;
	case API_STATE_SHUTDOWN:
		return to == API_STATE_RUNNING;
	case API_STATE_BREAKPOINT:
		return to == API_STATE_CREATED || to == API_STATE_RUNNING;
	default:
		return false;
	}
}

/* ApiError's Display for each action (vmm/src/api/mod.rs). */
static const char *const outer_msg[API_ACTION_COUNT] = {
	[API_VMM_SHUTDOWN] = "The VMM could not shutdown",
	[API_VM_CREATE] = "The VM could not be created",
	[API_VM_DELETE] = "The VM could not be deleted",
	[API_VM_BOOT] = "The VM could not boot",
	[API_VM_INFO] = "The VM info is not available",
	[API_VM_COUNTERS] = "The VM info is not available",
	[API_VM_PAUSE] = "The VM could not be paused",
	[API_VM_RESUME] = "The VM could not resume",
	[API_VM_SHUTDOWN] = "The VM could not shutdown",
	[API_VM_REBOOT] = "The VM could not reboot",
	[API_VM_POWER_BUTTON] = "Error triggering power button",
	[API_VM_ADD_DISK] = "The disk could not be added to the VM",
	[API_VM_REMOVE_DEVICE] = "The device could not be removed from the VM",
	[API_VM_SNAPSHOT] = "The VM could not be snapshotted",
	[API_VM_RESTORE] = "The VM could not be restored",
};

static bool booted(enum api_vm_state s)
{
	return s == API_STATE_RUNNING || s == API_STATE_PAUSED || s == API_STATE_BREAKPOINT;
}

static int deny(enum api_action a, int status, char *body, size_t len, const char *cause,
		const char *root)
{
	const char *outer = (unsigned)a < API_ACTION_COUNT ? outer_msg[a] : "Unknown action";
	char *json = api_error_json("Error from API", outer, cause, root, NULL);

	msg_fmt(body, len, "%s", json ? json : "[\"Error from API\"]");
	free(json);
	return status;
}

/* Vm::pause/resume (a VM object exists) when the transition is invalid. */
static int bad_transition(enum api_action a, enum api_vm_state s, enum api_vm_state to,
			  char *body, size_t len)
{
	char why[96];

	msg_fmt(why, sizeof(why), "Invalid transition: InvalidStateTransition(%s, %s)",
		state_names[s], state_names[to]);
	return deny(a, 500, body, len, a == API_VM_PAUSE ? "Cannot pause VM" : "Cannot resume VM",
		    why);
}

static int check_pause_resume(enum api_action a, enum api_vm_state s, char *body, size_t len)
{
	enum api_vm_state to = a == API_VM_PAUSE ? API_STATE_PAUSED : API_STATE_RUNNING;

	if (!booted(s))
		return deny(a, 500, body, len, "VM is not running", NULL);
	if (!api_vm_state_transition_valid(s, to))
		return bad_transition(a, s, to, body, len);
	return 0;
}

/* vm.add-disk / vm.remove-device: a config edit before boot; hotplug does not exist yet. */
static int check_config_edit(enum api_action a, enum api_vm_state s, char *body, size_t len)
{
	if (s == API_STATE_NONE)
		return deny(a, 404, body, len, "VM is not created", NULL);
	if (booted(s))
		return deny(a, 500, body, len, "Device hotplug is not supported by vireo yet", NULL);
	return 0;
}

int api_check_action(enum api_action a, enum api_vm_state s, char *body, size_t len)
{
	switch (a) {
	case API_VMM_PING:
	case API_VMM_SHUTDOWN:
	case API_VM_DELETE:
		return 0;     /* any state: delete shuts a booted VM down first */
	case API_VM_CREATE:
		return s == API_STATE_NONE ? 0 : deny(a, 500, body, len, "VM is already created", NULL);
	case API_VM_BOOT:
		if (s == API_STATE_NONE)
			return deny(a, 404, body, len, "VM config is missing", NULL);
		return booted(s) ? deny(a, 500, body, len, "VM is already created", NULL) : 0;
	case API_VM_INFO:
		return s == API_STATE_NONE ? deny(a, 404, body, len, "VM is not created", NULL) : 0;
	case API_VM_COUNTERS:
	case API_VM_POWER_BUTTON:
		return booted(s) ? 0 : deny(a, 500, body, len, "VM is not running", NULL);
	case API_VM_PAUSE:
	case API_VM_RESUME:
		return check_pause_resume(a, s, body, len);
	case API_VM_SHUTDOWN:
		if (s == API_STATE_BREAKPOINT)
			return bad_transition(a, s, API_STATE_SHUTDOWN, body, len);
		return booted(s) ? 0 : deny(a, 500, body, len, "VM is not running", NULL);
	case API_VM_REBOOT:
		return booted(s) ? 0 : deny(a, 404, body, len, "VM is not created", NULL);
	case API_VM_ADD_DISK:
	case API_VM_REMOVE_DEVICE:
		return check_config_edit(a, s, body, len);
	case API_VM_SNAPSHOT:   /* CH: Paused only */
		if (s == API_STATE_RUNNING)
			return deny(a, 500, body, len, "Trying to snapshot while VM is running", NULL);
		return s == API_STATE_PAUSED ? 0 : deny(a, 500, body, len, "VM is not running", NULL);
	case API_VM_RESTORE:    /* CH: only into a VMM without a VM */
		return s == API_STATE_NONE ? 0 : deny(a, 500, body, len, "VM is already created", NULL);
	default:
		return deny(a, 500, body, len, NULL, NULL);
	}
}

/* ---- request bodies ----------------------------------------------------------------------- */

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
	case API_VM_SNAPSHOT:
	case API_VM_RESTORE:
		return parse_snapshot_body(r->action, &f, req);
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
	/* CH: HttpError::SerdeJsonDeserialize, 400 (ch-api.md section 5). */
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
	free(req->device_id);
	req->device_id = NULL;
	free(req->url);
	req->url = NULL;
}
