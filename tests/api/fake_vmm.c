// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tests/api/fake_vmm.h"
#include "vmm/state.h"

/* The answer to send once vm.info shows the new state. */
struct answer {
	int status;
	char *body;
};

static void answer(struct answer *a, int status, char *body)
{
	a->status = status;
	a->body = body;
}

static void publish(struct fake_vmm *v)
{
	char *info = NULL;

	if (v->have_cfg)
		info = api_vm_info_json(&v->cfg, vm_state_name(v->state), v->cfg.memory_size,
					v->state == VM_STATE_CREATED ? NULL : cJSON_CreateObject());
	api_server_publish_info(v->srv, info);
	free(info);
}

static void wait_gate(struct fake_vmm *v)
{
	struct pollfd p[2] = { { .fd = v->gate_fd, .events = POLLIN },
			       { .fd = v->stop_fd, .events = POLLIN } };
	uint64_t n;

	if (!v->gate_armed)
		return;
	if (eventfd_write(v->entered_fd, 1))
		abort();
	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	if (p[0].revents && read(v->gate_fd, &n, sizeof(n)) != sizeof(n))
		abort();
	v->gate_armed = false;
}

static void do_boot(struct fake_vmm *v, struct answer *a)
{
	char err[512];
	int ret = api_config_validate(&v->cfg, err, sizeof(err));

	wait_gate(v);
	if (ret) {
		answer(a, ret == -EEXIST ? 409 : 400, api_error_json("Error from API",
		       "The VM could not boot", "Invalid VmConfig", err, NULL));
		return;
	}
	api_config_assign_ids(&v->cfg, &v->id_counter);
	v->state = VM_STATE_RUNNING;
	answer(a, 204, NULL);
}

static void do_config_edit(struct fake_vmm *v, struct api_request *req, struct answer *a)
{
	char err[512];
	int ret;

	if (req->action == API_VM_ADD_DISK) {
		ret = api_config_add_disk(&v->cfg, req->disk, err, sizeof(err));
		if (ret)
			answer(a, ret == -EEXIST ? 409 : 400, api_error_json("Error from API",
			       "The disk could not be added to the VM", err, NULL));
		else
			answer(a, 204, NULL);
		return;
	}
	if (req->action == API_VM_ADD_NET) {
		ret = api_config_add_net(&v->cfg, req->net, err, sizeof(err));
		answer(a, ret ? (ret == -EEXIST ? 409 : 400) : 204, ret ? api_error_json(
		       "Error from API", "The network device could not be added to the VM", err,
		       NULL) : NULL);
		return;
	}
	if (api_config_remove_device(&v->cfg, req->device_id)) {
		snprintf(err, sizeof(err), "No device with id \"%s\" to remove", req->device_id);
		answer(a, 404, api_error_json("Error from API",
		       "The device could not be removed from the VM", err, NULL));
		return;
	}
	answer(a, 204, NULL);
}

static void drop_config(struct fake_vmm *v)
{
	if (v->have_cfg)
		config_free(&v->cfg);
	v->have_cfg = false;
	v->state = VM_STATE_NONE;
}

static void act(struct fake_vmm *v, struct api_request *req, struct answer *a)
{
	switch (req->action) {
	case API_VM_CREATE:
		v->cfg = *req->config;      /* take ownership of the contents */
		free(req->config);
		req->config = NULL;
		v->have_cfg = true;
		v->state = VM_STATE_CREATED;
		answer(a, 204, NULL);
		break;
	case API_VM_BOOT:
		do_boot(v, a);
		break;
	case API_VM_PAUSE:
	case API_VM_RESUME:
		v->state = req->action == API_VM_PAUSE ? VM_STATE_PAUSED : VM_STATE_RUNNING;
		answer(a, 204, NULL);
		break;
	case API_VM_SHUTDOWN:
		v->state = VM_STATE_CREATED;
		answer(a, 204, NULL);
		break;
	case API_VM_COUNTERS:
		answer(a, 200, strdup("{\"_disk0\":{\"read_bytes\":0}}"));
		break;
	case API_VM_DELETE:
	case API_VMM_SHUTDOWN:
		drop_config(v);
		v->vmm_shutdown = req->action == API_VMM_SHUTDOWN;
		/* CH quirk: vmm.shutdown answers 200 with an empty body. */
		answer(a, req->action == API_VMM_SHUTDOWN ? 200 : 204, NULL);
		break;
	case API_VM_ADD_DISK:
	case API_VM_ADD_NET:
	case API_VM_REMOVE_DEVICE:
		do_config_edit(v, req, a);
		break;
	default:
		answer(a, 204, NULL);
		break;
	}
}

/*
 * vm.info is published before the answer goes out, so a client that got the answer to a
 * state change never reads the old state afterwards (the order the real VMM must keep).
 */
static void handle(struct fake_vmm *v, struct api_request *req)
{
	char body[512];
	struct answer a = { 0 };
	int status = vmm_check_action(req->action, v->state, body, sizeof(body));

	if (status)
		answer(&a, status, strdup(body));
	else
		act(v, req, &a);
	if (!__atomic_load_n(&v->srv_gone, __ATOMIC_ACQUIRE))
		publish(v);   /* after a stop: only api_request_complete is allowed */
	api_request_complete(req, a.status, a.body);
	free(a.body);
	v->handled++;
	if (eventfd_write(v->done_fd, 1))
		abort();
}

static void *run(void *arg)
{
	struct fake_vmm *v = arg;
	struct pollfd p[2] = { { .fd = api_server_eventfd(v->srv), .events = POLLIN },
			       { .fd = v->stop_fd, .events = POLLIN } };
	struct api_request *req;

	for (;;) {
		if (__atomic_load_n(&v->srv_gone, __ATOMIC_ACQUIRE))
			p[0].fd = -1;   /* the queue's eventfd may be gone */
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			abort();
		if (p[1].revents)
			return NULL;
		while (!__atomic_load_n(&v->srv_gone, __ATOMIC_ACQUIRE) &&
		       (req = api_server_next_request(v->srv)))
			handle(v, req);
	}
}

int fake_vmm_start(struct fake_vmm *v, struct api_server *srv)
{
	memset(v, 0, sizeof(*v));
	v->srv = srv;
	v->state = VM_STATE_NONE;
	v->stop_fd = eventfd(0, EFD_CLOEXEC);
	v->gate_fd = eventfd(0, EFD_CLOEXEC);
	v->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->entered_fd = eventfd(0, EFD_CLOEXEC);
	if (v->stop_fd < 0 || v->gate_fd < 0 || v->done_fd < 0 || v->entered_fd < 0)
		return -errno;
	return -pthread_create(&v->thread, NULL, run, v);
}

void fake_vmm_stop(struct fake_vmm *v)
{
	uint64_t one = 1;

	if (write(v->stop_fd, &one, sizeof(one)) != sizeof(one) ||
	    write(v->gate_fd, &one, sizeof(one)) != sizeof(one))
		abort();
	pthread_join(v->thread, NULL);
	drop_config(v);
	close(v->stop_fd);
	close(v->gate_fd);
	close(v->done_fd);
	close(v->entered_fd);
}
