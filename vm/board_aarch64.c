// SPDX-License-Identifier: Apache-2.0
/*
 * The aarch64 board (vm/board.h, docs/aarch64.md): an in-kernel vGICv3 with an ITS, a 16550
 * UART on the MMIO bus, PSCI in KVM (poweroff and reset come back as system events, vcpu.c),
 * and a device tree in place of ACPI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/log.h"
#include "vm/board.h"
#include "vm/internal.h"

#define UART_CLOCK_HZ 1843200   /* the classic 16550 crystal: divisor 1 = 115200 baud */
#define UART_NR_REGS 8

struct vm_board {
	struct arch_gic gic;
};

int board_check_kvm(int kvm_fd, char *err, size_t errlen)
{
	static const struct vm_kvm_cap required[] = {
		{ KVM_CAP_ARM_PSCI_0_2, "ARM_PSCI_0_2" }, { KVM_CAP_DEVICE_CTRL, "DEVICE_CTRL" },
		{ KVM_CAP_ONE_REG, "ONE_REG" },
	};

	return vm_check_caps(kvm_fd, required, sizeof(required) / sizeof(required[0]), err, errlen);
}

int board_setup_irqchip(struct vm *vm, char *err, size_t errlen)
{
	int ret;

	vm->board = calloc(1, sizeof(*vm->board));
	if (!vm->board)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	/* arm-vgic-v3.rst: CTRL_INIT once every vCPU exists; irqfds only work after it. */
	ret = arch_gic_create(vm->vm_fd, vm->nr_vcpus, &vm->board->gic, err, errlen);
	ret = ret ?: vm_setup_vcpus(vm, err, errlen);
	return ret ?: arch_gic_finalize(&vm->board->gic, err, errlen);
}

int board_setup_devices(struct vm *vm, char *err, size_t errlen)
{
	int ret = 0;

	vm->notifier = (struct platform_notifier){ vm_platform_notify, vm };
	vm->serial_irq_fd = vm_irqfd(vm, LAYOUT_UART_GSI);
	if (vm->serial_irq_fd < 0)
		return set_err(err, errlen, vm->serial_irq_fd, "KVM_IRQFD for the UART: %s",
			       strerror(-vm->serial_irq_fd));
	vm->serial = serial_create(vm->persist->serial_out_fd, vm->serial_irq_fd);
	if (!vm->serial)
		return set_err(err, errlen, -ENOMEM, "out of memory for devices");
	if (vm->cfg->serial.mode != CONSOLE_OFF)
		ret = bus_register(&vm->mmio_bus, LAYOUT_UART_START, UART_NR_REGS, &serial_bus_ops,
				   vm->serial);
	if (ret)
		return set_err(err, errlen, ret, "cannot register the UART: %s", strerror(-ret));
	return 0;
}

int board_setup_late_devices(struct vm *vm, char *err, size_t errlen)
{
	(void)vm, (void)err, (void)errlen;
	return 0;
}

int board_vcpus_prepare(struct vm *vm, char *err, size_t errlen)
{
	(void)vm, (void)err, (void)errlen;
	return 0;
}

int board_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	return arch_vcpu_init(vm->vm_fd, vcpu->fd, vcpu->id);
}

static void board_fdt_platform(struct vm *vm, struct fdt_platform *p)
{
	const struct guest_region *ram = &vm->mem.regions[0];

	*p = (struct fdt_platform){
		.nr_cpus = vm->nr_vcpus,
		.mem_base = ram->gpa, .mem_size = ram->size,
		.bootargs = vm->cfg->cmdline,
		.initrd_start = vm->boot.initrd_gpa, .initrd_size = vm->boot.initrd_size,
		.gic = {
			.dist_base = LAYOUT_GIC_DIST_START, .dist_size = LAYOUT_GIC_DIST_SIZE,
			.redist_base = LAYOUT_GIC_REDIST_START,
			.redist_size = vm->nr_vcpus * LAYOUT_GIC_REDIST_SIZE,
			.its = vm->board->gic.its_fd >= 0,
			.its_base = LAYOUT_GIC_ITS_START, .its_size = LAYOUT_GIC_ITS_SIZE,
		},
		.uart = { .base = LAYOUT_UART_START, .size = LAYOUT_UART_SIZE,
			  .spi = LAYOUT_UART_GSI, .clock_hz = UART_CLOCK_HZ },
		.pci = {
			.present = true, .ecam_base = LAYOUT_PCI_ECAM_START, .bus_end = 0,
			.mmio32_base = vm->mmio32.base, .mmio32_size = vm->mmio32.size,
			.mmio64_base = vm->mmio64.base, .mmio64_size = vm->mmio64.size,
			.intx_first_spi = LAYOUT_PCI_INTX_FIRST_GSI,
		},
	};
}

int board_boot(struct vm *vm, char *err, size_t errlen)
{
	struct boot_request req = {
		.kernel_path = vm->cfg->kernel,
		.initramfs_path = vm->cfg->initramfs,
		.cmdline = vm->cfg->cmdline ? vm->cfg->cmdline : "",
	};
	struct fdt_platform p;
	void *fdt;
	int ret;

	ret = arch_load_kernel(&vm->mem, &req, &vm->boot, err, errlen);
	if (ret)
		return ret;
	fdt = guest_mem_ptr(&vm->mem, vm->boot.fdt_gpa, LAYOUT_FDT_MAX);
	if (!fdt)
		return set_err(err, errlen, -EFAULT, "no guest RAM for the device tree");
	board_fdt_platform(vm, &p);
	ret = arch_fdt_build(&p, fdt, LAYOUT_FDT_MAX);
	if (ret)
		return set_err(err, errlen, ret, "cannot build the device tree: %s%s", strerror(-ret),
			       ret == -ENOSPC ? " (command line too long?)" : "");
	ret = arch_vcpu_set_boot_regs(vm->vcpus[0].fd, &vm->boot);
	if (ret)
		return set_err(err, errlen, ret, "cannot set up the boot vCPU: %s", strerror(-ret));
	return 0;
}

/* GSIs 0-23 are SPIs 0-23 (KVM's irqchip routes on arm64 name the SPI; irqchip 0). */
unsigned board_legacy_routes(struct kvm_irq_routing_entry out[KVM_LEGACY_ROUTES])
{
	unsigned gsi;

	for (gsi = 0; gsi < GSI_NR_LEGACY; gsi++)
		out[gsi] = kvm_routing_irqchip(gsi, 0, gsi);
	return GSI_NR_LEGACY;
}

void board_destroy(struct vm *vm)
{
	if (!vm->board)
		return;
	arch_gic_destroy(&vm->board->gic);
	free(vm->board);
	vm->board = NULL;
}
