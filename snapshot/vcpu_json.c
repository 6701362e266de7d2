// SPDX-License-Identifier: Apache-2.0
/*
 * vCPU state <-> JSON. Registers, segments, events and CPUID are named fields (readable,
 * range-checked); the LAPIC page, the FPU and the XSAVE area are hardware layouts kept as
 * base64 of an exact size; MSRs and XCRs are {"0xINDEX": "0xVALUE"} maps.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "snapshot/internal.h"

#define MAX_MSRS        1024
#define MAX_CPUID       256          /* KVM_MAX_CPUID_ENTRIES */
#define MAX_XSAVE_SIZE  (1u << 20)
#define MIN_XSAVE_SIZE  576          /* legacy area + XSAVE header (SDM vol 1 13.4) */
#define MAX_MP_STATE    10           /* KVM_MP_STATE_SUSPENDED */
#define EVENT_FLAGS     0x3f         /* KVM_VCPUEVENT_VALID_* known to this build */

#define R(m) SNAP_F(struct kvm_regs, m)
static const struct snap_field regs_fields[] = {
	R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp),
	R(r8), R(r9), R(r10), R(r11), R(r12), R(r13), R(r14), R(r15), R(rip), R(rflags),
};

#define S(m) SNAP_F(struct kvm_sregs, m)
#define SB(m) SNAP_FMAX(struct kvm_sregs, m, 1)
#define SEG(x) S(x.base), S(x.limit), S(x.selector), SNAP_FMAX(struct kvm_sregs, x.type, 15), \
	SB(x.present), SNAP_FMAX(struct kvm_sregs, x.dpl, 3), SB(x.db), SB(x.s), SB(x.l), \
	SB(x.g), SB(x.avl), SB(x.unusable)
static const struct snap_field sregs_fields[] = {
	SEG(cs), SEG(ds), SEG(es), SEG(fs), SEG(gs), SEG(ss), SEG(tr), SEG(ldt),
	S(gdt.base), S(gdt.limit), S(idt.base), S(idt.limit),
	S(cr0), S(cr2), S(cr3), S(cr4), S(cr8), S(efer), S(apic_base),
	SNAP_FARRAY(struct kvm_sregs, interrupt_bitmap),
};

#define E(m) SNAP_F(struct kvm_vcpu_events, m)
#define EB(m) SNAP_FMAX(struct kvm_vcpu_events, m, 1)
static const struct snap_field events_fields[] = {
	EB(exception.injected), SNAP_FMAX(struct kvm_vcpu_events, exception.nr, 31),
	EB(exception.has_error_code), EB(exception.pending), E(exception.error_code),
	EB(interrupt.injected), E(interrupt.nr), EB(interrupt.soft),
	SNAP_FMAX(struct kvm_vcpu_events, interrupt.shadow, 3),
	EB(nmi.injected), EB(nmi.pending), EB(nmi.masked),
	E(sipi_vector), SNAP_FMAX(struct kvm_vcpu_events, flags, EVENT_FLAGS),
	EB(smi.smm), EB(smi.pending), EB(smi.smm_inside_nmi), EB(smi.latched_init),
	EB(triple_fault.pending), EB(exception_has_payload), E(exception_payload),
};

#define D(m) SNAP_F(struct kvm_debugregs, m)
static const struct snap_field debugregs_fields[] = {
	SNAP_FARRAY(struct kvm_debugregs, db), D(dr6), D(dr7), D(flags),
};

#define C(m) SNAP_F(struct kvm_cpuid_entry2, m)
static const struct snap_field cpuid_fields[] = {
	C(function), C(index), SNAP_FMAX(struct kvm_cpuid_entry2, flags, 7),
	C(eax), C(ebx), C(ecx), C(edx),
};

static const char *const vcpu_keys[] = {
	"id", "mp_state", "regs", "sregs", "fpu", "xsave", "xcrs", "debugregs", "lapic",
	"events", "tsc_khz", "msrs", "cpuid", NULL,
};

/* ------------------------------------------------------------------ to JSON */

static int put_map_entry(cJSON *map, uint32_t index, uint64_t value)
{
	char key[16];

	snprintf(key, sizeof(key), "0x%x", index);
	return json_put_u64(map, key, value);
}

static int put_cpuid(cJSON *obj, const struct kvm_cpuid2 *c)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, "cpuid");
	unsigned i;

	for (i = 0; arr && i < c->nent; i++) {
		cJSON *e = cJSON_CreateObject();

		if (!cJSON_AddItemToArray(arr, e) ||
		    snap_fields_put(e, &c->entries[i], cpuid_fields, SNAP_ARRAY_SIZE(cpuid_fields)))
			return -ENOMEM;
	}
	return arr ? 0 : -ENOMEM;
}

static int put_maps(cJSON *o, const struct snap_vcpu *v)
{
	cJSON *msrs = cJSON_AddObjectToObject(o, "msrs"), *xcrs;
	unsigned i;

	for (i = 0; msrs && i < v->nr_msrs; i++)
		if (put_map_entry(msrs, v->msrs[i].index, v->msrs[i].data))
			return -ENOMEM;
	if (!msrs)
		return -ENOMEM;
	if (!v->has_xcrs)
		return 0;
	xcrs = cJSON_AddObjectToObject(o, "xcrs");
	for (i = 0; xcrs && i < v->xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (put_map_entry(xcrs, v->xcrs.xcrs[i].xcr, v->xcrs.xcrs[i].value))
			return -ENOMEM;
	return xcrs ? 0 : -ENOMEM;
}

cJSON *snap_vcpu_to_json(const struct snap_vcpu *v)
{
	cJSON *o = cJSON_CreateObject();
	int ret = o ? 0 : -ENOMEM;

	if (!ret && (!cJSON_AddNumberToObject(o, "id", v->id) ||
		     !cJSON_AddNumberToObject(o, "mp_state", v->mp_state.mp_state) ||
		     !cJSON_AddNumberToObject(o, "tsc_khz", v->tsc_khz)))
		ret = -ENOMEM;
	ret = ret ?: snap_put_table(o, "regs", &v->regs, regs_fields, SNAP_ARRAY_SIZE(regs_fields));
	ret = ret ?: snap_put_table(o, "sregs", &v->sregs, sregs_fields,
				    SNAP_ARRAY_SIZE(sregs_fields));
	ret = ret ?: snap_put_table(o, "events", &v->events, events_fields,
				    SNAP_ARRAY_SIZE(events_fields));
	if (!ret && v->has_debugregs)
		ret = snap_put_table(o, "debugregs", &v->debugregs, debugregs_fields,
				     SNAP_ARRAY_SIZE(debugregs_fields));
	if (!ret)
		ret = v->xsave_size ? snap_put_blob(o, "xsave", v->xsave, v->xsave_size)
				    : snap_put_blob(o, "fpu", &v->fpu, sizeof(v->fpu));
	ret = ret ?: snap_put_blob(o, "lapic", &v->lapic, sizeof(v->lapic));
	ret = ret ?: put_maps(o, v);
	ret = ret ?: put_cpuid(o, v->cpuid);
	if (ret) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------------ from JSON */

/* {"0xINDEX": "0xVALUE", ...}: indices unique, at most @max entries. */
static int get_map(const cJSON *map, const char *key, unsigned max, uint32_t *idx,
		   uint64_t *val, unsigned *nr, struct snap_ctx *c)
{
	const cJSON *e;
	unsigned n = 0;
	uint64_t index;

	if (cJSON_GetArraySize(map) > (int)max)
		return snap_fail(c, key, "more than %u entries", max);
	cJSON_ArrayForEach(e, map) {
		if (json_parse_u64(e->string, &index) || index > UINT32_MAX)
			return snap_fail(c, key, "key \"%s\" is not a 32-bit \"0x...\" index",
					 e->string);
		if (cJSON_GetObjectItemCaseSensitive(map, e->string) != e)
			return snap_fail(c, key, "duplicate index %s", e->string);
		if (json_parse_u64(cJSON_GetStringValue(e), &val[n]))
			return snap_fail(c, key, "%s: expected a \"0x...\" hex string", e->string);
		idx[n++] = (uint32_t)index;
	}
	*nr = n;
	return 0;
}

static int get_msrs(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	const cJSON *map = snap_get_object(o, "msrs", c);
	uint32_t *idx = calloc(MAX_MSRS, sizeof(*idx));
	uint64_t *val = calloc(MAX_MSRS, sizeof(*val));
	unsigned i, n = 0;
	int ret = -ENOMEM;

	if (map && idx && val && !(ret = get_map(map, "msrs", MAX_MSRS, idx, val, &n, c))) {
		v->msrs = calloc(n ? n : 1, sizeof(*v->msrs));
		for (i = 0; v->msrs && i < n; i++)
			v->msrs[i] = (struct snap_msr){ idx[i], val[i] };
		v->nr_msrs = n;
		ret = v->msrs ? 0 : -ENOMEM;
	} else if (!map) {
		ret = -EINVAL;
	}
	free(idx);
	free(val);
	return ret;
}

static int get_xcrs(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(o, "xcrs");
	uint32_t idx[KVM_MAX_XCRS];
	uint64_t val[KVM_MAX_XCRS];
	unsigned i, n;

	v->has_xcrs = map != NULL;
	if (!map)
		return 0;
	if (!cJSON_IsObject(map))
		return snap_fail(c, "xcrs", "expected an object");
	if (get_map(map, "xcrs", KVM_MAX_XCRS, idx, val, &n, c))
		return -EINVAL;
	v->xcrs.nr_xcrs = n;
	for (i = 0; i < n; i++)
		v->xcrs.xcrs[i] = (struct kvm_xcr){ .xcr = idx[i], .value = val[i] };
	return 0;
}

static int get_cpuid_table(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	int n, i = 0;
	const cJSON *arr = snap_get_counted(o, "cpuid", true, MAX_CPUID, "entries", &n, c), *e;
	size_t mark;

	if (!arr)
		return -EINVAL;
	v->cpuid = calloc(1, sizeof(*v->cpuid) + (size_t)n * sizeof(v->cpuid->entries[0]));
	if (!v->cpuid)
		return -ENOMEM;
	v->cpuid->nent = (uint32_t)n;
	cJSON_ArrayForEach(e, arr) {
		mark = snap_ctx_push(c, "cpuid", 0);
		snap_ctx_push(c, NULL, i);
		if (snap_fields_get(e, &v->cpuid->entries[i], cpuid_fields,
				    SNAP_ARRAY_SIZE(cpuid_fields), NULL, c))
			return -EINVAL;
		snap_ctx_pop(c, mark);
		i++;
	}
	return 0;
}

/* Exactly one of "xsave" (sized by its content) and "fpu". */
static int get_fpu(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	bool has_xsave = cJSON_GetObjectItemCaseSensitive(o, "xsave") != NULL;
	long len;

	if (has_xsave == (cJSON_GetObjectItemCaseSensitive(o, "fpu") != NULL))
		return snap_fail(c, "xsave", "expected exactly one of \"xsave\" and \"fpu\"");
	if (!has_xsave)
		return snap_get_blob(o, "fpu", &v->fpu, sizeof(v->fpu), c);
	len = snap_blob_len(o, "xsave");
	if (len < 0)
		return snap_fail(c, "xsave", "expected a base64 string");
	if (len < MIN_XSAVE_SIZE || len > MAX_XSAVE_SIZE || len % 4)
		return snap_fail(c, "xsave", "%ld bytes, expected a multiple of 4 from %u to %u",
				 len, MIN_XSAVE_SIZE, MAX_XSAVE_SIZE);
	v->xsave = calloc(1, (size_t)len < sizeof(*v->xsave) ? sizeof(*v->xsave) : (size_t)len);
	if (!v->xsave)
		return -ENOMEM;
	v->xsave_size = (uint32_t)len;
	return snap_get_blob(o, "xsave", v->xsave, (size_t)len, c);
}

static int get_scalars(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	uint64_t id, mp, khz;
	int ret;

	ret = snap_get_uint(o, "id", SNAP_MAX_VCPUS - 1, &id, c);
	ret = ret ?: snap_get_uint(o, "mp_state", MAX_MP_STATE, &mp, c);
	ret = ret ?: snap_get_uint(o, "tsc_khz", UINT32_MAX, &khz, c);
	if (ret)
		return ret;
	v->id = (uint32_t)id;
	v->mp_state.mp_state = (uint32_t)mp;
	v->tsc_khz = (uint32_t)khz;
	return 0;
}

int snap_vcpu_from_json(const cJSON *o, const char *where, struct snap_vcpu *v, char *err,
			size_t errlen)
{
	struct snap_ctx c;
	int ret;

	memset(v, 0, sizeof(*v));
	snap_ctx_init(&c, SNAP_STATE_FILE, where, err, errlen);
	if (!cJSON_IsObject(o))
		return snap_fail(&c, NULL, "expected an object");
	ret = snap_check_keys(o, vcpu_keys, &c);
	ret = ret ?: get_scalars(o, v, &c);
	ret = ret ?: snap_get_table(o, "regs", &v->regs, regs_fields,
				    SNAP_ARRAY_SIZE(regs_fields), NULL, &c);
	ret = ret ?: snap_get_table(o, "sregs", &v->sregs, sregs_fields,
				    SNAP_ARRAY_SIZE(sregs_fields),
			       NULL, &c);
	ret = ret ?: snap_get_table(o, "events", &v->events, events_fields,
			       SNAP_ARRAY_SIZE(events_fields), NULL, &c);
	v->has_debugregs = cJSON_GetObjectItemCaseSensitive(o, "debugregs") != NULL;
	if (!ret && v->has_debugregs)
		ret = snap_get_table(o, "debugregs", &v->debugregs, debugregs_fields,
				SNAP_ARRAY_SIZE(debugregs_fields), NULL, &c);
	ret = ret ?: get_fpu(o, v, &c);
	ret = ret ?: snap_get_blob(o, "lapic", &v->lapic, sizeof(v->lapic), &c);
	ret = ret ?: get_xcrs(o, v, &c);
	ret = ret ?: get_msrs(o, v, &c);
	ret = ret ?: get_cpuid_table(o, v, &c);
	if (ret == -ENOMEM)
		set_err(err, errlen, ret, "out of memory reading %s", SNAP_STATE_FILE);
	if (ret)
		snap_vcpu_free(v);
	return ret;
}
