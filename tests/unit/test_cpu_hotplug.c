// SPDX-License-Identifier: Apache-2.0
/*
 * platform/cpu_hotplug.c: the CPU hotplug register block as the DSDT's methods and a hostile
 * guest use it (select, status bits, acknowledgements, eject), driven through its bus ops.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "platform/cpu_hotplug.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

static struct cpu_hotplug *hp;
static unsigned ejected[8], nr_ejected;

static void on_eject(void *ctx, unsigned cpu)
{
	assert_ptr_equal(ctx, &nr_ejected);
	if (nr_ejected < 8)
		ejected[nr_ejected] = cpu;
	nr_ejected++;
}

static int setup(void **state)
{
	(void)state;
	nr_ejected = 0;
	hp = cpu_hotplug_create(4, on_eject, &nr_ejected);
	assert_non_null(hp);
	cpu_hotplug_set_present(hp, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cpu_hotplug_destroy(hp);
	return 0;
}

static void select_cpu(uint32_t cpu)
{
	cpu_hotplug_bus_ops.write(hp, CPUHP_REG_SELECT, (const uint8_t *)&cpu, 4);
}

static uint8_t status(uint32_t cpu)
{
	uint8_t v = 0xff;

	select_cpu(cpu);
	cpu_hotplug_bus_ops.read(hp, CPUHP_REG_STATUS, &v, 1);
	return v;
}

static void write_status(uint32_t cpu, uint8_t v)
{
	select_cpu(cpu);
	cpu_hotplug_bus_ops.write(hp, CPUHP_REG_STATUS, &v, 1);
}

TEST(boot_cpus_present_rest_absent)
{
	uint32_t sel = 0;

	assert_int_equal(status(0), CPUHP_ENABLED);
	assert_int_equal(status(1), 0);
	assert_int_equal(status(3), 0);
	select_cpu(2);
	cpu_hotplug_bus_ops.read(hp, CPUHP_REG_SELECT, (uint8_t *)&sel, 4);
	assert_int_equal(sel, 2);                      /* the selection reads back */
	assert_int_equal(cpu_hotplug_nr_present(hp), 1);
	assert_int_equal(cpu_hotplug_bad_accesses(hp), 0);
}

/* Grow: inserting until acknowledged (CSCN writes the bit back), then plainly enabled. */
TEST(insert_then_acknowledge)
{
	assert_true(cpu_hotplug_resize(hp, 3));
	assert_int_equal(status(1), CPUHP_ENABLED | CPUHP_INSERTING);
	assert_int_equal(status(2), CPUHP_ENABLED | CPUHP_INSERTING);
	assert_int_equal(status(3), 0);
	write_status(1, CPUHP_INSERTING);
	assert_int_equal(status(1), CPUHP_ENABLED);
	assert_int_equal(status(2), CPUHP_ENABLED | CPUHP_INSERTING);
	assert_int_equal(cpu_hotplug_nr_present(hp), 3);
	assert_false(cpu_hotplug_resize(hp, 3));       /* nothing new to tell the guest */
}

/* Shrink: removing until acknowledged; present until the guest ejects; then gone. */
TEST(remove_then_eject)
{
	cpu_hotplug_resize(hp, 2);
	write_status(1, CPUHP_INSERTING);
	assert_true(cpu_hotplug_resize(hp, 1));
	assert_int_equal(status(1), CPUHP_ENABLED | CPUHP_REMOVING);
	write_status(1, CPUHP_REMOVING);
	assert_int_equal(status(1), CPUHP_ENABLED);
	assert_true(cpu_hotplug_present(hp, 1));
	write_status(1, CPUHP_EJECT);
	assert_int_equal(nr_ejected, 1);
	assert_int_equal(ejected[0], 1);
	assert_int_equal(status(1), 0);
	assert_false(cpu_hotplug_present(hp, 1));
	assert_true(cpu_hotplug_resize(hp, 2));        /* and it can come back */
	assert_int_equal(status(1), CPUHP_ENABLED | CPUHP_INSERTING);
	assert_int_equal(cpu_hotplug_bad_accesses(hp), 0);
}

/* A resize back up before the eject cancels the removal: the eject is then refused. */
TEST(cancelled_removal)
{
	cpu_hotplug_resize(hp, 2);
	cpu_hotplug_resize(hp, 1);
	assert_false(cpu_hotplug_resize(hp, 2));
	assert_int_equal(status(1) & CPUHP_REMOVING, 0);
	write_status(1, CPUHP_EJECT);
	assert_int_equal(nr_ejected, 0);
	assert_true(cpu_hotplug_present(hp, 1));
	assert_int_equal(cpu_hotplug_bad_accesses(hp), 1);
}

/* Hostile writes: eject of CPUs never asked to go, of absent ones, repeated ejects, selections
 * past the end, odd sizes and offsets: counted, ignored, no callback. */
TEST(hostile_writes_ignored)
{
	uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, v;
	uint64_t bad;

	write_status(0, CPUHP_EJECT);                  /* the boot CPU */
	write_status(2, CPUHP_EJECT);                  /* absent */
	write_status(1000, CPUHP_EJECT);               /* past the end */
	assert_int_equal(status(1000), 0);
	write_status(0, 0xf0);                         /* undefined bits */
	cpu_hotplug_bus_ops.write(hp, CPUHP_REG_STATUS, junk, 4);
	cpu_hotplug_bus_ops.write(hp, 5, junk, 1);
	cpu_hotplug_bus_ops.write(hp, CPUHP_REG_SELECT, junk, 8);
	v = 0x5a;
	cpu_hotplug_bus_ops.read(hp, 6, &v, 1);
	assert_int_equal(v, 0);
	assert_int_equal(nr_ejected, 0);
	assert_true(cpu_hotplug_present(hp, 0));
	bad = cpu_hotplug_bad_accesses(hp);
	assert_int_equal(bad, 8);
	/* an eject after a real one is refused too */
	cpu_hotplug_resize(hp, 2);
	cpu_hotplug_resize(hp, 1);
	write_status(1, CPUHP_EJECT);
	write_status(1, CPUHP_EJECT);
	assert_int_equal(nr_ejected, 1);
	assert_int_equal(cpu_hotplug_bad_accesses(hp), bad + 1);
}

/* Snapshots: an insertion the guest has not seen survives a save and a set; bad state is
 * refused whole. */
TEST(state_round_trip_and_refusals)
{
	uint8_t st[4], bad[4];
	uint32_t sel;

	cpu_hotplug_resize(hp, 2);                     /* CPU 1 inserting */
	select_cpu(3);
	cpu_hotplug_get_state(hp, st, &sel);
	assert_int_equal(st[0], CPUHP_ENABLED);
	assert_int_equal(st[1], CPUHP_ENABLED | CPUHP_INSERTING);
	assert_int_equal(st[2], 0);
	assert_int_equal(sel, 3);
	cpu_hotplug_set_present(hp, 2);                /* what a restore starts from */
	assert_int_equal(cpu_hotplug_set_state(hp, st, 4, sel), 0);
	assert_int_equal(status(1), CPUHP_ENABLED | CPUHP_INSERTING);
	const uint8_t wrong[][4] = {
		{ CPUHP_ENABLED, CPUHP_INSERTING },                     /* pending on an absent CPU */
		{ CPUHP_ENABLED, CPUHP_ENABLED | CPUHP_REMOVING },       /* removing, never asked */
		{ CPUHP_ENABLED, CPUHP_ENABLED | CPUHP_INSERTING | CPUHP_ASKED },
		{ CPUHP_ENABLED | CPUHP_EJECT },                        /* not a state */
		{ 0x80 },
	};
	for (unsigned i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		memcpy(bad, wrong[i], 4);
		assert_int_equal(cpu_hotplug_set_state(hp, bad, 4, 0), -EINVAL);
	}
	assert_int_equal(cpu_hotplug_set_state(hp, st, 3, 0), -EINVAL);   /* count */
	assert_int_equal(status(1), CPUHP_ENABLED | CPUHP_INSERTING);    /* unchanged */
	cpu_hotplug_resize(hp, 1);                     /* asked to go: saved and taken back */
	cpu_hotplug_get_state(hp, st, &sel);
	assert_int_equal(st[1], CPUHP_ENABLED | CPUHP_REMOVING | CPUHP_ASKED);
	cpu_hotplug_set_present(hp, 2);
	assert_int_equal(cpu_hotplug_set_state(hp, st, 4, sel), 0);
	write_status(1, CPUHP_EJECT);
	assert_int_equal(nr_ejected, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(boot_cpus_present_rest_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(insert_then_acknowledge, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_then_eject, setup, teardown),
		cmocka_unit_test_setup_teardown(cancelled_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_writes_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(state_round_trip_and_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
