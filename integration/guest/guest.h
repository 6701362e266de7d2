/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: shared declarations. Freestanding (no libc); the guest runs
 * identity-mapped in long mode, so a physical address is also a pointer once
 * phys_map() has mapped it.
 */
#ifndef VIREO_GUEST_H
#define VIREO_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE        4096ULL
#define GUEST_LARGE_PAGE  0x200000ULL
#define GUEST_MAX_CPUS    64          /* APs beyond this are reported as FAIL */
#define MMIO_HOLE_START   0xC0000000ULL
#define FOUR_GIB          0x100000000ULL

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cpu_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" ::: "memory");
}

/* Debug port markers (the VMM logs them; see README.md). */
#define DEBUGPORT 0x80
#define MARK_START    0x10
#define MARK_ACPI     0x20
#define MARK_APS      0x30
#define MARK_POWEROFF 0x40

/* lib.c: console, formatting, memory helpers, on-demand page tables. */
void con_putc(char c);
void con_puts(const char *s);
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int gsnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
bool phys_map(uint64_t pa, uint64_t len);
bool phys_map_uc(uint64_t pa, uint64_t len);
void *phys_ptr(uint64_t pa, uint64_t len);

/* PVH start info (Xen public/arch-x86/hvm/start_info.h). */
#define HVM_START_MAGIC 0x336EC578u
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};
extern uint32_t pvh_info_pa;  /* EBX at entry, saved by boot.S */

/* acpi.c: table discovery (ACPI 6.x 5.2), sleep and reset registers. */
struct acpi_gas {
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_info {
	uint64_t rsdp_pa;
	bool rsdp_from_scan;
	bool rsdp_sum_ok;        /* both checksums that apply */
	uint8_t rsdp_rev;
	uint64_t root_pa;        /* XSDT if rev >= 2 and present, else RSDT */
	bool root_is_xsdt;
	uint64_t fadt_pa, madt_pa, dsdt_pa, facs_pa;
	int s5_slp_typ;          /* -1: no _S5_ package found in the DSDT */
};
extern struct acpi_info acpi;

bool acpi_discover(uint64_t rsdp_hint);
uint32_t acpi_table_len(uint64_t pa);
bool acpi_table_ok(uint64_t pa, const char *sig);
uint64_t acpi_find_table(const char *sig);
bool acpi_dsdt_claims(const char *hid, uint64_t base, uint64_t len);
unsigned acpi_pci_windows(uint64_t *lo, uint64_t *len, unsigned max);
unsigned acpi_root_count(void);
uint64_t acpi_root_entry(unsigned i);
uint32_t acpi_fadt_flags(void);
void acpi_poweroff(void);
bool acpi_reset_info(char *why, size_t why_len);
void acpi_reset(void);

#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED    (1u << 20)

/* smp.c: local APIC, a LAPIC-based clock, AP start-up, timer interrupt. */
void lapic_setup(void);
uint32_t lapic_id(void);
uint32_t lapic_reg(unsigned reg);
void clock_start(void);
uint64_t clock_us(void);
void delay_us(uint64_t us);
bool ap_start(uint32_t apic_id, uint32_t tramp_pa, unsigned slot, uint64_t *spins, uint64_t *us);
uint32_t ap_reported(uint32_t apic_id, uint32_t *last_id, uint32_t *count);
/* An AP that checked in (false: none). */
bool ap_first(uint32_t *apic_id);
/* Starts that AP again to run `job` (then it halts); false if it did not check in. */
bool ap_run(uint32_t apic_id, void (*job)(void));
unsigned lapic_timer_test(unsigned want, uint32_t count, unsigned *stray);
void idt_setup(void);
#define VEC_DEV_FIRST 0x50          /* device (MSI-X) vectors: counted, EOI, not stray */
#define VEC_DEV_LAST  0x6F
unsigned irq_count(unsigned vec);
/* The next interrupt at @vec returns to the interrupted code with interrupts off (IF clear in
 * the frame), so a level-triggered line still asserted after its EOI is seen pending in the
 * IRR instead of storming; one-shot. */
void irq_oneshot(unsigned vec);
/* The next interrupt at @vec calls @fn in its handler, before the EOI; one-shot. */
void irq_pre_eoi(unsigned vec, void (*fn)(void));

/* main.c: check bookkeeping, also used by the exception handler; the memory map. */
#define LINE_MAX 400
void check(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void __attribute__((noreturn)) guest_finish(void);
bool memmap_covers(uint64_t start, uint64_t len, uint32_t type);
bool memmap_overlaps(uint64_t start, uint64_t len);
uint64_t memmap_ram_end(void);
void ram_exclude(uint64_t start, uint64_t len);
bool ram_excluded(uint64_t page);
void check_ram(const struct hvm_memmap_entry *memmap, unsigned memmap_n, uint64_t mem_mib);

/* pci.c: PCI segment 0 checks (README.md "PCI checks"). Windows are inclusive [lo, hi]. */
struct pci_opts {
	bool skip;                    /* pci=0 */
	bool want_hb;                 /* hostbridge=VVVV:DDDD given */
	uint16_t hb_vendor, hb_device;
	bool barmove;                 /* barmove=1 */
	bool unclaimed_ones;          /* unclaimed=ones: an unclaimed MMIO read must be all-ones */
	uint64_t win32_lo, win32_hi;  /* win32=0xLO-0xHI (default 0xc0000000-0xe7ffffff) */
	uint64_t win64_lo, win64_hi;  /* win64=0xLO-0xHI (default: none given) */
};
void pci_checks(const struct pci_opts *o);

/* hotplug.c: hostile writes to the ACPI PCI hotplug registers (with hostile=1). */
void hotplug_hostile_check(void);

/* ged.c: with powerbutton=1 in `cmdline`, the ACPI power button through the GED. */
void ged_power_button_check(const char *cmdline);
/* hostile=1: writes to the CPU hotplug registers vireo must ignore (cpuhp.c). */
void cpuhp_hostile_check(unsigned cpus);

/* snapcheck.c: with snapcheck=1 in `cmdline`, state checked in rounds forever (README.md). */
void snapcheck_run(const char *cmdline);

/*
 * pcicfg.c: config access to bus 0 of segment 0 (PCI 3.0 3.2.2.3.2 CF8/CFC, PCIe 7.2.2
 * ECAM), each access counted (one access = one VM exit); the function table the PCI checks
 * fill (enumeration, then BAR sizing); capability lookup and BAR programming.
 */
#define PCI_CF8               0xCF8
#define PCI_CFC               0xCFC
#define PCI_CF8_ENABLE        0x80000000u
#define PCI_ALL_ONES          0xFFFFFFFFu
#define PCI_ECAM_BUS_SIZE     0x100000ULL     /* 32 devices x 8 functions x 4 KiB */
#define PCI_CFG_ID            0x00
#define PCI_CFG_COMMAND       0x04
#define PCI_CFG_STATUS        0x06
#define PCI_CFG_CLASS         0x08            /* revision, prog-if, subclass, class */
#define PCI_CFG_HEADER        0x0E
#define PCI_CFG_BAR0          0x10
#define PCI_CFG_CAP_PTR       0x34
#define PCI_CMD_IO            0x1
#define PCI_CMD_MEM           0x2
#define PCI_CMD_MASTER        0x4
#define PCI_CMD_INTX_OFF      0x400
#define PCI_CMD_RESERVED      0xF800          /* bits 15:11 */
#define PCI_STATUS_RESERVED   0x0007          /* bits 2:0 */
#define PCI_STATUS_CAP_LIST   0x0010
#define PCI_HDR_MULTI         0x80
#define PCI_CLASS_HOST_BRIDGE 0x0600
#define PCI_CAP_MSIX          0x11
#define PCI_CAP_VENDOR        0x09
#define PCI_VENDOR_VIRTIO     0x1AF4
#define PCI_MAX_FN            32
#define PCI_HDR_DWORDS        16              /* 0x00-0x3F */

enum bar_kind { BAR_NONE, BAR_IO, BAR_MEM32, BAR_MEM64 };

struct pci_bar {
	uint8_t reg;                  /* config offset of the (low) register */
	uint8_t kind;
	bool pref;
	uint64_t addr, size;
};

struct pci_fn {
	uint8_t dev, fn;
	uint32_t hdr[PCI_HDR_DWORDS]; /* as read through CF8 during the enumeration */
	unsigned nbars;
	struct pci_bar bar[6];
};

extern struct pci_fn pci_fns[PCI_MAX_FN];
extern unsigned pci_nfns;
extern uint64_t pci_ecam_base;    /* bus 0; 0: no usable MCFG entry */
extern unsigned pci_ecam_end_bus;
extern unsigned pci_n_cf8, pci_n_ecam;

static inline uint16_t pci_vendor(const struct pci_fn *f) { return (uint16_t)f->hdr[0]; }
static inline uint16_t pci_device(const struct pci_fn *f) { return (uint16_t)(f->hdr[0] >> 16); }
static inline uint32_t pci_class(const struct pci_fn *f) { return f->hdr[2] >> 8; }
static inline uint8_t pci_htype(const struct pci_fn *f) { return (uint8_t)(f->hdr[3] >> 16); }
static inline bool pci_is_host_bridge(const struct pci_fn *f)
{
	return (pci_class(f) >> 8) == PCI_CLASS_HOST_BRIDGE;
}
static inline bool pci_is_pow2(uint64_t v) { return v && !(v & (v - 1)); }
static inline uint64_t pci_align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static inline bool pci_ranges_overlap(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return a < b + bl && b < a + al;
}

uint32_t pci_cf8_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg);
uint32_t cf8_rd32(unsigned dev, unsigned fn, unsigned reg);
uint16_t cf8_rd16(unsigned dev, unsigned fn, unsigned reg);
uint8_t cf8_rd8(unsigned dev, unsigned fn, unsigned reg);
void cf8_wr32(unsigned dev, unsigned fn, unsigned reg, uint32_t v);
void cf8_wr16(unsigned dev, unsigned fn, unsigned reg, uint16_t v);
uint32_t ecam_rd32(unsigned dev, unsigned fn, unsigned reg);
uint16_t ecam_rd16(unsigned dev, unsigned fn, unsigned reg);
uint8_t ecam_rd8(unsigned dev, unsigned fn, unsigned reg);
void ecam_wr32(unsigned dev, unsigned fn, unsigned reg, uint32_t v);
void ecam_wr16(unsigned dev, unsigned fn, unsigned reg, uint16_t v);
void ecam_wr8(unsigned dev, unsigned fn, unsigned reg, uint8_t v);
/* Config offset of the first capability `id` (PCI 3.0 6.7), 0 if none; bounded walk. */
unsigned pci_find_cap(const struct pci_fn *f, uint8_t id);
/* virtio 1.2 4.1.4: the first vendor capability of cfg_type `type`: offset, or 0. */
unsigned pci_virtio_cap(const struct pci_fn *f, uint8_t type);
/* The common configuration capability's BAR (and *off), or -1. */
int pci_virtio_common(const struct pci_fn *f, uint32_t *off);
/* The sized BAR whose register is BAR `index` (0-5), NULL if none. */
struct pci_bar *pci_bar_at(struct pci_fn *f, unsigned index);
/* Free of the memory map, [0xFEC00000, 4 GiB), the ECAM, every BAR and `self`. */
bool pci_range_free(uint64_t a, uint64_t size, const struct pci_bar *self);
/* First naturally aligned (>= 4 KiB) free range of `size` in [lo, hi], 0 if none. */
uint64_t pci_find_free(uint64_t lo, uint64_t hi, uint64_t size, const struct pci_bar *self);
/* Memory decode off, BAR (low, then high dword) through ECAM, COMMAND = `cmd`. */
void pci_bar_program(const struct pci_fn *f, const struct pci_bar *b, uint64_t addr, uint16_t cmd);
uint64_t pci_bar_get(const struct pci_fn *f, const struct pci_bar *b);

#endif
