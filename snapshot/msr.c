// SPDX-License-Identifier: Apache-2.0
/*
 * MSRs for the snapshot: what KVM_GET_MSR_INDEX_LIST reports plus the MTRRs, which the list
 * omits (Intel SDM vol 3A 11.11: MTRRdefType, 8 variable pairs, 11 fixed-range MSRs). KVM_GET/
 * SET_MSRS stop at the first MSR they refuse and return how many they handled, so both sides
 * go in batches and resume after a refusal: on save the refused MSR is left out (and logged),
 * on restore it is an error unless the vCPU already holds the saved value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "snapshot/internal.h"
#include "base/log.h"

#define MSR_BATCH 64

static const uint32_t mtrr_msrs[] = {
	0x2ff,                                              /* MTRRdefType */
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,   /* PHYSBASE/PHYSMASK 0-7 */
	0x250, 0x258, 0x259,                                /* FIX64K_00000, FIX16K_80000/A0000 */
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,   /* FIX4K_C0000..F8000 */
};

static bool listed(const uint32_t *list, unsigned nr, uint32_t index)
{
	unsigned i;

	for (i = 0; i < nr; i++)
		if (list[i] == index)
			return true;
	return false;
}

int snap_msr_list(int kvm_fd, uint32_t **indices, unsigned *nr)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	uint32_t *out;
	unsigned i, n;

	/* The first call fails with E2BIG and says how many there are. */
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) && errno != E2BIG)
		return -errno;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	out = calloc(probe.nmsrs + SNAP_ARRAY_SIZE(mtrr_msrs), sizeof(uint32_t));
	if (!list || !out)
		goto nomem;
	list->nmsrs = probe.nmsrs;
	if (probe.nmsrs && ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list)) {
		int ret = -errno;

		free(list);
		free(out);
		return ret;
	}
	memcpy(out, list->indices, list->nmsrs * sizeof(uint32_t));
	n = list->nmsrs;
	for (i = 0; i < SNAP_ARRAY_SIZE(mtrr_msrs); i++)
		if (!listed(out, n, mtrr_msrs[i]))
			out[n++] = mtrr_msrs[i];
	free(list);
	*indices = out;
	*nr = n;
	return 0;
nomem:
	free(list);
	free(out);
	return -ENOMEM;
}

struct msr_batch {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[MSR_BATCH];
};

/* Reads @nr (<= MSR_BATCH) MSRs; returns how many KVM returned or -errno. */
static int msr_read(int vcpu_fd, const uint32_t *indices, unsigned nr, struct msr_batch *b)
{
	unsigned i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->hdr.nmsrs = nr;
	for (i = 0; i < nr; i++)
		b->e[i].index = indices[i];
	ret = ioctl(vcpu_fd, KVM_GET_MSRS, b);
	return ret < 0 ? -errno : ret;
}

int snap_msrs_get(int vcpu_fd, const uint32_t *indices, unsigned nr, struct snap_msr **out,
		  unsigned *nr_out, char *err, size_t errlen)
{
	struct snap_msr *msrs = calloc(nr ? nr : 1, sizeof(*msrs));
	char skipped[160] = "";
	struct msr_batch b;
	unsigned pos = 0, n = 0, i;
	int got;

	if (!msrs)
		return set_err(err, errlen, -ENOMEM, "out of memory for MSRs");
	while (pos < nr) {
		unsigned want = nr - pos < MSR_BATCH ? nr - pos : MSR_BATCH;

		got = msr_read(vcpu_fd, indices + pos, want, &b);
		if (got < 0) {
			free(msrs);
			return set_err(err, errlen, got, "KVM_GET_MSRS: %s", strerror(-got));
		}
		for (i = 0; i < (unsigned)got; i++)
			msrs[n++] = (struct snap_msr){ b.e[i].index, b.e[i].data };
		pos += (unsigned)got;
		if ((unsigned)got < want) {       /* indices[pos] refused: leave it out */
			size_t len = strlen(skipped);

			snprintf(skipped + len, sizeof(skipped) - len, " %#x", indices[pos]);
			pos++;
		}
	}
	if (skipped[0])
		pr_info("snapshot: KVM_GET_MSRS refuses%s on this vCPU: not saved", skipped);
	*out = msrs;
	*nr_out = n;
	return 0;
}

/* KVM refused @m: fine only if the vCPU already holds the saved value. */
static int msr_refused(int vcpu_fd, uint32_t id, const struct snap_msr *m, char *err,
		       size_t errlen)
{
	struct msr_batch b;

	if (msr_read(vcpu_fd, &m->index, 1, &b) != 1)
		return set_err(err, errlen, -EINVAL,
				"vcpu %u: this host's KVM does not know MSR %#x", id, m->index);
	if (b.e[0].data != m->data)
		return set_err(err, errlen, -EINVAL,
				"vcpu %u: KVM refused MSR %#x = %#llx (the vCPU holds %#llx)", id,
				m->index, (unsigned long long)m->data,
				(unsigned long long)b.e[0].data);
	pr_debug("snapshot: vcpu %u: MSR %#x not settable, already %#llx", id, m->index,
		 (unsigned long long)m->data);
	return 0;
}

static int msr_write(int vcpu_fd, uint32_t id, const struct snap_msr *msrs, unsigned nr,
		     char *err, size_t errlen)
{
	struct msr_batch b;
	unsigned pos = 0, i;
	int set;

	while (pos < nr) {
		unsigned want = nr - pos < MSR_BATCH ? nr - pos : MSR_BATCH;

		memset(&b, 0, sizeof(b));
		b.hdr.nmsrs = want;
		for (i = 0; i < want; i++)
			b.e[i] = (struct kvm_msr_entry){ .index = msrs[pos + i].index,
							 .data = msrs[pos + i].data };
		set = ioctl(vcpu_fd, KVM_SET_MSRS, &b);
		if (set < 0)
			return set_err(err, errlen, -errno, "vcpu %u: KVM_SET_MSRS: %s", id,
					strerror(errno));
		pos += (unsigned)set;
		if ((unsigned)set < want) {
			int ret = msr_refused(vcpu_fd, id, &msrs[pos], err, errlen);

			if (ret)
				return ret;
			pos++;
		}
	}
	return 0;
}

/*
 * IA32_TSC_DEADLINE goes in a batch of its own after everything else: KVM compares it with
 * the guest TSC to arm the LAPIC timer, so IA32_TSC must be in place first (FC DEFERRED_MSRS).
 */
int snap_msrs_set(int vcpu_fd, uint32_t id, const struct snap_msr *msrs, unsigned nr,
		  char *err, size_t errlen)
{
	struct snap_msr *early = calloc(nr ? nr : 1, sizeof(*early));
	struct snap_msr late[1];
	unsigned i, n_early = 0, n_late = 0;
	int ret;

	if (!early)
		return set_err(err, errlen, -ENOMEM, "out of memory for MSRs");
	for (i = 0; i < nr; i++) {
		if (msrs[i].index == MSR_IA32_TSC_DEADLINE && !n_late)
			late[n_late++] = msrs[i];
		else
			early[n_early++] = msrs[i];
	}
	ret = msr_write(vcpu_fd, id, early, n_early, err, errlen);
	ret = ret ?: msr_write(vcpu_fd, id, late, n_late, err, errlen);
	free(early);
	return ret;
}
