// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot loader (snapshot/, and the sections' parsers in pci/ and virtio/): the input,
 * after a first byte choosing which, is written as state.json or config.json with a checksum
 * file that matches (so the parsers behind the CRC32C are reached), into a directory of this
 * process's own, and read back as vm.restore reads it: state.json's shape, then the VM and
 * vCPU sections, the allocators, and a virtio-pci function's pci, msix and virtio sections
 * (device "fuzz0"); config.json as a VmConfig with its restore-time checks.
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "api/api.h"
#include "config/config.h"
#include "snapshot/snapshot.h"
#define FV_OWN_INIT
#include "tests/fuzz/fuzz_vpci.h"

static char dir[64];
static int dirfd = -1;

static void cleanup(void)
{
	static const char *const names[] = { SNAP_STATE_FILE, SNAP_CHECKSUM_FILE, SNAP_CONFIG_FILE,
					     SNAP_CONFIG_CHECKSUM_FILE };

	for (unsigned i = 0; i < 4; i++)
		unlinkat(dirfd, names[i], 0);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fv_init();
	/* On tmpfs where there is one: on a disk file system each input is written out to disk
	 * (ext4 flushes a file truncated and rewritten), about two thirds of the time per input. */
	snprintf(dir, sizeof(dir), "%s/vireo-fuzz-snap-XXXXXX",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir) || (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

static void put(const char *name, const uint8_t *data, size_t size)
{
	char sum[64], crcname[64];
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd))
		abort();
	snprintf(sum, sizeof(sum), "crc32c 0x%08x size %zu\n", snap_crc32c(0, data, size), size);
	snprintf(crcname, sizeof(crcname), "%s.crc32c", name);
	fd = openat(dirfd, crcname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, sum, strlen(sum)) != (ssize_t)strlen(sum) || close(fd))
		abort();
}

static void allocators(const cJSON *st, char *err, size_t errlen)
{
	static const char *const names[] = { "mmio32", "mmio64", "io_ports" };
	struct range_alloc a;
	struct gsi_alloc g;

	for (unsigned i = 0; i < 3; i++) {
		if (range_alloc_init(&a, names[i], 0xc0000000, 0x10000000))
			abort();
		range_alloc_restore(&a, snap_state_allocator(st, names[i]), err, errlen);
		range_alloc_destroy(&a);
	}
	gsi_alloc_init(&g);
	gsi_alloc_restore(&g, snap_state_allocator(st, "gsis"), err, errlen);
}

/* The sections in vm/pci_devices_state.c's order, each only once the one before passed. */
static void device(const cJSON *dev, char *err, size_t errlen)
{
	const cJSON *pci = cJSON_GetObjectItemCaseSensitive(dev, "pci"),
		    *msix = cJSON_GetObjectItemCaseSensitive(dev, "msix"),
		    *virtio = cJSON_GetObjectItemCaseSensitive(dev, "virtio");

	if (!dev)
		return;
	fv_up();
	if (!pci_dev_restore(&fv.vp.pci, pci, err, errlen) &&
	    !msix_restore(&fv.vp.msix, msix, err, errlen))
		virtio_pci_restore(&fv.vp, virtio, err, errlen);
	fv_down();
}

static void state(const uint8_t *data, size_t size)
{
	struct snap_vcpu vcpu;
	struct snap_vm vm;
	char err[512], where[24];
	cJSON *st;

	put(SNAP_STATE_FILE, data, size);
	if (snap_state_read(dirfd, &st, err, sizeof(err)))
		return;
	snap_vm_from_json(snap_state_vm(st), &vm, err, sizeof(err));
	for (unsigned i = 0; i < snap_state_nr_vcpus(st); i++) {
		snprintf(where, sizeof(where), "vcpus[%u]", i);
		if (!snap_vcpu_from_json(snap_state_vcpu(st, i), where, &vcpu, err, sizeof(err)))
			snap_vcpu_free(&vcpu);
	}
	allocators(st, err, sizeof(err));
	device(snap_state_device(st, "fuzz0"), err, sizeof(err));
	cJSON_Delete(st);
}

/* As vmm/requests.c's read_snapshot_config. */
static void config(const uint8_t *data, size_t size)
{
	struct vm_config cfg = { 0 };
	char *text, err[512];
	cJSON *json = NULL;
	size_t len;

	put(SNAP_CONFIG_FILE, data, size);
	if (snap_config_read(dirfd, &text, &len, err, sizeof(err)))
		return;
	if (!api_json_parse(text, len, &json, err, sizeof(err)) &&
	    !api_config_from_snapshot_json(json, &cfg, err, sizeof(err)) &&
	    !config_substitute_net_fds(&cfg, NULL, 0, err, sizeof(err)))
		api_config_validate(&cfg, err, sizeof(err));
	cJSON_Delete(json);
	config_free(&cfg);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		config(data + 1, size - 1);
	else
		state(data + 1, size - 1);
	return 0;
}
