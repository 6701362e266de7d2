// SPDX-License-Identifier: Apache-2.0
/*
 * VM construction and teardown. Order matters (KVM's api.rst): memory slots, the in-kernel
 * irqchip, devices, then vCPUs; what differs per architecture is vm/board_<arch>.c (board.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/log.h"
#include "vm/board.h"
#include "vm/internal.h"

void vm_request_exit(struct vm *vm, enum vm_exit_reason reason)
{
	int none = VM_EXIT_NONE;
	uint64_t one = 1;

	if (__atomic_compare_exchange_n(&vm->exit_reason, &none, (int)reason, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
	    write(vm->exit_evt, &one, sizeof(one)) != sizeof(one))
		pr_err("cannot signal VM exit: %s", strerror(errno));
}

void vm_platform_notify(void *ctx, enum platform_event event)
{
	vm_request_exit(ctx, event == PLATFORM_POWEROFF ? VM_EXIT_POWEROFF : VM_EXIT_REBOOT);
}

/* An eventfd bound to @gsi with KVM_IRQFD: a write pulses the line (edge). */
int vm_irqfd(struct vm *vm, unsigned gsi)
{
	struct kvm_irqfd irqfd = { .gsi = gsi };
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	irqfd.fd = (uint32_t)fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int vm_check_caps(int kvm_fd, const struct vm_kvm_cap *caps, unsigned nr, char *err,
		  size_t errlen)
{
	unsigned i;

	for (i = 0; i < nr; i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return set_err(err, errlen, -ENOTSUP, "KVM lacks KVM_CAP_%s", caps[i].name);
	return 0;
}

static int vm_open_kvm(struct vm *vm, char *err, size_t errlen)
{
	static const struct vm_kvm_cap required[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" }, { KVM_CAP_IRQFD, "IRQFD" },
		{ KVM_CAP_IOEVENTFD, "IOEVENTFD" }, { KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
		{ KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING" },
	};
	int run_size, ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return set_err(err, errlen, -errno, "cannot open /dev/kvm: %s", strerror(errno));
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return set_err(err, errlen, -ENOTSUP, "/dev/kvm has an unsupported API version");
	ret = vm_check_caps(vm->kvm_fd, required, sizeof(required) / sizeof(required[0]), err,
			    errlen);
	ret = ret ?: board_check_kvm(vm->kvm_fd, err, errlen);
	if (ret)
		return ret;
	run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return set_err(err, errlen, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = (size_t)run_size;
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		return set_err(err, errlen, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	return 0;
}

static int vm_setup_memory(struct vm *vm, char *err, size_t errlen)
{
	unsigned i;
	int ret;

	/* memory.shared: a memfd that vhost-user backends map (SET_MEM_TABLE). */
	ret = vm->cfg->memory_shared ? arch_guest_mem_init_shared(&vm->mem, vm->cfg->memory_size)
				     : arch_guest_mem_init(&vm->mem, vm->cfg->memory_size);
	if (ret)
		return set_err(err, errlen, ret, "cannot allocate %llu MiB of guest RAM: %s",
			    (unsigned long long)(vm->cfg->memory_size >> 20), strerror(-ret));
	snap_ram_from_guest_mem(&vm->mem, &vm->ram);
	for (i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot))
			return set_err(err, errlen, -errno, "KVM_SET_USER_MEMORY_REGION: %s",
				    strerror(errno));
	}
	return 0;
}

int vm_setup_vcpus(struct vm *vm, char *err, size_t errlen)
{
	unsigned i;
	int ret;

	ret = board_vcpus_prepare(vm, err, errlen);
	if (ret)
		return ret;
	vm->vcpus = calloc(vm->max_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return set_err(err, errlen, -ENOMEM, "out of memory for vCPUs");
	for (i = 0; i < vm->max_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_create(vm, i);
		if (ret)
			return set_err(err, errlen, ret, "cannot create vcpu%u: %s", i, strerror(-ret));
	}
	return 0;
}

/* @restoring: the guest's RAM (kernel, boot tables, ACPI) and registers come from a snapshot. */
static int vm_build(const struct vm_config *cfg, struct vm_persist *persist,
		    const struct cJSON *restore_st, struct vm **out, char *err, size_t errlen)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	bool restoring = restore_st != NULL;
	int ret;

	if (!vm)
		return set_err(err, errlen, -ENOMEM, "out of memory");
	if (!restoring) {   /* bad input is named before a missing /dev/kvm is */
		ret = arch_check_kernel(cfg->kernel, err, errlen);
		if (ret) {
			free(vm);
			return ret;
		}
	}
	vm->cfg = cfg;
	vm->persist = persist;
	vm->restore_state = restore_st;
	vm->nr_vcpus = cfg->boot_vcpus;
	vm->max_vcpus = config_max_vcpus(cfg);
	config_topology(cfg, &vm->topo);
	for (unsigned i = 0; i < vm->max_vcpus && i < CONFIG_MAX_VCPUS; i++)
		vm->apic_ids[i] = (uint8_t)topo_apic_id(&vm->topo, i);   /* < 255: validated */
	vm->kvm_fd = vm->vm_fd = vm->serial_irq_fd = vm->irq_epfd = -1;
	vm->mem.memfd = -1;
	vm->ram.fd = -1;
	vm->ged_irq_fd = -1;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->exit_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->info_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->device_evt = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_evt < 0 || vm->info_evt < 0 || vm->device_evt < 0 ||
	    bus_init(&vm->pio_bus, "pio") || bus_init(&vm->mmio_bus, "mmio")) {
		ret = set_err(err, errlen, -ENOMEM, "cannot create VM event/bus state");
		goto err;
	}
	ret = vm_irq_init(vm);
	if (ret) {
		set_err(err, errlen, ret, "cannot create the interrupt poller: %s", strerror(-ret));
		goto err;
	}
	/* RAM slots before the irqchip: once an in-kernel irqchip exists, each memslot change
	 * waits for an SRCU grace period (~4-10 ms on kvm-pvm, measured; 0.5 ms before). */
	ret = vm_open_kvm(vm, err, errlen);
	ret = ret ?: vm_setup_memory(vm, err, errlen);
	ret = ret ?: board_setup_irqchip(vm, err, errlen);
	ret = ret ?: board_setup_devices(vm, err, errlen);
	ret = ret ?: vm_setup_pci_segments(vm, err, errlen);
	ret = ret ?: vm_setup_pci_devices(vm, err, errlen);
	ret = ret ?: board_setup_late_devices(vm, err, errlen);   /* and the vCPUs, if not yet */
	if (!restoring)
		ret = ret ?: board_boot(vm, err, errlen);
	if (ret)
		goto err;
	vm->restore_state = NULL;   /* only vm_restore's call keeps it alive */
	*out = vm;
	return 0;
err:
	vm_destroy(vm);
	return ret;
}

int vm_create(const struct vm_config *cfg, struct vm_persist *persist, struct vm **out,
	      char *err, size_t errlen)
{
	return vm_build(cfg, persist, NULL, out, err, errlen);
}

int vm_create_for_restore(const struct vm_config *cfg, struct vm_persist *persist,
			  const struct cJSON *st, struct vm **out, char *err, size_t errlen)
{
	return vm_build(cfg, persist, st, out, err, errlen);
}

int vm_start(struct vm *vm)
{
	unsigned i;
	int ret;

	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			pr_err("cannot start vcpu%u: %s", i, strerror(-ret));
			vcpus_stop(vm);
			return ret;
		}
	}
	return 0;
}

void vm_serial_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	if (vm->serial && vm->cfg->serial.mode == CONSOLE_TTY)
		serial_receive(vm->serial, buf, len);
}

int vm_power_button(struct vm *vm)
{
	if (!vm->ged)
		return -ENOTSUP;   /* no ACPI GED on this board */
	return ged_notify(vm->ged, GED_EVENT_POWER_BUTTON);
}

void vm_dump_vcpus(struct vm *vm)
{
	unsigned i;

	vm_pause(vm);
	for (i = 0; i < vm->nr_vcpus; i++)
		arch_vcpu_dump(vm->vcpus[i].fd, i);
	vm_resume(vm);
}

enum vm_exit_reason vm_stop(struct vm *vm)
{
	uint64_t n;

	vm_request_exit(vm, VM_EXIT_STOPPED);   /* no-op if the guest already chose a reason */
	if (read(vm->exit_evt, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_warn("reading the VM exit event: %s", strerror(errno));
	vcpus_stop(vm);
	return (enum vm_exit_reason)__atomic_load_n(&vm->exit_reason, __ATOMIC_SEQ_CST);
}

void vm_destroy(struct vm *vm)
{
	unsigned i;

	if (!vm)
		return;
	if (vm->vcpus) {
		vcpus_stop(vm);
		for (i = 0; i < vm->nr_vcpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	serial_destroy(vm->serial);
	cmos_destroy(vm->cmos);
	i8042_destroy(vm->i8042);
	acpi_pm_destroy(vm->acpi_pm);
	ged_destroy(vm->ged);
	vm_destroy_cpu_hotplug(vm);
	free(vm->cpuid);
	board_destroy(vm);
	vm_destroy_pci_devices(vm);
	vm_destroy_pci_segments(vm);
	range_alloc_destroy(&vm->mmio32);
	range_alloc_destroy(&vm->mmio64);
	range_alloc_destroy(&vm->io_ports);
	bus_destroy(&vm->pio_bus);
	bus_destroy(&vm->mmio_bus);
	snap_ram_release(&vm->ram);
	guest_mem_destroy(&vm->mem);
	if (vm->serial_irq_fd >= 0)
		close(vm->serial_irq_fd);
	if (vm->ged_irq_fd >= 0)
		close(vm->ged_irq_fd);
	vm_irq_destroy(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->exit_evt >= 0)
		close(vm->exit_evt);
	if (vm->info_evt >= 0)
		close(vm->info_evt);
	if (vm->device_evt >= 0)
		close(vm->device_evt);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	free(vm);
}
