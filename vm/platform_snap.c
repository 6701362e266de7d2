// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot sections of the legacy platform devices: COM1's registers and unread input, the
 * CMOS index and NVRAM, the GED's latched events, and the hotplug registers' unread bits.
 * Saved as state.json devices "__serial", "__cmos", "__ged" (Cloud Hypervisor's naming),
 * "__pci_hotplug" and "__cpu_hotplug", every field checked on restore.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "platform/cpu_hotplug.h"
#include "vm/internal.h"

#define SERIAL_ID "__serial"
#define CMOS_ID   "__cmos"
#define GED_ID    "__ged"
#define PCIHP_ID  "__pci_hotplug"
#define CPUHP_ID  "__cpu_hotplug"

bool vm_platform_device_id(const char *id)
{
	return !strcmp(id, SERIAL_ID) || !strcmp(id, CMOS_ID) || !strcmp(id, GED_ID) ||
	       !strcmp(id, PCIHP_ID) || !strcmp(id, CPUHP_ID);
}

static bool put_hex(cJSON *o, const char *key, const uint8_t *buf, size_t len)
{
	char hex[2 * 1024 + 1];

	for (size_t i = 0; i < len && i < 1024; i++)
		snprintf(hex + 2 * i, 3, "%02x", buf[i]);
	hex[2 * len] = '\0';
	return cJSON_AddStringToObject(o, key, hex) != NULL;
}

#define WHERE(id) "state.json: devices." id

/* At most @max bytes of lower-case hex; *len gets the count. Errors name @where.@key. */
static int get_hex(const cJSON *o, const char *where, const char *key, uint8_t *buf,
		   size_t max, size_t *len, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t n;

	if (!it)
		return json_field_err(err, errlen, where, key, "missing");
	if (!cJSON_IsString(it) || (n = strlen(it->valuestring)) % 2 || n / 2 > max)
		return json_field_err(err, errlen, where, key, "expected a string of lower-case "
				      "hex, at most %zu bytes", max);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (!strchr("0123456789abcdef", it->valuestring[2 * i]) ||
		    !strchr("0123456789abcdef", it->valuestring[2 * i + 1]) ||
		    sscanf(it->valuestring + 2 * i, "%2x", &v) != 1)
			return json_field_err(err, errlen, where, key, "byte %zu is not two "
					      "lower-case hex digits", i);
		buf[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static const struct { const char *name; size_t off; } uart_regs[] = {
	{ "ier", offsetof(struct serial_state, ier) }, { "lcr", offsetof(struct serial_state, lcr) },
	{ "mcr", offsetof(struct serial_state, mcr) }, { "msr", offsetof(struct serial_state, msr) },
	{ "scr", offsetof(struct serial_state, scr) }, { "fcr", offsetof(struct serial_state, fcr) },
	{ "dll", offsetof(struct serial_state, dll) }, { "dlm", offsetof(struct serial_state, dlm) },
};

static cJSON *serial_json(struct serial *s)
{
	struct serial_state st;
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	serial_get_state(s, &st);
	for (unsigned i = 0; ok && i < sizeof(uart_regs) / sizeof(uart_regs[0]); i++)
		ok = !json_put_u64(o, uart_regs[i].name, ((uint8_t *)&st)[uart_regs[i].off]);
	ok = ok && cJSON_AddBoolToObject(o, "thri_pending", st.thri_pending) &&
	     cJSON_AddBoolToObject(o, "irq_level", st.irq_level) &&
	     put_hex(o, "rx", st.rx, st.rx_count);
	if (!ok)
		cJSON_Delete(o);
	return ok ? o : NULL;
}

static int serial_parse(const cJSON *o, struct serial_state *st, char *err, size_t errlen)
{
	size_t rx = 0;
	uint64_t v;
	int ret;

	for (unsigned i = 0; i < sizeof(uart_regs) / sizeof(uart_regs[0]); i++) {
		ret = json_field_u64(o, WHERE(SERIAL_ID), uart_regs[i].name, &v, err, errlen);
		if (ret)
			return ret;
		if (v > 0xff)
			return json_field_err(err, errlen, WHERE(SERIAL_ID), uart_regs[i].name,
					      "0x%llx is above 0xff", (unsigned long long)v);
		((uint8_t *)st)[uart_regs[i].off] = (uint8_t)v;
	}
	ret = json_field_bool(o, WHERE(SERIAL_ID), "thri_pending", &st->thri_pending, err, errlen);
	ret = ret ?: json_field_bool(o, WHERE(SERIAL_ID), "irq_level", &st->irq_level, err,
				     errlen);
	ret = ret ?: get_hex(o, WHERE(SERIAL_ID), "rx", st->rx, sizeof(st->rx), &rx, err, errlen);
	st->rx_count = (unsigned)rx;
	return ret;
}

/*
 * The hotplug registers' unread bits (docs/snapshot.md): an add or removal the guest has not
 * seen yet is announced again after a restore, as the GED's latched event is.
 */
static cJSON *pci_hotplug_json(struct vm *vm, char *err, size_t errlen)
{
	struct pci_hotplug_pending p;
	cJSON *o, *up, *down;
	bool ok;

	if (pci_hotplug_get_pending(&vm->hotplug, &p)) {
		set_err(err, errlen, -EBUSY, "a device the guest ejected is still being removed; "
			"snapshot once vm.info no longer lists it");
		return NULL;
	}
	o = cJSON_CreateObject();
	up = cJSON_AddArrayToObject(o, "up");
	down = cJSON_AddArrayToObject(o, "down");
	ok = up && down && !json_put_u64(o, "sel", p.sel);
	for (unsigned s = 0; ok && s < vm->nr_segs; s++) {
		cJSON *u = json_create_u64(p.up[s]), *d = json_create_u64(p.down[s]);

		ok = u && d;
		if (ok) {
			cJSON_AddItemToArray(up, u);
			cJSON_AddItemToArray(down, d);
		} else {
			cJSON_Delete(u);
			cJSON_Delete(d);
		}
	}
	if (!ok) {
		cJSON_Delete(o);
		set_err(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	return o;
}

static cJSON *cpu_hotplug_json(struct vm *vm)
{
	unsigned n = cpu_hotplug_max(vm->cpuhp);
	uint8_t status[256];
	uint32_t sel;
	cJSON *o = cJSON_CreateObject();

	if (o && n <= sizeof(status)) {
		cpu_hotplug_get_state(vm->cpuhp, status, &sel);
		if (!json_put_u64(o, "selected", sel) && put_hex(o, "status", status, n))
			return o;
	}
	cJSON_Delete(o);
	return NULL;
}

/* snap_state_add_device frees what it is given, also on failure. */
static int save_hotplug(struct vm *vm, struct cJSON *state, char *err, size_t errlen)
{
	cJSON *pci = pci_hotplug_json(vm, err, errlen), *cpu;
	int ret;

	if (!pci)
		return -EBUSY;
	ret = snap_state_add_device(state, PCIHP_ID, pci);
	if (!ret && vm->cpuhp) {
		cpu = cpu_hotplug_json(vm);
		ret = cpu ? snap_state_add_device(state, CPUHP_ID, cpu) : -ENOMEM;
	}
	if (ret)
		set_err(err, errlen, ret, "cannot save the hotplug registers: %s", strerror(-ret));
	return ret;
}

int vm_save_platform(struct vm *vm, struct cJSON *state, char *err, size_t errlen)
{
	cJSON *ser = serial_json(vm->serial), *cmos = cJSON_CreateObject(),
	      *ged = cJSON_CreateObject();
	int ret = ser && cmos && ged ? 0 : -ENOMEM;

	if (!ret && (json_put_u64(cmos, "index", cmos_get_index(vm->cmos)) ||
		     !put_hex(cmos, "nvram", vm->persist->cmos_nvram, 128) ||
		     json_put_u64(ged, "pending", ged_pending(vm->ged))))
		ret = -ENOMEM;
	if (ret) {
		cJSON_Delete(ser);
		cJSON_Delete(cmos);
		cJSON_Delete(ged);
	} else {
		/* snap_state_add_device frees what it is given, also on failure. */
		ret = snap_state_add_device(state, SERIAL_ID, ser);
		ret = ret ?: snap_state_add_device(state, CMOS_ID, cmos);
		if (ret)
			cJSON_Delete(ged);
		ret = ret ?: snap_state_add_device(state, GED_ID, ged);
	}
	if (ret)
		snprintf(err, errlen, "cannot save the platform devices: %s", strerror(-ret));
	return ret ?: save_hotplug(vm, state, err, errlen);
}

struct platform_state {
	struct serial_state serial;
	uint8_t nvram[128];
	uint64_t index, pending;
};

static int cmos_parse(const cJSON *o, struct platform_state *p, char *err, size_t errlen)
{
	size_t n;
	int ret = json_field_u64(o, WHERE(CMOS_ID), "index", &p->index, err, errlen);

	if (!ret && p->index > 0xff)
		return json_field_err(err, errlen, WHERE(CMOS_ID), "index", "0x%llx is above 0xff",
				      (unsigned long long)p->index);
	ret = ret ?: get_hex(o, WHERE(CMOS_ID), "nvram", p->nvram, sizeof(p->nvram), &n, err,
			     errlen);
	if (!ret && n != sizeof(p->nvram))
		return json_field_err(err, errlen, WHERE(CMOS_ID), "nvram", "%zu bytes, expected "
				      "%zu", n, sizeof(p->nvram));
	return ret;
}

static int ged_parse(const cJSON *o, struct platform_state *p, char *err, size_t errlen)
{
	int ret = json_field_u64(o, WHERE(GED_ID), "pending", &p->pending, err, errlen);

	if (!ret && p->pending & ~(uint64_t)GED_EVENTS_ALL)
		return json_field_err(err, errlen, WHERE(GED_ID), "pending", "0x%llx has bits no "
				      "GED event uses (known: 0x%x)", (unsigned long long)p->pending,
				      GED_EVENTS_ALL);
	return ret;
}

static int section(const cJSON *state, const char *id, const cJSON **o, char *err,
		   size_t errlen)
{
	*o = snap_state_device(state, id);
	if (cJSON_IsObject(*o))
		return 0;
	snprintf(err, errlen, "state.json: devices.%s: missing or not an object", id);
	return -EINVAL;
}

/* @n "0x..." strings of at most 32 bits, one per PCI segment. */
static int u32_array(const cJSON *o, const char *key, unsigned n, uint32_t *out, char *err,
		     size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *it;
	unsigned i = 0;
	uint64_t v;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != (int)n)
		return json_field_err(err, errlen, WHERE(PCIHP_ID), key, "expected an array of %u "
				      "\"0x...\" strings, one per PCI segment", n);
	cJSON_ArrayForEach(it, a) {
		if (!cJSON_IsString(it) || json_parse_u64(it->valuestring, &v) || v > UINT32_MAX)
			return json_field_err(err, errlen, WHERE(PCIHP_ID), key, "element %u is not "
					      "a 32-bit \"0x...\" string", i);
		out[i++] = (uint32_t)v;
	}
	return 0;
}

/* After the devices: a pending bit must name a slot whose device the guest may eject. */
static int restore_pci_hotplug(struct vm *vm, const cJSON *state, char *err, size_t errlen)
{
	struct pci_hotplug_pending p = { 0 };
	const cJSON *o;
	uint64_t sel;
	int ret = section(state, PCIHP_ID, &o, err, errlen);

	ret = ret ?: json_field_u64(o, WHERE(PCIHP_ID), "sel", &sel, err, errlen);
	ret = ret ?: u32_array(o, "up", vm->nr_segs, p.up, err, errlen);
	ret = ret ?: u32_array(o, "down", vm->nr_segs, p.down, err, errlen);
	if (ret)
		return ret;
	if (sel >= vm->nr_segs)
		return json_field_err(err, errlen, WHERE(PCIHP_ID), "sel", "segment %llu does not "
				      "exist (%u segments)", (unsigned long long)sel, vm->nr_segs);
	p.sel = (uint32_t)sel;
	if (pci_hotplug_set_pending(&vm->hotplug, &p))
		return set_err(err, errlen, -EINVAL, "state.json: devices." PCIHP_ID ": a pending "
			       "bit names a slot that holds no hot-pluggable device");
	return 0;
}

/* The present CPUs must be the restored vCPUs 0..nr_vcpus-1. */
static int restore_cpu_hotplug(struct vm *vm, const cJSON *state, char *err, size_t errlen)
{
	uint8_t status[256];
	const cJSON *o;
	uint64_t sel;
	size_t n;
	int ret;

	if (!vm->cpuhp)
		return snap_state_device(state, CPUHP_ID) ? set_err(err, errlen, -EINVAL,
			"state.json: devices." CPUHP_ID ": this board has no CPU hotplug") : 0;
	ret = section(state, CPUHP_ID, &o, err, errlen);
	ret = ret ?: json_field_u64(o, WHERE(CPUHP_ID), "selected", &sel, err, errlen);
	ret = ret ?: get_hex(o, WHERE(CPUHP_ID), "status", status, sizeof(status), &n, err,
			     errlen);
	if (ret)
		return ret;
	if (sel > UINT32_MAX)
		return json_field_err(err, errlen, WHERE(CPUHP_ID), "selected", "0x%llx is above "
				      "32 bits", (unsigned long long)sel);
	if (n != cpu_hotplug_max(vm->cpuhp))
		return json_field_err(err, errlen, WHERE(CPUHP_ID), "status", "%zu CPUs, but "
				      "cpus.max_vcpus is %u", n, cpu_hotplug_max(vm->cpuhp));
	for (size_t i = 0; i < n; i++)
		if (!!(status[i] & CPUHP_ENABLED) != (i < vm->nr_vcpus))
			return json_field_err(err, errlen, WHERE(CPUHP_ID), "status", "CPU %zu is "
					      "%s, but the snapshot has %u vCPUs", i,
					      status[i] & CPUHP_ENABLED ? "present" : "absent",
					      vm->nr_vcpus);
	if (cpu_hotplug_set_state(vm->cpuhp, status, (unsigned)n, (uint32_t)sel))
		return json_field_err(err, errlen, WHERE(CPUHP_ID), "status", "a CPU has unknown "
				      "bits, or removing without a request, or inserting with one");
	return 0;
}

/* Everything parsed and checked before any device changes. */
int vm_restore_platform(struct vm *vm, const struct cJSON *state, char *err, size_t errlen)
{
	struct platform_state p = { 0 };
	const cJSON *ser, *cmos, *ged;
	int ret;

	ret = section(state, SERIAL_ID, &ser, err, errlen);
	ret = ret ?: serial_parse(ser, &p.serial, err, errlen);
	ret = ret ?: section(state, CMOS_ID, &cmos, err, errlen);
	ret = ret ?: cmos_parse(cmos, &p, err, errlen);
	ret = ret ?: section(state, GED_ID, &ged, err, errlen);
	ret = ret ?: ged_parse(ged, &p, err, errlen);
	if (ret)
		return ret;
	/* Neither refuses what was checked above. */
	if (serial_set_state(vm->serial, &p.serial))
		return set_err(err, errlen, -EINVAL, WHERE(SERIAL_ID) ".rx: refused by the UART");
	if (ged_set_pending(vm->ged, (uint32_t)p.pending))
		return set_err(err, errlen, -EINVAL, WHERE(GED_ID) ".pending: refused by the GED");
	memcpy(vm->persist->cmos_nvram, p.nvram, sizeof(p.nvram));
	cmos_set_index(vm->cmos, (uint8_t)p.index);
	ret = restore_pci_hotplug(vm, state, err, errlen);
	return ret ?: restore_cpu_hotplug(vm, state, err, errlen);
}
