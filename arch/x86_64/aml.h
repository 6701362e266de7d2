/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small AML writer (ACPI 6.5 chapter 20) for the DSDT.
 *
 * Every call appends to a growable byte buffer and returns 0 or -errno. Errors are sticky:
 * after the first failure nothing more is written and every call returns that error, so a
 * builder may emit a run of objects and check once (aml_finish()).
 *
 * Nested objects are opened with aml_begin_*() and closed with aml_end(), which inserts the
 * PkgLength (20.2.4) in front of the body, plus the element count of a Package or the size of a
 * Buffer. Names are ASL-style paths: "\_SB_.PC00", "^COM1", "_HID"; a segment shorter than four
 * characters is padded with '_' ("_SB" is "_SB_").
 *
 * Errors: -EINVAL bad name, argument or misuse (aml_end() with nothing open, a descriptor outside a
 * ResourceTemplate), -E2BIG nesting deeper than AML_MAX_DEPTH or a Package of more than 255
 * elements, -ENOSPC beyond the size limit, -ENOMEM.
 */
#ifndef VIREO_ARCH_X86_64_AML_H
#define VIREO_ARCH_X86_64_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16
#define AML_MAX_LEN   0x0fffffffu  /* largest PkgLength (20.2.4) */

/* One-byte opcodes for aml_op() (20.2.5-20.2.6). */
enum {
	AML_OP_ZERO    = 0x00,
	AML_OP_ONE     = 0x01,
	AML_OP_ONES    = 0xff,
	AML_OP_LOCAL0  = 0x60,     /* Local0-7 are 0x60-0x67 */
	AML_OP_ARG0    = 0x68,     /* Arg0-6 are 0x68-0x6e */
	AML_OP_STORE   = 0x70,     /* Store(src, dst) */
	AML_OP_AND     = 0x7b,     /* And(a, b, target) */
	AML_OP_OR      = 0x7d,     /* Or(a, b, target) */
	AML_OP_NOTIFY  = 0x86,     /* Notify(object, value) */
	AML_OP_LAND    = 0x90,
	AML_OP_LNOT    = 0x92,
	AML_OP_LEQUAL  = 0x93,     /* LEqual(a, b) */
	AML_OP_RETURN  = 0xa4,     /* Return(value) */
};

/* Extended Interrupt descriptor flags (6.4.3.6). */
enum {
	AML_IRQ_CONSUMER   = 1 << 0,
	AML_IRQ_EDGE       = 1 << 1,
	AML_IRQ_ACTIVE_LOW = 1 << 2,
	AML_IRQ_SHARED     = 1 << 3,
	AML_IRQ_WAKE       = 1 << 4,
};

/* Address space descriptor resource types and general flags (6.4.3.5). */
enum {
	AML_SPACE_MEMORY = 0,
	AML_SPACE_IO     = 1,
	AML_SPACE_BUS    = 2,
};
enum {
	AML_ADDR_CONSUMER   = 1 << 0,  /* clear: the device produces (decodes) the range */
	AML_ADDR_SUB_DECODE = 1 << 1,
	AML_ADDR_MIN_FIXED  = 1 << 2,
	AML_ADDR_MAX_FIXED  = 1 << 3,
};
/* Memory type-specific flags (6.4.3.5.5): bit 0 read-write, bits 2:1 cacheability. */
enum {
	AML_MEM_RW            = 1 << 0,
	AML_MEM_CACHEABLE     = 1 << 1,
	AML_MEM_WRITE_COMBINE = 2 << 1,
	AML_MEM_PREFETCHABLE  = 3 << 1,
};

/* A Word/DWord/QWord Address Space descriptor; every value must fit the width. */
struct aml_addr_space {
	uint8_t type;            /* AML_SPACE_* */
	uint8_t flags;           /* AML_ADDR_* */
	uint8_t type_flags;      /* AML_MEM_* for memory, 0 for bus numbers */
	uint64_t granularity;
	uint64_t min, max;
	uint64_t translation;
	uint64_t length;
};

struct aml_frame {
	size_t start;            /* offset of the first body byte */
	uint8_t kind;
	unsigned count;          /* Package elements so far */
};

/* Read buf[0..len) when done; the rest is private. */
struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap, max;
	int err;
	unsigned depth;
	struct aml_frame frames[AML_MAX_DEPTH];
};

/* @max bounds the output (-ENOSPC past it); 0 or anything larger means AML_MAX_LEN. */
void aml_init(struct aml *a, size_t max);
void aml_free(struct aml *a);
/* 0 if every call succeeded and every aml_begin_*() was ended, else the error (-EINVAL if open). */
int aml_finish(const struct aml *a);

/* Encodes PkgLength value @len (which counts the encoding itself); returns 1-4 bytes or -ERANGE. */
int aml_pkglength_encode(uint32_t len, uint8_t out[4]);

/* Data and names. Each is one element when written straight into a Package. */
int aml_integer(struct aml *a, uint64_t v);          /* Zero, One or smallest Byte..QWord */
int aml_string(struct aml *a, const char *s);        /* ASCII 0x01-0x7f */
int aml_eisaid(struct aml *a, const char *id);       /* "PNP0A08": DWord 0x080ad041 */
int aml_namestring(struct aml *a, const char *path);
int aml_op(struct aml *a, uint8_t op);               /* AML_OP_*; operands follow as calls */
int aml_bytes(struct aml *a, const void *data, size_t len);  /* raw, e.g. a Buffer's contents */

/* Name(@name, <the next object>) and shorthands for the common values. */
int aml_name(struct aml *a, const char *name);
int aml_name_integer(struct aml *a, const char *name, uint64_t v);
int aml_name_string(struct aml *a, const char *name, const char *s);
int aml_name_eisaid(struct aml *a, const char *name, const char *id);
/* Notify(@path, @value) */
int aml_notify(struct aml *a, const char *path, uint64_t value);

/* OperationRegion(@name, SystemMemory, @base, @len) */
int aml_opregion_memory(struct aml *a, const char *name, uint32_t base, uint32_t len);
/* Field(@region, DWordAcc, NoLock, Preserve) { @fields[0], 32, ... }: 4-char names, n <= 16 */
int aml_field_dwords(struct aml *a, const char region[4], const char *const *fields,
		     unsigned n);
/* Mutex(@name, 0), Acquire(@name, 0xffff), Release(@name) */
int aml_mutex(struct aml *a, const char *name);
int aml_acquire(struct aml *a, const char *name);
int aml_release(struct aml *a, const char *name);

/* Nested objects, each closed by aml_end(). */
int aml_begin_scope(struct aml *a, const char *path);
int aml_begin_device(struct aml *a, const char *path);
int aml_begin_method(struct aml *a, const char *name, unsigned argc, bool serialized);
int aml_begin_if(struct aml *a);                     /* the predicate is the next object */
int aml_begin_else(struct aml *a);                   /* right after an If's aml_end() */
int aml_begin_package(struct aml *a);
int aml_begin_buffer(struct aml *a);
int aml_begin_resource_template(struct aml *a);      /* a Buffer ended by an End Tag */
int aml_end(struct aml *a);

/* Resource descriptors (6.4), only inside aml_begin_resource_template(). */
int aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
int aml_res_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len);
int aml_res_interrupt(struct aml *a, unsigned flags, uint32_t gsi);
int aml_res_word_space(struct aml *a, const struct aml_addr_space *s);
int aml_res_dword_space(struct aml *a, const struct aml_addr_space *s);
int aml_res_qword_space(struct aml *a, const struct aml_addr_space *s);

#endif
