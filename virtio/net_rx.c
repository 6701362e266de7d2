// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net receive (virtio 1.2 5.1.6.3, 5.1.6.4): frames are read from the tap straight
 * into the guest's buffers with readv. Chains are popped ahead until they can hold a
 * whole frame (one chain without MRG_RXBUF; with it, chains until the largest frame the
 * negotiated offloads allow fits, num_buffers telling the driver how many it got). One
 * host byte after the guest's buffers catches a frame that does not fit: it is dropped
 * and counted, and the chains stay for the next frame. With no buffer posted the tap fd
 * is parked until the driver kicks the receive queue, so nothing spins and TX goes on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/net_internal.h"

enum rx_result { RX_DELIVERED, RX_DROPPED, RX_EMPTY, RX_NO_BUFFERS, RX_BROKEN, RX_THROTTLED };

int net_rxq_init(struct net_rxq *rx, unsigned queue_size)
{
	unsigned chain_max = virtq_chain_max(queue_size);

	memset(rx, 0, sizeof(*rx));
	rx->iov_cap = NET_IOV_MAX + chain_max + 1;
	rx->iov = calloc(rx->iov_cap, sizeof(*rx->iov));
	rx->bufs = calloc(queue_size, sizeof(*rx->bufs));
	rx->spill = malloc(NET_SPILL);
	if (!rx->iov || !rx->bufs || !rx->spill || virtq_chain_init(&rx->chain, chain_max)) {
		net_rxq_free(rx);
		return -ENOMEM;
	}
	return 0;
}

void net_rxq_free(struct net_rxq *rx)
{
	free(rx->iov);
	free(rx->bufs);
	free(rx->spill);
	virtq_chain_free(&rx->chain);
	memset(rx, 0, sizeof(*rx));
}

void net_pair_park(struct net_pair *p, bool park)
{
	if (p->parked == park)
		return;
	p->parked = park;
	virtio_worker_set_events(&p->net->worker, p->fd, park ? 0 : EPOLLIN);
}

/* The largest frame (header included) the driver may be sent (5.1.6.3.1). */
static uint64_t rx_frame_max(const struct virtio_net *net)
{
	if (net->guest_offloads & ~VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM))
		return VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME;
	return VIRTIO_NET_HDR_LEN + net->mtu + 18;   /* Ethernet header and a VLAN tag */
}

/* 5.1.6.3.1: receive buffers are device-writable and hold at least the header. */
static bool rx_chain_ok(const struct virtq_chain *c)
{
	return !c->nr_read && c->write_len >= VIRTIO_NET_HDR_LEN;
}

static void rx_stash(struct net_rxq *rx, const struct virtq_chain *c)
{
	unsigned i, n = c->nr - c->nr_read;

	for (i = 0; i < n; i++)
		rx->iov[rx->nr_iov + i] = (struct iovec){ c->segs[c->nr_read + i].addr,
							  c->segs[c->nr_read + i].len };
	rx->bufs[rx->nr_bufs++] = (struct net_rx_buf){
		.head = c->head, .len = (uint32_t)c->write_len, .nr_iov = n };
	rx->nr_iov += n;
	rx->cap += c->write_len;
}

/*
 * Pops chains until @want bytes are posted, the window is full or the ring is empty.
 * Chains a driver must not post are given back used with length 0. -1: queue broken.
 */
static int rx_fill(struct net_pair *p, uint64_t want, unsigned max_bufs, bool *pushed)
{
	struct virtio_dev *vd = &p->net->vdev;
	struct net_rxq *rx = &p->rx;
	unsigned q = NET_RXQ(p->idx);

	while (rx->cap < want && rx->nr_bufs < max_bufs && rx->nr_iov < NET_IOV_MAX) {
		int ret = virtio_dev_pop(vd, q, &rx->chain);

		if (ret <= 0)
			return ret < 0 ? -1 : 0;
		if (rx_chain_ok(&rx->chain)) {
			rx_stash(rx, &rx->chain);
			continue;
		}
		net_reject(p->net, VIRTIO_NET_R_RX_CHAIN);
		pr_warn_ratelimited("virtio-net: receive chain with %u readable buffers and %llu "
				    "writable bytes given back unused", rx->chain.nr_read,
				    (unsigned long long)rx->chain.write_len);
		virtio_dev_push(vd, q, rx->chain.head, 0);
		*pushed = true;
	}
	return 0;
}

/* The chains (all but a straddling first one whole) that fit one readv; their bytes. */
static uint64_t rx_window(struct net_rxq *rx, unsigned max_bufs, unsigned *niov,
			  unsigned *nbufs)
{
	uint64_t total = 0;
	unsigned b, i, iov = 0;

	for (b = 0; b < rx->nr_bufs && b < max_bufs; b++) {
		struct net_rx_buf *buf = &rx->bufs[b];

		if (iov + buf->nr_iov > NET_IOV_MAX && b)
			break;
		buf->win = 0;
		for (i = 0; i < buf->nr_iov && iov < NET_IOV_MAX; i++, iov++)
			buf->win += (uint32_t)rx->iov[iov].iov_len;
		total += buf->win;
	}
	*niov = iov;
	*nbufs = b;
	return total;
}

/* Writes @v (le16) at byte @off of the frame, wherever the segments put it. */
static void rx_put16(const struct iovec *iov, unsigned niov, size_t off, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	unsigned i, k = 0;

	for (i = 0; i < niov && k < 2; i++) {
		size_t len = iov[i].iov_len;

		for (; off < len && k < 2; off++)
			((uint8_t *)iov[i].iov_base)[off] = b[k++];
		off = off >= len ? off - len : 0;
	}
}

/* Forgets the first @nbufs chains (used) and the segments they had. */
static void rx_consume(struct net_rxq *rx, unsigned nbufs)
{
	unsigned b, niov = 0;

	for (b = 0; b < nbufs; b++) {
		niov += rx->bufs[b].nr_iov;
		rx->cap -= rx->bufs[b].len;
	}
	memmove(rx->bufs, rx->bufs + nbufs, (rx->nr_bufs - nbufs) * sizeof(*rx->bufs));
	rx->nr_bufs -= nbufs;
	memmove(rx->iov, rx->iov + niov, (rx->nr_iov - niov) * sizeof(*rx->iov));
	rx->nr_iov -= niov;
}

/*
 * Marks bufs[0..@nbufs) used, each with its win bytes, for a frame of @n bytes: num_buffers
 * first (5.1.6.4; tun fills the first 10 header bytes and leaves it to us).
 */
static void rx_complete(struct net_pair *p, unsigned nbufs, uint64_t n)
{
	struct virtio_dev *vd = &p->net->vdev;
	struct net_rxq *rx = &p->rx;

	rx_put16(rx->iov, rx->nr_iov, 10, (uint16_t)nbufs);
	for (unsigned i = 0; i < nbufs; i++)
		virtio_dev_push(vd, NET_RXQ(p->idx), rx->bufs[i].head, rx->bufs[i].win);
	rx_consume(rx, nbufs);
	net_count(&p->net->stats.rx_frames, 1);
	net_count(&p->net->stats.rx_bytes, n - VIRTIO_NET_HDR_LEN);
}

/* Spreads @n bytes over the chains from bufs[@first] on (their win); the chains used. */
static unsigned rx_spread(struct net_rxq *rx, unsigned first, uint64_t n)
{
	unsigned b = first;

	for (; n; b++) {
		uint32_t used = n < rx->bufs[b].win ? (uint32_t)n : rx->bufs[b].win;

		rx->bufs[b].win = used;
		n -= used;
	}
	return b;
}

static void rx_drop(struct net_pair *p, bool too_big)
{
	net_count(&p->net->stats.rx_dropped, 1);
	if (too_big)
		net_reject(p->net, VIRTIO_NET_R_RX_TOO_BIG);
}

/* Copies the waiting tail into the chains after its head's; false if they are too few. */
static bool rx_place_spill(struct net_rxq *rx, unsigned *nbufs)
{
	uint64_t left = rx->spill_len, off = 0;
	unsigned b, iov = rx->spill_iov;

	for (b = rx->spill_bufs; b < rx->nr_bufs && left; iov += rx->bufs[b++].nr_iov) {
		uint32_t used = 0;

		for (unsigned i = 0; i < rx->bufs[b].nr_iov && left; i++) {
			const struct iovec *v = &rx->iov[iov + i];
			size_t n = v->iov_len < left ? v->iov_len : (size_t)left;

			memcpy(v->iov_base, rx->spill + off, n);
			off += n;
			left -= n;
			used += (uint32_t)n;
		}
		rx->bufs[b].win = used;
	}
	*nbufs = b;
	return !left;
}

/* A frame whose tail waits in spill: more buffers, or (the ring all ours) a drop. */
static enum rx_result rx_spilled(struct net_pair *p, bool *pushed)
{
	struct net_rxq *rx = &p->rx;
	uint64_t want = (uint64_t)rx->spill_head + rx->spill_len;
	unsigned nbufs;

	if (rx_fill(p, want, p->net->queue_size, pushed) < 0)
		return RX_BROKEN;
	if (rx->cap < want && rx->nr_bufs < p->net->queue_size && rx->nr_iov < NET_IOV_MAX)
		return RX_NO_BUFFERS;             /* wait for the driver's next buffers */
	if (rx->cap < want || !rx_place_spill(rx, &nbufs)) {
		rx->spill_len = 0;
		rx_drop(p, true);                 /* larger than everything it can post */
		return RX_DROPPED;
	}
	rx->spill_len = 0;
	for (unsigned b = 0; b < rx->spill_bufs; b++)
		rx->bufs[b].win = rx->bufs[b].len;
	rx_complete(p, nbufs, want);
	*pushed = true;
	return RX_DELIVERED;
}

static enum rx_result rx_one(struct net_pair *p, bool *pushed)
{
	struct net_rxq *rx = &p->rx;
	bool mrg = net_has(p->net, VIRTIO_NET_F_MRG_RXBUF);
	unsigned max_bufs = mrg ? p->net->queue_size : 1, niov, nbufs;
	struct iovec saved;
	uint64_t room;
	ssize_t n;

	if (rx->spill_len)
		return rx_spilled(p, pushed);
	if (rx_fill(p, mrg ? rx_frame_max(p->net) : 1, max_bufs, pushed) < 0)
		return RX_BROKEN;
	if (!rx->nr_bufs)
		return RX_NO_BUFFERS;
	room = rx_window(rx, max_bufs, &niov, &nbufs);
	/* The limiter is asked for the largest frame; what the frame did not use goes back. */
	if (!net_rl_allow(p->net, NET_RL_RX, rx_frame_max(p->net)))
		return RX_THROTTLED;
	saved = rx->iov[niov];
	rx->iov[niov] = (struct iovec){ rx->spill, mrg ? NET_SPILL : 1 };
	n = readv(p->fd, rx->iov, (int)niov + 1);
	rx->iov[niov] = saved;
	net_rl_refund(p->net, n > 0 && (uint64_t)n < rx_frame_max(p->net) ?
		      rx_frame_max(p->net) - (uint64_t)n : n > 0 ? 0 : rx_frame_max(p->net), n <= 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return RX_EMPTY;
	if (n < 0) {
		pr_warn_ratelimited("virtio-net: reading the tap: %s", strerror(errno));
		return RX_EMPTY;
	}
	if (n < VIRTIO_NET_HDR_LEN || ((uint64_t)n > room && (!mrg || nbufs < 1 ||
	    rx->bufs[0].win < rx->bufs[0].len || (uint64_t)n - room > NET_SPILL))) {
		/* Never truncated: the frame is dropped, the buffers kept for the next. */
		rx_drop(p, n >= VIRTIO_NET_HDR_LEN);
		return RX_DROPPED;
	}
	if ((uint64_t)n > room) {                 /* MRG_RXBUF: the tail waits for buffers */
		rx->spill_len = (uint32_t)((uint64_t)n - room);
		rx->spill_head = (uint32_t)room;
		rx->spill_bufs = nbufs;
		rx->spill_iov = niov;
		return rx_spilled(p, pushed);
	}
	rx_complete(p, rx_spread(rx, 0, (uint64_t)n), (uint64_t)n);
	*pushed = true;
	return RX_DELIVERED;
}

/* On a tap event or a receive-queue kick. */
void net_rx_process(struct net_pair *p)
{
	struct virtio_dev *vd = &p->net->vdev;
	struct virtq *vq = &vd->vqs[NET_RXQ(p->idx)];
	bool pushed = false;
	unsigned budget;

	if (p->idx >= p->net->curr_pairs || !vq->ready || vq->broken) {
		net_pair_park(p, true);
		return;
	}
	virtq_disable_notify(vq);
	for (budget = NET_RX_BUDGET; budget; budget--) {
		enum rx_result r = rx_one(p, &pushed);

		if (r == RX_DELIVERED || r == RX_DROPPED)
			continue;
		if (r == RX_NO_BUFFERS && virtq_enable_notify(vq)) {
			virtq_disable_notify(vq);
			continue;                 /* buffers arrived while re-enabling kicks */
		}
		/* No frame: wait on the tap. No buffer (or broken): a kick. Throttled: the timer. */
		net_pair_park(p, r != RX_EMPTY);
		break;
	}
	if (!budget)
		net_pair_park(p, false);          /* more frames: epoll calls again */
	virtq_enable_notify(vq);
	if (pushed)
		virtio_dev_notify(vd, NET_RXQ(p->idx));
}

void net_rx_unpop(struct net_pair *p)
{
	struct virtq *vq = &p->net->vdev.vqs[NET_RXQ(p->idx)];
	struct net_rxq *rx = &p->rx;

	if (vq->ready && !vq->broken)
		vq->next_avail = (uint16_t)(vq->next_avail - rx->nr_bufs);
	if (rx->spill_len)
		rx_drop(p, false);                /* its head was in chains given back */
	rx->spill_len = 0;
	rx->nr_bufs = rx->nr_iov = 0;
	rx->cap = 0;
}
