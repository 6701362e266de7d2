// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net's rate limiters: one per direction with the user's buckets (Cloud Hypervisor's
 * model, the token bucket of virtio/ratelimit.c), and the timerfd that retries a direction
 * once its tokens are back. Worker thread, except init/fini.
 */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/log.h"
#include "virtio/net_internal.h"

bool net_rl_wanted(const struct virtio_net_params *p)
{
	const struct rate_limiter_params *r = &p->rate_limiter;

	return (r->bandwidth.size && r->bandwidth.refill_time) || (r->ops.size && r->ops.refill_time);
}

/* One limiter per direction with the same buckets (CH), and the retry timer. */
int net_rl_init(struct virtio_net *net, const struct virtio_net_params *p)
{
	uint64_t now = rl_now_ns();
	int ret;

	net->timer_fd = -1;
	if ((ret = rate_limiter_init(&net->rl[NET_RL_RX], &p->rate_limiter, now)))
		return ret;
	if ((ret = rate_limiter_init(&net->rl[NET_RL_TX], &p->rate_limiter, now))) {
		rate_limiter_destroy(&net->rl[NET_RL_RX]);
		return ret;
	}
	net->rl_ok = true;
	if (!net_rl_wanted(p))
		return 0;
	net->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (net->timer_fd < 0)
		return -errno;
	net->rl_on = true;
	return 0;
}

bool net_rl_allow(struct virtio_net *net, unsigned dir, uint64_t bytes)
{
	struct itimerspec its = { 0 };
	uint64_t wait;

	if (!net->rl_on || !rate_limiter_enabled(&net->rl[dir]) ||
	    rate_limiter_consume(&net->rl[dir], bytes, rl_now_ns(), &wait))
		return true;
	net_count(dir == NET_RL_RX ? &net->stats.rx_throttled : &net->stats.tx_throttled, 1);
	wait = wait ? wait : 1;
	its.it_value.tv_sec = (time_t)(wait / 1000000000ULL);
	its.it_value.tv_nsec = (long)(wait % 1000000000ULL);
	if (timerfd_settime(net->timer_fd, 0, &its, NULL))
		pr_warn_ratelimited("virtio-net: timerfd: %s", strerror(errno));
	return false;
}

void net_rl_refund(struct virtio_net *net, uint64_t bytes, bool op)
{
	struct rate_limiter *rl = &net->rl[NET_RL_RX];

	if (!net->rl_on)
		return;
	if (rl->has_bw && bytes)
		rl_bucket_replenish(&rl->bw, bytes);
	if (rl->has_ops && op)
		rl_bucket_replenish(&rl->ops, 1);
}

/* The limiter's tokens are back: every active pair tries both directions again. */
void net_rl_timer(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;
	uint64_t n;

	(void)events;
	if (read(net->timer_fd, &n, sizeof(n)) != sizeof(n) && errno != EAGAIN)
		pr_warn_ratelimited("virtio-net: timerfd read: %s", strerror(errno));
	for (unsigned i = 0; i < net->curr_pairs; i++) {
		net_tx_process(&net->pairs[i]);
		net_rx_process(&net->pairs[i]);
	}
}

void net_rl_fini(struct virtio_net *net)
{
	if (net->timer_fd >= 0)
		close(net->timer_fd);
	if (net->rl_ok) {
		rate_limiter_destroy(&net->rl[NET_RL_RX]);
		rate_limiter_destroy(&net->rl[NET_RL_TX]);
	}
}
