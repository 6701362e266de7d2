// SPDX-License-Identifier: Apache-2.0
/*
 * The vCPU threads' syscall filter (base/sysfilter.h). A vCPU runs guest code and serves its
 * exits: KVM ioctls (KVM_RUN, the register calls of pause and snapshot, and the irqfd,
 * ioeventfd and GSI routing calls a BAR move or an MSI-X change makes), eventfd writes, and
 * device output (serial, debug port, logs). Nothing else: the guest drives this thread.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "vm/internal.h"

/* _IOC type bits of the ioctl number (asm-generic/ioctl.h): KVMIO's calls only. */
#define IOC_TYPE_MASK 0xff00ULL

static const struct sysfilter_rule vcpu_rules[] = {
	{ __NR_ioctl, 1, IOC_TYPE_MASK, (uint64_t)KVMIO << 8, 0 },
	SYSFILTER_ALLOW(poll), SYSFILTER_ALLOW(ppoll), SYSFILTER_NO_OPEN,
	/*
	 * A device never activated is reset right on the vCPU that writes 0 to its status (a
	 * driver's first act): its reset may drop sockets, re-arm its timer, clear a tap's state.
	 */
	SYSFILTER_ALLOW(epoll_ctl), SYSFILTER_ALLOW(timerfd_settime),
	SYSFILTER_ALLOW(timerfd_gettime), SYSFILTER_ALLOW(shutdown),
	{ __NR_ioctl, 1, ~0ULL, TUNSETOFFLOAD, 0 }, { __NR_ioctl, 1, ~0ULL, TUNSETQUEUE, 0 },
};

const struct sysfilter_policy vcpu_sysfilter = {
	"vcpu", vcpu_rules, SYSFILTER_ARRAY_SIZE(vcpu_rules)
};
