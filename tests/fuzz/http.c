// SPDX-License-Identifier: Apache-2.0
/*
 * The API server end to end (api/server.c, http_frame.c, conn_guard.c, routes.c, json.c):
 * each input is the bytes one client sends on a fresh connection to the real server, with
 * the tests' stand-in VMM behind it (CH's state machine, so lifecycle calls go through). The
 * client then half-closes and reads until the server closes: an answer that never comes
 * within 20 s (twice the server's own head deadline, docs/api.md "Slow clients"; a loaded
 * machine stalls a niced fuzzer for seconds), or a server that stops accepting, is a finding.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "tests/api/fake_vmm.h"
#include "tests/fuzz/fuzz.h"

static struct api_server *srv;
static struct fake_vmm vmm;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static char dir[] = "/tmp/vireo-fuzz-http-XXXXXX";

/* The server stays up to the end (its threads may still run): only its files go. */
static void cleanup(void)
{
	char lock[sizeof(addr.sun_path) + 8];

	snprintf(lock, sizeof(lock), "%s.lock", addr.sun_path);
	unlink(addr.sun_path);
	unlink(lock);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct api_socket_spec spec = { .fd = -1 };
	char err[256];

	(void)argc, (void)argv;
	fz_quiet();
	if (!mkdtemp(dir))
		abort();
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/api.sock", dir);
	spec.path = addr.sun_path;
	if (api_server_start(&spec, &srv, err, sizeof(err)) || fake_vmm_start(&vmm, srv)) {
		fprintf(stderr, "http fuzz: %s\n", err);
		abort();
	}
	atexit(cleanup);
	return 0;
}

/*
 * Waits up to 20 s for @fd to be ready for @events; false on a timeout. libFuzzer's timer
 * (SIGALRM, for -timeout) interrupts poll now and then: that is no timeout.
 */
static bool ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	struct timespec end, now;
	int left = 20000, n;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 20;
	while ((n = poll(&p, 1, left)) < 0 && errno == EINTR) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int)((end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000);
		if (left <= 0)
			return false;
	}
	return n == 1;
}

/*
 * Waits up to 20 s for the server to have joined every connection's thread. Each input then
 * starts on a server with no connection of an earlier one still running (so what it finds is
 * its own), and the allocations of its connection are all freed when it ends: libFuzzer, which
 * runs a leak check after any input whose mallocs and frees do not pair up, need not run one
 * after nearly every input (half the time per input).
 */
static bool joined(void)
{
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 20;
	while (api_server_connections(srv)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return false;
		sched_yield();
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	size_t sent = 0;
	char buf[4096];
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		abort();                         /* the server stopped accepting */
	while (sent < size) {
		if (!ready(fd, POLLOUT))
			abort();
		n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;                   /* closed on us: an early 400 */
		sent += n > 0 ? (size_t)n : 0;
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;                        /* keep answers from filling the socket */
	}
	shutdown(fd, SHUT_WR);
	do {
		if (!ready(fd, POLLIN))
			abort();                 /* no answer and no close: a hang */
		n = recv(fd, buf, sizeof(buf), 0);
	} while (n > 0 || (n < 0 && errno == EAGAIN));
	close(fd);
	if (!joined())
		abort();                         /* a connection that outlives its client */
	return 0;
}
