// SPDX-License-Identifier: Apache-2.0
/*
 * vmm/ged.c: the Generic Event Device's event register and interrupt, seen the way the guest
 * (through the MMIO bus) and KVM (through the irqfd's eventfd) see them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "base/bus.h"
#include "platform/platform.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

static struct ged *ged;
static struct bus mmio;
static int irq = -1;

static int setup(void **state)
{
	(void)state;
	irq = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ged = ged_create(irq);
	if (irq < 0 || !ged || bus_init(&mmio, "mmio"))
		return -1;
	return bus_register(&mmio, LAYOUT_GED_START, GED_REG_SIZE, &ged_bus_ops, ged);
}

static int teardown(void **state)
{
	(void)state;
	bus_destroy(&mmio);
	ged_destroy(ged);
	close(irq);
	irq = -1;
	return 0;
}

/* Interrupt edges since the last call: what KVM would have injected (the eventfd counter). */
static uint64_t edges(void)
{
	uint64_t n = 0;

	if (read(irq, &n, sizeof(n)) != sizeof(n))
		assert_int_equal(errno, EAGAIN);
	return n;
}

/* A guest load of @len bytes at GED + @off, the buffer pre-filled like the vCPU loop does. */
static uint32_t guest_read(uint64_t off, unsigned len)
{
	uint32_t v = 0xffffffffu;

	assert_true(bus_read(&mmio, LAYOUT_GED_START + off, (uint8_t *)&v, len));
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

TEST(quiet_until_notified)
{
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), 0);
	assert_int_equal(edges(), 0);
	assert_int_equal(ged_pending(ged), 0);
}

TEST(power_button_latches_and_pulses)
{
	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(edges(), 1);
	assert_int_equal(ged_pending(ged), GED_EVENT_POWER_BUTTON);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), 1u << 3);
	/* read-to-clear: the second read of the same event finds nothing */
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), 0);
	assert_int_equal(ged_pending(ged), 0);
	assert_int_equal(edges(), 0);
}

/* Two presses before the guest looks: one bit to read, but an edge for each press. */
TEST(presses_before_the_read_merge)
{
	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(edges(), 2);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), GED_EVENT_POWER_BUTTON);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), 0);
}

/* A press after the guest's read is a new event with its own edge. */
TEST(press_after_read_is_seen_again)
{
	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), GED_EVENT_POWER_BUTTON);
	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(edges(), 2);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), GED_EVENT_POWER_BUTTON);
}

TEST(unknown_events_are_refused)
{
	assert_int_equal(ged_notify(ged, 0), -EINVAL);
	assert_int_equal(ged_notify(ged, 1u << 2), -EINVAL);   /* memory hotplug: none */
	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON | 1u << 31), -EINVAL);
	assert_int_equal(edges(), 0);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), 0);
}

/* Byte, word and misaligned reads read 0 and leave the event for the real read; writes do nothing. */
TEST(odd_accesses_neither_read_nor_clear)
{
	uint8_t junk[4] = { 0xff, 0xff, 0xff, 0xff };

	assert_int_equal(ged_notify(ged, GED_EVENT_POWER_BUTTON), 0);
	assert_int_equal(guest_read(0, 1), 0);
	assert_int_equal(guest_read(0, 2), 0);
	assert_int_equal(guest_read(1, 1), 0);
	assert_int_equal(guest_read(2, 2), 0);
	assert_true(bus_write(&mmio, LAYOUT_GED_START, junk, 4));
	assert_true(bus_write(&mmio, LAYOUT_GED_START + 3, junk, 1));
	assert_int_equal(ged_bad_accesses(ged), 6);
	assert_int_equal(ged_pending(ged), GED_EVENT_POWER_BUTTON);
	assert_int_equal(guest_read(GED_REG_EVENTS, 4), GED_EVENT_POWER_BUTTON);
	/* an access that straddles the end of the block is not the GED's */
	assert_false(bus_read(&mmio, LAYOUT_GED_START + 2, junk, 4));
}

/* If the interrupt cannot be raised the caller hears why; the event stays latched. */
TEST(irq_failure_is_reported)
{
	struct ged *broken = ged_create(-1);

	assert_non_null(broken);
	assert_int_equal(ged_notify(broken, GED_EVENT_POWER_BUTTON), -EBADF);
	assert_int_equal(ged_pending(broken), GED_EVENT_POWER_BUTTON);
	ged_destroy(broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(quiet_until_notified, setup, teardown),
		cmocka_unit_test_setup_teardown(power_button_latches_and_pulses, setup, teardown),
		cmocka_unit_test_setup_teardown(presses_before_the_read_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(press_after_read_is_seen_again, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_events_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(odd_accesses_neither_read_nor_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(irq_failure_is_reported, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
