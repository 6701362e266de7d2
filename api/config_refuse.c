// SPDX-License-Identifier: Apache-2.0
/*
 * VmConfig fields of Cloud Hypervisor's OpenAPI file that vireo does not honour: refused with
 * a 400 naming the field when they ask for something, accepted when they hold CH's default or
 * ask for nothing (false, an empty array, the default enum value), so generated clients that
 * send every default still work. One table per object; the fields vireo honours are parsed in
 * config_json.c.
 */
#include <string.h>

#include "api/api_internal.h"

enum refuse_kind {
	R_PRESENT,      /* any value asks for something */
	R_TRUE,         /* true asks for it; false is the default */
	R_FALSE,        /* false asks for it; true is the default */
	R_NONEMPTY,     /* a non-empty array asks for it */
	R_NONZERO,      /* a number other than 0 asks for it */
	R_STRING,       /* a string outside @allowed ("A|B") asks for it */
	R_MODE_OFF,     /* an object whose mode is not "Off" asks for it */
};

struct refusal {
	const char *key;
	enum refuse_kind kind;
	const char *allowed;       /* R_STRING */
};

#define UNSUPPORTED "not supported by vireo"

static bool in_list(const char *s, const char *list)
{
	size_t n = strlen(s);

	for (const char *p = list; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (!strncmp(p, s, n) && (p[n] == '|' || !p[n]))
			return true;
	return false;
}

static bool asks(const cJSON *it, const struct refusal *r)
{
	const cJSON *mode;

	switch (r->kind) {
	case R_PRESENT: return !cJSON_IsNull(it);
	case R_TRUE: return !cJSON_IsFalse(it);
	case R_FALSE: return !cJSON_IsTrue(it);
	case R_NONEMPTY: return !cJSON_IsNull(it) && !(cJSON_IsArray(it) && !it->child);
	case R_NONZERO: return !(cJSON_IsNumber(it) && it->valuestring &&
				!strcmp(it->valuestring, "0"));
	case R_STRING: return !cJSON_IsString(it) || !in_list(it->valuestring, r->allowed);
	case R_MODE_OFF:
		mode = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "mode") : NULL;
		return !cJSON_IsString(mode) || strcmp(mode->valuestring, "Off");
	}
	return true;
}

static int refuse_one(struct jfield *f, const struct refusal *r)
{
	const cJSON *it;
	int ret = jf_get(f, r->key, &it);

	if (ret || !it || !asks(it, r))
		return ret;
	switch (r->kind) {
	case R_TRUE: return jf_fail(f, r->key, UNSUPPORTED " (only false is accepted)");
	case R_FALSE: return jf_fail(f, r->key, UNSUPPORTED " (only true is accepted)");
	case R_NONEMPTY: return jf_fail(f, r->key, UNSUPPORTED " (only [] is accepted)");
	case R_NONZERO: return jf_fail(f, r->key, UNSUPPORTED " (only 0 is accepted)");
	case R_STRING: return jf_fail(f, r->key, UNSUPPORTED " (accepted: %s)", r->allowed);
	case R_MODE_OFF: return jf_fail(f, r->key, UNSUPPORTED " (only mode Off is accepted)");
	default: return jf_fail(f, r->key, UNSUPPORTED);
	}
}

static int refuse_table(struct jfield *f, const struct refusal *t, size_t n)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n; i++)
		ret = refuse_one(f, &t[i]);
	return ret;
}

#define REFUSE(f, table) refuse_table(f, table, sizeof(table) / sizeof(table[0]))

static const struct refusal top[] = {
	{ "rate_limit_groups", R_NONEMPTY, NULL }, { "balloon", R_PRESENT, NULL },
	{ "generic_vhost_user", R_NONEMPTY, NULL }, { "pmem", R_NONEMPTY, NULL },
	{ "debug_console", R_MODE_OFF, NULL }, { "devices", R_NONEMPTY, NULL },
	{ "user_devices", R_NONEMPTY, NULL }, { "vdpa", R_NONEMPTY, NULL }, { "numa", R_NONEMPTY, NULL },
	{ "iommu", R_TRUE, NULL }, { "watchdog", R_TRUE, NULL }, { "rtc", R_PRESENT, NULL },
	{ "pvpanic", R_TRUE, NULL }, { "tpm", R_PRESENT, NULL }, { "landlock_enable", R_TRUE, NULL },
	{ "landlock_rules", R_NONEMPTY, NULL }, { "sgx_epc", R_NONEMPTY, NULL },
};

/* topology and max_vcpus are honoured (config_cpus.c). */
static const struct refusal cpus[] = {
	{ "kvm_hyperv", R_TRUE, NULL }, { "max_phys_bits", R_PRESENT, NULL }, { "nested", R_TRUE, NULL },
	{ "affinity", R_NONEMPTY, NULL }, { "core_scheduling", R_STRING, "Vm|Off" },
};
static const struct refusal cpu_features[] = { { "amx", R_TRUE, NULL } };

/* shared is honoured (config_json.c); thp is left to the host's policy. */
static const struct refusal memory[] = {
	{ "hotplug_size", R_NONZERO, NULL }, { "hotplugged_size", R_NONZERO, NULL },
	{ "hotplug_method", R_STRING, "Acpi|VirtioMem" }, { "mergeable", R_TRUE, NULL },
	{ "hugepages", R_TRUE, NULL }, { "hugepage_size", R_PRESENT, NULL }, { "prefault", R_TRUE, NULL },
	{ "reserve", R_TRUE, NULL }, { "zones", R_NONEMPTY, NULL }, { "file", R_PRESENT, NULL },
};

/* num_pci_segments is parse_segments' (config_json.c). */
static const struct refusal platform[] = {
	{ "iommu_segments", R_NONEMPTY, NULL }, { "iommu_address_width_bits", R_PRESENT, NULL },
	{ "system_serial_number", R_PRESENT, NULL }, { "serial_number", R_PRESENT, NULL },
	{ "system_uuid", R_PRESENT, NULL }, { "uuid", R_PRESENT, NULL }, { "oem_strings", R_NONEMPTY, NULL },
	{ "system_manufacturer", R_PRESENT, NULL }, { "system_product_name", R_PRESENT, NULL },
	{ "system_version", R_PRESENT, NULL }, { "system_family", R_PRESENT, NULL },
	{ "system_sku_number", R_PRESENT, NULL }, { "chassis_asset_tag", R_PRESENT, NULL },
	{ "tdx", R_TRUE, NULL }, { "sev_snp", R_TRUE, NULL }, { "iommufd", R_TRUE, NULL },
};

/* vireo takes an OFD lock on the whole image: Full, and ByteRange's intent (docs/virtio-blk.md). */
static const struct refusal disk[] = {
	{ "rate_limit_group", R_PRESENT, NULL },
	{ "queue_affinity", R_NONEMPTY, NULL }, { "backing_files", R_TRUE, NULL }, { "sparse", R_FALSE, NULL },
	{ "image_type", R_STRING, "Raw" }, { "lock_granularity", R_STRING, "ByteRange|Full" },
};

static const struct refusal rng[] = {
	{ "iommu", R_TRUE, NULL }, { "pci_segment", R_NONZERO, NULL }, { "pci_device_id", R_PRESENT, NULL },
};
static const struct refusal serial[] = { { "socket", R_PRESENT, NULL } };
static const struct refusal console[] = {
	{ "socket", R_PRESENT, NULL }, { "iommu", R_TRUE, NULL }, { "pci_segment", R_NONZERO, NULL },
	{ "pci_device_id", R_PRESENT, NULL },
};
static const struct refusal vsock[] = { { "pci_device_id", R_PRESENT, NULL } };

static int refuse_in(struct jfield *top_f, const char *key, const char *ctx,
		     const struct refusal *t, size_t n)
{
	struct jfield f = { .ctx = ctx, .err = top_f->err, .errlen = top_f->errlen };
	int ret = jf_get(top_f, key, &f.obj);

	if (ret || !cJSON_IsObject(f.obj))
		return ret;     /* absent, or a type error its parser reports */
	return refuse_table(&f, t, n);
}

#define REFUSE_IN(f, key, ctx, table) refuse_in(f, key, ctx, table, sizeof(table) / sizeof(table[0]))

int api_refuse_disk_fields(struct jfield *f)
{
	return REFUSE(f, disk);
}

int api_refuse_vsock_fields(struct jfield *f)
{
	return REFUSE(f, vsock);
}

int api_refuse_unsupported(struct jfield *f)
{
	struct jfield cf = { .ctx = "cpus", .err = f->err, .errlen = f->errlen };
	int ret = REFUSE(f, top);

	ret = ret ?: REFUSE_IN(f, "cpus", "cpus", cpus);
	ret = ret ?: REFUSE_IN(f, "memory", "memory", memory);
	ret = ret ?: REFUSE_IN(f, "platform", "platform", platform);
	ret = ret ?: REFUSE_IN(f, "rng", "rng", rng);
	ret = ret ?: REFUSE_IN(f, "serial", "serial", serial);
	ret = ret ?: REFUSE_IN(f, "console", "console", console);
	if (ret || jf_get(f, "cpus", &cf.obj) || !cJSON_IsObject(cf.obj))
		return ret;
	return REFUSE_IN(&cf, "features", "cpus.features", cpu_features);
}
