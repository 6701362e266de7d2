/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the AML writer (aml.c, aml_res.c). */
#ifndef VIREO_ARCH_X86_64_AML_INTERNAL_H
#define VIREO_ARCH_X86_64_AML_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/aml.h"

enum frame_kind { FRAME_PLAIN, FRAME_PACKAGE, FRAME_BUFFER, FRAME_RESOURCE };

/* Records the first error; every later call returns it. */
int aml_record_error(struct aml *a, int err);
/* Appends @n bytes: 0 or the recorded error. */
int aml_put(struct aml *a, const void *data, size_t n);
/* @v as @n little-endian bytes at @p. */
void aml_le_store(uint8_t *p, uint64_t v, unsigned n);

#endif
