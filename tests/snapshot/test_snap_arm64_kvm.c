// SPDX-License-Identifier: Apache-2.0
/*
 * The aarch64 vCPU state on real KVM (suite kvm; integration/host/arm64-linux-test.sh runs it
 * in the nested arm64 host): a powered-off vCPU with marked core, FP/SIMD and system registers
 * is saved (KVM_GET_REG_LIST), passed through JSON, restored into a fresh vCPU of another VM,
 * and saved again: every register must come back equal (but the counters, which run) and the
 * vCPU must still be off.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_through_json),
	};

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return 77;   /* no arm64 KVM here: skipped */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
