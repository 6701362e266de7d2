// SPDX-License-Identifier: Apache-2.0
/*
 * vCPU threads: KVM_RUN, exit dispatch to the buses, and fatal exits reported with registers.
 * A thread is stopped by setting vm->stop, kvm_run.immediate_exit and sending SIGUSR1, so a
 * signal arriving just before KVM_RUN is never lost (api.rst, KVM_CAP_IMMEDIATE_EXIT).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "vm/board.h"
#include "vm/internal.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig;   /* only interrupts KVM_RUN */
}

int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *vcpu = &vm->vcpus[id];

	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->apic_id = vm->apic_ids[id];
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->apic_id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return -errno;
	}
	return board_vcpu_init(vm, vcpu);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

/*
 * A config write may have moved or (un)mapped a BAR: apply it now that no bus lock is held,
 * before this vCPU re-enters the guest (docs/pci.md, deferred apply).
 */
static void vcpu_apply_pci(struct vm *vm)
{
	int ret;

	if ((ret = vm_pci_apply(vm)))
		pr_warn_ratelimited("pci: applying BAR changes failed: %s", strerror(-ret));
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned i;

	vcpu->exits_io++;
	/* A rep ins/outs exit carries count items of size bytes each. */
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio_bus, run->io.port, data, run->io.size);
		else
			bus_read(&vcpu->vm->pio_bus, run->io.port, data, run->io.size);
	}
	vcpu_apply_pci(vcpu->vm);
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : 0;

	vcpu->exits_mmio++;
	if (run->mmio.is_write) {
		bus_write(&vcpu->vm->mmio_bus, run->mmio.phys_addr, run->mmio.data, len);
		vcpu_apply_pci(vcpu->vm);
	} else
		bus_read(&vcpu->vm->mmio_bus, run->mmio.phys_addr, run->mmio.data, len);
}

static void vcpu_fatal(struct vcpu *vcpu, const char *what)
{
	pr_err("vcpu%u: %s; stopping the VM", vcpu->id, what);
	arch_vcpu_dump(vcpu->fd, vcpu->id);
	vm_request_exit(vcpu->vm, VM_EXIT_ERROR);
}

static void vcpu_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[160];
	int n;
	unsigned i;

	n = snprintf(what, sizeof(what), "KVM internal error, suberror %u%s", run->internal.suberror,
		     run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
		     " (instruction emulation failed)" : "");
	for (i = 0; i < run->internal.ndata && i < 4 && n > 0 && (size_t)n < sizeof(what); i++)
		n += snprintf(what + n, sizeof(what) - (size_t)n, " data[%u]=%#llx", i,
			      (unsigned long long)run->internal.data[i]);
	vcpu_fatal(vcpu, what);
}

/* Returns true while the vCPU should keep running. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fatal(vcpu, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_request_exit(vcpu->vm, VM_EXIT_POWEROFF);
		} else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			vm_request_exit(vcpu->vm, VM_EXIT_REBOOT);
		} else {
			snprintf(what, sizeof(what), "system event %u", run->system_event.type);
			vcpu_fatal(vcpu, what);
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_internal_error(vcpu);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed, reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fatal(vcpu, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unhandled exit reason %u", run->exit_reason);
		vcpu_fatal(vcpu, what);
		return false;
	}
}

void vcpu_kick(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

static void vcpu_park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	/* immediate_exit: KVM completes the pending exit's I/O and returns EINTR at once. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		pr_warn("vcpu%u: completing the last exit before pausing failed", vcpu->id);
	vcpu->run->immediate_exit = 0;
	pthread_mutex_lock(&vm->pause_lock);
	vm->vcpus_parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->pause_requested && !__atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&vcpu->stop, __ATOMIC_SEQ_CST))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->vcpus_parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

/* Checked on every exit: a plain atomic load, the lock is only taken to park. */
static bool vcpu_should_park(struct vm *vm)
{
	return __atomic_load_n(&vm->pause_requested, __ATOMIC_ACQUIRE);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t set;
	char name[16];
	bool filtered;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/* Before the first KVM_RUN: guest code never runs unfiltered. */
	filtered = !sysfilter_apply(&vcpu_sysfilter);
	if (!filtered) {
		pr_err("vcpu%u: cannot install its syscall filter; stopping the VM", vcpu->id);
		vm_request_exit(vm, VM_EXIT_ERROR);
	}
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (filtered && !__atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&vcpu->stop, __ATOMIC_SEQ_CST)) {
		if (vcpu_should_park(vm)) {
			vcpu_park(vcpu);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			pr_err("vcpu%u: KVM_RUN failed: %s", vcpu->id, strerror(errno));
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->vcpus_exited++;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	static const struct sigaction kick = { .sa_handler = vcpu_kick_handler };
	sigset_t set, old;
	int ret;

	/* No SA_RESTART: the signal must make KVM_RUN return EINTR. */
	if (sigaction(VCPU_KICK_SIGNAL, &kick, NULL))
		return -errno;
	/* Threads start with every signal blocked; each vCPU unblocks only its kick. */
	sigfillset(&set);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	ret = -pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	vcpu->started = !ret;
	return ret;
}

void vcpus_stop(struct vm *vm)
{
	unsigned i;

	__atomic_store_n(&vm->stop, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);   /* parked vCPUs see stop */
	pthread_mutex_unlock(&vm->pause_lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].started)
			vcpu_kick(&vm->vcpus[i]);
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = false;
	}
}

void vm_pause(struct vm *vm)
{
	unsigned i, started = 0;

	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_requested, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->pause_lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started) {
			vcpu_kick(&vm->vcpus[i]);
			started++;
		}
	}
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->vcpus_parked + vm->vcpus_exited < started)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	/* The guest clock stands still while paused, as on Cloud Hypervisor: resume restores it. */
	vm->clock_saved = !snap_clock_save(vm->vm_fd, &vm->paused_clock);
	if (!vm->clock_saved)
		pr_warn("KVM_GET_CLOCK at pause failed: the guest clock will jump on resume");
}

int vm_start_paused(struct vm *vm)
{
	int ret;

	__atomic_store_n(&vm->pause_requested, true, __ATOMIC_RELEASE);
	ret = vm_start(vm);
	if (ret)
		return ret;
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->vcpus_parked + vm->vcpus_exited < vm->nr_vcpus)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

void vm_resume(struct vm *vm)
{
	if (vm->clock_saved && snap_clock_restore(vm->vm_fd, &vm->paused_clock))
		pr_warn("KVM_SET_CLOCK at resume failed: %s", strerror(errno));
	vm->clock_saved = false;
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_requested, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}
