// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 message framing on the API socket (RFC 9112 section 6): every request whose body
 * length two parsers could read differently is answered 400 and the connection closed, so the
 * bytes after it never run as a request of their own (request smuggling). Each case hides a
 * vm.create where a lax parser would find a second request; afterwards no VM may exist.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/api/api_fixture.h"

#define CREATE_BODY "{\"payload\":{\"kernel\":\"/k\"}}"
/* A complete vm.create: what a smuggler appends. */
#define SMUGGLED "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n\r\n" \
		 CREATE_BODY

/* Sends @req on a new connection: one 400 with Connection: close, then end of stream. */
static void expect_400_and_close(const char *req, const char *in_body)
{
	struct http_resp r;
	int fd = http_connect(fx->sock), ret;

	assert_true(fd >= 0);
	assert_int_equal(http_send(fd, req, strlen(req)), 0);
	assert_int_equal(http_read(fd, &r), 0);
	if (r.status != 400 || (in_body && !strstr(r.body, in_body)))
		fail_msg("answered %d %s (wanted 400 '%s') to:\n%s", r.status, r.body,
			 in_body ? in_body : "", req);
	assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
	http_resp_free(&r);
	/* nothing more: a second answer would be the smuggled request's */
	ret = http_read(fd, &r);
	if (ret != -ECONNRESET)
		fail_msg("after the 400: %d (status %d) instead of end of stream", ret, r.status);
	close(fd);
	fx_expect("GET", "vm.info", NULL, 404, "VM is not created");
	fx_assert_alive();
}

/* RFC 9112 6.3 item 3: both lengths; the server must close after answering. */
static void test_length_and_chunked(void **state)
{
	(void)state;
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
			     "Content-Length and Transfer-Encoding");
	expect_400_and_close("PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\n"
			     "Transfer-Encoding: chunked\r\nContent-Length: 92\r\n\r\n"
			     "1b\r\n" CREATE_BODY "\r\n0\r\n\r\n" SMUGGLED, NULL);
}

/* RFC 9112 6.3 item 5, RFC 9110 8.6: one Content-Length, or none. */
static void test_duplicate_lengths(void **state)
{
	(void)state;
	expect_400_and_close("PUT /api/v1/vm.boot HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
			     "Content-Length: 0\r\n\r\n", "more than one Content-Length");
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
			     "content-length: 90\r\n\r\n" SMUGGLED, "more than one Content-Length");
	expect_400_and_close("PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n"
			     "Content-Length: 117\r\n\r\n" CREATE_BODY SMUGGLED, NULL);
}

/* RFC 9112 6.1 and 6.3 item 4: chunked is the only coding, applied once, and not in 1.0. */
static void test_transfer_codings(void **state)
{
	(void)state;
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n"
			     "Transfer-Encoding: identity\r\n\r\n" SMUGGLED, "Transfer-Encoding");
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n"
			     "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" SMUGGLED, NULL);
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n"
			     "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
			     "0\r\n\r\n" SMUGGLED, NULL);
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.0\r\nHost: x\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED, NULL);
}

/* RFC 9112 5.1: "Content-Length :" is not Content-Length to MHD, so its body became a request. */
static void test_space_before_colon(void **state)
{
	(void)state;
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nContent-Length : 90\r\n"
			     "\r\n" SMUGGLED, "header field name");
	expect_400_and_close("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nContent-Length\t: 90\r\n"
			     "\r\n" SMUGGLED, "header field name");
}

/* Control bytes around JSON tokens, sent over the socket: 400, and the server goes on. */
static void test_controls_in_body(void **state)
{
	static const char *const bodies[] = { "\x01" CREATE_BODY, CREATE_BODY "\x1f",
					      "{\x0b\"payload\":{\"kernel\":\"/k\"}}" };
	char req[256];
	struct http_resp r;
	int fd, len;

	(void)state;
	for (unsigned i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		fx_expect("PUT", "vm.create", bodies[i], 400, "control character");
	/* a NUL, which the strchr-based trailing check took for whitespace */
	len = snprintf(req, sizeof(req), "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\n"
		       "Content-Length: 28\r\n\r\n%s", CREATE_BODY);
	fd = http_connect(fx->sock);
	assert_int_equal(http_send(fd, req, (size_t)len + 1), 0);   /* the '\0' too */
	assert_int_equal(http_read(fd, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "control character"));
	http_resp_free(&r);
	close(fd);
	fx_expect("GET", "vm.info", NULL, 404, NULL);
	fx_expect("PUT", "vm.create", " \r\n" CREATE_BODY "\t\n", 204, NULL);
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
}

/* Reads until @n answers' status lines have arrived (both may come in one recv). */
static void read_answers(int fd, char *buf, size_t cap, unsigned n)
{
	size_t len = 0;
	unsigned seen = 0;

	while (seen < n) {
		ssize_t got = recv(fd, buf + len, cap - 1 - len, 0);

		assert_true(got > 0);
		len += (size_t)got;
		buf[len] = '\0';
		seen = 0;
		for (const char *p = buf; (p = strstr(p, "HTTP/1.1 ")); p++)
			seen++;
	}
}

/* What stays allowed: chunked alone, and a request pipelined after it. */
static void test_good_framing_kept(void **state)
{
	static const char chunked[] = "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\n"
				      "Transfer-Encoding: Chunked\r\n\r\n1b\r\n" CREATE_BODY
				      "\r\n0\r\n\r\nGET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[8192];
	int fd = http_connect(fx->sock);

	(void)state;
	assert_int_equal(http_send(fd, chunked, sizeof(chunked) - 1), 0);
	read_answers(fd, buf, sizeof(buf), 2);
	assert_true(!strncmp(buf, "HTTP/1.1 204", 12));
	assert_non_null(strstr(buf, "HTTP/1.1 200"));      /* vm.info: the VM exists */
	close(fd);
	fx_expect("PUT", "vm.delete", NULL, 204, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_and_chunked),
		cmocka_unit_test(test_duplicate_lengths),
		cmocka_unit_test(test_transfer_codings),
		cmocka_unit_test(test_space_before_colon),
		cmocka_unit_test(test_controls_in_body),
		cmocka_unit_test(test_good_framing_kept),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
