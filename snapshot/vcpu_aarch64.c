// SPDX-License-Identifier: Apache-2.0
/*
 * aarch64 stand-ins for the vCPU and VM state sections (snapshot/vcpu_kvm.c, vcpu_json.c and
 * vm_state.c are x86's): a snapshot or restore of an arm64 VM is refused with one line until
 * the core/system registers (KVM_GET_REG_LIST), vGIC and timer state are saved
 * (docs/aarch64.md). Pause/resume need no clock here: the arch counter is the guest's clock.
 */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "snapshot/snapshot.h"

static int unsupported(char *err, size_t errlen)
{
	return set_err(err, errlen, -ENOTSUP, "snapshot/restore of an aarch64 VM is not "
		       "supported yet");
}

int snap_vcpu_save(int kvm_fd, int vcpu_fd, uint32_t id, struct snap_vcpu *out, char *err,
		   size_t errlen)
{
	(void)kvm_fd, (void)vcpu_fd;
	memset(out, 0, sizeof(*out));
	out->id = id;
	return unsupported(err, errlen);
}

int snap_vcpu_restore(int kvm_fd, int vcpu_fd, const struct snap_vcpu *v, char *err,
		      size_t errlen)
{
	(void)kvm_fd, (void)vcpu_fd, (void)v;
	return unsupported(err, errlen);
}

void snap_vcpu_free(struct snap_vcpu *v)
{
	(void)v;
}

struct cJSON *snap_vcpu_to_json(const struct snap_vcpu *v)
{
	(void)v;
	return NULL;
}

int snap_vcpu_from_json(const struct cJSON *json, const char *where, struct snap_vcpu *out,
			char *err, size_t errlen)
{
	(void)json, (void)where, (void)out;
	return unsupported(err, errlen);
}

int snap_vm_save(int vm_fd, const struct kvm_clock_data *paused_clock, struct snap_vm *out,
		 char *err, size_t errlen)
{
	(void)vm_fd, (void)paused_clock, (void)out;
	return unsupported(err, errlen);
}

int snap_vm_restore(int vm_fd, const struct snap_vm *s, char *err, size_t errlen)
{
	(void)vm_fd, (void)s;
	return unsupported(err, errlen);
}

int snap_clock_save(int vm_fd, struct kvm_clock_data *out)
{
	(void)vm_fd;
	memset(out, 0, sizeof(*out));
	return 0;
}

int snap_clock_restore(int vm_fd, const struct kvm_clock_data *c)
{
	(void)vm_fd, (void)c;
	return 0;
}

struct cJSON *snap_vm_to_json(const struct snap_vm *s)
{
	(void)s;
	return NULL;
}

int snap_vm_from_json(const struct cJSON *json, struct snap_vm *out, char *err, size_t errlen)
{
	(void)json, (void)out;
	return unsupported(err, errlen);
}
