/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM: the KVM VM and vCPUs, guest RAM, the buses and devices, and how it stops. All VM state
 * lives in struct vm so a snapshot can reach it; nothing is global.
 */
#ifndef VIREO_VM_VM_H
#define VIREO_VM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "pci/hotplug.h"
#include "pci/msix.h"
#include "pci/pci.h"
#include "snapshot/snapshot.h"
#include "base/bus.h"
#include "config/config.h"
#include "platform/platform.h"
#include "base/memory.h"
#include "base/sysfilter.h"

enum vm_exit_reason {
	VM_EXIT_NONE,
	VM_EXIT_POWEROFF,   /* the guest powered off */
	VM_EXIT_REBOOT,     /* the guest asked for a reset: start again from the same config */
	VM_EXIT_ERROR,      /* a fatal exit or a VMM failure; already logged */
	VM_EXIT_STOPPED,    /* vireo was asked to stop (signal) */
};

/* What outlives a guest reboot within one vireo process, like battery-backed CMOS. */
struct vm_persist {
	uint8_t cmos_nvram[128];
	int serial_out_fd;        /* -1: serial output discarded */
	int console_out_fd;       /* virtio-console output; -1: discarded */
	unsigned boots;
};

struct vm_msi_group;
struct vm_pci_fn;

struct vcpu {
	struct vm *vm;
	unsigned id;              /* index: ACPI UID, vcpuN */
	unsigned apic_id;         /* KVM's vcpu id: topo_apic_id() of the index */
	int stop;                 /* atomic: this thread leaves its loop (the guest ejected it) */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t exits_io, exits_mmio;
};

struct vm {
	const struct vm_config *cfg;
	struct vm_persist *persist;
	int kvm_fd, vm_fd;
	size_t run_size;
	struct guest_mem mem;
	struct snap_ram ram;      /* what backs RAM, for snapshots (memfd, or a lazy restore) */
	struct kvm_clock_data paused_clock;   /* kvmclock when paused: resume continues from it */
	bool clock_saved;
	struct bus pio_bus, mmio_bus;
	struct kvm_cpuid2 *cpuid;   /* x86_64 */
	struct vm_board *board;     /* the board's own state (vm/board_<arch>.c), if any */
	struct boot_info boot;
	unsigned nr_vcpus;        /* KVM vCPUs created (a removed one keeps its fd for re-adding) */
	unsigned max_vcpus;       /* vcpus[] entries: cpus.max_vcpus */
	struct vcpu *vcpus;
	struct cpu_topology topo;
	uint8_t apic_ids[CONFIG_MAX_VCPUS];
	struct cpu_hotplug *cpuhp;   /* ACPI CPU hotplug registers (vm/vcpu_hotplug.c) */

	/*
	 * PCI segment 0 and the address/GSI allocators every segment draws from (snapshot
	 * reaches them); segs[s] is segment s (segs[0] = &pci). alloc_lock serializes the
	 * window allocators across segments (BAR moves run under one segment's apply lock).
	 */
	struct pci_segment pci;
	bool pci_ready;
	struct pci_segment *segs[PCI_HP_MAX_SEGMENTS];
	unsigned nr_segs;
	pthread_mutex_t alloc_lock;
	struct range_alloc mmio32, mmio64, io_ports;
	struct gsi_alloc gsis;
	struct pci_hotplug hotplug;   /* ACPI hotplug registers (vm/pci_segments.c) */
	const struct cJSON *restore_state;   /* state.json while a restore builds the devices */

	/* MSI routing (vm/irq.c): every group's routes, pushed whole on each change. */
	pthread_mutex_t irq_lock;
	struct vm_msi_group **msi_groups;
	unsigned nr_msi_groups;
	int irq_epfd;             /* INTx resample eventfds; the VMM thread polls it */
	uint64_t irq_errors;      /* atomic: routing/irqfd failures */

	/* Written when what vm.info shows changes under the guest (a BAR moved). */
	int info_evt;
	/* Written when a vCPU left a device reset or activation for the VMM thread. */
	int device_evt;

	/* PCI functions vireo created (vm/pci_devices.c), in slot order of creation. */
	struct vm_pci_fn **fns;
	unsigned nr_fns;

	struct platform_notifier notifier;
	int serial_irq_fd;
	struct serial *serial;
	struct cmos *cmos;
	struct i8042 *i8042;
	struct acpi_pm *acpi_pm;
	struct ged *ged;          /* ACPI Generic Event Device: the power button */
	int ged_irq_fd;
	uint32_t ged_gsi;

	int exit_evt;             /* eventfd: readable once exit_reason is set */
	int exit_reason;          /* enum vm_exit_reason, first writer wins (atomic) */
	int stop;                 /* vCPU threads leave their loop when set (atomic) */

	/* Pause: vCPUs park outside KVM_RUN with any pending I/O exit completed. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_requested;
	unsigned vcpus_parked;
	unsigned vcpus_exited;    /* threads that left their loop (fatal exit): never park */
};

/*
 * Creates the VM from @cfg: KVM VM, irqchip, RAM, devices, ACPI tables, kernel loaded, vCPUs
 * ready. On failure returns -errno with a one-line reason in @err and nothing left behind.
 */
int vm_create(const struct vm_config *cfg, struct vm_persist *persist, struct vm **out,
	      char *err, size_t errlen);
/*
 * vm_create() for a snapshot restore: everything but the kernel, boot tables, ACPI and boot
 * registers, which the snapshot's RAM and vCPU state bring (vm/vm_snapshot.c); @st (its
 * state.json) puts each PCI function back in the slot it was saved in.
 */
int vm_create_for_restore(const struct vm_config *cfg, struct vm_persist *persist,
			  const struct cJSON *st, struct vm **out, char *err, size_t errlen);
/* Starts the vCPU threads. */
int vm_start(struct vm *vm);
/* Starts them parked (a restored VM comes up Paused); vm_resume() lets them run. */
int vm_start_paused(struct vm *vm);
/* Readable once the VM wants to stop (guest poweroff/reset, fatal exit). */
static inline int vm_exit_fd(const struct vm *vm) { return vm->exit_evt; }
/* Stops the vCPUs and returns why the VM stopped (VM_EXIT_STOPPED if asked from outside). */
enum vm_exit_reason vm_stop(struct vm *vm);
/* Terminal input for COM1 (serial mode tty only). */
void vm_serial_input(struct vm *vm, const uint8_t *buf, size_t len);
/* Presses the ACPI power button: a GED event and its interrupt. 0 or -errno. */
int vm_power_button(struct vm *vm);
/*
 * vm.resize desired_vcpus (vm/vcpu_hotplug.c): adds vCPUs (created, started waiting for
 * INIT/SIPI, announced to the guest) or asks the guest to eject the highest ones (their threads
 * stop once it has). -EINVAL with a message for a count outside 1..max_vcpus.
 */
int vm_resize_vcpus(struct vm *vm, unsigned desired, char *err, size_t errlen);
/* vCPUs the guest sees present (a removal counts until the guest ejects the CPU). */
unsigned vm_nr_present_vcpus(struct vm *vm);

/* Logs every vCPU's registers (pauses and resumes around it). */
void vm_dump_vcpus(struct vm *vm);
/* Stops vCPU threads (if running) and frees everything. */
void vm_destroy(struct vm *vm);
/* Records why the VM stops (the first reason wins) and wakes vm_wait(). */
void vm_request_exit(struct vm *vm, enum vm_exit_reason reason);

/*
 * Parks every vCPU outside KVM_RUN, after re-entering it once with immediate_exit so a pending
 * PIO/MMIO exit is completed (api.rst: such exits complete on the next KVM_RUN). Returns once
 * all are parked. vm_resume() lets them run again.
 */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* Readable when an INTx line was resampled; vm_irq_poll() dispatches without blocking. */
static inline int vm_irq_fd(const struct vm *vm) { return vm->irq_epfd; }
void vm_irq_poll(struct vm *vm);

/* pci_devices.c, pci_devices_state.c: what the VMM asks of the devices. */
/* Parks / restarts every device worker (after vm_pause, before vm_resume). */
void vm_pause_pci_devices(struct vm *vm);
void vm_resume_pci_devices(struct vm *vm);
/* Readable when a device reset or activation waits (vm_run_device_work carries them out). */
static inline int vm_device_fd(const struct vm *vm) { return vm->device_evt; }
void vm_run_device_work(struct vm *vm);
/* Readable after the guest changed what vm.info's device tree shows; read it to re-arm. */
static inline int vm_info_fd(const struct vm *vm) { return vm->info_evt; }
/* vm.info's device_tree object and vm.counters' object; NULL on ENOMEM. */
struct cJSON *vm_device_tree_json(struct vm *vm);
struct cJSON *vm_counters_json(struct vm *vm);

/*
 * pci_hotplug.c: devices that come and go while the VM runs (docs/pci.md, "Hotplug"), on
 * the VMM thread. add: builds the config's instance @i of @kind ("disk", "net", "vsock")
 * at a free slot of its segment and tells the guest; @info gets its id and BDF. remove:
 * asks the guest to eject @id (-ENOENT: no such device; -EPERM: built in or already
 * ejected). reap: frees what the guest ejected, calling @removed with each id first.
 */
struct vm_pci_info {
	char id[32];
	char bdf[16];            /* "0000:00:05.0" */
};
int vm_hotplug_add(struct vm *vm, const char *kind, unsigned i, struct vm_pci_info *info,
		   char *err, size_t errlen);
int vm_hotplug_remove(struct vm *vm, const char *id);
unsigned vm_hotplug_reap(struct vm *vm, void (*removed)(void *ctx, const char *id), void *ctx);

/* vm_snapshot.c */
/*
 * Writes the paused VM (vCPUs parked, devices paused) into the existing directory @dir:
 * config.json (@config_json), state.json + checksum, memory-ranges; atomically, nothing left
 * behind on failure. -errno with one line in @err (-EEXIST: a snapshot is already there).
 */
int vm_snapshot(struct vm *vm, const char *config_json, const char *dir,
		struct snap_mem_stats *stats, char *err, size_t errlen);

/* What a vCPU thread may call (vm/vcpu_filter.c), applied as the thread starts. */
extern const struct sysfilter_policy vcpu_sysfilter;

struct vm_restore_opts {
	bool copy;                /* read memory-ranges into RAM; default: map it lazily */
	bool prefault;
};

/*
 * Builds the VM @cfg describes from @st (state.json, already checksummed) and the directory
 * @dirfd, every section validated first; vCPUs parked, devices running their workers again.
 * On failure nothing is left behind.
 */
int vm_restore(const struct vm_config *cfg, struct vm_persist *persist,
	       const struct cJSON *st, int dirfd, const struct vm_restore_opts *o,
	       struct vm **out, char *err, size_t errlen);

#endif
