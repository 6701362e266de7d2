// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/1.1 server on the API socket, libmicrohttpd in thread-per-connection mode: a
 * connection waiting for the VMM (a long boot, a snapshot) blocks only its own thread, so
 * vmm.ping and vm.info keep answering. MHD_OPTION_CONNECTION_LIMIT bounds the threads; the
 * connection guard (conn_guard.h) holds requests to deadlines and keeps slots free for
 * answers however many clients stall; requests with ambiguous framing are refused and their
 * connection closed (http_frame.c). The socket itself is listen.c's.
 *
 * Wire details Cloud Hypervisor's clients depend on: every response carries
 * "Server: Cloud Hypervisor API" and "Content-Type: application/json"; MHD writes
 * "Content-Length: " in the capitalization ch-remote searches for, and none on 204.
 */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "api/conn_guard.h"
#include "base/log.h"
#include "base/sysfilter.h"

#define API_FLUSH_MS 1000     /* at stop, for answers still being sent */

struct api_server {
	struct MHD_Daemon *mhd;
	struct api_accept *acc;    /* owns the listening socket once started */
	struct api_queue *q;
	struct api_guard *guard;
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
	bool body_expected;        /* the head announced one (Content-Length > 0, chunked) */
};

/* @close: "Connection: close", and MHD closes the connection once the answer is out. */
static enum MHD_Result respond(struct conn_ctx *ctx, struct MHD_Connection *c, unsigned status,
			       const char *json, bool close)
{
	size_t len = json && status != MHD_HTTP_NO_CONTENT ? strlen(json) : 0;
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(len ? json : ""), MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, "Server", "Cloud Hypervisor API") == MHD_NO ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") == MHD_NO ||
	    (close && MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_NO)) {
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

static enum MHD_Result send_json(struct conn_ctx *ctx, struct MHD_Connection *c, unsigned status,
				 const char *json)
{
	return respond(ctx, c, status, json, false);
}

/* An error array built here; a connection drop if even that cannot be allocated. */
static enum MHD_Result send_error(struct conn_ctx *ctx, struct MHD_Connection *c, unsigned status,
				  const char *first, const char *second)
{
	char *json = api_error_json(first, second, NULL);
	enum MHD_Result ret = json ? respond(ctx, c, status, json, false) : MHD_NO;

	free(json);
	return ret;
}

/*
 * A head whose body length is ambiguous: 400, and the connection closes without reading on
 * (RFC 9112 6.3), so nothing after it can be taken for a request.
 */
static enum MHD_Result refuse_framing(struct conn_ctx *ctx, struct MHD_Connection *c,
				      const char *why)
{
	char *json = api_error_json("Bad Request", why, NULL);
	enum MHD_Result ret = json ? respond(ctx, c, MHD_HTTP_BAD_REQUEST, json, true) : MHD_NO;

	pr_warn_ratelimited("api: refused a request: %s", why);
	free(json);
	return ret;
}

static const char *short_name(const struct api_route *r)
{
	return strrchr(r->path, '/') + 1;
}

/* Checks that need only the request line and headers, so bad requests skip their body. */
static enum MHD_Result first_call(struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, struct conn_ctx *ctx, bool *answered)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
	const char *bad_framing = api_http_framing_error(c, version);
	char why[96];

	*answered = true;
	if (bad_framing)
		return refuse_framing(ctx, c, bad_framing);
	ctx->body_expected = n || te;
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
static int attach_fds(struct api_server *srv, struct MHD_Connection *c, struct api_request *req)
{
	struct api_fds f;

	api_accept_take(srv->acc, client_fd(c), &f);
	if (!f.n)
		return 0;
	req->fds = malloc(f.n * sizeof(int));
	if (!req->fds) {
		api_fds_close(&f);
		return -ENOMEM;
	}
	memcpy(req->fds, f.fd, f.n * sizeof(int));
	req->nr_fds = f.n;
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

	if (!req || (takes_fds(r) && attach_fds(srv, c, req))) {
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
	struct api_server *srv = cls;
	struct conn_ctx *ctx = *con_cls;
	bool answered;
	enum MHD_Result ret;

	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		ctx->srv = srv;
		*con_cls = ctx;
		ret = first_call(c, url, method, version, ctx, &answered);
		if (answered || ret != MHD_YES)
			ctx->route = NULL;   /* answered: ignore whatever body follows */
		api_guard_phase(srv->guard, c, ctx->route && ctx->body_expected ? CONN_BODY :
									   CONN_SERVED);
		return ret;
	}
	if (!ctx->route) {
		*size = 0;
		return MHD_YES;
	}
	if (*size)
		return take_chunk(ctx, data, size);
	api_guard_phase(srv->guard, c, CONN_SERVED);
	return last_call(srv, c, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	/* a kept-alive connection now waits for its next request's head */
	api_guard_phase(((struct api_server *)cls)->guard, c, CONN_HEAD);
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

/*
 * Per connection: the guard's bookkeeping (its socket context), and the fds that came with
 * the connection (fdpass.c holds them until a request takes them), closed if none did.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *srv = cls;
	struct api_fds f;

	api_guard_notify(srv->guard, c, socket_context, toe);
	if (toe != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	api_accept_take(srv->acc, client_fd(c), &f);
	api_fds_close(&f);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pr_debug("api: libmicrohttpd: %s", msg);
}

/* ---- start/stop ---------------------------------------------------------------------------- */

/*
 * The API threads' syscall filter: sockets, waiting, their own threads. libmicrohttpd starts
 * its threads itself, so the daemon is started from a short-lived thread that has applied
 * the filter first: every thread it creates inherits it.
 */
static const struct sysfilter_rule api_rules[] = {
	SYSFILTER_ALLOW(accept), SYSFILTER_ALLOW(accept4), SYSFILTER_ALLOW(recvfrom),
	SYSFILTER_ALLOW(recvmsg), SYSFILTER_ALLOW(sendto), SYSFILTER_ALLOW(sendmsg),
	SYSFILTER_ALLOW(shutdown), SYSFILTER_ALLOW(setsockopt), SYSFILTER_ALLOW(getsockopt),
	SYSFILTER_ALLOW(getsockname), SYSFILTER_ALLOW(getpeername), SYSFILTER_ALLOW(fcntl),
	SYSFILTER_ALLOW(poll), SYSFILTER_ALLOW(ppoll), SYSFILTER_ALLOW(select),
	SYSFILTER_ALLOW(pselect6), SYSFILTER_ALLOW(clone), SYSFILTER_ALLOW(clone3),
	SYSFILTER_ALLOW(set_robust_list), SYSFILTER_ALLOW(rseq), SYSFILTER_ALLOW(prctl),
	SYSFILTER_ALLOW(sched_getaffinity), SYSFILTER_ALLOW(eventfd2), SYSFILTER_ALLOW(pipe2),
	SYSFILTER_ALLOW(listen),
	{ __NR_ioctl, 1, ~0ULL, FIONREAD, 0 },
	SYSFILTER_NO_OPEN,
};

const struct sysfilter_policy api_sysfilter = {
	"api", api_rules, SYSFILTER_ARRAY_SIZE(api_rules)
};

struct mhd_launch {
	struct api_server *srv;
	int filter_ret;
};

static void *mhd_launch_main(void *arg);

/* MHD without a listening socket: fdpass.c accepts and hands connections over. */
static int start_mhd(struct api_server *srv, char *err, size_t errlen)
{
	struct mhd_launch l = { srv, 0 };
	pthread_t t;
	int ret = -pthread_create(&t, NULL, mhd_launch_main, &l);

	if (ret)
		return set_err(err, errlen, ret, "cannot start the API server's thread: %s",
			       strerror(-ret));
	pthread_join(t, NULL);
	if (l.filter_ret)
		return set_err(err, errlen, l.filter_ret, "cannot install the API threads' "
			       "syscall filter: %s", strerror(-l.filter_ret));
	if (!srv->mhd) {
		msg_fmt(err, errlen, "libmicrohttpd failed to start on the API socket");
		return -EIO;
	}
	return 0;
}

static void *mhd_launch_main(void *arg)
{
	struct mhd_launch *l = arg;
	struct api_server *srv = l->srv;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;

	l->filter_ret = sysfilter_apply(&api_sysfilter);
	if (l->filter_ret)
		return NULL;
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1u << 20),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	return NULL;
}

static int open_listener(struct api_server *srv, const struct api_socket_spec *spec, char *err,
			 size_t errlen)
{
	if (spec->path && !(srv->path = strdup(spec->path)))
		return -ENOMEM;
	return api_listen_open(spec, &srv->lock_fd, err, errlen);
}

int api_sync_init(pthread_mutex_t *lock, pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int ret;

	if ((ret = pthread_condattr_init(&ca)))
		return -ret;
	ret = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!ret)
		ret = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!ret && (ret = pthread_mutex_init(lock, NULL)))
		pthread_cond_destroy(cond);
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
	if ((ret = api_sync_init(&srv->lock, &srv->sent))) {
		free(srv);
		return ret;
	}
	if ((ret = api_queue_init(&srv->q)) || (ret = api_guard_start(&srv->guard)))
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
		api_accept_quiesce(srv->acc);   /* no new connections; closes the socket */
		MHD_stop_daemon(srv->mhd);      /* joins the connection threads (they take fds) */
	}
	api_accept_stop(srv->acc);
	api_guard_stop(srv->guard);         /* every connection is closed now */
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

void api_server_set_deadlines(struct api_server *srv, unsigned header_ms, unsigned body_ms)
{
	api_guard_set_deadlines(srv->guard, header_ms, body_ms);
}

int api_server_eventfd(const struct api_server *srv)
{
	return api_queue_eventfd(srv->q);
}

unsigned api_server_connections(struct api_server *srv)
{
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
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
