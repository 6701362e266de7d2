// SPDX-License-Identifier: Apache-2.0
/*
 * The vCPU threads' syscall filter (base/sysfilter.h). A vCPU runs guest code and serves its
 * exits: KVM ioctls (KVM_RUN, the register calls of pause and snapshot, and the irqfd,
 * ioeventfd and GSI routing calls a BAR move or an MSI-X change makes), eventfd writes, and
 * device output (serial, debug port, logs). Nothing else: the guest drives this thread.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <sys/syscall.h>

#include "vm/internal.h"

/* _IOC type bits of the ioctl number (asm-generic/ioctl.h): KVMIO's calls only. */
#define IOC_TYPE_MASK 0xff00ULL

static const struct sysfilter_rule vcpu_rules[] = {
	{ __NR_ioctl, 1, IOC_TYPE_MASK, (uint64_t)KVMIO << 8, 0 },
	SYSFILTER_ALLOW(poll), SYSFILTER_ALLOW(ppoll), SYSFILTER_NO_OPEN,
};

const struct sysfilter_policy vcpu_sysfilter = {
	"vcpu", vcpu_rules, SYSFILTER_ARRAY_SIZE(vcpu_rules)
};
