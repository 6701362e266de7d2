// SPDX-License-Identifier: Apache-2.0
/*
 * The x86_64 board (vm/board.h): TSS and identity-map addresses, in-kernel IOAPIC/PIC and PIT,
 * the legacy port devices (COM1, CMOS, i8042, debug port, ACPI PM) and the GED, CPUID for
 * every vCPU, then ACPI tables, the kernel and the boot vCPU's registers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/acpi.h"
#include "base/log.h"
#include "vm/board.h"
#include "vm/internal.h"

int board_check_kvm(int kvm_fd, char *err, size_t errlen)
{
	static const struct vm_kvm_cap required[] = {
		{ KVM_CAP_PIT2, "PIT2" }, { KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	};

	return vm_check_caps(kvm_fd, required, sizeof(required) / sizeof(required[0]), err, errlen);
}

int board_setup_irqchip(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity_map = LAYOUT_KVM_IDENTITY_MAP;

	/* VMX needs the TSS (3 pages) before any vCPU runs: APs start in real mode. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS))
		return set_err(err, errlen, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map))
		return set_err(err, errlen, -errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0))
		return set_err(err, errlen, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit))
		return set_err(err, errlen, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

int board_setup_devices(struct vm *vm, char *err, size_t errlen)
{
	int ret;

	vm->notifier = (struct platform_notifier){ vm_platform_notify, vm };
	vm->serial_irq_fd = vm_irqfd(vm, LAYOUT_COM1_GSI);
	if (vm->serial_irq_fd < 0)
		return set_err(err, errlen, vm->serial_irq_fd, "KVM_IRQFD for COM1: %s",
			    strerror(-vm->serial_irq_fd));
	vm->serial = serial_create(vm->persist->serial_out_fd, vm->serial_irq_fd);
	vm->cmos = cmos_create(vm->persist->cmos_nvram);
	vm->i8042 = i8042_create(&vm->notifier);
	vm->acpi_pm = acpi_pm_create(&vm->notifier);
	if (!vm->serial || !vm->cmos || !vm->i8042 || !vm->acpi_pm)
		return set_err(err, errlen, -ENOMEM, "out of memory for devices");
	if (vm->cfg->serial.mode != CONSOLE_OFF)
		ret = bus_register(&vm->pio_bus, LAYOUT_COM1_PORT, 8, &serial_bus_ops, vm->serial);
	else
		ret = 0;
	ret = ret ?: bus_register(&vm->pio_bus, LAYOUT_CMOS_PORT, 2, &cmos_bus_ops, vm->cmos);
	ret = ret ?: bus_register(&vm->pio_bus, LAYOUT_I8042_PORT, 5, &i8042_bus_ops, vm->i8042);
	ret = ret ?: bus_register(&vm->pio_bus, LAYOUT_DEBUG_PORT, 1, &debugport_bus_ops, NULL);
	ret = ret ?: bus_register(&vm->pio_bus, LAYOUT_ACPI_PM_PORT, LAYOUT_ACPI_PM_LEN,
				  &acpi_pm_bus_ops, vm->acpi_pm);
	if (ret)
		return set_err(err, errlen, ret, "cannot register legacy devices: %s", strerror(-ret));
	return 0;
}

/*
 * The Generic Event Device (vmm/ged.c): its register on the MMIO bus, and an edge irqfd on a
 * platform pin of its own, like COM1's (vm_setup_pci() may already hold all legacy pins for
 * the platform; if not, it is reserved here).
 */
static int board_setup_ged(struct vm *vm, char *err, size_t errlen)
{
	int ret = 0;

	vm->ged_gsi = LAYOUT_GED_GSI;
	if (!gsi_alloc_used(&vm->gsis, vm->ged_gsi))
		ret = gsi_alloc_reserve(&vm->gsis, vm->ged_gsi);
	if (ret)
		return set_err(err, errlen, ret, "cannot reserve GSI %u for the GED: %s", vm->ged_gsi,
			    strerror(-ret));
	vm->ged_irq_fd = vm_irqfd(vm, vm->ged_gsi);
	if (vm->ged_irq_fd < 0)
		return set_err(err, errlen, vm->ged_irq_fd, "KVM_IRQFD for the GED: %s",
			    strerror(-vm->ged_irq_fd));
	vm->ged = ged_create(vm->ged_irq_fd);
	if (!vm->ged)
		return set_err(err, errlen, -ENOMEM, "out of memory for the GED");
	ret = bus_register(&vm->mmio_bus, LAYOUT_GED_START, GED_REG_SIZE, &ged_bus_ops, vm->ged);
	if (ret)
		return set_err(err, errlen, ret, "cannot register the GED: %s", strerror(-ret));
	return 0;
}

static int board_setup_acpi(struct vm *vm, uint64_t *rsdp, char *err, size_t errlen)
{
	struct acpi_platform platform = {
		.nr_cpus = vm->max_vcpus,
		.cpus = {
			.nr_boot = vm->nr_vcpus, .apic_ids = vm->apic_ids,
			.hotplug = true, .hotplug_base = LAYOUT_CPU_HOTPLUG_START,
		},
		.ged = {
			.present = true, .base = LAYOUT_GED_START, .reg_size = GED_REG_SIZE,
			.gsi = vm->ged_gsi, .power_button_bit = GED_EVENT_POWER_BUTTON,
			.cpu_hotplug_bit = GED_EVENT_CPU, .pci_hotplug_bit = GED_EVENT_PCI,
		},
	};
	uint8_t *area = guest_mem_ptr(&vm->mem, LAYOUT_ACPI_START, LAYOUT_ACPI_SIZE);
	int ret;

	if (!area)
		return set_err(err, errlen, -EFAULT, "no guest RAM for the ACPI tables");
	vm_pci_acpi(vm, &platform.pci);
	ret = acpi_build_tables(&platform, area, LAYOUT_ACPI_START, LAYOUT_ACPI_SIZE, rsdp);
	if (ret)
		return set_err(err, errlen, ret, "cannot build ACPI tables: %s", strerror(-ret));
	return 0;
}

static int board_load_payload(struct vm *vm, uint64_t rsdp, char *err, size_t errlen)
{
	struct boot_request req = {
		.kernel_path = vm->cfg->kernel,
		.initramfs_path = vm->cfg->initramfs,
		.cmdline = vm->cfg->cmdline ? vm->cfg->cmdline : "",
		.rsdp_gpa = rsdp,
	};
	int ret;

	ret = arch_load_kernel(&vm->mem, &req, &vm->boot, err, errlen);
	if (ret)
		return ret;
	ret = arch_write_boot_tables(&vm->mem, vm->boot.protocol);
	ret = ret ?: arch_vcpu_set_boot_regs(vm->vcpus[0].fd, &vm->boot);
	if (ret)
		return set_err(err, errlen, ret, "cannot set up the boot vCPU: %s", strerror(-ret));
	return 0;
}


int board_setup_late_devices(struct vm *vm, char *err, size_t errlen)
{
	int ret = board_setup_ged(vm, err, errlen);

	ret = ret ?: vm_setup_vcpus(vm, err, errlen);
	return ret ?: vm_setup_cpu_hotplug(vm, LAYOUT_CPU_HOTPLUG_START, err, errlen);
}

int board_vcpus_prepare(struct vm *vm, char *err, size_t errlen)
{
	int ret = arch_cpuid_supported(vm->kvm_fd, &vm->cpuid);

	if (ret)
		return set_err(err, errlen, ret, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
	return 0;
}

int board_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	struct kvm_cpuid2 *cpuid;
	size_t cpuid_size;
	int ret;

	cpuid_size = sizeof(*cpuid) + vm->cpuid->nent * sizeof(cpuid->entries[0]);
	cpuid = malloc(cpuid_size);
	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, vm->cpuid, cpuid_size);
	arch_cpuid_patch_topo(cpuid, &vm->topo, vcpu->apic_id, arch_host_phys_bits());
	ret = arch_vcpu_init(vcpu->fd, cpuid);
	free(cpuid);
	return ret;
}

int board_boot(struct vm *vm, char *err, size_t errlen)
{
	uint64_t rsdp = 0;
	int ret = board_setup_acpi(vm, &rsdp, err, errlen);

	return ret ?: board_load_payload(vm, rsdp, err, errlen);
}

unsigned board_legacy_routes(struct kvm_irq_routing_entry out[KVM_LEGACY_ROUTES])
{
	return kvm_routing_default_legacy(out);
}

void board_destroy(struct vm *vm)
{
	(void)vm;
}
