// SPDX-License-Identifier: Apache-2.0
/*
 * arch/aarch64/boot.c: the arm64 Image header (booting.rst) checked and the kernel, DTB slot
 * and initramfs placed in guest RAM. Pure C: it runs in the x86 build too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arch/aarch64/arch.h"
#include "arch/aarch64/layout.h"

#define MiB (1ULL << 20)

static struct guest_mem ram(uint64_t size)
{
	struct guest_region r = { .gpa = LAYOUT_RAM_START, .size = size };
	struct guest_mem mem;

	assert_int_equal(guest_mem_create(&mem, &r, 1), 0);
	return mem;
}

static void put64(uint8_t *p, uint64_t v)
{
	unsigned i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A 4 KiB "Image": header with @text_offset and @image_size, then a pattern. */
static void image(uint8_t img[4096], uint64_t text_offset, uint64_t image_size)
{
	unsigned i;

	for (i = 0; i < 4096; i++)
		img[i] = (uint8_t)(i * 7);
	put64(img + 8, text_offset);
	put64(img + 16, image_size);
	put64(img + 24, 0xa);         /* LE, 4K pages, anywhere */
	memcpy(img + 56, "ARM\x64", 4);
}

static void test_image_placed(void **state)
{
	struct guest_mem mem = ram(256 * MiB);
	struct boot_info bi;
	uint8_t img[4096];
	char err[160];

	(void)state;
	image(img, 0, 32 * MiB);
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.entry, LAYOUT_RAM_START);
	assert_int_equal(bi.kernel_end, LAYOUT_RAM_START + 32 * MiB);
	/* the DTB in the last 2 MiB: 2 MiB aligned, so 8-byte aligned */
	assert_int_equal(bi.fdt_gpa, LAYOUT_RAM_START + 254 * MiB);
	assert_memory_equal(guest_mem_ptr(&mem, bi.entry, sizeof(img)), img, sizeof(img));

	/* text_offset is honoured; an old kernel (image_size 0) sits at 0x80000 */
	image(img, 0x200000, 32 * MiB);
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.entry, LAYOUT_RAM_START + 0x200000);
	image(img, 0x1234, 0);
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.entry, LAYOUT_RAM_START + 0x80000);
	guest_mem_destroy(&mem);
}

static void test_image_refused(void **state)
{
	struct guest_mem mem = ram(64 * MiB);
	struct boot_info bi;
	uint8_t img[4096];
	char err[160];

	(void)state;
	image(img, 0, 16 * MiB);
	img[56] = 'X';
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not an arm64 Image"));
	image(img, 0, 16 * MiB);
	put64(img + 24, 1);           /* big-endian kernel */
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), -ENOEXEC);
	/* image_size past RAM minus the DTB slot, a hostile text_offset, a file larger than
	 * the image_size it claims */
	image(img, 0, 63 * MiB);
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), -E2BIG);
	image(img, UINT64_MAX - 4095, 4096);
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), -E2BIG);
	image(img, 0, 100);
	assert_int_equal(arch_image_load(&mem, img, sizeof(img), &bi, err, sizeof(err)), -E2BIG);
	assert_int_equal(arch_image_load(&mem, img, 63, &bi, err, sizeof(err)), -ENOEXEC);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_placed),
		cmocka_unit_test(test_image_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
