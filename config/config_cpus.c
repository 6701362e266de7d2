// SPDX-License-Identifier: Apache-2.0
/*
 * CH's CpusConfig: boot and possible vCPUs and their topology. The checks follow CH's
 * CpusConfig validation (boot <= max, threads x cores x dies x packages = max) plus vireo's
 * xAPIC limit: every APIC ID the topology yields must fit a MADT type-0 entry (ID < 255).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static int __attribute__((format(printf, 3, 4))) fail(char *err, size_t errlen,
							const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

unsigned config_max_vcpus(const struct vm_config *cfg)
{
	return cfg->max_vcpus ? cfg->max_vcpus : cfg->boot_vcpus;
}

void config_topology(const struct vm_config *cfg, struct cpu_topology *out)
{
	if (cfg->topology.threads_per_core) {
		*out = cfg->topology;
		return;
	}
	*out = (struct cpu_topology){ 1, config_max_vcpus(cfg), 1, 1 };
}

static int validate_topology(const struct vm_config *cfg, char *err, size_t errlen)
{
	const struct cpu_topology *t = &cfg->topology;
	unsigned long long n;
	unsigned max = config_max_vcpus(cfg);

	if (!t->threads_per_core && !t->cores_per_die && !t->dies_per_package && !t->packages)
		return 0;
	if (!t->threads_per_core || !t->cores_per_die || !t->dies_per_package || !t->packages)
		return fail(err, errlen, "cpus.topology: every field must be 1 or more");
	n = (unsigned long long)t->threads_per_core * t->cores_per_die * t->dies_per_package *
	    t->packages;
	if (n != max)
		return fail(err, errlen, "cpus.topology: threads_per_core x cores_per_die x "
			    "dies_per_package x packages is %llu, not cpus.max_vcpus (%u)", n, max);
	if (topo_apic_id(t, max - 1) >= 255)
		return fail(err, errlen, "cpus.topology: its APIC IDs do not fit xAPIC (the last "
			    "vCPU's would be %u, the limit is 254)", topo_apic_id(t, max - 1));
	return 0;
}

int config_validate_cpus(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->boot_vcpus < 1 || cfg->boot_vcpus > CONFIG_MAX_VCPUS)
		return fail(err, errlen, "cpus.boot_vcpus: must be between 1 and %d",
			    CONFIG_MAX_VCPUS);
	if (cfg->max_vcpus && cfg->max_vcpus > CONFIG_MAX_VCPUS)
		return fail(err, errlen, "cpus.max_vcpus: must be between 1 and %d",
			    CONFIG_MAX_VCPUS);
	if (cfg->max_vcpus && cfg->max_vcpus < cfg->boot_vcpus)
		return fail(err, errlen, "cpus.max_vcpus: %u is below cpus.boot_vcpus (%u)",
			    cfg->max_vcpus, cfg->boot_vcpus);
	return validate_topology(cfg, err, errlen);
}

static int parse_uint(const char *key, const char *val, unsigned *out, char *err, size_t errlen)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(val, &end, 10);
	if (errno || *end || end == val) {
		snprintf(err, errlen, "--cpus: %s='%s' is not a number", key, val);
		return -EINVAL;
	}
	if (n < 1 || n > CONFIG_MAX_VCPUS) {
		snprintf(err, errlen, "--cpus: %s=%s is out of range (1-%d)", key, val,
			 CONFIG_MAX_VCPUS);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

/* topology=T:C:D:P */
static int parse_topology(const char *val, struct cpu_topology *t, char *err, size_t errlen)
{
	unsigned *f[] = { &t->threads_per_core, &t->cores_per_die, &t->dies_per_package,
			  &t->packages };
	char buf[64], *save = NULL, *tok = buf;
	unsigned i;

	snprintf(buf, sizeof(buf), "%s", val);
	for (i = 0; i < 4; i++, tok = NULL) {
		char *part = strtok_r(tok, ":", &save);

		if (!part || parse_uint("topology", part, f[i], err, errlen))
			break;
	}
	if (i < 4 || strtok_r(NULL, ":", &save)) {
		snprintf(err, errlen, "--cpus: topology='%s' is not threads:cores:dies:packages "
			 "(four numbers from 1)", val);
		return -EINVAL;
	}
	return 0;
}

static int cpus_item(struct vm_config *cfg, char *item, char *err, size_t errlen)
{
	char *eq = strchr(item, '=');

	if (!eq) {
		snprintf(err, errlen, "--cpus: expected key=value, got '%s'", item);
		return -EINVAL;
	}
	*eq++ = '\0';
	if (!strcmp(item, "boot"))
		return parse_uint("boot", eq, &cfg->boot_vcpus, err, errlen);
	if (!strcmp(item, "max"))
		return parse_uint("max", eq, &cfg->max_vcpus, err, errlen);
	if (!strcmp(item, "topology"))
		return parse_topology(eq, &cfg->topology, err, errlen);
	snprintf(err, errlen, "--cpus: unknown key '%s' (supported: boot, max, topology)", item);
	return -EINVAL;
}

int config_parse_cpus(const char *s, struct vm_config *cfg, char *err, size_t errlen)
{
	char *copy = strdup(s), *item, *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	if (!*s) {
		snprintf(err, errlen, "--cpus: empty value");
		ret = -EINVAL;
	}
	for (item = strtok_r(copy, ",", &save); !ret && item; item = strtok_r(NULL, ",", &save))
		ret = cpus_item(cfg, item, err, errlen);
	free(copy);
	return ret;
}
