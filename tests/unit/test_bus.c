// SPDX-License-Identifier: Apache-2.0
/* vmm/bus.c: range registration, overlap checks, dispatch and unclaimed accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/bus.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

/* A device that records its last access and reads back (tag, offset, len). */
struct dev {
	uint8_t tag;
	unsigned reads, writes;
	uint64_t last_offset;
	unsigned last_len;
	uint8_t last_data[8];
};

static void dev_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct dev *d = opaque;
	unsigned i;

	d->reads++;
	d->last_offset = offset;
	d->last_len = len;
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(d->tag + offset + i);
}

static void dev_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct dev *d = opaque;

	d->writes++;
	d->last_offset = offset;
	d->last_len = len;
	memcpy(d->last_data, data, len < 8 ? len : 8);
}

static const struct bus_device_ops dev_ops = { .read = dev_read, .write = dev_write };
static const struct bus_device_ops null_ops = { 0 };

static struct bus bus;
static struct dev a = { .tag = 0x10 }, b = { .tag = 0x20 }, c = { .tag = 0x30 };

static int setup(void **state)
{
	(void)state;
	a = (struct dev){ .tag = 0x10 };
	b = (struct dev){ .tag = 0x20 };
	c = (struct dev){ .tag = 0x30 };
	return bus_init(&bus, "test-bus");
}

static int teardown(void **state)
{
	(void)state;
	bus_destroy(&bus);
	return 0;
}

/* Which device claims a 1-byte read at @addr (NULL: unclaimed, and the data is 0xFF). */
static struct dev *owner(uint64_t addr)
{
	struct dev *devs[] = { &a, &b, &c };
	unsigned before[3], i;
	uint8_t v = 0;

	for (i = 0; i < 3; i++)
		before[i] = devs[i]->reads;
	if (!bus_read(&bus, addr, &v, 1)) {
		assert_int_equal(v, 0xff);
		return NULL;
	}
	for (i = 0; i < 3; i++)
		if (devs[i]->reads != before[i])
			return devs[i];
	fail_msg("claimed read at %#llx reached no device", (unsigned long long)addr);
	return NULL;
}

TEST(test_register_read_write_unregister)
{
	uint8_t data[4] = { 0 };

	assert_int_equal(bus_register(&bus, 0x3f8, 8, &dev_ops, &a), 0);
	assert_true(bus_read(&bus, 0x3fa, data, 2));
	assert_int_equal(a.last_offset, 2);
	assert_int_equal(a.last_len, 2);
	assert_int_equal(data[0], 0x12);
	assert_int_equal(data[1], 0x13);
	assert_int_equal(data[2], 0);               /* beyond len: untouched */
	assert_true(bus_write(&bus, 0x3ff, (const uint8_t *)"Q", 1));
	assert_int_equal(a.writes, 1);
	assert_int_equal(a.last_offset, 7);
	assert_int_equal(a.last_data[0], 'Q');
	assert_int_equal(bus_unregister(&bus, 0x3f8), 0);
	assert_null(owner(0x3f8));
	assert_false(bus_write(&bus, 0x3f8, (const uint8_t *)"Q", 1));
	assert_int_equal(a.writes, 1);
}

TEST(test_overlap_rejected)
{
	assert_int_equal(bus_register(&bus, 0x100, 0x10, &dev_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0x100, 0x10, &dev_ops, &b), -EEXIST);   /* same */
	assert_int_equal(bus_register(&bus, 0x100, 1, &dev_ops, &b), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf8, 0x9, &dev_ops, &b), -EEXIST);     /* low end */
	assert_int_equal(bus_register(&bus, 0x10f, 0x10, &dev_ops, &b), -EEXIST);   /* high end */
	assert_int_equal(bus_register(&bus, 0x104, 0x4, &dev_ops, &b), -EEXIST);    /* inside */
	assert_int_equal(bus_register(&bus, 0x0, 0x1000, &dev_ops, &b), -EEXIST);   /* around */
	assert_int_equal(owner(0x100), &a);
	assert_int_equal(owner(0x10f), &a);
}

TEST(test_overlap_across_several_ranges)
{
	assert_int_equal(bus_register(&bus, 0x100, 0x10, &dev_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0x200, 0x10, &dev_ops, &b), 0);
	/* Starts in the gap, ends inside the second range. */
	assert_int_equal(bus_register(&bus, 0x180, 0x81, &dev_ops, &c), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x180, 0x80, &dev_ops, &c), 0);
	assert_int_equal(owner(0x1ff), &c);
	assert_int_equal(owner(0x200), &b);
}

TEST(test_adjacent_ranges_allowed)
{
	assert_int_equal(bus_register(&bus, 0x70, 2, &dev_ops, &b), 0);
	assert_int_equal(bus_register(&bus, 0x60, 0x10, &dev_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0x72, 1, &dev_ops, &c), 0);
	assert_int_equal(owner(0x5f), NULL);
	assert_int_equal(owner(0x60), &a);
	assert_int_equal(owner(0x6f), &a);
	assert_int_equal(owner(0x70), &b);
	assert_int_equal(owner(0x71), &b);
	assert_int_equal(owner(0x72), &c);
	assert_int_equal(owner(0x73), NULL);
}

TEST(test_empty_and_wrapping_ranges_invalid)
{
	assert_int_equal(bus_register(&bus, 0x100, 0, &dev_ops, &a), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, &dev_ops, &a), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 0xf, 0x20, &dev_ops, &a), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 0xf, 0x10, &dev_ops, &a), 0);
	assert_int_equal(owner(UINT64_MAX - 0xf), &a);
	assert_int_equal(bus_register(&bus, 0, UINT64_MAX, &dev_ops, &b), -EEXIST);
	assert_int_equal(bus_register(&bus, 0, 0x1000, &dev_ops, &b), 0);
	assert_int_equal(owner(0), &b);
}

TEST(test_straddling_access_unclaimed)
{
	uint8_t data[4] = { 0 };

	assert_int_equal(bus_register(&bus, 0x60, 4, &dev_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0x64, 4, &dev_ops, &b), 0);
	assert_false(bus_read(&bus, 0x62, data, 4));             /* spans a and b */
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);
	assert_false(bus_read(&bus, 0x66, data, 4));             /* runs off the end of b */
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);
	assert_false(bus_read(&bus, 0x5f, data, 2));             /* starts before a */
	assert_false(bus_write(&bus, 0x67, data, 2));
	assert_int_equal(a.reads + b.reads + a.writes + b.writes, 0);
	assert_true(bus_read(&bus, 0x64, data, 4));
	assert_int_equal(b.last_len, 4);
}

TEST(test_access_wrapping_address_space_unclaimed)
{
	uint8_t data[4];

	assert_int_equal(bus_register(&bus, UINT64_MAX - 3, 4, &dev_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0, 4, &dev_ops, &b), 0);
	assert_false(bus_read(&bus, UINT64_MAX - 1, data, 4));
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);
	assert_true(bus_read(&bus, UINT64_MAX - 3, data, 2));
	assert_int_equal(a.reads, 1);
	assert_int_equal(b.reads, 0);
}

/*
 * Regression: bus_find rejects any access whose last byte is UINT64_MAX ("addr + len < addr" is true
 * when addr + len == 2^64), although bus_register accepts a range ending there.
 */
TEST(test_access_ending_at_top_of_address_space)
{
	uint8_t data[4];

	assert_int_equal(bus_register(&bus, UINT64_MAX - 3, 4, &dev_ops, &a), 0);
	assert_true(bus_read(&bus, UINT64_MAX - 3, data, 4));
	assert_true(bus_read(&bus, UINT64_MAX, data, 1));
	assert_int_equal(a.reads, 2);
}

TEST(test_zero_length_access_unclaimed)
{
	uint8_t data = 0x42;

	assert_int_equal(bus_register(&bus, 0x10, 4, &dev_ops, &a), 0);
	assert_false(bus_read(&bus, 0x10, &data, 0));
	assert_false(bus_write(&bus, 0x10, &data, 0));
	assert_int_equal(data, 0x42);
	assert_int_equal(a.reads + a.writes, 0);
}

TEST(test_unregister_unknown_base)
{
	assert_int_equal(bus_unregister(&bus, 0x100), -ENOENT);
	assert_int_equal(bus_register(&bus, 0x100, 0x10, &dev_ops, &a), 0);
	assert_int_equal(bus_unregister(&bus, 0x104), -ENOENT);   /* inside, not the base */
	assert_int_equal(bus_unregister(&bus, 0x110), -ENOENT);
	assert_int_equal(owner(0x104), &a);
	assert_int_equal(bus_unregister(&bus, 0x100), 0);
	assert_int_equal(bus_unregister(&bus, 0x100), -ENOENT);
	assert_int_equal(bus_register(&bus, 0x104, 4, &dev_ops, &b), 0);   /* room again */
}

TEST(test_many_ranges_random_order)
{
	enum { N = 300 };
	static struct dev devs[N];
	unsigned order[N], i, j;
	uint32_t seed = 12345;
	uint8_t v;

	for (i = 0; i < N; i++)
		order[i] = i;
	for (i = N - 1; i > 0; i--) {              /* Fisher-Yates with a fixed LCG */
		unsigned t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 16) % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < N; i++) {
		devs[order[i]] = (struct dev){ .tag = (uint8_t)order[i] };
		assert_int_equal(bus_register(&bus, order[i] * 0x10ULL, 4, &dev_ops,
					      &devs[order[i]]), 0);
	}
	assert_int_equal(bus.ranges.nr, N);
	for (i = 0; i < N; i++) {
		for (j = 0; j < 4; j++) {
			assert_true(bus_read(&bus, i * 0x10ULL + j, &v, 1));
			if (devs[i].last_offset != j || v != (uint8_t)(i + j))
				fail_msg("range %u offset %u dispatched wrongly", i, j);
		}
		assert_false(bus_read(&bus, i * 0x10ULL + 4, &v, 1));  /* gap after each */
	}
	for (i = 0; i < N; i += 2)
		assert_int_equal(bus_unregister(&bus, i * 0x10ULL), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(bus_read(&bus, i * 0x10ULL + 1, &v, 1), i % 2 == 1);
}

TEST(test_unclaimed_counter)
{
	uint8_t v[2];
	unsigned i;

	assert_int_equal(bus.unclaimed_accesses, 0);
	assert_int_equal(bus_register(&bus, 0x80, 1, &dev_ops, &a), 0);
	assert_true(bus_read(&bus, 0x80, v, 1));
	assert_int_equal(bus.unclaimed_accesses, 0);
	assert_false(bus_read(&bus, 0x81, v, 1));
	assert_false(bus_write(&bus, 0x81, v, 1));
	assert_false(bus_read(&bus, 0x80, v, 2));
	assert_int_equal(bus.unclaimed_accesses, 3);
	for (i = 0; i < 2 * BUS_UNCLAIMED_LOGGED; i++)           /* more addresses than logged */
		bus_read(&bus, 0x1000 + i, v, 1);
	assert_int_equal(bus.unclaimed_accesses, 3 + 2 * BUS_UNCLAIMED_LOGGED);
	assert_int_equal(bus.nr_unclaimed_seen, BUS_UNCLAIMED_LOGGED);
}

TEST(test_null_ops_read_all_ones)
{
	uint8_t data[4] = { 0 };

	assert_int_equal(bus_register(&bus, 0x92, 4, &null_ops, NULL), 0);
	assert_true(bus_read(&bus, 0x92, data, 4));               /* claimed, but all-ones */
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);
	assert_true(bus_write(&bus, 0x93, data, 1));
	assert_int_equal(bus.unclaimed_accesses, 0);
}

TEST(test_reinit_after_destroy)
{
	bus_destroy(&bus);
	assert_int_equal(bus_init(&bus, "again"), 0);
	assert_int_equal(bus.ranges.nr, 0);
	assert_int_equal(bus_register(&bus, 0, 1, &dev_ops, &a), 0);
	assert_int_equal(owner(0), &a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_register_read_write_unregister),
		T(test_overlap_rejected),
		T(test_overlap_across_several_ranges),
		T(test_adjacent_ranges_allowed),
		T(test_empty_and_wrapping_ranges_invalid),
		T(test_straddling_access_unclaimed),
		T(test_access_wrapping_address_space_unclaimed),
		T(test_access_ending_at_top_of_address_space),
		T(test_zero_length_access_unclaimed),
		T(test_unregister_unknown_base),
		T(test_many_ranges_random_order),
		T(test_unclaimed_counter),
		T(test_null_ops_read_all_ones),
		T(test_reinit_after_destroy),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
