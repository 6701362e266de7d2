// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-pci functions of a VM: construction from the config, the BAR owner (allocator,
 * MMIO bus range and one KVM_IOEVENTFD per queue notify register, moved together when the
 * guest relocates BAR0), interrupt wiring, and what vm.info and vm.counters report.
 * Design: docs/pci.md ("owner contract") and docs/virtio.md ("integration").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "base/json.h"
#include "base/log.h"
#include "vm/pci_fn.h"

/* ------------------------------------------------------------------ BAR owner */

static int ioeventfd_set(struct vm_pci_fn *fn, uint64_t bar_addr, unsigned q, bool assign)
{
	struct kvm_ioeventfd req = {
		.addr = bar_addr + virtio_pci_notify_offset(&fn->vp, q),
		.len = 2,   /* virtio 1.2 4.1.4.4: the driver writes the 16-bit queue index */
		.fd = virtio_pci_kick_fd(&fn->vp, q),
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(fn->vm->vm_fd, KVM_IOEVENTFD, &req) ? -errno : 0;
}

static void ioeventfds_unset(struct vm_pci_fn *fn, uint64_t addr, unsigned nr)
{
	while (nr--)
		if (ioeventfd_set(fn, addr, nr, false))
			pr_warn("KVM_IOEVENTFD deassign at 0x%" PRIx64 ": %s", addr, strerror(errno));
}

static int bar_map(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	struct vm_pci_fn *fn = ctx;
	unsigned q;
	int ret;

	(void)dev;
	if (bar != VIRTIO_PCI_BAR)
		return -EINVAL;
	ret = bus_register(&fn->vm->mmio_bus, addr, size, &virtio_pci_bar_ops, &fn->vp);
	if (ret)
		return ret;
	for (q = 0; q < fn->dev->nr_queues; q++) {
		ret = ioeventfd_set(fn, addr, q, true);
		if (ret) {
			ioeventfds_unset(fn, addr, q);
			bus_unregister(&fn->vm->mmio_bus, addr);
			return ret;
		}
	}
	return 0;
}

static void bar_unmap(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	struct vm_pci_fn *fn = ctx;

	(void)dev;
	(void)size;
	if (bar != VIRTIO_PCI_BAR)
		return;
	ioeventfds_unset(fn, addr, fn->dev->nr_queues);
	bus_unregister(&fn->vm->mmio_bus, addr);
}

/* BAR0 is 64-bit: the guest may place it in either window (PCI 3.0 6.2.5.1). */
struct range_alloc *vm_bar_window(struct vm *vm, uint64_t addr)
{
	if (addr >= vm->mmio64.base && addr - vm->mmio64.base < vm->mmio64.size)
		return &vm->mmio64;
	if (addr >= vm->mmio32.base && addr - vm->mmio32.base < vm->mmio32.size)
		return &vm->mmio32;
	return NULL;
}

/* Moves the reservation, possibly across windows; unchanged on failure. */
static int bar_reserve_move_locked(struct vm *vm, uint64_t old_addr, uint64_t new_addr,
				   uint64_t size)
{
	struct range_alloc *from = vm_bar_window(vm, old_addr), *to = vm_bar_window(vm, new_addr);
	int ret;

	if (!from || !to)
		return -EINVAL;   /* the PCI side only moves BARs into the windows; be sure */
	if (from == to)
		return range_alloc_move(from, old_addr, new_addr);
	ret = range_alloc_reserve(to, new_addr, size, size);
	if (!ret && (ret = range_alloc_free(from, old_addr)))
		range_alloc_free(to, new_addr);
	return ret;
}

/* The windows are shared by every segment, whose apply locks do not exclude each other. */
static int bar_reserve_move(struct vm *vm, uint64_t old_addr, uint64_t new_addr, uint64_t size)
{
	int ret;

	pthread_mutex_lock(&vm->alloc_lock);
	ret = bar_reserve_move_locked(vm, old_addr, new_addr, size);
	pthread_mutex_unlock(&vm->alloc_lock);
	return ret;
}

static int bar_move(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t old_addr,
		    uint64_t new_addr, uint64_t size, bool mapped)
{
	struct vm_pci_fn *fn = ctx;
	int ret;

	ret = bar_reserve_move(fn->vm, old_addr, new_addr, size);
	if (ret || !mapped)
		return ret;
	bar_unmap(fn, dev, bar, old_addr, size);
	ret = bar_map(fn, dev, bar, new_addr, size);
	if (ret) {
		if (bar_map(fn, dev, bar, old_addr, size))
			pr_err("virtio-pci %s: BAR%u lost at 0x%" PRIx64, dev->id, bar, old_addr);
		bar_reserve_move(fn->vm, new_addr, old_addr, size);
	}
	return ret;
}

/* The owner's hooks, plus a note to the VMM thread that vm.info's BAR view changed. */
static void info_changed(struct vm *vm)
{
	uint64_t one = 1;

	if (write(vm->info_evt, &one, sizeof(one)) != sizeof(one))
		pr_warn_ratelimited("cannot signal a device tree change: %s", strerror(errno));
}

static int owner_map(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	int ret = bar_map(ctx, dev, bar, addr, size);

	info_changed(((struct vm_pci_fn *)ctx)->vm);
	return ret;
}

static void owner_unmap(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t addr,
			uint64_t size)
{
	bar_unmap(ctx, dev, bar, addr, size);
	info_changed(((struct vm_pci_fn *)ctx)->vm);
}

static int owner_move(void *ctx, struct pci_dev *dev, unsigned bar, uint64_t old_addr,
		      uint64_t new_addr, uint64_t size, bool mapped)
{
	int ret = bar_move(ctx, dev, bar, old_addr, new_addr, size, mapped);

	info_changed(((struct vm_pci_fn *)ctx)->vm);
	return ret;
}

static const struct pci_bar_ops vm_virtio_bar_ops = {
	.map = owner_map,
	.unmap = owner_unmap,
	.move = owner_move,
};

/* ------------------------------------------------------------------ construction */

static void fn_resample(void *ctx)
{
	struct vm_pci_fn *fn = ctx;

	virtio_pci_intx_resample(&fn->vp);
}

/* Also what an ejected function's removal runs: every resource goes back for reuse. */
void vm_pci_fn_free(struct vm_pci_fn *fn)
{
	struct pci_bar_info bi;

	if (fn->vp_ready) {
		struct pci_segment *seg = fn->vp.pci.seg;

		if (seg && !pci_segment_remove(seg, &fn->vp.pci))   /* the slot is no device's */
			pci_hotplug_plug(&fn->vm->hotplug, seg->id, fn->vp.pci.slot, false, false);
		if (fn->bar_reserved && !pci_dev_bar_info(&fn->vp.pci, VIRTIO_PCI_BAR, &bi))
			vm_bar_free(fn->vm, bi.addr);
		virtio_pci_destroy(&fn->vp);
	}
	vm_intx_destroy(&fn->intx);
	vm_msi_group_destroy(&fn->msi);
	virtio_dev_destroy(fn->dev);
	cJSON_Delete(fn->counters_base);
	free(fn);
}

/*
 * PCI 3.0 6.2.2: COMMAND.Interrupt Disable stops the function asserting INTx# (Linux sets it
 * while it uses MSI-X). An interrupt kept back here stays in the ISR, and the driver that
 * clears the bit reads the ISR first (virtio 1.2 4.1.5.3).
 */
static int fn_intx_raise(void *ctx)
{
	struct vm_pci_fn *fn = ctx;

	if (pci_cfg_get16(&fn->vp.pci, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE)
		return 0;
	return vm_intx_raise(&fn->intx);
}

static const struct virtio_intx_ops fn_intx_ops = { .raise = fn_intx_raise };

/* A vCPU asked for a reset or an activation: the VMM thread carries it out. */
static void fn_defer(void *ctx)
{
	struct vm_pci_fn *fn = ctx;
	uint64_t one = 1;

	if (write(fn->vm->device_evt, &one, sizeof(one)) != sizeof(one))
		pr_warn_ratelimited("%s: cannot wake the VMM thread: %s", fn->vp.pci.id,
				    strerror(errno));
}

void vm_run_device_work(struct vm *vm)
{
	uint64_t n;

	if (read(vm->device_evt, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_warn("reading the device work event: %s", strerror(errno));
	for (unsigned i = 0; i < vm->nr_fns; i++)
		virtio_pci_run_deferred(&vm->fns[i]->vp);
}

/*
 * A restore puts each function back in the slot state.json saved for it ("slot"); an older
 * snapshot without one takes what the config asks, as at boot.
 */
static int restored_slot(struct vm *vm, const char *id, int *slot, char *err, size_t errlen)
{
	const cJSON *o = vm->restore_state ? snap_state_device(vm->restore_state, id) : NULL;
	uint64_t s;

	if (vm->restore_state && !o)   /* before it takes a slot another device saved */
		return set_err(err, errlen, -EINVAL, "state.json: devices.%s: missing (config.json "
			       "has it)", id);
	if (!o || !cJSON_GetObjectItemCaseSensitive(o, "slot"))
		return 0;
	if (json_get_u64(o, "slot", &s) || s < 1 || s >= PCI_NR_SLOTS)
		return set_err(err, errlen, -EINVAL, "state.json: devices.%s.slot: not a PCI slot "
			       "1-31", id);
	*slot = (int)s;
	return 0;
}

/* BAR0 from the 64-bit window, MSI-X vectors, slot, then the INTx pin its slot implies. */
static int fn_plug(struct vm_pci_fn *fn, const struct vm_device_spec *spec, char *err,
		   size_t errlen)
{
	struct vm *vm = fn->vm;
	const char *id = spec->id;
	int slot = spec->slot;
	uint64_t addr;
	uint32_t gsi;
	int ret;

	if (spec->seg >= vm->nr_segs)
		return set_err(err, errlen, -EINVAL, "%s: PCI segment %u does not exist", id,
			       spec->seg);
	ret = restored_slot(vm, id, &slot, err, errlen);
	if (ret)
		return ret;

	ret = vm_msi_group_init(vm, &fn->msi, fn->dev->nr_queues + 1u);
	if (ret) {
		snprintf(err, errlen, "%s: cannot allocate MSI-X vectors: %s", id, strerror(-ret));
		return ret;
	}
	ret = virtio_pci_init(&fn->vp, &(struct virtio_pci_args){
		.id = id, .dev = fn->dev,
		.msix_ops = &vm_msix_irq_ops, .msix_ctx = &fn->msi,
		.intx_ops = &fn_intx_ops, .intx_ctx = fn, .defer = fn_defer, .defer_ctx = fn });
	if (ret) {
		snprintf(err, errlen, "%s: cannot create the virtio-pci function: %s", id,
			 strerror(-ret));
		return ret;
	}
	fn->vp_ready = true;
	ret = vm_bar_alloc(vm, spec->seg, VIRTIO_PCI_BAR_SIZE, &addr);
	if (ret) {
		snprintf(err, errlen, "%s: no room for BAR0 in the 64-bit window", id);
		return ret;
	}
	fn->bar_reserved = true;
	pci_bar_set_addr(&fn->vp.pci, VIRTIO_PCI_BAR, addr);   /* aligned, in the window */
	pci_dev_set_bar_ops(&fn->vp.pci, &vm_virtio_bar_ops, fn);
	ret = pci_segment_add(vm->segs[spec->seg], &fn->vp.pci, slot);
	if (ret) {
		if (ret == -EBUSY)
			snprintf(err, errlen, "%s: PCI slot %d is already taken", id, slot);
		else
			snprintf(err, errlen, "%s: no free PCI slot: %s", id, strerror(-ret));
		return ret;
	}
	fn->msi.devid = (uint32_t)fn->vp.pci.slot << 3;   /* requester ID: bus 0, function 0 */
	gsi = ACPI_PCI_INTX_FIRST_GSI + (fn->vp.pci.slot - 1) % 8;   /* as the _PRT says */
	pci_cfg_set8(&fn->vp.pci, PCI_INTERRUPT_LINE, (uint8_t)gsi);
	ret = vm_intx_init(vm, &fn->intx, gsi, fn_resample, fn);
	if (ret) {
		snprintf(err, errlen, "%s: cannot bind INTx GSI %u: %s", id, gsi, strerror(-ret));
		return ret;
	}
	/* Cloud Hypervisor's built-in devices ("__" ids) stay; the others the guest may eject. */
	return pci_hotplug_plug(&vm->hotplug, spec->seg, fn->vp.pci.slot, strncmp(id, "__", 2),
				false);
}

/* Builds instance @i of @type and plugs it into its segment; last in vm->fns on success. */
int vm_add_fn(struct vm *vm, const struct vm_device_type *type, unsigned i, char *err,
	      size_t errlen)
{
	struct vm_pci_fn *fn = calloc(1, sizeof(*fn)), **fns = NULL;
	struct vm_device_spec spec;
	int ret;

	if (!fn)
		return set_err(err, errlen, -ENOMEM, "out of memory for a PCI function");
	fn->vm = vm;
	ret = type->create(vm, i, &spec, err, errlen);
	if (ret) {
		free(fn);
		return ret;
	}
	fn->dev = spec.dev;
	ret = fn_plug(fn, &spec, err, errlen);
	if (!ret && !(fns = realloc(vm->fns, (vm->nr_fns + 1) * sizeof(*fns))))
		ret = set_err(err, errlen, -ENOMEM, "%s: out of memory", spec.id);
	if (ret) {
		vm_pci_fn_free(fn);
		return ret;
	}
	fns[vm->nr_fns++] = fn;
	vm->fns = fns;
	return 0;
}

int vm_setup_pci_devices(struct vm *vm, char *err, size_t errlen)
{
	int ret = 0;

	for (unsigned t = 0; !ret && vm_device_types[t]; t++)
		for (unsigned i = 0; !ret && i < vm_device_types[t]->count(vm->cfg); i++)
			ret = vm_add_fn(vm, vm_device_types[t], i, err, errlen);
	/* Map what the construction-time placements say; nothing decodes before the guest. */
	if (!ret)
		ret = vm_pci_apply(vm);
	return ret;
}

void vm_destroy_pci_devices(struct vm *vm)
{
	while (vm->nr_fns)
		vm_pci_fn_free(vm->fns[--vm->nr_fns]);
	free(vm->fns);
	vm->fns = NULL;
}

void vm_pause_pci_devices(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_fns; i++)
		if (virtio_pci_pause(&vm->fns[i]->vp))
			pr_warn("%s: could not pause the device", vm->fns[i]->vp.pci.id);
}

void vm_resume_pci_devices(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_fns; i++)
		virtio_pci_resume(&vm->fns[i]->vp);
}
