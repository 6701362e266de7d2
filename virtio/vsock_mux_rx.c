// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock's packets towards the guest (virtio 1.2 5.10.6): RSTs first (their
 * connections are already gone), then the pending connections in turn, each giving one
 * packet per RX buffer: its control packets, then data read from its host socket straight
 * into the guest's buffer, never more than the guest's credit allows (5.10.6.3).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/vsock_mux.h"

/* Unknown-connection RSTs may use half the queue: RSTs of our own connections always fit. */
void vsock_rst_push(struct vsock_mux *m, uint32_t local, uint32_t peer, bool conn)
{
	unsigned limit = conn ? VSOCK_RST_QUEUE : VSOCK_RST_QUEUE / 2;

	if (m->rst_len >= limit) {
		vsock_stat(&m->st.rst_dropped, 1);
		return;
	}
	m->rst[(m->rst_head + m->rst_len) % VSOCK_RST_QUEUE].local = local;
	m->rst[(m->rst_head + m->rst_len) % VSOCK_RST_QUEUE].peer = peer;
	m->rst_len++;
}

bool vsock_mux_has_rx(const struct vsock_mux *m)
{
	return m->rst_len || m->pending.next != &m->pending;
}

static uint32_t put_hdr(struct vsock_mux *m, const struct virtq_chain *ch, uint32_t local,
			uint32_t peer, uint16_t op, uint32_t len, struct vsock_conn *c)
{
	struct vsock_hdr h = {
		.src_cid = VSOCK_HOST_CID, .dst_cid = m->guest_cid, .src_port = local,
		.dst_port = peer, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
	};
	uint8_t raw[VSOCK_HDR_SIZE];

	if (c) {
		/* Every packet carries our credit: no separate CREDIT_UPDATE owed after it. */
		h.buf_alloc = VSOCK_BUF_ALLOC;
		h.fwd_cnt = c->fwd_cnt;
		h.flags = op == VIRTIO_VSOCK_OP_SHUTDOWN ? c->shut_flags : 0;
		c->last_fwd_sent = c->fwd_cnt;
		c->ctl &= ~(unsigned)CTL_CREDIT_UPDATE;
	}
	vsock_hdr_encode(&h, raw);
	vsock_chain_write(ch, 0, raw, sizeof(raw));
	vsock_stat(&m->st.rx_packets, 1);
	return VSOCK_HDR_SIZE + len;
}

/*
 * Reads from the host socket into the buffer after the header: > 0 bytes read, 0 when
 * nothing was there (or EOF, which owes the guest a SHUTDOWN), -1 when @c died.
 */
static ssize_t conn_read(struct vsock_mux *m, struct vsock_conn *c, const struct virtq_chain *ch)
{
	uint64_t room = ch->write_len - VSOCK_HDR_SIZE;
	uint32_t credit = vsock_peer_free(c);
	size_t got;
	unsigned n;
	ssize_t r;

	if (room > VSOCK_MAX_PKT_PAYLOAD)
		room = VSOCK_MAX_PKT_PAYLOAD;
	if (room > credit)
		room = credit;
	n = vsock_chain_iov(ch, true, VSOCK_HDR_SIZE, room, m->iov, 64, &got);
	do
		r = readv(c->fd, m->iov, (int)n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN) {
		c->rx_ready = c->hup;             /* a closed peer's socket never blocks */
		return 0;
	}
	if (r < 0) {
		vsock_conn_kill(m, c, true);
		return -1;
	}
	if (r == 0) {
		/* The host closed its sending side: so does our side of the stream (5.10.6.4). */
		c->rx_ready = false;
		c->host_eof = true;
		c->ctl |= CTL_SHUTDOWN;
		c->shut_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND |
				 (c->hup ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0);
		return 0;
	}
	if ((size_t)r < got)
		c->rx_ready = c->hup;             /* drained for now: epoll says when there is more */
	return r;
}

/* One packet from @c into @ch: its length, or 0 when @c has nothing (more) to send. */
static uint32_t conn_rx(struct vsock_mux *m, struct vsock_conn *c, const struct virtq_chain *ch)
{
	static const struct { unsigned bit; uint16_t op; } ctl_ops[] = {
		{ CTL_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ CTL_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ CTL_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
	};
	ssize_t r;

	for (unsigned i = 0; i < sizeof(ctl_ops) / sizeof(ctl_ops[0]); i++) {
		if (c->ctl & ctl_ops[i].bit) {
			c->ctl &= ~ctl_ops[i].bit;
			return put_hdr(m, ch, c->local_port, c->peer_port, ctl_ops[i].op, 0, c);
		}
	}
	if (c->rx_ready && vsock_can_read(c)) {
		if (vsock_peer_free(c)) {
			r = conn_read(m, c, ch);
			if (r < 0)
				return 0;
			if (r > 0) {
				c->rx_cnt += (uint32_t)r;
				vsock_stat(&m->st.rx_bytes, (uint64_t)r);
				vsock_pend_del(c);        /* to the back: connections take turns */
				vsock_pend_add(m, c);
				return put_hdr(m, ch, c->local_port, c->peer_port,
					       VIRTIO_VSOCK_OP_RW, (uint32_t)r, c);
			}
		} else if (!c->credit_asked) {
			/* 5.10.6.3: the guest's buffer is full; ask once, then wait for its update. */
			c->credit_asked = true;
			c->ctl |= CTL_CREDIT_REQUEST;
		}
	}
	if (c->ctl & CTL_CREDIT_REQUEST) {
		c->ctl &= ~(unsigned)CTL_CREDIT_REQUEST;
		return put_hdr(m, ch, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_CREDIT_REQUEST,
			       0, c);
	}
	if (c->ctl & CTL_SHUTDOWN) {
		c->ctl &= ~(unsigned)CTL_SHUTDOWN;
		if (c->shut_flags == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
			vsock_conn_expire(m, c);  /* the guest's RST is due now */
		return put_hdr(m, ch, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_SHUTDOWN, 0, c);
	}
	vsock_pend_del(c);
	vsock_conn_events(m, c);
	return 0;
}

uint32_t vsock_mux_rx(struct vsock_mux *m, const struct virtq_chain *ch)
{
	uint32_t len = 0;

	if (m->rst_len) {
		unsigned i = m->rst_head;

		m->rst_head = (m->rst_head + 1) % VSOCK_RST_QUEUE;
		m->rst_len--;
		return put_hdr(m, ch, m->rst[i].local, m->rst[i].peer, VIRTIO_VSOCK_OP_RST, 0, NULL);
	}
	while (!len && m->pending.next != &m->pending) {
		struct vsock_conn *c = conn_of(m->pending.next, pend);

		len = conn_rx(m, c, ch);
		if (!len && m->rst_len)
			return vsock_mux_rx(m, ch);  /* @c died: its RST goes out now */
	}
	return len;
}
