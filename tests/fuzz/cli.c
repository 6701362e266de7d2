// SPDX-License-Identifier: Apache-2.0
/*
 * vireo's command line (config/): the input split at NUL bytes into arguments after "vireo",
 * parsed over Cloud Hypervisor's defaults, then validated as before a boot; and, by the
 * arguments' own parsers, --restore's net_fds list. Nothing is opened: the parsers only parse.
 */
#include <stdlib.h>

#include "config/config.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2], err[512];
	struct vm_config cfg = { 0 };
	struct vmm_options opts = { 0 };
	struct net_fds_subst *subst = NULL;
	unsigned nr = 0;
	int argc = 1;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "vireo";
	for (char *p = buf; p < buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	if (!config_parse_cli(argc, argv, &cfg, &opts, err, sizeof(err)))   /* defaults first */
		config_validate(&cfg, err, sizeof(err));
	if (!config_parse_net_fds(buf, &subst, &nr, err, sizeof(err)))
		config_net_fds_free(subst, nr);
	config_free(&cfg);
	vmm_options_free(&opts);
	free(buf);
	return 0;
}
