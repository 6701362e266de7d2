// SPDX-License-Identifier: Apache-2.0
/*
 * What the PCI functions tell the outside: vm.info's device tree, vm.counters, and their
 * sections of a snapshot (state.json "devices"), including counters that survive a restore.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "vm/pci_fn.h"

static bool put_resource(cJSON *res, const char *type, cJSON **body)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return false;
	cJSON_AddItemToArray(res, o);
	*body = cJSON_AddObjectToObject(o, type);
	return *body != NULL;
}

/* CH's Resource enum, externally tagged: PciBar, MsiIrq, LegacyIrq. */
static bool fn_resources(struct vm_pci_fn *fn, cJSON *res)
{
	struct pci_bar_info bi;
	cJSON *body, *gsis, *o;

	if (pci_dev_bar_info(&fn->vp.pci, VIRTIO_PCI_BAR, &bi) ||
	    !put_resource(res, "PciBar", &body) ||
	    json_put_count(body, "index", VIRTIO_PCI_BAR) ||
	    json_put_count(body, "base", bi.addr) || json_put_count(body, "size", bi.size) ||
	    !cJSON_AddStringToObject(body, "type_", "Mmio64") ||
	    !cJSON_AddBoolToObject(body, "prefetchable", bi.prefetch) ||
	    !cJSON_AddBoolToObject(body, "mapped", bi.mapped))
		return false;
	if (!put_resource(res, "MsiIrq", &body) || !cJSON_AddStringToObject(body, "ty", "MsiX") ||
	    json_put_count(body, "base", fn->msi.gsi[0]) ||
	    json_put_count(body, "size", fn->msi.nr) ||
	    !(gsis = cJSON_AddArrayToObject(body, "gsis")))
		return false;
	for (unsigned v = 0; v < fn->msi.nr; v++) {
		if (!(o = cJSON_CreateNumber(fn->msi.gsi[v])))
			return false;
		cJSON_AddItemToArray(gsis, o);
	}
	if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(res, o))
		return cJSON_Delete(o), false;
	return !json_put_count(o, "LegacyIrq", fn->intx.gsi);
}

cJSON *vm_device_tree_json(struct vm *vm)
{
	cJSON *tree = cJSON_CreateObject(), *node, *res;
	char bdf[16];

	for (unsigned i = 0; tree && i < vm->nr_fns; i++) {
		struct vm_pci_fn *fn = vm->fns[i];

		snprintf(bdf, sizeof(bdf), "%04x:00:%02x.0", fn->vp.pci.seg->id, fn->vp.pci.slot);
		node = cJSON_AddObjectToObject(tree, fn->vp.pci.id);
		if (!node || !cJSON_AddStringToObject(node, "id", fn->vp.pci.id) ||
		    !(res = cJSON_AddArrayToObject(node, "resources")) || !fn_resources(fn, res) ||
		    !cJSON_AddArrayToObject(node, "children") ||
		    !cJSON_AddStringToObject(node, "pci_bdf", bdf) ||
		    (fn->dev->ops->info && !fn->dev->ops->info(fn->dev, node))) {
			cJSON_Delete(tree);
			return NULL;
		}
	}
	return tree;
}

static uint64_t load(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* Transport counters: what the guest did wrong and what the device had to refuse. */
static bool fn_transport_counters(struct vm_pci_fn *fn, cJSON *o)
{
	const struct virtio_pci_stats *st = &fn->vp.stats;
	uint64_t ring_errors = 0, popped = 0, pushed = 0;

	for (unsigned q = 0; q < fn->dev->nr_queues; q++) {
		const struct virtq *vq = &fn->dev->vqs[q];

		for (unsigned e = 0; e < VIRTQ_NR_ERRORS; e++)
			ring_errors += load(&vq->errors[e]);
		popped += load(&vq->popped);
		pushed += load(&vq->pushed);
	}
	return !(json_put_count(o, "requests", popped) ||
		 json_put_count(o, "completions", pushed) ||
		 json_put_count(o, "ring_errors", ring_errors) ||
		 json_put_count(o, "needs_reset", load(&st->needs_reset)) ||
		 json_put_count(o, "bad_register_accesses", load(&st->bad_access) +
				load(&st->bad_queue_cfg) + load(&st->bad_status)) ||
		 json_put_count(o, "features_refused", load(&st->features_refused)) ||
		 json_put_count(o, "msix_ignored_accesses", msix_ignored(&fn->vp.msix)) ||
		 json_put_count(o, "msix_enabled", msix_enabled(&fn->vp.msix)) ||
		 json_put_count(o, "msix_interrupts", load(&fn->msi.signalled)) ||
		 json_put_count(o, "intx_interrupts", load(&fn->intx.raised)) ||
		 json_put_count(o, "irq_errors", load(&st->irq_errors)));
}

/* "No operation yet" values of CH's latency counters. */
static bool latency_unset(uint64_t v)
{
	return v == UINT64_MAX || v == UINT64_MAX / 10000;
}

/*
 * Counters survive a snapshot: live values plus those saved in it. Sums add up; a latency
 * figure keeps the saved one until an operation after the restore gives a new one.
 */
static bool counters_add_base(cJSON *live, const cJSON *base)
{
	cJSON *it, *next, *sum;
	uint64_t b, l;

	for (it = live->child; base && it; it = next) {
		next = it->next;
		if (json_get_u64(base, it->string, &b) || !it->valuestring)
			continue;
		l = strtoull(it->valuestring, NULL, 10);
		if (!strcmp(it->string, "msix_enabled"))
			continue;                       /* a state, not a count */
		if (strstr(it->string, "latency"))
			l = latency_unset(l) ? b : l;
		else
			l += b;
		sum = json_create_count(l);
		if (!sum || !cJSON_ReplaceItemInObjectCaseSensitive(live, it->string, sum))
			return cJSON_Delete(sum), false;
	}
	return true;
}

static cJSON *fn_counters(struct vm_pci_fn *fn)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || (fn->dev->ops->counters && !fn->dev->ops->counters(fn->dev, o)) ||
	    !fn_transport_counters(fn, o) ||
	    !counters_add_base(o, fn->counters_base)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* What the guest did to the hotplug registers that they do not define (pci/hotplug.h). */
static cJSON *hotplug_counters(struct vm *vm)
{
	struct pci_hotplug *hp = &vm->hotplug;
	cJSON *o = cJSON_CreateObject();

	if (o && !json_put_count(o, "bad_accesses", pci_hotplug_bad(hp, PCI_HP_BAD_ACCESS)) &&
	    !json_put_count(o, "bad_segments", pci_hotplug_bad(hp, PCI_HP_BAD_SEGMENT)) &&
	    !json_put_count(o, "bad_ejects", pci_hotplug_bad(hp, PCI_HP_BAD_EJECT)))
		return o;
	cJSON_Delete(o);
	return NULL;
}

cJSON *vm_counters_json(struct vm *vm)
{
	cJSON *root = cJSON_CreateObject(), *o;

	if (root && !(o = hotplug_counters(vm))) {
		cJSON_Delete(root);
		return NULL;
	}
	if (root)
		cJSON_AddItemToObject(root, "__pci_hotplug", o);

	for (unsigned i = 0; root && i < vm->nr_fns; i++) {
		o = fn_counters(vm->fns[i]);
		if (!o) {
			cJSON_Delete(root);
			return NULL;
		}
		cJSON_AddItemToObject(root, vm->fns[i]->vp.pci.id, o);
	}
	return root;
}

/* ------------------------------------------------------------------ snapshot */

/* "counters": every counter as a "0x..." string (exact u64). */
static int counters_save(struct vm_pci_fn *fn, cJSON *o)
{
	cJSON *live = fn_counters(fn), *saved = cJSON_AddObjectToObject(o, "counters"), *it;
	int ret = live && saved ? 0 : -ENOMEM;

	for (it = live ? live->child : NULL; !ret && it; it = it->next)
		ret = json_put_u64(saved, it->string, strtoull(it->valuestring, NULL, 10));
	cJSON_Delete(live);
	return ret;
}

/* The saved counters, checked: an object of u64 strings. */
static int counters_restore(struct vm_pci_fn *fn, const cJSON *c, char *err, size_t errlen)
{
	const cJSON *it;
	uint64_t v;
	int ret;

	cJSON_ArrayForEach(it, c) {
		ret = json_field_u64(c, NULL, it->string, &v, err, errlen);
		if (ret)
			return ret;
		if (!strcmp(it->string, "msix_enabled") && v > 1)   /* a state: 0 or 1 */
			return json_field_err(err, errlen, NULL, it->string, "%llu is not 0 or 1",
					      (unsigned long long)v);
	}
	fn->counters_base = cJSON_Duplicate(c, true);
	return fn->counters_base ? 0 : set_err(err, errlen, -ENOMEM, "out of memory");
}

/*
 * One function's section: its slot (a restore plugs it there again: hotplug may have left
 * holes first-fit would not reproduce), pci, msix, virtio, the device's own, counters.
 */
static int fn_save(struct vm_pci_fn *fn, cJSON *o)
{
	const struct virtio_device_ops *ops = fn->dev->ops;
	cJSON *sec = NULL;

	if (json_put_u64(o, "slot", fn->vp.pci.slot))
		goto err;
	if (!(sec = pci_dev_save(&fn->vp.pci)) || !cJSON_AddItemToObject(o, "pci", sec))
		goto err;
	if (!(sec = msix_save(&fn->vp.msix)) || !cJSON_AddItemToObject(o, "msix", sec))
		goto err;
	if (!(sec = virtio_pci_save(&fn->vp)) || !cJSON_AddItemToObject(o, "virtio", sec))
		goto err;
	if (ops->save && (!(sec = ops->save(fn->dev)) || !cJSON_AddItemToObject(o, ops->name, sec)))
		goto err;
	return counters_save(fn, o);
err:
	cJSON_Delete(sec);
	return -ENOMEM;
}

/* Every function's section, keyed by device id; the VM paused, the devices quiesced. */
int vm_save_pci_devices(struct vm *vm, cJSON *state, char *err, size_t errlen)
{
	for (unsigned i = 0; i < vm->nr_fns; i++) {
		struct vm_pci_fn *fn = vm->fns[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || fn_save(fn, o)) {
			cJSON_Delete(o);
			return set_err(err, errlen, -ENOMEM, "%s: cannot save the device state",
				       fn->vp.pci.id);
		}
		if (snap_state_add_device(state, fn->vp.pci.id, o))
			return set_err(err, errlen, -ENOMEM, "%s: cannot save the device state",
				       fn->vp.pci.id);
	}
	return 0;
}

/*
 * The restored BAR0 must be a placement the restored allocators hold for exactly this BAR,
 * inside one of the PCI windows, and what the guest reads from the BAR register.
 */
static int fn_check_bar(struct vm_pci_fn *fn, char *err, size_t errlen)
{
	const struct range_alloc *win;
	const struct range_alloc_entry *e;
	struct pci_bar_info bi;
	uint64_t reg;

	if (pci_dev_bar_info(&fn->vp.pci, VIRTIO_PCI_BAR, &bi))
		return set_err(err, errlen, -EINVAL, "state.json: devices.%s.pci.bars[%u]: no "
			       "such BAR", fn->vp.pci.id, VIRTIO_PCI_BAR);
	win = vm_bar_window(fn->vm, bi.addr);
	e = win ? range_alloc_find(win, bi.addr) : NULL;
	reg = pci_bar_reg_addr(&fn->vp.pci, VIRTIO_PCI_BAR);
	if (!win)
		snprintf(err, errlen, "state.json: devices.%s.pci.bars[%u].addr: 0x%" PRIx64 " is "
			 "outside the PCI windows", fn->vp.pci.id, VIRTIO_PCI_BAR, bi.addr);
	else if (!e || e->size != bi.size)
		snprintf(err, errlen, "state.json: devices.%s.pci.bars[%u].addr: 0x%" PRIx64 " (size "
			 "0x%" PRIx64 ") is not reserved in allocators.%s", fn->vp.pci.id,
			 VIRTIO_PCI_BAR, bi.addr, bi.size, win->name);
	else if (reg != bi.addr)
		snprintf(err, errlen, "state.json: devices.%s.pci.cfg[0x%x]: the BAR%u register "
			 "(0x%" PRIx64 ") disagrees with bars[%u].addr (0x%" PRIx64 ")",
			 fn->vp.pci.id, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, VIRTIO_PCI_BAR,
			 reg, VIRTIO_PCI_BAR, bi.addr);
	else
		return 0;
	return -EINVAL;
}

/* Two functions claiming the same placement would share one allocator entry. */
static int fns_check_overlap(struct vm *vm, char *err, size_t errlen)
{
	struct pci_bar_info a, b;

	for (unsigned i = 0; i < vm->nr_fns; i++) {
		pci_dev_bar_info(&vm->fns[i]->vp.pci, VIRTIO_PCI_BAR, &a);
		for (unsigned j = i + 1; j < vm->nr_fns; j++) {
			pci_dev_bar_info(&vm->fns[j]->vp.pci, VIRTIO_PCI_BAR, &b);
			if (a.addr < b.addr + b.size && b.addr < a.addr + a.size) {
				snprintf(err, errlen, "state.json: devices.%s.pci and devices.%s.pci: "
					 "BAR0s overlap", vm->fns[i]->vp.pci.id,
					 vm->fns[j]->vp.pci.id);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int restore_pci(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen)
{
	return pci_dev_restore(&fn->vp.pci, o, err, errlen);
}

static int restore_msix(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen)
{
	return msix_restore(&fn->vp.msix, o, err, errlen);
}

static int restore_device(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen)
{
	return fn->dev->ops->restore(fn->dev, o, err, errlen);
}

static int restore_virtio(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen)
{
	return virtio_pci_restore(&fn->vp, o, err, errlen);
}

/* Sections in restore order; name NULL: the device's own, named by its type. */
static const struct {
	const char *name;
	int (*restore)(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen);
} sections[] = {
	{ "pci", restore_pci },
	{ "msix", restore_msix },
	{ NULL, restore_device },
	{ "counters", counters_restore },
	{ "virtio", restore_virtio },
};

/*
 * What the sections' parsers do not look at must not be there either: the restored device,
 * saved again, has exactly the keys (and array lengths) of the state it came from. An
 * unknown key or a missing counter is refused, not ignored.
 */
static int fn_check_shape(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen)
{
	cJSON *again = cJSON_CreateObject();
	char where[96];
	int ret;

	if (!again || fn_save(fn, again)) {
		cJSON_Delete(again);
		return set_err(err, errlen, -ENOMEM, "out of memory checking the device state");
	}
	snprintf(where, sizeof(where), "state.json: devices.%s", fn->vp.pci.id);
	ret = json_same_shape(o, again, where, err, errlen);
	cJSON_Delete(again);
	return ret;
}

/*
 * Each section's restore names the field relative to the section; this names the section,
 * so one line says "state.json: devices._disk0.virtio.queues[1].size: 300 is not ...".
 */
static int fn_restore(struct vm_pci_fn *fn, const cJSON *o, char *err, size_t errlen)
{
	const char *id = fn->vp.pci.id;
	char why[320];
	int ret;

	for (unsigned i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const char *name = sections[i].name ? sections[i].name : fn->dev->ops->name;
		const cJSON *sec = cJSON_GetObjectItemCaseSensitive(o, name);

		if (!sections[i].name && !fn->dev->ops->restore)
			continue;
		if (!cJSON_IsObject(sec))
			return set_err(err, errlen, -EINVAL, "state.json: devices.%s.%s: missing or "
				       "not an object", id, name);
		why[0] = '\0';
		ret = sections[i].restore(fn, sec, why, sizeof(why));
		if (ret == -ENOMEM || (ret && !why[0]))
			return set_err(err, errlen, ret, "state.json: devices.%s.%s: %s", id, name,
				       strerror(-ret));
		if (ret)
			return set_err(err, errlen, ret, "state.json: devices.%s.%s%s%s", id, name,
				       why[0] == '[' ? "" : ".", why);
		if (i == 0 && fn_check_bar(fn, err, errlen))
			return -EINVAL;
	}
	return fn_check_shape(fn, o, err, errlen);
}

/*
 * Into the freshly built functions of the same config, allocators already restored. Every
 * device in the state must exist here and the other way round. Workers restart for active
 * devices: pause them again unless the VM resumes at once.
 */
int vm_restore_pci_devices(struct vm *vm, const cJSON *state, char *err, size_t errlen)
{
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(state, "devices"), *d;
	int ret;

	cJSON_ArrayForEach(d, devs) {
		unsigned i;

		for (i = 0; i < vm->nr_fns && strcmp(vm->fns[i]->vp.pci.id, d->string); i++)
			;
		if (i == vm->nr_fns && !vm_platform_device_id(d->string)) {
			snprintf(err, errlen, "state.json: devices.%.64s: no such device in "
				 "config.json", d->string);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < vm->nr_fns; i++) {
		const cJSON *o = snap_state_device(state, vm->fns[i]->vp.pci.id);

		if (!o) {
			snprintf(err, errlen, "state.json: devices.%s: missing (config.json has it)",
				 vm->fns[i]->vp.pci.id);
			return -EINVAL;
		}
		ret = fn_restore(vm->fns[i], o, err, errlen);
		if (ret)
			return ret;
	}
	return fns_check_overlap(vm, err, errlen);
}
