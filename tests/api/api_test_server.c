// SPDX-License-Identifier: Apache-2.0
/*
 * The API server with the fake VMM, for tests that drive it from outside (curl): serves
 * argv[1] until vmm.shutdown is answered, printing "ready" once it listens.
 */
#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "api/api.h"
#include "tests/api/fake_vmm.h"

int main(int argc, char **argv)
{
	struct api_socket_spec spec = { .fd = -1 };
	struct fake_vmm vmm;
	struct api_server *srv;
	char err[256];
	eventfd_t n;

	if (argc != 2 || api_parse_socket_spec(argv[1], &spec))
		return 2;
	if (api_server_start(&spec, &srv, err, sizeof(err))) {
		fprintf(stderr, "api_test_server: %s\n", err);
		return 1;
	}
	if (fake_vmm_start(&vmm, srv))
		return 1;
	printf("ready\n");
	fflush(stdout);
	while (!__atomic_load_n(&vmm.vmm_shutdown, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = vmm.done_fd, .events = POLLIN };

		if (poll(&p, 1, -1) == 1 && eventfd_read(vmm.done_fd, &n))
			continue;
	}
	fake_vmm_stop(&vmm);
	api_server_stop(srv);
	api_socket_spec_free(&spec);
	return 0;
}
