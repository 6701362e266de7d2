// SPDX-License-Identifier: Apache-2.0
/*
 * Slow and idle clients (slowloris): however many connections sit on an unfinished request,
 * vmm.ping and queued requests still get answers, and a request's head and body must arrive
 * within their deadlines however slowly the bytes trickle in. The deadlines are shortened
 * here (api_server_set_deadlines) so that a test takes a second, not the real 10 s / 30 s;
 * every wait is a bounded poll on the socket, never a sleep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "tests/api/api_fixture.h"

#define SLOW_CLIENTS (API_MAX_RECEIVING + 16)
#define BOUND_MS 10000         /* generous: the deadlines under test are 300 ms */

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* @n connections that sent @head (maybe nothing) and stop there. */
static void open_slow(int *fds, unsigned n, const char *head)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = http_connect(fx->sock);
		assert_true(fds[i] >= 0);
		if (*head)
			assert_int_equal(http_send(fds[i], head, strlen(head)), 0);
	}
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* ping and a request through the VMM thread both answer; the ping's time is printed. */
static void assert_served(const char *what)
{
	double t0 = now_ms();

	fx_assert_alive();
	printf("# vmm.ping after %u %s clients connected: %.2f ms\n", SLOW_CLIENTS, what,
	       now_ms() - t0);
	fx_expect("PUT", "vm.create", "{\"payload\":{\"kernel\":\"/k\"}}", 204, NULL);
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
}

static void test_slow_headers_leave_room(void **state)
{
	int fds[SLOW_CLIENTS];

	(void)state;
	open_slow(fds, SLOW_CLIENTS, "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nX-Slow: a");
	assert_served("slow");
	/* one more byte each, as a slowloris client sends every few seconds */
	for (unsigned i = 0; i < SLOW_CLIENTS; i++)
		(void)send(fds[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	assert_served("slow");
	close_all(fds, SLOW_CLIENTS);
}

static void test_idle_connections_leave_room(void **state)
{
	int fds[SLOW_CLIENTS];

	(void)state;
	open_slow(fds, SLOW_CLIENTS, "");
	assert_served("idle");
	close_all(fds, SLOW_CLIENTS);
}

/* Trickles @byte every 100 ms until the server closes; fails after BOUND_MS. */
static void expect_cut_off(int fd, char byte)
{
	double t0 = now_ms();
	char buf[512];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (now_ms() - t0 > BOUND_MS)
			fail_msg("still connected after %d ms of trickling", BOUND_MS);
		if (poll(&p, 1, 100) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0)
				break;
			continue;      /* an answer (408/400) before the close is fine */
		}
		if (send(fd, &byte, 1, MSG_NOSIGNAL) < 0)
			break;
	}
	printf("# cut off after %.0f ms\n", now_ms() - t0);
	close(fd);
}

/* Sends @start with 300 ms deadlines, then trickles @byte until cut off; the server goes on. */
static void trickle(const char *start, char byte)
{
	int fd = http_connect(fx->sock);

	api_server_set_deadlines(fx->srv, 300, 300);
	assert_int_equal(http_send(fd, start, strlen(start)), 0);
	expect_cut_off(fd, byte);
	fx_assert_alive();
}

static void test_header_deadline(void **state)
{
	(void)state;
	trickle("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nX-Slow: ", 'a');
}

static void test_body_deadline(void **state)
{
	(void)state;
	trickle("PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{",
		' ');
}

/* A kept-alive connection waiting for its next request is held to the header deadline. */
static void test_idle_keepalive_deadline(void **state)
{
	static const char ping[] = "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_resp r;
	int fd = http_connect(fx->sock);

	(void)state;
	api_server_set_deadlines(fx->srv, 300, 300);
	assert_int_equal(http_send(fd, ping, sizeof(ping) - 1), 0);
	assert_int_equal(http_read(fd, &r), 0);
	assert_int_equal(r.status, 200);
	http_resp_free(&r);
	assert_int_equal(http_read(fd, &r), -ECONNRESET);   /* closed well before 10 s */
	close(fd);
}

static int restore_deadlines(void **state)
{
	(void)state;
	api_server_set_deadlines(fx->srv, API_HEADER_DEADLINE_MS, API_BODY_DEADLINE_MS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_headers_leave_room),
		cmocka_unit_test(test_idle_connections_leave_room),
		cmocka_unit_test_teardown(test_header_deadline, restore_deadlines),
		cmocka_unit_test_teardown(test_body_deadline, restore_deadlines),
		cmocka_unit_test_teardown(test_idle_keepalive_deadline, restore_deadlines),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
