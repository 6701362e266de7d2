// SPDX-License-Identifier: Apache-2.0
/*
 * vCPU state through KVM ioctls: MP state first and vCPU events last on save; the reasons
 * for the restore order are in docs/snapshot.md. Optional state (XSAVE, XCRs, debug
 * registers, TSC rate) is probed with KVM_CHECK_EXTENSION: what this KVM cannot give is recorded as absent
 * and logged, and a snapshot holding state this KVM cannot take back is refused by name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "snapshot/internal.h"
#include "base/log.h"

#define XSAVE_LEGACY_SIZE 4096        /* struct kvm_xsave: KVM_GET_XSAVE without XSAVE2 */
#define TSC_KHZ_TOLERANCE_PPM 250     /* KVM's own tolerance before it needs TSC scaling */
#define APIC_LVTT 0x320
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_TIMER_TSCDEADLINE (2u << 17)
#define APIC_LVT_TIMER_MODE (3u << 17)

static int vcpu_ioctl(int fd, unsigned long req, void *arg, const char *what, uint32_t id,
		      char *err, size_t errlen)
{
	if (ioctl(fd, req, arg) < 0)
		return set_err(err, errlen, -errno, "vcpu %u: %s: %s", id, what, strerror(errno));
	return 0;
}

static int cap(int kvm_fd, long capability)
{
	int ret = ioctl(kvm_fd, KVM_CHECK_EXTENSION, capability);

	return ret < 0 ? 0 : ret;
}

/* ------------------------------------------------------------------ save */

static int save_fpu(int kvm_fd, int fd, struct snap_vcpu *v, char *err, size_t errlen)
{
	int size = cap(kvm_fd, KVM_CAP_XSAVE2);
	unsigned long req = KVM_GET_XSAVE2;

	if (size <= 0 && cap(kvm_fd, KVM_CAP_XSAVE)) {
		size = XSAVE_LEGACY_SIZE;
		req = KVM_GET_XSAVE;
	}
	if (size <= 0) {
		pr_info("snapshot: KVM has no XSAVE: saving the legacy FPU state");
		return vcpu_ioctl(fd, KVM_GET_FPU, &v->fpu, "KVM_GET_FPU", v->id, err, errlen);
	}
	if (size < (int)sizeof(struct kvm_xsave))
		size = sizeof(struct kvm_xsave);
	v->xsave = calloc(1, (size_t)size);
	if (!v->xsave)
		return set_err(err, errlen, -ENOMEM, "out of memory for XSAVE state");
	v->xsave_size = (uint32_t)size;
	return vcpu_ioctl(fd, req, v->xsave, "KVM_GET_XSAVE", v->id, err, errlen);
}

/* KVM_GET_CPUID2 grows with E2BIG: the table as set on this vCPU. */
static int get_cpuid(int fd, struct kvm_cpuid2 **out)
{
	unsigned nent;

	for (nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (!ioctl(fd, KVM_GET_CPUID2, c)) {
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

static int save_msrs(int kvm_fd, int fd, struct snap_vcpu *v, char *err, size_t errlen)
{
	uint32_t *indices;
	unsigned nr;
	int ret = snap_msr_list(kvm_fd, &indices, &nr);

	if (ret)
		return set_err(err, errlen, ret, "KVM_GET_MSR_INDEX_LIST: %s", strerror(-ret));
	ret = snap_msrs_get(fd, indices, nr, &v->msrs, &v->nr_msrs, err, errlen);
	free(indices);
	return ret;
}

static int save_optional(int kvm_fd, int fd, struct snap_vcpu *v, char *err, size_t errlen)
{
	int ret = 0, khz;

	v->has_xcrs = cap(kvm_fd, KVM_CAP_XCRS) > 0;
	v->has_debugregs = cap(kvm_fd, KVM_CAP_DEBUGREGS) > 0;
	if (v->has_xcrs)
		ret = vcpu_ioctl(fd, KVM_GET_XCRS, &v->xcrs, "KVM_GET_XCRS", v->id, err, errlen);
	if (!ret && v->has_debugregs)
		ret = vcpu_ioctl(fd, KVM_GET_DEBUGREGS, &v->debugregs, "KVM_GET_DEBUGREGS", v->id,
				 err, errlen);
	if (ret)
		return ret;
	if (!v->has_xcrs || !v->has_debugregs)
		pr_info("snapshot: KVM lacks%s%s: not saved", v->has_xcrs ? "" : " XCRS",
			v->has_debugregs ? "" : " DEBUGREGS");
	khz = cap(kvm_fd, KVM_CAP_GET_TSC_KHZ) ? ioctl(fd, KVM_GET_TSC_KHZ, 0) : -1;
	if (khz > 0)
		v->tsc_khz = (uint32_t)khz;
	else
		pr_info("snapshot: vcpu %u: KVM cannot tell the TSC rate: not saved", v->id);
	return 0;
}

int snap_vcpu_save(int kvm_fd, int fd, uint32_t id, struct snap_vcpu *v, char *err,
		   size_t errlen)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->id = id;
	/* MP state first: reading it makes KVM accept pending INIT/SIPI (apic_accept_events). */
	ret = vcpu_ioctl(fd, KVM_GET_MP_STATE, &v->mp_state, "KVM_GET_MP_STATE", id, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_GET_REGS, &v->regs, "KVM_GET_REGS", id, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_GET_SREGS, &v->sregs, "KVM_GET_SREGS", id, err, errlen);
	ret = ret ?: save_fpu(kvm_fd, fd, v, err, errlen);
	ret = ret ?: save_optional(kvm_fd, fd, v, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_GET_LAPIC, &v->lapic, "KVM_GET_LAPIC", id, err, errlen);
	if (!ret && (ret = get_cpuid(fd, &v->cpuid)))
		set_err(err, errlen, ret, "vcpu %u: KVM_GET_CPUID2: %s", id, strerror(-ret));
	ret = ret ?: save_msrs(kvm_fd, fd, v, err, errlen);
	/* Events last: the reads above may have changed pending-exception state. */
	ret = ret ?: vcpu_ioctl(fd, KVM_GET_VCPU_EVENTS, &v->events, "KVM_GET_VCPU_EVENTS", id,
				err, errlen);
	if (ret)
		snap_vcpu_free(v);
	return ret;
}

void snap_vcpu_free(struct snap_vcpu *v)
{
	free(v->xsave);
	free(v->msrs);
	free(v->cpuid);
	v->xsave = NULL;
	v->msrs = NULL;
	v->cpuid = NULL;
	v->xsave_size = 0;
	v->nr_msrs = 0;
}

/* ------------------------------------------------------------------ restore */

/* Only when the rates differ beyond KVM's tolerance: setting needs TSC scaling otherwise. */
static int restore_tsc_khz(int kvm_fd, int fd, const struct snap_vcpu *v, char *err,
			   size_t errlen)
{
	int host;
	uint64_t diff;

	if (!v->tsc_khz)
		return 0;
	host = cap(kvm_fd, KVM_CAP_GET_TSC_KHZ) ? ioctl(fd, KVM_GET_TSC_KHZ, 0) : -1;
	if (host <= 0)
		return set_err(err, errlen, -ENOTSUP,
				"vcpu %u: this KVM cannot report the TSC rate (snapshot: %u kHz)",
				v->id, v->tsc_khz);
	diff = (uint64_t)(host > (int)v->tsc_khz ? (uint32_t)host - v->tsc_khz
						  : v->tsc_khz - (uint32_t)host);
	if (diff * 1000000 <= (uint64_t)v->tsc_khz * TSC_KHZ_TOLERANCE_PPM)
		return 0;
	if (ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long)v->tsc_khz))
		return set_err(err, errlen, -errno,
				"vcpu %u: TSC rate %u kHz cannot be set on this host (%d kHz): %s",
				v->id, v->tsc_khz, host, strerror(errno));
	return 0;
}

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t fn,
						 uint32_t index)
{
	unsigned i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/*
 * Feature leaves of the snapshot must be a subset of what this host gave the same vCPU when
 * it was created from the same config (vireo patches both the same way).
 */
static int check_cpuid(int fd, const struct snap_vcpu *v, char *err, size_t errlen)
{
	static const struct { uint32_t fn, index; } leaves[] = {
		{ 1, 0 }, { 7, 0 }, { 0x80000001, 0 },
	};
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	struct kvm_cpuid2 *host;
	unsigned i, r;
	int ret = get_cpuid(fd, &host);

	if (ret)
		return set_err(err, errlen, ret, "vcpu %u: KVM_GET_CPUID2: %s", v->id,
				strerror(-ret));
	/* A leaf this vCPU was not given (an edited function number) would skip the checks. */
	for (i = 0; i < v->cpuid->nent && host->nent && !ret; i++) {
		const struct kvm_cpuid_entry2 *e = &v->cpuid->entries[i];

		if (!cpuid_find(host, e->function, e->index))
			ret = set_err(err, errlen, -ENOTSUP, "vcpu %u: CPUID leaf %#x index %u: not "
				      "one this host gives the vCPU", v->id, e->function, e->index);
	}
	for (i = 0; i < SNAP_ARRAY_SIZE(leaves) && host->nent && !ret; i++) {
		uint32_t fn = leaves[i].fn, index = leaves[i].index;
		const struct kvm_cpuid_entry2 *s = cpuid_find(v->cpuid, fn, index);
		const struct kvm_cpuid_entry2 *h = cpuid_find(host, fn, index);
		uint32_t sv[4], hv[4] = { 0 };

		if (!s)
			continue;
		memcpy(sv, &s->eax, sizeof(sv));
		if (h)
			memcpy(hv, &h->eax, sizeof(hv));
		for (r = fn == 1 ? 2 : 1; r < 4 && !ret; r++)   /* leaf 1 ebx: APIC ID */
			if (sv[r] & ~hv[r])
				ret = set_err(err, errlen, -ENOTSUP,
					       "vcpu %u: CPUID leaf %#x %s bits %#x: not here",
					       v->id, fn, regs[r], sv[r] & ~hv[r]);
	}
	if (!host->nent)
		pr_debug("snapshot: vcpu %u had no CPUID yet: feature check skipped", v->id);
	free(host);
	return ret;
}

static int restore_fpu(int kvm_fd, int fd, const struct snap_vcpu *v, char *err,
		       size_t errlen)
{
	struct kvm_xsave *buf;
	int size = cap(kvm_fd, KVM_CAP_XSAVE2);
	int ret;

	if (!v->xsave_size)
		return vcpu_ioctl(fd, KVM_SET_FPU, (void *)&v->fpu, "KVM_SET_FPU", v->id, err,
				  errlen);
	if (size <= 0)
		size = cap(kvm_fd, KVM_CAP_XSAVE) ? XSAVE_LEGACY_SIZE : 0;
	if (v->xsave_size > (uint32_t)size)
		return set_err(err, errlen, -ENOTSUP,
				"vcpu %u: XSAVE state of %u bytes, this KVM takes %d", v->id,
				v->xsave_size, size);
	/* KVM_SET_XSAVE reads the full KVM_CAP_XSAVE2 size: pad with zeros (components off). */
	buf = calloc(1, (size_t)size);
	if (!buf)
		return set_err(err, errlen, -ENOMEM, "out of memory for XSAVE state");
	memcpy(buf, v->xsave, v->xsave_size);
	ret = vcpu_ioctl(fd, KVM_SET_XSAVE, buf, "KVM_SET_XSAVE", v->id, err, errlen);
	free(buf);
	return ret;
}

static int restore_optional(int kvm_fd, int fd, const struct snap_vcpu *v, char *err,
			    size_t errlen)
{
	bool no_xcrs = v->has_xcrs && !cap(kvm_fd, KVM_CAP_XCRS);
	int ret = 0;

	if (no_xcrs || (v->has_debugregs && !cap(kvm_fd, KVM_CAP_DEBUGREGS)))
		return set_err(err, errlen, -ENOTSUP,
				"vcpu %u: the snapshot has %s, this KVM lacks them", v->id,
				no_xcrs ? "XCRs" : "debug registers");
	if (v->has_xcrs)
		ret = vcpu_ioctl(fd, KVM_SET_XCRS, (void *)&v->xcrs, "KVM_SET_XCRS", v->id, err,
				 errlen);
	if (!ret && v->has_debugregs)
		ret = vcpu_ioctl(fd, KVM_SET_DEBUGREGS, (void *)&v->debugregs,
				 "KVM_SET_DEBUGREGS", v->id, err, errlen);
	return ret;
}

/*
 * A TSC-deadline timer that reads 0 may have fired with its interrupt not yet in the IRR
 * (FC fix_zero_tsc_deadline_msr): writing the TSC value instead fires it again at once, and a
 * spurious timer interrupt is harmless where a lost one hangs the guest.
 */
static int restore_msrs(int fd, const struct snap_vcpu *v, char *err, size_t errlen)
{
	struct snap_msr *m = malloc((v->nr_msrs ? v->nr_msrs : 1) * sizeof(*m));
	uint64_t tsc = 0;
	uint32_t lvtt;
	unsigned i;
	int ret;

	if (!m)
		return set_err(err, errlen, -ENOMEM, "out of memory for MSRs");
	memcpy(m, v->msrs, v->nr_msrs * sizeof(*m));
	memcpy(&lvtt, v->lapic.regs + APIC_LVTT, sizeof(lvtt));
	for (i = 0; i < v->nr_msrs; i++)
		if (m[i].index == MSR_IA32_TSC)
			tsc = m[i].data;
	for (i = 0; i < v->nr_msrs; i++)
		if (m[i].index == MSR_IA32_TSC_DEADLINE && !m[i].data && tsc &&
		    (lvtt & (APIC_LVT_TIMER_MODE | APIC_LVT_MASKED)) == APIC_LVT_TIMER_TSCDEADLINE)
			m[i].data = tsc;
	ret = snap_msrs_set(fd, v->id, m, v->nr_msrs, err, errlen);
	free(m);
	return ret;
}

static int restore_events(int fd, const struct snap_vcpu *v, char *err, size_t errlen)
{
	struct kvm_vcpu_events ev = v->events;

	/*
	 * KVM reports sipi_vector as 0 ("never valid when reporting to user space"): a SIPI is
	 * consumed by KVM_GET_MP_STATE before the save, so never write it back.
	 */
	ev.flags &= ~KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	return vcpu_ioctl(fd, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS", v->id, err, errlen);
}

int snap_vcpu_restore(int kvm_fd, int fd, const struct snap_vcpu *v, char *err, size_t errlen)
{
	int ret;

	ret = restore_tsc_khz(kvm_fd, fd, v, err, errlen);
	ret = ret ?: check_cpuid(fd, v, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_SET_CPUID2, v->cpuid, "KVM_SET_CPUID2", v->id, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_SET_MP_STATE, (void *)&v->mp_state, "KVM_SET_MP_STATE",
				v->id, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_SET_REGS, (void *)&v->regs, "KVM_SET_REGS", v->id, err,
				errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_SET_SREGS, (void *)&v->sregs, "KVM_SET_SREGS", v->id, err,
				errlen);
	ret = ret ?: restore_fpu(kvm_fd, fd, v, err, errlen);
	ret = ret ?: restore_optional(kvm_fd, fd, v, err, errlen);
	ret = ret ?: vcpu_ioctl(fd, KVM_SET_LAPIC, (void *)&v->lapic, "KVM_SET_LAPIC", v->id, err,
				errlen);
	ret = ret ?: restore_msrs(fd, v, err, errlen);
	ret = ret ?: restore_events(fd, v, err, errlen);
	if (ret)
		return ret;
	/* Tell a kvmclock guest it was stopped (no soft-lockup splat); EINVAL: kvmclock off. */
	if (ioctl(fd, KVM_KVMCLOCK_CTRL, 0) && errno != EINVAL && errno != ENOTTY)
		return set_err(err, errlen, -errno, "vcpu %u: KVM_KVMCLOCK_CTRL: %s", v->id,
				strerror(errno));
	return 0;
}
