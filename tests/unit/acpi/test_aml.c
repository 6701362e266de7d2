// SPDX-License-Identifier: Apache-2.0
/* Byte-exact checks of the AML writer against ACPI 6.5 chapter 20 and section 6.4. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86_64/aml.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* A function, so that BYTES() expands to its two arguments. */
static void same(const uint8_t *p, const uint8_t *want, size_t n)
{
	assert_memory_equal(p, want, n);
}

static void expect(const struct aml *a, const uint8_t *want, size_t n)
{
	assert_int_equal(aml_finish(a), 0);
	assert_int_equal(a->len, n);
	assert_memory_equal(a->buf, want, n);
}

static void pkglength(uint32_t v, const uint8_t *want, size_t n)
{
	uint8_t out[4];

	assert_int_equal(aml_pkglength_encode(v, out), (int)n);
	assert_memory_equal(out, want, n);
}

/* 20.2.4: 6 bits in one byte, then 4 + 8k bits in 2-4 bytes. */
static void test_pkglength_values(void **state)
{
	uint8_t out[4];

	(void)state;
	pkglength(63, BYTES(0x3f));
	pkglength(64, BYTES(0x40, 0x04));
	pkglength(4095, BYTES(0x4f, 0xff));
	pkglength(4096, BYTES(0x80, 0x00, 0x01));
	pkglength(0xfffff, BYTES(0x8f, 0xff, 0xff));
	pkglength(0x100000, BYTES(0xc0, 0x00, 0x00, 0x01));
	pkglength(AML_MAX_LEN, BYTES(0xcf, 0xff, 0xff, 0xff));
	assert_int_equal(aml_pkglength_encode(AML_MAX_LEN + 1, out), -ERANGE);
}

/* A Scope(\) whose body is 2 + @raw bytes: checks the PkgLength aml_end() puts in front. */
static void scope_with_body(size_t raw, const uint8_t *want, size_t n)
{
	uint8_t *fill = calloc(1, raw ? raw : 1);
	struct aml a;

	assert_non_null(fill);
	aml_init(&a, 0);
	assert_int_equal(aml_begin_scope(&a, "\\"), 0);
	assert_int_equal(aml_bytes(&a, fill, raw), 0);
	assert_int_equal(aml_end(&a), 0);
	assert_int_equal(aml_finish(&a), 0);
	assert_int_equal(a.len, 1 + n + 2 + raw);
	assert_int_equal(a.buf[0], 0x10);
	assert_memory_equal(a.buf + 1, want, n);
	same(a.buf + 1 + n, BYTES(0x5c, 0x00));
	aml_free(&a);
	free(fill);
}

/* Bodies of 62/63, 4093/4094 and 0xffffc/0xffffd bytes straddle each PkgLength size. */
static void test_pkglength_backpatch(void **state)
{
	(void)state;
	scope_with_body(60, BYTES(0x3f));                     /* 62 + 1 = 63 */
	scope_with_body(61, BYTES(0x41, 0x04));               /* 63 + 2 = 65 */
	scope_with_body(4091, BYTES(0x4f, 0xff));             /* 4093 + 2 = 4095 */
	scope_with_body(4092, BYTES(0x81, 0x00, 0x01));       /* 4094 + 3 = 4097 */
	scope_with_body(0xffffa, BYTES(0x8f, 0xff, 0xff));    /* 0xffffc + 3 = 0xfffff */
	scope_with_body(0xffffb, BYTES(0xc1, 0x00, 0x00, 0x01)); /* 0xffffd + 4 = 0x100001 */
}

static void integer(uint64_t v, const uint8_t *want, size_t n)
{
	struct aml a;

	aml_init(&a, 0);
	assert_int_equal(aml_integer(&a, v), 0);
	expect(&a, want, n);
	aml_free(&a);
}

/* 20.2.3: ZeroOp, OneOp, then Byte/Word/DWord/QWord prefixes. */
static void test_integers(void **state)
{
	(void)state;
	integer(0, BYTES(0x00));
	integer(1, BYTES(0x01));
	integer(2, BYTES(0x0a, 0x02));
	integer(0xff, BYTES(0x0a, 0xff));
	integer(0x100, BYTES(0x0b, 0x00, 0x01));
	integer(0xffff, BYTES(0x0b, 0xff, 0xff));
	integer(0x10000, BYTES(0x0c, 0x00, 0x00, 0x01, 0x00));
	integer(0xffffffff, BYTES(0x0c, 0xff, 0xff, 0xff, 0xff));
	integer(0x100000000, BYTES(0x0e, 0, 0, 0, 0, 0x01, 0, 0, 0));
}

static void test_string(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_string(&a, "COM1");
	expect(&a, BYTES(0x0d, 'C', 'O', 'M', '1', 0x00));
	aml_free(&a);

	aml_init(&a, 0);
	assert_int_equal(aml_string(&a, "caf\xc3\xa9"), -EINVAL);
	aml_free(&a);
}

static void test_eisaid(void **state)
{
	static const char *const bad[] = { "PNP0A0", "PNP0A080", "pnp0a08", "PNP0a08", "PN10A08",
					   "PNP0A0G", "" };
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_eisaid(&a, "PNP0A08");
	aml_eisaid(&a, "PNP0A03");
	expect(&a, BYTES(0x0c, 0x41, 0xd0, 0x0a, 0x08, 0x0c, 0x41, 0xd0, 0x0a, 0x03));
	aml_free(&a);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, 0);
		assert_int_equal(aml_eisaid(&a, bad[i]), -EINVAL);
		assert_int_equal(a.len, 0);
		aml_free(&a);
	}
}

static void name(const char *path, const uint8_t *want, size_t n)
{
	struct aml a;

	aml_init(&a, 0);
	assert_int_equal(aml_namestring(&a, path), 0);
	expect(&a, want, n);
	aml_free(&a);
}

/* 20.2.2: NameSeg, DualNamePath, MultiNamePath, root and parent prefixes, NullName. */
static void test_names(void **state)
{
	(void)state;
	name("_SB", BYTES('_', 'S', 'B', '_'));
	name("A", BYTES('A', '_', '_', '_'));
	name("\\_SB_.PC00", BYTES(0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', '0', '0'));
	name("\\_SB.PC0.S8", BYTES(0x5c, 0x2f, 0x03, '_', 'S', 'B', '_', 'P', 'C', '0', '_',
				   'S', '8', '_', '_'));
	name("^^COM1", BYTES(0x5e, 0x5e, 'C', 'O', 'M', '1'));
	name("\\", BYTES(0x5c, 0x00));
}

static void test_invalid_names(void **state)
{
	static const char *const bad[] = { "", "ABCDE", "1ABC", "a", "_sb_", "_SB_..PC00", "_SB_.",
					   ".PC00", "\\\\_SB", "^\\_SB", "AB-C", "_SB_/PC00" };
	struct aml a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, 0);
		assert_int_equal(aml_namestring(&a, bad[i]), -EINVAL);
		assert_int_equal(a.len, 0);
		aml_free(&a);

		aml_init(&a, 0);
		assert_int_equal(aml_begin_device(&a, bad[i]), -EINVAL);
		assert_int_equal(a.len, 0);
		/* Sticky: later calls fail the same way and write nothing. */
		assert_int_equal(aml_integer(&a, 5), -EINVAL);
		assert_int_equal(aml_finish(&a), -EINVAL);
		assert_int_equal(a.len, 0);
		aml_free(&a);
	}
}

/* COM1's _CRS: IO(Decode16, 0x3f8, 0x3f8, 1, 8), Interrupt(Consumer, Edge, High, Exclusive){4}. */
static void test_resource_template_com1(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_begin_resource_template(&a);
	aml_res_io(&a, 0x3f8, 0x3f8, 1, 8);
	aml_res_interrupt(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 4);
	aml_end(&a);
	expect(&a, BYTES(0x11, 0x16, 0x0a, 0x13,
			 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
			 0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00,
			 0x79, 0x00));
	aml_free(&a);
}

static void test_address_spaces(void **state)
{
	const struct aml_addr_space bus = {
		.type = AML_SPACE_BUS, .length = 1,
		.flags = AML_ADDR_MIN_FIXED | AML_ADDR_MAX_FIXED,
	};
	const struct aml_addr_space m32 = {
		.type = AML_SPACE_MEMORY, .flags = AML_ADDR_MIN_FIXED | AML_ADDR_MAX_FIXED,
		.type_flags = AML_MEM_RW,
		.min = 0xc0000000, .max = 0xe7ffffff, .length = 0x28000000,
	};
	const struct aml_addr_space too_big = { .type = AML_SPACE_IO, .max = 0x10000 };
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_begin_resource_template(&a);
	aml_res_word_space(&a, &bus);
	aml_res_dword_space(&a, &m32);
	aml_res_memory32_fixed(&a, true, 0xe8000000, 0x100000);
	aml_end(&a);
	expect(&a, BYTES(0x11, 0x3b, 0x0a, 0x38,
			 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
			 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
			 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
			 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xe7,
			 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x28,
			 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x10, 0x00,
			 0x79, 0x00));
	aml_free(&a);

	aml_init(&a, 0);
	aml_begin_resource_template(&a);
	aml_res_qword_space(&a, &m32);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 0);
	assert_int_equal(a.len, 4 + 46 + 2);
	same(a.buf + 4, BYTES(0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01));
	aml_free(&a);

	aml_init(&a, 0);
	aml_begin_resource_template(&a);
	assert_int_equal(aml_res_word_space(&a, &too_big), -EINVAL);
	aml_free(&a);
}

/* Scope(\_SB_) { Device(COM1) { Name(_UID, Zero) } } */
static void test_device_in_scope(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_begin_scope(&a, "\\_SB_");
	aml_begin_device(&a, "COM1");
	aml_name_integer(&a, "_UID", 0);
	aml_end(&a);
	aml_end(&a);
	expect(&a, BYTES(0x10, 0x13, 0x5c, '_', 'S', 'B', '_',
			 0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1',
			 0x08, '_', 'U', 'I', 'D', 0x00));
	aml_free(&a);
}

/* Name(\_S5_, Package(){5, 5, 0, Package(){1}}): nested packages count as one element. */
static void test_package(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_name(&a, "\\_S5_");
	aml_begin_package(&a);
	aml_integer(&a, 5);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_begin_package(&a);
	aml_integer(&a, 1);
	aml_end(&a);
	aml_end(&a);
	expect(&a, BYTES(0x08, 0x5c, '_', 'S', '5', '_',
			 0x12, 0x0b, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00,
			 0x12, 0x03, 0x01, 0x01));
	aml_free(&a);

	aml_init(&a, 0);
	aml_begin_package(&a);
	for (int i = 0; i < 255; i++)
		aml_integer(&a, 0);
	assert_int_equal(aml_integer(&a, 0), -E2BIG);
	aml_free(&a);
}

/* The GED shape: Method(_EVT, 1, Serialized) { If (LEqual(Arg0, 0x80)) { Notify(PWRB, 0x80) } } */
static void test_method_if_notify(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	aml_begin_method(&a, "_EVT", 1, true);
	aml_begin_if(&a);
	aml_op(&a, AML_OP_LEQUAL);
	aml_op(&a, AML_OP_ARG0);
	aml_integer(&a, 0x80);
	aml_notify(&a, "\\_SB_.PWRB", 0x80);
	aml_end(&a);
	aml_begin_else(&a);
	aml_op(&a, AML_OP_RETURN);
	aml_integer(&a, 1);
	aml_end(&a);
	aml_end(&a);
	expect(&a, BYTES(0x14, 0x1d, '_', 'E', 'V', 'T', 0x09,
			 0xa0, 0x12, 0x93, 0x68, 0x0a, 0x80,
			 0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', 0x0a, 0x80,
			 0xa1, 0x03, 0xa4, 0x01));
	aml_free(&a);

	aml_init(&a, 0);
	assert_int_equal(aml_begin_method(&a, "_EVT", 8, false), -EINVAL);
	aml_free(&a);
}

static void test_misuse(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 0);
	assert_int_equal(aml_end(&a), -EINVAL);
	aml_free(&a);

	aml_init(&a, 0);
	aml_begin_device(&a, "\\_SB_.DEV0");
	assert_int_equal(aml_finish(&a), -EINVAL);     /* still open */
	assert_int_equal(aml_res_io(&a, 0x60, 0x60, 1, 1), -EINVAL);
	aml_free(&a);

	aml_init(&a, 0);
	for (int i = 0; i < AML_MAX_DEPTH; i++)
		assert_int_equal(aml_begin_package(&a), 0);
	assert_int_equal(aml_begin_package(&a), -E2BIG);
	aml_free(&a);

	aml_init(&a, 0);
	aml_begin_resource_template(&a);
	assert_int_equal(aml_res_interrupt(&a, 0x20, 4), -EINVAL);
	aml_free(&a);
}

/* The size limit holds and nothing is written past it. */
static void test_limit(void **state)
{
	struct aml a;

	(void)state;
	aml_init(&a, 6);
	assert_int_equal(aml_integer(&a, 0xffffffff), 0);
	assert_int_equal(aml_integer(&a, 0xff), -ENOSPC);
	assert_int_equal(a.len, 5);
	assert_int_equal(aml_integer(&a, 0), -ENOSPC);    /* sticky although it would fit */
	aml_free(&a);

	/* The PkgLength inserted at the end must fit as well. */
	aml_init(&a, 5);
	assert_int_equal(aml_begin_scope(&a, "ABCD"), 0);
	assert_int_equal(aml_end(&a), -ENOSPC);
	aml_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkglength_values),
		cmocka_unit_test(test_pkglength_backpatch),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_eisaid),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_resource_template_com1),
		cmocka_unit_test(test_address_spaces),
		cmocka_unit_test(test_device_in_scope),
		cmocka_unit_test(test_package),
		cmocka_unit_test(test_method_if_notify),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
