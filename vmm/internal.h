/* SPDX-License-Identifier: Apache-2.0 */
/* Private to vmm/: the VMM's state, shared by its event loop (vmm.c) and request handlers. */
#ifndef VIREO_VMM_INTERNAL_H
#define VIREO_VMM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "api/api.h"
#include "config/config.h"
#include "vm/vm.h"
#include "vmm/state.h"

struct terminal {
	bool raw;
	struct termios saved;
};

struct vmm {
	struct vm_config *cfg;        /* NULL: no VM created */
	struct vm *vm;                /* NULL: not booted */
	enum vm_state state;
	unsigned id_counter;          /* CH's device id counter: _disk0, _net1, ... */
	struct vm_persist persist;
	struct api_server *api;
	int epfd, signal_fd;
	bool quit;
	int exit_status;
	struct terminal term;
	bool stdin_watched;           /* COM1 input in tty mode */
	bool outputs_fresh;           /* output files opened for this VM, not yet truncated */
	const struct vmm_options *opts;
};

/* vmm.c: the VM's lifecycle. */
/* Publishes vm.info for the API thread; call before completing the request that changed it. */
void vmm_publish(struct vmm *vmm);
/* requests.c: device resets/activations, then the devices the guest ejected leave the config. */
void vmm_device_work(struct vmm *vmm);
/* Drops the VM config with what belonged to it (outputs, CMOS NVRAM). */
void vmm_forget_vm(struct vmm *vmm);
/* Stops and destroys the VM (if any); returns why it stopped. */
enum vm_exit_reason vmm_stop_vm(struct vmm *vmm);
/*
 * Opens the serial and console output files of a new VM (once per VM: they outlive guest
 * reboots) without truncating them; vmm_truncate_outputs() does that once the VM exists, so
 * a boot refused for a bad config leaves the last run's output alone.
 */
int vmm_open_outputs(struct vmm *vmm, char *err, size_t errlen);
void vmm_truncate_outputs(struct vmm *vmm);
/* A VM now exists (booted or restored): watch its fds, give it the terminal. */
void vmm_attach_vm(struct vmm *vmm);
/* Creates and starts the VM from vmm->cfg. -errno with the reason in @err. */
int vmm_boot(struct vmm *vmm, char *err, size_t errlen);
int vmm_reboot(struct vmm *vmm, char *err, size_t errlen);
/* Ends vmm_run() with @status. */
void vmm_finish(struct vmm *vmm, int status);

/* requests.c: what the command line and the REST API ask for. */
void vmm_handle_request(struct vmm *vmm, struct api_request *req);
/* Restores the VM in the snapshot directory @url names, Paused unless @resume. */
int vmm_restore(struct vmm *vmm, const char *url, const struct vm_restore_opts *o,
		bool resume, struct net_fds_subst *net_fds, unsigned nr_net_fds, char *err,
		size_t errlen);

#endif
