// SPDX-License-Identifier: Apache-2.0
/* AML resource descriptors (ACPI 6.5 6.4), written inside a ResourceTemplate (aml.c). */
#include <errno.h>

#include "arch/x86_64/aml_internal.h"

/* First bytes of the descriptors: small items (6.4.2) and large items (6.4.3). */
#define RES_IO            0x47  /* small item: tag 0x08, length 7 */
#define RES_MEMORY32_FIXED 0x86
#define RES_DWORD_SPACE   0x87
#define RES_WORD_SPACE    0x88
#define RES_EXT_IRQ       0x89
#define RES_QWORD_SPACE   0x8a

/* Appends a descriptor; only valid straight inside a ResourceTemplate. */
static int put_res(struct aml *a, const uint8_t *d, size_t n)
{
	if (a->err)
		return a->err;
	if (!a->depth || a->frames[a->depth - 1].kind != FRAME_RESOURCE)
		return aml_record_error(a, -EINVAL);
	return aml_put(a, d, n);
}

/* I/O Port Descriptor (6.4.2.5), 16-bit decode. */
int aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { RES_IO, 1 };

	aml_le_store(d + 2, min, 2);
	aml_le_store(d + 4, max, 2);
	d[6] = align;
	d[7] = len;
	return put_res(a, d, sizeof(d));
}

/* 32-bit Fixed Memory Range Descriptor (6.4.3.4). */
int aml_res_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { RES_MEMORY32_FIXED, 9, 0, writable };

	aml_le_store(d + 4, base, 4);
	aml_le_store(d + 8, len, 4);
	return put_res(a, d, sizeof(d));
}

/* Extended Interrupt Descriptor (6.4.3.6) with one interrupt number. */
int aml_res_interrupt(struct aml *a, unsigned flags, uint32_t gsi)
{
	uint8_t d[9] = { RES_EXT_IRQ, 6, 0, (uint8_t)flags, 1 };

	if (flags > 0x1f)
		return aml_record_error(a, -EINVAL);
	aml_le_store(d + 5, gsi, 4);
	return put_res(a, d, sizeof(d));
}

/*
 * Word/DWord/QWord Address Space Descriptors (6.4.3.5.1-3): tag, length, type, general flags,
 * type flags, then granularity, min, max, translation and length, each @width bytes.
 */
static int res_space(struct aml *a, uint8_t tag, unsigned width, const struct aml_addr_space *s)
{
	const uint64_t v[5] = { s->granularity, s->min, s->max, s->translation, s->length };
	uint8_t d[6 + 5 * 8] = { tag, (uint8_t)(3 + 5 * width), 0,
				 s->type, s->flags, s->type_flags };

	for (int i = 0; i < 5; i++) {
		if (width < 8 && v[i] >> (8 * width))
			return aml_record_error(a, -EINVAL);
		aml_le_store(d + 6 + i * width, v[i], width);
	}
	return put_res(a, d, 6 + 5 * width);
}

int aml_res_word_space(struct aml *a, const struct aml_addr_space *s)
{
	return res_space(a, RES_WORD_SPACE, 2, s);
}

int aml_res_dword_space(struct aml *a, const struct aml_addr_space *s)
{
	return res_space(a, RES_DWORD_SPACE, 4, s);
}

int aml_res_qword_space(struct aml *a, const struct aml_addr_space *s)
{
	return res_space(a, RES_QWORD_SPACE, 8, s);
}
