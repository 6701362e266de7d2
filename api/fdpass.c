// SPDX-License-Identifier: Apache-2.0
/*
 * The API socket's accept path, for file descriptors sent with a request (SCM_RIGHTS), as
 * Cloud Hypervisor's clients send tap fds with vm.add-net: they ride with the first sendmsg,
 * the one carrying the request line. libmicrohttpd reads with plain recv(), which would drop
 * them, so this thread accepts each connection, waits (poll, no thread per client) until
 * its first bytes arrive, peeks them with recvmsg(MSG_PEEK) (Linux installs the passed fds
 * in this process on a peek, and the bytes stay for MHD), records the fds by socket, then
 * hands the socket to MHD (MHD_add_connection). The server takes them when the connection
 * starts; whatever no request takes is closed with the connection.
 */
#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "base/log.h"

struct pending {
	int sock;
	struct timespec since;
};

struct api_accept {
	int listen_fd, stop_fd;
	struct MHD_Daemon *mhd;
	pthread_t thread;
	struct pending pend[API_MAX_CONNECTIONS];
	unsigned nr_pend;
	pthread_mutex_t lock;             /* fds[] */
	struct api_fds fds[API_MAX_CONNECTIONS];
};

void api_fds_close(struct api_fds *f)
{
	for (unsigned i = 0; i < f->n; i++)
		close(f->fd[i]);
	f->n = 0;
}

/* The fds that came with @sock's first bytes, moved into @out (none: out->n == 0). */
void api_accept_take(struct api_accept *a, int sock, struct api_fds *out)
{
	out->n = 0;
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < API_MAX_CONNECTIONS; i++) {
		if (a->fds[i].n && a->fds[i].sock == sock) {
			*out = a->fds[i];
			a->fds[i].n = 0;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

static void record(struct api_accept *a, const struct api_fds *f)
{
	unsigned i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < API_MAX_CONNECTIONS && a->fds[i].n; i++)
		;
	if (i < API_MAX_CONNECTIONS)
		a->fds[i] = *f;
	pthread_mutex_unlock(&a->lock);
	if (i == API_MAX_CONNECTIONS) {
		struct api_fds dead = *f;

		api_fds_close(&dead);            /* cannot happen: one entry per connection */
	}
}

/* Peeks the first bytes of @sock for SCM_RIGHTS; the bytes stay for MHD. */
static void peek_fds(struct api_accept *a, int sock)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * API_MAX_FDS)];
	} ctl;
	struct api_fds f = { .sock = sock };
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };

	if (recvmsg(sock, &msg, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		unsigned n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (unsigned i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (f.n < API_MAX_FDS)
				f.fd[f.n++] = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		pr_warn_ratelimited("api: a request brought more than %u file descriptors; the "
				    "rest were closed", API_MAX_FDS);
	if (f.n)
		record(a, &f);
}

static void hand_over(struct api_accept *a, unsigned i, bool readable)
{
	int sock = a->pend[i].sock;

	if (readable)
		peek_fds(a, sock);
	a->pend[i] = a->pend[--a->nr_pend];
	/* MHD owns the socket from here, even on failure (it closes it then). */
	if (MHD_add_connection(a->mhd, sock, NULL, 0) != MHD_YES) {
		struct api_fds f;

		api_accept_take(a, sock, &f);
		api_fds_close(&f);
		pr_warn_ratelimited("api: cannot serve a connection: %s", strerror(errno));
	}
}

static void accept_one(struct api_accept *a)
{
	int sock = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (sock < 0)
		return;
	if (a->nr_pend == API_MAX_CONNECTIONS) {
		close(sock);                     /* as MHD's connection limit would */
		return;
	}
	a->pend[a->nr_pend].sock = sock;
	clock_gettime(CLOCK_MONOTONIC, &a->pend[a->nr_pend].since);
	a->nr_pend++;
}

/* A client that sends nothing within the connection timeout goes to MHD as it is. */
static bool timed_out(const struct pending *p, const struct timespec *now)
{
	return now->tv_sec - p->since.tv_sec >= API_CONN_TIMEOUT_S;
}

static void *accept_main(void *arg)
{
	struct api_accept *a = arg;
	struct pollfd pfd[API_MAX_CONNECTIONS + 2];
	struct timespec now;

	if (sysfilter_apply(&api_sysfilter))
		pr_warn("api: the accept thread cannot install its syscall filter");

	for (;;) {
		unsigned n = a->nr_pend, i;

		pfd[0] = (struct pollfd){ a->stop_fd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ a->listen_fd, POLLIN, 0 };
		for (i = 0; i < n; i++)
			pfd[i + 2] = (struct pollfd){ a->pend[i].sock, POLLIN, 0 };
		if (poll(pfd, n + 2, 1000) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = n; i-- > 0;)             /* backwards: hand_over moves the last down */
			if (pfd[i + 2].revents || timed_out(&a->pend[i], &now))
				hand_over(a, i, pfd[i + 2].revents != 0);
		if (pfd[1].revents)
			accept_one(a);
	}
	return NULL;
}

int api_accept_start(int listen_fd, struct MHD_Daemon *mhd, struct api_accept **out)
{
	struct api_accept *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	a->listen_fd = listen_fd;
	a->mhd = mhd;
	a->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (a->stop_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if ((ret = -pthread_mutex_init(&a->lock, NULL)))
		goto err_close;
	if ((ret = -pthread_create(&a->thread, NULL, accept_main, a)))
		goto err_mutex;
	*out = a;
	return 0;

err_mutex:
	pthread_mutex_destroy(&a->lock);
err_close:
	close(a->stop_fd);
err_free:
	free(a);
	return ret;
}

void api_accept_quiesce(struct api_accept *a)
{
	uint64_t one = 1;

	if (!a || a->stop_fd < 0)
		return;
	if (write(a->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("api: cannot stop the accept thread: %s", strerror(errno));
	pthread_join(a->thread, NULL);
	for (unsigned i = 0; i < a->nr_pend; i++)
		close(a->pend[i].sock);
	a->nr_pend = 0;
	close(a->listen_fd);
	close(a->stop_fd);
	a->listen_fd = a->stop_fd = -1;
}

void api_accept_stop(struct api_accept *a)
{
	if (!a)
		return;
	api_accept_quiesce(a);
	for (unsigned i = 0; i < API_MAX_CONNECTIONS; i++)
		api_fds_close(&a->fds[i]);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
