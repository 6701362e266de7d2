// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's multiplexer, setup and teardown: the listening Unix socket of the hybrid
 * backend (mode 0600, a stale file of a killed vireo replaced) and the epoll fd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/vsock_mux.h"

/* An existing socket file nobody accepts on (its vireo was killed) may be replaced. */
static bool stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	ret = ret && errno == ECONNREFUSED;
	close(fd);
	return ret;
}

static int listen_unix(struct vsock_mux *m, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(m->path) + sizeof("_4294967295") > sizeof(sa.sun_path))
		return set_err(err, errlen, -ENAMETOOLONG, "vsock: socket path '%s' is too long "
			       "for a Unix socket (with its _<port> suffix)", m->path);
	memcpy(sa.sun_path, m->path, strlen(m->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_err(err, errlen, -errno, "vsock: socket: %s", strerror(errno));
	/* The mode the socket file gets at bind: 0600 without touching the process umask. */
	ret = fchmod(fd, 0600) ? -errno : 0;
	if (!ret && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (ret == -EADDRINUSE && stale_socket(&sa) && !unlink(sa.sun_path))
			ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	}
	if (!ret && listen(fd, 128)) {
		ret = -errno;
		unlink(sa.sun_path);
	}
	if (ret) {
		close(fd);
		return set_err(err, errlen, ret, "vsock: cannot listen on '%s': %s", m->path,
			       strerror(-ret));
	}
	m->listen_fd = fd;
	return 0;
}

int vsock_mux_init(struct vsock_mux *m, const char *path, uint64_t guest_cid, char *err,
		   size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int ret;

	memset(m, 0, sizeof(*m));
	m->listen_fd = m->epfd = -1;
	m->guest_cid = guest_cid;
	m->next_local_port = VSOCK_LOCAL_PORT_FIRST;
	m->all.prev = m->all.next = &m->all;
	m->pending.prev = m->pending.next = &m->pending;
	m->path = strdup(path);
	if (!m->path)
		return set_err(err, errlen, -ENOMEM, "vsock: out of memory");
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0) {
		ret = set_err(err, errlen, -errno, "vsock: epoll_create1: %s", strerror(errno));
		goto err;
	}
	ret = listen_unix(m, err, errlen);
	if (ret)
		goto err;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->listen_fd, &ev)) {
		ret = set_err(err, errlen, -errno, "vsock: epoll_ctl: %s", strerror(errno));
		unlink(m->path);
		goto err;
	}
	return 0;
err:
	vsock_mux_fini(m);
	return ret;
}

void vsock_mux_fini(struct vsock_mux *m)
{
	vsock_mux_reset(m);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		unlink(m->path);
	}
	if (m->epfd >= 0)
		close(m->epfd);
	free(m->path);
	m->path = NULL;
	m->listen_fd = m->epfd = -1;
}

int vsock_mux_fd(const struct vsock_mux *m)
{
	return m->epfd;
}
