// SPDX-License-Identifier: Apache-2.0
/* api/config_json.c, api/config_out.c: CH's VmConfig JSON in and out, validation, ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

static char err[512];

static int from_text(const char *text, struct vm_config *cfg)
{
	cJSON *j;
	int ret = api_json_parse(text, strlen(text), &j, err, sizeof(err));

	memset(cfg, 0, sizeof(*cfg));
	if (ret)
		return ret;
	ret = api_config_from_json(j, cfg, err, sizeof(err));
	cJSON_Delete(j);
	return ret;
}

static void expect_error(const char *text, const char *msg)
{
	struct vm_config cfg;

	err[0] = '\0';
	assert_int_equal(from_text(text, &cfg), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("'%s' not in '%s'", msg, err);
	config_free(&cfg);
}

static const char full[] =
	"{\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"console=ttyS0\",\"initramfs\":\"/i\"},"
	"\"cpus\":{\"boot_vcpus\":4,\"max_vcpus\":4},"
	"\"memory\":{\"size\":1073741824},"
	"\"disks\":[{\"path\":\"/a.img\",\"readonly\":true,\"direct\":true,\"iommu\":false,"
	"\"num_queues\":2,\"queue_size\":256,\"id\":\"root\",\"serial\":\"SN1\","
	"\"pci_segment\":0,\"rate_limiter_config\":{\"bandwidth\":{\"size\":18446744073709551615,"
	"\"one_time_burst\":9007199254740993,\"refill_time\":100},\"ops\":{\"size\":10,"
	"\"refill_time\":1000}}},{\"path\":\"/b.img\"}],"
	"\"serial\":{\"mode\":\"File\",\"file\":\"/tmp/s\"},\"console\":{\"mode\":\"Off\"}}";

static void test_every_field(void **state)
{
	struct vm_config cfg;
	const struct disk_config *d;

	(void)state;
	assert_int_equal(from_text(full, &cfg), 0);
	assert_string_equal(cfg.kernel, "/k");
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_string_equal(cfg.initramfs, "/i");
	assert_int_equal(cfg.boot_vcpus, 4);
	assert_true(cfg.memory_size == 1ull << 30);
	assert_int_equal(cfg.serial.mode, CONSOLE_FILE);
	assert_string_equal(cfg.serial.file, "/tmp/s");
	assert_int_equal(cfg.console.mode, CONSOLE_OFF);
	assert_int_equal(cfg.nr_disks, 2);
	d = &cfg.disks[0];
	assert_string_equal(d->path, "/a.img");
	assert_true(d->readonly && d->direct && !d->iommu);
	assert_int_equal(d->num_queues, 2);
	assert_int_equal(d->queue_size, 256);
	assert_string_equal(d->id, "root");
	assert_string_equal(d->serial, "SN1");
	assert_true(d->rate_limiter.set && d->rate_limiter.bandwidth.set);
	assert_true(d->rate_limiter.bandwidth.size == UINT64_MAX);
	assert_true(d->rate_limiter.bandwidth.one_time_burst == (1ull << 53) + 1);
	assert_true(d->rate_limiter.ops.size == 10 && d->rate_limiter.ops.refill_time == 1000);
	assert_int_equal(cfg.disks[1].num_queues, 1);      /* defaults */
	assert_int_equal(cfg.disks[1].queue_size, 128);
	assert_null(cfg.disks[1].id);
	assert_false(cfg.disks[1].rate_limiter.set);
	config_free(&cfg);
}

/* Serialize, parse again, serialize again: the same text; u64s beyond 2^53 unchanged. */
static void test_round_trip(void **state)
{
	struct vm_config a, b;
	char *ta, *tb;

	(void)state;
	assert_int_equal(from_text(full, &a), 0);
	ta = api_config_to_json(&a);
	assert_non_null(strstr(ta, "\"size\":18446744073709551615"));
	assert_non_null(strstr(ta, "\"one_time_burst\":9007199254740993"));
	assert_int_equal(from_text(ta, &b), 0);
	tb = api_config_to_json(&b);
	assert_string_equal(ta, tb);
	config_free(&a);
	config_free(&b);
	free(ta);
	free(tb);
}

static void test_memory_beyond_2_53(void **state)
{
	struct vm_config cfg;
	char *t;

	(void)state;
	assert_int_equal(from_text("{\"memory\":{\"size\":9007199254740993}}", &cfg), 0);
	assert_true(cfg.memory_size == 9007199254740993ull);
	t = api_config_to_json(&cfg);
	assert_non_null(strstr(t, "\"memory\":{\"size\":9007199254740993}"));
	free(t);
	config_free(&cfg);
	assert_int_equal(from_text("{\"memory\":{\"size\":18446744073709551615}}", &cfg), 0);
	assert_true(cfg.memory_size == UINT64_MAX);
	config_free(&cfg);
	expect_error("{\"memory\":{\"size\":18446744073709551616}}", "memory.size: ");
}

/* Defaults: CH's for a JSON VmConfig (serial Null), vireo's console Off. */
static void test_defaults_and_omitted(void **state)
{
	struct vm_config cfg;
	char *t;

	(void)state;
	assert_int_equal(from_text("{}", &cfg), 0);
	assert_null(cfg.kernel);
	assert_string_equal(cfg.cmdline, "");
	assert_null(cfg.initramfs);
	assert_int_equal(cfg.boot_vcpus, 1);
	assert_true(cfg.memory_size == 512ull << 20);
	assert_int_equal(cfg.serial.mode, CONSOLE_NULL);
	assert_int_equal(cfg.console.mode, CONSOLE_TTY);
	assert_int_equal(cfg.nr_disks, 0);
	t = api_config_to_json(&cfg);
	assert_string_equal(t, "{\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1},"
			       "\"memory\":{\"size\":536870912},\"rng\":{\"src\":\"/dev/urandom\"},"
			       "\"serial\":{\"mode\":\"Null\"},\"console\":{\"mode\":\"Tty\"}}");
	free(t);
	config_free(&cfg);
	/* null optionals are absent; max_vcpus may be left out */
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\",\"initramfs\":null},"
				   "\"cpus\":{\"boot_vcpus\":2},\"disks\":null}", &cfg), 0);
	assert_null(cfg.initramfs);
	assert_int_equal(cfg.boot_vcpus, 2);
	config_free(&cfg);
}

static void test_unknown_fields_ignored(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\",\"x\":1},\"rng\":{\"src\":"
				   "\"/dev/urandom\"},\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":1,"
				   "\"kvm_hyperv\":false},\"future\":[1,{\"a\":2}],"
				   "\"disks\":[{\"path\":\"/d\",\"sparse\":true}]}", &cfg), 0);
	assert_string_equal(cfg.kernel, "/k");
	config_free(&cfg);
	/* except inside RateLimiterConfig and TokenBucket (deny_unknown_fields) */
	expect_error("{\"disks\":[{\"path\":\"/d\",\"rate_limiter_config\":{\"bw\":{}}}]}",
		     "disks[0].rate_limiter_config.bw: unknown field");
	expect_error("{\"disks\":[{\"path\":\"/d\",\"rate_limiter_config\":{\"ops\":{\"size\":1,"
		     "\"refill_time\":1,\"x\":0}}}]}",
		     "disks[0].rate_limiter_config.ops.x: unknown field");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("[]", "expected a VmConfig object");
	expect_error("{\"payload\":\"/k\"}", "payload: invalid type");
	expect_error("{\"payload\":{\"kernel\":5}}", "payload.kernel: invalid type");
	expect_error("{\"cpus\":{\"boot_vcpus\":\"2\"}}", "cpus.boot_vcpus: invalid type");
	expect_error("{\"cpus\":{\"boot_vcpus\":2.5}}", "cpus.boot_vcpus: invalid type");
	expect_error("{\"cpus\":{\"boot_vcpus\":-1}}", "cpus.boot_vcpus: invalid value");
	expect_error("{\"cpus\":{\"boot_vcpus\":256}}", "cpus.boot_vcpus: 256 is out of range");
	expect_error("{\"memory\":{\"size\":\"1G\"}}", "memory.size: invalid type");
	expect_error("{\"serial\":{\"mode\":\"tty\"}}", "serial.mode: unknown variant");
	expect_error("{\"serial\":{\"mode\":1}}", "serial.mode: invalid type");
	expect_error("{\"disks\":{}}", "disks: invalid type");
	expect_error("{\"disks\":[5]}", "disks[0]: invalid type");
	expect_error("{\"disks\":[{\"readonly\":\"yes\"}]}", "disks[0].readonly: invalid type");
	expect_error("{\"disks\":[{\"queue_size\":65536}]}", "disks[0].queue_size: 65536");
	expect_error("{\"cpus\":{\"boot_vcpus\":1,\"boot_vcpus\":2}}", "duplicate field");
}

static void test_missing_required(void **state)
{
	(void)state;
	expect_error("{\"cpus\":{\"max_vcpus\":2}}", "cpus.boot_vcpus: missing field");
	expect_error("{\"memory\":{\"shared\":true}}", "memory.size: missing field");
	expect_error("{\"serial\":{\"file\":\"/x\"}}", "serial.mode: missing field");
	expect_error("{\"disks\":[{\"rate_limiter_config\":{\"ops\":{\"size\":1}}}]}",
		     "ops.refill_time: missing field");
}

static void test_unsupported_refused(void **state)
{
	(void)state;
	expect_error("{\"payload\":{\"firmware\":\"/fw\"}}", "payload.firmware: not supported");
	expect_error("{\"serial\":{\"mode\":\"Pty\"}}", "serial.mode: 'Pty' is not supported");
	expect_error("{\"disks\":[{\"vhost_user\":1}]}", "disks[0].vhost_user");
	expect_error("{\"pci_segments\":[{\"pci_segment\":1}]}",
		     "pci_segments[0].pci_segment: not below platform.num_pci_segments");
	expect_error("{\"pci_segments\":[{}]}", "pci_segments[0].pci_segment: missing field");
	expect_error("{\"platform\":{\"num_pci_segments\":17}}",
		     "platform.num_pci_segments: must be between 1 and 16");
	expect_error("{\"platform\":{\"num_pci_segments\":0}}",
		     "platform.num_pci_segments: must be between 1 and 16");
	expect_error("{\"platform\":{\"num_pci_segments\":2},\"pci_segments\":[{"
		     "\"pci_segment\":1,\"mmio32_aperture_weight\":3}]}",
		     "pci_segments[0].mmio32_aperture_weight: vireo divides the windows equally");
	{
		struct vm_config ok;
		char *out, why[160];

		/* Two segments: a disk on segment 1 passes, segment 2 does not; vm.info says 2. */
		assert_int_equal(from_text("{\"platform\":{\"num_pci_segments\":2},\"pci_segments\":"
					   "[{\"pci_segment\":1}],\"payload\":{\"kernel\":\"/k\"},"
					   "\"disks\":[{\"path\":\"/d\",\"pci_segment\":1}]}", &ok), 0);
		assert_int_equal(ok.num_pci_segments, 2);
		assert_int_equal(api_config_validate(&ok, why, sizeof(why)), 0);
		out = api_config_to_json(&ok);
		assert_non_null(strstr(out, "\"platform\":{\"num_pci_segments\":2}"));
		free(out);
		ok.disks[0].pci_segment = 2;
		assert_int_equal(api_config_validate(&ok, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "disks[0].pci_segment: 2 is not below"));
		config_free(&ok);

		assert_int_equal(from_text("{\"pci_segments\":[{\"pci_segment\":0,"
					   "\"mmio64_aperture_weight\":4}],"
					   "\"platform\":{\"num_pci_segments\":1}}", &ok), 0);
		config_free(&ok);
	}
}

static void expect_invalid(const char *text, int ret, const char *msg);

/* Item 4 of issue 15: fields vireo does not honour are refused when they ask for something. */
static void test_unhonoured_fields_refused(void **state)
{
	static const char *const refused[][2] = {
		{ "{\"memory\":{\"size\":1073741824,\"hotplug_size\":1073741824}}",
		  "memory.hotplug_size: not supported" },
		{ "{\"memory\":{\"size\":1,\"hotplugged_size\":4096}}", "memory.hotplugged_size" },
		{ "{\"memory\":{\"size\":1,\"hugepages\":true}}", "memory.hugepages" },
		{ "{\"memory\":{\"size\":1,\"mergeable\":true}}", "memory.mergeable" },
		{ "{\"memory\":{\"size\":1,\"zones\":[{\"id\":\"z\",\"size\":1}]}}",
		  "memory.zones" },
		{ "{\"memory\":{\"size\":1,\"hotplug_method\":\"Dimm\"}}", "memory.hotplug_method" },
		{ "{\"cpus\":{\"boot_vcpus\":1,\"kvm_hyperv\":true}}", "cpus.kvm_hyperv" },
		{ "{\"cpus\":{\"boot_vcpus\":1,\"max_phys_bits\":40}}", "cpus.max_phys_bits" },
		{ "{\"cpus\":{\"boot_vcpus\":1,\"nested\":true}}", "cpus.nested" },
		{ "{\"cpus\":{\"boot_vcpus\":1,\"affinity\":[{\"vcpu\":0,\"host_cpus\":[1]}]}}",
		  "cpus.affinity" },
		{ "{\"cpus\":{\"boot_vcpus\":1,\"features\":{\"amx\":true}}}", "cpus.features.amx" },
		{ "{\"balloon\":{\"size\":0}}", "balloon: not supported" },
		{ "{\"generic_vhost_user\":[{\"socket\":\"/s\",\"virtio_id\":1}]}",
		  "generic_vhost_user" },
		{ "{\"pmem\":[{\"file\":\"/f\"}]}", "pmem" },
		{ "{\"devices\":[{\"path\":\"/sys/x\"}]}", "devices" },
		{ "{\"numa\":[{\"guest_numa_id\":0}]}", "numa" },
		{ "{\"iommu\":true}", "iommu: not supported" },
		{ "{\"watchdog\":true}", "watchdog" },
		{ "{\"pvpanic\":true}", "pvpanic" },
		{ "{\"tpm\":{\"socket\":\"/s\"}}", "tpm" },
		{ "{\"landlock_enable\":true}", "landlock_enable" },
		{ "{\"debug_console\":{\"mode\":\"Tty\"}}", "debug_console" },
		{ "{\"rate_limit_groups\":[{\"id\":\"g\"}]}", "rate_limit_groups" },
		{ "{\"platform\":{\"uuid\":\"x\"}}", "platform.uuid" },
		{ "{\"platform\":{\"oem_strings\":[\"a\"]}}", "platform.oem_strings" },
		{ "{\"platform\":{\"tdx\":true}}", "platform.tdx" },
		{ "{\"disks\":[{\"path\":\"/d\",\"image_type\":\"Qcow2\"}]}",
		  "disks[0].image_type" },
		{ "{\"disks\":[{\"path\":\"/d\",\"sparse\":false}]}", "disks[0].sparse" },
		{ "{\"disks\":[{\"path\":\"/d\",\"rate_limit_group\":\"g\"}]}",
		  "disks[0].rate_limit_group" },
		{ "{\"disks\":[{\"path\":\"/d\",\"backing_files\":true}]}", "disks[0].backing_files" },
		{ "{\"rng\":{\"src\":\"/r\",\"iommu\":true}}", "rng.iommu" },
		{ "{\"console\":{\"mode\":\"Off\",\"iommu\":true}}", "console.iommu" },
		{ "{\"serial\":{\"mode\":\"Off\",\"socket\":\"/s\"}}", "serial.socket" },
		{ "{\"vsock\":{\"cid\":3,\"socket\":\"/s\",\"pci_device_id\":5}}",
		  "vsock.pci_device_id" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect_error(refused[i][0], refused[i][1]);
}

/* Defaults and false values ask for nothing: accepted (what generated clients send). */
static void test_defaults_of_unhonoured_accepted(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(from_text(
		"{\"payload\":{\"kernel\":\"/k\"},"
		"\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":4,\"kvm_hyperv\":false,"
		"\"nested\":false,\"affinity\":[],\"features\":{\"amx\":false},"
		"\"core_scheduling\":\"Vm\"},"
		"\"memory\":{\"size\":268435456,\"hotplug_size\":0,\"mergeable\":false,"
		"\"shared\":true,\"hugepages\":false,\"hotplug_method\":\"Acpi\","
		"\"prefault\":false,\"thp\":true,\"zones\":[]},"
		"\"disks\":[{\"path\":\"/d\",\"vhost_user\":false,\"iommu\":false,"
		"\"sparse\":true,\"backing_files\":false,\"image_type\":\"Raw\","
		"\"lock_granularity\":\"ByteRange\"}],"
		"\"rng\":{\"src\":\"/dev/urandom\",\"iommu\":false},"
		"\"console\":{\"mode\":\"Off\",\"iommu\":false},"
		"\"debug_console\":{\"mode\":\"Off\"},\"iommu\":false,\"watchdog\":false,"
		"\"pvpanic\":false,\"landlock_enable\":false,\"fs\":[],\"devices\":[],"
		"\"platform\":{\"num_pci_segments\":1,\"tdx\":false,\"iommu_segments\":[]}}",
		&cfg), 0);
	assert_int_equal(cfg.max_vcpus, 4);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
}

/* max_vcpus and topology: honoured, and inconsistent values refused naming the field. */
static void test_cpus_max_and_topology(void **state)
{
	struct vm_config cfg;
	char *out;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":2,"
				   "\"max_vcpus\":8,\"topology\":{\"threads_per_core\":2,"
				   "\"cores_per_die\":4,\"dies_per_package\":1,\"packages\":1}}}",
				   &cfg), 0);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), 0);
	out = api_config_to_json(&cfg);
	assert_non_null(strstr(out, "\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":8,\"topology\":"
				    "{\"threads_per_core\":2,\"cores_per_die\":4,"
				    "\"dies_per_package\":1,\"packages\":1}}"));
	free(out);
	config_free(&cfg);
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":4,"
		       "\"max_vcpus\":2}}", -EINVAL, "cpus.max_vcpus: 2 is below cpus.boot_vcpus");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":1,"
		       "\"max_vcpus\":255}}", -EINVAL, "cpus.max_vcpus: must be between 1 and 254");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":1,"
		       "\"max_vcpus\":4,\"topology\":{\"threads_per_core\":1,\"cores_per_die\":2,"
		       "\"dies_per_package\":1,\"packages\":1}}}", -EINVAL,
		       "cpus.topology: threads_per_core x cores_per_die x dies_per_package x "
		       "packages is 2, not cpus.max_vcpus (4)");
	/* 3 cores take 2 bits: 80 packages of 3 need APIC IDs up to 318 */
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":1,"
		       "\"max_vcpus\":240,\"topology\":{\"threads_per_core\":1,\"cores_per_die\":3,"
		       "\"dies_per_package\":1,\"packages\":80}}}", -EINVAL,
		       "cpus.topology: its APIC IDs do not fit xAPIC");
	expect_error("{\"cpus\":{\"boot_vcpus\":1,\"topology\":{\"threads_per_core\":0,"
		     "\"cores_per_die\":1,\"dies_per_package\":1,\"packages\":1}}}",
		     "cpus.topology.threads_per_core: must be 1 or more");
	expect_error("{\"cpus\":{\"boot_vcpus\":1,\"topology\":{\"threads_per_core\":1}}}",
		     "cpus.topology.cores_per_die: missing field");
}

static void expect_invalid(const char *text, int ret, const char *msg)
{
	struct vm_config cfg;

	if (from_text(text, &cfg))
		fail_msg("parse: %s", err);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), ret);
	if (!strstr(err, msg))
		fail_msg("'%s' not in '%s'", msg, err);
	config_free(&cfg);
}

/* A vhost_user net with @extra fields (shared memory unless @extra is empty) is refused. */
static void expect_vhost_net(const char *extra, const char *msg)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"payload\":{\"kernel\":\"/k\"}%s,\"net\":[{"
		 "\"vhost_user\":true,\"vhost_socket\":\"/s\"%s}]}",
		 *extra ? ",\"memory\":{\"size\":1073741824,\"shared\":true}" : "", extra);
	expect_invalid(text, -EINVAL, msg);
}

static void test_validation_names_field(void **state)
{
	struct vm_config cfg;

	(void)state;
	assert_int_equal(from_text(full, &cfg), 0);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	expect_invalid("{}", -EINVAL, "payload.kernel: No bootitem provided");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":0}}", -EINVAL,
		       "cpus.boot_vcpus: must be between 1 and 254");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":255}}", -EINVAL,
		       "cpus.boot_vcpus");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":4096}}", -EINVAL,
		       "memory.size");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":4194305}}",
		       -EINVAL, "not a multiple of 4 KiB");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"File\"}}",
		       -EINVAL, "serial.file: required");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"serial\":{\"mode\":\"Tty\"}}",
		       -EINVAL, "serial and console cannot both use the terminal");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"console\":{\"mode\":\"File\"}}",
		       -EINVAL, "console.file: required");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"rng\":{\"src\":\"\"}}",
		       -EINVAL, "rng.src: must not be empty");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{}]}", -EINVAL,
		       "disks[0].path: missing");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\","
		       "\"queue_size\":100}]}", -EINVAL, "disks[0].queue_size");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\","
		       "\"id\":\"__x\"}]}", -EINVAL, "disks[0].id");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\",\"id\":\"x\"},"
		       "{\"path\":\"/b\",\"id\":\"x\"}]}", -EEXIST, "disks[1].id: identifier 'x'");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\"},"
		       "{\"path\":\"/a\"}]}", -EEXIST, "disks[1].path");
}

static void test_ids_and_edits(void **state)
{
	struct vm_config cfg;
	struct disk_config d = { 0 };
	unsigned counter = 0;
	cJSON *j;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\"},"
				   "{\"path\":\"/b\",\"id\":\"_disk1\"},{\"path\":\"/c\"}]}", &cfg), 0);
	assert_int_equal(api_config_assign_ids(&cfg, &counter), 0);
	assert_string_equal(cfg.disks[0].id, "_disk0");
	assert_string_equal(cfg.disks[2].id, "_disk2");   /* _disk1 is taken: skipped */
	assert_int_equal(counter, 3);
	/* add-disk: validated like boot, moved in on success */
	assert_int_equal(api_json_parse("{\"path\":\"/a\"}", 13, &j, err, sizeof(err)), 0);
	assert_int_equal(api_disk_from_json(j, &d, err, sizeof(err)), 0);
	cJSON_Delete(j);
	assert_int_equal(api_config_add_disk(&cfg, &d, err, sizeof(err)), -EEXIST);
	free(d.path);
	d.path = strdup("/d");
	assert_int_equal(api_config_add_disk(&cfg, &d, err, sizeof(err)), 0);
	assert_null(d.path);
	assert_int_equal(cfg.nr_disks, 4);
	assert_int_equal(api_config_remove_device(&cfg, "_disk1"), 0);
	assert_int_equal(api_config_remove_device(&cfg, "_disk1"), -ENOENT);
	assert_int_equal(cfg.nr_disks, 3);
	assert_string_equal(cfg.disks[1].id, "_disk2");
	config_free(&cfg);
}

static void test_net_json(void **state)
{
	struct vm_config cfg;
	struct net_config n;
	unsigned counter = 0;
	char *out;
	cJSON *j;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\"}],"
				   "\"net\":[{\"tap\":\"vtap0\",\"ip\":\"192.0.2.1\",\"mask\":"
				   "\"255.255.255.0\",\"mac\":\"52:54:00:12:34:56\",\"mtu\":1400,"
				   "\"num_queues\":4,\"queue_size\":128,\"vhost_user\":false,"
				   "\"vhost_mode\":\"Client\",\"offload_tso\":false,\"sparse\":1,"
				   "\"rate_limiter_config\":{\"ops\":{\"size\":10,\"refill_time\":100}}},"
				   "{\"tap\":\"\"}]}", &cfg), 0);
	assert_int_equal(cfg.nr_nets, 2);
	assert_string_equal(cfg.nets[0].tap, "vtap0");
	assert_int_equal(cfg.nets[0].mtu, 1400);
	assert_int_equal(cfg.nets[0].num_queues, 4);
	assert_false(cfg.nets[0].offload_tso);
	assert_true(cfg.nets[0].rate_limiter.ops.set && !cfg.nets[0].rate_limiter.bandwidth.set);
	assert_null(cfg.nets[1].tap);                        /* "": create one */
	assert_int_equal(cfg.nets[1].num_queues, 2);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(api_config_assign_ids(&cfg, &counter), 0);
	assert_string_equal(cfg.disks[0].id, "_disk0");
	assert_string_equal(cfg.nets[0].id, "_net1");         /* one counter for all types */
	assert_string_equal(cfg.nets[1].id, "_net2");
	out = api_config_to_json(&cfg);
	assert_non_null(strstr(out, "\"net\":[{\"tap\":\"vtap0\",\"ip\":\"192.0.2.1\""));
	assert_non_null(strstr(out, "\"mac\":\"52:54:00:12:34:56\",\"mtu\":1400"));
	assert_non_null(strstr(out, "\"rate_limiter_config\":{\"ops\":{\"size\":10,"));
	free(out);
	/* add-net: checked like boot; remove-device finds nets too */
	assert_int_equal(api_json_parse("{\"id\":\"_net1\"}", 14, &j, err, sizeof(err)), 0);
	assert_int_equal(api_net_from_json(j, NULL, 0, &n, err, sizeof(err)), 0);
	cJSON_Delete(j);
	assert_int_equal(api_config_add_net(&cfg, &n, err, sizeof(err)), -EEXIST);
	free(n.id);
	n.id = strdup("extra");
	assert_int_equal(api_config_add_net(&cfg, &n, err, sizeof(err)), 0);
	assert_null(n.id);
	assert_int_equal(cfg.nr_nets, 3);
	assert_int_equal(api_config_remove_device(&cfg, "_net1"), 0);
	assert_int_equal(cfg.nr_nets, 2);
	assert_string_equal(cfg.nets[1].id, "extra");
	config_free(&cfg);
	expect_error("{\"net\":[{\"fds\":[3,4]}]}", "net[0].fds: file descriptors cannot travel");
	expect_error("{\"net\":[{\"vhost_user\":1}]}", "net[0].vhost_user");
	expect_error("{\"net\":[{\"rate_limiter_config\":{\"bw\":{}}}]}",
		     "net[0].rate_limiter_config.bw: unknown field");
	expect_error("{\"net\":[{\"mac\":\"nope\"}]}", "net[0].mac: 'nope'");
	expect_error("{\"net\":[{\"vhost_mode\":\"Sideways\"}]}", "net[0].vhost_mode");
	expect_error("{\"net\":{}}", "net: invalid type");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"num_queues\":3}]}",
		       -EINVAL, "net[0].num_queues");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"iommu\":true}]}",
		       -EINVAL, "net[0].iommu");
}

static void test_vm_info_and_ping(void **state)
{
	struct vm_config cfg;
	char *s;
	cJSON *j;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\"}}", &cfg), 0);
	s = api_vm_info_json(&cfg, "Created", 536870912, NULL);
	assert_non_null(strstr(s, "\"state\":\"Created\",\"memory_actual_size\":536870912}"));
	assert_null(strstr(s, "device_tree"));
	free(s);
	s = api_vm_info_json(&cfg, "Paused", 1, cJSON_Parse("{\"_disk0\":{\"id\":\"_disk0\"}}"));
	assert_non_null(strstr(s, "\"state\":\"Paused\""));
	assert_non_null(strstr(s, "\"device_tree\":{\"_disk0\""));
	free(s);
	config_free(&cfg);
	s = api_ping_json();
	assert_int_equal(api_json_parse(s, strlen(s), &j, err, sizeof(err)), 0);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "version")));
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "build_version")));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "pid")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "features")));
	cJSON_Delete(j);
	free(s);
}

static void test_vsock(void **state)
{
	static const char body[] = "{\"cid\":6,\"socket\":\"/s\"}";
	struct vm_config cfg;
	struct vsock_config v = { 0 };
	unsigned counter = 0;
	char *out;
	cJSON *j;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":5,"
				   "\"socket\":\"/tmp/v\",\"iommu\":false}}", &cfg), 0);
	assert_true(cfg.vsock.set);
	assert_int_equal(cfg.vsock.cid, 5);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(api_config_assign_ids(&cfg, &counter), 0);
	assert_string_equal(cfg.vsock.id, "_vsock0");
	out = api_config_to_json(&cfg);
	assert_non_null(strstr(out, "\"vsock\":{\"cid\":5,\"socket\":\"/tmp/v\",\"iommu\":false,"
			       "\"id\":\"_vsock0\",\"pci_segment\":0}"));
	free(out);
	/* add-vsock: one device per VM; remove-device by its id. */
	assert_int_equal(api_json_parse(body, strlen(body), &j, err, sizeof(err)), 0);
	assert_int_equal(api_vsock_from_json(j, &v, err, sizeof(err)), 0);
	cJSON_Delete(j);
	assert_int_equal(api_config_add_vsock(&cfg, &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "already has a vsock device"));
	assert_int_equal(api_config_remove_device(&cfg, "_vsock0"), 0);
	assert_false(cfg.vsock.set);
	assert_int_equal(api_config_add_vsock(&cfg, &v, err, sizeof(err)), 0);
	assert_null(v.socket);
	assert_int_equal(cfg.vsock.cid, 6);
	config_free(&cfg);
	expect_error("{\"vsock\":{\"cid\":3}}", "vsock.socket: missing field");
	expect_error("{\"vsock\":{\"socket\":\"/s\"}}", "vsock.cid: missing field");
	expect_error("{\"vsock\":{\"cid\":3,\"socket\":\"/s\",\"iommu\":true}}",
		     "vsock.iommu: not supported");
	expect_error("{\"vsock\":{\"cid\":\"3\",\"socket\":\"/s\"}}", "vsock.cid");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"vsock\":{\"cid\":1,\"socket\":\"/s\"}}",
		       -EINVAL, "vsock.cid: 1 is outside 3-");
}

/* VmConfig.fs[] (Kata's clh shape), memory.shared, vm.add-fs and remove-device. */
static void test_fs(void **state)
{
	static const char *body = "{\"tag\":\"t2\",\"socket\":\"/s2\",\"num_queues\":2}";
	struct vm_config cfg;
	struct fs_config fs;
	unsigned counter = 0;
	char *out;
	cJSON *j;

	(void)state;
	assert_int_equal(from_text("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":"
				   "1073741824,\"shared\":true},\"fs\":[{\"tag\":\"kataShared\","
				   "\"socket\":\"/run/vfs.sock\",\"num_queues\":1,"
				   "\"queue_size\":1024}]}", &cfg), 0);
	assert_true(cfg.memory_shared);
	assert_int_equal(cfg.nr_fs, 1);
	assert_int_equal(api_config_validate(&cfg, err, sizeof(err)), 0);
	assert_int_equal(api_config_assign_ids(&cfg, &counter), 0);
	assert_string_equal(cfg.fs[0].id, "_fs0");
	out = api_config_to_json(&cfg);
	assert_non_null(strstr(out, "\"shared\":true"));
	assert_non_null(strstr(out, "\"fs\":[{\"tag\":\"kataShared\",\"socket\":\"/run/vfs.sock\","
			       "\"num_queues\":1,\"queue_size\":1024,\"id\":\"_fs0\","
			       "\"pci_segment\":0}]"));
	free(out);
	assert_int_equal(api_json_parse(body, strlen(body), &j, err, sizeof(err)), 0);
	assert_int_equal(api_fs_from_json(j, &fs, err, sizeof(err)), 0);
	cJSON_Delete(j);
	assert_int_equal(api_config_add_fs(&cfg, &fs, err, sizeof(err)), 0);
	assert_null(fs.tag);
	assert_int_equal(cfg.nr_fs, 2);
	assert_int_equal(cfg.fs[1].num_queues, 2);
	assert_int_equal(api_config_remove_device(&cfg, "_fs0"), 0);
	assert_int_equal(cfg.nr_fs, 1);
	assert_string_equal(cfg.fs[0].tag, "t2");
	config_free(&cfg);
	expect_error("{\"fs\":[{\"socket\":\"/s\"}]}", "fs[0].tag: missing field");
	/* vhost-user-net: a socket instead of a tap, shared memory, one pair, Client mode. */
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"vhost_user\":true}]}",
		       -EINVAL, "net[0].vhost_socket: missing");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"net\":[{\"vhost_socket\":\"/s\"}]}",
		       -EINVAL, "net[0].vhost_socket: needs vhost_user");
	expect_vhost_net("", "net[0]: vhost-user devices need");
	expect_vhost_net(",\"tap\":\"t\"", "net[0]: tap, fds");
	expect_vhost_net(",\"vhost_mode\":\"Server\"", "net[0].vhost_mode: Server");
	expect_vhost_net(",\"num_queues\":4", "net[0].num_queues: a vhost_user net");
	/* vhost-user-blk: a socket instead of a path, and shared memory. */
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"vhost_user\":true}]}",
		       -EINVAL, "disks[0].vhost_socket: missing");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"vhost_user\":true,"
		       "\"vhost_socket\":\"/s\"}]}", -EINVAL, "disks[0]: vhost-user devices need");
	expect_error("{\"fs\":[{\"tag\":\"t\"}]}", "fs[0].socket: missing field");
	expect_error("{\"fs\":{\"tag\":\"t\"}}", "fs: invalid type");
	expect_error("{\"memory\":{\"size\":4096,\"shared\":1}}", "memory.shared");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"fs\":[{\"tag\":\"t\","
		       "\"socket\":\"/s\"}]}", -EINVAL, "fs[0]: vhost-user devices need memory.shared");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1073741824,"
		       "\"shared\":true},\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\","
		       "\"pci_segment\":1}]}", -EINVAL, "fs[0].pci_segment: 1 is not below");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1073741824,"
		       "\"shared\":true},\"fs\":[{\"tag\":\"0123456789012345678901234567890123456\","
		       "\"socket\":\"/s\"}]}", -EINVAL, "fs[0].tag: must be 1-36 bytes");
	expect_invalid("{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":1073741824,"
		       "\"shared\":true},\"disks\":[{\"path\":\"/d\",\"id\":\"x\"}],"
		       "\"fs\":[{\"tag\":\"t\",\"socket\":\"/s\",\"id\":\"x\"}]}", -EEXIST,
		       "fs[0].id: identifier 'x' is not unique");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_memory_beyond_2_53),
		cmocka_unit_test(test_defaults_and_omitted),
		cmocka_unit_test(test_unknown_fields_ignored),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_unsupported_refused),
		cmocka_unit_test(test_unhonoured_fields_refused),
		cmocka_unit_test(test_defaults_of_unhonoured_accepted),
		cmocka_unit_test(test_cpus_max_and_topology),
		cmocka_unit_test(test_validation_names_field),
		cmocka_unit_test(test_ids_and_edits),
		cmocka_unit_test(test_net_json),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_fs),
		cmocka_unit_test(test_vm_info_and_ping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
