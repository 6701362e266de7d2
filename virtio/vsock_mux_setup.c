// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's multiplexer, setup and teardown: the listening Unix socket of the hybrid
 * backend (mode 0600, a stale file of a killed vireo replaced), the epoll fd, and the timer
 * that ends closing streams whose last packet never comes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/vsock_mux.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void timer_arm(struct vsock_mux *m, uint64_t in_ns)
{
	struct itimerspec it = { .it_value = { (time_t)(in_ns / 1000000000ULL),
					       (long)(in_ns % 1000000000ULL) } };

	if (!in_ns)
		it.it_value.tv_nsec = 1;          /* 0 would disarm it */
	if (timerfd_settime(m->timer_fd, 0, &it, NULL))
		pr_warn_ratelimited("virtio-vsock: timerfd_settime: %s", strerror(errno));
}

void vsock_conn_expire(struct vsock_mux *m, struct vsock_conn *c)
{
	struct itimerspec cur;

	if (c->expiry_ns)
		return;
	c->expiry_ns = now_ns() + VSOCK_KILL_TIMEOUT_NS;
	/* Deadlines only grow: a running timer fires first and re-arms for this one. */
	if (!timerfd_gettime(m->timer_fd, &cur) && !cur.it_value.tv_sec && !cur.it_value.tv_nsec)
		timer_arm(m, VSOCK_KILL_TIMEOUT_NS);
}

void vsock_mux_timer(struct vsock_mux *m)
{
	uint64_t v, now = now_ns(), next = 0;
	struct vlist *l, *n;

	if (read(m->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("virtio-vsock: timerfd read: %s", strerror(errno));
	for (l = m->all.next; l != &m->all; l = n) {
		struct vsock_conn *c = conn_of(l, all);

		n = l->next;
		if (c->expiry_ns && c->expiry_ns <= now) {
			vsock_stat(&m->st.expired, 1);
			vsock_conn_kill(m, c, true);
		} else if (c->expiry_ns && (!next || c->expiry_ns < next)) {
			next = c->expiry_ns;
		}
	}
	if (next)
		timer_arm(m, next - now);
}

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
	m->listen_fd = m->epfd = m->timer_fd = -1;
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
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0) {
		ret = set_err(err, errlen, -errno, "vsock: timerfd_create: %s", strerror(errno));
		goto err;
	}
	ev.data.ptr = &m->timer_fd;              /* told apart from connections by address */
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->timer_fd, &ev)) {
		ret = set_err(err, errlen, -errno, "vsock: epoll_ctl: %s", strerror(errno));
		goto err;
	}
	ev.data.ptr = NULL;
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
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	free(m->path);
	m->path = NULL;
	m->listen_fd = m->epfd = m->timer_fd = -1;
}

int vsock_mux_fd(const struct vsock_mux *m)
{
	return m->epfd;
}
