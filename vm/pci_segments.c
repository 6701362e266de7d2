// SPDX-License-Identifier: Apache-2.0
/*
 * The VM's PCI segments: segment 0 with the CF8/CFC ports, one ECAM range per segment, the
 * window allocators and GSIs they share, each segment's share of the windows (the same
 * division the host bridges' _CRS describe, arch/x86_64/acpi_pci.c), and the ACPI hotplug
 * register block. Design: docs/pci.md ("Segments", "Hotplug").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/arch.h"
#include "base/log.h"
#include "vm/pci_fn.h"

void vm_pci_acpi(const struct vm *vm, struct acpi_pci *out)
{
	*out = (struct acpi_pci){
		.present = true,
		.ecam_base = LAYOUT_PCI_ECAM_START,
		.bus_end = 0,
		.mmio32_base = vm->mmio32.base, .mmio32_size = vm->mmio32.size,
		.mmio64_base = vm->mmio64.base, .mmio64_size = vm->mmio64.size,
		.nr_segments = vm->nr_segs,
		.hotplug_base = LAYOUT_PCI_HOTPLUG_START,
	};
}

/* A vCPU ejected devices: the VMM thread frees them (vm_hotplug_reap) off the bus lock. */
static void hotplug_ejected(void *ctx, unsigned seg, uint32_t slots)
{
	struct vm *vm = ctx;
	uint64_t one = 1;

	(void)seg;
	(void)slots;
	if (write(vm->device_evt, &one, sizeof(one)) != sizeof(one))
		pr_warn_ratelimited("pci hotplug: cannot wake the VMM thread: %s", strerror(errno));
}

static const struct pci_hotplug_ops vm_hotplug_ops = { .eject = hotplug_ejected };

/* Segment 0 decodes all 256 buses' ECAM alone; with more, each segment has its bus 0's MiB. */
static int segment_add(struct vm *vm, unsigned s)
{
	struct pci_segment *seg = s ? calloc(1, sizeof(*seg)) : &vm->pci;
	uint64_t ecam_size = vm->nr_segs == 1 ? LAYOUT_PCI_ECAM_SIZE : 1ULL << 20;
	int ret;

	if (!seg)
		return -ENOMEM;
	ret = pci_segment_init(seg, (uint16_t)s);
	if (ret) {
		if (s)
			free(seg);
		return ret;
	}
	vm->segs[s] = seg;
	if (!s)
		vm->pci_ready = true;
	return bus_register(&vm->mmio_bus, LAYOUT_PCI_ECAM_START + (s << 20), ecam_size,
			    &pci_ecam_ops, seg);
}

int vm_setup_pci_segments(struct vm *vm, char *err, size_t errlen)
{
	uint64_t m64_base, m64_size;
	unsigned gsi, s;
	int ret;

	vm->nr_segs = config_pci_segments(vm->cfg);
	arch_mmio64_window(&vm->mem, arch_host_phys_bits(), &m64_base, &m64_size);
	if (pthread_mutex_init(&vm->alloc_lock, NULL))
		return set_err(err, errlen, -ENOMEM, "cannot create the PCI allocator lock");
	ret = pci_hotplug_init(&vm->hotplug, vm->nr_segs, &vm_hotplug_ops, vm);
	for (s = 0; !ret && s < vm->nr_segs; s++)
		ret = segment_add(vm, s);
	if (ret)
		return set_err(err, errlen, ret, "cannot create PCI segment %u: %s", s ? s - 1 : 0,
			       strerror(-ret));
	ret = range_alloc_init(&vm->mmio32, "mmio32", LAYOUT_PCI_MMIO32_START,
			       LAYOUT_PCI_MMIO32_SIZE);
	ret = ret ?: range_alloc_init(&vm->mmio64, "mmio64", m64_base, m64_size);
	ret = ret ?: range_alloc_init(&vm->io_ports, "io", LAYOUT_PCI_IO_START, LAYOUT_PCI_IO_SIZE);
	gsi_alloc_init(&vm->gsis);
	for (gsi = 0; gsi < GSI_NR_LEGACY && !ret; gsi++)
		if (!gsi_alloc_used(&vm->gsis, gsi))
			ret = gsi_alloc_reserve(&vm->gsis, gsi);
	ret = ret ?: bus_register(&vm->pio_bus, PCI_CF8_PORT, PCI_CF8_LEN, &pci_cf8_ops, &vm->pci);
	ret = ret ?: bus_register(&vm->mmio_bus, LAYOUT_PCI_HOTPLUG_START, PCI_HP_REG_SIZE,
				  &pci_hotplug_bus_ops, &vm->hotplug);
	if (ret)
		return set_err(err, errlen, ret, "cannot set up the PCI segments: %s",
			       strerror(-ret));
	return 0;
}

void vm_destroy_pci_segments(struct vm *vm)
{
	for (unsigned s = 0; s < vm->nr_segs; s++) {
		if (!vm->segs[s])
			continue;
		pci_segment_destroy(vm->segs[s]);
		if (s)
			free(vm->segs[s]);
		vm->segs[s] = NULL;
	}
	if (vm->nr_segs) {
		pci_hotplug_destroy(&vm->hotplug);
		pthread_mutex_destroy(&vm->alloc_lock);
	}
	vm->nr_segs = 0;
	vm->pci_ready = false;
}

int vm_pci_apply(struct vm *vm)
{
	int ret = 0;

	for (unsigned s = 0; s < vm->nr_segs; s++)
		if (pci_segment_pending(vm->segs[s])) {
			int r = pci_segment_apply(vm->segs[s]);

			ret = ret ?: r;
		}
	return ret;
}

/*
 * A BAR of @size (its own alignment) inside segment @seg's share of the 64-bit window, so
 * Linux finds it inside that host bridge's _CRS and keeps it. First fit; the segment holds
 * at most 31 functions, so the walk is short.
 */
int vm_bar_alloc(struct vm *vm, unsigned seg, uint64_t size, uint64_t *addr)
{
	struct acpi_pci_windows w;
	struct acpi_pci pci;
	int ret = -ENOSPC;

	vm_pci_acpi(vm, &pci);
	acpi_pci_segment_windows(&pci, seg, &w);
	pthread_mutex_lock(&vm->alloc_lock);
	for (uint64_t a = (w.mmio64_base + size - 1) & ~(size - 1);
	     ret && a + size <= w.mmio64_base + w.mmio64_size; a += size) {
		ret = range_alloc_reserve(&vm->mmio64, a, size, size);
		if (!ret)
			*addr = a;
		else if (ret != -EEXIST)
			break;
	}
	pthread_mutex_unlock(&vm->alloc_lock);
	return ret == -EEXIST ? -ENOSPC : ret;
}

void vm_bar_free(struct vm *vm, uint64_t addr)
{
	struct range_alloc *win;

	pthread_mutex_lock(&vm->alloc_lock);
	win = vm_bar_window(vm, addr);
	if (win && range_alloc_free(win, addr))
		pr_warn("pci: BAR at 0x%llx was not reserved", (unsigned long long)addr);
	pthread_mutex_unlock(&vm->alloc_lock);
}
