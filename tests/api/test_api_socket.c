// SPDX-License-Identifier: Apache-2.0
/*
 * The API socket's file-system side: the socket is 0600 whatever the umask, an inherited fd
 * must be a listening-capable AF_UNIX stream socket, a path another process answers on is
 * never unlinked, and the .lock file is never a symlink, FIFO or anything but a regular file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "tests/api/http_client.h"

static char dir[64], sock[96], lock[104];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vireo-sock-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(lock, sizeof(lock), "%s.lock", sock);
	return 0;
}

static int cleanup(void **state)
{
	(void)state;
	unlink(sock);
	unlink(lock);
	return 0;
}

static int teardown(void **state)
{
	cleanup(state);
	return rmdir(dir);
}

static int start_path(struct api_server **srv, char *err, size_t errlen)
{
	struct api_socket_spec spec = { .path = sock, .fd = -1 };

	return api_server_start(&spec, srv, err, errlen);
}

/* A socket bound at @path; listening or not. */
static int bound_socket(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_mode_ignores_umask(void **state)
{
	struct api_server *srv;
	struct stat st;
	char err[256];
	mode_t old = umask(0);

	(void)state;
	assert_int_equal(start_path(&srv, err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(lock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	api_server_stop(srv);
}

static void expect_fd_refused(int fd)
{
	struct api_socket_spec spec = { .path = NULL, .fd = fd };
	struct api_server *srv = NULL;
	char err[256] = "";

	assert_true(fd >= 0);
	assert_int_not_equal(api_server_start(&spec, &srv, err, sizeof(err)), 0);
	assert_null(srv);
	if (!strstr(err, "not a Unix stream socket"))
		fail_msg("fd %d: '%s'", fd, err);
	close(fd);
}

static void test_inherited_fd_must_be_unix_stream(void **state)
{
	int fd;

	(void)state;
	expect_fd_refused(socket(AF_INET, SOCK_STREAM, 0));
	expect_fd_refused(socket(AF_INET6, SOCK_STREAM, 0));
	expect_fd_refused(socket(AF_UNIX, SOCK_DGRAM, 0));
	expect_fd_refused(open("/dev/null", O_RDONLY));
	fd = bound_socket(sock, false);      /* the right kind: accepted and served */
	{
		struct api_socket_spec spec = { .path = NULL, .fd = fd };
		struct api_server *srv;
		char err[256];
		struct http_resp r;

		assert_int_equal(api_server_start(&spec, &srv, err, sizeof(err)), 0);
		assert_int_equal(http_call(sock, "GET", "/api/v1/vmm.ping", NULL, &r), 0);
		assert_int_equal(r.status, 200);
		http_resp_free(&r);
		api_server_stop(srv);        /* closes fd */
	}
}

/* Another process serves the path without our lock (an old CH, another tool). */
static void test_live_socket_kept(void **state)
{
	struct api_server *srv = NULL;
	char err[256] = "";
	int other = bound_socket(sock, true), c;

	(void)state;
	assert_int_equal(start_path(&srv, err, sizeof(err)), -EADDRINUSE);
	assert_null(srv);
	assert_non_null(strstr(err, "accepts connections"));
	c = http_connect(sock);              /* still there, still the other's */
	assert_true(c >= 0);
	close(c);
	close(other);
}

/* Left behind by a crash: nobody listens, so it is replaced. */
static void test_stale_socket_replaced(void **state)
{
	struct api_server *srv;
	char err[256];
	int dead = bound_socket(sock, false);

	(void)state;
	close(dead);
	assert_int_equal(start_path(&srv, err, sizeof(err)), 0);
	api_server_stop(srv);
	assert_int_equal(access(sock, F_OK), -1);
}

/* A regular file at the socket path is someone's data, not a stale socket. */
static void test_other_file_kept(void **state)
{
	struct api_server *srv = NULL;
	char err[256] = "";
	int fd = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(start_path(&srv, err, sizeof(err)), -EEXIST);
	assert_null(srv);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(access(sock, F_OK), 0);
}

static void expect_lock_refused(const char *why)
{
	struct api_server *srv = NULL;
	char err[256] = "";

	assert_int_not_equal(start_path(&srv, err, sizeof(err)), 0);
	assert_null(srv);
	if (!strstr(err, why))
		fail_msg("'%s' not in '%s'", why, err);
}

static void test_lock_file_checked(void **state)
{
	char target[128];
	struct stat st;

	(void)state;
	snprintf(target, sizeof(target), "%s/victim", dir);
	assert_int_equal(symlink(target, lock), 0);        /* dangling: O_CREAT would make it */
	expect_lock_refused(".lock");
	assert_int_equal(lstat(target, &st), -1);
	unlink(lock);
	assert_int_equal(mkfifo(lock, 0600), 0);           /* must not hang, must not lock */
	expect_lock_refused("not a regular file");
	unlink(lock);
	assert_int_equal(mkdir(lock, 0700), 0);
	expect_lock_refused(".lock");
	rmdir(lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mode_ignores_umask, cleanup),
		cmocka_unit_test_teardown(test_inherited_fd_must_be_unix_stream, cleanup),
		cmocka_unit_test_teardown(test_live_socket_kept, cleanup),
		cmocka_unit_test_teardown(test_stale_socket_replaced, cleanup),
		cmocka_unit_test_teardown(test_other_file_kept, cleanup),
		cmocka_unit_test_teardown(test_lock_file_checked, cleanup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
