// SPDX-License-Identifier: Apache-2.0
/*
 * The in-kernel vGICv3 and ITS state for snapshots, read and written through the KVM device
 * attributes (Linux Documentation/virt/kvm/devices/arm-vgic-v3.rst, arm-vgic-its.rst): the
 * distributor's SPI registers, each vCPU's redistributor (RD and SGI frames) and CPU interface
 * system registers, the SPI line levels, and the ITS registers around its tables, which KVM
 * writes into guest RAM (KVM_DEV_ARM_ITS_SAVE_TABLES) with the LPI pending bits
 * (KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES). One table of (group, attr) lists every register in
 * restore order; save reads them, restore writes them back in that order.
 * Not wired into vm.snapshot yet (docs/aarch64.md, "Snapshot").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/aarch64/arch.h"
#include "arch/aarch64/layout.h"

/* GICv3 distributor (GICD_*) and redistributor (GICR_*) offsets, GIC architecture spec 12. */
#define GICD_CTLR       0x0000
#define GICD_IGROUPR    0x0080
#define GICD_ISENABLER  0x0100
#define GICD_ISPENDR    0x0200
#define GICD_ISACTIVER  0x0300
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR      0x0c00
#define GICD_IGRPMODR   0x0d00
#define GICD_IROUTER    0x6000
#define GICR_CTLR       0x0000
#define GICR_PROPBASER  0x0070
#define GICR_PENDBASER  0x0078
#define GICR_SGI        0x10000   /* the SGI_base frame: the SGI/PPI registers, GICD layout */
/* ITS registers (KVM_DEV_ARM_VGIC_GRP_ITS_REGS, 64-bit accesses) */
#define GITS_CTLR       0x0000
#define GITS_IIDR       0x0004
#define GITS_CBASER     0x0080
#define GITS_CWRITER    0x0088
#define GITS_CREADR     0x0090
#define GITS_BASER      0x0100
#define GITS_NR_BASER   8

/* A CPU interface register: KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS's encoding of op0..op2. */
#define ICC(op1, crn, crm, op2) \
	((3u << 14) | ((op1) << 11) | ((crn) << 7) | ((crm) << 3) | (op2))
/* ICC_SRE first (it decides how the others read), CTLR next, then the rest (GICv3 spec 12.2). */
static const uint16_t icc_regs[] = {
	ICC(0, 12, 12, 5),                                          /* ICC_SRE_EL1 */
	ICC(0, 12, 12, 4),                                          /* ICC_CTLR_EL1 */
	ICC(0, 12, 12, 6), ICC(0, 12, 12, 7),                       /* ICC_IGRPEN0/1_EL1 */
	ICC(0, 4, 6, 0),                                            /* ICC_PMR_EL1 */
	ICC(0, 12, 8, 3), ICC(0, 12, 12, 3),                        /* ICC_BPR0/1_EL1 */
	ICC(0, 12, 8, 4), ICC(0, 12, 8, 5), ICC(0, 12, 8, 6), ICC(0, 12, 8, 7), /* AP0R0-3 */
	ICC(0, 12, 9, 0), ICC(0, 12, 9, 1), ICC(0, 12, 9, 2), ICC(0, 12, 9, 3), /* AP1R0-3 */
};

/* Registers per INTID range in GICD layout: offset, bits per INTID. */
static const struct { uint16_t off; uint8_t bits; } irq_regs[] = {
	{ GICD_IGROUPR, 1 }, { GICD_IGRPMODR, 1 }, { GICD_ICFGR, 2 }, { GICD_IPRIORITYR, 8 },
	{ GICD_ISACTIVER, 1 }, { GICD_ISPENDR, 1 }, { GICD_ISENABLER, 1 },
};

#define ITS_CTRL UINT32_MAX   /* a table entry that is KVM_DEV_ARM_ITS_RESTORE_TABLES */

struct reg_table {
	struct arch_gic_reg *r;
	unsigned n, cap;
};

static int add(struct reg_table *t, uint32_t group, uint64_t attr)
{
	if (t->n == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 256;
		struct arch_gic_reg *r = realloc(t->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		t->r = r;
		t->cap = cap;
	}
	t->r[t->n++] = (struct arch_gic_reg){ .group = group, .attr = attr };
	return 0;
}

/* The 32-bit words of the per-INTID registers for INTIDs [first, last), in GICD layout. */
static int add_irq_regs(struct reg_table *t, uint32_t group, uint64_t base, unsigned first,
			unsigned last)
{
	int ret = 0;

	for (unsigned i = 0; !ret && i < sizeof(irq_regs) / sizeof(irq_regs[0]); i++)
		for (unsigned irq = first; !ret && irq < last; irq += 32 / irq_regs[i].bits)
			ret = add(t, group, base + irq_regs[i].off + irq * irq_regs[i].bits / 8);
	return ret;
}

/* The redistributor's and CPU interface's attr: the vCPU's MPIDR affinity (Aff1.Aff0). */
static uint64_t mpidr_attr(unsigned vcpu)
{
	return (uint64_t)((vcpu / 16) << 8 | (vcpu % 16)) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
}

static int build_table(unsigned nr_vcpus, bool its, struct reg_table *t)
{
	const uint32_t dist = KVM_DEV_ARM_VGIC_GRP_DIST_REGS, rd = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
	int ret = add(t, dist, GICD_CTLR);

	ret = ret ?: add_irq_regs(t, dist, 0, 32, LAYOUT_GIC_NR_IRQS);
	for (unsigned irq = 32; !ret && irq < LAYOUT_GIC_NR_IRQS; irq++)   /* 64-bit: 2 words */
		ret = add(t, dist, GICD_IROUTER + 8 * irq) ?: add(t, dist, GICD_IROUTER + 8 * irq + 4);
	for (unsigned v = 0; !ret && v < nr_vcpus; v++) {
		uint64_t m = mpidr_attr(v);

		/* The LPI tables' bases before GICR_CTLR.EnableLPIs (arm-vgic-v3.rst). */
		ret = add(t, rd, m | GICR_PROPBASER) ?: add(t, rd, m | (GICR_PROPBASER + 4));
		ret = ret ?: add(t, rd, m | GICR_PENDBASER) ?: add(t, rd, m | (GICR_PENDBASER + 4));
		ret = ret ?: add(t, rd, m | GICR_CTLR);
		ret = ret ?: add_irq_regs(t, rd, m | GICR_SGI, 0, 32);
		for (unsigned i = 0; !ret && i < sizeof(icc_regs) / sizeof(icc_regs[0]); i++)
			ret = add(t, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, m | icc_regs[i]);
	}
	for (unsigned irq = 32; !ret && irq < LAYOUT_GIC_NR_IRQS; irq += 32)
		ret = add(t, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
			  (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL <<
			  KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT | irq);
	if (!its || ret)
		return ret;
	/* arm-vgic-its.rst, "ITS Restore Sequence". */
	ret = add(t, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_IIDR);
	ret = ret ?: add(t, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CBASER);
	for (unsigned i = 0; !ret && i < GITS_NR_BASER; i++)
		ret = add(t, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_BASER + 8 * i);
	ret = ret ?: add(t, ITS_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES);
	ret = ret ?: add(t, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CREADR);
	ret = ret ?: add(t, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CWRITER);
	return ret ?: add(t, KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR);
}

/* 64-bit values for the CPU interface and the ITS, 32-bit for the rest. */
static int attr_io(const struct arch_gic *gic, struct arch_gic_reg *r, unsigned long req)
{
	bool wide = r->group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS ||
		    r->group == KVM_DEV_ARM_VGIC_GRP_ITS_REGS;
	uint32_t v32 = (uint32_t)r->val;
	struct kvm_device_attr a = {
		.group = r->group, .attr = r->attr,
		.addr = wide ? (uintptr_t)&r->val : (uintptr_t)&v32,
	};
	int fd = r->group == KVM_DEV_ARM_VGIC_GRP_ITS_REGS ? gic->its_fd : gic->fd;

	if (ioctl(fd, req, &a))
		return -errno;
	if (!wide)
		r->val = v32;
	return 0;
}

static int ctrl(int fd, uint64_t what)
{
	struct kvm_device_attr a = { .group = KVM_DEV_ARM_VGIC_GRP_CTRL, .attr = what };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) ? -errno : 0;
}

int arch_gic_save(const struct arch_gic *gic, unsigned nr_vcpus, struct arch_gic_state *out)
{
	struct reg_table t = { 0 };
	bool its = gic->its_fd >= 0;
	int ret;

	memset(out, 0, sizeof(*out));
	/* Into guest RAM first: the caller saves RAM after this. */
	ret = its ? ctrl(gic->its_fd, KVM_DEV_ARM_ITS_SAVE_TABLES) : 0;
	ret = ret ?: ctrl(gic->fd, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES);
	ret = ret ?: build_table(nr_vcpus, its, &t);
	for (unsigned i = 0; !ret && i < t.n; i++) {
		struct arch_gic_reg *r = &t.r[i];

		ret = r->group == ITS_CTRL ? 0 : attr_io(gic, r, KVM_GET_DEVICE_ATTR);
		/* AP0R1-3/AP1R1-3 exist only with more priority bits: leave them out. */
		if (ret == -EINVAL && r->group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS) {
			ret = 0;
			continue;
		}
		t.r[out->nr++] = *r;
	}
	out->regs = t.r;
	if (ret)
		arch_gic_state_free(out);
	return ret;
}

int arch_gic_restore(const struct arch_gic *gic, const struct arch_gic_state *s,
		     unsigned *failed)
{
	for (unsigned i = 0; i < s->nr; i++) {
		struct arch_gic_reg r = s->regs[i];
		int ret;

		if (r.group == ITS_CTRL)
			ret = gic->its_fd >= 0 ? ctrl(gic->its_fd, r.attr) : -ENODEV;
		else if (r.group == KVM_DEV_ARM_VGIC_GRP_ITS_REGS && gic->its_fd < 0)
			ret = -ENODEV;
		else
			ret = attr_io(gic, &r, KVM_SET_DEVICE_ATTR);
		if (ret) {
			*failed = i;
			return ret;
		}
	}
	return 0;
}

/*
 * A state from a snapshot file, checked against the table this VM's GIC has: the same
 * (group, attr) in the same order, where only CPU interface registers may be missing (a host
 * with fewer priority bits has fewer AP registers), and 32-bit registers within 32 bits.
 */
int arch_gic_state_check(const struct arch_gic_state *s, unsigned nr_vcpus, bool its,
			 unsigned *bad)
{
	struct reg_table t = { 0 };
	unsigned j = 0;
	int ret = build_table(nr_vcpus, its, &t);

	*bad = s->nr;
	for (unsigned i = 0; !ret && i < s->nr; i++, j++) {
		const struct arch_gic_reg *r = &s->regs[i];
		bool wide = r->group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS ||
			    r->group == KVM_DEV_ARM_VGIC_GRP_ITS_REGS || r->group == ITS_CTRL;

		while (j < t.n && t.r[j].group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS &&
		       (t.r[j].group != r->group || t.r[j].attr != r->attr))
			j++;
		if (j == t.n || t.r[j].group != r->group || t.r[j].attr != r->attr ||
		    (!wide && r->val > UINT32_MAX) || (r->group == ITS_CTRL && r->val)) {
			*bad = i;
			ret = -EINVAL;
		}
	}
	/* What the table has past the last entry must be optional too. */
	while (!ret && j < t.n && t.r[j].group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)
		j++;
	if (!ret && j != t.n)
		ret = -EINVAL;
	free(t.r);
	return ret;
}

int arch_gic_state_layout(unsigned nr_vcpus, bool its, struct arch_gic_state *out)
{
	struct reg_table t = { 0 };
	int ret = build_table(nr_vcpus, its, &t);

	out->regs = t.r;
	out->nr = ret ? 0 : t.n;
	if (ret)
		arch_gic_state_free(out);
	return ret;
}

void arch_gic_state_free(struct arch_gic_state *s)
{
	free(s->regs);
	s->regs = NULL;
	s->nr = 0;
}
