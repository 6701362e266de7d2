// SPDX-License-Identifier: Apache-2.0
/* virtio-pci transport state: JSON round trip and restore validation of untrusted input. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86_64/arch.h"
#include "vtest.h"

#define NQ   2
#define QMAX 64
#define MEM  (16ULL << 20)
#define V1   VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define EIDX VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX)

struct fx {
	struct guest_mem mem;
	struct virtio_dev dev_a, dev_b;
	struct virtio_pci a, b;
	unsigned activates[2];
	struct drv_ring r[NQ];
};

static int dev_activate(struct virtio_dev *vd)
{
	(*(unsigned *)vd->opaque)++;
	return 0;
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.activate = dev_activate,
};

static const struct virtio_dev_params fake_params = {
	.type = VIRTIO_ID_CONSOLE, .nr_queues = NQ, .max_queue_size = QMAX,
	.features = VIRTIO_BIT(2),
};

static void make(struct fx *f, struct virtio_dev *dev, struct virtio_pci *vp, unsigned *count)
{
	struct virtio_pci_args a = { .id = "snap", .dev = dev };

	assert_int_equal(virtio_dev_init(dev, &fake_params, &fake_ops, count, &f->mem), 0);
	assert_int_equal(virtio_pci_init(vp, &a), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(arch_guest_mem_init(&f->mem, MEM), 0);
	make(f, &f->dev_a, &f->a, &f->activates[0]);
	make(f, &f->dev_b, &f->b, &f->activates[1]);
	drv_init(&f->r[0], &f->mem, 16, 0x10000);
	drv_init(&f->r[1], &f->mem, 32, 0x20000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_pci_destroy(&f->a);
	virtio_pci_destroy(&f->b);
	virtio_dev_fini(&f->dev_a);
	virtio_dev_fini(&f->dev_b);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* Device A: negotiated, both queues live, a few chains through queue 1, vectors set. */
static void run_a(struct fx *f)
{
	struct virtio_pci *vp = &f->a;
	struct virtq_chain c;
	int i;

	drv_status(vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	drv_features(vp, V1 | EIDX | VIRTIO_BIT(2));
	drv_status(vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK);
	drv_queue(vp, 0, &f->r[0]);
	bar_wr(vp, COMMON(Q_MSIX), 2, 1);
	drv_queue(vp, 1, &f->r[1]);
	bar_wr(vp, COMMON(Q_MSIX), 2, 2);
	bar_wr(vp, COMMON(MSIX), 2, 0);
	drv_status(vp, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(f->activates[0], 1);
	assert_int_equal(virtq_chain_init(&c, virtq_chain_max(QMAX)), 0);
	for (i = 0; i < 3; i++) {
		drv_desc(&f->r[1], (uint16_t)i, 0x100000, 8, VRING_DESC_F_WRITE, 0);
		drv_publish(&f->r[1], (uint16_t)i);
		assert_int_equal(virtio_dev_pop(vp->dev, 1, &c), 1);
	}
	assert_int_equal(virtio_dev_push(vp->dev, 1, 0, 8), 0);
	assert_int_equal(virtio_dev_push(vp->dev, 1, 1, 8), 0);
	virtio_dev_notify(vp->dev, 1);
	virtq_chain_free(&c);
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	cJSON *json;
	char *text;
	const struct virtq *vq;

	run_a(f);
	json = virtio_pci_save(&f->a);
	assert_non_null(json);
	text = cJSON_PrintUnformatted(json);
	/* u64 values are strings, never doubles. */
	assert_non_null(strstr(text, "\"driver_features\":\"0x"));
	assert_non_null(strstr(text, "\"desc\":\"0x20000\""));
	free(text);
	assert_int_equal(virtio_pci_restore(&f->b, json, NULL, 0), 0);
	cJSON_Delete(json);

	assert_int_equal(f->activates[1], 1);                 /* was active: active again */
	assert_int_equal(drv_get_status(&f->b), drv_get_status(&f->a));
	bar_wr(&f->b, COMMON(GFSELECT), 4, 1);
	assert_int_equal(bar_rd(&f->b, COMMON(GF), 4), 1);    /* VERSION_1 */
	assert_int_equal(f->b.dev->features, V1 | EIDX | VIRTIO_BIT(2));
	assert_int_equal(bar_rd(&f->b, COMMON(MSIX), 2), 0);
	bar_wr(&f->b, COMMON(Q_SELECT), 2, 1);
	assert_int_equal(bar_rd(&f->b, COMMON(Q_SIZE), 2), 32);
	assert_int_equal(bar_rd(&f->b, COMMON(Q_MSIX), 2), 2);
	assert_int_equal(bar_rd(&f->b, COMMON(Q_ENABLE), 2), 1);
	assert_int_equal(bar_rd(&f->b, COMMON(Q_USEDLO), 8), f->r[1].used);
	vq = &f->b.dev->vqs[1];
	assert_true(vq->ready);
	assert_true(vq->event_idx);
	assert_int_equal(vq->next_avail, 3);
	assert_int_equal(vq->next_used, 2);
	assert_int_equal(vq->signalled_used, f->a.dev->vqs[1].signalled_used);
	assert_true(vq->signalled_valid);
	/* The restored queue carries on where A stopped. */
	assert_int_equal(virtio_dev_push(f->b.dev, 1, 2, 8), 0);
	assert_int_equal(drv_used_idx(&f->r[1]), 3);
}

/*
 * Saves A, applies @mutate to the JSON, expects B to refuse it with a message containing
 * @want (the field and the problem) and stay untouched.
 */
static void expect_rejected(struct fx *f, void (*mutate)(cJSON *json), const char *want)
{
	char err[256] = "";
	cJSON *json;

	json = virtio_pci_save(&f->a);
	assert_non_null(json);
	mutate(json);
	assert_int_equal(virtio_pci_restore(&f->b, json, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("\"%s\" does not contain \"%s\"", err, want);
	cJSON_Delete(json);
	assert_int_equal(drv_get_status(&f->b), 0);
	assert_int_equal(f->activates[1], 0);
	assert_false(f->b.dev->vqs[0].ready);
}

static cJSON *queue(cJSON *json, int q)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(json, "queues"), q);
}

/* The key must exist: a mutation that silently did nothing would prove nothing. */
static void set_str(cJSON *obj, const char *key, const char *val)
{
	assert_true(cJSON_ReplaceItemInObject(obj, key, cJSON_CreateString(val)));
}

static void set_num(cJSON *obj, const char *key, double val)
{
	assert_true(cJSON_ReplaceItemInObject(obj, key, cJSON_CreateNumber(val)));
}

static void m_unoffered(cJSON *j) { set_str(j, "driver_features", "0x100000080"); }
static void m_size_pow2(cJSON *j) { set_num(queue(j, 0), "size", 24); }
static void m_size_max(cJSON *j) { set_num(queue(j, 0), "size", QMAX * 2); }
static void m_ring_ram(cJSON *j) { set_str(queue(j, 1), "device", "0xd0000000"); }
static void m_ring_align(cJSON *j) { set_str(queue(j, 1), "desc", "0x20008"); }
static void m_vector(cJSON *j) { set_num(queue(j, 1), "vector", NQ + 1); }
static void m_cfg_vector(cJSON *j) { set_num(j, "config_vector", 7); }
static void m_u64_number(cJSON *j) { set_num(queue(j, 0), "desc", 65536); }
static void m_u64_junk(cJSON *j) { set_str(queue(j, 0), "desc", "0x10000zz"); }
static void m_status_bits(cJSON *j) { set_num(j, "status", 0x4f); }
static void m_type(cJSON *j) { set_num(j, "type", VIRTIO_ID_RNG); }
static void m_queues(cJSON *j) { cJSON_DeleteItemFromArray(cJSON_GetObjectItem(j, "queues"), 1); }
static void m_index(cJSON *j) { set_num(queue(j, 1), "next_avail", 65536); }
static void m_fraction(cJSON *j) { set_num(queue(j, 1), "next_used", 1.5); }
static void m_missing(cJSON *j) { cJSON_DeleteItemFromObject(queue(j, 0), "enabled"); }
static void m_not_ready(cJSON *j) { set_num(j, "status", 0x0b); }
static void m_no_version1(cJSON *j) { set_str(j, "driver_features", "0x20000004"); }
/* Indices: used beyond avail, used->idx in RAM disagreeing, the device ahead of the driver. */
static void m_used_ahead(cJSON *j) { set_num(queue(j, 1), "next_used", 200); }
static void m_used_ram(cJSON *j) { set_num(queue(j, 1), "next_used", 1); }
static void m_avail_far(cJSON *j) { set_num(queue(j, 1), "next_avail", 34); }

static void m_version(cJSON *j) { set_num(j, "version", 2); }
static void m_active_failed(cJSON *j) { set_num(j, "status", 0x8f); }
static void m_queues_gone(cJSON *j) { cJSON_DeleteItemFromObject(j, "queues"); }
static void m_queue_not_obj(cJSON *j)
{
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(j, "queues"), 0, cJSON_CreateNumber(1));
}

static void test_restore_validation(void **state)
{
	struct fx *f = *state;
	static const struct { void (*mutate)(cJSON *); const char *want; } cases[] = {
		{ m_unoffered, "driver_features: 0x100000080 has bits 0x80 this device does not "
			       "offer" },
		{ m_size_pow2, "queues[0].size: 24 is not a power of two <= 64" },
		{ m_size_max, "queues[0].size: 128 is not a power of two <= 64" },
		{ m_ring_ram, "queues[1].device: 0xd0000000 + 0x106 bytes is outside guest RAM" },
		{ m_ring_align, "queues[1].desc: 0x20008 is not 16-byte aligned" },
		{ m_vector, "queues[1].vector: 3 is neither a vector of this device" },
		{ m_cfg_vector, "config_vector: 7 is neither a vector of this device" },
		{ m_u64_number, "queues[0].desc: expected a \"0x...\" hex string" },
		{ m_u64_junk, "queues[0].desc: expected a \"0x...\" hex string" },
		{ m_status_bits, "status: 0x4f has bits 0x40 a driver cannot set" },
		{ m_type, "type: 4, but this device is virtio type 3" },
		{ m_queues, "queues: expected an array of 2 queues, got 1" },
		{ m_queues_gone, "queues: expected an array of 2 queues, got -1" },
		{ m_queue_not_obj, "queues[0]: expected an object" },
		{ m_index, "queues[1].next_avail: 65536 is not an integer in 0..65535" },
		{ m_fraction, "queues[1].next_used: 1.5 is not an integer in 0..65535" },
		{ m_missing, "queues[0].enabled: missing" },
		{ m_not_ready, "activated: true, but status 0xb is not DRIVER_OK" },
		{ m_active_failed, "activated: true, but status 0x8f" },
		{ m_no_version1, "driver_features: 0x20000004 lacks VERSION_1" },
		{ m_version, "version: 2, only 1 is known" },
		{ m_used_ahead, "queues[1].next_used: 200 is not within 32 behind next_avail 3" },
		{ m_used_ram, "queues[1].next_used: 1, but used->idx in guest RAM is 2" },
		{ m_avail_far, "queues[1].next_avail: 34 is not within 32 behind avail->idx 3" },
	};
	unsigned i;

	run_a(f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_rejected(f, cases[i].mutate, cases[i].want);
}

/* A broken queue and DEVICE_NEEDS_RESET survive the trip. */
static void test_broken_state(void **state)
{
	struct fx *f = *state;
	struct virtq_chain c;
	cJSON *json;

	run_a(f);
	assert_int_equal(virtq_chain_init(&c, virtq_chain_max(QMAX)), 0);
	drv_set_avail_idx(&f->r[0], 1000);
	assert_true(virtio_dev_pop(f->a.dev, 0, &c) < 0);
	json = virtio_pci_save(&f->a);
	assert_int_equal(virtio_pci_restore(&f->b, json, NULL, 0), 0);
	cJSON_Delete(json);
	assert_true(drv_get_status(&f->b) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(virtio_dev_pop(f->b.dev, 0, &c), -VIRTQ_E_BROKEN);
	virtq_chain_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
