/* SPDX-License-Identifier: Apache-2.0 */
/* What the api/ files share and nothing else needs. */
#ifndef VIREO_API_INTERNAL_H
#define VIREO_API_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/sysfilter.h"
#include "api/api.h"
#include "base/log.h"

/* Caps beyond CH's, so a 4 MiB body cannot become hundreds of MB of cJSON nodes. */
#define API_MAX_JSON_VALUES 65536

enum api_body_rule {
	BODY_NONE,         /* refuse any body (CH's vm_action_put_handler) */
	BODY_REQUIRED,     /* refuse a missing body */
	BODY_IGNORED,      /* GET: not looked at */
};

enum api_handler {
	HANDLE_PING,       /* answered by the server thread */
	HANDLE_INFO,       /* answered from the published copy */
	HANDLE_QUEUE,      /* handed to the VMM thread */
};

struct api_route {
	const char *path;          /* "/api/v1/<name>" */
	const char *method;        /* "GET" or "PUT" */
	enum api_action action;
	enum api_body_rule body;
	enum api_handler handler;
};

/* The route for @url, or NULL (404). */
const struct api_route *api_route_find(const char *url);

/*
 * Turns a request body into the typed payload of @req (vm.create's VmConfig, ...). On error
 * returns 400 with CH's error body in *@err_body (malloc'd).
 */
int api_route_parse_body(const struct api_route *r, const char *body, size_t len,
			 struct api_request *req, char **err_body);
/* Frees whatever typed payload @req still owns. */
void api_request_free_payload(struct api_request *req);

/* CH's error body: a JSON array of the messages from @first to a NULL; malloc'd or NULL. */
char *api_error_jsonv(const char *first, va_list ap);

/* Typed reads of parsed JSON: 0 when absent (*present false), -EINVAL with "<path>: why". */
struct jfield {
	const cJSON *obj;
	const char *ctx;           /* "cpus", "disks[2]"; "" at the top */
	char *err;
	size_t errlen;
};
int jf_get(struct jfield *f, const char *key, const cJSON **out);
int jf_u64(struct jfield *f, const char *key, uint64_t max, uint64_t *out, bool *present);
int jf_bool(struct jfield *f, const char *key, bool *out);
int jf_str(struct jfield *f, const char *key, char **out);
int jf_fail(struct jfield *f, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool jf_is_object(const cJSON *item);

/* config_fs.c: VmConfig.fs[] in and out, and removal by id (-ENOENT). */
int api_parse_fs_list(struct jfield *top, struct vm_config *cfg);
bool api_fs_list_out(cJSON *root, const struct vm_config *cfg);
int api_config_remove_fs(struct vm_config *cfg, const char *id);

/*
 * config_refuse.c: 400 for a VmConfig field vireo does not honour that asks for something
 * (CH's defaults and false/empty values pass). The whole VmConfig, one DiskConfig, one
 * VsockConfig.
 */
int api_refuse_unsupported(struct jfield *f);
int api_refuse_disk_fields(struct jfield *f);
int api_refuse_vsock_fields(struct jfield *f);

/*
 * The listening socket for @spec (api_server_start's contract): its fd, or -errno with a
 * message in @err. With a path, *@lock_fd is the flock'd P.lock, else -1.
 */
int api_listen_open(const struct api_socket_spec *spec, int *lock_fd, char *err, size_t errlen);

/*
 * RFC 9112 framing checks on a request head (api/http_frame.c): NULL, or why the request must
 * be answered 400 and its connection closed. @c is a struct MHD_Connection.
 */
struct MHD_Connection;
const char *api_http_framing_error(struct MHD_Connection *c, const char *version);

/* A mutex and a condition variable on CLOCK_MONOTONIC (timed waits ignore clock changes). */
int api_sync_init(pthread_mutex_t *lock, pthread_cond_t *cond);

/* For tests: the request head and body deadlines (API_*_DEADLINE_MS by default). */
void api_server_set_deadlines(struct api_server *srv, unsigned header_ms, unsigned body_ms);

/*
 * File descriptors a client sent with a request (SCM_RIGHTS): fdpass.c peeks them off each
 * new connection before libmicrohttpd reads it. At most API_MAX_FDS per connection.
 */
#define API_MAX_FDS 16
struct api_fds {
	int sock;                  /* the connection they came on */
	unsigned n;
	int fd[API_MAX_FDS];
};
struct MHD_Daemon;
struct api_accept;
/* Accepts on @listen_fd (owned from here: closed by stop) and hands connections to @mhd. */
int api_accept_start(int listen_fd, struct MHD_Daemon *mhd, struct api_accept **out);
/* No new connections: the thread joined, the socket closed; fds already taken stay takeable. */
void api_accept_quiesce(struct api_accept *a);
/* Quiesces if needed, closes the fds nobody took, frees @a. */
void api_accept_stop(struct api_accept *a);
void api_accept_take(struct api_accept *a, int sock, struct api_fds *out);
void api_fds_close(struct api_fds *f);

/* Lock-protected state the server shares with the VMM thread; see queue.c. */
struct api_queue;
int api_queue_init(struct api_queue **out);
void api_queue_destroy(struct api_queue *q);
int api_queue_eventfd(const struct api_queue *q);
/*
 * Queues @req for the VMM and waits for its answer, the client hanging up (@client_fd shows
 * POLLHUP) or the server stopping. Returns 0 with *status and *body (malloc'd or NULL) set,
 * or -ECONNRESET (client gone) / -ESHUTDOWN. @req is consumed either way.
 */
int api_queue_submit_wait(struct api_queue *q, struct api_request *req, int client_fd,
			  int *status, char **body);
struct api_request *api_queue_pop(struct api_queue *q);
void api_queue_shutdown(struct api_queue *q);
int api_queue_publish_info(struct api_queue *q, const char *json);
/* A copy of the published vm.info (malloc'd), or NULL with *err_enomem telling why. */
char *api_queue_info_copy(struct api_queue *q, bool *err_enomem);
/* Requests waiting for the VMM thread to pop them (for tests). */
unsigned api_queue_length(struct api_queue *q);
unsigned api_server_queued(struct api_server *srv);
/* Connections open, their threads not yet joined by libmicrohttpd (for the fuzz harness). */
unsigned api_server_connections(struct api_server *srv);
struct api_request *api_request_new(enum api_action a);
/* Frees a request that was never submitted. */
void api_request_discard(struct api_request *req);

/* What the API server's threads may call (api/server.c), libmicrohttpd's among them. */
extern const struct sysfilter_policy api_sysfilter;

#endif
