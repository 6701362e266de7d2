// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's connection multiplexer, host side and guest TX (see vsock_mux.h): the
 * listening Unix socket and the "CONNECT <port>\n" handshake of host-initiated streams,
 * guest-initiated streams to "PATH_<port>", the connection table, and what each packet from
 * the guest does (virtio 1.2 5.10.6). Packets towards the guest are vsock_mux_rx.c's.
 *
 * Every socket is non-blocking and only touched when epoll says so (or a guest packet asks
 * for a write, which never waits): the worker never blocks on a host peer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/vsock_mux.h"

#define ACCEPT_BURST     16

/* ------------------------------------------------------------------ lists and table */

static void vlist_add_tail(struct vlist *head, struct vlist *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void vlist_del(struct vlist *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

void vsock_pend_add(struct vsock_mux *m, struct vsock_conn *c)
{
	if (!c->pend.next && !c->dead)
		vlist_add_tail(&m->pending, &c->pend);
}

void vsock_pend_del(struct vsock_conn *c)
{
	if (c->pend.next)
		vlist_del(&c->pend);
}

static unsigned bucket(uint32_t local, uint32_t peer)
{
	return (local * 2654435761u ^ peer * 40503u) % VSOCK_BUCKETS;
}

static struct vsock_conn *lookup(struct vsock_mux *m, uint32_t local, uint32_t peer)
{
	struct vsock_conn *c = m->buckets[bucket(local, peer)];

	while (c && (c->local_port != local || c->peer_port != peer))
		c = c->hnext;
	return c;
}

static void hash_add(struct vsock_mux *m, struct vsock_conn *c)
{
	unsigned b = bucket(c->local_port, c->peer_port);

	c->hnext = m->buckets[b];
	m->buckets[b] = c;
	c->hashed = true;
}

static void hash_del(struct vsock_mux *m, struct vsock_conn *c)
{
	struct vsock_conn **pp = &m->buckets[bucket(c->local_port, c->peer_port)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	c->hnext = NULL;
	c->hashed = false;
}

/* ------------------------------------------------------------------ connections */

static struct vsock_conn *conn_new(struct vsock_mux *m, int fd, enum vsock_conn_state state)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = state == CONN_HANDSHAKE ? EPOLLIN : 0 };

	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->state = state;
	c->events = ev.events;
	ev.data.ptr = c;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		pr_warn_ratelimited("virtio-vsock: epoll_ctl: %s", strerror(errno));
		close(fd);
		free(c);
		return NULL;
	}
	vlist_add_tail(&m->all, &c->all);
	m->nr_conns++;
	vsock_stat(&m->st.conns_opened, 1);
	return c;
}

void vsock_conn_events(struct vsock_mux *m, struct vsock_conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	if (c->hup || c->dead)
		return;
	if (c->state == CONN_HANDSHAKE)
		ev.events = EPOLLIN;
	if (vsock_can_read(c) && !c->rx_ready && vsock_peer_free(c))
		ev.events |= EPOLLIN;
	if (c->tx_len)
		ev.events |= EPOLLOUT;
	/* HUP and ERR are reported whatever the mask: a parked socket still shows its close. */
	if (ev.events != c->events && !epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = ev.events;
}

/* Out of fds: stop watching the listener until a connection gives one back. */
static void listener_park(struct vsock_mux *m, bool park)
{
	struct epoll_event ev = { .events = park ? 0 : EPOLLIN, .data.ptr = NULL };

	if (m->listen_parked != park && !epoll_ctl(m->epfd, EPOLL_CTL_MOD, m->listen_fd, &ev))
		m->listen_parked = park;
}

void vsock_conn_kill(struct vsock_mux *m, struct vsock_conn *c, bool rst)
{
	if (c->dead)
		return;
	if (rst && c->hashed)
		vsock_rst_push(m, c->local_port, c->peer_port, true);
	if (c->hashed)
		hash_del(m, c);
	vsock_pend_del(c);
	vlist_del(&c->all);
	close(c->fd);                     /* also leaves the epoll set */
	free(c->txbuf);
	c->txbuf = NULL;
	c->dead = true;
	c->hnext = m->dead;               /* events of this batch may still name it */
	m->dead = c;
	m->nr_conns--;
	vsock_stat(&m->st.conns_closed, 1);
	if (m->listen_parked)
		listener_park(m, false);
}

static void reap(struct vsock_mux *m)
{
	while (m->dead) {
		struct vsock_conn *c = m->dead;

		m->dead = c->hnext;
		free(c);
	}
}

void vsock_mux_reset(struct vsock_mux *m)
{
	while (m->all.next != &m->all)
		vsock_conn_kill(m, conn_of(m->all.next, all), false);
	m->rst_len = m->rst_head = 0;
	reap(m);
}

/* ------------------------------------------------------------------ host-initiated */

static bool local_port_used(struct vsock_mux *m, uint32_t port)
{
	for (struct vlist *l = m->all.next; l != &m->all; l = l->next)
		if (conn_of(l, all)->hashed && conn_of(l, all)->local_port == port)
			return true;
	return false;
}

static uint32_t alloc_local_port(struct vsock_mux *m)
{
	uint32_t p;

	do {
		p = m->next_local_port++;
		if (m->next_local_port >= (VSOCK_LOCAL_PORT_FIRST << 1))
			m->next_local_port = VSOCK_LOCAL_PORT_FIRST;
	} while (local_port_used(m, p));  /* at most VSOCK_MAX_CONNS in use */
	return p;
}

static void on_listener(struct vsock_mux *m)
{
	for (unsigned i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			listener_park(m, true);   /* until a connection closes: no spinning */
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pr_warn_ratelimited("virtio-vsock: accept on %s: %s", m->path,
						    strerror(errno));
			return;
		}
		if (m->nr_conns >= VSOCK_MAX_CONNS) {
			vsock_stat(&m->st.conn_limit, 1);
			pr_warn_ratelimited("virtio-vsock: %u connections: host client refused",
					    m->nr_conns);
			close(fd);
			continue;
		}
		conn_new(m, fd, CONN_HANDSHAKE);
	}
}

/*
 * The client's CONNECT line, a few bytes at a time: peek, then consume only the line's own
 * bytes, so whatever the client sends after its newline is the stream's first data.
 */
static void on_handshake(struct vsock_mux *m, struct vsock_conn *c)
{
	char buf[VSOCK_HS_MAX];
	ssize_t n = recv(c->fd, buf, VSOCK_HS_MAX - c->hs.len, MSG_PEEK | MSG_DONTWAIT);
	uint32_t port;
	size_t span;
	int ret;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		vsock_conn_kill(m, c, false);     /* the client left before its line */
		return;
	}
	span = vsock_hs_span(&c->hs, buf, (size_t)n);
	if (recv(c->fd, buf, span, MSG_DONTWAIT) != (ssize_t)span)
		ret = -EIO;
	else
		ret = vsock_hs_feed(&c->hs, buf, span, &port);
	if (ret < 0) {
		vsock_stat(&m->st.handshake_failed, 1);
		pr_warn_ratelimited("virtio-vsock: %s: bad CONNECT line from a host client",
				    m->path);
		vsock_conn_kill(m, c, false);
		return;
	}
	if (!ret)
		return;
	c->local_port = alloc_local_port(m);
	c->peer_port = port;
	c->state = CONN_CONNECTING;
	hash_add(m, c);
	c->ctl |= CTL_REQUEST;
	vsock_pend_add(m, c);
	vsock_conn_events(m, c);
}

/* ------------------------------------------------------------------ host socket events */

/* Writes what the guest sent and the host could not take yet; false if @c died. */
static bool conn_drained(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND)
		shutdown(c->fd, SHUT_WR);
	/* Both directions shut by the guest and nothing left to write: close, tell it (FC, CH). */
	if ((c->peer_shut & 3) == 3) {
		vsock_conn_kill(m, c, true);
		return false;
	}
	return true;
}

static void credit_check(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->fwd_cnt - c->last_fwd_sent >= VSOCK_CREDIT_THRESHOLD) {
		c->ctl |= CTL_CREDIT_UPDATE;
		vsock_pend_add(m, c);
	}
}

static ssize_t send_iov(int fd, struct iovec *iov, unsigned n)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t w;

	do
		w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN)
		return 0;
	return w;
}

static bool conn_flush(struct vsock_mux *m, struct vsock_conn *c)
{
	uint32_t first = VSOCK_BUF_ALLOC - c->tx_head;
	struct iovec iov[2] = { { c->txbuf + c->tx_head, first < c->tx_len ? first : c->tx_len },
				{ c->txbuf, first < c->tx_len ? c->tx_len - first : 0 } };
	ssize_t w = c->tx_len ? send_iov(c->fd, iov, 2) : 0;

	if (w < 0) {
		vsock_conn_kill(m, c, true);      /* EPIPE: the host peer is gone */
		return false;
	}
	c->tx_head = (c->tx_head + (uint32_t)w) % VSOCK_BUF_ALLOC;
	c->tx_len -= (uint32_t)w;
	c->fwd_cnt += (uint32_t)w;
	credit_check(m, c);
	if (c->tx_len)
		return true;
	if (c->fwd_cnt != c->last_fwd_sent) {
		c->ctl |= CTL_CREDIT_UPDATE;     /* drained: whatever the guest waits for is free */
		vsock_pend_add(m, c);
	}
	free(c->txbuf);
	c->txbuf = NULL;
	c->tx_head = 0;
	return conn_drained(m, c);
}

/* The host peer closed both directions (EPOLLHUP on a Unix stream). */
static void conn_hup(struct vsock_mux *m, struct vsock_conn *c)
{
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->hup = true;
	c->events = 0;
	if (c->tx_len) {
		vsock_conn_kill(m, c, true);      /* what the guest sent cannot arrive */
		return;
	}
	if (vsock_can_read(c)) {
		c->rx_ready = true;               /* what is left, then EOF -> SHUTDOWN */
	} else {
		c->ctl |= CTL_SHUTDOWN;
		c->shut_flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	}
	vsock_pend_add(m, c);
}

static void on_conn(struct vsock_mux *m, struct vsock_conn *c, uint32_t ev)
{
	if (c->state == CONN_HANDSHAKE) {
		on_handshake(m, c);
		return;
	}
	if (c->state == CONN_CONNECTING) {
		if (ev & (EPOLLHUP | EPOLLERR))
			vsock_conn_kill(m, c, true);  /* the client gave up before the guest answered */
		return;
	}
	if ((ev & EPOLLOUT) && !conn_flush(m, c))
		return;
	if (ev & (EPOLLHUP | EPOLLERR)) {
		conn_hup(m, c);
		return;
	}
	if (ev & EPOLLIN) {
		c->rx_ready = true;
		vsock_pend_add(m, c);
	}
	vsock_conn_events(m, c);
}

void vsock_mux_events(struct vsock_mux *m)
{
	struct epoll_event evs[32];
	int n = epoll_wait(m->epfd, evs, 32, 0);

	for (int i = 0; i < n; i++) {
		struct vsock_conn *c = evs[i].data.ptr;

		if (!c)
			on_listener(m);
		else if (evs[i].data.ptr == &m->timer_fd)
			vsock_mux_timer(m);
		else if (!c->dead)
			on_conn(m, c, evs[i].events);
	}
	reap(m);
}

/* ------------------------------------------------------------------ guest TX */

/* REQUEST to host port P: connect to "PATH_P" without waiting; nobody there -> RST. */
static void guest_connect(struct vsock_mux *m, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd, n;

	if (m->nr_conns >= VSOCK_MAX_CONNS) {
		vsock_stat(&m->st.conn_limit, 1);
		pr_warn_ratelimited("virtio-vsock: %u connections: guest request refused",
				    m->nr_conns);
		goto refuse;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", m->path, h->dst_port);
	fd = n > 0 && (size_t)n < sizeof(sa.sun_path) ?
	     socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		vsock_stat(&m->st.connect_failed, 1);
		goto refuse;
	}
	c = conn_new(m, fd, CONN_ESTABLISHED);
	if (!c)
		goto refuse;
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	hash_add(m, c);
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->ctl |= CTL_RESPONSE;
	vsock_pend_add(m, c);
	vsock_conn_events(m, c);
	return;
refuse:
	vsock_rst_push(m, h->dst_port, h->src_port, false);
}

/* The guest's RESPONSE to our REQUEST: tell the host client "OK <host port>\n". */
static bool guest_response(struct vsock_mux *m, struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	if (c->state != CONN_CONNECTING ||
	    send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		vsock_conn_kill(m, c, true);
		return false;
	}
	c->state = CONN_ESTABLISHED;
	return true;
}

/* RW: straight to the host socket; what it cannot take now waits in txbuf (bounded by credit). */
static bool guest_rw(struct vsock_mux *m, struct vsock_conn *c, const struct virtq_chain *ch,
		     uint32_t len)
{
	size_t got, off = 0;
	unsigned n;

	if (c->state != CONN_ESTABLISHED || (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND))
		goto kill;
	if (c->tx_len + (uint64_t)len > VSOCK_BUF_ALLOC) {
		vsock_stat(&m->st.credit_violations, 1);
		pr_warn_ratelimited("virtio-vsock: guest port %u sent beyond its credit",
				    c->peer_port);
		goto kill;
	}
	c->tx_cnt += len;
	vsock_stat(&m->st.tx_bytes, len);
	if (!c->tx_len) {
		ssize_t w;

		n = vsock_chain_iov(ch, false, VSOCK_HDR_SIZE, len, m->iov, 64, &got);
		w = send_iov(c->fd, m->iov, n);
		if (w < 0)
			goto kill;
		off = (size_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (off < len && !c->txbuf && !(c->txbuf = malloc(VSOCK_BUF_ALLOC)))
		goto kill;
	while (off < len) {
		uint32_t tail = (c->tx_head + c->tx_len) % VSOCK_BUF_ALLOC;
		uint32_t room = VSOCK_BUF_ALLOC - tail, take = len - (uint32_t)off;

		take = take < room ? take : room;
		vsock_chain_read(ch, VSOCK_HDR_SIZE + off, c->txbuf + tail, take);
		c->tx_len += take;
		off += take;
	}
	credit_check(m, c);
	return true;
kill:
	vsock_conn_kill(m, c, true);
	return false;
}

static bool guest_shutdown(struct vsock_mux *m, struct vsock_conn *c, uint32_t flags)
{
	c->peer_shut |= flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	if (!c->tx_len)
		return conn_drained(m, c);
	if ((c->peer_shut & 3) == 3)
		vsock_conn_expire(m, c);          /* a host peer that never drains: not forever */
	return true;
}

/* A packet for an existing connection; false if it died. */
static bool conn_packet(struct vsock_mux *m, struct vsock_conn *c, const struct vsock_hdr *h,
			const struct virtq_chain *ch)
{
	if (c->state == CONN_CONNECTING && h->op != VIRTIO_VSOCK_OP_RESPONSE) {
		vsock_conn_kill(m, c, true);
		return false;
	}
	c->peer_buf_alloc = h->buf_alloc;     /* every packet carries the guest's credit */
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vsock_peer_free(c))
		c->credit_asked = false;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		return guest_response(m, c);
	case VIRTIO_VSOCK_OP_RW:
		return guest_rw(m, c, ch, h->len);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		return guest_shutdown(m, c, h->flags);
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->ctl |= CTL_CREDIT_UPDATE;
		vsock_pend_add(m, c);
		return true;
	default:                              /* CREDIT_UPDATE: the credit above was all */
		return true;
	}
}

void vsock_mux_tx(struct vsock_mux *m, const struct virtq_chain *ch)
{
	uint8_t raw[VSOCK_HDR_SIZE] = { 0 };
	struct vsock_conn *c;
	struct vsock_hdr h;
	const char *why;
	enum vsock_verdict v;

	vsock_chain_read(ch, 0, raw, sizeof(raw));     /* once: the guest may change it */
	vsock_hdr_decode(raw, &h);
	v = vsock_check_tx(&h, m->guest_cid, ch->read_len, ch->write_len, &why);
	if (v != VSOCK_PKT_OK) {
		vsock_stat(&m->st.malformed, 1);
		pr_warn_ratelimited("virtio-vsock: TX packet (op %u) %s: %s", h.op,
				    v == VSOCK_PKT_RST ? "refused" : "dropped", why);
		if (v == VSOCK_PKT_RST)
			vsock_rst_push(m, h.dst_port, h.src_port, false);
		return;
	}
	vsock_stat(&m->st.tx_packets, 1);
	c = lookup(m, h.dst_port, h.src_port);
	if (c && (h.op == VIRTIO_VSOCK_OP_RST || h.op == VIRTIO_VSOCK_OP_REQUEST)) {
		vsock_conn_kill(m, c, false);     /* a REQUEST on a live key: the guest forgot it */
		c = NULL;
		if (h.op == VIRTIO_VSOCK_OP_RST)
			goto out;
	}
	if (!c && h.op == VIRTIO_VSOCK_OP_REQUEST) {
		guest_connect(m, &h);
	} else if (!c && h.op != VIRTIO_VSOCK_OP_RST) {
		vsock_stat(&m->st.unknown_conn, 1);
		vsock_rst_push(m, h.dst_port, h.src_port, false);
	} else if (c && conn_packet(m, c, &h, ch)) {
		if (c->rx_ready && vsock_can_read(c) && vsock_peer_free(c))
			vsock_pend_add(m, c);     /* credit came back for a waiting reader */
		vsock_conn_events(m, c);
	}
out:
	reap(m);
}
