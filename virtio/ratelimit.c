// SPDX-License-Identifier: Apache-2.0
/*
 * Token-bucket rate limiter with Firecracker's / Cloud Hypervisor's semantics (their
 * TokenBucket and RateLimiter): a bucket of @size tokens refilled continuously at
 * size / refill_time, an extra one-time burst spent first, a request larger than the whole
 * bucket allowed once but paid back by blocking the limiter for as long as the debt takes to
 * refill. Two buckets per limiter: bytes and operations; a request must fit both.
 *
 * Unlike Firecracker's fixed 100 ms retry timer, a refused caller is told how long until the
 * tokens it needs exist, so a throttled device wakes exactly once per refill it waits for.
 * Time is passed in (now_ns) so the arithmetic is testable without clocks.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "virtio/ratelimit.h"

#define NS_PER_MS 1000000ULL

uint64_t rl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

bool rl_bucket_init(struct rl_bucket *b, uint64_t size, uint64_t one_time_burst,
		    uint64_t refill_ms, uint64_t now_ns)
{
	uint64_t g;

	memset(b, 0, sizeof(*b));
	/* Both CH and FC treat a zero size or refill time as "no limit". */
	if (!size || !refill_ms || refill_ms > UINT64_MAX / NS_PER_MS)
		return false;
	b->size = size;
	b->one_time_burst = one_time_burst;
	b->refill_ns = refill_ms * NS_PER_MS;
	b->budget = size;
	b->last_update_ns = now_ns;
	/* tokens = dt * size / refill_ns, reduced by the gcd to keep the product small. */
	g = gcd(size, b->refill_ns);
	b->cap_per_gcd = size / g;
	b->time_per_gcd = b->refill_ns / g;
	return true;
}

/*
 * Adds what accrued since last_update (capped at size). last_update moves only by the time
 * the whole tokens took, so the fraction of a token carries over to the next call.
 */
static void replenish(struct rl_bucket *b, uint64_t now_ns)
{
	unsigned __int128 tokens, spent;
	uint64_t dt = now_ns > b->last_update_ns ? now_ns - b->last_update_ns : 0;

	if (dt >= b->refill_ns) {
		b->budget = b->size;
		b->last_update_ns = now_ns;
		return;
	}
	tokens = (unsigned __int128)dt * b->cap_per_gcd / b->time_per_gcd;
	/* Round the time consumed up, so no nanosecond ever yields a token twice. */
	spent = (tokens * b->time_per_gcd + b->cap_per_gcd - 1) / b->cap_per_gcd;
	b->last_update_ns += (uint64_t)spent;
	b->budget = tokens >= b->size - b->budget ? b->size : b->budget + (uint64_t)tokens;
}

enum rl_result rl_bucket_reduce(struct rl_bucket *b, uint64_t tokens, uint64_t now_ns,
				uint64_t *debt_ns)
{
	*debt_ns = 0;
	/* The one-time burst goes first (FC: it does not touch the refill clock otherwise). */
	if (b->one_time_burst) {
		if (b->one_time_burst >= tokens) {
			b->one_time_burst -= tokens;
			b->last_update_ns = now_ns;
			return RL_OK;
		}
		tokens -= b->one_time_burst;
		b->one_time_burst = 0;
	}
	if (tokens > b->budget) {
		replenish(b, now_ns);
		if (tokens > b->size) {
			/* Larger than the bucket: allowed, the bucket emptied, the rest is debt. */
			tokens -= b->budget;
			b->budget = 0;
			*debt_ns = (uint64_t)((unsigned __int128)tokens * b->refill_ns / b->size);
			return RL_OVER;
		}
		if (tokens > b->budget)
			return RL_FAIL;
	}
	b->budget -= tokens;
	return RL_OK;
}

void rl_bucket_replenish(struct rl_bucket *b, uint64_t tokens)
{
	b->budget = tokens >= b->size - b->budget ? b->size : b->budget + tokens;
}

uint64_t rl_bucket_wait_ns(const struct rl_bucket *b, uint64_t tokens, uint64_t now_ns)
{
	unsigned __int128 need_ns;
	uint64_t missing, since;

	if (tokens <= b->budget)
		return 0;
	missing = tokens - b->budget;
	need_ns = ((unsigned __int128)missing * b->time_per_gcd + b->cap_per_gcd - 1) /
		  b->cap_per_gcd;
	since = now_ns > b->last_update_ns ? now_ns - b->last_update_ns : 0;
	if (need_ns <= since)
		return 1;                 /* already accrued: retry at once */
	need_ns -= since;
	return need_ns > UINT64_MAX ? UINT64_MAX : (uint64_t)need_ns;
}

int rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_params *p,
		      uint64_t now_ns)
{
	memset(rl, 0, sizeof(*rl));
	if (p) {
		rl->has_bw = rl_bucket_init(&rl->bw, p->bandwidth.size, p->bandwidth.one_time_burst,
					    p->bandwidth.refill_time, now_ns);
		rl->has_ops = rl_bucket_init(&rl->ops, p->ops.size, p->ops.one_time_burst,
					     p->ops.refill_time, now_ns);
	}
	return -pthread_mutex_init(&rl->lock, NULL);
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

bool rate_limiter_enabled(const struct rate_limiter *rl)
{
	return rl->has_bw || rl->has_ops;
}

/* One bucket's verdict; on RL_OVER the limiter stays blocked for the debt. */
static bool take(struct rate_limiter *rl, struct rl_bucket *b, uint64_t tokens, uint64_t now_ns,
		 uint64_t *wait_ns)
{
	uint64_t debt;

	switch (rl_bucket_reduce(b, tokens, now_ns, &debt)) {
	case RL_OK:
		return true;
	case RL_OVER:
		rl->blocked_until_ns = now_ns + debt;
		return true;
	default:
		*wait_ns = rl_bucket_wait_ns(b, tokens, now_ns);
		return false;
	}
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns,
			  uint64_t *wait_ns)
{
	bool ok = false;

	*wait_ns = 0;
	pthread_mutex_lock(&rl->lock);
	/* FC: while a debt is being paid back, nothing passes. */
	if (now_ns < rl->blocked_until_ns) {
		*wait_ns = rl->blocked_until_ns - now_ns;
		goto out;
	}
	if (rl->has_ops && !take(rl, &rl->ops, 1, now_ns, wait_ns))
		goto out;
	if (rl->has_bw && bytes && !take(rl, &rl->bw, bytes, now_ns, wait_ns)) {
		/* CH: give the op back, the request is retried as a whole. */
		if (rl->has_ops)
			rl_bucket_replenish(&rl->ops, 1);
		goto out;
	}
	ok = true;
out:
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
