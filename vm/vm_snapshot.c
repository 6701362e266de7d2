// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot a paused VM into a directory, and build a VM back from one. The pieces (KVM state,
 * state.json, memory-ranges, the atomic directory) are snapshot/'s; this file decides what goes
 * in and the order things come back (docs/snapshot.md "Integration").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "vm/internal.h"

static const struct {
	const char *name;
	size_t off;
} allocators[] = {
	{ "mmio32", offsetof(struct vm, mmio32) },
	{ "mmio64", offsetof(struct vm, mmio64) },
	{ "io_ports", offsetof(struct vm, io_ports) },
};

static struct range_alloc *vm_allocator(struct vm *vm, unsigned i)
{
	return (struct range_alloc *)((char *)vm + allocators[i].off);
}

/* KVM state of the VM and of every present vCPU; the vCPUs are parked outside KVM_RUN. */
static int save_kvm(struct vm *vm, cJSON *st, char *err, size_t errlen)
{
	unsigned n = vm_nr_present_vcpus(vm);
	struct snap_vm s;
	int ret;

	/* vCPUs the guest has are 0..n-1 once a resize is done; config.json must agree. */
	if (n != vm->cfg->boot_vcpus)
		return set_err(err, errlen, -EBUSY, "a vCPU resize to %u is still waiting for the "
			       "guest to eject a CPU (%u present); snapshot once it has",
			       vm->cfg->boot_vcpus, n);
	ret = snap_vm_save(vm->vm_fd, vm->clock_saved ? &vm->paused_clock : NULL, &s, err, errlen);
	ret = ret ?: snap_state_set_vm(st, snap_vm_to_json(&s));
	for (unsigned i = 0; !ret && i < n; i++) {
		struct snap_vcpu v;

		ret = snap_vcpu_save(vm->kvm_fd, vm->vcpus[i].fd, i, &v, err, errlen);
		if (ret)
			break;
		ret = snap_state_add_vcpu(st, snap_vcpu_to_json(&v));
		snap_vcpu_free(&v);
	}
	return ret;
}

static int save_allocators(struct vm *vm, cJSON *st)
{
	int ret = 0;

	for (unsigned i = 0; !ret && i < sizeof(allocators) / sizeof(allocators[0]); i++)
		ret = snap_state_add_allocator(st, allocators[i].name,
					       range_alloc_save(vm_allocator(vm, i)));
	return ret ?: snap_state_add_allocator(st, "gsis", gsi_alloc_save(&vm->gsis));
}

static int refuse_vhost_user(const struct vm_config *cfg, char *err, size_t errlen)
{
	const char *id = cfg->nr_fs ? cfg->fs[0].id : NULL;

	for (unsigned i = 0; !id && i < cfg->nr_disks; i++)
		if (cfg->disks[i].vhost_user)
			id = cfg->disks[i].id ? cfg->disks[i].id : "disk";
	for (unsigned i = 0; !id && i < cfg->nr_nets; i++)
		if (cfg->nets[i].vhost_user)
			id = cfg->nets[i].id ? cfg->nets[i].id : "net";
	if (!id && !cfg->nr_fs)
		return 0;
	return set_err(err, errlen, -EINVAL, "device '%s' is served by a vhost-user backend whose "
		       "state cannot be saved: snapshot refused", id ? id : "fs");
}

int vm_snapshot(struct vm *vm, const char *config_json, const char *dir,
		struct snap_mem_stats *stats, char *err, size_t errlen)
{
	struct snap_writer *w = NULL;
	cJSON *st = snap_state_new();
	int ret;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* A vhost-user backend keeps ring and device state vireo cannot save: write nothing. */
	if ((ret = refuse_vhost_user(vm->cfg, err, errlen))) {
		cJSON_Delete(st);
		return ret;
	}
	ret = snap_writer_open(dir, &w, err, errlen);
	ret = ret ?: save_kvm(vm, st, err, errlen);
	ret = ret ?: snap_mem_save(&vm->ram, w, st, stats, err, errlen);
	if (!ret && (ret = save_allocators(vm, st)))
		snprintf(err, errlen, "cannot save the address allocators: %s", strerror(-ret));
	ret = ret ?: vm_save_pci_devices(vm, st, err, errlen);
	ret = ret ?: vm_save_platform(vm, st, err, errlen);
	ret = ret ?: snap_config_write(w, config_json, err, errlen);
	ret = ret ?: snap_state_write(w, st, err, errlen);
	if (!ret)
		ret = snap_writer_commit(w, err, errlen);
	else
		snap_writer_abort(w);
	cJSON_Delete(st);
	return ret;
}

/* ------------------------------------------------------------------ restore */

/* Every KVM section parsed and checked before anything is built. */
static int parse_kvm(const cJSON *st, unsigned nr_vcpus, struct snap_vm *s,
		     struct snap_vcpu *v, char *err, size_t errlen)
{
	char where[24];
	int ret;

	if (snap_state_nr_vcpus(st) != nr_vcpus) {
		snprintf(err, errlen, "state.json has %u vCPUs but config.json cpus.boot_vcpus is %u",
			 snap_state_nr_vcpus(st), nr_vcpus);
		return -EINVAL;
	}
	ret = snap_vm_from_json(snap_state_vm(st), s, err, errlen);
	for (unsigned i = 0; !ret && i < nr_vcpus; i++) {
		snprintf(where, sizeof(where), "vcpus[%u]", i);
		ret = snap_vcpu_from_json(snap_state_vcpu(st, i), where, &v[i], err, errlen);
	}
	return ret;
}

/* Each allocator's restore names the field inside its section; this names the section. */
static int restore_allocators(struct vm *vm, const cJSON *st, char *err, size_t errlen)
{
	const unsigned nr = sizeof(allocators) / sizeof(allocators[0]);

	for (unsigned i = 0; i <= nr; i++) {
		const char *name = i < nr ? allocators[i].name : "gsis";
		const cJSON *o = snap_state_allocator(st, name);
		char why[320];
		int ret;

		if (!cJSON_IsObject(o))
			return set_err(err, errlen, -EINVAL, "state.json: allocators.%s: missing or "
				       "not an object", name);
		ret = i < nr ? range_alloc_restore(vm_allocator(vm, i), o, why, sizeof(why))
			     : gsi_alloc_restore(&vm->gsis, o, why, sizeof(why));
		if (ret == -EINVAL)
			return set_err(err, errlen, ret, "state.json: allocators.%s.%s", name, why);
		if (ret)
			return set_err(err, errlen, ret, "state.json: allocators.%s: %s", name,
				       strerror(-ret));
	}
	return 0;
}

/* Memory before vCPU state: kvmclock, steal-time and PV-EOI MSRs point into guest RAM. */
static int restore_state(struct vm *vm, const cJSON *st, int dirfd,
			 const struct vm_restore_opts *o, const struct snap_vm *s,
			 const struct snap_vcpu *v, char *err, size_t errlen)
{
	int ret = snap_mem_restore(st, dirfd, &vm->mem, o->copy ? SNAP_MEM_COPY : SNAP_MEM_LAZY,
				   o->prefault, &vm->ram, err, errlen);

	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = snap_vcpu_restore(vm->kvm_fd, vm->vcpus[i].fd, &v[i], err, errlen);
	ret = ret ?: snap_vm_restore(vm->vm_fd, s, err, errlen);
	ret = ret ?: restore_allocators(vm, st, err, errlen);
	ret = ret ?: vm_restore_pci_devices(vm, st, err, errlen);
	ret = ret ?: vm_restore_platform(vm, st, err, errlen);
	if (!ret) {
		vm->paused_clock = s->clock;
		vm->clock_saved = true;
	}
	return ret;
}

int vm_restore(const struct vm_config *cfg, struct vm_persist *persist, const cJSON *st,
	       int dirfd, const struct vm_restore_opts *o, struct vm **out, char *err,
	       size_t errlen)
{
	struct snap_vcpu *v = calloc(cfg->boot_vcpus, sizeof(*v));
	struct vm *vm = NULL;
	struct snap_vm s;
	int ret;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = parse_kvm(st, cfg->boot_vcpus, &s, v, err, errlen);
	ret = ret ?: vm_create_for_restore(cfg, persist, st, &vm, err, errlen);
	ret = ret ?: restore_state(vm, st, dirfd, o, &s, v, err, errlen);
	if (!ret && (ret = vm_start_paused(vm)))
		snprintf(err, errlen, "cannot start the vCPUs: %s", strerror(-ret));
	for (unsigned i = 0; i < cfg->boot_vcpus; i++)
		snap_vcpu_free(&v[i]);
	free(v);
	if (ret) {
		vm_destroy(vm);
		return ret;
	}
	*out = vm;
	return 0;
}
