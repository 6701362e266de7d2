// SPDX-License-Identifier: Apache-2.0
/*
 * The arm64 kernel Image loader (Linux Documentation/arch/arm64/booting.rst): the 64-byte
 * header's magic, text_offset and image_size are checked against guest RAM; the Image goes to
 * RAM start + text_offset (RAM start is 2 MiB aligned), the DTB slot is the last 2 MiB of RAM
 * and the initramfs sits just below it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/aarch64/arch.h"
#include "arch/aarch64/layout.h"
#include "base/file.h"
#include "base/log.h"

/* booting.rst "Call the kernel image": the header fields. */
#define IMAGE_TEXT_OFFSET 8
#define IMAGE_SIZE        16
#define IMAGE_FLAGS       24
#define IMAGE_MAGIC_OFF   56
#define IMAGE_HEADER_LEN  64
#define IMAGE_MAGIC       0x644d5241u   /* "ARM\x64" */
#define IMAGE_FLAG_BE     1u            /* bit 0: kernel endianness, 1 = big-endian */
/* image_size 0: a kernel older than 3.17, whose text_offset is 0x80000 (booting.rst). */
#define IMAGE_OLD_TEXT_OFFSET 0x80000u
#define IMAGE_OLD_MIN_SIZE    (16ULL << 20)

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool is_image(const uint8_t *img, size_t len)
{
	return len >= IMAGE_HEADER_LEN && (uint32_t)get_le64(img + IMAGE_MAGIC_OFF) == IMAGE_MAGIC;
}

int arch_image_load(const struct guest_mem *mem, const uint8_t *img, size_t len,
		    struct boot_info *out, char *err, size_t errlen)
{
	const struct guest_region *ram = &mem->regions[0];
	uint64_t text_offset = get_le64(img + IMAGE_TEXT_OFFSET);
	uint64_t image_size = get_le64(img + IMAGE_SIZE), room;
	uint8_t *dst;

	if (!is_image(img, len))
		return set_err(err, errlen, -ENOEXEC, "not an arm64 Image (no \"ARM\\x64\" magic)");
	if (get_le64(img + IMAGE_FLAGS) & IMAGE_FLAG_BE)
		return set_err(err, errlen, -ENOEXEC, "the Image is a big-endian kernel");
	if (!image_size) {
		text_offset = IMAGE_OLD_TEXT_OFFSET;
		image_size = len > IMAGE_OLD_MIN_SIZE ? len : IMAGE_OLD_MIN_SIZE;
	}
	room = ram->size > LAYOUT_FDT_MAX ? ram->size - LAYOUT_FDT_MAX : 0;
	if (text_offset > room || image_size > room - text_offset || len > image_size)
		return set_err(err, errlen, -E2BIG, "the Image (%llu bytes at offset %#llx) does not "
			       "fit in %llu MiB of RAM", (unsigned long long)image_size,
			       (unsigned long long)text_offset, (unsigned long long)(ram->size >> 20));
	dst = guest_mem_ptr(mem, ram->gpa + text_offset, len);
	if (!dst)
		return set_err(err, errlen, -EFAULT, "no guest RAM for the Image");
	memcpy(dst, img, len);
	out->entry = out->kernel_start = ram->gpa + text_offset;
	out->kernel_end = out->kernel_start + image_size;
	out->fdt_gpa = ram->gpa + ram->size - LAYOUT_FDT_MAX;
	return 0;
}

/* Page aligned, just below the DTB slot, above the kernel's image_size. */
static int load_initramfs(const struct guest_mem *mem, const char *path, struct boot_info *bi,
			  char *err, size_t errlen)
{
	uint64_t gpa;
	uint8_t *data;
	size_t len;
	int ret;

	ret = file_map_ro("initramfs", path, &data, &len, err, errlen);
	if (ret)
		return ret;
	gpa = (bi->fdt_gpa - len) & ~0xfffULL;
	if (len > bi->fdt_gpa || gpa < bi->kernel_end) {
		ret = set_err(err, errlen, -E2BIG, "initramfs '%s' (%zu bytes) does not fit in guest "
			      "RAM between the kernel and the device tree", path, len);
	} else {
		memcpy(guest_mem_ptr(mem, gpa, len), data, len);
		bi->initrd_gpa = gpa;
		bi->initrd_size = len;
	}
	munmap(data, len);
	return ret;
}

int arch_check_kernel(const char *path, char *err, size_t errlen)
{
	uint8_t *img;
	size_t len;
	int ret;

	ret = file_map_ro("kernel", path, &img, &len, err, errlen);
	if (ret)
		return ret;
	if (!is_image(img, len))
		ret = set_err(err, errlen, -ENOEXEC, "'%s' is not an arm64 Image (no \"ARM\\x64\" "
			      "magic; gunzip an Image.gz first)", path);
	munmap(img, len);
	return ret;
}

int arch_load_kernel(const struct guest_mem *mem, const struct boot_request *req,
		     struct boot_info *out, char *err, size_t errlen)
{
	uint8_t *img;
	size_t len;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = file_map_ro("kernel", req->kernel_path, &img, &len, err, errlen);
	if (ret)
		return ret;
	ret = arch_image_load(mem, img, len, out, err, errlen);
	munmap(img, len);
	if (!ret && req->initramfs_path)
		ret = load_initramfs(mem, req->initramfs_path, out, err, errlen);
	return ret;
}
