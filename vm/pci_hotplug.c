// SPDX-License-Identifier: Apache-2.0
/*
 * Devices added to and removed from a booted VM, Cloud Hypervisor's way (docs/pci.md,
 * "Hotplug"): an add builds the function as at boot, plugs it at a free slot of its segment,
 * sets its PCIU bit and raises the GED's PCI event; a removal sets the PCID bit and raises
 * the event; the function is freed only once the guest ejected it (B0EJ), on the VMM thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "vm/pci_fn.h"

static const struct vm_device_type *type_named(const char *name)
{
	for (unsigned t = 0; vm_device_types[t]; t++)
		if (!strcmp(vm_device_types[t]->name, name))
			return vm_device_types[t];
	return NULL;
}

static void announce(struct vm *vm)
{
	int ret = ged_notify(vm->ged, GED_EVENT_PCI);

	if (ret)
		pr_warn("pci hotplug: cannot raise the GED event: %s", strerror(-ret));
}

int vm_hotplug_add(struct vm *vm, const char *kind, unsigned i, struct vm_pci_info *info,
		   char *err, size_t errlen)
{
	const struct vm_device_type *type = type_named(kind);
	struct vm_pci_fn *fn;
	int ret;

	if (!type || i >= type->count(vm->cfg))
		return set_err(err, errlen, -EINVAL, "no %s #%u in the configuration", kind, i);
	if (!vm->ged)          /* a board without the ACPI GED (aarch64 for now) */
		return set_err(err, errlen, -EOPNOTSUPP, "device hotplug is not supported on this "
			       "architecture yet");
	ret = vm_add_fn(vm, type, i, err, errlen);
	if (ret)
		return ret;
	fn = vm->fns[vm->nr_fns - 1];
	/* The BAR decodes at its placement before the guest is told (as at boot). */
	ret = vm_pci_apply(vm);
	if (!ret)
		ret = pci_hotplug_plug(&vm->hotplug, fn->vp.pci.seg->id, fn->vp.pci.slot, true,
				       true);
	if (ret) {
		vm->nr_fns--;
		vm_pci_fn_free(fn);
		return set_err(err, errlen, ret, "%s: cannot plug the function: %s", kind,
			       strerror(-ret));
	}
	snprintf(info->id, sizeof(info->id), "%s", fn->vp.pci.id);
	snprintf(info->bdf, sizeof(info->bdf), "%04x:00:%02x.0", fn->vp.pci.seg->id,
		 fn->vp.pci.slot);
	announce(vm);
	return 0;
}

static struct vm_pci_fn *fn_by_id(struct vm *vm, const char *id)
{
	for (unsigned i = 0; i < vm->nr_fns; i++)
		if (!strcmp(vm->fns[i]->vp.pci.id, id))
			return vm->fns[i];
	return NULL;
}

int vm_hotplug_remove(struct vm *vm, const char *id)
{
	struct vm_pci_fn *fn = fn_by_id(vm, id);
	int ret;

	if (!fn)
		return -ENOENT;
	ret = pci_hotplug_request_eject(&vm->hotplug, fn->vp.pci.seg->id, fn->vp.pci.slot);
	if (ret)
		return ret == -ENOENT ? -EPERM : ret;   /* built in, or already ejected */
	announce(vm);
	return 0;
}

/* Takes @fn out of vm->fns, keeping the order of the others. */
static void fns_drop(struct vm *vm, unsigned i)
{
	memmove(&vm->fns[i], &vm->fns[i + 1], (vm->nr_fns - i - 1) * sizeof(vm->fns[0]));
	vm->nr_fns--;
}

unsigned vm_hotplug_reap(struct vm *vm, void (*removed)(void *ctx, const char *id), void *ctx)
{
	unsigned n = 0;

	for (unsigned s = 0; s < vm->nr_segs; s++) {
		uint32_t slots = pci_hotplug_reap(&vm->hotplug, s);

		for (unsigned i = 0; slots && i < vm->nr_fns;) {
			struct vm_pci_fn *fn = vm->fns[i];
			struct pci_segment *seg = fn->vp.pci.seg;

			if (!seg || seg->id != s || !(slots & (1u << fn->vp.pci.slot))) {
				i++;
				continue;
			}
			slots &= ~(1u << fn->vp.pci.slot);
			pr_info("pci hotplug: %s ejected by the guest from %04x:00:%02x.0",
				fn->vp.pci.id, s, fn->vp.pci.slot);
			if (removed)
				removed(ctx, fn->vp.pci.id);
			fns_drop(vm, i);
			vm_pci_fn_free(fn);
			n++;
		}
	}
	return n;
}
