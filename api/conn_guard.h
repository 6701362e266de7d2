/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deadlines and a reserve for the API's connections, against slow and idle clients
 * (slowloris). libmicrohttpd 0.9.75's MHD_OPTION_CONNECTION_TIMEOUT is an idle timeout that
 * every received byte restarts, and MHD_OPTION_PER_IP_CONNECTION_LIMIT means nothing on a
 * Unix socket, where all clients share one address. So the server tells the guard which phase
 * each connection is in, and the guard
 *  - gives a request's head API_HEADER_DEADLINE_MS from the connection's start (or from the
 *    end of the previous answer, on a kept-alive connection) and its body API_BODY_DEADLINE_MS
 *    from the end of the head, however slowly the bytes trickle in;
 *  - keeps at most API_MAX_RECEIVING connections in those two phases: a new connection over
 *    that closes the one that has been receiving longest, so the other
 *    API_MAX_CONNECTIONS - API_MAX_RECEIVING slots stay free for requests being answered.
 * A connection is cut with shutdown(2) on its socket; its MHD thread then sees the end of the
 * stream and closes it. The socket is closed by MHD only after the CLOSED notification, which
 * takes the guard's lock, so the guard never touches a descriptor number reused elsewhere.
 */
#ifndef VIREO_API_CONN_GUARD_H
#define VIREO_API_CONN_GUARD_H

#include <microhttpd.h>

enum api_conn_phase {
	CONN_HEAD,                 /* waiting for a request's head (also idle between requests) */
	CONN_BODY,                 /* head complete, body arriving */
	CONN_SERVED,               /* request complete: being answered or waiting for the VMM */
};

struct api_guard;

/* Starts the deadline thread; 0 or -errno. */
int api_guard_start(struct api_guard **out);
/* Stops the thread and frees the guard; every connection must be closed already. */
void api_guard_stop(struct api_guard *g);
void api_guard_set_deadlines(struct api_guard *g, unsigned header_ms, unsigned body_ms);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, with the guard as @cls. */
void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe);
/* The connection's request entered @phase (from MHD's callbacks for that connection). */
void api_guard_phase(struct api_guard *g, struct MHD_Connection *c, enum api_conn_phase phase);

#endif
