/* SPDX-License-Identifier: Apache-2.0 */
/* What net.c, net_rx.c and net_tx.c share; not part of the public API. */
#ifndef VIREO_VIRTIO_NET_INTERNAL_H
#define VIREO_VIRTIO_NET_INTERNAL_H

#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "virtio/net.h"

#define NET_IOV_MAX      1024            /* UIO_MAXIOV: what one readv/writev takes */
#define NET_CFG_SIZE     12              /* mac, status, max_virtqueue_pairs, mtu (5.1.4) */
#define NET_RX_BUDGET    64              /* frames per wake-up, so TX is not starved */
#define NET_TX_BUDGET    256             /* chains per wake-up */
#define NET_CTRL_DATA    16              /* command data read from a control chain */
#define NET_SPILL        (VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME)

/*
 * Queue indices (5.1.2): receiveqN = 2N, transmitqN = 2N + 1, controlq after the last pair
 * the driver may use: 2 * max_virtqueue_pairs with VIRTIO_NET_F_MQ, else 2 (net_ctrl_queue).
 */
#define NET_RXQ(pair)    (2u * (pair))
#define NET_TXQ(pair)    (2u * (pair) + 1u)

/*
 * RX chains popped ahead of the frames that will fill them (MRG_RXBUF needs room for a
 * whole frame before the read): the most recently popped ones, in order, so a pause can
 * give them back by moving next_avail back (no chain is lost in a snapshot).
 */
struct net_rx_buf {
	uint16_t head;
	uint32_t len;                     /* writable bytes */
	unsigned nr_iov;
	uint32_t win;                     /* bytes of it inside this read's window */
};

struct net_rxq {
	struct virtq_chain chain;         /* the chain being popped */
	struct iovec *iov;                /* the bufs' segments in order, + room for a chain */
	unsigned nr_iov, iov_cap;
	struct net_rx_buf *bufs;
	unsigned nr_bufs;
	uint64_t cap;                     /* sum of bufs[].len */
	/*
	 * Past the guest's buffers in every read: catches the tail of a frame larger than the
	 * buffers popped so far. With MRG_RXBUF the frame waits there (its head already in the
	 * first chains) until more buffers come; otherwise it is dropped.
	 */
	uint8_t *spill;                   /* NET_SPILL bytes */
	uint32_t spill_len;               /* bytes of a waiting frame's tail; 0: none */
	uint32_t spill_head;              /* bytes of it in bufs[0..spill_bufs) */
	unsigned spill_bufs, spill_iov;   /* the chains (and segments) that hold the head */
};

struct virtio_net;

struct net_pair {
	struct virtio_net *net;
	unsigned idx;
	int fd;
	bool parked;                      /* tap fd not polled (no RX buffers, or inactive) */
	struct net_rxq rx;
	struct virtq_chain tx_chain;
	struct iovec *tx_iov;             /* NET_IOV_MAX */
};

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_worker worker;
	bool worker_ok;                   /* virtio_worker_init done */
	struct net_pair pairs[VIRTIO_NET_MAX_PAIRS];
	unsigned nr_pairs, queue_size, mtu;
	bool tap;
	unsigned tap_offloads;            /* TUN_F_* the backend accepts */
	uint8_t mac[6];
	bool mac_set;
	uint8_t config[NET_CFG_SIZE];
	/* Control-queue state (worker thread; VMM thread while stopped). */
	unsigned curr_pairs;
	uint64_t guest_offloads;          /* GUEST_* bits in force (CTRL_GUEST_OFFLOADS) */
	bool restored;                    /* curr_pairs / guest_offloads from a snapshot */
	struct virtq_chain ctrl_chain;
	struct virtio_net_counters stats; /* atomics */
	/* Rate limiting (worker thread): one limiter per direction, one timer to retry. */
	struct rate_limiter rl[2];        /* NET_RL_RX, NET_RL_TX */
	bool rl_ok;                       /* rl[] initialized */
	bool rl_on;                       /* a limit is set: timer_fd on the worker */
	int timer_fd;
};

enum { NET_RL_RX, NET_RL_TX };

/* net_rl.c: whether @p sets any limit; the limiters and timer (0 or -errno); their end. */
bool net_rl_wanted(const struct virtio_net_params *p);
int net_rl_init(struct virtio_net *net, const struct virtio_net_params *p);
void net_rl_fini(struct virtio_net *net);
/* The timer's worker callback: every active pair tries both directions again. */
void net_rl_timer(void *opaque, uint32_t events);
/* Whether direction @dir may move @bytes now; if not, the timer is armed. */
bool net_rl_allow(struct virtio_net *net, unsigned dir, uint64_t bytes);
/* Gives back @bytes of an RX reservation the frame did not use (@op: no frame at all). */
void net_rl_refund(struct virtio_net *net, uint64_t bytes, bool op);

static inline void net_count(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

void net_reject(struct virtio_net *net, enum virtio_net_reject r);
bool net_has(const struct virtio_net *net, unsigned feature);
unsigned net_ctrl_queue(const struct virtio_net *net);
/* The GUEST_* offload feature bits (5.1.3). */
uint64_t net_guest_offload_mask(void);

/* net_rx.c (worker thread) */
int net_rxq_init(struct net_rxq *rx, unsigned queue_size);
void net_rxq_free(struct net_rxq *rx);
void net_rx_process(struct net_pair *p);
/* Gives the popped-ahead chains back to the ring (worker stopped or parked). */
void net_rx_unpop(struct net_pair *p);
void net_pair_park(struct net_pair *p, bool park);

/* net_tx.c (worker thread) */
void net_tx_process(struct net_pair *p);
void net_ctrl_process(struct virtio_net *net);
/* VQ_PAIRS_SET: attaches the tap queues of the first @n pairs, detaches the others. */
int net_set_pairs(struct virtio_net *net, unsigned n);
int net_apply_offloads(struct virtio_net *net, uint64_t guest_offloads);

#endif
