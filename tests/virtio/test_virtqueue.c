// SPDX-License-Identifier: Apache-2.0
/*
 * Split virtqueue, device side: one test per hostile-guest defence on crafted rings in real
 * guest RAM, plus chains, indirect tables, u16 wrap, EVENT_IDX and notification suppression.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "arch/x86_64/arch.h"
#include "vtest.h"

#define QSIZE   8
#define RING    0x10000ULL
#define BUF     0x100000ULL
#define ITABLE  0x80000ULL
#define MEM     (16ULL << 20)

struct fx {
	struct guest_mem mem;
	struct virtq vq;
	struct virtq_chain c;
	struct drv_ring r;
};

static int setup_size(void **state, uint64_t mem_size)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(arch_guest_mem_init(&f->mem, mem_size), 0);
	drv_init(&f->r, &f->mem, QSIZE, RING);
	virtq_init(&f->vq, &f->mem);
	assert_int_equal(virtq_enable(&f->vq, QSIZE, f->r.desc, f->r.avail, f->r.used), 0);
	assert_int_equal(virtq_chain_init(&f->c, virtq_chain_max(QSIZE)), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_size(state, MEM);
}

/* 5 GiB: RAM [0, 3 GiB) and [4 GiB, 6 GiB), the 32-bit MMIO hole in between. */
static int setup_5g(void **state)
{
	return setup_size(state, 5ULL << 30);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtq_chain_free(&f->c);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static int pop(struct fx *f)
{
	return virtq_pop_chain(&f->vq, &f->c);
}

static uint64_t errs(struct fx *f, int code)
{
	return f->vq.errors[code - VIRTQ_E_BASE];
}

/* A one-descriptor chain at head 0 with (addr, len). */
static int pop_one(struct fx *f, uint64_t addr, uint32_t len, uint16_t flags)
{
	drv_desc(&f->r, 0, addr, len, flags, 0);
	drv_publish(&f->r, 0);
	return pop(f);
}

/* Expects @code, the counter at 1, and the queue poisoned until reset. */
static void expect_broken(struct fx *f, int ret, int code)
{
	assert_int_equal(ret, -code);
	assert_int_equal(errs(f, code), 1);
	assert_true(f->vq.broken);
	assert_int_equal(pop(f), -VIRTQ_E_BROKEN);
	assert_int_equal(errs(f, code), 1);
	assert_int_equal(virtq_push_used(&f->vq, 0, 0), -EIO);
	assert_false(virtq_needs_notify(&f->vq));
}

/* ------------------------------------------------------------------ correct behaviour */

static void test_simple_chain(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	assert_int_equal(pop(f), 0);                          /* nothing yet */
	drv_desc(&f->r, 3, BUF, 100, VRING_DESC_F_NEXT, 5);
	drv_desc(&f->r, 5, BUF + 0x1000, 0, VRING_DESC_F_NEXT, 6);   /* zero length: skipped */
	drv_desc(&f->r, 6, BUF + 0x2000, 200, VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r, 3);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.head, 3);
	assert_int_equal(f->c.nr, 2);
	assert_int_equal(f->c.nr_read, 1);
	assert_int_equal(f->c.read_len, 100);
	assert_int_equal(f->c.write_len, 200);
	assert_ptr_equal(f->c.segs[0].addr, guest_mem_ptr(&f->mem, BUF, 1));
	assert_false(f->c.segs[0].write);
	assert_ptr_equal(f->c.segs[1].addr, guest_mem_ptr(&f->mem, BUF + 0x2000, 1));
	assert_true(f->c.segs[1].write);
	assert_int_equal(pop(f), 0);
	assert_int_equal(f->vq.next_avail, 1);

	assert_int_equal(virtq_push_used(&f->vq, 3, 42), 0);
	assert_int_equal(drv_used_idx(&f->r), 1);
	drv_used_elem(&f->r, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 42);
	assert_int_equal(virtq_push_used(&f->vq, QSIZE, 0), -EINVAL);  /* device bug guard */
}

static void test_full_length_chain(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < QSIZE; i++)
		drv_desc(&f->r, i, BUF + i * 0x100, 16,
			 i + 1 < QSIZE ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_publish(&f->r, 0);
	assert_int_equal(pop(f), 1);                          /* exactly size is allowed */
	assert_int_equal(f->c.nr, QSIZE);
}

static void test_not_ready_and_small_chain(void **state)
{
	struct fx *f = *state;
	struct virtq_chain small;

	assert_int_equal(virtq_chain_init(&small, 4), 0);
	drv_desc(&f->r, 0, BUF, 1, 0, 0);
	drv_publish(&f->r, 0);
	assert_int_equal(virtq_pop_chain(&f->vq, &small), -EINVAL);
	virtq_chain_free(&small);
	virtq_reset(&f->vq);
	assert_int_equal(pop(f), 0);
	assert_int_equal(virtq_push_used(&f->vq, 0, 0), -EINVAL);
}

static void test_check_rings(void **state)
{
	struct fx *f = *state;
	struct guest_mem *m = &f->mem;

	assert_int_equal(virtq_check_rings(m, 8, RING, RING + 0x80, RING + 0x1000), 0);
	assert_int_equal(virtq_check_rings(m, 6, RING, RING + 0x80, RING + 0x1000), -EINVAL);
	assert_int_equal(virtq_check_rings(m, 0, RING, RING + 0x80, RING + 0x1000), -EINVAL);
	assert_int_equal(virtq_check_rings(m, 65536, RING, RING + 0x80, RING + 0x1000), -EINVAL);
	assert_int_equal(virtq_check_rings(m, 8, RING + 8, RING + 0x80, RING + 0x1000), -EINVAL);
	assert_int_equal(virtq_check_rings(m, 8, RING, RING + 0x81, RING + 0x1000), -EINVAL);
	assert_int_equal(virtq_check_rings(m, 8, RING, RING + 0x80, RING + 0x1002), -EINVAL);
	assert_int_equal(virtq_check_rings(m, 8, MEM, RING + 0x80, RING + 0x1000), -EFAULT);
	/* Used ring whose avail_event would fall past the end of RAM. */
	assert_int_equal(virtq_check_rings(m, 8, RING, RING + 0x80, MEM - 68), -EFAULT);
	assert_int_equal(virtq_check_rings(m, 8, RING, RING + 0x80, MEM - 72), 0);
}

static void test_indirect_chain(void **state)
{
	struct fx *f = *state;

	virtq_set_features(&f->vq, VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	drv_idesc(&f->mem, ITABLE, 0, BUF, 10, VRING_DESC_F_NEXT, 2);
	drv_idesc(&f->mem, ITABLE, 2, BUF + 0x100, 20, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	drv_idesc(&f->mem, ITABLE, 1, BUF + 0x200, 30, VRING_DESC_F_WRITE, 0);
	/* A direct descriptor, then the indirect one (WRITE on it must be ignored, 2.7.5.3.2). */
	drv_desc(&f->r, 4, BUF + 0x300, 5, VRING_DESC_F_NEXT, 7);
	drv_desc(&f->r, 7, ITABLE, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	drv_publish(&f->r, 4);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.head, 4);
	assert_int_equal(f->c.nr, 4);
	assert_int_equal(f->c.nr_read, 2);
	assert_int_equal(f->c.read_len, 15);
	assert_int_equal(f->c.write_len, 50);
	assert_ptr_equal(f->c.segs[3].addr, guest_mem_ptr(&f->mem, BUF + 0x200, 1));
}

/* Indices free-run modulo 2^16 (2.7.6): pop and push across 65535 -> 0. */
static void test_u16_wrap(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;
	int i;

	f->vq.next_avail = f->vq.next_used = 65534;
	drv_set_avail_idx(&f->r, 65534);
	for (i = 0; i < 3; i++) {
		drv_desc(&f->r, (uint16_t)i, BUF, 8, VRING_DESC_F_WRITE, 0);
		drv_publish(&f->r, (uint16_t)i);
	}
	assert_int_equal(f->r.avail_idx, 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.head, i);
		assert_int_equal(virtq_push_used(&f->vq, f->c.head, 8), 0);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(f->vq.next_avail, 1);
	assert_int_equal(drv_used_idx(&f->r), 1);
	drv_used_elem(&f->r, 65535 % QSIZE, &id, &len);       /* slot 7 */
	assert_int_equal(id, 1);
	drv_used_elem(&f->r, 0, &id, &len);
	assert_int_equal(id, 2);
}

static void test_need_event_arithmetic(void **state)
{
	(void)state;
	/* (u16)(new - event - 1) < (u16)(new - old) (2.7.10) */
	assert_true(virtq_need_event(0, 1, 0));
	assert_false(virtq_need_event(1, 1, 0));
	assert_true(virtq_need_event(5, 10, 0));
	assert_false(virtq_need_event(10, 10, 0));
	/* Across the wrap. */
	assert_true(virtq_need_event(65535, 0, 65535));
	assert_true(virtq_need_event(65535, 2, 65534));
	assert_false(virtq_need_event(65533, 2, 65534));      /* event before old */
	assert_true(virtq_need_event(0, 1, 65535));
	assert_false(virtq_need_event(1, 1, 65535));
	assert_false(virtq_need_event(3, 3, 3));              /* nothing new */
}

static void push_n(struct fx *f, int n)
{
	while (n--) {
		drv_desc(&f->r, 0, BUF, 8, VRING_DESC_F_WRITE, 0);
		drv_publish(&f->r, 0);
		assert_int_equal(pop(f), 1);
		assert_int_equal(virtq_push_used(&f->vq, 0, 1), 0);
	}
}

/* Device -> driver suppression with EVENT_IDX: used_event (2.7.7.2, 2.7.10). */
static void test_notify_event_idx(void **state)
{
	struct fx *f = *state;

	virtq_set_features(&f->vq, VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	drv_set_avail_flags(&f->r, VRING_AVAIL_F_NO_INTERRUPT);   /* ignored with EVENT_IDX */
	drv_set_used_event(&f->r, 0);
	assert_false(virtq_needs_notify(&f->vq));             /* first call, nothing pushed */
	push_n(f, 1);
	assert_true(virtq_needs_notify(&f->vq));              /* used 0 -> 1 crosses 0 */
	assert_false(virtq_needs_notify(&f->vq));             /* nothing new */
	push_n(f, 1);
	assert_false(virtq_needs_notify(&f->vq));             /* driver wants event at 0 only */
	drv_set_used_event(&f->r, 3);
	push_n(f, 1);
	assert_false(virtq_needs_notify(&f->vq));             /* 2 -> 3 does not reach 3 */
	push_n(f, 1);
	assert_true(virtq_needs_notify(&f->vq));              /* 3 -> 4 crosses 3 */

	/* At the wrap: signalled 65535, used_event 65535, push one -> 0. */
	f->vq.next_used = 65535;
	f->vq.signalled_used = 65535;
	drv_set_used_event(&f->r, 65535);
	push_n(f, 1);
	assert_int_equal(f->vq.next_used, 0);
	assert_true(virtq_needs_notify(&f->vq));
}

/* Device -> driver suppression without EVENT_IDX: avail->flags NO_INTERRUPT. */
static void test_notify_flags(void **state)
{
	struct fx *f = *state;

	assert_false(virtq_needs_notify(&f->vq));             /* first call, nothing pushed */
	push_n(f, 1);
	drv_set_avail_flags(&f->r, VRING_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_needs_notify(&f->vq));
	push_n(f, 1);
	drv_set_avail_flags(&f->r, 0);
	assert_true(virtq_needs_notify(&f->vq));
	assert_false(virtq_needs_notify(&f->vq));             /* nothing new since */
}

/* Driver -> device suppression both ways, and the re-check that avoids lost wakeups. */
static void test_kick_suppression(void **state)
{
	struct fx *f = *state;

	virtq_disable_notify(&f->vq);
	assert_int_equal(drv_used_flags(&f->r), VRING_USED_F_NO_NOTIFY);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(drv_used_flags(&f->r), 0);
	/* A buffer published while kicks were off must be reported by the re-check. */
	virtq_disable_notify(&f->vq);
	drv_desc(&f->r, 0, BUF, 8, 0, 0);
	drv_publish(&f->r, 0);
	assert_true(virtq_enable_notify(&f->vq));
	assert_int_equal(pop(f), 1);
	assert_false(virtq_enable_notify(&f->vq));

	/* EVENT_IDX: avail_event = next_avail, flags untouched. */
	virtq_set_features(&f->vq, VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	virtq_disable_notify(&f->vq);
	assert_int_equal(drv_used_flags(&f->r), 0);
	assert_false(virtq_enable_notify(&f->vq));
	assert_int_equal(drv_avail_event(&f->r), 1);
	drv_publish(&f->r, 0);
	assert_true(virtq_enable_notify(&f->vq));
}

/* ------------------------------------------------------------------ defences */

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	drv_set_avail_idx(&f->r, QSIZE + 1);
	expect_broken(f, pop(f), VIRTQ_E_AVAIL_IDX);
	/* Poisoned until reset: then the same ring works again. */
	assert_int_equal(virtq_enable(&f->vq, QSIZE, f->r.desc, f->r.avail, f->r.used), 0);
	drv_set_avail_idx(&f->r, 0);
	assert_int_equal(pop_one(f, BUF, 8, 0), 1);
}

static void test_avail_idx_jump_at_wrap(void **state)
{
	struct fx *f = *state;

	f->vq.next_avail = 65530;                             /* ring heads are all 0: valid */
	drv_desc(&f->r, 0, BUF, 8, 0, 0);
	drv_set_avail_idx(&f->r, 2);                          /* 8 ahead across the wrap: ok */
	assert_int_equal(pop(f), 1);
	f->vq.next_avail = 65530;
	drv_set_avail_idx(&f->r, 3);                          /* 9 ahead */
	expect_broken(f, pop(f), VIRTQ_E_AVAIL_IDX);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	drv_publish(&f->r, QSIZE);
	expect_broken(f, pop(f), VIRTQ_E_HEAD);
	assert_int_equal(f->vq.next_avail, 0);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	drv_desc(&f->r, 0, BUF, 8, VRING_DESC_F_NEXT, QSIZE);
	drv_publish(&f->r, 0);
	expect_broken(f, pop(f), VIRTQ_E_NEXT);
}

static void test_loop(void **state)
{
	struct fx *f = *state;

	drv_desc(&f->r, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	drv_desc(&f->r, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	drv_publish(&f->r, 0);
	expect_broken(f, pop(f), VIRTQ_E_CHAIN_LEN);
}

static void test_self_loop(void **state)
{
	struct fx *f = *state;

	drv_desc(&f->r, 2, BUF, 8, VRING_DESC_F_NEXT, 2);
	drv_publish(&f->r, 2);
	expect_broken(f, pop(f), VIRTQ_E_CHAIN_LEN);
}

/* A chain of size + 1 descriptors (the last one revisiting the first). */
static void test_chain_too_long(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < QSIZE; i++)
		drv_desc(&f->r, i, BUF, 8, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
	drv_publish(&f->r, 0);
	expect_broken(f, pop(f), VIRTQ_E_CHAIN_LEN);
}

static void test_buffer_outside_ram(void **state)
{
	expect_broken(*state, pop_one(*state, MEM, 8, 0), VIRTQ_E_BUFFER);
}

static void test_buffer_straddles_end(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop_one(f, MEM - 16, 16, 0), 1);    /* touching the end is fine */
	expect_broken(f, pop_one(f, MEM - 10, 20, 0), VIRTQ_E_BUFFER);
}

static void test_buffer_addr_len_overflow(void **state)
{
	expect_broken(*state, pop_one(*state, 0xfffffffffffffff0ULL, 0x20, 0), VIRTQ_E_BUFFER);
}

static void test_buffer_in_mmio_hole(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop_one(f, 0x100000000ULL, 4096, VRING_DESC_F_WRITE), 1);  /* high RAM */
	expect_broken(f, pop_one(f, 0xd0000000ULL, 16, VRING_DESC_F_WRITE), VIRTQ_E_BUFFER);
}

static void test_buffer_straddles_hole(void **state)
{
	expect_broken(*state, pop_one(*state, 0xbffffff0ULL, 0x20, 0), VIRTQ_E_BUFFER);
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;

	drv_desc(&f->r, 0, BUF, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	drv_desc(&f->r, 1, BUF, 8, 0, 0);
	drv_publish(&f->r, 0);
	expect_broken(f, pop(f), VIRTQ_E_ORDER);
}

static int pop_indirect(struct fx *f, uint32_t len, uint16_t flags)
{
	drv_desc(&f->r, 0, ITABLE, len, VRING_DESC_F_INDIRECT | flags, 1);
	drv_desc(&f->r, 1, BUF, 8, 0, 0);
	drv_publish(&f->r, 0);
	return pop(f);
}

static void set_indirect(struct fx *f)
{
	virtq_set_features(&f->vq, VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	drv_idesc(&f->mem, ITABLE, 0, BUF, 8, 0, 0);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;

	drv_idesc(&f->mem, ITABLE, 0, BUF, 8, 0, 0);
	expect_broken(f, pop_indirect(f, 16, 0), VIRTQ_E_INDIRECT_FEATURE);
}

static void test_indirect_len_zero(void **state)
{
	set_indirect(*state);
	expect_broken(*state, pop_indirect(*state, 0, 0), VIRTQ_E_INDIRECT_LEN);
}

static void test_indirect_len_not_multiple(void **state)
{
	set_indirect(*state);
	expect_broken(*state, pop_indirect(*state, 24, 0), VIRTQ_E_INDIRECT_LEN);
}

static void test_indirect_too_many_entries(void **state)
{
	struct fx *f = *state;

	set_indirect(f);
	assert_int_equal(pop_indirect(f, 16 * QSIZE, 0), 1);   /* size entries: fine */
	expect_broken(f, pop_indirect(f, 16 * (QSIZE + 1), 0), VIRTQ_E_INDIRECT_SIZE);
}

static void test_indirect_nested(void **state)
{
	struct fx *f = *state;

	set_indirect(f);
	drv_idesc(&f->mem, ITABLE, 0, ITABLE + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	expect_broken(f, pop_indirect(f, 16, 0), VIRTQ_E_INDIRECT_NESTED);
}

static void test_indirect_with_next(void **state)
{
	set_indirect(*state);
	expect_broken(*state, pop_indirect(*state, 16, VRING_DESC_F_NEXT), VIRTQ_E_INDIRECT_NEXT);
}

static void test_indirect_table_outside_ram(void **state)
{
	struct fx *f = *state;

	set_indirect(f);
	drv_desc(&f->r, 0, MEM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	drv_publish(&f->r, 0);
	expect_broken(f, pop(f), VIRTQ_E_BUFFER);
}

static void test_indirect_next_and_loop(void **state)
{
	struct fx *f = *state;

	set_indirect(f);
	drv_idesc(&f->mem, ITABLE, 0, BUF, 8, VRING_DESC_F_NEXT, 2);   /* table has 2 */
	expect_broken(f, pop_indirect(f, 32, 0), VIRTQ_E_NEXT);
	assert_int_equal(virtq_enable(&f->vq, QSIZE, f->r.desc, f->r.avail, f->r.used), 0);
	set_indirect(f);
	drv_set_avail_idx(&f->r, 0);
	drv_idesc(&f->mem, ITABLE, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	drv_idesc(&f->mem, ITABLE, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	expect_broken(f, pop_indirect(f, 32, 0), VIRTQ_E_CHAIN_LEN);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(virtq_strerror(-VIRTQ_E_AVAIL_IDX), "avail index jump");
	assert_string_equal(virtq_strerror(-VIRTQ_E_INDIRECT_NEXT),
			    "indirect descriptor with NEXT");
	assert_non_null(virtq_strerror(-EINVAL));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T5(fn) cmocka_unit_test_setup_teardown(fn, setup_5g, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_simple_chain),
		T(test_full_length_chain),
		T(test_not_ready_and_small_chain),
		T(test_check_rings),
		T(test_indirect_chain),
		T(test_u16_wrap),
		T(test_need_event_arithmetic),
		T(test_notify_event_idx),
		T(test_notify_flags),
		T(test_kick_suppression),
		T(test_avail_idx_jump),
		T(test_avail_idx_jump_at_wrap),
		T(test_head_out_of_range),
		T(test_next_out_of_range),
		T(test_loop),
		T(test_self_loop),
		T(test_chain_too_long),
		T(test_buffer_outside_ram),
		T(test_buffer_straddles_end),
		T(test_buffer_addr_len_overflow),
		T5(test_buffer_in_mmio_hole),
		T5(test_buffer_straddles_hole),
		T(test_readable_after_writable),
		T(test_indirect_not_negotiated),
		T(test_indirect_len_zero),
		T(test_indirect_len_not_multiple),
		T(test_indirect_too_many_entries),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_table_outside_ram),
		T(test_indirect_next_and_loop),
		T(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
