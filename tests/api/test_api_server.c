// SPDX-License-Identifier: Apache-2.0
/*
 * The API server over its real socket, with a fake VMM thread answering the queue: CH's wire
 * format, the lifecycle, routing and body errors, and abuse (garbage, huge header and body,
 * bad JSON, clients that vanish, 50 at once). After each abuse the server must still answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "tests/api/api_fixture.h"

static void test_wire_format(void **state)
{
	struct http_resp r;

	(void)state;
	assert_int_equal(fx_call("GET", "vmm.ping", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "HTTP/1.1 200"));
	assert_non_null(strstr(r.head, "\r\nServer: Cloud Hypervisor API\r\n"));
	assert_non_null(strstr(r.head, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(r.head, "\r\nContent-Length: "));
	assert_non_null(strstr(r.body, "\"version\":\"" VIREO_VERSION "\""));
	assert_non_null(strstr(r.body, "\"pid\":"));
	http_resp_free(&r);
	assert_int_equal(fx_call("GET", "nope", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "[\"Not Found\"]");
	assert_non_null(strstr(r.head, "\r\nServer: Cloud Hypervisor API\r\n"));
	http_resp_free(&r);
}

static const char cfg_json[] =
	"{\"payload\":{\"kernel\":\"/k\"},\"memory\":{\"size\":9007199254740992},"
	"\"disks\":[{\"path\":\"/a\"}]}";

static void test_lifecycle(void **state)
{
	(void)state;
	fx_expect("GET", "vm.info", NULL, 404, "VM is not created");
	fx_expect("PUT", "vm.boot", NULL, 404, "VM config is missing");
	fx_expect("PUT", "vm.pause", NULL, 500, "VM is not running");
	fx_expect("PUT", "vm.create", cfg_json, 204, NULL);
	fx_expect("PUT", "vm.create", cfg_json, 500, "VM is already created");
	fx_expect("GET", "vm.info", NULL, 200, "\"size\":9007199254740992");
	fx_expect("GET", "vm.info", NULL, 200, "\"state\":\"Created\"");
	fx_expect("PUT", "vm.boot", NULL, 400, "memory.size");   /* validated at boot, as CH */
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
	fx_expect("PUT", "vm.create", "{\"payload\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a\"}]}",
	       204, NULL);
	fx_expect("PUT", "vm.add-disk", "{\"path\":\"/a\"}", 409, "already used");
	fx_expect("PUT", "vm.add-disk", "{\"path\":\"/b\",\"id\":\"data\"}", 204, NULL);
	fx_expect("PUT", "vm.remove-device", "{\"id\":\"nope\"}", 404, "No device with id");
	fx_expect("PUT", "vm.boot", NULL, 204, NULL);
	fx_expect("GET", "vm.info", NULL, 200, "\"id\":\"_disk0\"");
	fx_expect("GET", "vm.info", NULL, 200, "\"state\":\"Running\"");
	fx_expect("PUT", "vm.boot", NULL, 500, "VM is already created");
	fx_expect("PUT", "vm.resume", NULL, 500, "InvalidStateTransition(Running, Running)");
	fx_expect("PUT", "vm.pause", NULL, 204, NULL);
	fx_expect("PUT", "vm.pause", NULL, 500, "InvalidStateTransition(Paused, Paused)");
	fx_expect("GET", "vm.info", NULL, 200, "\"state\":\"Paused\"");
	fx_expect("PUT", "vm.resume", NULL, 204, NULL);
	fx_expect("GET", "vm.counters", NULL, 200, "read_bytes");
	fx_expect("PUT", "vm.power-button", NULL, 204, NULL);
	/* Hotplug's state check passes on a running VM; an unknown id is CH's 404. */
	fx_expect("PUT", "vm.remove-device", "{\"id\":\"nope\"}", 404, "No device with id");
	fx_expect("PUT", "vm.reboot", NULL, 204, NULL);
	fx_expect("PUT", "vm.shutdown", NULL, 204, NULL);
	fx_expect("GET", "vm.info", NULL, 200, "\"state\":\"Created\"");
	fx_expect("PUT", "vm.shutdown", NULL, 500, "VM is not running");
	fx_expect("PUT", "vm.reboot", NULL, 404, "VM is not created");
	fx_expect("GET", "vm.counters", NULL, 500, "VM is not running");
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);     /* a no-op without a config */
	fx_expect("GET", "vm.info", NULL, 404, NULL);
}

static const char *const routes[][2] = {
	{ "GET", "vmm.ping" }, { "PUT", "vmm.shutdown" }, { "PUT", "vm.create" },
	{ "PUT", "vm.delete" }, { "PUT", "vm.boot" }, { "GET", "vm.info" },
	{ "GET", "vm.counters" }, { "PUT", "vm.pause" }, { "PUT", "vm.resume" },
	{ "PUT", "vm.shutdown" }, { "PUT", "vm.reboot" }, { "PUT", "vm.power-button" },
	{ "PUT", "vm.add-disk" }, { "PUT", "vm.remove-device" },
};

static void test_routing_and_bodies(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		bool get = !strcmp(routes[i][0], "GET");

		fx_expect(get ? "PUT" : "GET", routes[i][1], NULL, 400, "Bad Request");
		fx_expect("POST", routes[i][1], NULL, 400, "Bad Request");
	}
	fx_expect("DELETE", "vm.boot", NULL, 400, NULL);
	fx_expect("GET", "vm.nmi", NULL, 404, "Not Found");
	fx_expect("GET", "vm.info/", NULL, 404, "Not Found");
	fx_expect("PUT", "vm.boot", "{}", 400, "takes no request body");
	fx_expect("PUT", "vm.pause", "x", 400, "takes no request body");
	fx_expect("PUT", "vmm.shutdown", "{}", 400, "takes no request body");
	fx_expect("PUT", "vm.create", NULL, 400, "needs a JSON request body");
	fx_expect("PUT", "vm.add-disk", NULL, 400, "needs a JSON request body");
	fx_expect("PUT", "vm.remove-device", NULL, 400, "needs a JSON request body");
	fx_expect("PUT", "vm.create", "{\"cpus\":{\"boot_vcpus\":\"x\"}}", 400,
	       "[\"Failed to deserialize JSON\",\"cpus.boot_vcpus: invalid type");
	fx_expect("PUT", "vm.create", "{", 400, "Failed to deserialize JSON");
	fx_expect("PUT", "vm.create", "{\"payload\":{\"kernel\":\"\xc3\x28\"}}", 400, "UTF-8");
	fx_expect("GET", "vm.info", "ignored", 404, NULL);   /* GET bodies are not looked at */
}

/* Content-Length: 0 is "no body" (micro_http leaves the body None). */
static void test_zero_length_body(void **state)
{
	static const char req[] = "PUT /api/v1/vm.boot HTTP/1.1\r\nHost: localhost\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct http_resp r;
	int fd = http_connect(fx->sock);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(http_send(fd, req, sizeof(req) - 1), 0);
	assert_int_equal(http_read(fd, &r), 0);
	assert_int_equal(r.status, 404);    /* no VM: CH's answer, not a body error */
	http_resp_free(&r);
	/* keep-alive: a second request on the same connection */
	assert_int_equal(http_send(fd, req, sizeof(req) - 1), 0);
	assert_int_equal(http_read(fd, &r), 0);
	assert_int_equal(r.status, 404);
	http_resp_free(&r);
	close(fd);
}

/* Sends until done or until the server answers early (it may stop reading). */
static int send_until_answer(int fd, const char *p, size_t len)
{
	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN | POLLOUT };
		ssize_t n;

		if (poll(&pf, 1, 10000) != 1)
			return -ETIMEDOUT;
		if (pf.revents & (POLLIN | POLLHUP | POLLERR))
			return 0;
		n = send(fd, p, len > 65536 ? 65536 : len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Sends @len bytes of @data on a fresh connection; the answer must be a 4xx (or 505 for an
 * HTTP version MHD does not speak) or a dropped connection.
 */
static void send_raw_expect_4xx(const void *data, size_t len)
{
	struct http_resp r = { 0 };
	int fd = http_connect(fx->sock), ret;

	assert_true(fd >= 0);
	ret = send_until_answer(fd, data, len);
	/* half-close: a request the server still waits on ends now, not at its timeout */
	if (!ret && shutdown(fd, SHUT_WR))
		ret = -errno;
	if (!ret)
		ret = http_read(fd, &r);
	if (!ret && (r.status < 400 || (r.status >= 500 && r.status != 505)))
		fail_msg("answered %d", r.status);
	http_resp_free(&r);
	close(fd);
	fx_assert_alive();
}

static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET /api/v1/vmm.ping HTTP/9.9\r\n\r\n",
		"PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999"
		"\r\n\r\n",
		"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"zz\r\n",
	};
	char junk[4096];

	(void)state;
	srand(5);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)rand();
	send_raw_expect_4xx(junk, sizeof(junk));
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		send_raw_expect_4xx(bad[i], strlen(bad[i]));
}

static void test_huge_header(void **state)
{
	static char req[(1 << 20) + 128];
	size_t n = 1 << 20;
	int len;

	(void)state;
	len = sprintf(req, "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + len, 'a', n);
	memcpy(req + len + n, "\r\n\r\n", 4);
	send_raw_expect_4xx(req, (size_t)len + n + 4);
}

static void test_big_bodies(void **state)
{
	static char req[(6u << 20)];
	static char nested[100001];
	size_t n = 5u << 20;
	char *p;
	int len;

	(void)state;
	/* with a Content-Length: refused (413) before the body is read */
	len = sprintf(req, "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
		      n);
	memset(req + len, ' ', n);
	send_raw_expect_4xx(req, (size_t)len + n);
	/* chunked: the connection is dropped once 4 MiB have arrived */
	len = sprintf(req, "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n");
	p = req + len;
	for (unsigned i = 0; i < 80; i++) {
		p += sprintf(p, "10000\r\n");
		memset(p, ' ', 0x10000);
		p += 0x10000;
		p += sprintf(p, "\r\n");
	}
	p += sprintf(p, "0\r\n\r\n");
	send_raw_expect_4xx(req, (size_t)(p - req));
	/* a deeply nested body within the size limit */
	memset(nested, '[', sizeof(nested) - 1);
	fx_expect("PUT", "vm.create", nested, 400, "nested too deeply");
}

static void test_disconnect_mid_request(void **state)
{
	static const char partial_head[] = "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nCont";
	static const char partial_body[] = "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\n"
					   "Content-Length: 100\r\n\r\n{\"payload\":";
	int fd;

	(void)state;
	fd = http_connect(fx->sock);
	assert_int_equal(http_send(fd, partial_head, sizeof(partial_head) - 1), 0);
	close(fd);
	fd = http_connect(fx->sock);
	assert_int_equal(http_send(fd, partial_body, sizeof(partial_body) - 1), 0);
	close(fd);
	fx_assert_alive();
}

static void wait_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	eventfd_t v;

	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_int_equal(eventfd_read(fd, &v), 0);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Waits (10 s deadline) until @n requests wait in the queue for the VMM thread. */
static void wait_queued(unsigned n)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (api_server_queued(fx->srv) != n) {
		assert_true(elapsed_ms(&t0) < 10000);
		poll(NULL, 0, 1);
	}
}

/*
 * While the VMM is stuck in a long vm.boot: ping and info still answer at once; a client
 * that hangs up while its request runs, and one whose request is still queued, leave the VMM
 * valid requests to complete (ASan checks the lifetimes).
 */
static void test_busy_vmm_and_vanishing_clients(void **state)
{
	struct timespec t0;
	eventfd_t v;
	int a, b, c;

	(void)state;
	fx_expect("PUT", "vm.create", "{\"payload\":{\"kernel\":\"/k\"}}", 204, NULL);
	while (eventfd_read(fx->vmm.done_fd, &v) == 0)
		;
	fx->vmm.gate_armed = true;
	a = fx_send_only("PUT", "vm.boot");
	wait_fd(fx->vmm.entered_fd);             /* the VMM thread is now busy with it */
	b = fx_send_only("PUT", "vm.pause");         /* queued behind the boot */
	wait_queued(1);
	c = fx_send_only("PUT", "vm.resume");        /* queued; this client stays */
	wait_queued(2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_expect("GET", "vmm.ping", NULL, 200, NULL);
	fx_expect("GET", "vm.info", NULL, 200, "\"state\":\"Created\"");
	assert_true(elapsed_ms(&t0) < 1000);
	close(a);
	close(b);
	fx_assert_alive();
	assert_int_equal(eventfd_write(fx->vmm.gate_fd, 1), 0);
	{
		struct http_resp r;

		assert_int_equal(http_read(c, &r), 0);
		assert_int_equal(r.status, 204);     /* boot, then b's pause ran, then this */
		http_resp_free(&r);
	}
	close(c);
	fx_expect("GET", "vm.info", NULL, 200, "\"state\":\"Running\"");
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
}

struct client_result {
	int ping, create;
};

static void *client(void *arg)
{
	struct client_result *res = arg;
	struct http_resp r;

	res->ping = fx_call("GET", "vmm.ping", NULL, &r) ? 0 : r.status;
	http_resp_free(&r);
	res->create = fx_call("PUT", "vm.create", "{\"payload\":{\"kernel\":\"/k\"}}", &r) ? 0 :
		      r.status;
	http_resp_free(&r);
	return NULL;
}

static void test_fifty_clients(void **state)
{
	pthread_t t[50];
	struct client_result res[50];
	unsigned created = 0;

	(void)state;
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(pthread_create(&t[i], NULL, client, &res[i]), 0);
	for (unsigned i = 0; i < 50; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < 50; i++) {
		assert_true(res[i].ping == 200 || res[i].ping == 0);
		/* one create wins; the others get CH's 500 "already created" (or a drop) */
		assert_true(res[i].create == 204 || res[i].create == 500 || res[i].create == 0);
		created += res[i].create == 204;
	}
	assert_int_equal(created, 1);
	fx_assert_alive();
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
}

/* A second server on the same path: the lock refuses it (stale sockets: test_api_socket.c). */
static void test_socket_lock(void **state)
{
	struct api_socket_spec spec = { .path = fx->sock, .fd = -1 };
	struct api_server *other;
	char err[256];

	(void)state;
	assert_int_equal(api_server_start(&spec, &other, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "in use"));
	fx_assert_alive();
}

/* Stopping while a request runs: the client gets 503, the VMM can still complete it. */
static void test_stop_while_busy(void **state)
{
	struct http_resp r;
	int a;

	(void)state;
	fx_expect("PUT", "vm.create", "{\"payload\":{\"kernel\":\"/k\"}}", 204, NULL);
	fx->vmm.gate_armed = true;
	a = fx_send_only("PUT", "vm.boot");
	wait_fd(fx->vmm.entered_fd);
	__atomic_store_n(&fx->vmm.srv_gone, true, __ATOMIC_RELEASE);
	api_server_stop(fx->srv);
	assert_int_equal(http_read(a, &r), 0);
	assert_int_equal(r.status, 503);
	http_resp_free(&r);
	close(a);
	assert_int_equal(access(fx->sock, F_OK), -1);
	assert_int_equal(eventfd_write(fx->vmm.gate_fd, 1), 0);   /* VMM completes it now */
	fake_vmm_stop(&fx->vmm);
	/* and a fresh server takes the same path */
	assert_int_equal(fx_start(fx), 0);
	fx_assert_alive();
}

/* One request with @nfds descriptors riding on its first bytes, as ch-remote sends them. */
static int call_with_fds(const char *name, const char *body, const int *fds, unsigned nfds,
			 struct http_resp *r)
{
	char req[512];
	int len = snprintf(req, sizeof(req), "PUT /api/v1/%s HTTP/1.1\r\nHost: localhost\r\n"
			   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			   name, strlen(body), body);
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct iovec iov = { req, (size_t)len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * nfds) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int fd = http_connect(fx->sock), ret;

	assert_true(fd >= 0);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	assert_int_equal(sendmsg(fd, &msg, 0), len);
	ret = http_read(fd, r);
	close(fd);
	return ret;
}

/* Whether every copy of the pipe's write end is closed (the reader sees a hang-up). */
static bool writers_gone(int rd)
{
	struct pollfd p = { rd, POLLIN, 0 };

	return poll(&p, 1, 2000) == 1 && (p.revents & POLLHUP);
}

/*
 * vm.add-net with tap fds over SCM_RIGHTS (CH's wire protocol): the net gets them; a request
 * that fails closes the ones it brought; vm.delete closes the config's.
 */
static void test_add_net_fds(void **state)
{
	int ok[2], bad[2], fds[2];
	struct http_resp r;

	(void)state;
	assert_int_equal(pipe2(ok, O_CLOEXEC), 0);
	assert_int_equal(pipe2(bad, O_CLOEXEC), 0);
	fx_expect("PUT", "vm.create", "{\"payload\":{\"kernel\":\"/k\"}}", 204, NULL);
	fds[0] = fds[1] = bad[1];
	assert_int_equal(call_with_fds("vm.add-net", "{\"num_queues\":2}", fds, 2, &r), 0);
	assert_int_equal(r.status, 400);              /* two fds make two pairs: 4 queues */
	assert_non_null(strstr(r.body, "net[0].num_queues"));
	http_resp_free(&r);
	close(bad[1]);
	assert_true(writers_gone(bad[0]));
	fds[0] = fds[1] = ok[1];
	assert_int_equal(call_with_fds("vm.add-net", "{\"num_queues\":4,\"id\":\"t0\","
				       "\"fds\":[-1,-1]}", fds, 2, &r), 0);
	assert_int_equal(r.status, 204);
	http_resp_free(&r);
	close(ok[1]);
	assert_false(writers_gone(ok[0]));            /* the config holds them */
	fx_expect("GET", "vm.info", NULL, 200, "\"id\":\"t0\"");
	fx_expect("GET", "vm.info", NULL, 200, "\"fds\":[");
	/* fds in the body without any over the socket: refused by name */
	fx_expect("PUT", "vm.add-net", "{\"fds\":[3,4]}", 400, "fds: no file descriptors came");
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
	assert_true(writers_gone(ok[0]));
	close(ok[0]);
	close(bad[0]);
	fx_assert_alive();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_format),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_routing_and_bodies),
		cmocka_unit_test(test_zero_length_body),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_huge_header),
		cmocka_unit_test(test_big_bodies),
		cmocka_unit_test(test_disconnect_mid_request),
		cmocka_unit_test(test_busy_vmm_and_vanishing_clients),
		cmocka_unit_test(test_fifty_clients),
		cmocka_unit_test(test_socket_lock),
		cmocka_unit_test(test_stop_while_busy),
		cmocka_unit_test(test_add_net_fds),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
