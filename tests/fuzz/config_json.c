// SPDX-License-Identifier: Apache-2.0
/*
 * The JSON side of the API and of a snapshot's config.json (api/json.c, api/config_json.c,
 * api/config_out.c): the strict parser, then by the first byte a VmConfig (as vm.create, or
 * as a snapshot's config.json), a DiskConfig, a NetConfig or a VsockConfig. A VmConfig that
 * passes validation must survive the trip vm.info and vm.snapshot make: printed, parsed and
 * validated again, it is accepted.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "config/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_quiet();
	return 0;
}

/* Printed and read back, an accepted config is accepted again. */
static void round_trip(const struct vm_config *cfg)
{
	char *text = api_config_to_json(cfg), err[512];
	struct vm_config again = { 0 };
	cJSON *json = NULL;

	if (!text)
		abort();
	if (api_json_parse(text, strlen(text), &json, err, sizeof(err)) ||
	    api_config_from_snapshot_json(json, &again, err, sizeof(err)) ||
	    api_config_validate(&again, err, sizeof(err))) {
		fprintf(stderr, "round trip refused: %s\n%s\n", err, text);
		abort();
	}
	cJSON_Delete(json);
	config_free(&again);
	free(text);
}

static void vm_config(const cJSON *json, bool snapshot)
{
	struct vm_config cfg = { 0 };
	char err[512];

	if (!(snapshot ? api_config_from_snapshot_json(json, &cfg, err, sizeof(err))
		       : api_config_from_json(json, &cfg, err, sizeof(err))) &&
	    !api_config_validate(&cfg, err, sizeof(err)))
		round_trip(&cfg);
	config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk_config disk = { 0 };
	struct net_config net;
	struct vsock_config vs = { 0 };
	cJSON *json = NULL;
	char err[512];

	if (!size || api_json_parse((const char *)data + 1, size - 1, &json, err, sizeof(err)))
		return 0;
	switch (data[0] % 5) {
	case 0: case 1:
		vm_config(json, data[0] % 5);
		break;
	case 2:
		api_disk_from_json(json, &disk, err, sizeof(err));
		api_disk_config_free(&disk);
		break;
	case 3:
		config_net_defaults(&net);
		if (!api_net_from_json(json, NULL, 0, &net, err, sizeof(err)))
			config_net_free(&net);
		break;
	default:
		api_vsock_from_json(json, &vs, err, sizeof(err));
		config_vsock_free(&vs);
	}
	cJSON_Delete(json);
	return 0;
}
