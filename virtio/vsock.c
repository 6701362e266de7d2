// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock, the device (virtio 1.2 5.10): the three queues on one worker thread, whose
 * epoll also watches the connection multiplexer's epoll fd (vsock_mux.c), so every guest
 * packet, every host socket event and every RX buffer is handled on that one thread.
 *
 * TX: each chain is one packet, checked and acted on, then given back (used length 0: the
 * device writes nothing into TX buffers). RX: a chain is popped only when the multiplexer has
 * something to say; one that could not be filled (data turned out not to be there) is kept for
 * the next packet, and given back empty before a pause so no chain is in flight in a snapshot.
 * Event: only VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, sent after a restore (5.10.6.7), since the
 * host ends of the guest's connections did not survive.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "virtio/vsock.h"
#include "virtio/vsock_mux.h"

struct virtio_vsock {
	struct virtio_dev vdev;
	struct virtio_worker worker;
	struct vsock_mux mux;
	struct virtq_chain rx_chain, tx_chain, ev_chain;
	bool rx_held;                     /* rx_chain popped, not yet used */
	bool reset_event;                 /* TRANSPORT_RESET owed to the driver */
	uint64_t guest_cid;
	uint64_t events_sent;
};

/* ------------------------------------------------------------------ queues */

/* 5.10.6.1: RX buffers are device-writable, room for a header at least (and some data). */
static bool rx_chain_ok(const struct virtq_chain *c)
{
	return !c->nr_read && c->write_len > VSOCK_HDR_SIZE;
}

static void rx_pump(struct virtio_dev *vd, struct virtio_vsock *vs)
{
	struct virtq *vq = &vd->vqs[VIRTIO_VSOCK_RX];
	bool pushed = false;
	uint32_t len;
	int ret;

	while (vsock_mux_has_rx(&vs->mux)) {
		if (!vs->rx_held) {
			ret = virtio_dev_pop(vd, VIRTIO_VSOCK_RX, &vs->rx_chain);
			if (ret == 0 && virtq_enable_notify(vq))
				continue;         /* a buffer arrived while asking for kicks */
			if (ret <= 0)
				break;            /* none posted: the driver's kick brings us back */
			vs->rx_held = true;
		}
		if (!rx_chain_ok(&vs->rx_chain)) {
			vsock_stat(&vs->mux.st.bad_rx_buffers, 1);
			pr_warn_ratelimited("virtio-vsock: RX buffer unusable (readable, or too small)");
			len = 0;
		} else if (!(len = vsock_mux_rx(&vs->mux, &vs->rx_chain))) {
			continue;                 /* nothing after all; the chain stays held */
		}
		virtio_dev_push(vd, VIRTIO_VSOCK_RX, vs->rx_chain.head, len);
		vs->rx_held = false;
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_VSOCK_RX);
}

static void tx_process(struct virtio_dev *vd, struct virtio_vsock *vs)
{
	struct virtq *vq = &vd->vqs[VIRTIO_VSOCK_TX];
	bool pushed = false;
	int ret;

	do {
		virtq_disable_notify(vq);
		while ((ret = virtio_dev_pop(vd, VIRTIO_VSOCK_TX, &vs->tx_chain)) == 1) {
			vsock_mux_tx(&vs->mux, &vs->tx_chain);
			virtio_dev_push(vd, VIRTIO_VSOCK_TX, vs->tx_chain.head, 0);
			pushed = true;
		}
		if (ret < 0)
			break;                    /* broken ring: the transport asked for a reset */
	} while (virtq_enable_notify(vq));
	if (pushed)
		virtio_dev_notify(vd, VIRTIO_VSOCK_TX);
}

/* 5.10.6.7: the driver keeps the event queue stocked with 4-byte writable buffers. */
static void event_deliver(struct virtio_dev *vd, struct virtio_vsock *vs)
{
	uint8_t ev[4] = { VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 };
	struct virtq_chain *c = &vs->ev_chain;

	while (vs->reset_event && virtio_dev_pop(vd, VIRTIO_VSOCK_EVENT, c) == 1) {
		uint32_t len = 0;

		if (!c->nr_read && c->write_len >= sizeof(ev)) {
			len = (uint32_t)vsock_chain_write(c, 0, ev, sizeof(ev));
			vs->reset_event = false;
			__atomic_add_fetch(&vs->events_sent, 1, __ATOMIC_RELAXED);
		} else {
			vsock_stat(&vs->mux.st.bad_rx_buffers, 1);
		}
		virtio_dev_push(vd, VIRTIO_VSOCK_EVENT, c->head, len);
		virtio_dev_notify(vd, VIRTIO_VSOCK_EVENT);
	}
}

static void vsock_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_vsock *vs = vd->opaque;

	if (q == VIRTIO_VSOCK_TX)
		tx_process(vd, vs);
	else if (q == VIRTIO_VSOCK_EVENT)
		event_deliver(vd, vs);
	if (q == VIRTIO_VSOCK_TX || q == VIRTIO_VSOCK_RX)
		rx_pump(vd, vs);
}

static void on_mux(void *opaque, uint32_t events)
{
	struct virtio_dev *vd = opaque;
	struct virtio_vsock *vs = vd->opaque;

	(void)events;
	vsock_mux_events(&vs->mux);
	rx_pump(vd, vs);
}

/* ------------------------------------------------------------------ ops */

/* 5.10.4: le64 guest_cid, read-only. */
static void vsock_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_vsock *vs = vd->opaque;

	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < 8 ? (uint8_t)(vs->guest_cid >> (8 * (off + i))) : 0;
}

static int vsock_activate(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = vd->opaque;

	if (!vs->worker.nr_fds) {
		int ret = virtio_worker_add_fd(&vs->worker, vsock_mux_fd(&vs->mux), EPOLLIN, on_mux,
					       vd);

		if (ret)
			return ret;
	}
	vs->rx_held = false;
	return virtio_worker_start(&vs->worker, vd);  /* its first poll sends a reset event */
}

/* The driver forgets every connection on reset: so do we (the host clients see a close). */
static void vsock_reset(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = vd->opaque;

	virtio_worker_stop(&vs->worker);
	vsock_mux_reset(&vs->mux);
	vs->rx_held = false;
}

static int vsock_pause(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = vd->opaque;
	int ret = virtio_worker_pause(&vs->worker);

	/* Parked: the queue is ours. Give a held buffer back so a snapshot has none in flight. */
	if (!ret && vs->rx_held && vs->worker.running) {
		virtio_dev_push(vd, VIRTIO_VSOCK_RX, vs->rx_chain.head, 0);
		virtio_dev_notify(vd, VIRTIO_VSOCK_RX);
		vs->rx_held = false;
	}
	return ret;
}

static void vsock_resume(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = vd->opaque;

	virtio_worker_resume(&vs->worker);
}

static cJSON *vsock_save(struct virtio_dev *vd)
{
	struct virtio_vsock *vs = vd->opaque;
	cJSON *o = cJSON_CreateObject();

	/* The next host port too: the guest may still hold sockets on the ports used so far. */
	if (o && (json_put_u64(o, "guest_cid", vs->guest_cid) ||
		  json_put_u64(o, "next_host_port", vs->mux.next_local_port))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * The guest must see the same CID. The host ends of its connections are gone, so the driver
 * is told to drop them all (5.10.6.7) as soon as the device runs again (Firecracker, CH).
 */
static int vsock_restore(struct virtio_dev *vd, const cJSON *json, char *err, size_t errlen)
{
	struct virtio_vsock *vs = vd->opaque;
	uint64_t cid, port;
	int ret = json_field_u64(json, NULL, "guest_cid", &cid, err, errlen);

	if (!ret && cid != vs->guest_cid)
		ret = json_field_err(err, errlen, NULL, "guest_cid", "%" PRIu64 ", but the config "
				     "has cid=%" PRIu64, cid, vs->guest_cid);
	ret = ret ?: json_field_u64(json, NULL, "next_host_port", &port, err, errlen);
	if (!ret && (port < VSOCK_LOCAL_PORT_FIRST || port >= 2ULL * VSOCK_LOCAL_PORT_FIRST))
		ret = json_field_err(err, errlen, NULL, "next_host_port", "0x%" PRIx64 " is outside "
				     "[0x%x, 0x%x)", port, VSOCK_LOCAL_PORT_FIRST,
				     2 * VSOCK_LOCAL_PORT_FIRST);
	if (ret)
		return ret;
	/*
	 * A host port the guest saw before the snapshot may still name one of its sockets
	 * (one being reset): new host-initiated streams go on from the saved port.
	 */
	vs->mux.next_local_port = (uint32_t)port;
	vs->reset_event = true;
	return 0;
}

static bool vsock_counters(struct virtio_dev *vd, cJSON *out)
{
	struct virtio_vsock *vs = vd->opaque;
	const struct vsock_stats *s = &vs->mux.st;
	const struct { const char *name; const uint64_t *v; } c[] = {
		{ "tx_packets", &s->tx_packets }, { "rx_packets", &s->rx_packets },
		{ "tx_bytes", &s->tx_bytes }, { "rx_bytes", &s->rx_bytes },
		{ "malformed_packets", &s->malformed }, { "unknown_conn_packets", &s->unknown_conn },
		{ "credit_violations", &s->credit_violations },
		{ "conn_limit_refused", &s->conn_limit }, { "conns_opened", &s->conns_opened },
		{ "conns_closed", &s->conns_closed }, { "connect_failed", &s->connect_failed },
		{ "handshake_failed", &s->handshake_failed }, { "rst_dropped", &s->rst_dropped },
		{ "bad_buffers", &s->bad_rx_buffers }, { "conns_expired", &s->expired },
		{ "reset_events", &vs->events_sent },
	};

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (json_put_count(out, c[i].name, __atomic_load_n(c[i].v, __ATOMIC_RELAXED)))
			return false;
	return true;
}

static void vsock_destroy(struct virtio_dev *vd)
{
	virtio_vsock_free(vd->opaque);
}

static const struct virtio_device_ops vsock_ops = {
	.name = "vsock",
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
	.pause = vsock_pause,
	.resume = vsock_resume,
	.save = vsock_save,
	.restore = vsock_restore,
	.counters = vsock_counters,
	.destroy = vsock_destroy,
};

/* No feature bits: stream only (5.10.3; SEQPACKET is not offered). */
static const struct virtio_dev_params vsock_params = {
	.type = VIRTIO_ID_VSOCK, .nr_queues = 3, .max_queue_size = VIRTIO_VSOCK_QUEUE_SIZE,
	.config_size = 8,
};

static int chains_init(struct virtio_vsock *vs)
{
	unsigned cap = virtq_chain_max(VIRTIO_VSOCK_QUEUE_SIZE);

	if (virtq_chain_init(&vs->rx_chain, cap) || virtq_chain_init(&vs->tx_chain, cap) ||
	    virtq_chain_init(&vs->ev_chain, cap))
		return -ENOMEM;
	return 0;
}

int virtio_vsock_new(uint64_t guest_cid, const char *path, const struct guest_mem *mem,
		     struct virtio_vsock **out, char *err, size_t errlen)
{
	struct virtio_vsock *vs;
	int ret;

	/* 5.10.4: CIDs 0-2 are reserved, and the upper 32 bits are reserved and zeroed. */
	if (guest_cid < VIRTIO_VSOCK_MIN_CID || guest_cid > UINT32_MAX - 1)
		return set_err(err, errlen, -EINVAL, "vsock: cid=%" PRIu64 " is outside 3-%u",
			       guest_cid, UINT32_MAX - 1);
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return set_err(err, errlen, -ENOMEM, "vsock: out of memory");
	vs->guest_cid = guest_cid;
	vs->mux.listen_fd = vs->mux.epfd = vs->mux.timer_fd = -1;
	ret = virtio_dev_init(&vs->vdev, &vsock_params, &vsock_ops, vs, mem);
	ret = ret ?: chains_init(vs);
	ret = ret ?: virtio_worker_init(&vs->worker);
	if (ret) {
		set_err(err, errlen, ret, "vsock: out of memory");
		goto err;
	}
	snprintf(vs->worker.name, sizeof(vs->worker.name), "vsock");
	ret = vsock_mux_init(&vs->mux, path, guest_cid, err, errlen);
	if (ret)
		goto err;
	*out = vs;
	return 0;
err:
	virtio_vsock_free(vs);
	return ret;
}

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *vs)
{
	return &vs->vdev;
}

void virtio_vsock_free(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	virtio_worker_destroy(&vs->worker);
	if (vs->mux.epfd >= 0 || vs->mux.path)
		vsock_mux_fini(&vs->mux);
	virtq_chain_free(&vs->rx_chain);
	virtq_chain_free(&vs->tx_chain);
	virtq_chain_free(&vs->ev_chain);
	virtio_dev_fini(&vs->vdev);
	free(vs);
}
