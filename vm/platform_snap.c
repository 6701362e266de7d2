// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshot sections of the legacy platform devices: COM1's registers and unread input, the
 * CMOS index and NVRAM, the GED's latched events. Saved as state.json devices "__serial",
 * "__cmos" and "__ged" (Cloud Hypervisor's naming), every field checked on restore.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "vm/internal.h"

#define SERIAL_ID "__serial"
#define CMOS_ID   "__cmos"
#define GED_ID    "__ged"

bool vm_platform_device_id(const char *id)
{
	return !strcmp(id, SERIAL_ID) || !strcmp(id, CMOS_ID) || !strcmp(id, GED_ID);
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
	return ret;
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
	return 0;
}
