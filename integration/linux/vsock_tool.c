// SPDX-License-Identifier: Apache-2.0
/*
 * The stock-Linux suite's vsock helper inside the guest (busybox has no AF_VSOCK), built
 * statically by artifacts.py into the initramfs:
 *   vsock_tool serve PORT      echo every connection back until its EOF, one child each,
 *                              then say how it ended (EOF, ECONNRESET, ...)
 *   vsock_tool once PORT       accept one connection, copy it to stdout until EOF, exit
 *   vsock_tool connect CID PORT   stdin to the stream, the stream to stdout; on failure
 *                              prints "connect: <errno name>" and exits 1
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static int vsock(void)
{
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("socket(AF_VSOCK)");
		exit(1);
	}
	return fd;
}

static int listen_on(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int fd = vsock();

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		perror("bind/listen");
		exit(1);
	}
	/* The host waits for this line (the console) before it connects. */
	fprintf(stderr, "vtest: vsock listening %u\n", port);
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies @in to @out until EOF; 0, or -1 on an error. */
static int copy(int in, int out)
{
	static char buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -1 : 0;
		if (write_all(out, buf, (size_t)n))
			return -1;
	}
}

static int serve(unsigned port)
{
	int lfd = listen_on(port);

	signal(SIGCHLD, SIG_IGN);           /* no zombies */
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		if (fork() == 0) {
			int ret = copy(fd, fd);

			/* How the stream ended: the snapshot scenario waits for a reset. */
			fprintf(stderr, "vtest: vsock echo ended: %s\n", !ret ? "EOF" :
				errno == ECONNRESET ? "ECONNRESET" :
				errno == ENOTCONN ? "ENOTCONN" : strerror(errno));
			shutdown(fd, SHUT_WR);
			_exit(ret ? 1 : 0);
		}
		close(fd);
	}
}

static int once(unsigned port)
{
	int lfd = listen_on(port), fd = accept(lfd, NULL, NULL);

	return fd < 0 || copy(fd, 1) ? 1 : 0;
}

/* Both directions at once: a large transfer must not wait on its own echo. */
static int relay(int fd)
{
	struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
	static char buf[65536];
	bool in_open = true;

	for (;;) {
		ssize_t n;

		p[0].fd = in_open ? 0 : -1;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno != EINTR)
				return 1;
			if (n == 0)
				return 0;
			if (n > 0 && write_all(1, buf, (size_t)n))
				return 1;
		}
		if (in_open && p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
			} else if (write_all(fd, buf, (size_t)n)) {
				return 1;
			}
		}
	}
}

static int connect_to(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = vsock();

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		const char *name = errno == ECONNRESET ? "ECONNRESET" :
				   errno == ECONNREFUSED ? "ECONNREFUSED" :
				   errno == ETIMEDOUT ? "ETIMEDOUT" : strerror(errno);

		printf("connect: %s\n", name);
		return 1;
	}
	return relay(fd);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve((unsigned)atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "once"))
		return once((unsigned)atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return connect_to((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
	fprintf(stderr, "usage: vsock_tool serve PORT | once PORT | connect CID PORT\n");
	return 2;
}
