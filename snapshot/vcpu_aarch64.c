// SPDX-License-Identifier: Apache-2.0
/*
 * aarch64 vCPU state (the x86 one is vcpu_kvm.c): the MP state (a secondary the guest never
 * started, or stopped with PSCI CPU_OFF, stays off) and every register KVM_GET_REG_LIST names,
 * read and written one by one with KVM_{GET,SET}_ONE_REG (Linux api.rst 4.68, 4.69, 4.84). The
 * list covers the core registers, FP/SIMD, the system registers, the timer (CNTV_CTL, CVAL,
 * CNT) and the firmware pseudo-registers (PSCI version). JSON: vcpu_aarch64_json.c.
 * VM-wide state (the vGIC's distributor, redistributors, CPU interfaces and ITS tables) is not
 * saved yet, so snapshots of arm64 VMs are still refused, by snap_vm_save (docs/aarch64.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/log.h"
#include "snapshot/internal.h"

/* A register's size in bytes, from its id (KVM_REG_SIZE_U8 .. U2048). */
static size_t reg_size(uint64_t id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

int snap_reg_check(uint64_t id, char *why, size_t whylen)
{
	if ((id & KVM_REG_ARCH_MASK) != KVM_REG_ARM64)
		return set_err(why, whylen, -EINVAL, "not an arm64 register id");
	if (reg_size(id) > sizeof(((struct snap_reg *)0)->val))
		return set_err(why, whylen, -EINVAL, "%zu bytes: wider than 128 bits (SVE is not "
			       "given to guests)", reg_size(id));
	return 0;
}

static int reg_list(int vcpu_fd, struct kvm_reg_list **out)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;

	/* api.rst: E2BIG with n set to the number of registers. */
	if (!ioctl(vcpu_fd, KVM_GET_REG_LIST, &probe) || errno != E2BIG)
		return errno ? -errno : -EIO;
	if (probe.n > SNAP_ARM64_MAX_REGS)
		return -E2BIG;
	list = calloc(1, sizeof(*list) + probe.n * sizeof(list->reg[0]));
	if (!list)
		return -ENOMEM;
	list->n = probe.n;
	if (ioctl(vcpu_fd, KVM_GET_REG_LIST, list)) {
		int ret = -errno;

		free(list);
		return ret;
	}
	*out = list;
	return 0;
}

static int one_reg(int vcpu_fd, unsigned long req, struct snap_reg *r)
{
	struct kvm_one_reg one = { .id = r->id, .addr = (uintptr_t)r->val };

	return ioctl(vcpu_fd, req, &one) ? -errno : 0;
}

int snap_vcpu_save(int kvm_fd, int vcpu_fd, uint32_t id, struct snap_vcpu *out, char *err,
		   size_t errlen)
{
	struct kvm_reg_list *list = NULL;
	char why[96];
	int ret;

	(void)kvm_fd;
	memset(out, 0, sizeof(*out));
	out->id = id;
	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &out->mp_state))
		return set_err(err, errlen, -errno, "vcpu%u: KVM_GET_MP_STATE: %s", id,
			       strerror(errno));
	ret = reg_list(vcpu_fd, &list);
	if (ret)
		return set_err(err, errlen, ret, "vcpu%u: KVM_GET_REG_LIST: %s", id, strerror(-ret));
	out->regs = calloc(list->n ? list->n : 1, sizeof(*out->regs));
	if (!out->regs)
		ret = set_err(err, errlen, -ENOMEM, "out of memory");
	for (uint64_t i = 0; !ret && i < list->n; i++) {
		struct snap_reg *r = &out->regs[out->nr_regs];

		r->id = list->reg[i];
		if (snap_reg_check(r->id, why, sizeof(why)))
			ret = set_err(err, errlen, -ENOTSUP, "vcpu%u: register 0x%llx: %s", id,
				      (unsigned long long)r->id, why);
		else if ((ret = one_reg(vcpu_fd, KVM_GET_ONE_REG, r)))
			set_err(err, errlen, ret, "vcpu%u: KVM_GET_ONE_REG 0x%llx: %s", id,
				(unsigned long long)r->id, strerror(-ret));
		else
			out->nr_regs++;
	}
	free(list);
	if (ret)
		snap_vcpu_free(out);
	return ret;
}

/* Into a vCPU after KVM_ARM_VCPU_INIT, in the saved list's order, then its MP state. */
int snap_vcpu_restore(int kvm_fd, int vcpu_fd, const struct snap_vcpu *v, char *err,
		      size_t errlen)
{
	(void)kvm_fd;
	for (unsigned i = 0; i < v->nr_regs; i++) {
		struct snap_reg r = v->regs[i];
		int ret = one_reg(vcpu_fd, KVM_SET_ONE_REG, &r);

		if (ret)
			return set_err(err, errlen, ret, "vcpu%u: KVM_SET_ONE_REG 0x%llx: %s%s",
				       v->id, (unsigned long long)r.id, strerror(-ret),
				       ret == -ENOENT ? " (a register this host's KVM lacks)" : "");
	}
	if (ioctl(vcpu_fd, KVM_SET_MP_STATE, &v->mp_state))
		return set_err(err, errlen, -errno, "vcpu%u: KVM_SET_MP_STATE: %s", v->id,
			       strerror(errno));
	return 0;
}

void snap_vcpu_free(struct snap_vcpu *v)
{
	free(v->regs);
	v->regs = NULL;
	v->nr_regs = 0;
}

/* ------------------------------------------------------------------ VM-wide: not yet */

static int unsupported(char *err, size_t errlen)
{
	return set_err(err, errlen, -ENOTSUP, "snapshot/restore of an aarch64 VM is not "
		       "supported yet (the vGIC state is not saved)");
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

/* Pause/resume need no clock here: the arch counter is the guest's clock. */
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
