// SPDX-License-Identifier: Apache-2.0
/*
 * The aarch64 vGIC state (arch/aarch64/gic_state.c) <-> JSON:
 *   {"regs": [["0x<group>", "0x<attr>", "0x<value>"], ...]}
 * in restore order. On the way back every entry is checked against the table the restored
 * VM's GIC has (arch_gic_state_check): a file cannot make vireo write a register the table
 * does not name, or write them out of order. Not wired into vm.snapshot yet (docs/aarch64.md).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "base/json.h"
#include "snapshot/internal.h"

#define MAX_GIC_REGS 8192   /* 123 vCPUs with an ITS need about 4900 */

static const char *const gic_keys[] = { "regs", NULL };

cJSON *snap_gic_to_json(const struct arch_gic_state *s)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "regs");
	bool ok = arr != NULL;

	for (unsigned i = 0; ok && i < s->nr; i++) {
		const struct arch_gic_reg *r = &s->regs[i];
		cJSON *e = cJSON_CreateArray();

		ok = e && cJSON_AddItemToArray(arr, e) &&
		     cJSON_AddItemToArray(e, json_create_u64(r->group)) &&
		     cJSON_AddItemToArray(e, json_create_u64(r->attr)) &&
		     cJSON_AddItemToArray(e, json_create_u64(r->val));
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* One ["0xgroup", "0xattr", "0xvalue"] entry. */
static int get_entry(const cJSON *e, struct arch_gic_reg *r)
{
	uint64_t v[3];
	const cJSON *x;
	unsigned n = 0;

	if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 3)
		return -EINVAL;
	cJSON_ArrayForEach(x, e)
		if (!cJSON_IsString(x) || json_parse_u64(x->valuestring, &v[n++]))
			return -EINVAL;
	if (v[0] > UINT32_MAX)
		return -EINVAL;
	*r = (struct arch_gic_reg){ .group = (uint32_t)v[0], .attr = v[1], .val = v[2] };
	return 0;
}

int snap_gic_from_json(const cJSON *o, unsigned nr_vcpus, bool its, struct arch_gic_state *out,
		       char *err, size_t errlen)
{
	struct snap_ctx c;
	const cJSON *arr, *e;
	unsigned bad;
	int n, ret;

	memset(out, 0, sizeof(*out));
	snap_ctx_init(&c, SNAP_STATE_FILE, "gic", err, errlen);
	if (!cJSON_IsObject(o))
		return snap_fail(&c, NULL, "expected an object");
	if (snap_check_keys(o, gic_keys, &c) ||
	    !(arr = snap_get_counted(o, "regs", true, MAX_GIC_REGS, "registers", &n, &c)))
		return -EINVAL;
	out->regs = calloc((size_t)n, sizeof(*out->regs));
	if (!out->regs)
		return set_err(err, errlen, -ENOMEM, "out of memory reading %s", SNAP_STATE_FILE);
	cJSON_ArrayForEach(e, arr) {
		if (get_entry(e, &out->regs[out->nr])) {
			ret = snap_fail(&c, NULL, "regs[%u]: expected [\"0x<group>\", \"0x<attr>\", "
					"\"0x<value>\"]", out->nr);
			goto fail;
		}
		out->nr++;
	}
	ret = arch_gic_state_check(out, nr_vcpus, its, &bad);
	if (ret == -EINVAL && bad < out->nr)
		snap_fail(&c, NULL, "regs[%u]: not the next register of this VM's GIC (%u vCPUs, %s"
			  "ITS), or wider than it", bad, nr_vcpus, its ? "" : "no ");
	else if (ret == -EINVAL)
		snap_fail(&c, NULL, "regs: %u registers, this VM's GIC (%u vCPUs, %sITS) has more",
			  out->nr, nr_vcpus, its ? "" : "no ");
	else if (ret)
		set_err(err, errlen, ret, "out of memory reading %s", SNAP_STATE_FILE);
fail:
	if (ret)
		arch_gic_state_free(out);
	return ret;
}
