// SPDX-License-Identifier: Apache-2.0
/*
 * The in-kernel vGICv3 (Linux Documentation/virt/kvm/devices/arm-vgic-v3.rst) and its ITS
 * (arm-vgic-its.rst): created and placed before the vCPUs, initialised once they all exist.
 * Without an ITS (a host GIC that cannot emulate one) the VM still runs, with PCI INTx only.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/aarch64/arch.h"
#include "arch/aarch64/layout.h"
#include "base/log.h"

static int dev_attr(int fd, uint32_t group, uint64_t attr, const void *value)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (uintptr_t)value,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) ? -errno : 0;
}

static int create_device(int vm_fd, uint32_t type)
{
	struct kvm_create_device d = { .type = type };

	return ioctl(vm_fd, KVM_CREATE_DEVICE, &d) ? -errno : (int)d.fd;
}

static int its_create(int vm_fd, struct arch_gic *gic)
{
	uint64_t base = LAYOUT_GIC_ITS_START;
	int fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS), ret;

	if (fd < 0)
		return fd;
	ret = dev_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &base);
	if (ret) {
		close(fd);
		return ret;
	}
	gic->its_fd = fd;
	return 0;
}

int arch_gic_create(int vm_fd, unsigned nr_vcpus, struct arch_gic *gic, char *err,
		    size_t errlen)
{
	uint64_t dist = LAYOUT_GIC_DIST_START, redist = LAYOUT_GIC_REDIST_START;
	uint32_t nr_irqs = LAYOUT_GIC_NR_IRQS;
	int fd, ret;

	gic->fd = gic->its_fd = -1;
	if (nr_vcpus > LAYOUT_GIC_REDIST_MAX_CPUS)
		return set_err(err, errlen, -EINVAL, "aarch64 VMs have at most %u vCPUs (room for "
			       "GICv3 redistributors)", LAYOUT_GIC_REDIST_MAX_CPUS);
	fd = create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3);
	if (fd < 0)
		return set_err(err, errlen, fd, "KVM_CREATE_DEVICE(vGICv3): %s", strerror(-fd));
	gic->fd = fd;
	ret = dev_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
	ret = ret ?: dev_attr(fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist);
	ret = ret ?: dev_attr(fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret)
		return set_err(err, errlen, ret, "placing the vGICv3: %s", strerror(-ret));
	ret = its_create(vm_fd, gic);
	if (ret)
		pr_warn("no in-kernel ITS (%s): PCI devices use INTx, not MSI-X", strerror(-ret));
	return 0;
}

int arch_gic_finalize(const struct arch_gic *gic, char *err, size_t errlen)
{
	int ret = dev_attr(gic->fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);

	if (ret)
		return set_err(err, errlen, ret, "initialising the vGICv3: %s", strerror(-ret));
	if (gic->its_fd >= 0) {
		ret = dev_attr(gic->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
			       NULL);
		if (ret)
			return set_err(err, errlen, ret, "initialising the ITS: %s", strerror(-ret));
	}
	return 0;
}

void arch_gic_destroy(struct arch_gic *gic)
{
	if (gic->its_fd >= 0)
		close(gic->its_fd);
	if (gic->fd >= 0)
		close(gic->fd);
	gic->fd = gic->its_fd = -1;
}
