// SPDX-License-Identifier: Apache-2.0
/*
 * aarch64 vCPU state <-> JSON (the x86 one is vcpu_json.c):
 *   {"id": N, "mp_state": N, "regs": {"0x<KVM register id>": VALUE, ...}}
 * in KVM_GET_REG_LIST's order. VALUE is "0x..." for registers of up to 64 bits and base64 of
 * the 16 bytes for the 128-bit ones (the FP/SIMD V registers). Every id is checked (arm64,
 * at most 128 bits, no duplicates) and every value against its register's width; whether KVM
 * knows the register is for KVM_SET_ONE_REG to say on restore.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "snapshot/internal.h"

#define MAX_MP_STATE 10          /* KVM_MP_STATE_SUSPENDED */

static const char *const vcpu_keys[] = { "id", "mp_state", "regs", NULL };

static size_t reg_bytes(uint64_t id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

cJSON *snap_vcpu_to_json(const struct snap_vcpu *v)
{
	cJSON *o = cJSON_CreateObject(), *regs = cJSON_AddObjectToObject(o, "regs");
	int ret = regs ? 0 : -ENOMEM;
	char key[24];

	if (!cJSON_AddNumberToObject(o, "id", v->id) ||
	    !cJSON_AddNumberToObject(o, "mp_state", v->mp_state.mp_state))
		ret = -ENOMEM;
	for (unsigned i = 0; !ret && i < v->nr_regs; i++) {
		const struct snap_reg *r = &v->regs[i];

		snprintf(key, sizeof(key), "0x%llx", (unsigned long long)r->id);
		ret = reg_bytes(r->id) > 8 ? snap_put_blob(regs, key, r->val, sizeof(r->val))
					   : json_put_u64(regs, key, r->val[0]);
	}
	if (ret) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* One "0xID": VALUE entry of "regs" into @r. */
static int get_reg(const cJSON *regs, const cJSON *item, struct snap_reg *r, struct snap_ctx *c)
{
	const char *key = item->string;
	size_t bytes;
	char why[96];

	if (json_parse_u64(key, &r->id))
		return snap_fail(c, NULL, "\"%.24s\": not a \"0x...\" register id", key);
	if (cJSON_GetObjectItemCaseSensitive(regs, key) != item)
		return snap_fail(c, key, "duplicate register");
	if (snap_reg_check(r->id, why, sizeof(why)))
		return snap_fail(c, key, "%s", why);
	bytes = reg_bytes(r->id);
	if (bytes > 8)
		return snap_get_blob(regs, key, r->val, sizeof(r->val), c);
	if (snap_get_hex(regs, key, &r->val[0], c))
		return -EINVAL;
	if (bytes < 8 && r->val[0] >> (bytes * 8))
		return snap_fail(c, key, "0x%llx is wider than the register's %zu bytes",
				 (unsigned long long)r->val[0], bytes);
	return 0;
}

static int get_regs(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	int n, ret = 0;
	const cJSON *regs = snap_get_counted(o, "regs", false, SNAP_ARM64_MAX_REGS, "registers",
					     &n, c), *item;
	size_t mark;

	if (!regs)
		return -EINVAL;
	v->regs = calloc((size_t)n, sizeof(*v->regs));
	if (!v->regs)
		return -ENOMEM;
	mark = snap_ctx_push(c, "regs", 0);
	cJSON_ArrayForEach(item, regs) {
		ret = get_reg(regs, item, &v->regs[v->nr_regs], c);
		if (ret)
			break;
		v->nr_regs++;
	}
	snap_ctx_pop(c, mark);
	return ret;
}

/* The object itself, its keys, "id" and "mp_state". */
static int get_head(const cJSON *o, struct snap_vcpu *v, struct snap_ctx *c)
{
	uint64_t id, mp;

	if (!cJSON_IsObject(o))
		return snap_fail(c, NULL, "expected an object");
	if (snap_check_keys(o, vcpu_keys, c) ||
	    snap_get_uint(o, "id", SNAP_MAX_VCPUS - 1, &id, c) ||
	    snap_get_uint(o, "mp_state", MAX_MP_STATE, &mp, c))
		return -EINVAL;
	v->id = (uint32_t)id;
	v->mp_state.mp_state = (uint32_t)mp;
	return 0;
}

int snap_vcpu_from_json(const cJSON *o, const char *where, struct snap_vcpu *v, char *err,
			size_t errlen)
{
	struct snap_ctx c;
	int ret;

	memset(v, 0, sizeof(*v));
	snap_ctx_init(&c, SNAP_STATE_FILE, where, err, errlen);
	ret = get_head(o, v, &c) ?: get_regs(o, v, &c);
	if (ret == -ENOMEM)
		set_err(err, errlen, ret, "out of memory reading %s", SNAP_STATE_FILE);
	if (ret)
		snap_vcpu_free(v);
	return ret;
}
