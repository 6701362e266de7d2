// SPDX-License-Identifier: Apache-2.0
/*
 * The arm64 vCPU: KVM_ARM_VCPU_INIT (api.rst 4.82) with the host's preferred target and PSCI
 * 0.2, and the boot registers of Linux's booting.rst written with KVM_SET_ONE_REG.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/aarch64/arch.h"
#include "base/log.h"

/* A core register's KVM_{GET,SET}_ONE_REG id (api.rst, "ARM64 core registers"). */
#define CORE_REG(field) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			 (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))

/* PSTATE at entry: EL1h, with debug, SError, IRQ and FIQ masked (booting.rst). */
#define PSR_MODE_EL1H 0x5ULL
#define PSR_DAIF      (0xfULL << 6)

static int set_reg(int vcpu_fd, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&value };

	return ioctl(vcpu_fd, KVM_SET_ONE_REG, &reg) ? -errno : 0;
}

static int get_reg(int vcpu_fd, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)value };

	return ioctl(vcpu_fd, KVM_GET_ONE_REG, &reg) ? -errno : 0;
}

int arch_vcpu_init(int vm_fd, int vcpu_fd, unsigned id)
{
	struct kvm_vcpu_init init;

	memset(&init, 0, sizeof(init));
	if (ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init))
		return -errno;
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* Secondaries wait for the guest's PSCI CPU_ON, as on a real machine. */
	if (id)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	return ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) ? -errno : 0;
}

int arch_vcpu_set_boot_regs(int vcpu_fd, const struct boot_info *bi)
{
	int ret;

	/* x1-x3 are zero after KVM_ARM_VCPU_INIT; the MMU and caches are off at reset. */
	ret = set_reg(vcpu_fd, CORE_REG(regs.pstate), PSR_MODE_EL1H | PSR_DAIF);
	ret = ret ?: set_reg(vcpu_fd, CORE_REG(regs.regs[0]), bi->fdt_gpa);
	ret = ret ?: set_reg(vcpu_fd, CORE_REG(regs.pc), bi->entry);
	return ret;
}

void arch_vcpu_dump(int vcpu_fd, unsigned id)
{
	uint64_t pc = 0, pstate = 0, sp = 0, x[4] = { 0 };
	unsigned i;

	if (get_reg(vcpu_fd, CORE_REG(regs.pc), &pc) ||
	    get_reg(vcpu_fd, CORE_REG(regs.pstate), &pstate) ||
	    get_reg(vcpu_fd, CORE_REG(sp_el1), &sp)) {
		pr_err("vcpu%u: cannot read registers: %s", id, strerror(errno));
		return;
	}
	for (i = 0; i < 4; i++)
		get_reg(vcpu_fd, CORE_REG(regs.regs[i]), &x[i]);
	pr_err("vcpu%u: pc=%#llx pstate=%#llx sp_el1=%#llx x0=%#llx x1=%#llx x2=%#llx x3=%#llx",
	       id, (unsigned long long)pc, (unsigned long long)pstate, (unsigned long long)sp,
	       (unsigned long long)x[0], (unsigned long long)x[1], (unsigned long long)x[2],
	       (unsigned long long)x[3]);
}
