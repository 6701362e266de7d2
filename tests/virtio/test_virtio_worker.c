// SPDX-License-Identifier: Apache-2.0
/*
 * The device worker (virtio/worker.c) on its own: a fake three-queue device whose
 * queue_notify counts calls per queue, behind a fake transport that hands out eventfds as
 * kick fds. Checks the served queue range, the poll after a pause, a device's own loop, and
 * that a loop which dies leaves nobody waiting for it.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/device.h"

#define NQ 3

struct fake {
	struct virtio_dev vd;
	struct virtio_worker w;
	int kick[NQ];
	unsigned notified[NQ];            /* atomic */
	pthread_t loop_thread;
	int loop_ran;                     /* atomic */
};

static int fake_kick_fd(void *ctx, unsigned q)
{
	return ((struct fake *)ctx)->kick[q];
}

static const struct virtio_transport_ops fake_transport = { .kick_fd = fake_kick_fd };

static void fake_notify(struct virtio_dev *vd, unsigned q)
{
	struct fake *f = vd->opaque;

	__atomic_add_fetch(&f->notified[q], 1, __ATOMIC_SEQ_CST);
}

static const struct virtio_device_ops fake_ops = { .name = "fake", .queue_notify = fake_notify };

static unsigned count(struct fake *f, unsigned q)
{
	return __atomic_load_n(&f->notified[q], __ATOMIC_SEQ_CST);
}

/* Polls the observable count, bounded: 5 s is far beyond any wake-up. */
static bool wait_count(struct fake *f, unsigned q, unsigned want)
{
	struct timespec ms = { 0, 1000000 };

	for (unsigned i = 0; i < 5000; i++) {
		if (count(f, q) >= want)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

static void kick(struct fake *f, unsigned q)
{
	uint64_t one = 1;

	assert_int_equal(write(f->kick[q], &one, sizeof(one)), sizeof(one));
}

static int setup(void **state)
{
	static struct fake f;
	unsigned q;

	memset(&f, 0, sizeof(f));
	f.vd.ops = &fake_ops;
	f.vd.opaque = &f;
	f.vd.nr_queues = NQ;
	f.vd.transport = &fake_transport;
	f.vd.transport_ctx = &f;
	for (q = 0; q < NQ; q++) {
		f.kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(f.kick[q] >= 0);
	}
	assert_int_equal(virtio_worker_init(&f.w), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	virtio_worker_destroy(&f->w);
	for (unsigned q = 0; q < NQ; q++)
		close(f->kick[q]);
	return 0;
}

/* serve(1, 1): queue 1's kicks reach the device, queues 0 and 2 are not even polled. */
static void test_served_range(void **state)
{
	struct fake *f = *state;

	assert_int_equal(virtio_worker_serve(&f->w, 1, 1), 0);
	assert_int_equal(virtio_worker_start(&f->w, &f->vd), 0);
	assert_true(wait_count(f, 1, 1));         /* the poll on start */
	kick(f, 0);
	kick(f, 2);
	kick(f, 1);
	assert_true(wait_count(f, 1, 2));
	virtio_worker_stop(&f->w);
	assert_int_equal(count(f, 0), 0);
	assert_int_equal(count(f, 2), 0);
	assert_int_equal(count(f, 1), 2);
}

/* Without serve: every queue. A range past the device's queues is refused. */
static void test_all_queues_and_bad_range(void **state)
{
	struct fake *f = *state;

	assert_int_equal(virtio_worker_start(&f->w, &f->vd), 0);
	for (unsigned q = 0; q < NQ; q++)
		assert_true(wait_count(f, q, 1));
	virtio_worker_stop(&f->w);
	assert_int_equal(virtio_worker_serve(&f->w, 2, 2), 0);
	assert_int_equal(virtio_worker_start(&f->w, &f->vd), -EINVAL);
	assert_false(f->w.running);
}

/* A callback may stop early for a pause: after resume the worker looks at its queues again. */
static void test_poll_after_resume(void **state)
{
	struct fake *f = *state;
	unsigned before;

	assert_int_equal(virtio_worker_serve(&f->w, 0, 1), 0);
	assert_int_equal(virtio_worker_start(&f->w, &f->vd), 0);
	assert_true(wait_count(f, 0, 1));
	assert_int_equal(virtio_worker_pause(&f->w), 0);
	before = count(f, 0);
	virtio_worker_resume(&f->w);
	assert_true(wait_count(f, 0, before + 1));
	virtio_worker_stop(&f->w);
}

/* A device's own loop: runs on the worker's thread, stops through the control fd. */
static void own_loop(struct virtio_worker *w, void *opaque)
{
	struct fake *f = opaque;
	struct pollfd p = { w->ctl.fd, POLLIN, 0 };

	f->loop_thread = pthread_self();
	__atomic_store_n(&f->loop_ran, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return;
		if (p.revents && virtio_ctl_handle(&w->ctl))
			return;
	}
}

static void test_own_loop(void **state)
{
	struct fake *f = *state;

	assert_int_equal(virtio_worker_set_loop(&f->w, own_loop, f), 0);
	assert_int_equal(virtio_worker_start(&f->w, &f->vd), 0);
	assert_int_equal(virtio_worker_set_loop(&f->w, own_loop, f), -EBUSY);
	assert_int_equal(virtio_worker_pause(&f->w), 0);     /* parks inside the loop */
	assert_int_equal(__atomic_load_n(&f->loop_ran, __ATOMIC_SEQ_CST), 1);
	assert_true(pthread_equal(f->loop_thread, f->w.thread));
	virtio_worker_resume(&f->w);
	kick(f, 0);                               /* the loop owns the kicks: no queue_notify */
	virtio_worker_stop(&f->w);
	assert_false(f->w.running);
	for (unsigned q = 0; q < NQ; q++)
		assert_int_equal(count(f, q), 0);
}

/* A loop that gives up on its own: a later pause must not wait for it forever. */
static void dead_loop(struct virtio_worker *w, void *opaque)
{
	(void)w;
	__atomic_store_n(&((struct fake *)opaque)->loop_ran, 1, __ATOMIC_SEQ_CST);
}

static void test_dead_loop(void **state)
{
	struct fake *f = *state;

	assert_int_equal(virtio_worker_set_loop(&f->w, dead_loop, f), 0);
	assert_int_equal(virtio_worker_start(&f->w, &f->vd), 0);
	/* Returns whether the loop died before or after the request: it marked itself gone. */
	assert_int_equal(virtio_worker_pause(&f->w), 0);
	assert_true(virtio_ctl_stopping(&f->w.ctl));
	assert_int_equal(__atomic_load_n(&f->loop_ran, __ATOMIC_SEQ_CST), 1);
	virtio_worker_stop(&f->w);                /* joins the finished thread */
	assert_false(f->w.running);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_served_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_queues_and_bad_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_after_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_loop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
