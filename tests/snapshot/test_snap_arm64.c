// SPDX-License-Identifier: Apache-2.0
/*
 * The aarch64 snapshot pieces that need no KVM (built for arm64 only; CI runs it under
 * qemu-aarch64): the vCPU and vGIC sections' JSON round trips and rejections, and state.json
 * of an x86 VM refused on arm64 (test_snap_state.c checks the other way round on x86).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "arch/arch.h"
#include "snapshot/snapshot.h"
#include "tests/snapshot/snap_test.h"

#define CORE_PC   (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | 0x40)
#define CORE_FPSR (KVM_REG_ARM64 | KVM_REG_SIZE_U32 | KVM_REG_ARM_CORE | 0xd4)
#define CORE_V0   (KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE | 0x54)

static char err[256];

static void test_vcpu_round_trip(void **state)
{
	struct snap_reg regs[] = {
		{ CORE_PC, { 0xffff800008000000ULL, 0 } },
		{ CORE_FPSR, { 0x8000001fULL, 0 } },
		{ CORE_V0, { 0x0123456789abcdefULL, 0xfedcba9876543210ULL } },
	};
	struct snap_vcpu v = { .id = 1, .mp_state = { KVM_MP_STATE_STOPPED }, .nr_regs = 3,
			       .regs = regs }, back;
	cJSON *j = snap_vcpu_to_json(&v);
	char *text;

	(void)state;
	assert_non_null(j);
	text = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(text, "\"0x6030000000100040\":\"0xffff800008000000\""));
	assert_int_equal(snap_vcpu_from_json(j, "vcpus[1]", &back, err, sizeof(err)), 0);
	assert_int_equal(back.id, 1);
	assert_int_equal(back.mp_state.mp_state, KVM_MP_STATE_STOPPED);
	assert_int_equal(back.nr_regs, 3);
	assert_memory_equal(back.regs, regs, sizeof(regs));   /* the list's order kept */
	snap_vcpu_free(&back);
	cJSON_free(text);
	cJSON_Delete(j);
}

static const struct { const char *json, *error; } rejects[] = {
	{ "[]", "vcpus[0]: expected an object" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x6030000000100040\":\"0x1\"},\"x\":1}",
	  "x: unknown key" },
	{ "{\"id\":0,\"mp_state\":11,\"regs\":{}}", "mp_state: expected an integer from 0 to 10" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{}}", "regs: 0 registers, expected 1 to 4096" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"pc\":\"0x1\"}}",
	  "vcpus[0].regs: \"pc\": not a \"0x...\" register id" },
	/* an x86 MSR-style index, not KVM_REG_ARM64 */
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x10\":\"0x1\"}}",
	  "regs.0x10: not an arm64 register id" },
	/* an SVE Z register (2048 bits) */
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x6080000000150000\":\"0x1\"}}",
	  "regs.0x6080000000150000: 256 bytes: wider than 128 bits" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x60200000001000d4\":\"0x100000000\"}}",
	  "regs.0x60200000001000d4: 0x100000000 is wider than the register's 4 bytes" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x6030000000100040\":\"0x1\","
	  "\"0x6030000000100040\":\"0x2\"}}", "regs.0x6030000000100040: duplicate register" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x6040000000100054\":\"0x1\"}}",
	  "regs.0x6040000000100054" },
	{ "{\"id\":0,\"mp_state\":0,\"regs\":{\"0x6030000000100040\":1}}",
	  "regs.0x6030000000100040" },
};

static void test_vcpu_rejects(void **state)
{
	struct snap_vcpu v;

	(void)state;
	for (unsigned i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		cJSON *j = cJSON_Parse(rejects[i].json);

		assert_non_null(j);
		err[0] = '\0';
		assert_int_equal(snap_vcpu_from_json(j, "vcpus[0]", &v, err, sizeof(err)), -EINVAL);
		if (!strstr(err, rejects[i].error))
			fail_msg("case %u: got \"%s\"", i, err);
		assert_null(v.regs);
		cJSON_Delete(j);
	}
}

/* An x86 VM's state.json (checksum right) is refused here before any section is read. */
static void test_x86_snapshot_refused(void **state)
{
	static const char text[] = "{\"format\":\"vireo-snapshot\",\"version\":1,\"arch\":\"x86_64\","
		"\"vm\":{},\"vcpus\":[{\"id\":0}],\"memory\":{},\"allocators\":{},\"devices\":{}}";
	char *dir = snap_test_mkdtemp(), sum[64];
	cJSON *back = NULL;
	int fd;

	(void)state;
	assert_non_null(dir);
	snprintf(sum, sizeof(sum), "crc32c 0x%08x size %zu\n",
		 snap_crc32c(0, text, strlen(text)), strlen(text));
	assert_int_equal(snap_test_write_file(dir, SNAP_STATE_FILE, text, strlen(text)), 0);
	assert_int_equal(snap_test_write_file(dir, SNAP_CHECKSUM_FILE, sum, strlen(sum)), 0);
	fd = snap_dir_open(dir, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(snap_state_read(fd, &back, err, sizeof(err)), -EINVAL);
	assert_null(back);
	assert_non_null(strstr(err, "state.json: arch: a snapshot of an \"x86_64\" VM; this vireo "
			       "restores aarch64 VMs only"));
	close(fd);
	snap_test_rmdir(dir);
}

/* A 2-vCPU GIC + ITS layout with every value distinct, through JSON and back. */
static void test_gic_round_trip(void **state)
{
	struct arch_gic_state s, back;
	cJSON *j;

	(void)state;
	assert_int_equal(arch_gic_state_layout(2, true, &s), 0);
	for (unsigned i = 0; i < s.nr; i++)
		s.regs[i].val = s.regs[i].group == UINT32_MAX ? 0 : i;
	j = snap_gic_to_json(&s);
	assert_non_null(j);
	assert_int_equal(snap_gic_from_json(j, 2, true, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nr, s.nr);
	assert_memory_equal(back.regs, s.regs, s.nr * sizeof(s.regs[0]));
	arch_gic_state_free(&back);
	/* The same file for a VM without an ITS, or with another vCPU count: refused. */
	assert_int_equal(snap_gic_from_json(j, 2, false, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "state.json: gic: regs["));
	assert_int_equal(snap_gic_from_json(j, 3, true, &back, err, sizeof(err)), -EINVAL);
	assert_null(back.regs);
	cJSON_Delete(j);
	arch_gic_state_free(&s);
}

/* Edits of a valid state: what the check takes and what it refuses. */
static int check_edited(void (*edit)(struct arch_gic_state *s))
{
	struct arch_gic_state s;
	unsigned bad;
	int ret;

	assert_int_equal(arch_gic_state_layout(1, false, &s), 0);
	edit(&s);
	ret = arch_gic_state_check(&s, 1, false, &bad);
	arch_gic_state_free(&s);
	return ret;
}

static void drop_last_icc(struct arch_gic_state *s)   /* AP1R3 the host lacks: fine */
{
	for (unsigned i = s->nr; i-- > 0;)
		if (s->regs[i].group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS) {
			memmove(&s->regs[i], &s->regs[i + 1], (s->nr - i - 1) * sizeof(s->regs[0]));
			s->nr--;
			return;
		}
}

static void drop_first(struct arch_gic_state *s)     /* GICD_CTLR missing */
{
	memmove(&s->regs[0], &s->regs[1], (s->nr - 1) * sizeof(s->regs[0]));
	s->nr--;
}

static void drop_last(struct arch_gic_state *s)      /* a line level missing at the end */
{
	s->nr--;
}

static void swap_two(struct arch_gic_state *s)       /* out of order */
{
	struct arch_gic_reg r = s->regs[1];

	s->regs[1] = s->regs[2];
	s->regs[2] = r;
}

static void too_wide(struct arch_gic_state *s)       /* a 32-bit distributor register */
{
	s->regs[1].val = 1ULL << 32;
}

static void foreign(struct arch_gic_state *s)        /* an attr the table does not name */
{
	s->regs[1].attr = 0xfff0;
}

static void test_gic_check(void **state)
{
	(void)state;
	assert_int_equal(check_edited(drop_last_icc), 0);
	assert_int_equal(check_edited(drop_first), -EINVAL);
	assert_int_equal(check_edited(drop_last), -EINVAL);
	assert_int_equal(check_edited(swap_two), -EINVAL);
	assert_int_equal(check_edited(too_wide), -EINVAL);
	assert_int_equal(check_edited(foreign), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_round_trip),
		cmocka_unit_test(test_vcpu_rejects),
		cmocka_unit_test(test_x86_snapshot_refused),
		cmocka_unit_test(test_gic_round_trip),
		cmocka_unit_test(test_gic_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
