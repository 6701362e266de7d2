// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel loaders: the Linux 64-bit boot protocol for a bzImage (Documentation/arch/x86/
 * boot.rst) and PVH for an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note (xen/include/public/
 * arch-x86/hvm/start_info.h). Every offset and size read from the file is checked.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/layout.h"
#include "base/file.h"
#include "base/log.h"

/* boot.rst "The Real-Mode Kernel Header" offsets, in the file and in the zero page. */
#define BP_ACPI_RSDP_ADDR   0x070
#define BP_EXT_RAMDISK_IMG  0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_E820_ENTRIES     0x1e8
#define BP_SETUP_SECTS      0x1f1
#define BP_SETUP_END_JUMP   0x201
#define BP_HEADER           0x202
#define BP_VERSION          0x206
#define BP_TYPE_OF_LOADER   0x210
#define BP_LOADFLAGS        0x211
#define BP_RAMDISK_IMAGE    0x218
#define BP_RAMDISK_SIZE     0x21c
#define BP_CMD_LINE_PTR     0x228
#define BP_INITRD_ADDR_MAX  0x22c
#define BP_XLOADFLAGS       0x236
#define BP_CMDLINE_SIZE     0x238
#define BP_INIT_SIZE        0x260
#define BP_E820_TABLE       0x2d0
#define BP_SIZE             0x1000

#define HDRS_MAGIC          0x53726448u   /* "HdrS" */
#define LOADED_HIGH         0x01
#define XLF_KERNEL_64       0x01
#define BOOT_MIN_VERSION    0x020c        /* 2.12: xloadflags, 64-bit entry */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_START_MAGIC     0x336ec578u

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info v1 is 56 bytes");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "memmap entry is 24 bytes");

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put_le32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static void put_le64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

/* Copies @len file bytes to guest @gpa and zeroes @extra bytes after them. */
static int load_segment(const struct guest_mem *mem, uint64_t gpa, const uint8_t *src,
			uint64_t len, uint64_t zero_len)
{
	uint8_t *dst;

	if (len + zero_len < len)
		return -EFAULT;
	dst = guest_mem_ptr(mem, gpa, len + zero_len);
	if (!dst || gpa < LAYOUT_HIGH_RAM_START)
		return -EFAULT;
	memcpy(dst, src, len);
	memset(dst + len, 0, zero_len);
	return 0;
}

int arch_bzimage_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		      struct boot_info *out, char *err, size_t errlen)
{
	unsigned setup_sects;
	uint64_t code_off, code_len, init_size;

	if (len < BP_INIT_SIZE + 4 || get_le32(img + BP_HEADER) != HDRS_MAGIC)
		return set_err(err, errlen, -ENOEXEC, "not a bzImage (no HdrS header)");
	if (get_le16(img + BP_VERSION) < BOOT_MIN_VERSION)
		return set_err(err, errlen, -ENOEXEC, "boot protocol %#x is older than 2.12",
			    get_le16(img + BP_VERSION));
	if (!(img[BP_XLOADFLAGS] & XLF_KERNEL_64) || !(img[BP_LOADFLAGS] & LOADED_HIGH))
		return set_err(err, errlen, -ENOEXEC, "bzImage has no 64-bit entry point");
	setup_sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;
	code_off = (uint64_t)(setup_sects + 1) * 512;
	if (code_off >= len)
		return set_err(err, errlen, -ENOEXEC, "bzImage is truncated");
	code_len = len - code_off;
	init_size = get_le32(img + BP_INIT_SIZE);
	if (init_size < code_len)
		init_size = code_len;
	/* The decompressor needs init_size bytes at the load address (boot.rst). */
	if (!guest_mem_ptr(mem, LAYOUT_HIGH_RAM_START, init_size))
		return set_err(err, errlen, -E2BIG, "kernel needs %llu MiB above 1 MiB; add memory",
			    (unsigned long long)(init_size >> 20) + 1);
	load_segment(mem, LAYOUT_HIGH_RAM_START, img + code_off, code_len, 0);
	*out = (struct boot_info){
		.protocol = BOOT_LINUX64,
		.entry = LAYOUT_HIGH_RAM_START + 0x200,   /* boot.rst: 64-bit entry */
		.kernel_start = LAYOUT_HIGH_RAM_START,
		.kernel_end = LAYOUT_HIGH_RAM_START + init_size,
		.zero_page = LAYOUT_ZERO_PAGE_START,
	};
	return 0;
}

/* The ELF fields the loader needs, from either class. */
struct elf_view {
	bool is64;
	uint64_t phoff;
	unsigned phnum, phentsize;
};

struct elf_phdr_view {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int elf_parse_header(const uint8_t *img, size_t len, struct elf_view *v)
{
	if (len < sizeof(Elf32_Ehdr) || memcmp(img, ELFMAG, SELFMAG) || img[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (img[EI_CLASS] == ELFCLASS64 && len >= sizeof(Elf64_Ehdr)) {
		const Elf64_Ehdr *eh = (const void *)img;

		*v = (struct elf_view){ true, eh->e_phoff, eh->e_phnum, eh->e_phentsize };
		return eh->e_phentsize == sizeof(Elf64_Phdr) ? 0 : -ENOEXEC;
	}
	if (img[EI_CLASS] == ELFCLASS32) {
		const Elf32_Ehdr *eh = (const void *)img;

		*v = (struct elf_view){ false, eh->e_phoff, eh->e_phnum, eh->e_phentsize };
		return eh->e_phentsize == sizeof(Elf32_Phdr) ? 0 : -ENOEXEC;
	}
	return -ENOEXEC;
}

static int elf_phdr(const uint8_t *img, size_t len, const struct elf_view *v, unsigned i,
		    struct elf_phdr_view *p)
{
	uint64_t off = v->phoff + (uint64_t)i * v->phentsize;

	if (v->phoff > len || off + v->phentsize > len || off < v->phoff)
		return -ENOEXEC;
	if (v->is64) {
		Elf64_Phdr ph;

		memcpy(&ph, img + off, sizeof(ph));
		*p = (struct elf_phdr_view){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
					     ph.p_memsz };
	} else {
		Elf32_Phdr ph;

		memcpy(&ph, img + off, sizeof(ph));
		*p = (struct elf_phdr_view){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
					     ph.p_memsz };
	}
	if (p->offset > len || p->filesz > len - p->offset || p->filesz > p->memsz)
		return -ENOEXEC;
	return 0;
}

/* Finds the PVH entry in one PT_NOTE segment (ELF notes: 4-byte aligned name and desc). */
static int elf_find_pvh_note(const uint8_t *seg, uint64_t len, uint64_t *entry)
{
	uint64_t pos = 0;

	while (len - pos >= 12) {
		uint32_t namesz = get_le32(seg + pos), descsz = get_le32(seg + pos + 4);
		uint32_t type = get_le32(seg + pos + 8);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ULL);

		if (next > len)
			return -ENOEXEC;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    !memcmp(seg + name_off, "Xen", 4) && (descsz == 4 || descsz == 8)) {
			*entry = get_le32(seg + desc_off);
			return 0;
		}
		pos = next;
	}
	return -ENOENT;
}

int arch_pvh_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		  struct boot_info *out, char *err, size_t errlen)
{
	struct elf_phdr_view ph;
	struct elf_view v;
	uint64_t entry = 0, lo = UINT64_MAX, hi = 0;
	bool have_entry = false;
	unsigned i;

	if (elf_parse_header(img, len, &v))
		return set_err(err, errlen, -ENOEXEC, "not a little-endian ELF executable");
	for (i = 0; i < v.phnum; i++) {
		if (elf_phdr(img, len, &v, i, &ph))
			return set_err(err, errlen, -ENOEXEC, "ELF program header %u is corrupt", i);
		if (ph.type == PT_NOTE && !have_entry)
			have_entry = !elf_find_pvh_note(img + ph.offset, ph.filesz, &entry);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		if (load_segment(mem, ph.paddr, img + ph.offset, ph.filesz, ph.memsz - ph.filesz))
			return set_err(err, errlen, -EFAULT,
				    "ELF segment %u (0x%llx, %llu bytes) is not in guest RAM above 1 MiB",
				    i, (unsigned long long)ph.paddr, (unsigned long long)ph.memsz);
		lo = ph.paddr < lo ? ph.paddr : lo;
		hi = ph.paddr + ph.memsz > hi ? ph.paddr + ph.memsz : hi;
	}
	if (!have_entry)
		return set_err(err, errlen, -ENOEXEC,
			    "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (hi == 0)
		return set_err(err, errlen, -ENOEXEC, "ELF kernel has no loadable segment");
	*out = (struct boot_info){
		.protocol = BOOT_PVH,
		.entry = entry,
		.kernel_start = lo,
		.kernel_end = hi,
		.zero_page = LAYOUT_PVH_INFO_START,
	};
	return 0;
}

int arch_bootparams_write(const struct guest_mem *mem, const uint8_t *img, size_t len,
			  const struct boot_info *bi, uint64_t cmdline_len, uint64_t rsdp_gpa)
{
	uint8_t *zp = guest_mem_ptr(mem, bi->zero_page, BP_SIZE);
	struct e820_entry e820[E820_MAX_ENTRIES];
	size_t hdr_end;
	int n;

	if (!zp || len < BP_CMDLINE_SIZE + 4)
		return -EINVAL;
	/* Copy only the setup header: a non-zero boot sector "sentinel" makes Linux wipe fields. */
	hdr_end = BP_HEADER + img[BP_SETUP_END_JUMP];
	if (hdr_end > len || hdr_end > BP_E820_TABLE)
		return -EINVAL;
	if (cmdline_len >= get_le32(img + BP_CMDLINE_SIZE) + 1ULL)
		return -E2BIG;
	memset(zp, 0, BP_SIZE);
	memcpy(zp + BP_SETUP_SECTS, img + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);
	zp[BP_TYPE_OF_LOADER] = 0xff;
	put_le32(zp + BP_CMD_LINE_PTR, LAYOUT_CMDLINE_START);
	put_le32(zp + BP_RAMDISK_IMAGE, (uint32_t)bi->initrd_gpa);
	put_le32(zp + BP_RAMDISK_SIZE, (uint32_t)bi->initrd_size);
	put_le32(zp + BP_EXT_RAMDISK_IMG, (uint32_t)(bi->initrd_gpa >> 32));
	put_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(bi->initrd_size >> 32));
	put_le64(zp + BP_ACPI_RSDP_ADDR, rsdp_gpa);
	n = arch_e820_build(mem, e820, E820_MAX_ENTRIES);
	if (n < 0)
		return n;
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(zp + BP_E820_TABLE, e820, (size_t)n * sizeof(e820[0]));
	return 0;
}

int arch_pvh_start_info_write(const struct guest_mem *mem, const struct boot_info *bi,
			      uint64_t rsdp_gpa)
{
	struct hvm_start_info *si = guest_mem_ptr(mem, LAYOUT_PVH_INFO_START, sizeof(*si));
	struct hvm_modlist_entry *mod = guest_mem_ptr(mem, LAYOUT_PVH_MODLIST_START, sizeof(*mod));
	struct e820_entry e820[LAYOUT_PVH_MEMMAP_MAX];
	struct hvm_memmap_entry *mm;
	int n, i;

	n = arch_e820_build(mem, e820, LAYOUT_PVH_MEMMAP_MAX);
	if (n < 0)
		return n;
	mm = guest_mem_ptr(mem, LAYOUT_PVH_MEMMAP_START, (uint64_t)n * sizeof(*mm));
	if (!si || !mod || !mm)
		return -EFAULT;
	for (i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ e820[i].addr, e820[i].size, e820[i].type, 0 };
	*si = (struct hvm_start_info){
		.magic = PVH_START_MAGIC,
		.version = 1,   /* v1 carries the memory map Linux needs on KVM */
		.cmdline_paddr = LAYOUT_CMDLINE_START,
		.rsdp_paddr = rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_MEMMAP_START,
		.memmap_entries = (uint32_t)n,
	};
	if (bi->initrd_size) {
		*mod = (struct hvm_modlist_entry){ .paddr = bi->initrd_gpa, .size = bi->initrd_size };
		si->nr_modules = 1;
		si->modlist_paddr = LAYOUT_PVH_MODLIST_START;
	}
	return 0;
}

/*
 * Puts the initramfs at the top of RAM below the 32-bit hole, page aligned, above the
 * kernel and (for a bzImage) below initrd_addr_max, as Firecracker and Cloud Hypervisor do.
 */
static int load_initramfs(const struct guest_mem *mem, const char *path, uint64_t max_end,
			  struct boot_info *bi, char *err, size_t errlen)
{
	const struct guest_region *low = &mem->regions[0];
	uint64_t top = low->gpa + low->size, gpa;
	uint8_t *data;
	size_t len;
	int ret;

	ret = file_map_ro("initramfs", path, &data, &len, err, errlen);
	if (ret)
		return ret;
	if (top > max_end)
		top = max_end;
	gpa = (top - len) & ~0xfffULL;
	if (len > top || gpa < bi->kernel_end) {
		ret = set_err(err, errlen, -E2BIG, "initramfs '%s' (%zu bytes) does not fit in guest "
			   "RAM below %#llx after the kernel", path, len, (unsigned long long)top);
		goto out;
	}
	memcpy(guest_mem_ptr(mem, gpa, len), data, len);
	bi->initrd_gpa = gpa;
	bi->initrd_size = len;
out:
	munmap(data, len);
	return ret;
}

static int write_cmdline(const struct guest_mem *mem, const char *cmdline, char *err,
			 size_t errlen)
{
	size_t len = strlen(cmdline);

	if (len >= LAYOUT_CMDLINE_MAX)
		return set_err(err, errlen, -E2BIG, "kernel command line is %zu bytes; the limit is %llu",
			    len, LAYOUT_CMDLINE_MAX - 1);
	return guest_mem_write(mem, LAYOUT_CMDLINE_START, cmdline, len + 1);
}

static bool is_bzimage(const uint8_t *img, size_t len)
{
	return len > BP_HEADER + 4 && get_le32(img + BP_HEADER) == HDRS_MAGIC;
}

static bool is_elf(const uint8_t *img, size_t len)
{
	return len >= SELFMAG && !memcmp(img, ELFMAG, SELFMAG);
}

int arch_check_kernel(const char *path, char *err, size_t errlen)
{
	uint8_t *img;
	size_t len;
	int ret;

	ret = file_map_ro("kernel", path, &img, &len, err, errlen);
	if (ret)
		return ret;
	if (!is_bzimage(img, len) && !is_elf(img, len))
		ret = set_err(err, errlen, -ENOEXEC, "'%s' is neither a bzImage nor an ELF kernel",
			      path);
	munmap(img, len);
	return ret;
}

int arch_load_kernel(const struct guest_mem *mem, const struct boot_request *req,
		     struct boot_info *out, char *err, size_t errlen)
{
	uint64_t initrd_max = UINT64_MAX;
	uint8_t *img;
	size_t len;
	int ret;

	ret = file_map_ro("kernel", req->kernel_path, &img, &len, err, errlen);
	if (ret)
		return ret;
	if (is_bzimage(img, len)) {
		ret = arch_bzimage_load(mem, img, len, out, err, errlen);
		if (!ret)
			initrd_max = (uint64_t)get_le32(img + BP_INITRD_ADDR_MAX) + 1;
	} else if (is_elf(img, len)) {
		ret = arch_pvh_load(mem, img, len, out, err, errlen);
	} else {
		ret = set_err(err, errlen, -ENOEXEC, "'%s' is neither a bzImage nor an ELF kernel",
			   req->kernel_path);
	}
	if (!ret && req->initramfs_path)
		ret = load_initramfs(mem, req->initramfs_path, initrd_max, out, err, errlen);
	if (!ret)
		ret = write_cmdline(mem, req->cmdline, err, errlen);
	if (!ret && out->protocol == BOOT_LINUX64) {
		ret = arch_bootparams_write(mem, img, len, out, strlen(req->cmdline), req->rsdp_gpa);
		if (ret)
			set_err(err, errlen, ret, "cannot write the zero page: %s%s", strerror(-ret),
			     ret == -E2BIG ? " (command line longer than the kernel accepts)" : "");
	} else if (!ret) {
		ret = arch_pvh_start_info_write(mem, out, req->rsdp_gpa);
		if (ret)
			set_err(err, errlen, ret, "cannot write hvm_start_info: %s", strerror(-ret));
	}
	munmap(img, len);
	return ret;
}
