// SPDX-License-Identifier: Apache-2.0
/*
 * The aarch64 vCPU state on real KVM (suite kvm; integration/host/arm64-linux-test.sh runs it
 * in the nested arm64 host): a powered-off vCPU with marked core, FP/SIMD and system registers
 * is saved (KVM_GET_REG_LIST), passed through JSON, restored into a fresh vCPU of another VM,
 * and saved again: every register must come back equal (but the counters, which run) and the
 * vCPU must still be off. And the vGICv3 + ITS state (arch/aarch64/gic_state.c) of a 2-vCPU VM
 * with marked distributor, redistributor and CPU interface registers, restored into another
 * VM's GIC, reads back the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "snapshot/snapshot.h"

#define CORE(off, size) (KVM_REG_ARM64 | (size) | KVM_REG_ARM_CORE | (off))
#define X0        CORE(0x00, KVM_REG_SIZE_U64)
#define PC        CORE(0x40, KVM_REG_SIZE_U64)
#define V0        CORE(0x54, KVM_REG_SIZE_U128)
#define TPIDR_EL0 ARM64_SYS_REG(3, 3, 13, 0, 2)

static char err[256];
static int kvm_fd = -1;

static int vcpu_new(int *vm_fd, unsigned init_as)
{
	int fd;

	*vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	assert_true(*vm_fd >= 0);
	fd = ioctl(*vm_fd, KVM_CREATE_VCPU, 1);
	assert_true(fd >= 0);
	assert_int_equal(arch_vcpu_init(*vm_fd, fd, init_as), 0);
	return fd;
}

static void set_reg(int fd, uint64_t id, const uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)val };

	assert_int_equal(ioctl(fd, KVM_SET_ONE_REG, &r), 0);
}

static const struct snap_reg *find(const struct snap_vcpu *v, uint64_t id)
{
	for (unsigned i = 0; i < v->nr_regs; i++)
		if (v->regs[i].id == id)
			return &v->regs[i];
	return NULL;
}

static void test_vcpu_through_json(void **state)
{
	static const uint64_t x0[1] = { 0x1111222233334444ULL }, pc[1] = { 0x40080000ULL },
		tpidr[1] = { 0xdeadbeefcafef00dULL },
		v0[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
	int vm_a, vm_b, a = vcpu_new(&vm_a, 1), b = vcpu_new(&vm_b, 0);
	struct snap_vcpu saved, parsed, again;
	cJSON *j;

	(void)state;
	set_reg(a, X0, x0);
	set_reg(a, PC, pc);
	set_reg(a, V0, v0);
	set_reg(a, TPIDR_EL0, tpidr);
	assert_int_equal(snap_vcpu_save(kvm_fd, a, 1, &saved, err, sizeof(err)), 0);
	assert_int_equal(saved.mp_state.mp_state, KVM_MP_STATE_STOPPED);
	assert_true(saved.nr_regs > 100);   /* core + FP/SIMD alone are 70 */
	j = snap_vcpu_to_json(&saved);
	assert_non_null(j);
	assert_int_equal(snap_vcpu_from_json(j, "vcpus[1]", &parsed, err, sizeof(err)), 0);
	if (snap_vcpu_restore(kvm_fd, b, &parsed, err, sizeof(err)))
		fail_msg("restore: %s", err);
	assert_int_equal(snap_vcpu_save(kvm_fd, b, 1, &again, err, sizeof(err)), 0);
	assert_int_equal(again.mp_state.mp_state, KVM_MP_STATE_STOPPED);
	assert_int_equal(again.nr_regs, saved.nr_regs);
	for (unsigned i = 0; i < saved.nr_regs; i++) {
		const struct snap_reg *r = &saved.regs[i], *g = find(&again, r->id);

		assert_non_null(g);
		if (r->id == KVM_REG_ARM_TIMER_CNT || r->id == KVM_REG_ARM_PTIMER_CNT)
			continue;
		if (memcmp(r->val, g->val, sizeof(r->val)))
			fail_msg("register 0x%llx: 0x%llx saved, 0x%llx after restore",
				 (unsigned long long)r->id, (unsigned long long)r->val[0],
				 (unsigned long long)g->val[0]);
	}
	assert_memory_equal(find(&again, V0)->val, v0, sizeof(v0));
	assert_int_equal(find(&again, TPIDR_EL0)->val[0], tpidr[0]);
	assert_int_equal(find(&again, PC)->val[0], pc[0]);
	snap_vcpu_free(&saved);
	snap_vcpu_free(&parsed);
	snap_vcpu_free(&again);
	cJSON_Delete(j);
	close(a), close(b), close(vm_a), close(vm_b);
}

/* A VM with a vGICv3 + ITS and two vCPUs, as board_setup_irqchip makes them. */
static int gic_vm(struct arch_gic *gic, int vcpus[2])
{
	int vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);

	assert_true(vm >= 0);
	assert_int_equal(arch_gic_create(vm, 2, gic, err, sizeof(err)), 0);
	assert_true(gic->its_fd >= 0);
	for (unsigned i = 0; i < 2; i++) {
		vcpus[i] = ioctl(vm, KVM_CREATE_VCPU, i);
		assert_true(vcpus[i] >= 0);
		assert_int_equal(arch_vcpu_init(vm, vcpus[i], i), 0);
	}
	if (arch_gic_finalize(gic, err, sizeof(err)))
		fail_msg("%s", err);
	return vm;
}

static void gic_set(const struct arch_gic *gic, uint32_t group, uint64_t attr, uint64_t val)
{
	uint32_t v32 = (uint32_t)val;
	struct kvm_device_attr a = { .group = group, .attr = attr,
		.addr = group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS ? (uintptr_t)&val : (uintptr_t)&v32 };

	assert_int_equal(ioctl(gic->fd, KVM_SET_DEVICE_ATTR, &a), 0);
}

static uint64_t gic_find(const struct arch_gic_state *s, uint32_t group, uint64_t attr)
{
	for (unsigned i = 0; i < s->nr; i++)
		if (s->regs[i].group == group && s->regs[i].attr == attr)
			return s->regs[i].val;
	fail_msg("register %u/0x%llx not saved", group, (unsigned long long)attr);
	return 0;
}

/*
 * GITS_CBASER and GITS_BASER<n> without Valid (bit 63): KVM fills in default cacheability and
 * shareability when it is written, so a base the guest never set reads back with those.
 */
static bool its_unused_base(const struct arch_gic_reg *x, const struct arch_gic_reg *y)
{
	return x->group == KVM_DEV_ARM_VGIC_GRP_ITS_REGS &&
	       (x->attr == 0x80 || (x->attr >= 0x100 && x->attr < 0x140)) &&
	       !(x->val >> 63) && !(y->val >> 63);
}

#define DIST KVM_DEV_ARM_VGIC_GRP_DIST_REGS
#define ICC_PMR_EL1 ((3u << 14) | (4u << 7) | (6u << 3))
#define VCPU1 (1ULL << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT)

static void test_gic_round_trip(void **state)
{
	struct arch_gic a, b;
	struct arch_gic_state sa, sb;
	int vcpus_a[2], vcpus_b[2], vm_a = gic_vm(&a, vcpus_a), vm_b = gic_vm(&b, vcpus_b);
	unsigned failed = 0, mismatches = 0;
	int ret;

	(void)state;
	gic_set(&a, DIST, 0x0104, 0x5);                /* GICD_ISENABLER1: SPIs 32 and 34 */
	gic_set(&a, DIST, 0x0428, 0xa0908070);         /* GICD_IPRIORITYR10: SPIs 40-43 */
	gic_set(&a, DIST, 0x6000 + 8 * 33, 1);         /* GICD_IROUTER33: vCPU 1 */
	gic_set(&a, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, VCPU1 | ICC_PMR_EL1, 0xf0);
	assert_int_equal(arch_gic_save(&a, 2, &sa), 0);
	assert_true(sa.nr > 200);
	ret = arch_gic_restore(&b, &sa, &failed);
	if (ret)
		fail_msg("restore: register %u (%u/0x%llx): %s", failed, sa.regs[failed].group,
			 (unsigned long long)sa.regs[failed].attr, strerror(-ret));
	assert_int_equal(arch_gic_save(&b, 2, &sb), 0);
	assert_int_equal(sb.nr, sa.nr);
	for (unsigned i = 0; i < sa.nr; i++) {
		const struct arch_gic_reg *x = &sa.regs[i], *y = &sb.regs[i];

		if (x->attr == y->attr && (x->val == y->val || its_unused_base(x, y)))
			continue;
		print_error("register %u/0x%llx: 0x%llx saved, 0x%llx after restore\n", x->group,
			    (unsigned long long)x->attr, (unsigned long long)x->val,
			    (unsigned long long)y->val);
		mismatches++;
	}
	assert_int_equal(mismatches, 0);
	assert_int_equal(gic_find(&sb, DIST, 0x0104), 0x5);
	assert_int_equal(gic_find(&sb, DIST, 0x0428), 0xa0908070);
	assert_int_equal(gic_find(&sb, DIST, 0x6000 + 8 * 33), 1);
	assert_int_equal(gic_find(&sb, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, VCPU1 | ICC_PMR_EL1),
			 0xf0);
	arch_gic_state_free(&sa);
	arch_gic_state_free(&sb);
	arch_gic_destroy(&a);
	arch_gic_destroy(&b);
	for (unsigned i = 0; i < 2; i++)
		close(vcpus_a[i]), close(vcpus_b[i]);
	close(vm_a), close(vm_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_through_json),
		cmocka_unit_test(test_gic_round_trip),
	};

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return 77;   /* no arm64 KVM here: skipped */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
