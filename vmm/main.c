// SPDX-License-Identifier: Apache-2.0
/* vireo's entry point: parse the command line and hand over to the VMM loop (vmm/vmm.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/log.h"
#include "vmm/vmm.h"

int main(int argc, char **argv)
{
	struct vm_config *cfg = calloc(1, sizeof(*cfg));
	struct vmm_options opts;
	struct vmm *vmm = NULL;
	char err[512];
	int ret = 1;

	if (!cfg) {
		fputs("vireo: error: out of memory\n", stderr);
		return 1;
	}
	if (config_parse_cli(argc, argv, cfg, &opts, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: %s\n", err);
		goto out;
	}
	if (opts.help || opts.version) {
		fputs(opts.help ? config_usage : "vireo v" VIREO_VERSION "\n", stdout);
		ret = 0;
		goto out;
	}
	log_set_level((enum log_level)(LOG_WARN + opts.verbosity));
	if (opts.log_file && log_open_file(opts.log_file, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: --log-file: %s\n", err);
		goto out;
	}
	if (vmm_setup_seccomp(opts.seccomp, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: %s\n", err);
		goto out;
	}
	/* Without --kernel, an --api-socket VMM waits for vm.create; otherwise a kernel is due. */
	if ((cfg->kernel || (!opts.api_socket && !opts.restore.source_url)) &&
	    config_validate(cfg, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: %s\n", err);
		goto out;
	}
	if (vmm_create(&opts, cfg->kernel ? cfg : NULL, &vmm, err, sizeof(err))) {
		fprintf(stderr, "vireo: error: %s\n", err);
		goto out;
	}
	if (cfg->kernel)
		cfg = NULL;   /* the VMM owns it now */
	ret = vmm_run(vmm);
out:
	vmm_destroy(vmm);
	if (cfg) {
		config_free(cfg);
		free(cfg);
	}
	vmm_options_free(&opts);
	log_close_file();
	return ret;
}
