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

#include "vmm/vm.h"

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

/* Exactly @max or fewer bytes of lower-case hex; *len gets the count. */
static int get_hex(const cJSON *o, const char *key, uint8_t *buf, size_t max, size_t *len)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t n;

	if (!cJSON_IsString(it) || (n = strlen(it->valuestring)) % 2 || n / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(it->valuestring + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdef", it->valuestring[2 * i]) ||
		    !strchr("0123456789abcdef", it->valuestring[2 * i + 1]))
			return -EINVAL;
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

static int serial_from_json(struct serial *s, const cJSON *o)
{
	struct serial_state st = { 0 };
	size_t rx = 0;
	uint64_t v;

	for (unsigned i = 0; i < sizeof(uart_regs) / sizeof(uart_regs[0]); i++) {
		if (json_get_u64(o, uart_regs[i].name, &v) || v > 0xff)
			return -EINVAL;
		((uint8_t *)&st)[uart_regs[i].off] = (uint8_t)v;
	}
	if (json_get_bool(o, "thri_pending", &st.thri_pending) ||
	    json_get_bool(o, "irq_level", &st.irq_level) ||
	    get_hex(o, "rx", st.rx, sizeof(st.rx), &rx))
		return -EINVAL;
	st.rx_count = (unsigned)rx;
	return serial_set_state(s, &st);
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

int vm_restore_platform(struct vm *vm, const struct cJSON *state, char *err, size_t errlen)
{
	const cJSON *ser = snap_state_device(state, SERIAL_ID), *cmos = snap_state_device(state, CMOS_ID),
		    *ged = snap_state_device(state, GED_ID);
	const char *bad = NULL;
	uint8_t nvram[128];
	uint64_t index, pending;
	size_t n;

	if (!ser || serial_from_json(vm->serial, ser))
		bad = SERIAL_ID;
	else if (!cmos || json_get_u64(cmos, "index", &index) || index > 0xff ||
		 get_hex(cmos, "nvram", nvram, sizeof(nvram), &n) || n != sizeof(nvram))
		bad = CMOS_ID;
	else if (!ged || json_get_u64(ged, "pending", &pending) || pending > UINT32_MAX ||
		 ged_set_pending(vm->ged, (uint32_t)pending))
		bad = GED_ID;
	if (bad) {
		snprintf(err, errlen, "state.json: devices.%s: missing or invalid", bad);
		return -EINVAL;
	}
	memcpy(vm->persist->cmos_nvram, nvram, sizeof(nvram));
	cmos_set_index(vm->cmos, (uint8_t)index);
	return 0;
}
