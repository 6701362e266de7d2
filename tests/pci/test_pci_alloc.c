// SPDX-License-Identifier: Apache-2.0
/* Address-range and GSI allocators, and their JSON state. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86_64/layout.h"
#include "pci/pci.h"

#define W32 LAYOUT_PCI_MMIO32_START
#define W32_SIZE LAYOUT_PCI_MMIO32_SIZE

static void test_alloc_free(void **state)
{
	struct range_alloc a;
	uint64_t b0, b1, b2;

	(void)state;
	assert_int_equal(range_alloc_init(&a, "mmio32", W32, W32_SIZE), 0);
	assert_int_equal(range_alloc_alloc(&a, 0x1000, 0x1000, &b0), 0);
	assert_int_equal(b0, W32);
	assert_int_equal(range_alloc_alloc(&a, 0x10, 0x10, &b1), 0);
	assert_int_equal(b1, W32 + 0x1000);
	/* Natural alignment skips the gap left by the 16-byte range. */
	assert_int_equal(range_alloc_alloc(&a, 0x4000, 0x4000, &b2), 0);
	assert_int_equal(b2, W32 + 0x4000);
	assert_int_equal(a.used.nr, 3);
	assert_int_equal(range_alloc_free(&a, b1), 0);
	assert_int_equal(range_alloc_free(&a, b1), -ENOENT);
	assert_int_equal(range_alloc_free(&a, b0 + 1), -ENOENT);
	/* The first hole is reused. */
	assert_int_equal(range_alloc_alloc(&a, 0x2000, 0x1000, &b1), 0);
	assert_int_equal(b1, W32 + 0x1000);
	assert_non_null(range_alloc_find(&a, b2));
	assert_int_equal(range_alloc_find(&a, b2)->size, 0x4000);
	range_alloc_destroy(&a);
}

static void test_bad_args(void **state)
{
	struct range_alloc a;
	uint64_t b;

	(void)state;
	assert_int_equal(range_alloc_init(&a, "x", 0, 0), -EINVAL);
	assert_int_equal(range_alloc_init(&a, "x", ~0ULL, 2), -EINVAL);     /* wraps */
	assert_int_equal(range_alloc_init(&a, "io", 0, 0x10000), 0);
	assert_int_equal(range_alloc_alloc(&a, 0, 4, &b), -EINVAL);
	assert_int_equal(range_alloc_alloc(&a, 4, 3, &b), -EINVAL);
	assert_int_equal(range_alloc_alloc(&a, 4, 0, &b), -EINVAL);
	assert_int_equal(range_alloc_reserve(&a, 0x1004, 0x10, 0x10), -EINVAL);   /* misaligned */
	assert_int_equal(range_alloc_reserve(&a, 0xfff0, 0x20, 0x10), -EINVAL);   /* past end */
	assert_int_equal(range_alloc_reserve(&a, ~0ULL - 4, 0x10, 1), -EINVAL);   /* wraps */
	assert_int_equal(range_alloc_reserve(&a, 0x1000, 0, 1), -EINVAL);
	range_alloc_destroy(&a);
}

static void test_exact_and_overlap(void **state)
{
	struct range_alloc a;
	uint64_t b;

	(void)state;
	range_alloc_init(&a, "mmio32", W32, W32_SIZE);
	assert_int_equal(range_alloc_reserve(&a, W32 + 0x10000, 0x1000, 0x1000), 0);
	assert_int_equal(range_alloc_reserve(&a, W32 + 0x10000, 0x1000, 0x1000), -EEXIST);
	assert_int_equal(range_alloc_reserve(&a, W32 + 0xf000, 0x2000, 0x1000), -EEXIST);
	assert_int_equal(range_alloc_reserve(&a, W32 + 0x10800, 0x100, 0x100), -EEXIST);
	assert_int_equal(range_alloc_reserve(&a, W32 + 0xf000, 0x1000, 0x1000), 0);   /* adjacent */
	assert_int_equal(range_alloc_reserve(&a, W32 + 0x11000, 0x1000, 0x1000), 0);
	/* Allocation goes around them. */
	assert_int_equal(range_alloc_alloc(&a, 0x10000, 0x10000, &b), 0);
	assert_int_equal(b, W32 + 0x20000);
	assert_int_equal(range_alloc_alloc(&a, 0x1000, 0x1000, &b), 0);
	assert_int_equal(b, W32);
	assert_int_equal(range_alloc_alloc(&a, 0x2000, 0x1000, &b), 0);
	assert_int_equal(b, W32 + 0x1000);
	range_alloc_destroy(&a);
}

static void test_exhaustion(void **state)
{
	struct range_alloc a;
	uint64_t b;
	unsigned i;

	(void)state;
	range_alloc_init(&a, "small", 0x1000, 0x4000);
	for (i = 0; i < 4; i++)
		assert_int_equal(range_alloc_alloc(&a, 0x1000, 0x1000, &b), 0);
	assert_int_equal(range_alloc_alloc(&a, 0x10, 0x10, &b), -ENOSPC);
	range_alloc_free(&a, 0x2000);
	assert_int_equal(range_alloc_alloc(&a, 0x2000, 0x1000, &b), -ENOSPC);
	assert_int_equal(range_alloc_alloc(&a, 0x1000, 0x2000, &b), 0);
	assert_int_equal(b, 0x2000);
	range_alloc_destroy(&a);
	/* A window that ends at the top of the address space. */
	range_alloc_init(&a, "top", ~0ULL - 0xfff, 0x1000);
	assert_int_equal(range_alloc_alloc(&a, 0x1000, 0x1000, &b), 0);
	assert_int_equal(b, ~0ULL - 0xfff);
	assert_int_equal(range_alloc_alloc(&a, 1, 1, &b), -ENOSPC);
	range_alloc_destroy(&a);
}

static void test_move(void **state)
{
	struct range_alloc a;

	(void)state;
	range_alloc_init(&a, "mmio32", W32, W32_SIZE);
	range_alloc_reserve(&a, W32, 0x4000, 0x4000);
	range_alloc_reserve(&a, W32 + 0x8000, 0x4000, 0x4000);
	/* Overlap: refused, old range still allocated, new one not. */
	assert_int_equal(range_alloc_move(&a, W32, W32 + 0x8000), -EEXIST);
	assert_non_null(range_alloc_find(&a, W32));
	assert_int_equal(range_alloc_find(&a, W32 + 0x8000)->size, 0x4000);
	assert_int_equal(a.used.nr, 2);
	/* Misaligned and out-of-window: refused the same way. */
	assert_int_equal(range_alloc_move(&a, W32, W32 + 0x1000), -EINVAL);
	assert_int_equal(range_alloc_move(&a, W32, W32 + W32_SIZE), -EINVAL);
	assert_int_equal(range_alloc_move(&a, W32 + 0x100, W32), -ENOENT);
	assert_non_null(range_alloc_find(&a, W32));
	/* Overlapping its own old place is fine (free first). */
	assert_int_equal(range_alloc_move(&a, W32 + 0x8000, W32 + 0x4000), 0);
	assert_null(range_alloc_find(&a, W32 + 0x8000));
	assert_int_equal(range_alloc_find(&a, W32 + 0x4000)->align, 0x4000);
	assert_int_equal(range_alloc_move(&a, W32, W32 + 0x10000), 0);
	assert_int_equal(range_alloc_entry(&a, 0)->base, W32 + 0x4000);      /* still sorted */
	assert_int_equal(range_alloc_entry(&a, 1)->base, W32 + 0x10000);
	range_alloc_destroy(&a);
}

static void test_range_snapshot(void **state)
{
	struct range_alloc a, b;
	cJSON *j;
	char *text, err[256];

	(void)state;
	range_alloc_init(&a, "mmio64", 0x8000000000ULL, 0x8000000000ULL);
	range_alloc_reserve(&a, 0xfffff00000ULL, 0x100000, 0x100000);
	range_alloc_reserve(&a, 0x8000000000ULL, 0x4000, 0x4000);
	j = range_alloc_save(&a);
	text = cJSON_PrintUnformatted(j);
	/* u64 values as strings, so nothing goes through a double. */
	assert_non_null(strstr(text, "\"base\":\"0xfffff00000\""));
	cJSON_Delete(j);
	j = cJSON_Parse(text);
	free(text);
	range_alloc_init(&b, "mmio64", 0x8000000000ULL, 0x8000000000ULL);
	range_alloc_reserve(&b, 0x9000000000ULL, 0x1000, 0x1000);         /* replaced */
	assert_int_equal(range_alloc_restore(&b, j, err, sizeof(err)), 0);
	assert_int_equal(b.used.nr, 2);
	assert_memory_equal(b.used.items, a.used.items, 2 * sizeof(struct range_alloc_entry));
	cJSON_Delete(j);
	range_alloc_destroy(&a);
	range_alloc_destroy(&b);
}

/*
 * Restores @text into a fresh allocator with one range: must fail, leave it alone, and say
 * which field is wrong (@want is a substring of the message).
 */
static void reject(const char *text, const char *want)
{
	struct range_alloc a;
	cJSON *j = cJSON_Parse(text);
	char err[256];

	assert_non_null(j);
	range_alloc_init(&a, "io", 0x1000, 0x1000);
	range_alloc_reserve(&a, 0x1800, 0x10, 0x10);
	assert_int_equal(range_alloc_restore(&a, j, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("\"%s\" does not contain \"%s\"", err, want);
	assert_int_equal(a.used.nr, 1);
	assert_int_equal(range_alloc_entry(&a, 0)->base, 0x1800);
	cJSON_Delete(j);
	range_alloc_destroy(&a);
}

#define R(b, s, al) "{\"base\":\"" b "\",\"size\":\"" s "\",\"align\":\"" al "\"}"
#define STATE(ranges) "{\"base\":\"0x1000\",\"size\":\"0x1000\",\"ranges\":[" ranges "]}"

static void test_range_restore_rejects(void **state)
{
	(void)state;
	reject("{\"base\":\"0x2000\",\"size\":\"0x1000\",\"ranges\":[]}",
	       "base: 0x2000, but this VM's io window starts at 0x1000");
	reject("{\"base\":\"0x1000\",\"size\":\"0x800\",\"ranges\":[]}",
	       "size: 0x800, but this VM's io window is 0x1000 bytes");
	reject("{\"base\":\"0x1000\",\"size\":\"0x1000\"}", "ranges: expected an array");
	reject("{\"size\":\"0x1000\",\"ranges\":[]}", "base: missing");
	reject(STATE(R("0x1000", "0x20", "0x10") "," R("0x1010", "0x10", "0x10")),
	       "ranges[1]: [0x1010, +0x10) overlaps an earlier range");
	reject(STATE(R("0x1008", "0x10", "0x10")), "ranges[0].base: 0x1008 is not aligned to 0x10");
	reject(STATE(R("0x1000", "0x10", "0x3")), "ranges[0].align: 0x3 is not a power of two");
	reject(STATE(R("0x1000", "0x10", "0x10") "," R("0x1ff0", "0x20", "0x10")),
	       "ranges[1]: [0x1ff0, +0x20) is not inside the io window [0x1000, +0x1000)");
	reject(STATE(R("0x1000", "0x0", "0x10")), "ranges[0]: [0x1000, +0x0) is not inside");
	reject(STATE(R("0x1000", "16", "0x10")), "ranges[0].size: expected a \"0x...\" hex string");
	reject(STATE(R("0x1000", "0x10000000000000000", "0x10")), "ranges[0].size: expected");
	reject(STATE("{\"base\":4096,\"size\":\"0x10\",\"align\":\"0x10\"}"),
	       "ranges[0].base: expected");
	reject(STATE("{\"base\":\"0x1000\",\"size\":\"0x10\"}"), "ranges[0].align: missing");
	reject(STATE("[]"), "ranges[0]: expected an object");
}

static void test_gsi(void **state)
{
	struct gsi_alloc g;
	uint32_t gsi, n;

	(void)state;
	gsi_alloc_init(&g);
	assert_int_equal(gsi_alloc_msi(&g, &gsi), 0);
	assert_int_equal(gsi, 24);
	assert_int_equal(gsi_alloc_reserve(&g, 4), 0);                 /* COM1 */
	assert_int_equal(gsi_alloc_reserve(&g, 4), -EEXIST);
	assert_int_equal(gsi_alloc_reserve(&g, 4096), -EINVAL);
	assert_int_equal(gsi_alloc_legacy(&g, &gsi), 0);
	assert_int_equal(gsi, GSI_LEGACY_FIRST);
	assert_int_equal(gsi_alloc_free(&g, 24), 0);
	assert_int_equal(gsi_alloc_free(&g, 24), -ENOENT);
	assert_int_equal(gsi_alloc_free(&g, 5000), -EINVAL);
	for (n = 24; n < GSI_MAX; n++) {
		assert_int_equal(gsi_alloc_msi(&g, &gsi), 0);
		assert_int_equal(gsi, n);
	}
	assert_int_equal(gsi_alloc_msi(&g, &gsi), -ENOSPC);
	for (n = 6; n < 24; n++)
		assert_int_equal(gsi_alloc_legacy(&g, &gsi), 0);
	assert_int_equal(gsi_alloc_legacy(&g, &gsi), -ENOSPC);
	assert_false(gsi_alloc_used(&g, 0));                          /* never handed out */
}

static void test_gsi_snapshot(void **state)
{
	struct gsi_alloc g, h;
	cJSON *j;
	char *text, err[256];
	uint32_t gsi;
	unsigned i;

	(void)state;
	gsi_alloc_init(&g);
	gsi_alloc_reserve(&g, 4);
	for (i = 0; i < 5; i++)
		gsi_alloc_msi(&g, &gsi);
	gsi_alloc_reserve(&g, 4095);
	j = gsi_alloc_save(&g);
	text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "{\"used\":[[4,4],[24,28],[4095,4095]]}");
	gsi_alloc_init(&h);
	assert_int_equal(gsi_alloc_restore(&h, j, err, sizeof(err)), 0);
	assert_memory_equal(&g, &h, sizeof(g));
	free(text);
	cJSON_Delete(j);

	/* Refused, named (the second string is in the message), and nothing changed. */
	static const char *bad[][2] = {
		{ "{\"used\":[[4,4],[4,5]]}", "used[1]: [4, 5]: GSI 4 is already in an earlier run" },
		{ "{\"used\":[[5,4]]}", "used[0]: [5, 4] ends before it starts" },
		{ "{\"used\":[[0,4096]]}", "used[0][1]: 4096 is not a GSI in 0..4095" },
		{ "{\"used\":[[1.5,2]]}", "used[0][0]: 1.5 is not a GSI" },
		{ "{\"used\":[[-1,2]]}", "used[0][0]: -1 is not a GSI" },
		{ "{\"used\":[[1]]}", "used[0]: expected [first, last]" },
		{ "{\"used\":[\"0x1\"]}", "used[0]: expected [first, last]" },
		{ "{\"used\":[[1,\"2\"]]}", "used[0][1]: expected a GSI number" },
		{ "{}", "used: expected an array of runs" },
	};

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i][0]);
		assert_int_equal(gsi_alloc_restore(&h, j, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i][1]))
			fail_msg("\"%s\" does not contain \"%s\"", err, bad[i][1]);
		assert_memory_equal(&g, &h, sizeof(g));
		cJSON_Delete(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_exact_and_overlap),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_range_snapshot),
		cmocka_unit_test(test_range_restore_rejects),
		cmocka_unit_test(test_gsi),
		cmocka_unit_test(test_gsi_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
