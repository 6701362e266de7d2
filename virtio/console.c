// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-console (virtio 1.2 5.3), single port: receiveq0 and transmitq0 only, no MULTIPORT
 * (so no control queues) and no SIZE. EMERG_WRITE (5.3.4) is offered: a driver may write
 * one character to emerg_wr before the queues exist, as early consoles do.
 *
 * Transmit: each chain's device-readable bytes go to the output fd, in chunks of at most
 * PIPE_BUF after poll said POLLOUT, so the worker never blocks where stop/pause cannot reach
 * it. Receive: input is read into a small buffer only when the fd is readable and delivered
 * into receive buffers; with no buffer posted the input fd is parked until the driver kicks
 * receiveq0, so a chatty host cannot make the worker spin.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/virtio_console.h>

#include <cjson/cJSON.h>

#include "base/json.h"
#include "base/log.h"
#include "virtio/console.h"

#define CONSOLE_CFG_SIZE  12           /* cols, rows, max_nr_ports, emerg_wr (5.3.4) */
#define CONSOLE_EMERG_OFF 8
#define CONSOLE_RX_BUF    256

struct virtio_console {
	struct virtio_dev vdev;
	int in_fd, out_fd;
	struct virtio_worker worker;
	struct virtq_chain rx_chain, tx_chain;
	uint8_t pending[CONSOLE_RX_BUF];    /* read from in_fd, not yet delivered */
	unsigned pending_len;
	bool in_eof;
	uint64_t tx_bytes, tx_dropped, rx_bytes;
};

static void stat_add(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ transmit */

/* Writes @len bytes; false if a stop/pause interrupted it. Undeliverable bytes are dropped. */
static bool out_write(struct virtio_console *con, const uint8_t *buf, size_t len)
{
	while (len) {
		size_t chunk = len < PIPE_BUF ? len : PIPE_BUF;
		ssize_t n;
		int ret;

		if (con->out_fd < 0) {
			stat_add(&con->tx_bytes, len);   /* null console: discarded */
			return true;
		}
		ret = virtio_worker_wait_fd(&con->worker, con->out_fd, POLLOUT);
		n = ret > 0 ? write(con->out_fd, buf, chunk) : -1;
		if (n < 0 && ret > 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			stat_add(&con->tx_dropped, len);
			if (ret != 0)
				pr_warn_ratelimited("virtio-console: output failed, %zu B dropped",
						    len);
			return ret != 0;
		}
		stat_add(&con->tx_bytes, (uint64_t)n);
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Device-readable segments only: writable ones on transmitq0 carry nothing for us. */
static bool tx_chain(struct virtio_console *con)
{
	const struct virtq_chain *c = &con->tx_chain;
	unsigned i;

	for (i = 0; i < c->nr_read; i++) {
		if (!out_write(con, c->segs[i].addr, c->segs[i].len))
			return false;
	}
	return true;
}

static void tx_notify(struct virtio_dev *vd, struct virtio_console *con)
{
	struct virtq *vq = &vd->vqs[VIRTIO_CONSOLE_TX];
	int ret;

	do {
		virtq_disable_notify(vq);
		while ((ret = virtio_dev_pop(vd, VIRTIO_CONSOLE_TX, &con->tx_chain)) == 1) {
			bool whole = tx_chain(con);

			/* 2.7.8: used length = bytes written to the buffer, none here. */
			virtio_dev_push(vd, VIRTIO_CONSOLE_TX, con->tx_chain.head, 0);
			virtio_dev_notify(vd, VIRTIO_CONSOLE_TX);
			if (!whole) {
				virtq_enable_notify(vq);
				virtio_dev_kick(vd, VIRTIO_CONSOLE_TX);   /* rest after resume */
				return;
			}
		}
		if (ret < 0)
			return;
	} while (virtq_enable_notify(vq));
}

/* ------------------------------------------------------------------ receive */

static void in_park(struct virtio_console *con, bool park)
{
	if (con->in_fd >= 0)
		virtio_worker_set_events(&con->worker, con->in_fd,
					 park || con->in_eof ? 0 : EPOLLIN);
}

/* Copies pending input into the chain's writable segments; returns the bytes used. */
static uint32_t rx_copy(struct virtio_console *con, const struct virtq_chain *c)
{
	uint32_t done = 0;
	unsigned i;

	for (i = c->nr_read; i < c->nr && done < con->pending_len; i++) {
		uint32_t n = con->pending_len - done;

		if (n > c->segs[i].len)
			n = c->segs[i].len;
		memcpy(c->segs[i].addr, con->pending + done, n);
		done += n;
	}
	memmove(con->pending, con->pending + done, con->pending_len - done);
	con->pending_len -= done;
	return done;
}

/* Delivers pending input while receive buffers are posted; parks the input otherwise. */
static void rx_deliver(struct virtio_dev *vd, struct virtio_console *con)
{
	struct virtq *vq = &vd->vqs[VIRTIO_CONSOLE_RX];

	while (con->pending_len) {
		int ret = virtio_dev_pop(vd, VIRTIO_CONSOLE_RX, &con->rx_chain);
		uint32_t n;

		if (ret == 0 && virtq_enable_notify(vq))
			continue;                 /* a buffer arrived while re-enabling kicks */
		if (ret <= 0) {
			in_park(con, true);       /* wait for the driver to post buffers */
			return;
		}
		n = rx_copy(con, &con->rx_chain);
		stat_add(&con->rx_bytes, n);
		virtio_dev_push(vd, VIRTIO_CONSOLE_RX, con->rx_chain.head, n);
		virtio_dev_notify(vd, VIRTIO_CONSOLE_RX);
	}
	in_park(con, false);
}

static void on_input(void *opaque, uint32_t events)
{
	struct virtio_dev *vd = opaque;
	struct virtio_console *con = vd->opaque;
	ssize_t n;

	(void)events;
	if (!con->pending_len) {
		n = read(con->in_fd, con->pending, sizeof(con->pending));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* EOF or a dead fd (also EPOLLHUP): stop watching it for good. */
			con->in_eof = true;
			in_park(con, true);
			return;
		}
		con->pending_len = (unsigned)n;
	}
	rx_deliver(vd, con);
}

/* ------------------------------------------------------------------ ops */

static void console_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_console *con = vd->opaque;

	if (q == VIRTIO_CONSOLE_TX)
		tx_notify(vd, con);
	else if (q == VIRTIO_CONSOLE_RX)
		rx_deliver(vd, con);
}

static void console_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data,
				unsigned len)
{
	/* cols/rows need SIZE, max_nr_ports MULTIPORT, emerg_wr is write-only: all zero. */
	(void)vd;
	(void)off;
	memset(data, 0, len);
}

/* 5.3.4: a write to emerg_wr outputs one character. vCPU thread: never block. */
static void console_config_write(struct virtio_dev *vd, unsigned off, const uint8_t *data,
				 unsigned len)
{
	struct virtio_console *con = vd->opaque;
	struct pollfd pfd = { con->out_fd, POLLOUT, 0 };

	(void)len;
	if (off != CONSOLE_EMERG_OFF)
		return;
	if (con->out_fd < 0 || poll(&pfd, 1, 0) != 1 || write(con->out_fd, data, 1) != 1) {
		stat_add(&con->tx_dropped, 1);
		return;
	}
	stat_add(&con->tx_bytes, 1);
}

static int console_activate(struct virtio_dev *vd)
{
	struct virtio_console *con = vd->opaque;

	if (con->in_fd >= 0 && !con->worker.nr_fds) {
		int ret = virtio_worker_add_fd(&con->worker, con->in_fd, EPOLLIN, on_input, vd);

		if (ret)
			return ret;
	}
	in_park(con, false);
	return virtio_worker_start(&con->worker, vd);
}

static void console_reset(struct virtio_dev *vd)
{
	struct virtio_console *con = vd->opaque;

	virtio_worker_stop(&con->worker);
}

static int console_pause(struct virtio_dev *vd)
{
	struct virtio_console *con = vd->opaque;

	return virtio_worker_pause(&con->worker);
}

static void console_resume(struct virtio_dev *vd)
{
	struct virtio_console *con = vd->opaque;

	virtio_worker_resume(&con->worker);
}

static bool console_counters(struct virtio_dev *vd, cJSON *out)
{
	struct virtio_console_stats st;

	virtio_console_stats(vd->opaque, &st);
	return !json_put_count(out, "tx_bytes", st.tx_bytes) &&
	       !json_put_count(out, "tx_dropped", st.tx_dropped) &&
	       !json_put_count(out, "rx_bytes", st.rx_bytes);
}

static void console_destroy(struct virtio_dev *vd)
{
	virtio_console_free(vd->opaque);
}

static const struct virtio_device_ops console_ops = {
	.name = "console",
	.config_read = console_config_read,
	.config_write = console_config_write,
	.activate = console_activate,
	.reset = console_reset,
	.queue_notify = console_queue_notify,
	.pause = console_pause,
	.resume = console_resume,
	.counters = console_counters,
	.destroy = console_destroy,
};

static const struct virtio_dev_params console_params = {
	.type = VIRTIO_ID_CONSOLE, .nr_queues = 2, .max_queue_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.config_size = CONSOLE_CFG_SIZE, .features = VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE),
};

struct virtio_console *virtio_console_new(int in_fd, int out_fd, const struct guest_mem *mem)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	unsigned cap = virtq_chain_max(VIRTIO_CONSOLE_QUEUE_SIZE);

	if (!con)
		return NULL;
	con->in_fd = in_fd;
	con->out_fd = out_fd;
	if (virtio_dev_init(&con->vdev, &console_params, &console_ops, con, mem))
		goto err_free;
	if (virtq_chain_init(&con->rx_chain, cap) || virtq_chain_init(&con->tx_chain, cap))
		goto err_chains;
	if (virtio_worker_init(&con->worker))
		goto err_chains;
	return con;

err_chains:
	virtq_chain_free(&con->rx_chain);
	virtq_chain_free(&con->tx_chain);
	virtio_dev_fini(&con->vdev);
err_free:
	free(con);
	return NULL;
}

struct virtio_dev *virtio_console_dev(struct virtio_console *con)
{
	return &con->vdev;
}

void virtio_console_free(struct virtio_console *con)
{
	if (!con)
		return;
	virtio_worker_destroy(&con->worker);
	virtq_chain_free(&con->rx_chain);
	virtq_chain_free(&con->tx_chain);
	virtio_dev_fini(&con->vdev);
	free(con);
}

void virtio_console_stats(const struct virtio_console *con, struct virtio_console_stats *st)
{
	st->tx_bytes = __atomic_load_n(&con->tx_bytes, __ATOMIC_RELAXED);
	st->tx_dropped = __atomic_load_n(&con->tx_dropped, __ATOMIC_RELAXED);
	st->rx_bytes = __atomic_load_n(&con->rx_bytes, __ATOMIC_RELAXED);
}
