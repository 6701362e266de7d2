// SPDX-License-Identifier: Apache-2.0
/* arch/x86_64/boot.c: bzImage and PVH loaders, zero page, hvm_start_info, arch_load_kernel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"
#include "base/memory.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define RAM (64 * MiB)

/* Fake bzImage: boot sector, 4 setup sectors, then the "protected-mode" payload. */
#define BZ_SETUP_SECTS 4
#define BZ_CODE_OFF    ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PAYLOAD     0x1800
#define BZ_LEN         (BZ_CODE_OFF + BZ_PAYLOAD)
#define BZ_INIT_SIZE   (2 * MiB)
#define BZ_HDR_END     0x268     /* 0x202 + jump offset 0x66, as in current kernels */

/* Fake PVH ELF: phdrs at 0x40 (PT_NOTE, PT_LOAD), notes at 0x100, PT_LOAD data at 0x200. */
#define ELF_NOTE_OFF   0x100
#define ELF_LOAD_OFF   0x200
#define ELF_FILESZ     0x300
#define ELF_MEMSZ      0x2000
#define ELF_LEN        0x500
#define ELF_XEN_NOTE   (ELF_NOTE_OFF + 24)   /* after a 24-byte GNU build-id note */
#define PVH_ENTRY      0x1000c0

#define TEST(name) static void name(void **state __attribute__((unused)))

static uint8_t bz[BZ_LEN];
static _Alignas(8) uint8_t elf[ELF_LEN];
static char err[256];
static struct guest_mem ram;        /* 64 MiB, fresh for each test */
static struct guest_mem big;        /* 5 GiB, for the tests that need the 32-bit hole */
static struct boot_info bi;
#define MAX_TEMPS 4
static char *temps[MAX_TEMPS];
static unsigned nr_temps;

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint8_t payload_byte(size_t i) { return (uint8_t)(i * 31 + 7); }

static void build_bzimage(void)
{
	size_t i;

	memset(bz, 0x5a, sizeof(bz));              /* boot sector and setup code: junk */
	memset(bz + 0x1e8, 0, BZ_HDR_END - 0x1e8);
	bz[0x1ef] = 0x77;                          /* boot_params.sentinel */
	bz[0x1f0] = 0x66;
	bz[0x1f1] = BZ_SETUP_SECTS;
	put16(bz + 0x1fe, 0xaa55);
	bz[0x200] = 0xeb;                          /* jmp short: the header ends at 0x202 + offset */
	bz[0x201] = BZ_HDR_END - 0x202;
	memcpy(bz + 0x202, "HdrS", 4);
	put16(bz + 0x206, 0x020f);
	bz[0x211] = 0x01;                          /* LOADED_HIGH */
	put32(bz + 0x22c, 0x7fffffff);             /* initrd_addr_max */
	put16(bz + 0x236, 0x0003);                 /* XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G */
	put32(bz + 0x238, 2047);                   /* cmdline_size */
	put32(bz + 0x260, BZ_INIT_SIZE);
	for (i = 0; i < BZ_PAYLOAD; i++)
		bz[BZ_CODE_OFF + i] = payload_byte(i);
}

static void put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
		     uint32_t descsz)
{
	put32(p, 4);
	put32(p + 4, descsz);
	put32(p + 8, type);
	memcpy(p + 12, name, 4);
	memcpy(p + 16, desc, descsz);
}

#define FILL_ELF(Ehdr, Phdr, class, machine)                                            \
	do {                                                                            \
		Ehdr *eh = (void *)elf;                                                 \
		Phdr *ph = (void *)(elf + 0x40);                                        \
		memcpy(eh->e_ident, ELFMAG, SELFMAG);                                   \
		eh->e_ident[EI_CLASS] = (class);                                        \
		eh->e_ident[EI_DATA] = ELFDATA2LSB;                                     \
		eh->e_ident[EI_VERSION] = EV_CURRENT;                                   \
		eh->e_type = ET_EXEC;                                                   \
		eh->e_machine = (machine);                                              \
		eh->e_phoff = 0x40;                                                     \
		eh->e_ehsize = sizeof(*eh);                                             \
		eh->e_phentsize = sizeof(*ph);                                          \
		eh->e_phnum = 2;                                                        \
		ph[0] = (Phdr){ .p_type = PT_NOTE, .p_offset = ELF_NOTE_OFF,            \
				.p_filesz = 44, .p_memsz = 44 };                        \
		ph[1] = (Phdr){ .p_type = PT_LOAD, .p_offset = ELF_LOAD_OFF,            \
				.p_vaddr = (__typeof__(ph->p_vaddr))0xffffffff81000000ULL, \
				.p_paddr = 0x100000, .p_filesz = ELF_FILESZ,            \
				.p_memsz = ELF_MEMSZ };                                 \
	} while (0)

static void build_elf(int is64)
{
	static const uint8_t build_id[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint32_t entry = PVH_ENTRY;
	size_t i;

	memset(elf, 0, sizeof(elf));
	put_note(elf + ELF_NOTE_OFF, "GNU", NT_GNU_BUILD_ID, build_id, 8);
	put_note(elf + ELF_XEN_NOTE, "Xen", 18, &entry, 4);   /* XEN_ELFNOTE_PHYS32_ENTRY */
	for (i = 0; i < ELF_FILESZ; i++)
		elf[ELF_LOAD_OFF + i] = payload_byte(i);
	if (is64)
		FILL_ELF(Elf64_Ehdr, Elf64_Phdr, ELFCLASS64, EM_X86_64);
	else
		FILL_ELF(Elf32_Ehdr, Elf32_Phdr, ELFCLASS32, EM_386);
}

static Elf64_Ehdr *ehdr(void) { return (void *)elf; }
static Elf64_Phdr *phdr(int i) { return (void *)(elf + 0x40 + i * sizeof(Elf64_Phdr)); }

static int setup(void **state)
{
	(void)state;
	build_bzimage();
	build_elf(1);
	memset(err, 0, sizeof(err));
	memset(&bi, 0, sizeof(bi));
	return arch_guest_mem_init(&ram, RAM);
}

static int teardown(void **state)
{
	(void)state;
	guest_mem_destroy(&ram);
	if (big.base)
		guest_mem_destroy(&big);
	while (nr_temps) {
		unlink(temps[--nr_temps]);
		free(temps[nr_temps]);
	}
	return 0;
}

static uint8_t *gpa(const struct guest_mem *mem, uint64_t addr, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(mem, addr, len);

	assert_non_null(p);
	return p;
}

static void expect_err(const char *word)
{
	if (!strstr(err, word))
		fail_msg("error \"%s\" lacks \"%s\"", err, word);
}

typedef int (*loader_fn)(const struct guest_mem *, const uint8_t *, size_t, struct boot_info *,
			 char *, size_t);

/* Runs a loader on an exact-size heap copy so that sanitizers catch any over-read. */
static int run_loader(loader_fn fn, const struct guest_mem *mem, const uint8_t *img, size_t len)
{
	uint8_t *copy = malloc(len);
	int ret;

	memcpy(copy, img, len);
	memset(err, 0, sizeof(err));
	ret = fn(mem, copy, len, &bi, err, sizeof(err));
	free(copy);
	return ret;
}

#define bz_load(len)       run_loader(arch_bzimage_load, &ram, bz, (len))
#define pvh_load(mem, len) run_loader(arch_pvh_load, (mem), elf, (len))

/* ---- bzImage ---- */

TEST(test_bzimage_loads_payload_at_1m)
{
	size_t i;

	assert_int_equal(bz_load(BZ_LEN), 0);
	assert_int_equal(bi.protocol, BOOT_LINUX64);
	assert_int_equal(bi.entry, 0x100200);
	assert_int_equal(bi.kernel_start, 0x100000);
	assert_int_equal(bi.kernel_end, 0x100000 + BZ_INIT_SIZE);
	assert_int_equal(bi.zero_page, LAYOUT_ZERO_PAGE_START);
	for (i = 0; i < BZ_PAYLOAD; i++)
		if (gpa(&ram, 0x100000 + i, 1)[0] != payload_byte(i))
			fail_msg("payload byte %zu not copied", i);
}

TEST(test_bzimage_setup_sects_zero_means_four)
{
	bz[0x1f1] = 0;
	assert_int_equal(bz_load(BZ_LEN), 0);
	assert_int_equal(gpa(&ram, 0x100000, 1)[0], payload_byte(0));
}

TEST(test_bzimage_small_init_size_covers_payload)
{
	put32(bz + 0x260, 0x100);
	assert_int_equal(bz_load(BZ_LEN), 0);
	assert_int_equal(bi.kernel_end, 0x100000 + BZ_PAYLOAD);
}

TEST(test_bzimage_rejects_missing_hdrs)
{
	memcpy(bz + 0x202, "HdrT", 4);
	assert_int_equal(bz_load(BZ_LEN), -ENOEXEC);
	expect_err("HdrS");
}

TEST(test_bzimage_rejects_old_protocol)
{
	put16(bz + 0x206, 0x020b);
	assert_int_equal(bz_load(BZ_LEN), -ENOEXEC);
	expect_err("2.12");
	put16(bz + 0x206, 0x020c);
	assert_int_equal(bz_load(BZ_LEN), 0);
}

TEST(test_bzimage_rejects_no_64bit_entry)
{
	bz[0x236] = 0x02;
	assert_int_equal(bz_load(BZ_LEN), -ENOEXEC);
	expect_err("64-bit");
	bz[0x236] = 0x01;
	bz[0x211] = 0;
	assert_int_equal(bz_load(BZ_LEN), -ENOEXEC);
}

TEST(test_bzimage_rejects_truncated)
{
	assert_int_equal(bz_load(BZ_CODE_OFF), -ENOEXEC);
	expect_err("truncated");
	bz[0x1f1] = 30;
	assert_int_equal(bz_load(BZ_LEN), -ENOEXEC);
	expect_err("truncated");
	assert_int_equal(bz_load(0x263), -ENOEXEC);
	assert_int_equal(bz_load(0x100), -ENOEXEC);
}

TEST(test_bzimage_rejects_init_size_beyond_ram)
{
	put32(bz + 0x260, RAM);
	assert_int_equal(bz_load(BZ_LEN), -E2BIG);
	expect_err("MiB");
	put32(bz + 0x260, RAM - MiB);          /* exactly the RAM above 1 MiB */
	assert_int_equal(bz_load(BZ_LEN), 0);
}

/* ---- zero page ---- */

static uint8_t *write_zero_page(void)
{
	assert_int_equal(bz_load(BZ_LEN), 0);
	memset(gpa(&ram, LAYOUT_ZERO_PAGE_START, 0x1000), 0xee, 0x1000);
	bi.initrd_gpa = 0x3000000;
	bi.initrd_size = 0x123456;
	assert_int_equal(arch_bootparams_write(&ram, bz, BZ_LEN, &bi, 100, 0xe0000), 0);
	return gpa(&ram, LAYOUT_ZERO_PAGE_START, 0x1000);
}

TEST(test_bootparams_fields)
{
	struct e820_entry e820[E820_MAX_ENTRIES];
	uint8_t *zp = write_zero_page();
	int n = arch_e820_build(&ram, e820, E820_MAX_ENTRIES);

	assert_int_equal(zp[0x210], 0xff);                    /* type_of_loader */
	assert_int_equal(get32(zp + 0x228), LAYOUT_CMDLINE_START);
	assert_int_equal(get64(zp + 0x70), 0xe0000);          /* acpi_rsdp_addr */
	assert_int_equal(get32(zp + 0x218), 0x3000000);       /* ramdisk_image */
	assert_int_equal(get32(zp + 0x21c), 0x123456);        /* ramdisk_size */
	assert_int_equal(get32(zp + 0xc0), 0);                /* ext_ramdisk_image */
	assert_int_equal(get32(zp + 0xc4), 0);
	assert_int_equal(n, 4);                               /* RAM, hole, RAM, ECAM */
	assert_int_equal(zp[0x1e8], n);
	assert_memory_equal(zp + 0x2d0, e820, n * sizeof(e820[0]));
	assert_int_equal(zp[0x2d0 + n * 20], 0);              /* nothing after the table */
}

TEST(test_bootparams_copies_only_setup_header)
{
	static const uint8_t zero[0x100];
	uint8_t *zp = write_zero_page();

	assert_memory_equal(zp, zero, 0x70);                   /* boot sector area */
	assert_memory_equal(zp + 0x100, zero, 0x1e8 - 0x100);
	assert_int_equal(zp[0x1ef], 0);                       /* sentinel */
	assert_int_equal(zp[0x1f0], 0);
	assert_memory_equal(zp + BZ_HDR_END, zero, 0x2d0 - BZ_HDR_END);
	assert_int_equal(zp[0x1f1], BZ_SETUP_SECTS);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_memory_equal(zp + 0x206, bz + 0x206, 2);       /* version */
	assert_memory_equal(zp + 0x22c, bz + 0x22c, 4);       /* initrd_addr_max */
	assert_memory_equal(zp + 0x236, bz + 0x236, 2);       /* xloadflags */
	assert_memory_equal(zp + 0x238, bz + 0x238, 4);       /* cmdline_size */
	assert_memory_equal(zp + 0x260, bz + 0x260, 4);       /* init_size */
	assert_int_equal(zp[0xfff], 0);                       /* 0xee pre-fill wiped */
}

TEST(test_bootparams_initrd_above_4g_uses_ext_fields)
{
	uint8_t *zp;

	assert_int_equal(bz_load(BZ_LEN), 0);
	bi.initrd_gpa = 0x120000000ULL;
	bi.initrd_size = 0x100001000ULL;
	assert_int_equal(arch_bootparams_write(&ram, bz, BZ_LEN, &bi, 0, 0), 0);
	zp = gpa(&ram, LAYOUT_ZERO_PAGE_START, 0x1000);
	assert_int_equal(get32(zp + 0x218), 0x20000000);
	assert_int_equal(get32(zp + 0xc0), 1);
	assert_int_equal(get32(zp + 0x21c), 0x1000);
	assert_int_equal(get32(zp + 0xc4), 1);
}

TEST(test_bootparams_cmdline_size_limit)
{
	assert_int_equal(bz_load(BZ_LEN), 0);
	assert_int_equal(arch_bootparams_write(&ram, bz, BZ_LEN, &bi, 2047, 0), 0);
	assert_int_equal(arch_bootparams_write(&ram, bz, BZ_LEN, &bi, 2048, 0), -E2BIG);
	assert_int_equal(arch_bootparams_write(&ram, bz, BZ_LEN, &bi, 1ULL << 40, 0), -E2BIG);
}

TEST(test_bootparams_rejects_short_image)
{
	assert_int_equal(bz_load(BZ_LEN), 0);
	assert_int_equal(arch_bootparams_write(&ram, bz, 0x240, &bi, 0, 0), -EINVAL);
	bz[0x201] = 0xff;                          /* header would run into the e820 table */
	assert_int_equal(arch_bootparams_write(&ram, bz, BZ_LEN, &bi, 0, 0), -EINVAL);
}

/*
 * Regression: arch_bootparams_write only checks len >= 0x204 and hdr_end <= len before reading
 * cmdline_size at 0x238, so a short image with a small jump offset is read out of bounds.
 */
TEST(test_bootparams_short_image_small_jump_no_overread)
{
	uint8_t *copy = malloc(0x210);

	memcpy(copy, bz, 0x210);
	copy[0x201] = 0x0a;                        /* header "ends" at 0x20c */
	bi.zero_page = LAYOUT_ZERO_PAGE_START;
	assert_int_equal(arch_bootparams_write(&ram, copy, 0x210, &bi, 0, 0), -EINVAL);
	free(copy);
}

/* ---- PVH ---- */

static void expect_pvh_loaded(void)
{
	uint8_t *seg = gpa(&ram, 0x100000, ELF_MEMSZ + 0x10);
	size_t i;

	memset(seg, 0xaa, ELF_MEMSZ + 0x10);
	assert_int_equal(pvh_load(&ram, ELF_LEN), 0);
	assert_int_equal(bi.protocol, BOOT_PVH);
	assert_int_equal(bi.entry, PVH_ENTRY);
	assert_int_equal(bi.kernel_start, 0x100000);
	assert_int_equal(bi.kernel_end, 0x100000 + ELF_MEMSZ);
	assert_int_equal(bi.zero_page, LAYOUT_PVH_INFO_START);
	assert_memory_equal(seg, elf + ELF_LOAD_OFF, ELF_FILESZ);
	for (i = ELF_FILESZ; i < ELF_MEMSZ; i++)
		if (seg[i])
			fail_msg("bss byte %#zx not zeroed", i);
	assert_int_equal(seg[ELF_MEMSZ], 0xaa);    /* nothing beyond memsz */
}

TEST(test_pvh_elf64_loads_and_zeroes_bss)
{
	expect_pvh_loaded();
}

TEST(test_pvh_elf32_loads_and_zeroes_bss)
{
	build_elf(0);
	expect_pvh_loaded();
}

TEST(test_pvh_note_with_8_byte_desc)
{
	uint64_t entry = 0x1000c8;

	put_note(elf + ELF_XEN_NOTE, "Xen", 18, &entry, 8);
	phdr(0)->p_filesz = phdr(0)->p_memsz = 48;
	assert_int_equal(pvh_load(&ram, ELF_LEN), 0);
	assert_int_equal(bi.entry, 0x1000c8);
}

/* Kernels have several PT_NOTE segments: the Xen note may be in any of them. */
TEST(test_pvh_note_in_either_note_segment)
{
	Elf64_Phdr gnu = { .p_type = PT_NOTE, .p_offset = ELF_NOTE_OFF, .p_filesz = 24,
			   .p_memsz = 24 };
	Elf64_Phdr xen = { .p_type = PT_NOTE, .p_offset = ELF_XEN_NOTE, .p_filesz = 20,
			   .p_memsz = 20 };

	ehdr()->e_phnum = 3;
	*phdr(0) = gnu;
	*phdr(2) = xen;
	assert_int_equal(pvh_load(&ram, ELF_LEN), 0);
	assert_int_equal(bi.entry, PVH_ENTRY);
	*phdr(0) = xen;
	*phdr(2) = gnu;
	assert_int_equal(pvh_load(&ram, ELF_LEN), 0);
	assert_int_equal(bi.entry, PVH_ENTRY);
}

TEST(test_pvh_rejects_missing_note)
{
	put32(elf + ELF_XEN_NOTE + 8, 17);         /* another Xen note type */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("PVH");
	build_elf(1);
	memcpy(elf + ELF_XEN_NOTE + 12, "Xem", 4);
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("PVH");
	build_elf(1);
	phdr(0)->p_type = PT_NULL;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("PVH");
}

TEST(test_pvh_rejects_overflowing_note_sizes)
{
	put32(elf + ELF_XEN_NOTE, 0xffffffff);     /* namesz */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("PVH");
	build_elf(1);
	put32(elf + ELF_XEN_NOTE + 4, 0xfffffffd); /* descsz */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	build_elf(1);
	put32(elf + ELF_NOTE_OFF, 0xfffffffc);     /* the first note hides the Xen one */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	build_elf(1);
	phdr(0)->p_filesz = phdr(0)->p_memsz = 43;  /* Xen note cut short by the segment */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
}

TEST(test_pvh_rejects_segment_below_1m)
{
	phdr(1)->p_paddr = 0x80000;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -EFAULT);
	expect_err("1 MiB");
	phdr(1)->p_paddr = 0x1000;                 /* over the page tables */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -EFAULT);
}

TEST(test_pvh_rejects_segment_outside_ram)
{
	phdr(1)->p_paddr = RAM - ELF_MEMSZ + 1;    /* bss runs past the end */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -EFAULT);
	phdr(1)->p_paddr = LAYOUT_IOAPIC_START;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -EFAULT);
	phdr(1)->p_paddr = UINT64_MAX - 0x100;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -EFAULT);
	phdr(1)->p_memsz = UINT64_MAX;
	phdr(1)->p_paddr = 0x100000;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -EFAULT);
	phdr(1)->p_memsz = ELF_MEMSZ;
	phdr(1)->p_paddr = RAM - ELF_MEMSZ;        /* flush with the end: fine */
	assert_int_equal(pvh_load(&ram, ELF_LEN), 0);
	assert_int_equal(bi.kernel_end, RAM);
}

TEST(test_pvh_segments_around_the_32bit_hole)
{
	assert_int_equal(arch_guest_mem_init(&big, 5 * GiB), 0);
	phdr(1)->p_paddr = 0xd0000000;
	assert_int_equal(pvh_load(&big, ELF_LEN), -EFAULT);
	phdr(1)->p_paddr = 3 * GiB - 0x1000;       /* straddles into the hole */
	assert_int_equal(pvh_load(&big, ELF_LEN), -EFAULT);
	phdr(1)->p_paddr = 4 * GiB - 0x1000;       /* straddles out of the hole */
	assert_int_equal(pvh_load(&big, ELF_LEN), -EFAULT);
	phdr(1)->p_paddr = 4 * GiB;
	assert_int_equal(pvh_load(&big, ELF_LEN), 0);
	assert_int_equal(bi.kernel_start, 4 * GiB);
	assert_int_equal(gpa(&big, 4 * GiB, 1)[0], payload_byte(0));
}

TEST(test_pvh_rejects_corrupt_program_headers)
{
	ehdr()->e_phoff = 0x10000;                 /* beyond the file */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("corrupt");
	ehdr()->e_phoff = ELF_LEN - sizeof(Elf64_Phdr) + 1;   /* runs off the end */
	ehdr()->e_phnum = 1;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	ehdr()->e_phoff = UINT64_MAX - 8;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	build_elf(1);
	ehdr()->e_phentsize = 32;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("ELF");
}

TEST(test_pvh_rejects_segment_data_beyond_file)
{
	phdr(1)->p_filesz = ELF_LEN - ELF_LOAD_OFF + 1;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("corrupt");
	build_elf(1);
	phdr(1)->p_offset = ELF_LEN + 1;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	build_elf(1);
	phdr(1)->p_filesz = 0xfffffffffffff000ULL;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	build_elf(1);
	phdr(1)->p_memsz = ELF_FILESZ - 1;         /* filesz > memsz */
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
}

TEST(test_pvh_rejects_non_elf_and_no_load)
{
	elf[EI_DATA] = ELFDATA2MSB;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("ELF");
	build_elf(1);
	assert_int_equal(pvh_load(&ram, 60), -ENOEXEC);    /* < sizeof(Elf64_Ehdr) */
	phdr(1)->p_type = PT_NULL;
	assert_int_equal(pvh_load(&ram, ELF_LEN), -ENOEXEC);
	expect_err("loadable");
}

/* ---- hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h) ---- */

TEST(test_pvh_start_info_with_initrd)
{
	struct e820_entry e820[E820_MAX_ENTRIES];
	const uint8_t *si = gpa(&ram, LAYOUT_PVH_INFO_START, 56);
	const uint8_t *mod = gpa(&ram, 0x6040, 32), *mm = gpa(&ram, 0x7000, 24 * 3);
	int n = arch_e820_build(&ram, e820, E820_MAX_ENTRIES), i;

	bi = (struct boot_info){ .protocol = BOOT_PVH, .initrd_gpa = 0x3f00000,
				 .initrd_size = 0x1234 };
	memset(gpa(&ram, 0x6000, 0x2000), 0xee, 0x2000);
	assert_int_equal(arch_pvh_start_info_write(&ram, &bi, 0xe0000), 0);
	assert_int_equal(get32(si), 0x336ec578);
	assert_int_equal(get32(si + 4), 1);                 /* version */
	assert_int_equal(get32(si + 8), 0);                 /* flags */
	assert_int_equal(get32(si + 12), 1);                /* nr_modules */
	assert_int_equal(get64(si + 16), 0x6040);           /* modlist_paddr */
	assert_int_equal(get64(si + 24), LAYOUT_CMDLINE_START);
	assert_int_equal(get64(si + 32), 0xe0000);          /* rsdp_paddr */
	assert_int_equal(get64(si + 40), 0x7000);           /* memmap_paddr */
	assert_int_equal(get32(si + 48), n);                /* memmap_entries */
	assert_int_equal(get64(mod), 0x3f00000);
	assert_int_equal(get64(mod + 8), 0x1234);
	assert_int_equal(get64(mod + 16), 0);               /* no module cmdline */
	for (i = 0; i < n; i++) {
		assert_int_equal(get64(mm + 24 * i), e820[i].addr);
		assert_int_equal(get64(mm + 24 * i + 8), e820[i].size);
		assert_int_equal(get32(mm + 24 * i + 16), e820[i].type);
		assert_int_equal(get32(mm + 24 * i + 20), 0);
	}
}

TEST(test_pvh_start_info_without_initrd_5g)
{
	const uint8_t *si, *mm;

	assert_int_equal(arch_guest_mem_init(&big, 5 * GiB), 0);
	bi = (struct boot_info){ .protocol = BOOT_PVH };
	assert_int_equal(arch_pvh_start_info_write(&big, &bi, 0), 0);
	si = gpa(&big, 0x6000, 56);
	mm = gpa(&big, 0x7000, 24 * 5);
	assert_int_equal(get32(si + 12), 0);
	assert_int_equal(get64(si + 16), 0);
	assert_int_equal(get32(si + 48), 5);
	assert_int_equal(get64(mm + 24 * 3), LAYOUT_PCI_ECAM_START);
	assert_int_equal(get32(mm + 24 * 3 + 16), E820_RESERVED);
	assert_int_equal(get64(mm + 24 * 4), 4 * GiB);
	assert_int_equal(get64(mm + 24 * 4 + 8), 2 * GiB);
	assert_int_equal(get32(mm + 24 * 4 + 16), E820_RAM);
	assert_int_equal(get32(mm + 24 * 1 + 16), E820_RESERVED);
}

/* ---- arch_load_kernel with files ---- */

/* A temporary file holding @data; teardown removes it even when the test fails. */
static char *temp_file(const void *data, size_t len)
{
	char *path = strdup("/tmp/vireo-test-boot-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0 && nr_temps < MAX_TEMPS);
	temps[nr_temps++] = path;
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static int load_files(const char *kernel, const char *initrd, const char *cmdline)
{
	struct boot_request req = { kernel, initrd, cmdline, 0xe0000 };

	memset(err, 0, sizeof(err));
	return arch_load_kernel(&ram, &req, &bi, err, sizeof(err));
}

TEST(test_load_kernel_bad_files)
{
	static const char text[] = "#!/bin/sh\necho this is not a kernel, it is a script\n";
	char *empty = temp_file("", 0), *script = temp_file(text, sizeof(text));
	char *tiny = temp_file("\x7f", 1);

	assert_int_equal(load_files("/nonexistent/vmlinux", NULL, ""), -ENOENT);
	expect_err("/nonexistent/vmlinux");
	assert_int_equal(load_files(empty, NULL, ""), -EINVAL);
	expect_err("empty");
	assert_int_equal(load_files("/tmp", NULL, ""), -EINVAL);
	expect_err("not a regular file");
	assert_int_equal(load_files(script, NULL, ""), -ENOEXEC);
	expect_err("neither a bzImage nor an ELF");
	assert_int_equal(load_files(tiny, NULL, ""), -ENOEXEC);
}

TEST(test_load_kernel_pvh_with_initramfs)
{
	const char *cmdline = "console=ttyS0 root=/dev/ram0";
	uint8_t initrd[5000];
	char *k = temp_file(elf, ELF_LEN), *i;

	memset(initrd, 0xc3, sizeof(initrd));
	i = temp_file(initrd, sizeof(initrd));
	assert_int_equal(load_files(k, i, cmdline), 0);
	assert_int_equal(bi.protocol, BOOT_PVH);
	assert_int_equal(bi.entry, PVH_ENTRY);
	assert_int_equal(bi.initrd_size, sizeof(initrd));
	assert_int_equal(bi.initrd_gpa, (RAM - sizeof(initrd)) & ~0xfffULL);
	assert_true(bi.initrd_gpa >= bi.kernel_end);
	assert_memory_equal(gpa(&ram, bi.initrd_gpa, sizeof(initrd)), initrd, sizeof(initrd));
	assert_string_equal((char *)gpa(&ram, LAYOUT_CMDLINE_START, 64), cmdline);
	assert_int_equal(get32(gpa(&ram, 0x6000, 4)), 0x336ec578);
	assert_int_equal(get64(gpa(&ram, 0x6040, 8)), bi.initrd_gpa);
	assert_int_equal(get64(gpa(&ram, 0x6000 + 32, 8)), 0xe0000);
}

TEST(test_load_kernel_bzimage_respects_initrd_addr_max)
{
	char *k, *i = temp_file("initramfs!", 10);
	uint8_t *zp;

	put32(bz + 0x22c, 0x1ffffff);               /* initrd below 32 MiB */
	k = temp_file(bz, BZ_LEN);
	assert_int_equal(load_files(k, i, "quiet"), 0);
	assert_int_equal(bi.protocol, BOOT_LINUX64);
	assert_int_equal(bi.initrd_gpa, 0x2000000 - 0x1000);
	zp = gpa(&ram, LAYOUT_ZERO_PAGE_START, 0x1000);
	assert_int_equal(get32(zp + 0x218), 0x2000000 - 0x1000);
	assert_int_equal(get32(zp + 0x21c), 10);
	assert_int_equal(get32(zp + 0x228), LAYOUT_CMDLINE_START);
	assert_int_equal(get64(zp + 0x70), 0xe0000);
	assert_string_equal((char *)gpa(&ram, LAYOUT_CMDLINE_START, 8), "quiet");
	assert_memory_equal(gpa(&ram, bi.initrd_gpa, 10), "initramfs!", 10);
}

TEST(test_load_kernel_initramfs_errors)
{
	char *k, *i = temp_file("x", 1);

	put32(bz + 0x22c, 0x1fffff);                /* initrd_addr_max under kernel_end */
	k = temp_file(bz, BZ_LEN);
	assert_int_equal(load_files(k, i, ""), -E2BIG);
	expect_err("does not fit");
	assert_int_equal(load_files(k, "/nonexistent/initrd", ""), -ENOENT);
	expect_err("initramfs");
}

TEST(test_load_kernel_rejects_long_cmdline)
{
	char *k = temp_file(elf, ELF_LEN), *kbz = temp_file(bz, BZ_LEN);
	char *cmdline = malloc(LAYOUT_CMDLINE_MAX + 1);

	memset(cmdline, 'a', LAYOUT_CMDLINE_MAX);
	cmdline[LAYOUT_CMDLINE_MAX] = '\0';            /* 64 KiB */
	assert_int_equal(load_files(k, NULL, cmdline), -E2BIG);
	expect_err("command line");
	cmdline[LAYOUT_CMDLINE_MAX - 1] = '\0';        /* 65535 bytes + NUL: the limit */
	assert_int_equal(load_files(k, NULL, cmdline), 0);
	cmdline[2048] = '\0';                          /* bzImage: cmdline_size is 2047 */
	assert_int_equal(load_files(kbz, NULL, cmdline), -E2BIG);
	expect_err("longer than the kernel accepts");
	cmdline[2047] = '\0';
	assert_int_equal(load_files(kbz, NULL, cmdline), 0);
	free(cmdline);
}

/* For both protocols the reset vector holds real-mode code that writes the FADT reset register
 * (how Linux's fallback restart through "the BIOS" resets a vireo VM). */
TEST(test_boot_tables_reset_stub)
{
	const enum boot_protocol protocols[] = { BOOT_LINUX64, BOOT_PVH };
	unsigned i;

	for (i = 0; i < 2; i++) {
		const uint8_t *v;

		memset(guest_mem_ptr(&ram, LAYOUT_RESET_VECTOR, 16), 0, 16);
		assert_int_equal(arch_write_boot_tables(&ram, protocols[i]), 0);
		v = guest_mem_ptr(&ram, LAYOUT_RESET_VECTOR, 16);
		assert_int_equal(v[0], 0xfa);                                  /* cli */
		assert_int_equal(v[1], 0xba);                                  /* mov dx, imm16 */
		assert_int_equal(v[2] | v[3] << 8, LAYOUT_ACPI_RESET);
		assert_int_equal(v[4], 0xb0);                                  /* mov al, imm8 */
		assert_int_equal(v[5], LAYOUT_ACPI_RESET_VALUE);
		assert_int_equal(v[6], 0xee);                                  /* out dx, al */
		assert_int_equal(v[7], 0xf4);                                  /* hlt */
		assert_true(LAYOUT_ACPI_START + LAYOUT_ACPI_SIZE <= LAYOUT_RESET_VECTOR);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_bzimage_loads_payload_at_1m),
		T(test_bzimage_setup_sects_zero_means_four),
		T(test_bzimage_small_init_size_covers_payload),
		T(test_bzimage_rejects_missing_hdrs),
		T(test_bzimage_rejects_old_protocol),
		T(test_bzimage_rejects_no_64bit_entry),
		T(test_bzimage_rejects_truncated),
		T(test_bzimage_rejects_init_size_beyond_ram),
		T(test_bootparams_fields),
		T(test_bootparams_copies_only_setup_header),
		T(test_bootparams_initrd_above_4g_uses_ext_fields),
		T(test_bootparams_cmdline_size_limit),
		T(test_bootparams_rejects_short_image),
		T(test_bootparams_short_image_small_jump_no_overread),
		T(test_pvh_elf64_loads_and_zeroes_bss),
		T(test_pvh_elf32_loads_and_zeroes_bss),
		T(test_pvh_note_with_8_byte_desc),
		T(test_pvh_note_in_either_note_segment),
		T(test_pvh_rejects_missing_note),
		T(test_pvh_rejects_overflowing_note_sizes),
		T(test_pvh_rejects_segment_below_1m),
		T(test_pvh_rejects_segment_outside_ram),
		T(test_pvh_segments_around_the_32bit_hole),
		T(test_pvh_rejects_corrupt_program_headers),
		T(test_pvh_rejects_segment_data_beyond_file),
		T(test_pvh_rejects_non_elf_and_no_load),
		T(test_pvh_start_info_with_initrd),
		T(test_pvh_start_info_without_initrd_5g),
		T(test_load_kernel_bad_files),
		T(test_load_kernel_pvh_with_initramfs),
		T(test_load_kernel_bzimage_respects_initrd_addr_max),
		T(test_load_kernel_initramfs_errors),
		T(test_load_kernel_rejects_long_cmdline),
		T(test_boot_tables_reset_stub),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
