// SPDX-License-Identifier: Apache-2.0
/* The snapshot directory: URL parsing, atomic writer (commit, abort, refusal, locking). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "snapshot/snapshot.h"
#include "snap_test.h"

static char err[256];

static void test_url(void **state)
{
	char path[64];

	(void)state;
	assert_int_equal(snap_url_to_path("file:///var/snap", "destination_url", path,
					  sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(path, "/var/snap");
	assert_int_equal(snap_url_to_path("file://localhost/a/b", "x", path, sizeof(path), err,
					  sizeof(err)), 0);
	assert_string_equal(path, "/a/b");
	assert_int_equal(snap_url_to_path("http://host/x", "destination_url", path, sizeof(path),
					  err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "destination_url: expected a file:///"));
	assert_int_equal(snap_url_to_path("file://rel/dir", "source_url", path, sizeof(path), err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "source_url: the path must be absolute"));
	assert_int_equal(snap_url_to_path(NULL, "source_url", path, sizeof(path), err,
					  sizeof(err)), -EINVAL);
	assert_int_equal(snap_url_to_path("file:///0123456789012345678901234567890123456789"
					  "01234567890123456789012345", "source_url", path,
					  sizeof(path), err, sizeof(err)), -ENAMETOOLONG);
}

static void write_snapshot(const char *dir)
{
	struct snap_writer *w;

	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_put(w, SNAP_CONFIG_FILE, "{}", 2, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_put(w, SNAP_STATE_FILE, "{\"a\":1}", 7, err, sizeof(err)), 0);
	/* Nothing with a snapshot's name is visible before the commit. */
	assert_null(snap_test_read_file(dir, SNAP_STATE_FILE, NULL));
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
}

static void test_commit(void **state)
{
	char *dir = snap_test_mkdtemp(), *text;

	(void)state;
	write_snapshot(dir);
	text = snap_test_read_file(dir, SNAP_STATE_FILE, NULL);
	assert_string_equal(text, "{\"a\":1}");
	free(text);
	text = snap_test_read_file(dir, SNAP_CONFIG_FILE, NULL);
	assert_string_equal(text, "{}");
	free(text);
	assert_int_equal(snap_test_count_files(dir), 2);   /* no temporary left */
	snap_test_rmdir(dir);
}

static void test_refuses_existing(void **state)
{
	char *dir = snap_test_mkdtemp();
	struct snap_writer *w;

	(void)state;
	write_snapshot(dir);
	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already holds a snapshot"));
	snap_test_rmdir(dir);

	/* A stray config.json alone is refused as well (Cloud Hypervisor's rule). */
	dir = snap_test_mkdtemp();
	assert_int_equal(snap_test_write_file(dir, SNAP_CONFIG_FILE, "x", 1), 0);
	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "config.json"));
	snap_test_rmdir(dir);
}

static void test_abort_and_failed_commit(void **state)
{
	char *dir = snap_test_mkdtemp();
	struct snap_writer *w;
	int fd;

	(void)state;
	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_file(w, SNAP_MEMORY_FILE, &fd, err, sizeof(err)), 0);
	assert_int_equal(write(fd, "data", 4), 4);
	assert_int_equal(snap_test_count_files(dir), 1);   /* the hidden temporary */
	snap_writer_abort(w);
	assert_int_equal(snap_test_count_files(dir), 0);

	/* A commit without state.json fails and leaves nothing either. */
	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_put(w, SNAP_CONFIG_FILE, "{}", 2, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no state.json"));
	assert_int_equal(snap_test_count_files(dir), 0);
	snap_test_rmdir(dir);
}

static void test_bad_names_and_lock(void **state)
{
	char *dir = snap_test_mkdtemp();
	struct snap_writer *w, *w2;
	int fd;

	(void)state;
	assert_int_equal(snap_writer_open(dir, &w, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_file(w, "../escape", &fd, err, sizeof(err)), -EINVAL);
	assert_int_equal(snap_writer_put(w, SNAP_STATE_FILE, "1", 1, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_put(w, SNAP_STATE_FILE, "1", 1, err, sizeof(err)), -EEXIST);
	/* A second writer on the same directory is turned away while the first holds it. */
	assert_int_equal(snap_writer_open(dir, &w2, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "another snapshot"));
	snap_writer_abort(w);
	assert_int_equal(snap_writer_open(dir, &w2, err, sizeof(err)), 0);
	snap_writer_abort(w2);
	snap_test_rmdir(dir);
}

static void test_missing_dir(void **state)
{
	struct snap_writer *w;
	char *dir = snap_test_mkdtemp(), path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope", dir);
	assert_int_equal(snap_writer_open(path, &w, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open directory"));
	assert_int_equal(snap_test_write_file(dir, "file", "x", 1), 0);
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(snap_writer_open(path, &w, err, sizeof(err)), -ENOTDIR);
	assert_int_equal(snap_dir_open(path, err, sizeof(err)), -ENOTDIR);
	snap_test_rmdir(dir);
}

static void test_read_file_limits(void **state)
{
	char *dir = snap_test_mkdtemp(), *buf;
	size_t len;
	int fd;

	(void)state;
	fd = snap_dir_open(dir, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(snap_read_file(fd, SNAP_STATE_FILE, 10, &buf, &len, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "state.json: missing"));
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, "0123456789AB", 12), 0);
	assert_int_equal(snap_read_file(fd, SNAP_STATE_FILE, 10, &buf, &len, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(snap_read_file(fd, SNAP_STATE_FILE, 12, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 12);
	assert_string_equal(buf, "0123456789AB");
	free(buf);
	close(fd);
	snap_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_refuses_existing),
		cmocka_unit_test(test_abort_and_failed_commit),
		cmocka_unit_test(test_bad_names_and_lock),
		cmocka_unit_test(test_missing_dir),
		cmocka_unit_test(test_read_file_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
