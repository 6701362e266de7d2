/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the snapshot tests: scratch directories and file edits. */
#ifndef VIREO_TESTS_SNAPSHOT_SNAP_TEST_H
#define VIREO_TESTS_SNAPSHOT_SNAP_TEST_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /var/tmp: a real file system with sparse files). */
static inline char *snap_test_mkdtemp(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char *path = malloc(256);

	if (!path)
		return NULL;
	snprintf(path, 256, "%s/vireo-snap-test.XXXXXX", base);
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

/* Removes the files in @dir (hidden ones too) and the directory itself, then frees @dir. */
static inline void snap_test_rmdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
}

/* How many entries (hidden included) @dir holds. */
static inline int snap_test_count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static inline int snap_test_write_file(const char *dir, const char *name, const void *buf,
				       size_t len)
{
	char path[512];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

/* Reads @dir/@name into a NUL-terminated malloc'd buffer. */
static inline char *snap_test_read_file(const char *dir, const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = calloc(1, (size_t)st.st_size + 1);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	if (len)
		*len = (size_t)st.st_size;
	return buf;
}

#endif
