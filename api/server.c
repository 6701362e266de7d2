// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/1.1 server on the API socket, libmicrohttpd in thread-per-connection mode: a
 * connection waiting for the VMM (a long boot, a snapshot) blocks only its own thread, so
 * vmm.ping and vm.info keep answering; MHD_OPTION_CONNECTION_LIMIT bounds the threads and
 * MHD_OPTION_CONNECTION_TIMEOUT drops clients that stall while sending a request.
 *
 * Wire details Cloud Hypervisor's clients depend on: every response carries
 * "Server: Cloud Hypervisor API" and "Content-Type: application/json"; MHD writes
 * "Content-Length: " in the capitalization ch-remote searches for, and none on 204.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "base/log.h"

#define API_FLUSH_MS 1000     /* at stop, for answers still being sent */

struct api_server {
	struct MHD_Daemon *mhd;
	struct api_accept *acc;    /* owns the listening socket once started */
	struct api_queue *q;
	char *path;                /* NULL when serving an inherited fd */
	int lock_fd;
	pthread_mutex_t lock;
	pthread_cond_t sent;       /* signalled when an answer has been fully written */
	unsigned sending;          /* answers queued to MHD and not yet written */
	unsigned waiting;          /* connections waiting for the VMM */
};

/* Per request (MHD's con_cls): the route and the body received so far. */
struct conn_ctx {
	struct api_server *srv;
	bool responded;
	const struct api_route *route;
	char *body;
	size_t len;
	bool has_body;
};

static enum MHD_Result send_json(struct conn_ctx *ctx, struct MHD_Connection *c, unsigned status,
				 const char *json)
{
	size_t len = json && status != MHD_HTTP_NO_CONTENT ? strlen(json) : 0;
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(len ? json : ""), MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, "Server", "Cloud Hypervisor API") == MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") == MHD_NO) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES && !ctx->responded) {
		ctx->responded = true;
		pthread_mutex_lock(&ctx->srv->lock);
		ctx->srv->sending++;
		pthread_mutex_unlock(&ctx->srv->lock);
	}
	return ret;
}

/* An error array built here; a connection drop if even that cannot be allocated. */
static enum MHD_Result send_error(struct conn_ctx *ctx, struct MHD_Connection *c, unsigned status,
				  const char *first, const char *second)
{
	char *json = api_error_json(first, second, NULL);
	enum MHD_Result ret = json ? send_json(ctx, c, status, json) : MHD_NO;

	free(json);
	return ret;
}

static const char *short_name(const struct api_route *r)
{
	return strrchr(r->path, '/') + 1;
}

/* Checks that need only the request line and headers, so bad requests skip their body. */
static enum MHD_Result first_call(struct MHD_Connection *c, const char *url, const char *method,
				  struct conn_ctx *ctx, bool *answered)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
	char why[96];

	*answered = true;
	ctx->route = api_route_find(url);
	if (!ctx->route)
		return send_error(ctx, c, MHD_HTTP_NOT_FOUND, "Not Found", NULL);
	if (strcmp(method, ctx->route->method)) {
		msg_fmt(why, sizeof(why), "%s takes %s, not %.16s", short_name(ctx->route),
			ctx->route->method, method);
		return send_error(ctx, c, MHD_HTTP_BAD_REQUEST, "Bad Request", why);
	}
	if (n > API_MAX_BODY) {
		pr_warn_ratelimited("api: refused a %llu-byte request body", n);
		msg_fmt(why, sizeof(why), "request body of %llu bytes exceeds the limit of %u", n,
			API_MAX_BODY);
		return send_error(ctx, c, MHD_HTTP_CONTENT_TOO_LARGE, "Payload Too Large", why);
	}
	/* CH's vm_action_put_handler: any body is refused; Content-Length: 0 is no body. */
	if (ctx->route->body == BODY_NONE && (n || te)) {
		msg_fmt(why, sizeof(why), "%s takes no request body", short_name(ctx->route));
		return send_error(ctx, c, MHD_HTTP_BAD_REQUEST, "Bad Request", why);
	}
	*answered = false;
	return MHD_YES;
}

/* Collects a chunk; chunked bodies past the limit drop the connection (no length up front). */
static enum MHD_Result take_chunk(struct conn_ctx *ctx, const char *data, size_t *size)
{
	size_t n = *size;
	char *grown;

	*size = 0;
	ctx->has_body = true;
	if (ctx->route->body == BODY_IGNORED || ctx->route->body == BODY_NONE)
		return MHD_YES;
	if (n > API_MAX_BODY - ctx->len) {
		pr_warn_ratelimited("api: request body over %u bytes, dropping the connection",
				    API_MAX_BODY);
		return MHD_NO;
	}
	grown = realloc(ctx->body, ctx->len + n + 1);
	if (!grown)
		return MHD_NO;
	ctx->body = grown;
	memcpy(ctx->body + ctx->len, data, n);
	ctx->len += n;
	ctx->body[ctx->len] = '\0';
	return MHD_YES;
}

static enum MHD_Result answer_info(struct api_server *srv, struct MHD_Connection *c,
				   struct conn_ctx *ctx)
{
	bool enomem;
	char *info = api_queue_info_copy(srv->q, &enomem);
	enum MHD_Result ret;

	if (!info && enomem)
		return MHD_NO;
	if (!info) {
		/* CH: ApiError::VmInfo(VmError::VmNotCreated), answered 404. */
		char *json = api_error_json("Error from API", "The VM info is not available",
					    "VM is not created", NULL);

		ret = json ? send_json(ctx, c, MHD_HTTP_NOT_FOUND, json) : MHD_NO;
		free(json);
		return ret;
	}
	ret = send_json(ctx, c, MHD_HTTP_OK, info);
	free(info);
	return ret;
}

static enum MHD_Result answer_ping(struct MHD_Connection *c, struct conn_ctx *ctx)
{
	char *json = api_ping_json();
	enum MHD_Result ret = json ? send_json(ctx, c, MHD_HTTP_OK, json) : MHD_NO;

	free(json);
	return ret;
}

static int client_fd(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

static enum MHD_Result relay(struct api_server *srv, struct MHD_Connection *c,
			     struct conn_ctx *ctx, struct api_request *req);

/* Routes whose request takes the descriptors the connection brought (ch-api.md). */
static bool takes_fds(const struct api_route *r)
{
	return r->action == API_VM_ADD_NET || r->action == API_VM_RESTORE;
}

/* The connection's fds (fdpass.c) move into @req: they belong to this request now. */
static int attach_fds(struct MHD_Connection *c, struct api_request *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct api_fds *f = ci ? ci->socket_context : NULL;

	if (!f || !f->n)
		return 0;
	req->fds = malloc(f->n * sizeof(int));
	if (!req->fds)
		return -ENOMEM;
	memcpy(req->fds, f->fd, f->n * sizeof(int));
	req->nr_fds = f->n;
	f->n = 0;
	return 0;
}

/* Hands the request to the VMM thread and relays its answer. */
static enum MHD_Result answer_queued(struct api_server *srv, struct MHD_Connection *c,
				     struct conn_ctx *ctx)
{
	const struct api_route *r = ctx->route;
	struct api_request *req = api_request_new(r->action);
	char *body = NULL;
	int status, ret;

	if (!req || (takes_fds(r) && attach_fds(c, req))) {
		if (req)
			api_request_discard(req);
		return MHD_NO;
	}
	if (ctx->has_body) {
		status = api_route_parse_body(r, ctx->body ? ctx->body : "", ctx->len, req, &body);
		if (status) {
			pr_warn_ratelimited("api: %s: %s", short_name(r), body ? body : "bad body");
			api_request_discard(req);
			ret = body ? send_json(ctx, c, (unsigned)status, body) : MHD_NO;
			free(body);
			return ret;
		}
	}
	pthread_mutex_lock(&srv->lock);
	srv->waiting++;
	pthread_mutex_unlock(&srv->lock);
	ret = relay(srv, c, ctx, req);
	pthread_mutex_lock(&srv->lock);
	srv->waiting--;
	pthread_cond_broadcast(&srv->sent);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

/* Waits for the VMM's answer and queues it (counted in srv->waiting meanwhile). */
static enum MHD_Result relay(struct api_server *srv, struct MHD_Connection *c,
			     struct conn_ctx *ctx, struct api_request *req)
{
	char *body = NULL;
	int status, ret;

	ret = api_queue_submit_wait(srv->q, req, client_fd(c), &status, &body);
	if (ret == -ECONNRESET)
		return MHD_NO;    /* the client left; the VMM still completes the request */
	if (ret == -ESHUTDOWN)
		return send_error(ctx, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Error from API",
				  "The VMM is shutting down");
	if (ret)
		return send_error(ctx, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Error from API",
				  "Cannot hand the request to the VMM thread");
	ret = send_json(ctx, c, (unsigned)status, body);
	free(body);
	return ret;
}

static enum MHD_Result last_call(struct api_server *srv, struct MHD_Connection *c,
				 struct conn_ctx *ctx)
{
	const struct api_route *r = ctx->route;
	char why[96];

	if (r->body == BODY_NONE && ctx->has_body) {   /* chunked, so not caught up front */
		msg_fmt(why, sizeof(why), "%s takes no request body", short_name(r));
		return send_error(ctx, c, MHD_HTTP_BAD_REQUEST, "Bad Request", why);
	}
	if (r->body == BODY_REQUIRED && !ctx->len) {
		msg_fmt(why, sizeof(why), "%s needs a JSON request body", short_name(r));
		return send_error(ctx, c, MHD_HTTP_BAD_REQUEST, "Bad Request", why);
	}
	switch (r->handler) {
	case HANDLE_PING:
		return answer_ping(c, ctx);
	case HANDLE_INFO:
		return answer_info(srv, c, ctx);
	default:
		return answer_queued(srv, c, ctx);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct conn_ctx *ctx = *con_cls;
	bool answered;
	enum MHD_Result ret;

	(void)version;
	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		ctx->srv = cls;
		*con_cls = ctx;
		ret = first_call(c, url, method, ctx, &answered);
		if (answered || ret != MHD_YES)
			ctx->route = NULL;   /* answered: ignore whatever body follows */
		return ret;
	}
	if (!ctx->route) {
		*size = 0;
		return MHD_YES;
	}
	if (*size)
		return take_chunk(ctx, data, size);
	return last_call(cls, c, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	(void)cls;
	(void)c;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
	    toe != MHD_REQUEST_TERMINATED_CLIENT_ABORT)
		pr_debug("api: request ended early (MHD code %d)", (int)toe);
	if (ctx && ctx->responded) {
		pthread_mutex_lock(&ctx->srv->lock);
		ctx->srv->sending--;
		pthread_cond_broadcast(&ctx->srv->sent);
		pthread_mutex_unlock(&ctx->srv->lock);
	}
	if (ctx) {
		free(ctx->body);
		free(ctx);
	}
	*con_cls = NULL;
}

/* Per connection: the fds that came with it, taken from fdpass.c; leftovers closed. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *srv = cls;
	struct api_fds f, *keep;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (*socket_context)
			api_fds_close(*socket_context);
		free(*socket_context);
		*socket_context = NULL;
		return;
	}
	api_accept_take(srv->acc, client_fd(c), &f);
	if (!f.n)
		return;
	keep = malloc(sizeof(*keep));
	if (!keep) {
		api_fds_close(&f);
		return;
	}
	*keep = f;
	*socket_context = keep;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pr_debug("api: libmicrohttpd: %s", msg);
}

/* ---- socket, lock, start/stop ------------------------------------------------------------- */

static int lock_socket_path(struct api_server *srv, const char *path, char *err, size_t errlen)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int ret;

	msg_fmt(lock, sizeof(lock), "%s.lock", path);
	srv->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv->lock_fd < 0) {
		ret = -errno;
		msg_fmt(err, errlen, "cannot open %s: %s", lock, strerror(errno));
		return ret;
	}
	/* CH's acquire_api_socket_lock: a second VMM must not delete a live socket. */
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		msg_fmt(err, errlen, "API socket %s is in use by another process (%s is locked)",
			path, lock);
		return ret;
	}
	/* We hold the lock, so a socket file there is stale from a crashed run. */
	if (unlink(path) && errno != ENOENT) {
		ret = -errno;
		msg_fmt(err, errlen, "cannot remove stale %s: %s", path, strerror(errno));
		return ret;
	}
	return 0;
}

static int bind_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		msg_fmt(err, errlen, "API socket path is longer than %zu bytes",
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, API_MAX_CONNECTIONS)) {
		ret = -errno;
		close(fd);
		goto fail;
	}
	return fd;
fail:
	msg_fmt(err, errlen, "cannot listen on %s: %s", path, strerror(-ret));
	return ret;
}

/* MHD without a listening socket: fdpass.c accepts and hands connections over. */
static int start_mhd(struct api_server *srv, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;

	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1u << 20),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!srv->mhd) {
		msg_fmt(err, errlen, "libmicrohttpd failed to start on the API socket");
		return -EIO;
	}
	return 0;
}

/* fd=N: the socket must be a Unix stream socket; listen if the parent only bound it. */
static int check_inherited(int fd, char *err, size_t errlen)
{
	int type = 0, acc = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM) {
		msg_fmt(err, errlen, "--api-socket fd=%d is not a stream socket", fd);
		return -ENOTSOCK;
	}
	len = sizeof(acc);
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

static int open_listener(struct api_server *srv, const struct api_socket_spec *spec, char *err,
			 size_t errlen)
{
	int ret;

	if (!spec->path)
		return (ret = check_inherited(spec->fd, err, errlen)) ? ret : spec->fd;
	srv->path = strdup(spec->path);
	if (!srv->path)
		return -ENOMEM;
	ret = lock_socket_path(srv, spec->path, err, errlen);
	return ret ? ret : bind_socket(spec->path, err, errlen);
}

static int init_sync(struct api_server *srv)
{
	pthread_condattr_t ca;
	int ret;

	if ((ret = pthread_condattr_init(&ca)))
		return -ret;
	ret = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!ret)
		ret = pthread_cond_init(&srv->sent, &ca);
	pthread_condattr_destroy(&ca);
	if (!ret && (ret = pthread_mutex_init(&srv->lock, NULL)))
		pthread_cond_destroy(&srv->sent);
	return -ret;
}

/* Lets answers already handed to MHD reach their clients (vmm.shutdown's above all). */
static void flush_answers(struct api_server *srv)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += API_FLUSH_MS / 1000;
	pthread_mutex_lock(&srv->lock);
	while ((srv->sending || srv->waiting) &&
	       pthread_cond_timedwait(&srv->sent, &srv->lock, &dl) != ETIMEDOUT)
		;
	if (srv->sending || srv->waiting)
		pr_warn("api: %u answers still unsent at stop", srv->sending);
	pthread_mutex_unlock(&srv->lock);
}

int api_server_start(const struct api_socket_spec *spec, struct api_server **out, char *err,
		     size_t errlen)
{
	struct api_server *srv = calloc(1, sizeof(*srv));
	int fd = -1, ret;

	if (!srv)
		return -ENOMEM;
	srv->lock_fd = -1;
	if ((ret = init_sync(srv))) {
		free(srv);
		return ret;
	}
	if ((ret = api_queue_init(&srv->q)))
		goto err;
	fd = open_listener(srv, spec, err, errlen);
	if (fd < 0) {
		ret = fd;
		goto err;
	}
	if ((ret = start_mhd(srv, err, errlen)))
		goto err;
	if ((ret = api_accept_start(fd, srv->mhd, &srv->acc))) {
		msg_fmt(err, errlen, "cannot start the API's accept thread: %s", strerror(-ret));
		goto err;
	}
	*out = srv;
	return 0;
err:
	if (fd >= 0 && (srv->path || srv->mhd))
		close(fd);
	if (srv->path && fd >= 0)
		unlink(srv->path);
	api_server_stop(srv);
	return ret;
}

void api_server_stop(struct api_server *srv)
{
	if (!srv)
		return;
	if (srv->q)
		api_queue_shutdown(srv->q);     /* waiting connections answer 503 */
	if (srv->mhd) {
		flush_answers(srv);
		api_accept_stop(srv->acc);      /* no new connections; closes the socket */
		MHD_stop_daemon(srv->mhd);      /* joins the connection threads */
	}
	if (srv->path && srv->mhd && unlink(srv->path) && errno != ENOENT)
		pr_warn("api: cannot remove %s: %s", srv->path, strerror(errno));
	/* The lock file stays, as in CH: unlinking it would race a starting VMM. */
	if (srv->lock_fd >= 0)
		close(srv->lock_fd);
	api_queue_destroy(srv->q);
	pthread_cond_destroy(&srv->sent);
	pthread_mutex_destroy(&srv->lock);
	free(srv->path);
	free(srv);
}

int api_server_eventfd(const struct api_server *srv)
{
	return api_queue_eventfd(srv->q);
}

unsigned api_server_queued(struct api_server *srv)
{
	return api_queue_length(srv->q);
}

struct api_request *api_server_next_request(struct api_server *srv)
{
	return api_queue_pop(srv->q);
}

int api_server_publish_info(struct api_server *srv, const char *info_json)
{
	return api_queue_publish_info(srv->q, info_json);
}
