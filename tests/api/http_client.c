// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/api/http_client.h"

int http_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int http_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until @buf holds @want bytes or the headers end (want 0). */
static int fill(int fd, char **buf, size_t *len, size_t *cap, size_t want)
{
	for (;;) {
		ssize_t n;

		if (want ? *len >= want : (*buf && memmem(*buf, *len, "\r\n\r\n", 4)))
			return 0;
		if (*len + 4096 > *cap) {
			*cap = (*cap + 4096) * 2;
			*buf = realloc(*buf, *cap + 1);
		}
		n = recv(fd, *buf + *len, *cap - *len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	}
}

int http_read(int fd, struct http_resp *r)
{
	char *buf = NULL, *end, *cl;
	size_t len = 0, cap = 0, head_len, clen = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = fill(fd, &buf, &len, &cap, 0);
	if (ret) {
		free(buf);
		return ret;
	}
	end = memmem(buf, len, "\r\n\r\n", 4);
	head_len = (size_t)(end - buf) + 4;
	if (sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
		free(buf);
		return -EPROTO;
	}
	/* ch-remote: a case-sensitive search for "Content-Length: ", none means no body */
	cl = memmem(buf, head_len, "Content-Length: ", 16);
	if (cl)
		clen = strtoul(cl + 16, NULL, 10);
	ret = fill(fd, &buf, &len, &cap, head_len + clen);
	r->head = strndup(buf, head_len);
	r->body = strndup(buf + head_len, clen);
	r->body_len = clen;
	free(buf);
	return ret;
}

int http_call(const char *path, const char *method, const char *url, const char *body,
	      struct http_resp *r)
{
	char head[512];
	int fd = http_connect(path), ret;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return fd;
	if (body)
		snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
			 "Content-Length: %zu\r\n\r\n", method, url, strlen(body));
	else
		snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
			 "\r\n", method, url);
	ret = http_send(fd, head, strlen(head));
	/* a server refusing the request from its headers may answer and close before the body */
	if (!ret && body)
		(void)http_send(fd, body, strlen(body));
	if (!ret)
		ret = http_read(fd, r);
	close(fd);
	return ret;
}

void http_resp_free(struct http_resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}
