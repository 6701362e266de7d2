// SPDX-License-Identifier: Apache-2.0
/*
 * The VM's lifecycle states and which request each allows: Cloud Hypervisor's VmState and
 * its answers otherwise (the error messages are its Display strings, from the outer error to
 * the root cause, behind HttpError's "Error from API"). The VMM owns the state; the API only
 * carries requests and answers.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "vmm/state.h"

static const char *const state_names[] = {
	[VM_STATE_CREATED] = "Created", [VM_STATE_RUNNING] = "Running",
	[VM_STATE_SHUTDOWN] = "Shutdown", [VM_STATE_PAUSED] = "Paused",
	[VM_STATE_BREAKPOINT] = "BreakPoint",
};

const char *vm_state_name(enum vm_state s)
{
	return s > VM_STATE_NONE && s <= VM_STATE_BREAKPOINT ? state_names[s] : NULL;
}

/* CH's VmState::valid_transition (vmm/src/vm.rs). */
bool vm_state_transition_valid(enum vm_state from, enum vm_state to)
{
	switch (from) {
	case VM_STATE_CREATED:
		return to == VM_STATE_RUNNING || to == VM_STATE_PAUSED || to == VM_STATE_SHUTDOWN ||
		       to == VM_STATE_BREAKPOINT;
	case VM_STATE_RUNNING:
		return to == VM_STATE_PAUSED || to == VM_STATE_SHUTDOWN || to == VM_STATE_BREAKPOINT;
	case VM_STATE_PAUSED:
		return to == VM_STATE_RUNNING || to == VM_STATE_SHUTDOWN;
	case VM_STATE_SHUTDOWN:
		return to == VM_STATE_RUNNING;
	case VM_STATE_BREAKPOINT:
		return to == VM_STATE_CREATED || to == VM_STATE_RUNNING;
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
	[API_VM_ADD_NET] = "The network device could not be added to the VM",
	[API_VM_REMOVE_DEVICE] = "The device could not be removed from the VM",
	[API_VM_SNAPSHOT] = "The VM could not be snapshotted",
	[API_VM_RESTORE] = "The VM could not be restored",
	[API_VM_ADD_VSOCK] = "The vsock device could not be added to the VM",
	[API_VM_RESIZE] = "The VM could not be resized",
	[API_VM_ADD_FS] = "The fs device could not be added to the VM",
};

static bool booted(enum vm_state s)
{
	return s == VM_STATE_RUNNING || s == VM_STATE_PAUSED || s == VM_STATE_BREAKPOINT;
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
static int bad_transition(enum api_action a, enum vm_state s, enum vm_state to,
			  char *body, size_t len)
{
	char why[96];

	msg_fmt(why, sizeof(why), "Invalid transition: InvalidStateTransition(%s, %s)",
		state_names[s], state_names[to]);
	return deny(a, 500, body, len, a == API_VM_PAUSE ? "Cannot pause VM" : "Cannot resume VM",
		    why);
}

static int check_pause_resume(enum api_action a, enum vm_state s, char *body, size_t len)
{
	enum vm_state to = a == API_VM_PAUSE ? VM_STATE_PAUSED : VM_STATE_RUNNING;

	if (!booted(s))
		return deny(a, 500, body, len, "VM is not running", NULL);
	if (!vm_state_transition_valid(s, to))
		return bad_transition(a, s, to, body, len);
	return 0;
}

/*
 * vm.add-* / vm.remove-device: a config edit before boot, ACPI hotplug on a running or
 * paused VM (a paused guest takes the GED event when it resumes).
 */
static int check_config_edit(enum api_action a, enum vm_state s, char *body, size_t len)
{
	if (s == VM_STATE_NONE)
		return deny(a, 404, body, len, "VM is not created", NULL);
	if (s == VM_STATE_BREAKPOINT)
		return deny(a, 500, body, len, "Device hotplug needs a running or paused VM", NULL);
	return 0;
}

int vmm_check_action(enum api_action a, enum vm_state s, char *body, size_t len)
{
	switch (a) {
	case API_VMM_PING:
	case API_VMM_SHUTDOWN:
	case API_VM_DELETE:
		return 0;     /* any state: delete shuts a booted VM down first */
	case API_VM_CREATE:
		return s == VM_STATE_NONE ? 0 : deny(a, 500, body, len, "VM is already created", NULL);
	case API_VM_BOOT:
		if (s == VM_STATE_NONE)
			return deny(a, 404, body, len, "VM config is missing", NULL);
		return booted(s) ? deny(a, 500, body, len, "VM is already created", NULL) : 0;
	case API_VM_INFO:
		return s == VM_STATE_NONE ? deny(a, 404, body, len, "VM is not created", NULL) : 0;
	case API_VM_COUNTERS:
	case API_VM_POWER_BUTTON:
		return booted(s) ? 0 : deny(a, 500, body, len, "VM is not running", NULL);
	case API_VM_PAUSE:
	case API_VM_RESUME:
		return check_pause_resume(a, s, body, len);
	case API_VM_SHUTDOWN:
		if (s == VM_STATE_BREAKPOINT)
			return bad_transition(a, s, VM_STATE_SHUTDOWN, body, len);
		return booted(s) ? 0 : deny(a, 500, body, len, "VM is not running", NULL);
	case API_VM_REBOOT:
		return booted(s) ? 0 : deny(a, 404, body, len, "VM is not created", NULL);
	case API_VM_ADD_DISK:
	case API_VM_ADD_NET:
	case API_VM_ADD_VSOCK:
	case API_VM_ADD_FS:
	case API_VM_REMOVE_DEVICE:
		return check_config_edit(a, s, body, len);
	case API_VM_RESIZE:     /* CH: a config edit before boot, vCPU hotplug after */
		return s == VM_STATE_NONE ? deny(a, 404, body, len, "VM is not created", NULL) : 0;
	case API_VM_SNAPSHOT:   /* CH: Paused only */
		if (s == VM_STATE_RUNNING)
			return deny(a, 500, body, len, "Trying to snapshot while VM is running", NULL);
		return s == VM_STATE_PAUSED ? 0 : deny(a, 500, body, len, "VM is not running", NULL);
	case API_VM_RESTORE:    /* CH: only into a VMM without a VM */
		return s == VM_STATE_NONE ? 0 : deny(a, 500, body, len, "VM is already created", NULL);
	default:
		return deny(a, 500, body, len, NULL, NULL);
	}
}
