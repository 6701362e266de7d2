/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for the VMM thread: answers the API queue with CH's state machine, keeps the
 * config, publishes vm.info. Used by the socket tests and by the curl script's server.
 */
#ifndef VIREO_TESTS_API_FAKE_VMM_H
#define VIREO_TESTS_API_FAKE_VMM_H

#include <pthread.h>
#include <stdbool.h>

#include "api/api.h"
#include "vmm/state.h"

struct fake_vmm {
	struct api_server *srv;
	pthread_t thread;
	int stop_fd;               /* eventfd: ends the thread */
	int gate_fd;               /* eventfd: when armed, vm.boot waits for it to be written */
	bool gate_armed;
	bool vmm_shutdown;         /* set once vmm.shutdown was answered */
	int done_fd;               /* eventfd written after each completed request */
	int entered_fd;            /* eventfd written when vm.boot starts waiting on the gate */
	bool srv_gone;             /* set (atomically) once the server was stopped */
	struct vm_config cfg;
	bool have_cfg;
	enum vm_state state;
	unsigned id_counter;
	unsigned handled;
};

int fake_vmm_start(struct fake_vmm *v, struct api_server *srv);
void fake_vmm_stop(struct fake_vmm *v);

#endif
