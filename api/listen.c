// SPDX-License-Identifier: Apache-2.0
/*
 * The API's listening socket: the lock file, a stale socket's removal, bind with a mode that
 * does not depend on the umask, and the checks on an inherited fd=N. The socket is the VMM's
 * whole control surface, so whoever can connect to it owns the VM: it is created 0600 (or the
 * mode= the launcher asked for) and nothing at its path is removed unless it is a socket file
 * that nobody answers on.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api_internal.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* @path fits: api_listen_open checked its length. */
static void sun_of(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	memcpy(sa->sun_path, path, strlen(path) + 1);
}

/*
 * "P.lock", CH's acquire_api_socket_lock: a second VMM must not delete a live socket. Never
 * through a symlink (someone else's file would be created or locked), never blocking (a FIFO
 * planted there would hang the open), and only a regular file.
 */
static int open_lock(const char *path, char *err, size_t errlen)
{
	char lock[SUN_PATH_MAX + 8];
	struct stat st;
	int fd, ret;

	msg_fmt(lock, sizeof(lock), "%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) {
		ret = -errno;
		msg_fmt(err, errlen, "cannot open %s: %s", lock,
			errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		msg_fmt(err, errlen, "cannot stat %s: %s", lock, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		msg_fmt(err, errlen, "%s is not a regular file", lock);
	} else if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		msg_fmt(err, errlen, "API socket %s is in use by another process (%s is locked)",
			path, lock);
	} else {
		return fd;
	}
	close(fd);
	return ret;
}

/* 1 when a listener answers at @sa, 0 when nobody does (a stale file), or -errno. */
static int socket_answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), ret;

	if (fd < 0)
		return -errno;
	/* A full backlog (EAGAIN) is a live listener too. */
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 1;
	close(fd);
	if (ret == -ECONNREFUSED || ret == -ENOENT)
		return 0;
	return ret == -EAGAIN ? 1 : ret;
}

/*
 * With the lock held, what is at @path may only be a socket file left by a crash. Anything
 * else stays: a socket another process (without our lock: an older VMM, another tool) still
 * answers on, and every file that is not a socket at all.
 */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *err,
		       size_t errlen)
{
	struct stat st;
	int live;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		msg_fmt(err, errlen, "%s exists and is not a socket: not removing it", path);
		return -EEXIST;
	}
	live = socket_answers(sa);
	if (live) {
		msg_fmt(err, errlen, "API socket %s accepts connections from another process",
			path);
		return live > 0 ? -EADDRINUSE : live;
	}
	if (unlink(path) && errno != ENOENT) {
		msg_fmt(err, errlen, "cannot remove stale %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * The socket file is born with the umask's mode, so the umask is narrowed to 0177 around
 * bind(): process-wide, but a file another thread creates meanwhile only gets a stricter
 * mode. A wider mode= is applied before listen(), so no connection can come in between.
 */
static int bind_listen(int fd, const char *path, const struct sockaddr_un *sa, unsigned mode)
{
	mode_t old = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;

	umask(old);
	if (!ret && mode != API_SOCKET_MODE &&
	    fchmodat(AT_FDCWD, path, (mode_t)mode, AT_SYMLINK_NOFOLLOW))
		ret = -errno;
	if (!ret && listen(fd, API_MAX_CONNECTIONS))
		ret = -errno;
	return ret;
}

static int bind_path(const struct api_socket_spec *spec, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int fd, ret;

	sun_of(spec->path, &sa);
	if ((ret = clear_stale(spec->path, &sa, err, errlen)))
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	if ((ret = bind_listen(fd, spec->path, &sa, spec->mode ? spec->mode : API_SOCKET_MODE))) {
		close(fd);
		goto fail;
	}
	return fd;
fail:
	msg_fmt(err, errlen, "cannot listen on %s: %s", spec->path, strerror(-ret));
	return ret;
}

/* fd=N: an AF_UNIX stream socket, bound by the parent; listen if it only bound it. */
static int check_inherited(int fd, char *err, size_t errlen)
{
	int domain = 0, type = 0, acc = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) || domain != AF_UNIX ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM) {
		msg_fmt(err, errlen, "--api-socket fd=%d is not a Unix stream socket", fd);
		return -ENOTSOCK;
	}
	if (!getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) && !acc &&
	    listen(fd, API_MAX_CONNECTIONS)) {
		msg_fmt(err, errlen, "--api-socket fd=%d: listen: %s", fd, strerror(errno));
		return -errno;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		msg_fmt(err, errlen, "--api-socket fd=%d: %s", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

int api_listen_open(const struct api_socket_spec *spec, int *lock_fd, char *err, size_t errlen)
{
	int fd, ret;

	*lock_fd = -1;
	if (!spec->path)
		return (ret = check_inherited(spec->fd, err, errlen)) ? ret : spec->fd;
	if (strlen(spec->path) >= SUN_PATH_MAX) {
		msg_fmt(err, errlen, "API socket path is longer than %zu bytes", SUN_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	*lock_fd = open_lock(spec->path, err, errlen);
	if (*lock_fd < 0)
		return *lock_fd;
	fd = bind_path(spec, err, errlen);
	if (fd < 0) {
		close(*lock_fd);
		*lock_fd = -1;
	}
	return fd;
}
