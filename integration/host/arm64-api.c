// SPDX-License-Identifier: Apache-2.0
/*
 * arm64-api SOCKET METHOD NAME [BODY]: one REST call to vireo (/api/v1/NAME) from the nested
 * arm64 host, which has busybox but no curl or python (integration/host/arm64-api-test.sh).
 * Prints "STATUS BODY" on one line; exits 0 when the status is 2xx, 1 otherwise, 2 on no answer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/api/http_client.h"

#define ANSWER_TIMEOUT_S 300

/*
 * http_call with a longer wait for the answer: vm.boot answers once the kernel is loaded and
 * the vCPUs started, which in the nested host under load took more than http_connect's 10 s.
 */
static int call(const char *path, const char *method, const char *url, const char *body,
		struct http_resp *r)
{
	struct timeval tv = { .tv_sec = ANSWER_TIMEOUT_S };
	char head[512], length[48] = "";
	int fd = http_connect(path), ret;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return fd;
	if (body)
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n", strlen(body));
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n%s\r\n",
		 method, url, length);
	ret = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ? -errno : 0;
	ret = ret ?: http_send(fd, head, strlen(head));
	if (!ret && body)
		ret = http_send(fd, body, strlen(body));
	ret = ret ?: http_read(fd, r);
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	struct http_resp r;
	char url[256];
	int ret;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: arm64-api SOCKET METHOD NAME [BODY]\n");
		return 2;
	}
	snprintf(url, sizeof(url), "/api/v1/%s", argv[3]);
	ret = call(argv[1], argv[2], url, argc == 5 ? argv[4] : NULL, &r);
	if (ret) {
		printf("0 %s\n", strerror(-ret));
		return 2;
	}
	printf("%d %s\n", r.status, r.body ? r.body : "");
	ret = r.status >= 200 && r.status < 300 ? 0 : 1;
	http_resp_free(&r);
	return ret;
}
