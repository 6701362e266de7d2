/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to virtio-vsock: the connection multiplexer between the guest's vsock streams and
 * host Unix sockets (Cloud Hypervisor's hybrid backend). It owns the listening socket, every
 * connection's socket and one epoll fd over all of them, which the device's worker polls as
 * a single fd. Everything here runs on that worker (or with it stopped): no locks.
 *
 * Flow control (virtio 1.2 5.10.6.3): the guest may have at most VSOCK_BUF_ALLOC bytes in
 * flight towards a connection (its credit), which bounds the bytes buffered here when the
 * host peer is slow; data from the host is read only into posted RX buffers and only within
 * the guest's advertised credit, so nothing is buffered the other way.
 */
#ifndef VIREO_VIRTIO_VSOCK_MUX_H
#define VIREO_VIRTIO_VSOCK_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/vsock_proto.h"

#define VSOCK_MAX_CONNS       256           /* connections and handshakes per device */
#define VSOCK_BUF_ALLOC       (256u << 10)  /* our credit per connection */
#define VSOCK_CREDIT_THRESHOLD (64u << 10)  /* forwarded bytes that earn a CREDIT_UPDATE */
#define VSOCK_RST_QUEUE       (2 * VSOCK_MAX_CONNS)
#define VSOCK_BUCKETS         256
#define VSOCK_KILL_TIMEOUT_NS (2000ULL * 1000 * 1000)  /* a closing stream's last wait (CH's) */
#define VSOCK_LOCAL_PORT_FIRST (1u << 30)   /* host-initiated streams' host ports (CH's) */

struct vlist {
	struct vlist *prev, *next;
};

/* Counters (atomics: vm.counters reads them from the VMM thread). */
struct vsock_stats {
	uint64_t tx_packets, rx_packets, tx_bytes, rx_bytes;
	uint64_t malformed, unknown_conn, credit_violations, conn_limit;
	uint64_t conns_opened, conns_closed, connect_failed, handshake_failed;
	uint64_t rst_dropped, bad_rx_buffers, expired;
};

struct vsock_conn;

struct vsock_mux {
	uint64_t guest_cid;
	char *path;
	int listen_fd, epfd, timer_fd;       /* timer_fd: the earliest closing stream's deadline */
	bool listen_parked;               /* out of fds: not watched until a connection closes */
	struct vsock_conn *buckets[VSOCK_BUCKETS];
	struct vlist all, pending;        /* every connection; those with something for the guest */
	struct vsock_conn *dead;          /* closed, freed once no event can name them */
	unsigned nr_conns;
	uint32_t next_local_port;
	struct { uint32_t local, peer; } rst[VSOCK_RST_QUEUE];
	unsigned rst_head, rst_len;
	struct iovec iov[64];
	struct vsock_stats st;
};

/*
 * Listens on @path (created 0600; a stale socket nobody listens on is replaced). 0 or -errno
 * with a message in @err. Never blocks.
 */
int vsock_mux_init(struct vsock_mux *m, const char *path, uint64_t guest_cid, char *err,
		   size_t errlen);
/* Closes every socket and removes @path. */
void vsock_mux_fini(struct vsock_mux *m);
/* The fd to poll for EPOLLIN; then call vsock_mux_events(). */
int vsock_mux_fd(const struct vsock_mux *m);
void vsock_mux_events(struct vsock_mux *m);
/* One packet from the guest's TX queue: checked, then acted on. */
void vsock_mux_tx(struct vsock_mux *m, const struct virtq_chain *c);
/* Whether something waits for an RX buffer (a control packet, or data to try reading). */
bool vsock_mux_has_rx(const struct vsock_mux *m);
/*
 * Fills the RX chain (device-writable, at least a header) with the next packet; returns the
 * bytes written, or 0 when nothing could be produced after all (the chain stays unused).
 */
uint32_t vsock_mux_rx(struct vsock_mux *m, const struct virtq_chain *c);
/* Drops every connection without telling the guest (device reset, transport reset). */
void vsock_mux_reset(struct vsock_mux *m);

/* ------------------------------------------------------------------ internal to vsock_mux*.c */

enum vsock_conn_state {
	CONN_HANDSHAKE,       /* host client accepted, its CONNECT line not complete */
	CONN_CONNECTING,      /* REQUEST (to be) sent to the guest, waiting for RESPONSE */
	CONN_ESTABLISHED,
};

/* Control packets a connection owes the guest. */
enum { CTL_REQUEST = 1, CTL_RESPONSE = 2, CTL_CREDIT_UPDATE = 4, CTL_CREDIT_REQUEST = 8,
       CTL_SHUTDOWN = 16 };

struct vsock_conn {
	struct vlist all, pend;           /* pend.next NULL: not on the pending list */
	struct vsock_conn *hnext;         /* hash chain, then the dead list */
	int fd;
	enum vsock_conn_state state;
	bool hashed, dead;
	bool rx_ready;                    /* the host socket may have data (or EOF) */
	bool host_eof;                    /* read 0: SHUTDOWN(SEND) owed or sent */
	bool hup;                         /* the host peer closed: fd out of epoll */
	bool credit_asked;                /* CREDIT_REQUEST sent since the guest's last credit */
	uint32_t events;                  /* what epoll waits for on fd */
	uint32_t local_port, peer_port;   /* host side, guest side */
	struct vsock_handshake hs;
	unsigned ctl;
	uint32_t shut_flags;              /* of the SHUTDOWN owed */
	uint32_t peer_shut;               /* VIRTIO_VSOCK_SHUTDOWN_* the guest sent */
	/* Guest's receive side (5.10.6.3): its buffer, what it consumed, what we sent it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, rx_cnt;
	/* Our receive side: bytes the guest sent, bytes written to the host, last told. */
	uint32_t tx_cnt, fwd_cnt, last_fwd_sent;
	uint64_t expiry_ns;               /* closing: killed with an RST at this time (0: none) */
	uint8_t *txbuf;                   /* VSOCK_BUF_ALLOC ring, only while data waits */
	uint32_t tx_head, tx_len;
};

/* Bytes the guest can still take on @c (wrapping u32 counters, 5.10.6.3). */
static inline uint32_t vsock_peer_free(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static inline bool vsock_can_read(const struct vsock_conn *c)
{
	return c->state == CONN_ESTABLISHED && !c->host_eof &&
	       !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
}

#define conn_of(ptr, member) \
	((struct vsock_conn *)((char *)(ptr) - offsetof(struct vsock_conn, member)))

void vsock_pend_add(struct vsock_mux *m, struct vsock_conn *c);
void vsock_pend_del(struct vsock_conn *c);
/* Re-registers what epoll should wait for on @c's socket. */
void vsock_conn_events(struct vsock_mux *m, struct vsock_conn *c);
/* Closes @c; @rst: tell the guest (an RST on the RX queue). @c must not be used after. */
void vsock_conn_kill(struct vsock_mux *m, struct vsock_conn *c, bool rst);
/*
 * @c is closing (both sides shut, the guest's RST or the host's drain awaited): if that does
 * not happen within VSOCK_KILL_TIMEOUT_NS, @c is killed with an RST, so a guest that never
 * answers cannot pin connections against the limit.
 */
void vsock_conn_expire(struct vsock_mux *m, struct vsock_conn *c);
/* The timer fired: kills the connections past their deadline, re-arms for the next one. */
void vsock_mux_timer(struct vsock_mux *m);
/* Queues an RST from host port @local to guest port @peer; @conn: for a connection. */
void vsock_rst_push(struct vsock_mux *m, uint32_t local, uint32_t peer, bool conn);

static inline void vsock_stat(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

#endif
