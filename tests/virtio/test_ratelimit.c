// SPDX-License-Identifier: Apache-2.0
/*
 * Token-bucket arithmetic (Firecracker / Cloud Hypervisor semantics) with time passed in:
 * initial budget, proportional refill with the fraction of a token carried over, the cap,
 * the one-time burst, over-consumption and the block it causes, wait times, the two-bucket
 * limiter giving the op back when bytes do not fit, and a long simulated run whose achieved
 * rate must match the configured one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "virtio/ratelimit.h"

#define MS 1000000ULL
#define T0 (1000 * MS)                    /* an arbitrary start time */

static void test_disabled(void **state)
{
	struct rl_bucket b;
	struct rate_limiter rl;
	uint64_t wait;

	(void)state;
	assert_false(rl_bucket_init(&b, 0, 0, 100, T0));
	assert_false(rl_bucket_init(&b, 100, 0, 0, T0));
	assert_int_equal(rate_limiter_init(&rl, NULL, T0), 0);
	assert_false(rate_limiter_enabled(&rl));
	assert_true(rate_limiter_consume(&rl, UINT64_MAX, T0, &wait));
	rate_limiter_destroy(&rl);
}

static void test_initial_budget(void **state)
{
	struct rl_bucket b;
	uint64_t debt;

	(void)state;
	assert_true(rl_bucket_init(&b, 1000, 0, 1000, T0));
	assert_int_equal(rl_bucket_reduce(&b, 600, T0, &debt), RL_OK);
	assert_int_equal(rl_bucket_reduce(&b, 400, T0, &debt), RL_OK);
	assert_int_equal(rl_bucket_reduce(&b, 1, T0, &debt), RL_FAIL);
	assert_int_equal(b.budget, 0);        /* a failure takes nothing */
}

static void test_refill_proportional_and_capped(void **state)
{
	struct rl_bucket b;
	uint64_t debt;

	(void)state;
	rl_bucket_init(&b, 1000, 0, 1000, T0);           /* 1 token per ms */
	assert_int_equal(rl_bucket_reduce(&b, 1000, T0, &debt), RL_OK);
	assert_int_equal(rl_bucket_reduce(&b, 251, T0 + 250 * MS, &debt), RL_FAIL);
	assert_int_equal(b.budget, 250);
	assert_int_equal(rl_bucket_reduce(&b, 250, T0 + 250 * MS, &debt), RL_OK);
	/* Long idle: full again, never more. */
	assert_int_equal(rl_bucket_reduce(&b, 1001, T0 + 60000 * MS, &debt), RL_OVER);
	rl_bucket_init(&b, 1000, 0, 1000, T0);
	assert_int_equal(rl_bucket_reduce(&b, 1, T0, &debt), RL_OK);
	assert_int_equal(rl_bucket_reduce(&b, 1000, T0 + 5000 * MS, &debt), RL_OK);
	assert_int_equal(b.budget, 0);
}

/* A third of a token per step: the fractions add up instead of being dropped. */
static void test_fraction_carried(void **state)
{
	struct rl_bucket b;
	uint64_t debt, t = T0;
	unsigned i, got = 0;

	(void)state;
	rl_bucket_init(&b, 1000, 0, 1000, T0);
	assert_int_equal(rl_bucket_reduce(&b, 1000, T0, &debt), RL_OK);
	for (i = 0; i < 30; i++) {
		t += MS / 3 + 1;
		if (rl_bucket_reduce(&b, 1, t, &debt) == RL_OK)
			got++;
	}
	/* 30 * (1/3 ms + 1 ns) = 10 ms: 10 tokens, not 0. */
	assert_int_equal(got, 10);
}

static void test_one_time_burst(void **state)
{
	struct rl_bucket b;
	uint64_t debt;

	(void)state;
	rl_bucket_init(&b, 100, 500, 1000, T0);
	assert_int_equal(rl_bucket_reduce(&b, 450, T0, &debt), RL_OK);
	assert_int_equal(b.one_time_burst, 50);
	assert_int_equal(b.budget, 100);
	/* 50 from the burst, 70 from the budget. */
	assert_int_equal(rl_bucket_reduce(&b, 120, T0, &debt), RL_OK);
	assert_int_equal(b.one_time_burst, 0);
	assert_int_equal(b.budget, 30);
	assert_int_equal(rl_bucket_reduce(&b, 31, T0, &debt), RL_FAIL);
}

static void test_over_consumption(void **state)
{
	struct rl_bucket b;
	uint64_t debt;

	(void)state;
	rl_bucket_init(&b, 1000, 0, 100, T0);            /* 10 tokens per ms */
	assert_int_equal(rl_bucket_reduce(&b, 3500, T0, &debt), RL_OVER);
	assert_int_equal(b.budget, 0);
	assert_int_equal(debt, 250 * MS);                /* 2500 tokens beyond the budget */
}

static void test_wait_time(void **state)
{
	struct rl_bucket b;
	uint64_t debt, w;

	(void)state;
	rl_bucket_init(&b, 1000, 0, 1000, T0);
	assert_int_equal(rl_bucket_reduce(&b, 1000, T0, &debt), RL_OK);
	w = rl_bucket_wait_ns(&b, 100, T0);
	assert_int_equal(w, 100 * MS);
	assert_int_equal(rl_bucket_reduce(&b, 100, T0 + w - 1, &debt), RL_FAIL);
	assert_int_equal(rl_bucket_wait_ns(&b, 100, T0 + w - 1), 1);
	assert_int_equal(rl_bucket_reduce(&b, 100, T0 + w, &debt), RL_OK);
	assert_int_equal(rl_bucket_wait_ns(&b, 0, T0 + w), 0);
}

/* Sizes near the top of u64 do not overflow the refill arithmetic. */
static void test_huge_values(void **state)
{
	struct rl_bucket b;
	uint64_t debt;

	(void)state;
	assert_true(rl_bucket_init(&b, UINT64_MAX / 2, 0, 999983, T0));
	assert_int_equal(rl_bucket_reduce(&b, UINT64_MAX / 2, T0, &debt), RL_OK);
	assert_int_equal(rl_bucket_reduce(&b, 1ULL << 60, T0 + 500000 * MS, &debt), RL_OK);
	assert_true(b.budget < UINT64_MAX / 2);
	assert_true(rl_bucket_wait_ns(&b, UINT64_MAX / 2, T0 + 500000 * MS) > 0);
	assert_false(rl_bucket_init(&b, 1, 0, UINT64_MAX, T0));
}

static struct rate_limiter_params cfg_of(uint64_t bw, uint64_t bw_ms, uint64_t ops,
					 uint64_t ops_ms)
{
	return (struct rate_limiter_params){
		.bandwidth = { .size = bw, .refill_time = bw_ms },
		.ops = { .size = ops, .refill_time = ops_ms },
	};
}

/* Bytes refused: the op taken for the request is given back; nothing is half spent. */
static void test_limiter_all_or_nothing(void **state)
{
	struct rate_limiter_params cfg = cfg_of(8192, 1000, 3, 1000);
	struct rate_limiter rl;
	uint64_t wait;

	(void)state;
	assert_int_equal(rate_limiter_init(&rl, &cfg, T0), 0);
	assert_true(rate_limiter_consume(&rl, 4096, T0, &wait));
	assert_true(rate_limiter_consume(&rl, 4096, T0, &wait));
	assert_false(rate_limiter_consume(&rl, 4096, T0, &wait));
	assert_int_equal(wait, 500 * MS);                 /* 4096 of 8192 per second */
	assert_int_equal(rl.ops.budget, 1);
	/* Requests without data only need an op. */
	assert_true(rate_limiter_consume(&rl, 0, T0, &wait));
	assert_false(rate_limiter_consume(&rl, 0, T0, &wait));
	assert_int_equal(wait, 1000 * MS / 3 + 1);
	rate_limiter_destroy(&rl);
}

/* Over-consumption blocks everything for the debt, then normal service resumes. */
static void test_limiter_blocks_for_debt(void **state)
{
	struct rate_limiter_params cfg = cfg_of(1000, 100, 0, 0);
	struct rate_limiter rl;
	uint64_t wait;

	(void)state;
	rate_limiter_init(&rl, &cfg, T0);
	assert_true(rate_limiter_consume(&rl, 3000, T0, &wait));          /* 2000 of debt */
	assert_false(rate_limiter_consume(&rl, 1, T0 + 100 * MS, &wait));
	assert_int_equal(wait, 100 * MS);
	assert_false(rate_limiter_consume(&rl, 1, T0 + 200 * MS - 1, &wait));
	assert_true(rate_limiter_consume(&rl, 1, T0 + 200 * MS, &wait));
	rate_limiter_destroy(&rl);
}

/*
 * A greedy device against 10 MB/s (bucket 1 MB, 100 ms) for 20 simulated seconds, sleeping
 * exactly the wait it is told: the achieved rate is the configured one (the initial bucket
 * is the only excess, 1 MB over 200 MB).
 */
static void test_simulated_rate(void **state)
{
	struct rate_limiter_params cfg = cfg_of(1000000, 100, 0, 0);
	struct rate_limiter rl;
	uint64_t t = T0, bytes = 0, wait;
	double rate;

	(void)state;
	rate_limiter_init(&rl, &cfg, T0);
	while (t < T0 + 20000 * MS) {
		if (rate_limiter_consume(&rl, 4096, t, &wait))
			bytes += 4096;
		else
			t += wait;
	}
	rate = (double)bytes / 20.0;
	assert_true(rate >= 10.0e6 * 0.999 && rate <= 10.0e6 * 1.01);
	rate_limiter_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_initial_budget),
		cmocka_unit_test(test_refill_proportional_and_capped),
		cmocka_unit_test(test_fraction_carried),
		cmocka_unit_test(test_one_time_burst),
		cmocka_unit_test(test_over_consumption),
		cmocka_unit_test(test_wait_time),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_limiter_all_or_nothing),
		cmocka_unit_test(test_limiter_blocks_for_debt),
		cmocka_unit_test(test_simulated_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
