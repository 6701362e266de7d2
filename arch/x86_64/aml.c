// SPDX-License-Identifier: Apache-2.0
/*
 * AML writer (ACPI 6.5 chapter 20). Bodies are written first and their PkgLength inserted in
 * front by aml_end(): the length is only known then and takes 1-4 bytes, so the body moves. The
 * tables vireo builds are a few KiB, so the memmove costs nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/aml_internal.h"

/* Opcodes with a prefix or a PkgLength (20.2.5). */
#define AML_NAME_OP       0x08
#define AML_BYTE_PREFIX   0x0a
#define AML_WORD_PREFIX   0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP      0x10
#define AML_BUFFER_OP     0x11
#define AML_PACKAGE_OP    0x12
#define AML_METHOD_OP     0x14
#define AML_DUAL_NAME     0x2e
#define AML_MULTI_NAME    0x2f
#define AML_EXT_OP        0x5b
#define AML_DEVICE_OP     0x82  /* after AML_EXT_OP */
#define AML_ROOT_CHAR     '\\'
#define AML_PARENT_CHAR   '^'
#define AML_IF_OP         0xa0
#define AML_ELSE_OP       0xa1

/* The End Tag that closes a ResourceTemplate (6.4.2.9); the others are in aml_res.c. */
#define RES_END_TAG       0x79  /* small item: tag 0x0f, length 1 */


void aml_init(struct aml *a, size_t max)
{
	memset(a, 0, sizeof(*a));
	a->max = (max && max < AML_MAX_LEN) ? max : AML_MAX_LEN;
}

void aml_free(struct aml *a)
{
	free(a->buf);
	a->buf = NULL;
	a->len = a->cap = 0;
}

int aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	return a->depth ? -EINVAL : 0;
}

/* Records the first error; every later call returns it. */
int aml_record_error(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
	return a->err;
}

/* Appends @n bytes and returns where they go, or NULL with the error recorded. */
static uint8_t *grow(struct aml *a, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (a->err)
		return NULL;
	if (n > a->max - a->len) {
		aml_record_error(a, -ENOSPC);
		return NULL;
	}
	if (a->len + n > a->cap) {
		for (cap = a->cap ? a->cap : 256; cap < a->len + n; cap *= 2)
			;
		p = realloc(a->buf, cap);
		if (!p) {
			aml_record_error(a, -ENOMEM);
			return NULL;
		}
		a->buf = p;
		a->cap = cap;
	}
	p = a->buf + a->len;
	a->len += n;
	return p;
}

int aml_put(struct aml *a, const void *data, size_t n)
{
	uint8_t *p;

	if (!n)
		return a->err;
	p = grow(a, n);
	if (!p)
		return a->err;
	memcpy(p, data, n);
	return 0;
}

static int put_byte(struct aml *a, uint8_t b)
{
	return aml_put(a, &b, 1);
}

void aml_le_store(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Inserts @n bytes at offset @at, moving what follows. */
static int insert(struct aml *a, size_t at, const uint8_t *data, size_t n)
{
	size_t tail = a->len - at;

	if (!n)
		return 0;
	if (!grow(a, n))
		return a->err;
	memmove(a->buf + at + n, a->buf + at, tail);
	memcpy(a->buf + at, data, n);
	return 0;
}

/*
 * Every public emitter starts here: fail fast on a recorded error, and count one element when
 * writing straight into a Package (NumElements is a byte, 20.2.5.4).
 */
static int start(struct aml *a)
{
	struct aml_frame *f;

	if (a->err)
		return a->err;
	if (!a->depth)
		return 0;
	f = &a->frames[a->depth - 1];
	if (f->kind != FRAME_PACKAGE)
		return 0;
	if (f->count == 255)
		return aml_record_error(a, -E2BIG);
	f->count++;
	return 0;
}

int aml_pkglength_encode(uint32_t len, uint8_t out[4])
{
	int n;

	if (len <= 0x3f) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len > AML_MAX_LEN)
		return -ERANGE;
	n = len <= 0xfff ? 2 : len <= 0xfffff ? 3 : 4;
	/* Lead byte: bits 7:6 = following byte count, bits 3:0 = low nibble. */
	out[0] = (uint8_t)(((n - 1) << 6) | (len & 0xf));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

/* Inserts the PkgLength of everything from @at on; it counts its own 1-4 bytes. */
static int insert_pkglength(struct aml *a, size_t at)
{
	static const uint32_t limit[] = { 0x3f, 0xfff, 0xfffff, AML_MAX_LEN };
	size_t body = a->len - at;
	uint8_t enc[4];
	int n;

	for (n = 1; n <= 4 && body + n > limit[n - 1]; n++)
		;
	if (n > 4)
		return aml_record_error(a, -ENOSPC);
	aml_pkglength_encode((uint32_t)(body + n), enc);
	return insert(a, at, enc, n);
}

/* Integer encodings (20.2.3): ZeroOp, OneOp or the smallest prefixed constant. */
static size_t encode_integer(uint64_t v, uint8_t out[9])
{
	unsigned n;

	if (v <= 1) {
		out[0] = (uint8_t)v;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	aml_le_store(out + 1, v, n);
	return n + 1;
}

static int put_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[9];

	return aml_put(a, enc, encode_integer(v, enc));
}

int aml_integer(struct aml *a, uint64_t v)
{
	int r = start(a);

	return r ? r : put_integer(a, v);
}

/* String := StringPrefix AsciiCharList NullChar (20.2.3) */
static int put_string(struct aml *a, const char *s)
{
	int r;

	for (const char *c = s; *c; c++)
		if ((unsigned char)*c > 0x7f)
			return aml_record_error(a, -EINVAL);
	if ((r = put_byte(a, AML_STRING_PREFIX)))
		return r;
	return aml_put(a, s, strlen(s) + 1);
}

int aml_string(struct aml *a, const char *s)
{
	int r = start(a);

	return r ? r : put_string(a, s);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * EISA ID (ASL EisaId macro): three letters of 5 bits (c - 0x40) packed big-endian in a u16,
 * then four hex digits as two bytes; always a DWord constant, as iasl emits it.
 */
static int put_eisaid(struct aml *a, const char *id)
{
	uint8_t enc[5] = { AML_DWORD_PREFIX };
	uint16_t vendor = 0;

	if (strlen(id) != 7)
		return aml_record_error(a, -EINVAL);
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return aml_record_error(a, -EINVAL);
		vendor = (uint16_t)(vendor << 5 | (id[i] - 0x40));
	}
	enc[1] = vendor >> 8;
	enc[2] = vendor & 0xff;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(id[3 + i]);

		if (d < 0)
			return aml_record_error(a, -EINVAL);
		enc[3 + i / 2] |= (uint8_t)(i % 2 ? d : d << 4);
	}
	return aml_put(a, enc, sizeof(enc));
}

int aml_eisaid(struct aml *a, const char *id)
{
	int r = start(a);

	return r ? r : put_eisaid(a, id);
}

static bool lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return lead_char(c) || (c >= '0' && c <= '9');
}

/*
 * Checks @path (20.2.2: an optional '\' or run of '^', then NameSegs of 1-4 characters split by
 * '.') and counts its prefix characters and segments. A bare prefix means NullName.
 */
static int parse_name(const char *path, size_t *nprefix, size_t *nseg)
{
	const char *p = path;
	size_t len;

	if (*p == AML_ROOT_CHAR)
		p++;
	else
		while (*p == AML_PARENT_CHAR)
			p++;
	*nprefix = (size_t)(p - path);
	*nseg = 0;
	if (!*p)
		return *nprefix ? 0 : -EINVAL;
	for (;;) {
		if (!lead_char(*p))
			return -EINVAL;
		for (len = 0; name_char(*p); p++)
			len++;
		if (len > 4 || ++*nseg > 255)
			return -EINVAL;
		if (!*p)
			return 0;
		if (*p++ != '.')
			return -EINVAL;
	}
}

/* Writes a checked @path: prefix, then NullName, a NameSeg, DualNamePath or MultiNamePath. */
static int put_name(struct aml *a, const char *path)
{
	size_t nprefix, nseg, i;
	const char *p = path;
	uint8_t *out;
	int r;

	if (parse_name(path, &nprefix, &nseg))
		return aml_record_error(a, -EINVAL);
	if ((r = aml_put(a, path, nprefix)))
		return r;
	p += nprefix;
	if (nseg == 0)
		return put_byte(a, 0);
	if (nseg == 2)
		r = put_byte(a, AML_DUAL_NAME);
	else if (nseg > 2 && !(r = put_byte(a, AML_MULTI_NAME)))
		r = put_byte(a, (uint8_t)nseg);
	if (r || !(out = grow(a, 4 * nseg)))
		return a->err;
	memset(out, '_', 4 * nseg);
	for (i = 0; *p; p++) {
		if (*p != '.') {
			out[i++] = (uint8_t)*p;
			continue;
		}
		out += 4;
		i = 0;
	}
	return 0;
}

int aml_namestring(struct aml *a, const char *path)
{
	int r = start(a);

	return r ? r : put_name(a, path);
}

int aml_op(struct aml *a, uint8_t op)
{
	int r = start(a);

	return r ? r : put_byte(a, op);
}

int aml_bytes(struct aml *a, const void *data, size_t len)
{
	return a->err ? a->err : aml_put(a, data, len);
}

int aml_name(struct aml *a, const char *name)
{
	int r = start(a);

	if (r || (r = put_byte(a, AML_NAME_OP)))
		return r;
	return put_name(a, name);
}

int aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	int r = aml_name(a, name);

	return r ? r : put_integer(a, v);
}

int aml_name_string(struct aml *a, const char *name, const char *s)
{
	int r = aml_name(a, name);

	return r ? r : put_string(a, s);
}

int aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	int r = aml_name(a, name);

	return r ? r : put_eisaid(a, id);
}

/* DefNotify := NotifyOp NotifyObject NotifyValue (20.2.5.3) */
int aml_notify(struct aml *a, const char *path, uint64_t value)
{
	int r = aml_op(a, AML_OP_NOTIFY);

	if (r || (r = put_name(a, path)))
		return r;
	return put_integer(a, value);
}

/* Writes @op (1-2 bytes) and opens a frame whose body starts right after it. */
static int begin(struct aml *a, const uint8_t *op, size_t oplen, enum frame_kind kind)
{
	int r = start(a);

	if (r)
		return r;
	if (a->depth == AML_MAX_DEPTH)
		return aml_record_error(a, -E2BIG);
	if ((r = aml_put(a, op, oplen)))
		return r;
	a->frames[a->depth++] = (struct aml_frame){ .start = a->len, .kind = kind };
	return 0;
}

/* An opcode, then (inside the PkgLength) a name; the name is checked first. */
static int begin_named(struct aml *a, const uint8_t *op, size_t oplen, const char *path)
{
	size_t nprefix, nseg;
	int r;

	if (!a->err && parse_name(path, &nprefix, &nseg))
		return aml_record_error(a, -EINVAL);
	if ((r = begin(a, op, oplen, FRAME_PLAIN)))
		return r;
	return put_name(a, path);
}

/* DefScope := ScopeOp PkgLength NameString TermList (20.2.5.1) */
int aml_begin_scope(struct aml *a, const char *path)
{
	return begin_named(a, (const uint8_t[]){ AML_SCOPE_OP }, 1, path);
}

/* DefDevice := DeviceOp PkgLength NameString TermList (20.2.5.2) */
int aml_begin_device(struct aml *a, const char *path)
{
	return begin_named(a, (const uint8_t[]){ AML_EXT_OP, AML_DEVICE_OP }, 2, path);
}

/*
 * DefMethod := MethodOp PkgLength NameString MethodFlags TermList (20.2.5.2);
 * MethodFlags: bits 2:0 argument count, bit 3 serialized, bits 7:4 sync level (0).
 */
int aml_begin_method(struct aml *a, const char *name, unsigned argc, bool serialized)
{
	int r;

	if (argc > 7)
		return aml_record_error(a, -EINVAL);
	if ((r = begin_named(a, (const uint8_t[]){ AML_METHOD_OP }, 1, name)))
		return r;
	return put_byte(a, (uint8_t)(argc | (serialized ? 1u << 3 : 0)));
}

/* DefIfElse := IfOp PkgLength Predicate TermList DefElse; DefElse := ElseOp PkgLength TermList */
int aml_begin_if(struct aml *a)
{
	return begin(a, (const uint8_t[]){ AML_IF_OP }, 1, FRAME_PLAIN);
}

int aml_begin_else(struct aml *a)
{
	return begin(a, (const uint8_t[]){ AML_ELSE_OP }, 1, FRAME_PLAIN);
}

/* DefPackage := PackageOp PkgLength NumElements PackageElementList (20.2.5.4) */
int aml_begin_package(struct aml *a)
{
	return begin(a, (const uint8_t[]){ AML_PACKAGE_OP }, 1, FRAME_PACKAGE);
}

/* DefBuffer := BufferOp PkgLength BufferSize ByteList (20.2.5.4); ASL ResourceTemplate is one */
int aml_begin_buffer(struct aml *a)
{
	return begin(a, (const uint8_t[]){ AML_BUFFER_OP }, 1, FRAME_BUFFER);
}

int aml_begin_resource_template(struct aml *a)
{
	return begin(a, (const uint8_t[]){ AML_BUFFER_OP }, 1, FRAME_RESOURCE);
}

int aml_end(struct aml *a)
{
	static const uint8_t end_tag[] = { RES_END_TAG, 0 };  /* checksum 0: none (6.4.2.9) */
	struct aml_frame *f;
	uint8_t pre[9];
	size_t npre = 0;
	int r;

	if (a->err)
		return a->err;
	if (!a->depth)
		return aml_record_error(a, -EINVAL);
	f = &a->frames[a->depth - 1];
	if (f->kind == FRAME_RESOURCE && (r = aml_put(a, end_tag, sizeof(end_tag))))
		return r;
	if (f->kind == FRAME_PACKAGE) {
		pre[npre++] = (uint8_t)f->count;
	} else if (f->kind != FRAME_PLAIN) {
		npre = encode_integer(a->len - f->start, pre);
	}
	if ((r = insert(a, f->start, pre, npre)) || (r = insert_pkglength(a, f->start)))
		return r;
	a->depth--;
	return 0;
}

/* ------------------------------------------------------------------ regions, fields, mutexes */

/* OperationRegion and Field (20.2.5.2): ExtOpPrefix 0x5b, then these. */
#define AML_MUTEX_OP         0x01
#define AML_ACQUIRE_OP       0x23
#define AML_RELEASE_OP       0x27
#define AML_OPREGION_OP      0x80
#define AML_FIELD_OP         0x81
#define AML_SYSTEM_MEMORY    0x00
#define AML_FIELD_DWORD_ACC  0x03   /* AccessType DWordAcc, NoLock, Preserve (19.6.48) */

static void ext_op(struct aml *a, uint8_t op)
{
	aml_op(a, AML_EXT_OP);
	aml_bytes(a, &op, 1);
}

int aml_opregion_memory(struct aml *a, const char *name, uint32_t base, uint32_t len)
{
	static const uint8_t space = AML_SYSTEM_MEMORY;

	ext_op(a, AML_OPREGION_OP);
	aml_namestring(a, name);
	aml_bytes(a, &space, 1);
	aml_integer(a, base);
	return aml_integer(a, len);
}

int aml_field_dwords(struct aml *a, const char region[4], const char *const *fields,
		     unsigned n)
{
	uint8_t body[5 + 5 * 16], pkg[4];
	size_t len = 5;
	int plen;

	if (!n || n > 16)
		return aml_record_error(a, -EINVAL);
	memcpy(body, region, 4);
	body[4] = AML_FIELD_DWORD_ACC;
	for (unsigned i = 0; i < n; i++, len += 5) {
		if (strlen(fields[i]) != 4)
			return aml_record_error(a, -EINVAL);
		memcpy(body + len, fields[i], 4);
		body[len + 4] = 32;                  /* the field's PkgLength: 32 bits */
	}
	/* The PkgLength counts itself: one byte up to 0x3f, two beyond (20.2.4). */
	plen = aml_pkglength_encode((uint32_t)(len + (len + 1 <= 0x3f ? 1 : 2)), pkg);
	ext_op(a, AML_FIELD_OP);
	aml_bytes(a, pkg, (size_t)plen);
	return aml_bytes(a, body, len);
}

int aml_mutex(struct aml *a, const char *name)
{
	static const uint8_t sync = 0;

	ext_op(a, AML_MUTEX_OP);
	aml_namestring(a, name);
	return aml_bytes(a, &sync, 1);
}

int aml_acquire(struct aml *a, const char *name)
{
	static const uint8_t forever[2] = { 0xff, 0xff };   /* Timeout WordData 0xffff */

	ext_op(a, AML_ACQUIRE_OP);
	aml_namestring(a, name);
	return aml_bytes(a, forever, 2);
}

int aml_release(struct aml *a, const char *name)
{
	ext_op(a, AML_RELEASE_OP);
	return aml_namestring(a, name);
}
