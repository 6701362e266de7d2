// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net transmit (virtio 1.2 5.1.6.2) and the control queue (5.1.6.5). Each TX chain
 * is one frame behind a 12-byte header: the header is copied once, checked against the
 * negotiated features, and that copy goes to the tap with the rest of the chain in one
 * writev, so the guest cannot change what was checked. A frame the tap refuses is dropped
 * and counted; the chain is always given back.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "base/log.h"
#include "virtio/net_internal.h"

/* ------------------------------------------------------------------ transmit */

/* Copies the first @len readable bytes of @c into @dst. */
static void chain_read(const struct virtq_chain *c, uint8_t *dst, size_t len)
{
	unsigned i;

	for (i = 0; i < c->nr_read && len; i++) {
		size_t n = c->segs[i].len < len ? c->segs[i].len : len;

		memcpy(dst, c->segs[i].addr, n);
		dst += n;
		len -= n;
	}
}

/* 5.1.6.2.1: flags and gso_type only as the negotiated features allow. */
static bool tx_header_ok(const struct virtio_net *net, const struct virtio_net_hdr_v1 *h)
{
	uint8_t gso = h->gso_type;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !net_has(net, VIRTIO_NET_F_CSUM))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return net_has(net, VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return net_has(net, VIRTIO_NET_F_HOST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return net_has(net, VIRTIO_NET_F_HOST_UFO);
	default:
		return false;                     /* ECN and UDP_L4 are not offered */
	}
}

/* The header copy, then the chain's readable bytes after its first 12. */
static unsigned tx_iov(struct net_pair *p, struct virtio_net_hdr_v1 *hdr)
{
	const struct virtq_chain *c = &p->tx_chain;
	size_t skip = VIRTIO_NET_HDR_LEN;
	unsigned i, n = 1;

	p->tx_iov[0] = (struct iovec){ hdr, VIRTIO_NET_HDR_LEN };
	for (i = 0; i < c->nr_read; i++) {
		size_t len = c->segs[i].len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p->tx_iov[n++] = (struct iovec){ (uint8_t *)c->segs[i].addr + skip, len - skip };
		skip = 0;
	}
	return n;
}

/* The chain's frame bytes, or 0 for a chain tx_one will refuse anyway. */
static uint64_t tx_bytes(const struct virtq_chain *c)
{
	return c->read_len > VIRTIO_NET_HDR_LEN ? c->read_len - VIRTIO_NET_HDR_LEN : 0;
}

static void tx_one(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	const struct virtq_chain *c = &p->tx_chain;
	struct virtio_net_hdr_v1 hdr;
	ssize_t n;

	/* 5.1.6.2: device-readable only, a header, at most one maximal frame. */
	if (c->nr != c->nr_read || c->read_len < VIRTIO_NET_HDR_LEN ||
	    c->read_len > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME || c->nr_read >= NET_IOV_MAX) {
		net_reject(net, VIRTIO_NET_R_TX_CHAIN);
		pr_warn_ratelimited("virtio-net: transmit chain of %llu readable bytes in %u "
				    "buffers, %u writable, dropped",
				    (unsigned long long)c->read_len, c->nr_read, c->nr - c->nr_read);
		goto drop;
	}
	chain_read(c, (uint8_t *)&hdr, sizeof(hdr));
	if (!tx_header_ok(net, &hdr)) {
		net_reject(net, VIRTIO_NET_R_TX_HEADER);
		pr_warn_ratelimited("virtio-net: transmit header flags 0x%x gso_type 0x%x not "
				    "negotiated, frame dropped", hdr.flags, hdr.gso_type);
		goto drop;
	}
	hdr.num_buffers = 0;
	n = writev(p->fd, p->tx_iov, (int)tx_iov(p, &hdr));
	if (n < 0) {
		net_reject(net, VIRTIO_NET_R_TX_BACKEND);
		pr_warn_ratelimited("virtio-net: the tap refused a frame: %s", strerror(errno));
		goto drop;
	}
	net_count(&net->stats.tx_frames, 1);
	net_count(&net->stats.tx_bytes, c->read_len - VIRTIO_NET_HDR_LEN);
	return;
drop:
	net_count(&net->stats.tx_dropped, 1);
}

/* Takes chains until the ring is empty (0), the budget is spent (1), or the limiter says
 * wait or the queue broke (-1). */
static int tx_pass(struct net_pair *p, unsigned *budget, bool *pushed)
{
	struct virtio_dev *vd = &p->net->vdev;
	unsigned q = NET_TXQ(p->idx);
	int ret = 0;

	while (*budget && (ret = virtio_dev_pop(vd, q, &p->tx_chain)) == 1) {
		if (!net_rl_allow(p->net, NET_RL_TX, tx_bytes(&p->tx_chain))) {
			vd->vqs[q].next_avail--;          /* not taken: the timer retries it */
			return -1;
		}
		tx_one(p);
		/* 2.7.8: the used length is what the device wrote: nothing. */
		virtio_dev_push(vd, q, p->tx_chain.head, 0);
		*pushed = true;
		(*budget)--;
	}
	return !*budget ? 1 : ret < 0 ? -1 : 0;
}

/*
 * On a transmit-queue kick; TX never waits for RX buffers. Kicks stay off while frames keep
 * coming: when the ring runs dry, the worker gives its CPU away once (a vCPU that shares it
 * queues more meanwhile) and looks again; only a pass after that which finds nothing asks
 * for kicks again, and the driver hears of all of it in one notification. A guest that
 * stops sending costs one sched_yield, which returns at once on an otherwise idle CPU.
 */
void net_tx_process(struct net_pair *p)
{
	struct virtio_dev *vd = &p->net->vdev;
	unsigned q = NET_TXQ(p->idx), budget = NET_TX_BUDGET;
	struct virtq *vq = &vd->vqs[q];
	bool pushed = false;
	int ret;

	virtq_disable_notify(vq);
	for (;;) {
		unsigned before = budget;

		ret = tx_pass(p, &budget, &pushed);
		if (ret)
			break;
		if (budget != before) {
			sched_yield();
			continue;
		}
		if (!virtq_enable_notify(vq))
			break;
		virtq_disable_notify(vq);         /* more came while kicks were being re-armed */
	}
	if (ret) {
		virtq_enable_notify(vq);
		if (ret > 0)
			virtio_dev_kick(vd, q);   /* the rest after other work */
	}
	if (pushed)
		virtio_dev_notify(vd, q);
}

/* ------------------------------------------------------------------ control queue */

int net_apply_offloads(struct virtio_net *net, uint64_t guest_offloads)
{
	int ret = 0;

	if (net->tap)
		ret = net_tap_set_offload(net->pairs[0].fd, virtio_net_tap_offloads(guest_offloads));
	if (!ret)
		net->guest_offloads = guest_offloads;
	return ret;
}

int net_set_pairs(struct virtio_net *net, unsigned n)
{
	unsigned i;
	int ret;

	for (i = 0; net->tap && net->nr_pairs > 1 && i < net->nr_pairs; i++) {
		ret = net_tap_set_queue(net->pairs[i].fd, i < n);
		if (ret)
			return ret;
	}
	net->curr_pairs = n;
	for (i = 0; i < net->nr_pairs; i++)
		net_pair_park(&net->pairs[i], i >= n);
	return 0;
}

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* 5.1.6.5.5: the number of queue pairs the driver will use. */
static uint8_t ctrl_mq(struct virtio_net *net, uint8_t cmd, const uint8_t *d, size_t len)
{
	uint16_t n;

	if (!net_has(net, VIRTIO_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || len != 2)
		return VIRTIO_NET_ERR;
	n = le16_at(d);
	if (n < 1 || n > net->nr_pairs || net_set_pairs(net, n))
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

/* 5.1.6.5.6.2: offloads the driver can take now, within the negotiated ones. */
static uint8_t ctrl_offloads(struct virtio_net *net, uint8_t cmd, const uint8_t *d, size_t len)
{
	uint64_t want;

	if (!net_has(net, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ||
	    cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || len != 8)
		return VIRTIO_NET_ERR;
	want = le64_at(d);
	if (want & ~(net->vdev.features & net_guest_offload_mask()))
		return VIRTIO_NET_ERR;
	return net_apply_offloads(net, want) ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
}

/* One command: {class, command, data...} readable, the ack byte writable (5.1.6.5). */
static uint32_t ctrl_one(struct virtio_net *net, const struct virtq_chain *c)
{
	uint8_t buf[2 + NET_CTRL_DATA], ack = VIRTIO_NET_ERR;
	size_t len;

	if (c->read_len < 2 || c->nr == c->nr_read) {
		net_reject(net, VIRTIO_NET_R_CTRL_CHAIN);
		pr_warn_ratelimited("virtio-net: control chain of %llu readable and %llu writable "
				    "bytes ignored", (unsigned long long)c->read_len,
				    (unsigned long long)c->write_len);
		return 0;
	}
	len = c->read_len < sizeof(buf) ? (size_t)c->read_len : sizeof(buf);
	chain_read(c, buf, len);
	if (c->read_len <= sizeof(buf) && buf[0] == VIRTIO_NET_CTRL_MQ)
		ack = ctrl_mq(net, buf[1], buf + 2, len - 2);
	else if (c->read_len <= sizeof(buf) && buf[0] == VIRTIO_NET_CTRL_GUEST_OFFLOADS)
		ack = ctrl_offloads(net, buf[1], buf + 2, len - 2);
	if (ack != VIRTIO_NET_OK) {
		net_reject(net, VIRTIO_NET_R_CTRL_CMD);
		pr_debug("virtio-net: control class %u command %u answered VIRTIO_NET_ERR",
			 buf[0], buf[1]);
	}
	*(uint8_t *)c->segs[c->nr_read].addr = ack;
	return 1;
}

void net_ctrl_process(struct virtio_net *net)
{
	struct virtio_dev *vd = &net->vdev;
	unsigned q = net_ctrl_queue(net);
	struct virtq *vq = &vd->vqs[q];
	bool pushed = false;
	int ret;

	do {
		virtq_disable_notify(vq);
		while ((ret = virtio_dev_pop(vd, q, &net->ctrl_chain)) == 1) {
			virtio_dev_push(vd, q, net->ctrl_chain.head, ctrl_one(net, &net->ctrl_chain));
			pushed = true;
		}
		if (ret < 0)
			break;
	} while (virtq_enable_notify(vq));
	if (pushed)
		virtio_dev_notify(vd, q);
}
