// SPDX-License-Identifier: Apache-2.0
/* Deadlines and a reserve for the API's connections: see conn_guard.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "api/api_internal.h"
#include "api/conn_guard.h"
#include "base/log.h"

#define NO_DEADLINE UINT64_MAX

struct guard_conn {
	struct guard_conn *prev, *next;
	int fd;
	enum api_conn_phase phase;
	bool cut;                  /* shut down; waiting for MHD's CLOSED */
	uint64_t since;            /* ms, when the phase began */
	uint64_t deadline;         /* ms, or NO_DEADLINE */
};

struct api_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;       /* CLOCK_MONOTONIC: a deadline changed, or stop */
	pthread_t thread;
	bool stop;
	unsigned header_ms, body_ms;
	unsigned receiving;        /* connections in CONN_HEAD or CONN_BODY, not cut */
	struct guard_conn list;    /* sentinel of a circular list */
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static bool is_receiving(const struct guard_conn *gc)
{
	return !gc->cut && gc->phase != CONN_SERVED;
}

/* Under the lock. */
static void cut(struct api_guard *g, struct guard_conn *gc, const char *why)
{
	pr_warn_ratelimited("api: closing a connection: %s", why);
	if (shutdown(gc->fd, SHUT_RDWR) && errno != ENOTCONN)
		pr_debug("api: shutdown of a client socket: %d", errno);
	gc->cut = true;
	g->receiving--;
}

/* Under the lock: phase start and deadline, and the receiving count kept in step. */
static void enter(struct api_guard *g, struct guard_conn *gc, enum api_conn_phase phase,
		  uint64_t now)
{
	bool was = is_receiving(gc), is;

	gc->phase = phase;
	gc->since = now;
	gc->deadline = phase == CONN_HEAD ? now + g->header_ms :
		       phase == CONN_BODY ? now + g->body_ms : NO_DEADLINE;
	is = is_receiving(gc);
	if (was && !is)
		g->receiving--;
	else if (!was && is)
		g->receiving++;
	pthread_cond_signal(&g->wake);
}

/* Bytes the client sent that MHD has not read yet: its thread has not caught up with it. */
static bool has_unread(const struct guard_conn *gc)
{
	int n = 0;

	return !ioctl(gc->fd, FIONREAD, &n) && n > 0;
}

/*
 * Under the lock: over API_MAX_RECEIVING, the longest-receiving connection but @keep goes.
 * One whose bytes wait unread is passed over while another qualifies: a client that sent its
 * whole request at once (a health check's ping) and whose thread has not run yet is not the
 * one stalling, even if stalled clients reconnecting quickly made it the oldest.
 */
static void keep_reserve(struct api_guard *g, const struct guard_conn *keep)
{
	struct guard_conn *oldest = NULL, *oldest_idle = NULL;

	if (g->receiving <= API_MAX_RECEIVING)
		return;
	for (struct guard_conn *gc = g->list.next; gc != &g->list; gc = gc->next) {
		if (gc == keep || !is_receiving(gc))
			continue;
		if (!oldest || gc->since < oldest->since)
			oldest = gc;
		if ((!oldest_idle || gc->since < oldest_idle->since) && !has_unread(gc))
			oldest_idle = gc;
	}
	if (oldest_idle || oldest)
		cut(g, oldest_idle ? oldest_idle : oldest, "too many clients still sending a request");
}

/* Under the lock: cuts what is past its deadline; the earliest deadline left. */
static uint64_t expire(struct api_guard *g, uint64_t now)
{
	uint64_t next = NO_DEADLINE;

	for (struct guard_conn *gc = g->list.next; gc != &g->list; gc = gc->next) {
		if (!is_receiving(gc))
			continue;
		if (gc->deadline <= now)
			cut(g, gc, gc->phase == CONN_HEAD ? "request head not received in time" :
							    "request body not received in time");
		else if (gc->deadline < next)
			next = gc->deadline;
	}
	return next;
}

static void *guard_main(void *arg)
{
	struct api_guard *g = arg;

	if (sysfilter_apply(&api_sysfilter))
		pr_warn("api: the connection guard cannot install its syscall filter");
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		uint64_t next = expire(g, now_ms());
		struct timespec ts = { .tv_sec = (time_t)(next / 1000),
				       .tv_nsec = (long)(next % 1000) * 1000000 };

		if (next == NO_DEADLINE)
			pthread_cond_wait(&g->wake, &g->lock);
		else
			pthread_cond_timedwait(&g->wake, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int api_guard_start(struct api_guard **out)
{
	struct api_guard *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return -ENOMEM;
	g->list.next = g->list.prev = &g->list;
	g->header_ms = API_HEADER_DEADLINE_MS;
	g->body_ms = API_BODY_DEADLINE_MS;
	if ((ret = api_sync_init(&g->lock, &g->wake)))
		goto err_free;
	if ((ret = -pthread_create(&g->thread, NULL, guard_main, g)))
		goto err_sync;
	*out = g;
	return 0;
err_sync:
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
err_free:
	free(g);
	return ret;
}

void api_guard_stop(struct api_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void api_guard_set_deadlines(struct api_guard *g, unsigned header_ms, unsigned body_ms)
{
	pthread_mutex_lock(&g->lock);
	g->header_ms = header_ms;
	g->body_ms = body_ms;
	pthread_mutex_unlock(&g->lock);
}

static void conn_started(struct api_guard *g, struct MHD_Connection *c, void **ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct guard_conn *gc = ci ? calloc(1, sizeof(*gc)) : NULL;

	*ctx = gc;
	if (!gc) {
		pr_warn_ratelimited("api: a connection without deadlines (out of memory)");
		return;
	}
	gc->fd = ci->connect_fd;
	gc->phase = CONN_SERVED;
	pthread_mutex_lock(&g->lock);
	gc->prev = g->list.prev;
	gc->next = &g->list;
	g->list.prev->next = gc;
	g->list.prev = gc;
	enter(g, gc, CONN_HEAD, now_ms());
	keep_reserve(g, gc);
	pthread_mutex_unlock(&g->lock);
}

static void conn_closed(struct api_guard *g, struct guard_conn *gc)
{
	pthread_mutex_lock(&g->lock);
	if (is_receiving(gc))
		g->receiving--;
	gc->prev->next = gc->next;
	gc->next->prev = gc->prev;
	pthread_mutex_unlock(&g->lock);
	free(gc);
}

void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		conn_started(cls, c, socket_context);
	} else if (*socket_context) {
		conn_closed(cls, *socket_context);
		*socket_context = NULL;
	}
}

void api_guard_phase(struct api_guard *g, struct MHD_Connection *c, enum api_conn_phase phase)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct guard_conn *gc = ci ? ci->socket_context : NULL;

	if (!gc)
		return;
	pthread_mutex_lock(&g->lock);
	if (!gc->cut)
		enter(g, gc, phase, now_ms());
	pthread_mutex_unlock(&g->lock);
}
