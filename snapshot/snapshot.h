/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot/restore core: KVM vCPU and VM state, the state.json document, guest RAM in the
 * sparse memory-ranges file, and the atomic snapshot directory. Nothing here knows struct vm:
 * the VMM passes KVM fds, the guest RAM descriptor and cJSON objects. Design, file layout,
 * restore order and the integration recipe: docs/snapshot.md.
 *
 * Errors: every fallible function returns 0 or -errno and writes one line into @err that names
 * the file and the field, e.g. "state.json: vcpus[1].sregs.cs.dpl: 0x4 is above 0x3".
 */
#ifndef VIREO_SNAPSHOT_SNAPSHOT_H
#define VIREO_SNAPSHOT_SNAPSHOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/memory.h"

struct cJSON;

#define SNAP_FORMAT_NAME     "vireo-snapshot"
#define SNAP_FORMAT_VERSION  1
/* state.json's "arch": a snapshot restores only on the architecture that took it. */
#if defined(__x86_64__)
#define SNAP_ARCH            "x86_64"
#elif defined(__aarch64__)
#define SNAP_ARCH            "aarch64"
#else
#error "vireo snapshots x86_64 and aarch64 VMs"
#endif
#define SNAP_CONFIG_FILE     "config.json"
#define SNAP_STATE_FILE      "state.json"
#define SNAP_CHECKSUM_FILE   "state.json.crc32c"
#define SNAP_CONFIG_CHECKSUM_FILE "config.json.crc32c"
#define SNAP_MAX_CONFIG_SIZE (1u << 20)
#define SNAP_MEMORY_FILE     "memory-ranges"
#define SNAP_MAX_VCPUS       254
#define SNAP_MAX_STATE_SIZE  (64u << 20)

/* ------------------------------------------------------------------ URLs and directories */

/* "file:///abs/dir" -> "/abs/dir". @field names the request field in the error. */
int snap_url_to_path(const char *url, const char *field, char *path, size_t pathlen,
		     char *err, size_t errlen);

/*
 * Atomic snapshot writer over an existing directory. Open locks the directory (flock) and
 * refuses one that already holds any snapshot file. Files are written under hidden temporary
 * names; commit fsyncs them, renames them into place (state.json last: it is the commit point),
 * and fsyncs the directory. Abort (or a failed commit) removes everything written.
 */
struct snap_writer;

int snap_writer_open(const char *dir, struct snap_writer **out, char *err, size_t errlen);
/* A new temporary file that becomes @name on commit; the fd stays owned by the writer. */
int snap_writer_file(struct snap_writer *w, const char *name, int *fd, char *err, size_t errlen);
/* A whole file from memory. */
int snap_writer_put(struct snap_writer *w, const char *name, const void *buf, size_t len,
		    char *err, size_t errlen);
/* Commits and frees @w, success or not. */
int snap_writer_commit(struct snap_writer *w, char *err, size_t errlen);
/* Removes what was written and frees @w (NULL is fine). */
void snap_writer_abort(struct snap_writer *w);

/* Opens a snapshot directory for reading (O_DIRECTORY); returns the fd or -errno. */
int snap_dir_open(const char *dir, char *err, size_t errlen);
/*
 * Opens snapshot file @name in @dirfd for reading, without blocking: a regular file, owned by
 * our user, writable by nobody else (its contents are checked as untrusted input; a file
 * another user could change under us is refused outright). -errno with one line in @err.
 */
int snap_open_file(int dirfd, const char *name, char *err, size_t errlen);
/* Reads a whole such file of at most @max bytes (NUL-terminated copy in *buf; free it). */
int snap_read_file(int dirfd, const char *name, size_t max, char **buf, size_t *len,
		   char *err, size_t errlen);

/* ------------------------------------------------------------------ vCPU state */

#if defined(__x86_64__)
struct snap_msr {
	uint32_t index;
	uint64_t data;
};

struct snap_vcpu {
	uint32_t id;
	struct kvm_mp_state mp_state;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t xsave_size;            /* 0: KVM has no XSAVE, fpu holds the FPU/SSE state */
	struct kvm_xsave *xsave;        /* xsave_size bytes */
	struct kvm_fpu fpu;
	bool has_xcrs;
	struct kvm_xcrs xcrs;
	bool has_debugregs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	uint32_t tsc_khz;               /* 0: KVM cannot tell (no KVM_CAP_GET_TSC_KHZ) */
	unsigned nr_msrs;
	struct snap_msr *msrs;
	struct kvm_cpuid2 *cpuid;
};
#else
/*
 * aarch64: every register KVM_GET_REG_LIST names (core, FP/SIMD, system, timer, firmware
 * pseudo-registers), up to 128 bits each, in the list's order (snapshot/vcpu_aarch64.c).
 */
struct snap_reg {
	uint64_t id;                    /* KVM_REG_ARM64 | size | class | ... (api.rst 4.68) */
	uint64_t val[2];                /* val[1]: the high half of a 128-bit register */
};

struct snap_vcpu {
	uint32_t id;
	struct kvm_mp_state mp_state;
	unsigned nr_regs;
	struct snap_reg *regs;
};
#endif

/*
 * Reads every piece of vCPU state, in dependency order (MP state first: it makes KVM
 * accept pending APIC events; vCPU events last). The vCPU must be out of KVM_RUN with any
 * PIO/MMIO exit completed (vm_pause()), and every other vCPU paused too.
 */
int snap_vcpu_save(int kvm_fd, int vcpu_fd, uint32_t id, struct snap_vcpu *out,
		   char *err, size_t errlen);
/*
 * Writes the state into a freshly created vCPU that has not run, in the order of
 * docs/snapshot.md "Restore order". Guest RAM and memslots must already hold the snapshot's
 * memory (kvmclock, steal-time and PV-EOI MSRs point into it).
 */
int snap_vcpu_restore(int kvm_fd, int vcpu_fd, const struct snap_vcpu *v, char *err,
		      size_t errlen);
void snap_vcpu_free(struct snap_vcpu *v);
struct cJSON *snap_vcpu_to_json(const struct snap_vcpu *v);
/* Strict parse; @where prefixes errors (e.g. "vcpus[1]"). @out is freed on failure. */
int snap_vcpu_from_json(const struct cJSON *json, const char *where, struct snap_vcpu *out,
			char *err, size_t errlen);

/* ------------------------------------------------------------------ VM-wide KVM state */

#if defined(__x86_64__)
struct snap_vm {
	struct kvm_clock_data clock;
	struct kvm_pic_state pic_master, pic_slave;
	struct kvm_ioapic_state ioapic;
	struct kvm_pit_state2 pit;
};
#else
struct snap_vm {
	struct kvm_clock_data clock;
};
#endif

/*
 * KVM_GET_CLOCK, irqchip (PIC master/slave, IOAPIC) and PIT2. Pass the clock captured when the
 * VM was paused in @paused_clock (snap_clock_save()) so the snapshot does not count the time
 * spent paused; NULL reads it now.
 */
int snap_vm_save(int vm_fd, const struct kvm_clock_data *paused_clock, struct snap_vm *out,
		 char *err, size_t errlen);
/* After every vCPU was restored: PIT, irqchip, then the clock (flags 0: no jump). */
int snap_vm_restore(int vm_fd, const struct snap_vm *s, char *err, size_t errlen);
/* Pause/resume helpers: the guest clock does not advance while the VM is paused. */
int snap_clock_save(int vm_fd, struct kvm_clock_data *out);
int snap_clock_restore(int vm_fd, const struct kvm_clock_data *c);
struct cJSON *snap_vm_to_json(const struct snap_vm *s);
int snap_vm_from_json(const struct cJSON *json, struct snap_vm *out, char *err, size_t errlen);

#if defined(__aarch64__)
/*
 * The vGIC's state (arch_gic_save) as JSON, and back for a VM of @nr_vcpus vCPUs with or
 * without an ITS: every entry checked against that VM's register table (gic_aarch64_json.c).
 */
struct arch_gic_state;
struct cJSON *snap_gic_to_json(const struct arch_gic_state *s);
int snap_gic_from_json(const struct cJSON *json, unsigned nr_vcpus, bool its,
		       struct arch_gic_state *out, char *err, size_t errlen);
#endif

/* ------------------------------------------------------------------ guest RAM */

#define SNAP_MAX_RAM_REGIONS GUEST_MEM_MAX_REGIONS

/*
 * Where guest RAM lives, for saving it: private anonymous memory (fd -1: the page tables know
 * which pages exist), the memfd of shared guest_mem, or after a lazy restore the memory-ranges
 * file mapped private (pages the guest wrote are anonymous copies only the page tables know).
 */
struct snap_ram {
	unsigned nr;
	struct snap_ram_region {
		uint64_t gpa, size;
		uint64_t offset;          /* in fd, and in the memory-ranges file written */
		uint8_t *host;
	} r[SNAP_MAX_RAM_REGIONS];
	int fd;
	bool private_cow;             /* host maps fd MAP_PRIVATE (lazy restore) */
	bool owns_fd;                 /* snap_ram_release() closes fd */
	uint64_t fd_size;             /* private_cow: the file's size when it was mapped */
};

/* Describes the RAM of @mem (its memfd, if any, not owned). */
void snap_ram_from_guest_mem(const struct guest_mem *mem, struct snap_ram *out);
void snap_ram_release(struct snap_ram *ram);

struct snap_mem_stats {
	uint64_t scanned;                 /* bytes of RAM looked at (allocated extents) */
	uint64_t written;                 /* bytes written to memory-ranges */
	uint64_t zero_skipped;            /* allocated but all-zero pages left as holes */
};

/*
 * Writes memory-ranges through @w (sparse: holes where RAM was never touched or is zero)
 * and adds the "memory" section (the range index) to @state. VM paused, devices quiesced.
 */
int snap_mem_save(const struct snap_ram *ram, struct snap_writer *w, struct cJSON *state,
		  struct snap_mem_stats *stats, char *err, size_t errlen);

enum snap_mem_mode {
	SNAP_MEM_LAZY,                /* map memory-ranges MAP_PRIVATE: pages fault in on touch */
	SNAP_MEM_COPY,                /* read the data extents into the fresh RAM */
};

/* "lazy" / "copy" (CH's "Copy" is accepted too, case-insensitively). -EINVAL otherwise. */
int snap_mem_mode_parse(const char *s, enum snap_mem_mode *mode);

/*
 * Validates the "memory" section of @state against @mem (the fresh guest RAM built from
 * config.json: same regions, sizes and addresses) and the file in @dirfd, then fills RAM:
 * copy reads the data extents into @mem; lazy maps the file over each region at the same host
 * address (memslots keep pointing at it). @prefault populates before the guest runs (copy:
 * every page; lazy: the file's data pages, read-only, still copy-on-write). @ram_out describes
 * the resulting backing for later snapshots (snap_ram_release() it when the VM goes).
 */
int snap_mem_restore(const struct cJSON *state, int dirfd, const struct guest_mem *mem,
		     enum snap_mem_mode mode, bool prefault, struct snap_ram *ram_out,
		     char *err, size_t errlen);

/* ------------------------------------------------------------------ state.json */

/* {"format","version","vm":{},"vcpus":[],"memory":{},"allocators":{},"devices":{}} */
struct cJSON *snap_state_new(void);
/* Each takes ownership of @section (freed on failure too). */
int snap_state_set_vm(struct cJSON *state, struct cJSON *vm);
int snap_state_add_vcpu(struct cJSON *state, struct cJSON *vcpu);
int snap_state_add_allocator(struct cJSON *state, const char *name, struct cJSON *alloc);
int snap_state_add_device(struct cJSON *state, const char *id, struct cJSON *dev);
/* Writes state.json and its checksum file through @w. */
int snap_state_write(struct snap_writer *w, const struct cJSON *state, char *err,
		     size_t errlen);
/*
 * Reads state.json from @dirfd: size cap, checksum, JSON, format/version and section shapes
 * (vCPU ids 0..n-1 in order). Sections' contents are checked by their own parsers.
 */
int snap_state_read(int dirfd, struct cJSON **out, char *err, size_t errlen);
unsigned snap_state_nr_vcpus(const struct cJSON *state);
/* Writes config.json (the VmConfig JSON @json) and its checksum file through @w. */
int snap_config_write(struct snap_writer *w, const char *json, char *err, size_t errlen);
/*
 * Reads config.json from @dirfd, checked against config.json.crc32c as state.json is (size
 * cap, length, CRC32C): an edited or damaged config.json is refused before it is parsed.
 */
int snap_config_read(int dirfd, char **text, size_t *len, char *err, size_t errlen);
const struct cJSON *snap_state_vm(const struct cJSON *state);
const struct cJSON *snap_state_vcpu(const struct cJSON *state, unsigned id);
const struct cJSON *snap_state_allocator(const struct cJSON *state, const char *name);
const struct cJSON *snap_state_device(const struct cJSON *state, const char *id);

/* CRC32C (Castagnoli) of @len bytes, as used for state.json. */
uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
