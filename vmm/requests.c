// SPDX-License-Identifier: Apache-2.0
/*
 * The VMM thread's answers to requests, whether they come from the command line or the
 * REST API: the state check (vmm/state.c) first, then the lifecycle operation, events and
 * the published vm.info, in that order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "vmm/internal.h"

static void vmm_api_boot(struct vmm *vmm, struct api_request *req)
{
	char err[512];
	int ret;

	ret = api_config_validate(vmm->cfg, err, sizeof(err));
	if (ret) {
		api_request_fail(req, ret == -EEXIST ? 409 : 400, "The VM could not boot",
				 "Invalid VmConfig", err, NULL);
		return;
	}
	if (vmm_boot(vmm, err, sizeof(err))) {
		pr_err("boot failed: %s", err);
		api_request_fail(req, 500, "The VM could not boot", err, NULL);
		return;
	}
	vmm_publish(vmm);
	api_request_complete(req, 204, NULL);
}

static void vmm_api_simple(struct vmm *vmm, struct api_request *req, const char *event_before,
			   const char *event_after)
{
	if (event_before)
		api_event("vm", event_before);
	switch (req->action) {
	case API_VM_PAUSE:
		vm_pause(vmm->vm);
		vm_pause_pci_devices(vmm->vm);
		vmm->state = VM_STATE_PAUSED;
		break;
	case API_VM_RESUME:
		vm_resume_pci_devices(vmm->vm);
		vm_resume(vmm->vm);
		vmm->state = VM_STATE_RUNNING;
		break;
	case API_VM_SHUTDOWN:
		vmm_stop_vm(vmm);
		break;
	case API_VM_DELETE:
		vmm_stop_vm(vmm);
		vmm_forget_vm(vmm);
		break;
	default:
		break;
	}
	if (event_after)
		api_event("vm", event_after);
	vmm_publish(vmm);
	api_request_complete(req, 204, NULL);
}

/* The request's device joins the config (moved out of the request); 0 or the HTTP status. */
static int config_edit(struct vmm *vmm, struct api_request *req, char *err, size_t errlen)
{
	int ret;

	if (req->action == API_VM_ADD_DISK)
		ret = api_config_add_disk(vmm->cfg, req->disk, err, errlen);
	else if (req->action == API_VM_ADD_NET)
		ret = api_config_add_net(vmm->cfg, req->net, err, errlen);
	else if (req->action == API_VM_ADD_FS)
		ret = api_config_add_fs(vmm->cfg, req->fs, err, errlen);
	else
		ret = api_config_add_vsock(vmm->cfg, req->vsock, err, errlen);
	return !ret ? 0 : ret == -EEXIST ? 409 : 400;
}

static const char *outer_msg(enum api_action a)
{
	return a == API_VM_ADD_DISK ? "The disk could not be added to the VM" :
	       a == API_VM_ADD_NET ? "The network device could not be added to the VM" :
	       a == API_VM_ADD_VSOCK ? "The vsock device could not be added to the VM" :
	       a == API_VM_ADD_FS ? "The fs device could not be added to the VM" :
	       "The device could not be removed from the VM";
}

/* The id the added device got, and which instance of its kind it is in the config. */
static const char *added(const struct vm_config *cfg, enum api_action a, const char **kind,
			 unsigned *i)
{
	if (a == API_VM_ADD_DISK) {
		*kind = "disk";
		*i = cfg->nr_disks - 1;
		return cfg->disks[*i].id;
	}
	if (a == API_VM_ADD_NET) {
		*kind = "net";
		*i = cfg->nr_nets - 1;
		return cfg->nets[*i].id;
	}
	if (a == API_VM_ADD_FS) {
		*kind = "fs";
		*i = cfg->nr_fs - 1;
		return cfg->fs[*i].id;
	}
	*kind = "vsock";
	*i = 0;
	return cfg->vsock.id;
}

/*
 * Hotplug (docs/pci.md): the device joins the config, then the running VM at a free slot of
 * its segment, and the guest is told; CH answers 200 with PciDeviceInfo {"id", "bdf"}.
 */
static void vmm_api_hotplug_add(struct vmm *vmm, struct api_request *req)
{
	struct vm_pci_info info;
	char err[512], *body = NULL;
	const char *kind, *id;
	unsigned i;
	cJSON *o;
	int status = config_edit(vmm, req, err, sizeof(err));

	if (status) {
		api_request_fail(req, status, outer_msg(req->action), err, NULL);
		return;
	}
	if (api_config_assign_ids(vmm->cfg, &vmm->id_counter)) {
		snprintf(err, sizeof(err), "out of memory");
		status = -ENOMEM;
	}
	id = added(vmm->cfg, req->action, &kind, &i);
	if (!status && vm_hotplug_add(vmm->vm, kind, i, &info, err, sizeof(err)))
		status = -EIO;
	if (!status && (o = cJSON_CreateObject())) {
		if (cJSON_AddStringToObject(o, "id", info.id) &&
		    cJSON_AddStringToObject(o, "bdf", info.bdf))
			body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	if (!body) {
		pr_err("hotplug of %s failed: %s", id ? id : kind, status ? err : "out of memory");
		if (id)
			api_config_remove_device(vmm->cfg, id);
		api_request_fail(req, 500, outer_msg(req->action), status ? err : "out of memory",
				 NULL);
		return;
	}
	pr_info("hotplug: %s added at %s", info.id, info.bdf);
	vmm_publish(vmm);
	api_request_complete(req, 200, body);
	free(body);
}

/* Removal from a booted VM waits for the guest's eject (vmm_device_work finishes it). */
static int hotplug_remove(struct vmm *vmm, const char *id, char *err, size_t errlen)
{
	int ret = vm_hotplug_remove(vmm->vm, id);

	if (ret == -EPERM)
		snprintf(err, errlen, "Device \"%s\" cannot be removed (built in, or already "
			 "ejected)", id);
	return !ret ? 0 : ret == -EPERM ? 400 : 404;
}

static void vmm_api_edit_config(struct vmm *vmm, struct api_request *req)
{
	bool booted = vmm->state != VM_STATE_CREATED;
	char err[512];
	int status;

	if (req->action != API_VM_REMOVE_DEVICE && booted) {
		vmm_api_hotplug_add(vmm, req);
		return;
	}
	snprintf(err, sizeof(err), "No device with id \"%s\" to remove", req->device_id);
	if (req->action != API_VM_REMOVE_DEVICE)
		status = config_edit(vmm, req, err, sizeof(err));
	else if (booted)
		status = hotplug_remove(vmm, req->device_id, err, sizeof(err));
	else
		status = api_config_remove_device(vmm->cfg, req->device_id) ? 404 : 0;
	if (status) {
		api_request_fail(req, status, outer_msg(req->action), err, NULL);
		return;
	}
	vmm_publish(vmm);
	api_request_complete(req, 204, NULL);
}

static void device_ejected(void *ctx, const char *id)
{
	struct vmm *vmm = ctx;

	if (api_config_remove_device(vmm->cfg, id))
		pr_warn("hotplug: ejected %s was not in the config", id);
}

void vmm_device_work(struct vmm *vmm)
{
	vm_run_device_work(vmm->vm);
	if (vm_hotplug_reap(vmm->vm, device_ejected, vmm))
		vmm_publish(vmm);
}

/* Errors the caller can fix (bad URL, missing directory, existing snapshot) answer 400. */
static int snapshot_status(int ret)
{
	return ret == -ENOMEM || ret == -EIO || ret == -ENOSPC ? 500 : 400;
}

static void vmm_api_snapshot(struct vmm *vmm, struct api_request *req)
{
	struct snap_mem_stats stats = { 0 };
	char path[4096], err[512];
	char *config = NULL;
	int ret;

	ret = snap_url_to_path(req->url, "destination_url", path, sizeof(path), err, sizeof(err));
	if (!ret && !(config = api_config_to_json(vmm->cfg))) {
		snprintf(err, sizeof(err), "out of memory");
		ret = -ENOMEM;
	}
	if (!ret) {
		api_event("vm", "snapshotting");
		ret = vm_snapshot(vmm->vm, config, path, &stats, err, sizeof(err));
	}
	free(config);
	if (ret) {
		pr_err("snapshot failed: %s", err);
		api_request_fail(req, snapshot_status(ret), "The VM could not be snapshotted", err,
				 NULL);
		return;
	}
	pr_info("snapshot in %s: %llu bytes of RAM written", path,
		(unsigned long long)stats.written);
	api_event("vm", "snapshotted");
	api_request_complete(req, 204, NULL);
}

/*
 * config.json (its checksum first) as the API parses a VmConfig, the taps of nets that used fds replaced by
 * @net_fds (their old numbers mean nothing now), then CH's boot-time checks.
 */
static int read_snapshot_config(int dirfd, struct vm_config *cfg, struct net_fds_subst *net_fds,
				unsigned nr_net_fds, char *err, size_t errlen)
{
	char *text, why[384];
	cJSON *json = NULL;
	size_t len;
	int ret;

	ret = snap_config_read(dirfd, &text, &len, err, errlen);
	if (ret)
		return ret;
	ret = api_json_parse(text, len, &json, why, sizeof(why));
	free(text);
	ret = ret ?: api_config_from_snapshot_json(json, cfg, why, sizeof(why));
	cJSON_Delete(json);
	ret = ret ?: config_substitute_net_fds(cfg, net_fds, nr_net_fds, why, sizeof(why));
	ret = ret ?: api_config_validate(cfg, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "%s: %s", SNAP_CONFIG_FILE, why);
	return ret;
}

int vmm_restore(struct vmm *vmm, const char *url, const struct vm_restore_opts *o,
		bool resume, struct net_fds_subst *net_fds, unsigned nr_net_fds, char *err,
		size_t errlen)
{
	struct vm_config *cfg = calloc(1, sizeof(*cfg));
	cJSON *st = NULL;
	char path[4096];
	int dirfd = -1, ret = -ENOMEM;

	if (!cfg)
		return snprintf(err, errlen, "out of memory"), ret;
	ret = snap_url_to_path(url, "source_url", path, sizeof(path), err, errlen);
	if (!ret && (dirfd = snap_dir_open(path, err, errlen)) < 0)
		ret = dirfd;
	ret = ret ?: read_snapshot_config(dirfd, cfg, net_fds, nr_net_fds, err, errlen);
	ret = ret ?: snap_state_read(dirfd, &st, err, errlen);
	vmm->cfg = cfg;   /* vmm_forget_vm() frees it on failure */
	vmm->state = VM_STATE_CREATED;
	if (!ret) {
		api_event("vm", "restoring");
		ret = vmm_open_outputs(vmm, err, errlen);
		if (!ret)
			vmm_truncate_outputs(vmm);   /* the snapshot is sound: a new run */
	}
	ret = ret ?: vm_restore(cfg, &vmm->persist, st, dirfd, o, &vmm->vm, err, errlen);
	cJSON_Delete(st);
	if (dirfd >= 0)
		close(dirfd);
	if (ret) {
		vmm_forget_vm(vmm);   /* the VMM stays clean for a retry */
		return ret;
	}
	vmm->persist.boots++;
	vmm_attach_vm(vmm);
	vmm->state = VM_STATE_PAUSED;
	api_event("vm", "restored");
	if (resume) {
		vm_resume(vmm->vm);
		vmm->state = VM_STATE_RUNNING;
	} else {
		vm_pause_pci_devices(vmm->vm);   /* restore restarted active devices' workers */
	}
	pr_info("restored from %s (%s memory%s)%s", path, o->copy ? "copied" : "lazily mapped",
		o->prefault ? ", prefaulted" : "", resume ? ", resumed" : ", paused");
	return 0;
}

static void vmm_api_restore(struct vmm *vmm, struct api_request *req)
{
	struct vm_restore_opts o = {
		.copy = req->restore.memory_mode == API_RESTORE_COPY,
		.prefault = req->restore.prefault,
	};
	char err[512];
	int ret = vmm_restore(vmm, req->url, &o, req->restore.resume, req->restore.net_fds,
			      req->restore.nr_net_fds, err, sizeof(err));

	vmm_publish(vmm);
	if (ret) {
		pr_err("restore failed: %s", err);
		api_request_fail(req, ret == -ENOMEM ? 500 : 400, "The VM could not be restored",
				 err, NULL);
		return;
	}
	api_request_complete(req, 204, NULL);
}

static void vmm_api_counters(struct vmm *vmm, struct api_request *req)
{
	cJSON *counters = vm_counters_json(vmm->vm);
	char *body = counters ? cJSON_PrintUnformatted(counters) : NULL;

	if (body)
		api_request_complete(req, 200, body);
	else
		api_request_fail(req, 500, "Error getting counters", "out of memory", NULL);
	free(body);
	cJSON_Delete(counters);
}

/*
 * vm.power-button: a GED event the guest's OSPM turns into KEY_POWER. Cloud Hypervisor allows
 * it on any booted VM (api_check_action): on a paused one the event waits in the GED and the
 * in-kernel IOAPIC/LAPIC and is taken once vm.resume runs the vCPUs again.
 */
static void vmm_api_power_button(struct vmm *vmm, struct api_request *req)
{
	char err[128];
	int ret = vm_power_button(vmm->vm);

	if (ret) {
		snprintf(err, sizeof(err), "cannot raise the GED interrupt: %s", strerror(-ret));
		api_request_fail(req, 500, "Error triggering power button", err, NULL);
		return;
	}
	api_request_complete(req, 204, NULL);   /* CH emits no event for it */
}

/*
 * vm.resize: on a VM that runs (or is paused) vCPUs are hot(un)plugged; before boot, or after
 * a shutdown, only cpus.boot_vcpus changes (CH's Vmm::vm_resize). max_vcpus is pinned first, so
 * a resize never moves the ceiling it is checked against.
 */
static void vmm_api_resize(struct vmm *vmm, struct api_request *req)
{
	struct vm_config *cfg = vmm->cfg;
	unsigned n = req->resize.desired_vcpus;
	char err[256];
	int ret = 0;

	if (!req->resize.has_vcpus) {
		api_request_complete(req, 204, NULL);
		return;
	}
	cfg->max_vcpus = config_max_vcpus(cfg);
	if (vmm->vm)
		ret = vm_resize_vcpus(vmm->vm, n, err, sizeof(err));
	else if (n > cfg->max_vcpus)
		ret = set_err(err, sizeof(err), -EINVAL, "desired_vcpus: %u is outside 1..%u "
			      "(cpus.max_vcpus)", n, cfg->max_vcpus);
	if (ret) {
		api_request_fail(req, ret == -EINVAL ? 400 : 500, "The VM could not be resized",
				 err, NULL);
		return;
	}
	cfg->boot_vcpus = n;
	vmm_publish(vmm);
	api_request_complete(req, 204, NULL);
}

void vmm_handle_request(struct vmm *vmm, struct api_request *req)
{
	char body[1024], err[512];
	int status = vmm_check_action(req->action, vmm->state, body, sizeof(body));

	if (status) {
		api_request_complete(req, status, body);
		return;
	}
	switch (req->action) {
	case API_VM_CREATE:
		vmm->cfg = req->config;
		req->config = NULL;
		vmm->state = VM_STATE_CREATED;
		vmm_publish(vmm);
		api_request_complete(req, 204, NULL);
		break;
	case API_VM_BOOT: vmm_api_boot(vmm, req); break;
	case API_VM_PAUSE: vmm_api_simple(vmm, req, "pausing", "paused"); break;
	case API_VM_RESUME: vmm_api_simple(vmm, req, "resuming", "resumed"); break;
	case API_VM_SHUTDOWN: vmm_api_simple(vmm, req, NULL, "shutdown"); break;
	case API_VM_DELETE: vmm_api_simple(vmm, req, NULL, "deleted"); break;
	case API_VM_REBOOT:
		if (vmm_reboot(vmm, err, sizeof(err))) {
			vmm_publish(vmm);
			api_request_fail(req, 500, "The VM could not reboot", err, NULL);
			break;
		}
		vmm_publish(vmm);
		api_request_complete(req, 204, NULL);
		break;
	case API_VM_COUNTERS: vmm_api_counters(vmm, req); break;
	case API_VM_SNAPSHOT: vmm_api_snapshot(vmm, req); break;
	case API_VM_RESTORE: vmm_api_restore(vmm, req); break;
	case API_VM_POWER_BUTTON: vmm_api_power_button(vmm, req); break;
	case API_VM_RESIZE: vmm_api_resize(vmm, req); break;
	case API_VM_ADD_DISK:
	case API_VM_ADD_NET:
	case API_VM_ADD_VSOCK:
	case API_VM_ADD_FS:
	case API_VM_REMOVE_DEVICE:
		vmm_api_edit_config(vmm, req);
		break;
	case API_VMM_SHUTDOWN:
		vmm_stop_vm(vmm);
		api_request_complete(req, 200, NULL);   /* CH: 200 with an empty body */
		vmm_finish(vmm, 0);
		break;
	default:
		api_request_fail(req, 500, "The request could not be handled",
				 "not supported by vireo yet", NULL);
		break;
	}
}
