// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot directory. Writing is atomic at the level that matters: each file goes to a
 * hidden temporary name (".NAME.tmp"), is fsynced, and only then renamed into place with
 * RENAME_NOREPLACE; state.json is renamed last, so a directory without it is never a snapshot,
 * and the directory itself is fsynced so the renames are durable. An flock on the directory
 * keeps two writers apart; under it the temporary names are ours: a crashed writer's
 * leftovers are unlinked and each temporary is created anew with O_EXCL, mode 0600, so a file
 * someone else planted under that name is never written into (or renamed into place).
 * Reading, every file must be a regular file owned by our user and writable by nobody else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "snapshot/internal.h"

#define SNAP_MAX_FILES 8

/* Commit order: state.json is the commit point and goes last. */
static const char *const snapshot_files[] = {
	SNAP_MEMORY_FILE, SNAP_CONFIG_FILE, SNAP_CONFIG_CHECKSUM_FILE, SNAP_CHECKSUM_FILE,
	SNAP_STATE_FILE,
};

struct snap_file {
	char name[32];
	char tmp[40];
	int fd;
	bool renamed;
};

struct snap_writer {
	int dirfd;
	char dir[PATH_MAX];
	unsigned nr;
	struct snap_file files[SNAP_MAX_FILES];
};

int snap_url_to_path(const char *url, const char *field, char *path, size_t pathlen,
		     char *err, size_t errlen)
{
	static const char scheme[] = "file://";
	const char *p;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1))
		return set_err(err, errlen, -EINVAL, "%s: expected a file:///absolute/dir URL",
				field);
	p = url + sizeof(scheme) - 1;
	if (!strncmp(p, "localhost/", 10))   /* RFC 8089: file://localhost/path */
		p += 9;
	if (p[0] != '/')
		return set_err(err, errlen, -EINVAL,
				"%s: the path must be absolute (file:///dir)", field);
	if (strlen(p) >= pathlen || strlen(p) >= PATH_MAX)
		return set_err(err, errlen, -ENAMETOOLONG, "%s: path too long", field);
	snprintf(path, pathlen, "%s", p);
	return 0;
}

/* ------------------------------------------------------------------ writer */

static int open_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOTDIR)
		return set_err(err, errlen, -ENOTDIR, "%s is not a directory", dir);
	if (fd < 0)
		return set_err(err, errlen, -errno, "cannot open directory %s: %s", dir,
				strerror(errno));
	return fd;
}

static int refuse_existing(int dirfd, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	unsigned i;

	for (i = 0; i < SNAP_ARRAY_SIZE(snapshot_files); i++)
		if (!fstatat(dirfd, snapshot_files[i], &st, AT_SYMLINK_NOFOLLOW))
			return set_err(err, errlen, -EEXIST,
					"%s already holds a snapshot (%s): use another directory",
					dir, snapshot_files[i]);
	return 0;
}

int snap_writer_open(const char *dir, struct snap_writer **out, char *err, size_t errlen)
{
	struct snap_writer *w;
	int fd = open_dir(dir, err, errlen), ret;

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return set_err(err, errlen, ret, "%s: another snapshot is being written there",
				dir);
	}
	ret = refuse_existing(fd, dir, err, errlen);
	w = ret ? NULL : calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return ret ?: set_err(err, errlen, -ENOMEM, "out of memory");
	}
	w->dirfd = fd;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	*out = w;
	return 0;
}

static bool known_name(const char *name)
{
	unsigned i;

	for (i = 0; i < SNAP_ARRAY_SIZE(snapshot_files); i++)
		if (!strcmp(name, snapshot_files[i]))
			return true;
	return false;
}

int snap_writer_file(struct snap_writer *w, const char *name, int *fd, char *err,
		     size_t errlen)
{
	struct snap_file *f;
	unsigned i;

	if (!known_name(name))
		return set_err(err, errlen, -EINVAL, "%s is not a snapshot file name", name);
	for (i = 0; i < w->nr; i++)
		if (!strcmp(w->files[i].name, name))
			return set_err(err, errlen, -EEXIST, "%s written twice", name);
	if (w->nr == SNAP_MAX_FILES)
		return set_err(err, errlen, -ENOSPC, "too many snapshot files");
	f = &w->files[w->nr];
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->tmp, sizeof(f->tmp), ".%s.tmp", name);
	/* A leftover we cannot remove (a sticky directory, another owner) makes O_EXCL fail. */
	if (unlinkat(w->dirfd, f->tmp, 0) && errno != ENOENT)
		pr_warn("snapshot: cannot remove %s/%s: %s", w->dir, f->tmp, strerror(errno));
	f->fd = openat(w->dirfd, f->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return set_err(err, errlen, -errno, "cannot create %s/%s: %s", w->dir, f->tmp,
				strerror(errno));
	w->nr++;
	*fd = f->fd;
	return 0;
}

int snap_writer_put(struct snap_writer *w, const char *name, const void *buf, size_t len,
		    char *err, size_t errlen)
{
	const char *p = buf;
	int fd, ret = snap_writer_file(w, name, &fd, err, errlen);

	while (!ret && len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return set_err(err, errlen, n < 0 ? -errno : -EIO, "writing %s/%s: %s",
					w->dir, name, n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	return ret;
}

static void writer_free(struct snap_writer *w, bool unlink_all)
{
	unsigned i;

	for (i = 0; i < w->nr; i++) {
		struct snap_file *f = &w->files[i];

		if (f->fd >= 0)
			close(f->fd);
		if (unlink_all)
			unlinkat(w->dirfd, f->renamed ? f->name : f->tmp, 0);
	}
	if (unlink_all)
		fsync(w->dirfd);
	close(w->dirfd);      /* drops the flock */
	free(w);
}

void snap_writer_abort(struct snap_writer *w)
{
	if (w)
		writer_free(w, true);
}

static struct snap_file *writer_find(struct snap_writer *w, const char *name)
{
	unsigned i;

	for (i = 0; i < w->nr; i++)
		if (!strcmp(w->files[i].name, name))
			return &w->files[i];
	return NULL;
}

static int commit_files(struct snap_writer *w, char *err, size_t errlen)
{
	unsigned i;

	if (!writer_find(w, SNAP_STATE_FILE))
		return set_err(err, errlen, -EINVAL, "no %s written", SNAP_STATE_FILE);
	for (i = 0; i < w->nr; i++)
		if (fsync(w->files[i].fd))
			return set_err(err, errlen, -errno, "fsync %s/%s: %s", w->dir,
					w->files[i].tmp, strerror(errno));
	for (i = 0; i < SNAP_ARRAY_SIZE(snapshot_files); i++) {
		struct snap_file *f = writer_find(w, snapshot_files[i]);

		if (!f)
			continue;
		if (renameat2(w->dirfd, f->tmp, w->dirfd, f->name, RENAME_NOREPLACE))
			return set_err(err, errlen, -errno, "renaming %s/%s: %s", w->dir, f->name,
					strerror(errno));
		f->renamed = true;
	}
	if (fsync(w->dirfd))
		return set_err(err, errlen, -errno, "fsync %s: %s", w->dir, strerror(errno));
	return 0;
}

int snap_writer_commit(struct snap_writer *w, char *err, size_t errlen)
{
	int ret = commit_files(w, err, errlen);

	writer_free(w, ret != 0);
	return ret;
}

/* ------------------------------------------------------------------ reading */

int snap_dir_open(const char *dir, char *err, size_t errlen)
{
	return open_dir(dir, err, errlen);
}

static int read_all(int fd, char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;      /* shrank under us */
		done += (size_t)n;
	}
	return 0;
}

int snap_open_file(int dirfd, const char *name, char *err, size_t errlen)
{
	int fd = file_openat(dirfd, "snapshot file", name, O_RDONLY | O_NOFOLLOW, 0,
			     FILE_TYPE_REG, err, errlen);
	struct stat st;

	if (fd == -ENOENT)
		return set_err(err, errlen, -ENOENT, "%s: missing from the snapshot", name);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		set_err(err, errlen, -errno, "%s: %s", name, strerror(errno));
	} else if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		set_err(err, errlen, -EPERM, "%s: owned by uid %u with mode %03o: a snapshot file "
			"must be vireo's (uid %u) and writable by nobody else", name,
			(unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
	} else {
		return fd;
	}
	close(fd);
	return -EPERM;
}

int snap_read_file(int dirfd, const char *name, size_t max, char **buf, size_t *len,
		   char *err, size_t errlen)
{
	int fd = snap_open_file(dirfd, name, err, errlen), ret;
	struct stat st;
	char *b;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || (uint64_t)st.st_size > max) {
		ret = set_err(err, errlen, -EINVAL, "%s: not a regular file of at most %zu bytes",
			       name, max);
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	ret = b ? read_all(fd, b, (size_t)st.st_size) : -ENOMEM;
	if (ret) {
		free(b);
		set_err(err, errlen, ret, "%s: %s", name, strerror(-ret));
		goto out;
	}
	b[st.st_size] = '\0';
	*buf = b;
	*len = (size_t)st.st_size;
out:
	close(fd);
	return ret;
}
