/* SPDX-License-Identifier: Apache-2.0 */
/* The token-bucket rate limiter of virtio-blk (design: docs/virtio-blk.md). */
#ifndef VIREO_VIRTIO_RATELIMIT_H
#define VIREO_VIRTIO_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Token bucket with Firecracker / Cloud Hypervisor semantics: @size tokens refilled
 * continuously at size per refill time, a one-time burst spent first, a request larger than
 * the bucket allowed once and paid back by blocking. Times are CLOCK_MONOTONIC ns, passed
 * in so the arithmetic is testable. Design: docs/virtio-blk.md.
 */
struct rl_bucket {
	uint64_t size, one_time_burst, refill_ns;
	uint64_t budget, last_update_ns;
	uint64_t cap_per_gcd, time_per_gcd;   /* size and refill_ns over their gcd */
};

enum rl_result { RL_OK, RL_FAIL, RL_OVER };

uint64_t rl_now_ns(void);
/* False (bucket unused, no limit) when @size or @refill_ms is 0, as CH and FC do. */
bool rl_bucket_init(struct rl_bucket *b, uint64_t size, uint64_t one_time_burst,
		    uint64_t refill_ms, uint64_t now_ns);
/*
 * Takes @tokens: RL_OK; RL_FAIL (nothing taken); RL_OVER when @tokens exceeds the bucket:
 * taken anyway, bucket emptied, *@debt_ns = how long the excess takes to refill.
 */
enum rl_result rl_bucket_reduce(struct rl_bucket *b, uint64_t tokens, uint64_t now_ns,
				uint64_t *debt_ns);
/* Gives @tokens back (capped at size): undoes a reduce. */
void rl_bucket_replenish(struct rl_bucket *b, uint64_t tokens);
/* How long until @tokens fit (0: they do now). */
uint64_t rl_bucket_wait_ns(const struct rl_bucket *b, uint64_t tokens, uint64_t now_ns);

/* One bucket as the user gives it: @size tokens per @refill_time ms; 0 in either: no limit. */
struct rl_bucket_params {
	uint64_t size, one_time_burst, refill_time;
};

struct rate_limiter_params {
	struct rl_bucket_params bandwidth, ops;
};

/* A bandwidth (bytes) and an ops bucket, shared by the threads of one device. */
struct rate_limiter {
	pthread_mutex_t lock;
	bool has_bw, has_ops;
	struct rl_bucket bw, ops;
	uint64_t blocked_until_ns;        /* paying back an over-consumption */
};

/* Buckets per @p (NULL: no limit). 0 or -errno. */
int rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_params *p,
		      uint64_t now_ns);
void rate_limiter_destroy(struct rate_limiter *rl);
bool rate_limiter_enabled(const struct rate_limiter *rl);
/*
 * One operation of @bytes (0 for requests that move no data): true when both buckets allow
 * it (tokens taken), false with *@wait_ns until a retry can succeed (nothing taken).
 */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns,
			  uint64_t *wait_ns);

#endif
