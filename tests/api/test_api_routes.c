// SPDX-License-Identifier: Apache-2.0
/* api/routes.c: the route table, request bodies, and CH's state machine and answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "vmm/state.h"

static const struct {
	const char *path, *method;
	enum api_action action;
	enum api_body_rule body;
} expected[] = {
	{ "/api/v1/vmm.ping", "GET", API_VMM_PING, BODY_IGNORED },
	{ "/api/v1/vmm.shutdown", "PUT", API_VMM_SHUTDOWN, BODY_NONE },
	{ "/api/v1/vm.create", "PUT", API_VM_CREATE, BODY_REQUIRED },
	{ "/api/v1/vm.delete", "PUT", API_VM_DELETE, BODY_NONE },
	{ "/api/v1/vm.boot", "PUT", API_VM_BOOT, BODY_NONE },
	{ "/api/v1/vm.info", "GET", API_VM_INFO, BODY_IGNORED },
	{ "/api/v1/vm.counters", "GET", API_VM_COUNTERS, BODY_IGNORED },
	{ "/api/v1/vm.pause", "PUT", API_VM_PAUSE, BODY_NONE },
	{ "/api/v1/vm.resume", "PUT", API_VM_RESUME, BODY_NONE },
	{ "/api/v1/vm.shutdown", "PUT", API_VM_SHUTDOWN, BODY_NONE },
	{ "/api/v1/vm.reboot", "PUT", API_VM_REBOOT, BODY_NONE },
	{ "/api/v1/vm.power-button", "PUT", API_VM_POWER_BUTTON, BODY_NONE },
	{ "/api/v1/vm.add-disk", "PUT", API_VM_ADD_DISK, BODY_REQUIRED },
	{ "/api/v1/vm.add-net", "PUT", API_VM_ADD_NET, BODY_REQUIRED },
	{ "/api/v1/vm.remove-device", "PUT", API_VM_REMOVE_DEVICE, BODY_REQUIRED },
	{ "/api/v1/vm.snapshot", "PUT", API_VM_SNAPSHOT, BODY_REQUIRED },
	{ "/api/v1/vm.restore", "PUT", API_VM_RESTORE, BODY_REQUIRED },
	{ "/api/v1/vm.add-vsock", "PUT", API_VM_ADD_VSOCK, BODY_REQUIRED },
	{ "/api/v1/vm.resize", "PUT", API_VM_RESIZE, BODY_REQUIRED },
	{ "/api/v1/vm.add-fs", "PUT", API_VM_ADD_FS, BODY_REQUIRED },
};

#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static void test_every_route(void **state)
{
	(void)state;
	for (unsigned i = 0; i < N_EXPECTED; i++) {
		const struct api_route *r = api_route_find(expected[i].path);

		assert_non_null(r);
		assert_string_equal(r->method, expected[i].method);
		assert_int_equal(r->action, expected[i].action);
		assert_int_equal(r->body, expected[i].body);
		assert_string_equal(api_route_path(i), expected[i].path);
		assert_string_equal(api_route_method(i), expected[i].method);
	}
	assert_null(api_route_path(N_EXPECTED));
	assert_null(api_route_method(N_EXPECTED));
}

static void test_unknown_paths(void **state)
{
	static const char *const bad[] = {
		"/", "", "/api/v1", "/api/v1/", "/api/v1/vm", "/api/v1/vm.boot/", "/api/v1/VM.BOOT",
		"/api/v2/vm.boot", "api/v1/vm.boot", "/api/v1/vm.boot?x", "//api/v1/vm.boot",
		"/api/v1/vm.nmi", "/api/v1/vm.coredump", "/api/v1/vm.boot\xff",
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(api_route_find(bad[i]));
}

static void test_state_names_and_transitions(void **state)
{
	/* CH's VmState::valid_transition, row by row */
	static const bool valid[6][6] = {
		[VM_STATE_CREATED] = { [VM_STATE_RUNNING] = 1, [VM_STATE_PAUSED] = 1,
					[VM_STATE_SHUTDOWN] = 1, [VM_STATE_BREAKPOINT] = 1 },
		[VM_STATE_RUNNING] = { [VM_STATE_PAUSED] = 1, [VM_STATE_SHUTDOWN] = 1,
					[VM_STATE_BREAKPOINT] = 1 },
		[VM_STATE_PAUSED] = { [VM_STATE_RUNNING] = 1, [VM_STATE_SHUTDOWN] = 1 },
		[VM_STATE_SHUTDOWN] = { [VM_STATE_RUNNING] = 1 },
		[VM_STATE_BREAKPOINT] = { [VM_STATE_CREATED] = 1, [VM_STATE_RUNNING] = 1 },
	};

	(void)state;
	for (int f = VM_STATE_NONE; f <= VM_STATE_BREAKPOINT; f++)
		for (int t = VM_STATE_NONE; t <= VM_STATE_BREAKPOINT; t++)
			assert_int_equal(vm_state_transition_valid(f, t), valid[f][t]);
	assert_null(vm_state_name(VM_STATE_NONE));
	assert_string_equal(vm_state_name(VM_STATE_CREATED), "Created");
	assert_string_equal(vm_state_name(VM_STATE_RUNNING), "Running");
	assert_string_equal(vm_state_name(VM_STATE_SHUTDOWN), "Shutdown");
	assert_string_equal(vm_state_name(VM_STATE_PAUSED), "Paused");
	assert_string_equal(vm_state_name(VM_STATE_BREAKPOINT), "BreakPoint");
}

#define N VM_STATE_NONE
#define C VM_STATE_CREATED
#define R VM_STATE_RUNNING
#define P VM_STATE_PAUSED
#define B VM_STATE_BREAKPOINT

/* CH's answers: status per action for states none, Created, Running, Paused, BreakPoint. */
static const struct {
	enum api_action a;
	int status[5];
	const char *root_none;     /* root cause in the "none" column, when it fails */
} table[] = {
	{ API_VMM_PING,         {   0,   0,   0,   0,   0 }, NULL },
	{ API_VMM_SHUTDOWN,     {   0,   0,   0,   0,   0 }, NULL },
	{ API_VM_CREATE,        {   0, 500, 500, 500, 500 }, NULL },
	{ API_VM_DELETE,        {   0,   0,   0,   0,   0 }, NULL },
	{ API_VM_BOOT,          { 404,   0, 500, 500, 500 }, "VM config is missing" },
	{ API_VM_INFO,          { 404,   0,   0,   0,   0 }, "VM is not created" },
	{ API_VM_COUNTERS,      { 500, 500,   0,   0,   0 }, "VM is not running" },
	{ API_VM_PAUSE,         { 500, 500,   0, 500, 500 }, "VM is not running" },
	{ API_VM_RESUME,        { 500, 500, 500,   0,   0 }, "VM is not running" },
	{ API_VM_SHUTDOWN,      { 500, 500,   0,   0, 500 }, "VM is not running" },
	{ API_VM_REBOOT,        { 404, 404,   0,   0,   0 }, "VM is not created" },
	{ API_VM_POWER_BUTTON,  { 500, 500,   0,   0,   0 }, "VM is not running" },
	{ API_VM_ADD_DISK,      { 404,   0,   0,   0, 500 }, "VM is not created" },
	{ API_VM_ADD_NET,       { 404,   0,   0,   0, 500 }, "VM is not created" },
	{ API_VM_REMOVE_DEVICE, { 404,   0,   0,   0, 500 }, "VM is not created" },
	{ API_VM_SNAPSHOT,      { 500, 500, 500,   0, 500 }, "VM is not running" },
	{ API_VM_RESTORE,       {   0, 500, 500, 500, 500 }, NULL },
	{ API_VM_ADD_VSOCK,     { 404,   0,   0,   0, 500 }, "VM is not created" },
	{ API_VM_RESIZE,        { 404,   0,   0,   0,   0 }, "VM is not created" },
	{ API_VM_ADD_FS,        { 404,   0,   0,   0, 500 }, "VM is not created" },
};

static void test_action_table(void **state)
{
	static const enum vm_state states[5] = { N, C, R, P, B };
	char body[512];

	(void)state;
	assert_int_equal(sizeof(table) / sizeof(table[0]), API_ACTION_COUNT);
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		for (unsigned s = 0; s < 5; s++) {
			char *json;
			cJSON *j;

			body[0] = '\0';
			assert_int_equal(vmm_check_action(table[i].a, states[s], body, sizeof(body)),
					 table[i].status[s]);
			if (!table[i].status[s])
				continue;
			/* every refusal is CH's shape: an array of strings, "Error from API" first */
			assert_int_equal(api_json_parse(body, strlen(body), &j, body, 0), 0);
			assert_true(cJSON_IsArray(j));
			assert_true(cJSON_GetArraySize(j) >= 3);
			assert_string_equal(cJSON_GetArrayItem(j, 0)->valuestring, "Error from API");
			json = cJSON_GetArrayItem(j, cJSON_GetArraySize(j) - 1)->valuestring;
			if (s == 0 && table[i].root_none)
				assert_string_equal(json, table[i].root_none);
			cJSON_Delete(j);
		}
	}
}

static void test_quirk_bodies(void **state)
{
	char body[512];

	(void)state;
	assert_int_equal(vmm_check_action(API_VM_PAUSE, P, body, sizeof(body)), 500);
	assert_string_equal(body, "[\"Error from API\",\"The VM could not be paused\","
			    "\"Cannot pause VM\",\"Invalid transition: "
			    "InvalidStateTransition(Paused, Paused)\"]");
	assert_int_equal(vmm_check_action(API_VM_RESUME, R, body, sizeof(body)), 500);
	assert_non_null(strstr(body, "InvalidStateTransition(Running, Running)"));
	assert_int_equal(vmm_check_action(API_VM_CREATE, C, body, sizeof(body)), 500);
	assert_string_equal(body, "[\"Error from API\",\"The VM could not be created\","
			    "\"VM is already created\"]");
	assert_int_equal(vmm_check_action(API_VM_BOOT, N, body, sizeof(body)), 404);
	assert_string_equal(body, "[\"Error from API\",\"The VM could not boot\","
			    "\"VM config is missing\"]");
	/* a short buffer truncates, never overflows */
	assert_int_equal(vmm_check_action(API_VM_BOOT, N, body, 8), 404);
	assert_int_equal(strlen(body), 7);
}

static int parse_body(enum api_action a, const char *path, const char *text,
		      struct api_request **out, char **err)
{
	const struct api_route *r = api_route_find(path);
	struct api_request *req = api_request_new(a);
	int status = api_route_parse_body(r, text, strlen(text), req, err);

	*out = req;
	return status;
}

/* A restore body parsed with @n descriptors riding along (here: pipe write ends). */
static int parse_with_fds(const char *text, const int *fds, unsigned n, struct api_request **out,
			  char **err)
{
	const struct api_route *r = api_route_find("/api/v1/vm.restore");
	struct api_request *req = api_request_new(API_VM_RESTORE);

	req->fds = malloc(n * sizeof(int));
	memcpy(req->fds, fds, n * sizeof(int));
	req->nr_fds = n;
	*out = req;
	return api_route_parse_body(r, text, strlen(text), req, err);
}

static bool hung_up(int rd)
{
	struct pollfd p = { rd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* RestoreConfig.net_fds splits the request's fds by net id, in order; a bad one closes them. */
static void test_restore_net_fds(void **state)
{
	int p[3][2], fds[3];
	struct api_request *req;
	char *err;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pipe(p[i]), 0);
		fds[i] = p[i][1];
	}
	assert_int_equal(parse_with_fds("{\"source_url\":\"file:///s\",\"net_fds\":[{\"id\":"
					"\"a\",\"num_fds\":2},{\"id\":\"b\",\"num_fds\":1}]}", fds, 3,
					&req, &err), 0);
	assert_int_equal(req->restore.nr_net_fds, 2);
	assert_string_equal(req->restore.net_fds[0].id, "a");
	assert_int_equal(req->restore.net_fds[0].nr_fds, 2);
	assert_int_equal(req->restore.net_fds[0].fds[1], fds[1]);
	assert_int_equal(req->restore.net_fds[1].fds[0], fds[2]);
	assert_int_equal(req->nr_fds, 0);
	assert_false(hung_up(p[0][0]));
	api_request_discard(req);                 /* never used: closed */
	for (int i = 0; i < 3; i++)
		assert_true(hung_up(p[i][0]));
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		assert_int_equal(pipe(p[i]), 0);
		fds[i] = p[i][1];
	}
	assert_int_equal(parse_with_fds("{\"source_url\":\"file:///s\",\"net_fds\":[{\"id\":"
					"\"a\",\"num_fds\":2}]}", fds, 3, &req, &err), 400);
	assert_non_null(strstr(err, "net_fds: names 2 file descriptors, 3 came"));
	free(err);
	for (int i = 0; i < 3; i++)
		assert_true(hung_up(p[i][0]));      /* a failed request closes what it brought */
	api_request_discard(req);
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		assert_int_equal(pipe(p[i]), 0);
		fds[i] = p[i][1];
	}
	assert_int_equal(parse_with_fds("{\"source_url\":\"file:///s\",\"net_fds\":[{\"id\":"
					"\"a\",\"num_fds\":4}]}", fds, 3, &req, &err), 400);
	assert_non_null(strstr(err, "net_fds[0].num_fds: 3 file descriptors came"));
	free(err);
	api_request_discard(req);
	for (int i = 0; i < 3; i++) {
		assert_true(hung_up(p[i][0]));
		close(p[i][0]);
	}
}

static void test_bodies(void **state)
{
	struct api_request *req;
	char *err;

	(void)state;
	assert_int_equal(parse_body(API_VM_CREATE, "/api/v1/vm.create",
				    "{\"payload\":{\"kernel\":\"/k\"}}", &req, &err), 0);
	assert_string_equal(req->config->kernel, "/k");
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_CREATE, "/api/v1/vm.create", "{\"cpus\":[]}", &req,
				    &err), 400);
	assert_string_equal(err, "[\"Failed to deserialize JSON\","
			    "\"cpus: invalid type: expected an object\"]");
	assert_null(req->config);
	api_request_discard(req);
	free(err);
	assert_int_equal(parse_body(API_VM_CREATE, "/api/v1/vm.create", "{\"a\":", &req, &err),
			 400);
	assert_non_null(strstr(err, "Failed to deserialize JSON"));
	api_request_discard(req);
	free(err);
	assert_int_equal(parse_body(API_VM_ADD_DISK, "/api/v1/vm.add-disk",
				    "{\"path\":\"/x\",\"readonly\":true}", &req, &err), 0);
	assert_string_equal(req->disk->path, "/x");
	assert_true(req->disk->readonly);
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_REMOVE_DEVICE, "/api/v1/vm.remove-device",
				    "{\"id\":\"_disk0\"}", &req, &err), 0);
	assert_string_equal(req->device_id, "_disk0");
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_REMOVE_DEVICE, "/api/v1/vm.remove-device", "{}", &req,
				    &err), 400);
	assert_non_null(strstr(err, "id: missing field"));
	api_request_discard(req);
	free(err);
}

/* VmResize: desired_vcpus taken; the memory fields and bad counts refused by name. */
static void test_resize_bodies(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"desired_vcpus\":0}", "desired_vcpus: must be 1 or more" },
		{ "{\"desired_vcpus\":256}", "desired_vcpus: 256 is out of range" },
		{ "{\"desired_vcpus\":\"2\"}", "desired_vcpus: invalid type" },
		{ "{\"desired_vcpus\":2,\"desired_ram\":1073741824}",
		  "desired_ram: not supported by vireo (no memory hotplug)" },
		{ "{\"desired_balloon\":0}", "desired_balloon: not supported by vireo" },
		{ "[]", "expected a VmResize object" },
	};
	struct api_request *req;
	char *err;

	(void)state;
	assert_int_equal(parse_body(API_VM_RESIZE, "/api/v1/vm.resize", "{\"desired_vcpus\":3}",
				    &req, &err), 0);
	assert_true(req->resize.has_vcpus);
	assert_int_equal(req->resize.desired_vcpus, 3);
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_RESIZE, "/api/v1/vm.resize", "{}", &req, &err), 0);
	assert_false(req->resize.has_vcpus);           /* nothing asked: 204, nothing done */
	api_request_discard(req);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_body(API_VM_RESIZE, "/api/v1/vm.resize", bad[i][0], &req,
					    &err), 400);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s' not in '%s'", bad[i][1], err);
		api_request_discard(req);
		free(err);
	}
}

static void test_snapshot_bodies(void **state)
{
	struct api_request *req;
	char *err;

	(void)state;
	assert_int_equal(parse_body(API_VM_SNAPSHOT, "/api/v1/vm.snapshot",
				    "{\"destination_url\":\"file:///s\"}", &req, &err), 0);
	assert_string_equal(req->url, "file:///s");
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_SNAPSHOT, "/api/v1/vm.snapshot", "{}", &req, &err), 400);
	assert_non_null(strstr(err, "destination_url: missing field"));
	api_request_discard(req);
	free(err);
	assert_int_equal(parse_body(API_VM_RESTORE, "/api/v1/vm.restore",
				    "{\"source_url\":\"file:///s\"}", &req, &err), 0);
	assert_string_equal(req->url, "file:///s");
	assert_false(req->restore.prefault || req->restore.resume);
	assert_int_equal(req->restore.memory_mode, API_RESTORE_ONDEMAND);
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_RESTORE, "/api/v1/vm.restore",
				    "{\"source_url\":\"file:///s\",\"prefault\":true,\"resume\":true,"
				    "\"memory_restore_mode\":\"Copy\"}", &req, &err), 0);
	assert_true(req->restore.prefault && req->restore.resume);
	assert_int_equal(req->restore.memory_mode, API_RESTORE_COPY);
	api_request_discard(req);
	assert_int_equal(parse_body(API_VM_RESTORE, "/api/v1/vm.restore",
				    "{\"source_url\":\"file:///s\",\"memory_restore_mode\":\"Fast\"}",
				    &req, &err), 400);
	assert_non_null(strstr(err, "memory_restore_mode: unknown variant 'Fast'"));
	api_request_discard(req);
	free(err);
	assert_int_equal(parse_body(API_VM_RESTORE, "/api/v1/vm.restore",
				    "{\"source_url\":7}", &req, &err), 400);
	assert_non_null(strstr(err, "source_url: invalid type"));
	api_request_discard(req);
	free(err);
}

static void test_socket_spec(void **state)
{
	struct api_socket_spec s;

	(void)state;
	assert_int_equal(api_parse_socket_spec("path=/run/a.sock", &s), 0);
	assert_string_equal(s.path, "/run/a.sock");
	assert_int_equal(s.fd, -1);
	api_socket_spec_free(&s);
	assert_int_equal(api_parse_socket_spec("/run/b.sock", &s), 0);
	assert_string_equal(s.path, "/run/b.sock");
	api_socket_spec_free(&s);
	assert_int_equal(api_parse_socket_spec("fd=7", &s), 0);
	assert_null(s.path);
	assert_int_equal(s.fd, 7);
	assert_int_equal(api_parse_socket_spec("fd=x", &s), -EINVAL);
	assert_int_equal(api_parse_socket_spec("fd=-1", &s), -EINVAL);
	assert_int_equal(api_parse_socket_spec("", &s), -EINVAL);
	/* vireo's mode=: owner rw kept, group/other rw at most; not with fd= */
	assert_int_equal(api_parse_socket_spec("path=/run/c.sock,mode=0660", &s), 0);
	assert_string_equal(s.path, "/run/c.sock");
	assert_int_equal(s.mode, 0660);
	api_socket_spec_free(&s);
	assert_int_equal(api_parse_socket_spec("path=/run/c.sock", &s), 0);
	assert_int_equal(s.mode, 0);                 /* API_SOCKET_MODE */
	api_socket_spec_free(&s);
	assert_int_equal(api_parse_socket_spec("path=/a,mode=0777", &s), -EINVAL);
	assert_int_equal(api_parse_socket_spec("path=/a,mode=0060", &s), -EINVAL);
	assert_int_equal(api_parse_socket_spec("path=/a,mode=rw", &s), -EINVAL);
	assert_int_equal(api_parse_socket_spec("fd=3,mode=0660", &s), -EINVAL);
	assert_int_equal(api_parse_socket_spec("mode=0660", &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route),
		cmocka_unit_test(test_unknown_paths),
		cmocka_unit_test(test_state_names_and_transitions),
		cmocka_unit_test(test_action_table),
		cmocka_unit_test(test_quirk_bodies),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_snapshot_bodies),
		cmocka_unit_test(test_resize_bodies),
		cmocka_unit_test(test_restore_net_fds),
		cmocka_unit_test(test_socket_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
