/* SPDX-License-Identifier: Apache-2.0 */
/* The VM's lifecycle state machine, owned by the VMM thread (vmm/state.c). */
#ifndef VIREO_VMM_STATE_H
#define VIREO_VMM_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"

/*
 * Cloud Hypervisor's VmState plus VM_STATE_NONE for "no config" (fresh VMM or after
 * vm.delete). A config without a VM object, including after vm.shutdown, is Created.
 */
enum vm_state {
	VM_STATE_NONE,
	VM_STATE_CREATED,
	VM_STATE_RUNNING,
	VM_STATE_SHUTDOWN,
	VM_STATE_PAUSED,
	VM_STATE_BREAKPOINT,
};

/* "Created", "Running", ...; NULL for VM_STATE_NONE. */
const char *vm_state_name(enum vm_state s);
/* Cloud Hypervisor's VmState::valid_transition. */
bool vm_state_transition_valid(enum vm_state from, enum vm_state to);

/*
 * Whether @a may proceed in state @s: 0, else the HTTP status (404, 500) with Cloud
 * Hypervisor's error body, a JSON array of messages, in @body. vm.add-* and
 * vm.remove-device pass on a created (config edit), running or paused VM (hotplug).
 */
int vmm_check_action(enum api_action a, enum vm_state s, char *body, size_t bodylen);

#endif
