// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net (virtio 1.2 5.1): the device around net_rx.c / net_tx.c. Config space holds
 * the MAC, LINK_UP, max_virtqueue_pairs and the MTU; features are what the tap can do
 * (net_tap_probe_offloads) within the user's offload switches. Activation mirrors the
 * negotiated GUEST_* offloads onto the tap (TUNSETOFFLOAD) and attaches the first queue
 * pair only (5.1.6.5.5) until the driver asks for more on the control queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "virtio/net_internal.h"

#define NET_DEFAULT_QUEUE_SIZE 256

static const char *const reject_names[VIRTIO_NET_R_NR] = {
	[VIRTIO_NET_R_RX_CHAIN] = "rx_bad_chains",
	[VIRTIO_NET_R_RX_TOO_BIG] = "rx_too_big",
	[VIRTIO_NET_R_TX_CHAIN] = "tx_bad_chains",
	[VIRTIO_NET_R_TX_HEADER] = "tx_bad_headers",
	[VIRTIO_NET_R_TX_BACKEND] = "tx_backend_errors",
	[VIRTIO_NET_R_CTRL_CHAIN] = "ctrl_bad_chains",
	[VIRTIO_NET_R_CTRL_CMD] = "ctrl_errors",
};

const char *virtio_net_reject_name(enum virtio_net_reject r)
{
	return (unsigned)r < VIRTIO_NET_R_NR ? reject_names[r] : "?";
}

void net_reject(struct virtio_net *net, enum virtio_net_reject r)
{
	net_count(&net->stats.rejected[r], 1);
}

bool net_has(const struct virtio_net *net, unsigned feature)
{
	return net->vdev.features & VIRTIO_BIT(feature);
}

uint64_t net_guest_offload_mask(void)
{
	return VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
	       VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO);
}

/* 5.1.6.4: the tap may hand us only what the driver can take; all rest on GUEST_CSUM. */
unsigned virtio_net_tap_offloads(uint64_t f)
{
	unsigned t = 0;

	if (!(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	t |= TUN_F_CSUM;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO))
		t |= TUN_F_UFO;
	return t;
}

/* What the device offers (5.1.3), honouring the dependencies of 5.1.3.1. */
static uint64_t net_features(const struct virtio_net_params *p)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MTU) |
		     VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
		     VIRTIO_BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
	unsigned t = p->tap_offloads;

	if (p->nr_pairs > 1)
		f |= VIRTIO_BIT(VIRTIO_NET_F_MQ);
	if (!p->offload_csum)
		return f;
	f |= VIRTIO_BIT(VIRTIO_NET_F_CSUM);
	if (p->offload_tso)
		f |= VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6);
	if (p->offload_ufo)
		f |= VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO);
	if (!(t & TUN_F_CSUM))
		return f;
	f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (p->offload_tso && (t & TUN_F_TSO4))
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4);
	if (p->offload_tso && (t & TUN_F_TSO6))
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
	if (p->offload_ufo && (t & TUN_F_UFO))
		f |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO);
	return f;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* 5.1.4: mac @0, status @6, max_virtqueue_pairs @8, mtu @10. */
static void build_config(struct virtio_net *net)
{
	memcpy(net->config, net->mac, 6);
	put_le16(net->config + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(net->config + 8, (uint16_t)net->nr_pairs);
	put_le16(net->config + 10, (uint16_t)net->mtu);
}

/* ------------------------------------------------------------------ ops */

static void net_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_net *net = vd->opaque;

	memcpy(data, net->config + off, len);
}

/* 5.1.4.2: a driver of a VERSION_1 device writes nothing here; ignored. */
static void net_config_write(struct virtio_dev *vd, unsigned off, const uint8_t *data,
			     unsigned len)
{
	(void)vd;
	(void)off;
	(void)data;
	(void)len;
	pr_warn_ratelimited("virtio-net: write to read-only config space ignored");
}

/* 5.1.2: without VIRTIO_NET_F_MQ the driver has one pair and the control queue is 2. */
unsigned net_ctrl_queue(const struct virtio_net *net)
{
	return 2 * (net_has(net, VIRTIO_NET_F_MQ) ? net->nr_pairs : 1);
}

static void net_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_net *net = vd->opaque;
	unsigned ctrl = net_ctrl_queue(net);

	if (q == ctrl && net_has(net, VIRTIO_NET_F_CTRL_VQ))
		net_ctrl_process(net);
	else if (q < ctrl && q % 2 == 0)
		net_rx_process(&net->pairs[q / 2]);
	else if (q < ctrl)
		net_tx_process(&net->pairs[q / 2]);
}

static void on_tap(void *opaque, uint32_t events)
{
	(void)events;               /* EPOLLERR/HUP too: the read says what happened */
	net_rx_process(opaque);
}

/* ------------------------------------------------------------------ ops */

static int register_fds(struct virtio_net *net)
{
	unsigned i;
	int ret;

	if (net->rl_on && !net->worker.nr_fds &&
	    (ret = virtio_worker_add_fd(&net->worker, net->timer_fd, EPOLLIN, net_rl_timer,
					net)))
		return ret;

	for (i = net->worker.nr_fds - net->rl_on; i < net->nr_pairs; i++) {
		ret = virtio_worker_add_fd(&net->worker, net->pairs[i].fd, 0, on_tap,
					   &net->pairs[i]);
		if (ret)
			return ret;
		net->pairs[i].parked = true;
	}
	return 0;
}

static int net_activate(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->opaque;
	uint64_t offloads = vd->features & net_guest_offload_mask();
	unsigned pairs = 1;
	int ret;

	if (net->restored) {
		offloads &= net->guest_offloads;
		if (net_has(net, VIRTIO_NET_F_MQ))
			pairs = net->curr_pairs;
		net->restored = false;
	}
	ret = register_fds(net);
	ret = ret ?: net_apply_offloads(net, offloads);
	ret = ret ?: net_set_pairs(net, pairs);
	if (ret) {
		pr_warn("virtio-net: activation failed: %s", strerror(-ret));
		return ret;
	}
	return virtio_worker_start(&net->worker, vd);
}

static void net_reset(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->opaque;
	bool was_active = net->worker.running;
	unsigned i;

	virtio_worker_stop(&net->worker);
	for (i = 0; i < net->nr_pairs; i++)
		net_rx_unpop(&net->pairs[i]);
	if (net->restored)
		return;              /* a restore resets first: keep what it brought */
	net->curr_pairs = 1;
	net->guest_offloads = 0;
	/*
	 * Best effort: nobody reads the tap until the next activation sets them again. Only after
	 * an activation: a reset of an inactive device runs on the vCPU, whose filter has no tap
	 * ioctls, and has nothing to clear.
	 */
	if (was_active && net->tap && net_tap_set_offload(net->pairs[0].fd, 0))
		pr_debug("virtio-net: clearing the tap's offloads failed");
}

static int net_pause(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->opaque;
	int ret = virtio_worker_pause(&net->worker);

	/* Parked: the chains popped ahead go back, so a snapshot loses none. */
	for (unsigned i = 0; !ret && i < net->nr_pairs; i++)
		net_rx_unpop(&net->pairs[i]);
	return ret;
}

static void net_resume(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->opaque;

	virtio_worker_resume(&net->worker);
}

static bool net_counters_json(struct virtio_dev *vd, cJSON *o)
{
	struct virtio_net_counters c;
	unsigned r;

	virtio_net_counters(vd->opaque, &c);
	if (json_put_count(o, "rx_bytes", c.rx_bytes) ||
	    json_put_count(o, "rx_frames", c.rx_frames) ||
	    json_put_count(o, "tx_bytes", c.tx_bytes) ||
	    json_put_count(o, "tx_frames", c.tx_frames) ||
	    json_put_count(o, "rx_dropped", c.rx_dropped) ||
	    json_put_count(o, "tx_dropped", c.tx_dropped) ||
	    json_put_count(o, "rx_throttled", c.rx_throttled) ||
	    json_put_count(o, "tx_throttled", c.tx_throttled))
		return false;
	for (r = 0; r < VIRTIO_NET_R_NR; r++)
		if (json_put_count(o, reject_names[r], c.rejected[r]))
			return false;
	return true;
}

/* ------------------------------------------------------------------ snapshot */

static cJSON *net_save(struct virtio_dev *vd)
{
	struct virtio_net *net = vd->opaque;
	cJSON *o = cJSON_CreateObject();

	if (!o || json_put_hex(o, "mac", net->mac, 6) || json_put_u64(o, "mtu", net->mtu) ||
	    json_put_u64(o, "max_pairs", net->nr_pairs) ||
	    json_put_u64(o, "queue_size", net->queue_size) ||
	    json_put_u64(o, "curr_pairs", net->curr_pairs) ||
	    json_put_u64(o, "guest_offloads", net->guest_offloads)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A saved u64 that must equal this device's @have. */
static int net_same(const cJSON *json, const char *key, uint64_t have, char *err,
		    size_t errlen)
{
	uint64_t v;
	int ret = json_field_u64(json, NULL, key, &v, err, errlen);

	if (!ret && v != have)
		ret = json_field_err(err, errlen, NULL, key, "%" PRIu64 ", but this device has %"
				     PRIu64, v, have);
	return ret;
}

static int net_restore_mac(struct virtio_net *net, const cJSON *json, uint8_t mac[6],
			   char *err, size_t errlen)
{
	if (json_get_hex(json, "mac", mac, 6))
		return json_field_err(err, errlen, NULL, "mac", "missing or not 6 bytes of hex");
	/* A configured MAC must match; a generated one is the guest's and comes back. */
	if (net->mac_set && memcmp(mac, net->mac, 6))
		return json_field_err(err, errlen, NULL, "mac", "%02x:%02x:%02x:%02x:%02x:%02x, "
				      "but this device's mac= is another", mac[0], mac[1], mac[2],
				      mac[3], mac[4], mac[5]);
	return 0;
}

static int net_restore(struct virtio_dev *vd, const cJSON *json, char *err, size_t errlen)
{
	struct virtio_net *net = vd->opaque;
	uint64_t pairs, offloads;
	uint8_t mac[6];
	int ret;

	if (!cJSON_IsObject(json))
		return json_field_err(err, errlen, NULL, NULL, "expected an object");
	ret = net_restore_mac(net, json, mac, err, errlen);
	ret = ret ?: net_same(json, "mtu", net->mtu, err, errlen);
	ret = ret ?: net_same(json, "max_pairs", net->nr_pairs, err, errlen);
	ret = ret ?: net_same(json, "queue_size", net->queue_size, err, errlen);
	ret = ret ?: json_field_u64(json, NULL, "curr_pairs", &pairs, err, errlen);
	if (!ret && (pairs < 1 || pairs > net->nr_pairs))
		ret = json_field_err(err, errlen, NULL, "curr_pairs", "%" PRIu64 " is outside "
				     "1-%u", pairs, net->nr_pairs);
	ret = ret ?: json_field_u64(json, NULL, "guest_offloads", &offloads, err, errlen);
	if (!ret && (offloads & ~(vd->device_features & net_guest_offload_mask())))
		ret = json_field_err(err, errlen, NULL, "guest_offloads", "0x%" PRIx64 " has bits "
				     "this device does not offer", offloads);
	if (ret)
		return ret;
	memcpy(net->mac, mac, 6);
	build_config(net);
	net->curr_pairs = (unsigned)pairs;
	net->guest_offloads = offloads;
	net->restored = true;
	return 0;
}

static void net_destroy(struct virtio_dev *vd)
{
	virtio_net_free(vd->opaque);
}

static const struct virtio_device_ops net_ops = {
	.name = "net",
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
	.pause = net_pause,
	.resume = net_resume,
	.save = net_save,
	.restore = net_restore,
	.counters = net_counters_json,
	.destroy = net_destroy,
};

/* ------------------------------------------------------------------ construction */

static int check_params(const struct virtio_net_params *p, unsigned qs, unsigned mtu,
			char *err, size_t errlen)
{
	if (!p->nr_pairs || p->nr_pairs > VIRTIO_NET_MAX_PAIRS)
		return set_err(err, errlen, -EINVAL, "net: %u queue pairs (1-%u supported)",
			       p->nr_pairs, VIRTIO_NET_MAX_PAIRS);
	if (qs < 2 || qs > VIRTQ_MAX_SIZE || (qs & (qs - 1)))
		return set_err(err, errlen, -EINVAL, "net: queue_size %u is not a power of two "
			       "in 2-%u", qs, VIRTQ_MAX_SIZE);
	if (mtu < VIRTIO_NET_MIN_MTU || mtu > VIRTIO_NET_MAX_MTU)
		return set_err(err, errlen, -EINVAL, "net: mtu %u is outside %u-%u", mtu,
			       VIRTIO_NET_MIN_MTU, VIRTIO_NET_MAX_MTU);
	if (net_rl_wanted(p) && p->nr_pairs >= VIRTIO_WORKER_MAX_FDS)
		return set_err(err, errlen, -EINVAL, "net: at most %u queue pairs with a rate "
			       "limiter", VIRTIO_WORKER_MAX_FDS - 1);
	return 0;
}

/* A random locally administered unicast MAC (IEEE 802: bit 1 set, bit 0 clear). */
void net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		uint64_t t = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;

		memcpy(mac, &t, 6);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

static int init_pair(struct virtio_net *net, unsigned i, int fd)
{
	struct net_pair *p = &net->pairs[i];

	p->net = net;
	p->idx = i;
	p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (p->fd < 0)
		return -errno;
	if (fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	p->tx_iov = calloc(NET_IOV_MAX, sizeof(*p->tx_iov));
	if (!p->tx_iov || virtq_chain_init(&p->tx_chain, virtq_chain_max(net->queue_size)))
		return -ENOMEM;
	return net_rxq_init(&p->rx, net->queue_size);
}

static int init_device(struct virtio_net *net, const struct virtio_net_params *p,
		       const struct guest_mem *mem)
{
	struct virtio_dev_params dp = {
		.type = VIRTIO_ID_NET, .nr_queues = 2 * p->nr_pairs + 1,
		.max_queue_size = (uint16_t)net->queue_size, .config_size = NET_CFG_SIZE,
		.features = net_features(p),
	};
	unsigned i;
	int ret;

	for (i = 0; i < p->nr_pairs; i++)
		net->pairs[i].fd = -1;
	if ((ret = net_rl_init(net, p)))
		return ret;
	for (i = 0; i < p->nr_pairs; i++) {
		if ((ret = init_pair(net, i, p->fds[i])))
			return ret;
	}
	if ((ret = virtio_dev_init(&net->vdev, &dp, &net_ops, net, mem)))
		return ret;
	if (virtq_chain_init(&net->ctrl_chain, virtq_chain_max(net->queue_size)))
		return -ENOMEM;
	if ((ret = virtio_worker_init(&net->worker)))
		return ret;
	net->worker_ok = true;
	return 0;
}

int virtio_net_new(const struct virtio_net_params *p, const struct guest_mem *mem,
		   struct virtio_net **out, char *err, size_t errlen)
{
	unsigned qs = p->queue_size ? p->queue_size : NET_DEFAULT_QUEUE_SIZE;
	unsigned mtu = p->mtu ? p->mtu : VIRTIO_NET_DEFAULT_MTU;
	struct virtio_net *net;
	int ret = check_params(p, qs, mtu, err, errlen);

	if (ret)
		return ret;
	net = calloc(1, sizeof(*net));
	if (!net)
		return set_err(err, errlen, -ENOMEM, "net: out of memory");
	*net = (struct virtio_net){ .nr_pairs = p->nr_pairs, .queue_size = qs, .mtu = mtu,
				    .tap = p->tap, .tap_offloads = p->tap_offloads,
				    .mac_set = p->mac_set, .curr_pairs = 1 };
	if (p->mac_set)
		memcpy(net->mac, p->mac, 6);
	else
		net_random_mac(net->mac);
	build_config(net);
	ret = init_device(net, p, mem);
	if (ret) {
		virtio_net_free(net);
		return set_err(err, errlen, ret, "net: %s", strerror(-ret));
	}
	*out = net;
	return 0;
}

struct virtio_dev *virtio_net_dev(struct virtio_net *net)
{
	return &net->vdev;
}

void virtio_net_free(struct virtio_net *net)
{
	unsigned i;

	if (!net)
		return;
	if (net->worker_ok)
		virtio_worker_destroy(&net->worker);
	net_rl_fini(net);
	virtq_chain_free(&net->ctrl_chain);
	virtio_dev_fini(&net->vdev);
	for (i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];

		net_rxq_free(&p->rx);
		virtq_chain_free(&p->tx_chain);
		free(p->tx_iov);
		if (p->fd >= 0)
			close(p->fd);
	}
	free(net);
}

void virtio_net_counters(const struct virtio_net *net, struct virtio_net_counters *c)
{
	const uint64_t *src = (const uint64_t *)&net->stats;
	uint64_t *dst = (uint64_t *)c;

	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void virtio_net_mac(const struct virtio_net *net, uint8_t mac[6])
{
	memcpy(mac, net->mac, 6);
}

unsigned virtio_net_active_pairs(const struct virtio_net *net)
{
	return __atomic_load_n(&net->curr_pairs, __ATOMIC_RELAXED);
}
