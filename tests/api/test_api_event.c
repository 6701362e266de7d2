// SPDX-License-Identifier: Apache-2.0
/* api/event.c: CH's --event-monitor stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"

static char *read_all(int fd)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap + 1);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	buf[len] = '\0';
	return buf;
}

static void test_format(void **state)
{
	char arg[32], err[256], *out, *p;
	int pfd[2];
	unsigned long long secs, nanos;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	snprintf(arg, sizeof(arg), "fd=%d", pfd[1]);
	assert_int_equal(api_event_monitor_open(arg, err, sizeof(err)), 0);
	api_event("vm", "booting");
	api_event_props("cpu_manager", "create_vcpu", "id", "0", NULL);
	api_event("vm", "a \"quoted\"\nname");
	api_event_monitor_close();              /* flushes, closes the write end */
	api_event("vm", "after-close");         /* no monitor: a no-op */
	out = read_all(pfd[0]);
	close(pfd[0]);
	assert_int_equal(sscanf(out, "{\n  \"timestamp\": {\n    \"secs\": %llu,\n"
				"    \"nanos\": %llu\n  },\n", &secs, &nanos), 2);
	assert_true(nanos < 1000000000ull);
	p = strstr(out, "  },\n  \"source\": \"vm\",\n  \"event\": \"booting\",\n"
		   "  \"properties\": null\n}\n\n{\n");
	assert_non_null(p);
	assert_non_null(strstr(out, "\"source\": \"cpu_manager\",\n  \"event\": \"create_vcpu\",\n"
			       "  \"properties\": {\n    \"id\": \"0\"\n  }\n}\n\n"));
	assert_non_null(strstr(out, "\"event\": \"a \\\"quoted\\\"\\nname\""));
	assert_null(strstr(out, "after-close"));
	/* three events, each ending with a blank line */
	assert_int_equal(strlen(out) - strlen(strstr(out, "}\n\n") + 3) > 0, 1);
	free(out);
}

static void test_path_and_errors(void **state)
{
	char path[] = "/tmp/vireo-event-XXXXXX", arg[64], err[256], *out;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(arg, sizeof(arg), "path=%s", path);
	assert_int_equal(api_event_monitor_open(arg, err, sizeof(err)), 0);
	api_event("vmm", "starting");
	api_event_monitor_close();
	fd = open(path, O_RDONLY);
	out = read_all(fd);
	close(fd);
	unlink(path);
	assert_non_null(strstr(out, "\"event\": \"starting\""));
	free(out);
	assert_int_equal(api_event_monitor_open("", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "path or fd required"));
	assert_int_equal(api_event_monitor_open("fd=999999", err, sizeof(err)), -EBADF);
	assert_int_equal(api_event_monitor_open("path=/nonexistent/dir/x", err, sizeof(err)),
			 -ENOENT);
}

/* A reader that never reads: emitters never block; events beyond the backlog are dropped. */
static void test_stalled_reader(void **state)
{
	char arg[32], err[256];
	int pfd[2];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	snprintf(arg, sizeof(arg), "fd=%d", pfd[1]);
	assert_int_equal(api_event_monitor_open(arg, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 20000; i++)
		api_event("vm", "flood");
	api_event_monitor_close();   /* bounded: gives up on the stalled pipe */
	close(pfd[0]);
}

/* A reader that went away: EPIPE is logged, never fatal (SIGPIPE is ignored here). */
static void test_closed_reader(void **state)
{
	char arg[32], err[256];
	int pfd[2];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	close(pfd[0]);
	snprintf(arg, sizeof(arg), "fd=%d", pfd[1]);
	assert_int_equal(api_event_monitor_open(arg, err, sizeof(err)), 0);
	api_event("vm", "into-the-void");
	api_event_monitor_close();
}

static void *emitter(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < 200; i++)
		api_event_props("vcpu", "tick", "n", "1", NULL);
	return NULL;
}

static void test_threads(void **state)
{
	char arg[32], err[256], *out, *p;
	pthread_t t[4];
	int pfd[2];
	unsigned n = 0;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) > 0, 1);
	snprintf(arg, sizeof(arg), "fd=%d", pfd[1]);
	assert_int_equal(api_event_monitor_open(arg, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, emitter, NULL), 0);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	api_event_monitor_close();
	out = read_all(pfd[0]);
	close(pfd[0]);
	for (p = out; (p = strstr(p, "\n}\n\n")); p += 4)
		n++;
	assert_int_equal(n, 800);   /* none interleaved or lost */
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_path_and_errors),
		cmocka_unit_test(test_stalled_reader),
		cmocka_unit_test(test_closed_reader),
		cmocka_unit_test(test_threads),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
