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

/* u64 as a JSON integer written out exactly (cJSON numbers are doubles). */
static bool put_u64(cJSON *obj, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	return cJSON_AddRawToObject(obj, key, num) != NULL;
}

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
	    !put_resource(res, "PciBar", &body) || !put_u64(body, "index", VIRTIO_PCI_BAR) ||
	    !put_u64(body, "base", bi.addr) || !put_u64(body, "size", bi.size) ||
	    !cJSON_AddStringToObject(body, "type_", "Mmio64") ||
	    !cJSON_AddBoolToObject(body, "prefetchable", bi.prefetch) ||
	    !cJSON_AddBoolToObject(body, "mapped", bi.mapped))
		return false;
	if (!put_resource(res, "MsiIrq", &body) || !cJSON_AddStringToObject(body, "ty", "MsiX") ||
	    !put_u64(body, "base", fn->msi.gsi[0]) || !put_u64(body, "size", fn->msi.nr) ||
	    !(gsis = cJSON_AddArrayToObject(body, "gsis")))
		return false;
	for (unsigned v = 0; v < fn->msi.nr; v++) {
		if (!(o = cJSON_CreateNumber(fn->msi.gsi[v])))
			return false;
		cJSON_AddItemToArray(gsis, o);
	}
	if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(res, o))
		return cJSON_Delete(o), false;
	return put_u64(o, "LegacyIrq", fn->intx.gsi);
}

cJSON *vm_device_tree_json(struct vm *vm)
{
	cJSON *tree = cJSON_CreateObject(), *node, *res;
	char bdf[16];

	for (unsigned i = 0; tree && i < vm->nr_fns; i++) {
		struct vm_pci_fn *fn = vm->fns[i];

		snprintf(bdf, sizeof(bdf), "%04x:00:%02x.0", vm->pci.id, fn->vp.pci.slot);
		node = cJSON_AddObjectToObject(tree, fn->vp.pci.id);
		if (!node || !cJSON_AddStringToObject(node, "id", fn->vp.pci.id) ||
		    !(res = cJSON_AddArrayToObject(node, "resources")) || !fn_resources(fn, res) ||
		    !cJSON_AddArrayToObject(node, "children") ||
		    !cJSON_AddStringToObject(node, "pci_bdf", bdf)) {
			cJSON_Delete(tree);
			return NULL;
		}
	}
	return tree;
}

/* Transport counters: what the guest did wrong and what the device had to refuse. */
static bool fn_transport_counters(struct vm_pci_fn *fn, cJSON *o)
{
	const struct virtio_pci_stats *st = &fn->vp.stats;
	uint64_t ring_errors = 0, popped = 0, pushed = 0;

	for (unsigned q = 0; q < fn->vp.vdev.nr_queues; q++) {
		const struct virtq *vq = &fn->vp.vdev.vqs[q];

		for (unsigned e = 0; e < VIRTQ_NR_ERRORS; e++)
			ring_errors += __atomic_load_n(&vq->errors[e], __ATOMIC_RELAXED);
		popped += __atomic_load_n(&vq->popped, __ATOMIC_RELAXED);
		pushed += __atomic_load_n(&vq->pushed, __ATOMIC_RELAXED);
	}
	return put_u64(o, "requests", popped) && put_u64(o, "completions", pushed) &&
	       put_u64(o, "ring_errors", ring_errors) &&
	       put_u64(o, "needs_reset", __atomic_load_n(&st->needs_reset, __ATOMIC_RELAXED)) &&
	       put_u64(o, "bad_register_accesses",
		       __atomic_load_n(&st->bad_access, __ATOMIC_RELAXED) +
		       __atomic_load_n(&st->bad_queue_cfg, __ATOMIC_RELAXED) +
		       __atomic_load_n(&st->bad_status, __ATOMIC_RELAXED)) &&
	       put_u64(o, "features_refused",
		       __atomic_load_n(&st->features_refused, __ATOMIC_RELAXED)) &&
	       put_u64(o, "msix_ignored_accesses", msix_ignored(&fn->vp.msix)) &&
	       put_u64(o, "msix_enabled", msix_enabled(&fn->vp.msix)) &&
	       put_u64(o, "msix_interrupts", __atomic_load_n(&fn->msi.signalled, __ATOMIC_RELAXED)) &&
	       put_u64(o, "intx_interrupts", __atomic_load_n(&fn->intx.raised, __ATOMIC_RELAXED)) &&
	       put_u64(o, "irq_errors", __atomic_load_n(&st->irq_errors, __ATOMIC_RELAXED));
}

/* Cloud Hypervisor's block counter names first, then vireo's. */
static bool blk_counters(struct vm_pci_fn *fn, cJSON *o)
{
	struct virtio_blk_counters c;
	uint64_t rejected = 0;

	virtio_blk_counters(fn->model, &c);
	for (unsigned r = 0; r < VIRTIO_BLK_R_NR; r++)
		rejected += c.rejected[r];
	return put_u64(o, "read_bytes", c.read_bytes) && put_u64(o, "write_bytes", c.write_bytes) &&
	       put_u64(o, "read_ops", c.read_ops) && put_u64(o, "write_ops", c.write_ops) &&
	       put_u64(o, "read_latency_min", c.read_latency_min) &&
	       put_u64(o, "read_latency_max", c.read_latency_max) &&
	       put_u64(o, "read_latency_avg", c.read_latency_avg) &&
	       put_u64(o, "write_latency_min", c.write_latency_min) &&
	       put_u64(o, "write_latency_max", c.write_latency_max) &&
	       put_u64(o, "write_latency_avg", c.write_latency_avg) &&
	       put_u64(o, "flush_ops", c.flush_ops) && put_u64(o, "discard_ops", c.discard_ops) &&
	       put_u64(o, "write_zeroes_ops", c.write_zeroes_ops) &&
	       put_u64(o, "io_errors", c.io_errors) && put_u64(o, "throttled", c.throttled) &&
	       put_u64(o, "bounced_requests", c.bounced) &&
	       put_u64(o, "rejected_requests", rejected);
}

static bool fn_device_counters(struct vm_pci_fn *fn, cJSON *o)
{
	struct virtio_console_stats cs;

	if (fn->kind == FN_BLK)
		return blk_counters(fn, o);
	if (fn->kind == FN_RNG)
		return put_u64(o, "entropy_bytes", virtio_rng_bytes(fn->model)) &&
		       put_u64(o, "refused_requests", virtio_rng_refused(fn->model));
	virtio_console_stats(fn->model, &cs);
	return put_u64(o, "tx_bytes", cs.tx_bytes) && put_u64(o, "tx_dropped", cs.tx_dropped) &&
	       put_u64(o, "rx_bytes", cs.rx_bytes);
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
	char num[24];

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
		snprintf(num, sizeof(num), "%" PRIu64, l);
		sum = cJSON_CreateRaw(num);
		if (!sum || !cJSON_ReplaceItemInObjectCaseSensitive(live, it->string, sum))
			return cJSON_Delete(sum), false;
	}
	return true;
}

static cJSON *fn_counters(struct vm_pci_fn *fn)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !fn_device_counters(fn, o) || !fn_transport_counters(fn, o) ||
	    !counters_add_base(o, fn->counters_base)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *vm_counters_json(struct vm *vm)
{
	cJSON *root = cJSON_CreateObject(), *o;

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
	}
	fn->counters_base = cJSON_Duplicate(c, true);
	return fn->counters_base ? 0 : set_err(err, errlen, -ENOMEM, "out of memory");
}

/* {"pci", "msix", "virtio"[, "blk"], "counters"} per function, keyed by device id. Paused. */
int vm_save_pci_devices(struct vm *vm, cJSON *state, char *err, size_t errlen)
{
	for (unsigned i = 0; i < vm->nr_fns; i++) {
		struct vm_pci_fn *fn = vm->fns[i];
		cJSON *o = cJSON_CreateObject(), *p = pci_dev_save(&fn->vp.pci),
		      *m = msix_save(&fn->vp.msix), *v = virtio_pci_save(&fn->vp),
		      *b = fn->kind == FN_BLK ? virtio_blk_save(fn->model) : NULL;

		if (o && p && m && v && (b || fn->kind != FN_BLK) && !counters_save(fn, o)) {
			cJSON_AddItemToObject(o, "pci", p);
			cJSON_AddItemToObject(o, "msix", m);
			cJSON_AddItemToObject(o, "virtio", v);
			if (b)
				cJSON_AddItemToObject(o, "blk", b);
			if (!snap_state_add_device(state, fn->vp.pci.id, o))
				continue;
		} else {
			cJSON_Delete(o);
			cJSON_Delete(p);
			cJSON_Delete(m);
			cJSON_Delete(v);
			cJSON_Delete(b);
		}
		snprintf(err, errlen, "%s: cannot save the device state", fn->vp.pci.id);
		return -ENOMEM;
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

/* Device sections in restore order; blk only for a disk. */
static const char *const sections[] = { "pci", "msix", "blk", "counters", "virtio" };

static int section_restore(struct vm_pci_fn *fn, unsigned i, const cJSON *o, char *err,
			   size_t errlen)
{
	switch (i) {
	case 0:
		return pci_dev_restore(&fn->vp.pci, o, err, errlen);
	case 1:
		return msix_restore(&fn->vp.msix, o, err, errlen);
	case 2:
		return virtio_blk_restore(fn->model, o, err, errlen);
	case 3:
		return counters_restore(fn, o, err, errlen);
	default:
		return virtio_pci_restore(&fn->vp, o, err, errlen);
	}
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
		const cJSON *sec = cJSON_GetObjectItemCaseSensitive(o, sections[i]);

		if (i == 2 && fn->kind != FN_BLK)
			continue;
		if (!cJSON_IsObject(sec)) {
			snprintf(err, errlen, "state.json: devices.%s.%s: missing or not an object",
				 id, sections[i]);
			return -EINVAL;
		}
		why[0] = '\0';
		ret = section_restore(fn, i, sec, why, sizeof(why));
		if (ret == -ENOMEM || (ret && !why[0]))
			return set_err(err, errlen, ret, "state.json: devices.%s.%s: %s", id,
				       sections[i], strerror(-ret));
		if (ret)
			return set_err(err, errlen, ret, "state.json: devices.%s.%s%s%s", id,
				       sections[i], why[0] == '[' ? "" : ".", why);
		if (i == 0 && fn_check_bar(fn, err, errlen))
			return -EINVAL;
	}
	return 0;
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
