// SPDX-License-Identifier: Apache-2.0
/* Non-blocking, type-checked opens of untrusted paths (base/file.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFBLK: return "a block device";
	case S_IFCHR: return "a character device";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFDIR: return "a directory";
	case S_IFLNK: return "a symbolic link";
	default: return "of an unknown type";
	}
}

static unsigned type_bit(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return FILE_TYPE_REG;
	case S_IFBLK: return FILE_TYPE_BLK;
	case S_IFCHR: return FILE_TYPE_CHR;
	case S_IFIFO: return FILE_TYPE_FIFO;
	default: return 0;
	}
}

/* "a regular file or a block device": the first accepted kinds, for the message. */
static const char *wanted(unsigned types)
{
	if (types == FILE_TYPE_REG)
		return "a regular file";
	if (types == (FILE_TYPE_REG | FILE_TYPE_BLK))
		return "a regular file or a block device";
	return "a file of a supported kind";
}

static int check_type(int fd, const char *what, const char *path, unsigned types, char *err,
		      size_t errlen)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st))
		return set_err(err, errlen, -errno, "cannot stat %s '%s': %s", what, path,
			       strerror(errno));
	if (!(type_bit(st.st_mode) & types))
		return set_err(err, errlen, -EINVAL, "%s '%s' is %s, not %s", what, path,
			       file_type_name(st.st_mode), wanted(types));
	if (S_ISFIFO(st.st_mode))
		return 0;
	/* Blocking again: io_uring, for one, fails an O_NONBLOCK file's reads with EAGAIN. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
		return set_err(err, errlen, -errno, "%s '%s': fcntl: %s", what, path,
			       strerror(errno));
	return 0;
}

int file_openat(int dirfd, const char *what, const char *path, int flags, mode_t mode,
		unsigned types, char *err, size_t errlen)
{
	int fd = openat(dirfd, path, flags | O_NONBLOCK | O_CLOEXEC, mode), ret;

	if (fd < 0) {
		if (errno == ELOOP && (flags & O_NOFOLLOW))
			return set_err(err, errlen, -ELOOP, "%s '%s' is a symbolic link", what, path);
		if (errno == ENXIO)
			return set_err(err, errlen, -ENXIO, "%s '%s': nobody reads that FIFO or "
				       "socket", what, path);
		return set_err(err, errlen, -errno, "cannot open %s '%s': %s", what, path,
			       strerror(errno));
	}
	ret = check_type(fd, what, path, types, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int file_open(const char *what, const char *path, int flags, mode_t mode, unsigned types,
	      char *err, size_t errlen)
{
	return file_openat(AT_FDCWD, what, path, flags, mode, types, err, errlen);
}

int file_map_ro(const char *what, const char *path, uint8_t **data, size_t *len, char *err,
		size_t errlen)
{
	struct stat st;
	int fd, ret = 0;

	fd = file_open(what, path, O_RDONLY, 0, FILE_TYPE_REG, err, errlen);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		ret = set_err(err, errlen, -errno, "cannot stat %s '%s': %s", what, path,
			   strerror(errno));
	} else if (st.st_size == 0) {
		ret = set_err(err, errlen, -EINVAL, "%s '%s' is empty", what, path);
	} else {
		*len = (size_t)st.st_size;
		*data = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (*data == MAP_FAILED)
			ret = set_err(err, errlen, -errno, "cannot map %s '%s': %s", what, path,
				   strerror(errno));
	}
	close(fd);
	return ret;
}
