/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny HTTP/1.1 client over a Unix socket, written like ch-remote's (api_client/src/lib.rs). */
#ifndef VIREO_TESTS_API_HTTP_CLIENT_H
#define VIREO_TESTS_API_HTTP_CLIENT_H

#include <stddef.h>

struct http_resp {
	int status;                /* 0: no answer (connection dropped) */
	char *head;                /* status line and headers */
	char *body;
	size_t body_len;
};

/* A connected socket with 10 s send/receive timeouts, or -errno. */
int http_connect(const char *path);
/* Writes all of @buf; 0 or -errno. */
int http_send(int fd, const void *buf, size_t len);
/* Reads one response (Content-Length framed, or none); 0 or -errno / -ECONNRESET on EOF. */
int http_read(int fd, struct http_resp *r);
/* One request on a fresh connection, as ch-remote sends it; body NULL for none. */
int http_call(const char *path, const char *method, const char *url, const char *body,
	      struct http_resp *r);
void http_resp_free(struct http_resp *r);

#endif
