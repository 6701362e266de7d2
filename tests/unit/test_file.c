// SPDX-License-Identifier: Apache-2.0
/* base/file.c: untrusted paths are opened without blocking and refused by type. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/file.h"

static char dir[] = "/tmp/vireo-test-file-XXXXXX";
static char err[256];

static const char *path(const char *name)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* A FIFO nobody writes: a blocking open would never return (the test would time out). */
static void test_fifo_read_refused(void **state)
{
	(void)state;
	assert_int_equal(mkfifo(path("r.fifo"), 0600), 0);
	assert_int_equal(file_open("kernel", path("r.fifo"), O_RDONLY, 0, FILE_TYPE_REG, err,
				   sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is a FIFO, not a regular file"));
	assert_non_null(strstr(err, "kernel '"));
}

/* Opened for writing with nobody reading: ENXIO at once, said plainly. */
static void test_fifo_write_no_reader(void **state)
{
	(void)state;
	assert_int_equal(mkfifo(path("w.fifo"), 0600), 0);
	assert_int_equal(file_open("serial output file", path("w.fifo"), O_WRONLY, 0,
				   FILE_TYPE_REG, err, sizeof(err)), -ENXIO);
	assert_non_null(strstr(err, "nobody reads that FIFO"));
}

/* Accepted: a regular file, blocking again (io_uring fails O_NONBLOCK reads with EAGAIN). */
static void test_regular_ok_and_blocking(void **state)
{
	int fd;

	(void)state;
	fd = file_open("disk", path("img"), O_RDWR | O_CREAT | O_EXCL, 0600,
		       FILE_TYPE_REG | FILE_TYPE_BLK, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void test_symlink_nofollow(void **state)
{
	char target[128];

	(void)state;
	snprintf(target, sizeof(target), "%s", path("img"));
	assert_int_equal(symlink(target, path("link")), 0);
	assert_int_equal(file_open("serial output file", path("link"), O_WRONLY | O_NOFOLLOW, 0,
				   FILE_TYPE_REG, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "is a symbolic link"));
}

static void test_type_mismatch(void **state)
{
	int fd;

	(void)state;
	assert_int_equal(file_open("disk", "/dev/null", O_RDONLY, 0,
				   FILE_TYPE_REG | FILE_TYPE_BLK, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is a character device, not a regular file or a block"));
	assert_int_equal(file_open("kernel", dir, O_RDONLY, 0, FILE_TYPE_REG, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "is a directory"));
	fd = file_open("log file", "/dev/null", O_WRONLY, 0, FILE_TYPE_REG | FILE_TYPE_CHR, err,
		       sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(file_open("kernel", path("none"), O_RDONLY, 0, FILE_TYPE_REG, err,
				   sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open kernel"));
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	const char *names[] = { "r.fifo", "w.fifo", "img", "link" };

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		unlink(path(names[i]));
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_read_refused),
		cmocka_unit_test(test_fifo_write_no_reader),
		cmocka_unit_test(test_regular_ok_and_blocking),
		cmocka_unit_test(test_symlink_nofollow),
		cmocka_unit_test(test_type_mismatch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
