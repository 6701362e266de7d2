// SPDX-License-Identifier: Apache-2.0
/*
 * vCPU hotplug (docs/hotplug-cpu.md): vm.resize adds vCPUs, created and started as at boot
 * (CPUID, MSRs, the vCPU filter) but waiting for INIT/SIPI, or asks the guest to eject the
 * highest ones; the register block (platform/cpu_hotplug.c) tells the guest which, the GED's
 * CPU bit makes it look. KVM cannot destroy a vCPU, so an ejected one keeps its fd and only
 * its thread stops; adding it again starts a new thread on the same vCPU, which the guest
 * resets with INIT/SIPI when it brings the CPU online.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "platform/cpu_hotplug.h"
#include "vm/internal.h"

/* Runs on the vCPU thread that wrote the eject bit (the register's lock held). */
static void vcpu_ejected(void *ctx, unsigned cpu)
{
	struct vm *vm = ctx;
	struct vcpu *vcpu = &vm->vcpus[cpu];

	pr_info("vcpu%u: ejected by the guest; stopping its thread", cpu);
	__atomic_store_n(&vcpu->stop, 1, __ATOMIC_SEQ_CST);
	if (vcpu->started)
		vcpu_kick(vcpu);
}

int vm_setup_cpu_hotplug(struct vm *vm, uint64_t base, char *err, size_t errlen)
{
	int ret;

	vm->cpuhp = cpu_hotplug_create(vm->max_vcpus, vcpu_ejected, vm);
	if (!vm->cpuhp)
		return set_err(err, errlen, -ENOMEM, "out of memory for the CPU hotplug registers");
	cpu_hotplug_set_present(vm->cpuhp, vm->nr_vcpus);
	ret = bus_register(&vm->mmio_bus, base, CPUHP_REG_SIZE,
			   &cpu_hotplug_bus_ops, vm->cpuhp);
	if (ret)
		return set_err(err, errlen, ret, "cannot register the CPU hotplug registers: %s",
			       strerror(-ret));
	return 0;
}

void vm_destroy_cpu_hotplug(struct vm *vm)
{
	cpu_hotplug_destroy(vm->cpuhp);
	vm->cpuhp = NULL;
}

/* Joins the threads of ejected vCPUs (each has left its loop, or leaves it once woken). */
static void reap_ejected(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);   /* one parked when it was ejected */
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started || !__atomic_load_n(&v->stop, __ATOMIC_SEQ_CST))
			continue;
		pthread_join(v->thread, NULL);
		v->started = false;
		pthread_mutex_lock(&vm->pause_lock);
		vm->vcpus_exited--;           /* its exit no longer stands in for a parked vCPU */
		pthread_mutex_unlock(&vm->pause_lock);
	}
}

/* vCPU @i exists in KVM and runs a thread (a new one if it was ejected before). */
static int bring_up(struct vm *vm, unsigned i, char *err, size_t errlen)
{
	struct vcpu *v = &vm->vcpus[i];
	int ret;

	if (i >= vm->nr_vcpus) {          /* vCPUs are created in index order */
		ret = vcpu_create(vm, i);
		if (ret) {
			vcpu_destroy(v);
			return set_err(err, errlen, ret, "cannot create vcpu%u: %s", i,
				       strerror(-ret));
		}
		vm->nr_vcpus = i + 1;
	}
	if (v->started)
		return 0;
	__atomic_store_n(&v->stop, 0, __ATOMIC_SEQ_CST);
	ret = vcpu_start(v);
	if (ret)
		return set_err(err, errlen, ret, "cannot start vcpu%u: %s", i, strerror(-ret));
	return 0;
}

int vm_resize_vcpus(struct vm *vm, unsigned desired, char *err, size_t errlen)
{
	int ret;

	if (!vm->cpuhp)              /* a board without ACPI CPU hotplug (aarch64 for now) */
		return set_err(err, errlen, -EOPNOTSUPP, "vCPU hotplug is not supported on this "
			       "architecture yet");
	if (desired < 1 || desired > vm->max_vcpus)
		return set_err(err, errlen, -EINVAL, "desired_vcpus: %u is outside 1..%u "
			       "(cpus.max_vcpus)", desired, vm->max_vcpus);
	reap_ejected(vm);
	for (unsigned i = 0; i < desired; i++) {
		if (cpu_hotplug_present(vm->cpuhp, i))
			continue;
		ret = bring_up(vm, i, err, errlen);
		if (ret)
			return ret;
	}
	if (!cpu_hotplug_resize(vm->cpuhp, desired))
		return 0;
	ret = ged_notify(vm->ged, GED_EVENT_CPU);
	if (ret)
		return set_err(err, errlen, ret, "cannot raise the GED interrupt: %s",
			       strerror(-ret));
	pr_info("vCPUs: %u wanted, the guest is notified", desired);
	return 0;
}

unsigned vm_nr_present_vcpus(struct vm *vm)
{
	return vm->cpuhp ? cpu_hotplug_nr_present(vm->cpuhp) : vm->nr_vcpus;
}
