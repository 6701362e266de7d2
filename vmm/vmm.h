/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM: one thread that owns the VM configuration and the VM, and serves every request,
 * whether it comes from the command line or the REST API, through the same code.
 */
#ifndef VIREO_VMM_VMM_H
#define VIREO_VMM_VMM_H

#include "base/sysfilter.h"
#include "config/config.h"

struct vmm;

/*
 * Sets up the VMM: the API server if @opts asks for one, and @cli_cfg (taken over; NULL when
 * the command line names no kernel) as the VM to create and boot. -errno with @err filled.
 */
int vmm_create(const struct vmm_options *opts, struct vm_config *cli_cfg, struct vmm **out,
	       char *err, size_t errlen);
/*
 * --seccomp's value (NULL: absent, CH's default true): sets the mode and installs the VMM
 * thread's filter on the calling thread, before it creates any other. -EINVAL for an unknown
 * value; @err says which.
 */
int vmm_setup_seccomp(const char *arg, char *err, size_t errlen);
/* The VMM thread's list (vmm/seccomp.c): every thread runs under it and its own. */
extern const struct sysfilter_policy vmm_sysfilter;
/* Runs until vmm.shutdown, guest poweroff, a fatal error or a signal; returns the exit status. */
int vmm_run(struct vmm *vmm);
void vmm_destroy(struct vmm *vmm);

#endif
