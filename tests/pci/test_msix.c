// SPDX-License-Identifier: Apache-2.0
/* MSI-X: capability, table, PBA, mask/pending semantics, the KVM seam and routing table. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pci/msix.h"

#define NR      4
#define ADDR    0xfee01000ULL
#define GSI(v)  (24 + (v))

/*
 * A fake VMM behind msix_irq_ops: keeps a shadow route per vector (GSI 24 + v), rebuilds the
 * whole KVM table on commit with kvm_routing_build, and logs every step in order.
 */
struct fake_vmm {
	struct msi_route routes[NR];
	bool irqfd[NR];
	bool want_irqfd[NR];
	char log[64][32];
	unsigned nlog;
	struct kvm_irq_routing *table;      /* what KVM_SET_GSI_ROUTING got last */
	unsigned triggers[NR];
};

static void logf_(struct fake_vmm *f, const char *fmt, unsigned v)
{
	assert_true(f->nlog < 64);
	snprintf(f->log[f->nlog++], sizeof(f->log[0]), fmt, v);
}

static int fake_update(void *ctx, unsigned v, uint64_t addr, uint32_t data, bool masked)
{
	struct fake_vmm *f = ctx;

	assert_true(v < NR);
	f->routes[v] = (struct msi_route){ .gsi = GSI(v), .addr = addr, .data = data,
					   .masked = masked };
	logf_(f, masked ? "route-off %u" : "route %u", v);
	if (masked && f->irqfd[v]) {
		f->irqfd[v] = false;                /* masked vectors have no irqfd */
		logf_(f, "irqfd-deassign %u", v);
	}
	f->want_irqfd[v] = !masked;
	return 0;
}

static int fake_commit(void *ctx)
{
	struct fake_vmm *f = ctx;
	struct kvm_irq_routing_entry legacy[KVM_LEGACY_ROUTES];
	unsigned n = kvm_routing_default_legacy(legacy), v;

	free(f->table);
	f->table = NULL;
	assert_int_equal(kvm_routing_build(legacy, n, f->routes, NR, &f->table), 0);
	logf_(f, "set-gsi-routing %u", f->table->nr);
	/* Routes first, then the irqfds of newly routed vectors. */
	for (v = 0; v < NR; v++) {
		if (f->want_irqfd[v] && !f->irqfd[v]) {
			f->irqfd[v] = true;
			logf_(f, "irqfd-assign %u", v);
		}
	}
	return 0;
}

static int fake_trigger(void *ctx, unsigned v)
{
	struct fake_vmm *f = ctx;

	assert_true(f->irqfd[v]);               /* never fire without a route and irqfd */
	f->triggers[v]++;
	logf_(f, "trigger %u", v);
	return 0;
}

static const struct msix_irq_ops fake_ops = { fake_update, fake_commit, fake_trigger, NULL };

struct fixture {
	struct pci_dev dev;
	struct msix m;
	struct fake_vmm vmm;
};

static const struct pci_ident ident = { .vendor = 0x1af4, .device = 0x1044 };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	unsigned v;

	pci_dev_init(&f->dev, "rng", &ident, NULL, NULL);
	assert_int_equal(pci_bar_add(&f->dev, 0, PCI_BAR_MEM64, 0x4000, false), 0);
	assert_int_equal(msix_init(&f->m, &f->dev, NR, 0, 0, 0, 0x2000, &fake_ops, &f->vmm), 0);
	for (v = 0; v < NR; v++)
		f->vmm.routes[v] = (struct msi_route){ .gsi = GSI(v), .masked = true };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	msix_destroy(&f->m);
	free(f->vmm.table);
	free(f);
	return 0;
}

static void tw32(struct fixture *f, uint64_t off, uint32_t v)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	msix_table_write(&f->m, off, d, 4);
}

static uint64_t rd(struct fixture *f, bool pba, uint64_t off, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;
	unsigned i;

	if (pba)
		msix_pba_read(&f->m, off, d, len);
	else
		msix_table_read(&f->m, off, d, len);
	for (i = 0; i < len && i < 8; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void ctl(struct fixture *f, uint16_t v)
{
	assert_int_equal(pci_cfg_write(&f->dev, f->m.cap + PCI_MSIX_FLAGS, 2, v), 0);
}

/* Programs entry @v (address, data) and leaves its mask bit as @masked. */
static void program(struct fixture *f, unsigned v, uint32_t data, bool masked)
{
	tw32(f, v * 16 + 0, (uint32_t)ADDR);
	tw32(f, v * 16 + 4, 0);
	tw32(f, v * 16 + 8, data);
	tw32(f, v * 16 + 12, masked);
}

static void clear_log(struct fixture *f)
{
	f->vmm.nlog = 0;
	memset(f->vmm.triggers, 0, sizeof(f->vmm.triggers));
}

static void log_is(struct fixture *f, const char *const *want, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && i < f->vmm.nlog; i++)
		assert_string_equal(f->vmm.log[i], want[i]);
	assert_int_equal(f->vmm.nlog, n);
}

#define LOG_IS(f, ...) do { \
	static const char *const _w[] = { __VA_ARGS__ }; \
	log_is(f, _w, sizeof(_w) / sizeof(_w[0])); \
} while (0)

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	unsigned v, cap = pci_cap_find(&f->dev, PCI_CAP_ID_MSIX);

	assert_int_equal(cap, f->m.cap);
	assert_int_equal(pci_cfg_read(&f->dev, cap + PCI_MSIX_FLAGS, 2), NR - 1);
	assert_int_equal(pci_cfg_read(&f->dev, cap + PCI_MSIX_TABLE, 4), 0x0000);
	assert_int_equal(pci_cfg_read(&f->dev, cap + PCI_MSIX_PBA, 4), 0x2000);
	for (v = 0; v < NR; v++) {
		assert_int_equal(rd(f, false, v * 16, 8), 0);
		assert_int_equal(rd(f, false, v * 16 + 8, 4), 0);
		assert_int_equal(rd(f, false, v * 16 + 12, 4), 1);     /* masked */
	}
	assert_int_equal(rd(f, true, 0, 8), 0);
	assert_false(msix_enabled(&f->m));
	assert_int_equal(f->vmm.nlog, 0);
}

static void test_table_size_read_only(void **state)
{
	struct fixture *f = *state;
	unsigned mc = f->m.cap + PCI_MSIX_FLAGS;

	ctl(f, 0xffff);
	assert_int_equal(pci_cfg_read(&f->dev, mc, 2), 0xc000 | (NR - 1));
	ctl(f, 0);
	assert_int_equal(pci_cfg_read(&f->dev, mc, 2), NR - 1);
	pci_cfg_write(&f->dev, mc, 1, 0xff);
	assert_int_equal(pci_cfg_read(&f->dev, mc, 2), NR - 1);
	/* Table/PBA offset registers are read-only. */
	pci_cfg_write(&f->dev, f->m.cap + PCI_MSIX_TABLE, 4, 0x1000);
	assert_int_equal(pci_cfg_read(&f->dev, f->m.cap + PCI_MSIX_TABLE, 4), 0);
	/* A byte write to the upper half of Message Control works too. */
	pci_cfg_write(&f->dev, mc + 1, 1, 0x80);
	assert_true(msix_enabled(&f->m));
}

static void test_mask_pending_unmask(void **state)
{
	struct fixture *f = *state;

	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	program(f, 1, 0x4041, true);
	assert_int_equal(f->vmm.nlog, 0);                  /* masked: nothing routed */
	assert_int_equal(msix_notify(&f->m, 1), 0);
	assert_true(msix_pending(&f->m, 1));
	assert_int_equal(rd(f, true, 0, 8), 1 << 1);
	assert_int_equal(f->vmm.nlog, 0);
	/* Unmask: route, push, irqfd, then the pending message exactly once. */
	tw32(f, 1 * 16 + 12, 0);
	LOG_IS(f, "route 1", "set-gsi-routing 41", "irqfd-assign 1", "trigger 1");
	assert_false(msix_pending(&f->m, 1));
	assert_int_equal(rd(f, true, 0, 8), 0);
	assert_int_equal(f->vmm.table->entries[40].u.msi.data, 0x4041);
	clear_log(f);
	assert_int_equal(msix_notify(&f->m, 1), 0);
	LOG_IS(f, "trigger 1");
	/* Mask again: route and irqfd go away. */
	clear_log(f);
	tw32(f, 1 * 16 + 12, 1);
	LOG_IS(f, "route-off 1", "irqfd-deassign 1", "set-gsi-routing 40");
	assert_int_equal(msix_notify(&f->m, 1), 0);
	assert_true(msix_pending(&f->m, 1));
}

static void test_function_mask(void **state)
{
	struct fixture *f = *state;

	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	program(f, 0, 0x30, false);
	program(f, 2, 0x32, false);
	clear_log(f);
	ctl(f, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	LOG_IS(f, "route-off 0", "irqfd-deassign 0", "route-off 2", "irqfd-deassign 2",
	       "set-gsi-routing 40");
	clear_log(f);
	assert_int_equal(msix_notify(&f->m, 2), 0);
	assert_int_equal(msix_notify(&f->m, 2), 0);             /* pending is one bit */
	assert_int_equal(msix_notify(&f->m, 3), 0);             /* masked entry too */
	assert_int_equal(f->vmm.nlog, 0);
	assert_int_equal(rd(f, true, 0, 4), 0xc);
	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	LOG_IS(f, "route 0", "route 2", "set-gsi-routing 42", "irqfd-assign 0", "irqfd-assign 2",
	       "trigger 2");
	assert_int_equal(f->vmm.triggers[2], 1);
	assert_int_equal(rd(f, true, 0, 4), 0x8);                /* vector 3 still masked */
}

static void test_enable_off_pends(void **state)
{
	struct fixture *f = *state;

	program(f, 3, 0x33, false);
	assert_int_equal(f->vmm.nlog, 0);                  /* not enabled: no routes */
	assert_int_equal(msix_notify(&f->m, 3), 0);
	assert_true(msix_pending(&f->m, 3));
	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	LOG_IS(f, "route 3", "set-gsi-routing 41", "irqfd-assign 3", "trigger 3");
	assert_false(msix_pending(&f->m, 3));
	clear_log(f);
	ctl(f, 0);
	LOG_IS(f, "route-off 3", "irqfd-deassign 3", "set-gsi-routing 40");
}

static void test_live_rewrite_reroutes(void **state)
{
	struct fixture *f = *state;
	const struct kvm_irq_routing_entry *e;

	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	program(f, 0, 0x41, false);
	clear_log(f);
	/* Linux changes affinity by rewriting a live entry. */
	tw32(f, 0, (uint32_t)ADDR | 0x3000);
	tw32(f, 8, 0x51);
	LOG_IS(f, "route 0", "set-gsi-routing 41", "route 0", "set-gsi-routing 41");
	e = &f->vmm.table->entries[40];
	assert_int_equal(e->gsi, GSI(0));
	assert_int_equal(e->type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(e->u.msi.address_lo, (uint32_t)ADDR | 0x3000);
	assert_int_equal(e->u.msi.address_hi, 0);
	assert_int_equal(e->u.msi.data, 0x51);
	/* The same value again, or a masked entry rewritten: nothing. */
	clear_log(f);
	tw32(f, 8, 0x51);
	tw32(f, 16 + 8, 0x99);
	assert_int_equal(f->vmm.nlog, 0);
}

static void test_qword_access(void **state)
{
	struct fixture *f = *state;
	uint64_t q = 0x12345678fee02000ULL;
	uint8_t d[8];

	memcpy(d, &q, 8);
	msix_table_write(&f->m, 16, d, 8);
	assert_int_equal(rd(f, false, 16, 8), q);
	assert_int_equal(rd(f, false, 16, 4), 0xfee02000);
	assert_int_equal(rd(f, false, 20, 4), 0x12345678);
	/* Data + Vector Control in one QWORD; reserved control bits read zero. */
	q = 0xffffffff00000077ULL;
	memcpy(d, &q, 8);
	msix_table_write(&f->m, 24, d, 8);
	assert_int_equal(rd(f, false, 24, 8), 0x0000000100000077ULL);
	assert_int_equal(msix_ignored(&f->m), 0);
}

static void test_bad_accesses_ignored(void **state)
{
	struct fixture *f = *state;
	uint8_t d[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	uint32_t snapshot[NR * 4];
	unsigned i, n = 0;

	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	for (i = 0; i < NR * 16; i += 4)
		snapshot[i / 4] = (uint32_t)rd(f, false, i, 4);
	msix_table_write(&f->m, NR * 16, d, 4), n++;           /* past the table */
	msix_table_write(&f->m, NR * 16 - 4, d, 8), n++;       /* misaligned QWORD */
	msix_table_write(&f->m, 12, d, 1), n++;                /* byte on Vector Control */
	msix_table_write(&f->m, 12, d, 2), n++;
	msix_table_write(&f->m, 14, d, 4), n++;                /* unaligned DWORD */
	msix_table_write(&f->m, 4, d, 8), n++;
	msix_table_write(&f->m, ~0ULL - 3, d, 4), n++;         /* wraps */
	msix_table_write(&f->m, 12, d, 3), n++;
	for (i = 0; i < NR * 16; i += 4)
		assert_int_equal(rd(f, false, i, 4), snapshot[i / 4]);
	assert_int_equal(f->vmm.nlog, 0);
	/* Reads of the same shapes: all-ones. */
	assert_int_equal(rd(f, false, NR * 16, 4), 0xffffffff), n++;
	assert_int_equal(rd(f, false, 12, 1), 0xff), n++;
	assert_int_equal(rd(f, false, 2, 4), 0xffffffff), n++;
	assert_int_equal(rd(f, false, 4, 8), ~0ULL), n++;
	/* PBA: read-only, bounded to one QWORD for 4 vectors. */
	msix_notify(&f->m, 0);
	memset(d, 0, 8);
	msix_pba_write(&f->m, 0, d, 8), n++;
	msix_pba_write(&f->m, 0, d, 4), n++;
	assert_int_equal(rd(f, true, 0, 8), 1);
	assert_int_equal(rd(f, true, 4, 4), 0);
	assert_int_equal(rd(f, true, 8, 4), 0xffffffff), n++;
	assert_int_equal(rd(f, true, 1, 1), 0xff), n++;
	assert_int_equal(msix_ignored(&f->m), n);
}

static void test_notify_errors(void **state)
{
	struct fixture *f = *state;
	static const struct msix_irq_ops routes_only = { fake_update, fake_commit, NULL, NULL };

	assert_int_equal(msix_notify(&f->m, NR), -EINVAL);
	assert_int_equal(msix_notify(&f->m, ~0u), -EINVAL);
	f->m.ops = &routes_only;
	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	program(f, 0, 1, false);
	assert_int_equal(msix_notify(&f->m, 0), -EOPNOTSUPP);
	/* No ops at all: the model still works. */
	f->m.ops = NULL;
	tw32(f, 12, 1);
	assert_int_equal(msix_notify(&f->m, 0), 0);
	assert_true(msix_pending(&f->m, 0));
}

static void test_init_rules(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *dev = malloc(sizeof(*dev));
	struct msix m;

	(void)f;
	pci_dev_init(dev, "x", &ident, NULL, NULL);
	pci_bar_add(dev, 0, PCI_BAR_MEM32, 0x1000, false);
	pci_bar_add(dev, 1, PCI_BAR_IO, 0x100, false);
	assert_int_equal(msix_init(&m, dev, 0, 0, 0, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, dev, 2049, 0, 0, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, dev, 4, 0, 4, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, dev, 4, 0, 0, 0, 0x20, NULL, NULL), -EINVAL);   /* overlap */
	assert_int_equal(msix_init(&m, dev, 200, 0, 0, 0, 0xff8, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, dev, 4, 1, 0, 0, 0x800, NULL, NULL), -EINVAL);  /* I/O */
	assert_int_equal(msix_init(&m, dev, 4, 2, 0, 0, 0x800, NULL, NULL), -EINVAL);  /* none */
	assert_int_equal(pci_cap_find(dev, PCI_CAP_ID_MSIX), 0);
	assert_int_equal(msix_init(&m, dev, 128, 0, 0, 0, 0x800, NULL, NULL), 0);
	assert_int_equal(pci_cfg_read(dev, m.cap + PCI_MSIX_FLAGS, 2), 127);
	assert_int_equal(pci_cfg_read(dev, m.cap + PCI_MSIX_PBA, 4), 0x800);
	msix_destroy(&m);
	free(dev);
}

static void test_pba_multiword(void **state)
{
	struct fixture *f = *state;
	struct pci_dev *dev = malloc(sizeof(*dev));
	struct msix m;
	uint8_t d[8];

	(void)f;
	pci_dev_init(dev, "x", &ident, NULL, NULL);
	pci_bar_add(dev, 0, PCI_BAR_MEM32, 0x2000, false);
	pci_bar_add(dev, 1, PCI_BAR_MEM32, 0x1000, false);
	assert_int_equal(msix_init(&m, dev, 70, 0, 0, 1, 0, NULL, NULL), 0);
	assert_int_equal(pci_cfg_read(dev, m.cap + PCI_MSIX_PBA, 4), 1);       /* BIR 1 */
	msix_notify(&m, 65);
	msix_notify(&m, 3);
	msix_pba_read(&m, 8, d, 4);
	assert_int_equal(d[0], 2);
	msix_pba_read(&m, 0, d, 8);
	assert_int_equal(d[0], 8);
	msix_pba_read(&m, 16, d, 4);                            /* past ceil(70/64) QWORDs */
	assert_int_equal(d[0], 0xff);
	msix_destroy(&m);
	free(dev);
}

static void test_default_legacy_routes(void **state)
{
	struct kvm_irq_routing_entry e[KVM_LEGACY_ROUTES];
	unsigned n = kvm_routing_default_legacy(e), i = 0, gsi;

	(void)state;
	assert_int_equal(n, 40);
	for (gsi = 0; gsi < 24; gsi++) {
		assert_int_equal(e[i].gsi, gsi);
		assert_int_equal(e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		assert_int_equal(e[i].flags, 0);
		assert_int_equal(e[i].u.irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
		assert_int_equal(e[i].u.irqchip.pin, gsi);
		i++;
		if (gsi < 16) {
			assert_int_equal(e[i].gsi, gsi);
			assert_int_equal(e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
			assert_int_equal(e[i].u.irqchip.irqchip,
					 gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE);
			assert_int_equal(e[i].u.irqchip.pin, gsi % 8);
			i++;
		}
	}
	assert_int_equal(i, 40);
}

static void test_routing_build(void **state)
{
	struct kvm_irq_routing_entry legacy[KVM_LEGACY_ROUTES];
	unsigned n = kvm_routing_default_legacy(legacy);
	struct kvm_irq_routing *t = NULL;
	struct msi_route r[3] = {
		{ .gsi = 24, .addr = 0xfee00000, .data = 0x4021 },
		{ .gsi = 25, .addr = 0x1fee01000ULL, .data = 0x4022, .masked = true },
		/* arm64's ITS needs the requester ID with the route */
		{ .gsi = 30, .addr = 0xfee02000, .data = 0x4023, .has_devid = true, .devid = 0x18 },
	};

	(void)state;
	assert_int_equal(kvm_routing_build(legacy, n, r, 3, &t), 0);
	assert_int_equal(t->nr, 42);
	assert_int_equal(t->flags, 0);
	assert_memory_equal(t->entries, legacy, sizeof(legacy));
	assert_int_equal(t->entries[40].gsi, 24);
	assert_int_equal(t->entries[40].type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(t->entries[40].flags, 0);
	assert_int_equal(t->entries[40].u.msi.address_lo, 0xfee00000);
	assert_int_equal(t->entries[40].u.msi.data, 0x4021);
	assert_int_equal(t->entries[41].gsi, 30);
	assert_int_equal(t->entries[41].u.msi.address_lo, 0xfee02000);
	assert_int_equal(t->entries[41].u.msi.data, 0x4023);
	assert_int_equal(t->entries[41].flags, KVM_MSI_VALID_DEVID);
	assert_int_equal(t->entries[41].u.msi.devid, 0x18);
	free(t);
	/* Unmasked with a high address dword. */
	r[1].masked = false;
	assert_int_equal(kvm_routing_build(legacy, n, r, 3, &t), 0);
	assert_int_equal(t->entries[41].u.msi.address_hi, 1);
	assert_int_equal(t->entries[41].u.msi.address_lo, 0xfee01000);
	free(t);
	t = NULL;
	r[2].gsi = 24;
	assert_int_equal(kvm_routing_build(legacy, n, r, 3, &t), -EINVAL);     /* duplicate */
	r[2].gsi = 23;
	assert_int_equal(kvm_routing_build(legacy, n, r, 3, &t), -EINVAL);     /* legacy range */
	r[2].gsi = 4096;
	assert_int_equal(kvm_routing_build(legacy, n, r, 3, &t), -EINVAL);
	assert_int_equal(kvm_routing_build(legacy, n, r, 4097, &t), -E2BIG);
	assert_null(t);
	/* Only legacy: exactly KVM's default table. */
	assert_int_equal(kvm_routing_build(legacy, n, NULL, 0, &t), 0);
	assert_int_equal(t->nr, 40);
	free(t);
}

/* Refused with -EINVAL and a message naming the field (@want is a substring of it). */
#define REJECT(m, j, want)                                                              \
	do {                                                                            \
		assert_int_equal(msix_restore(m, j, err, sizeof(err)), -EINVAL);        \
		if (!strstr(err, want))                                                 \
			fail_msg("\"%s\" does not contain \"%s\"", err, want);          \
	} while (0)

static cJSON *entry(cJSON *j, int v)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "table"), v);
}

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct fixture *g;
	char err[256];
	cJSON *j;

	ctl(f, PCI_MSIX_FLAGS_ENABLE);
	program(f, 0, 0x70, false);
	program(f, 2, 0x72, true);
	msix_notify(&f->m, 2);
	j = msix_save(&f->m);
	assert_non_null(j);

	setup((void **)&g);
	assert_int_equal(msix_restore(&g->m, j, err, sizeof(err)), 0);
	assert_memory_equal(g->m.table, f->m.table, NR * sizeof(struct msix_entry));
	assert_true(msix_pending(&g->m, 2));
	assert_true(msix_enabled(&g->m));
	assert_int_equal(pci_cfg_read(&g->dev, g->m.cap + PCI_MSIX_FLAGS, 2),
			 PCI_MSIX_FLAGS_ENABLE | (NR - 1));
	/* Routes replayed for the unmasked vector only. */
	LOG_IS(g, "route 0", "set-gsi-routing 41", "irqfd-assign 0");
	assert_int_equal(g->vmm.table->entries[40].u.msi.data, 0x70);

	/* Corruptions are refused, named, and change nothing. */
	clear_log(g);
	cJSON_ReplaceItemInObject(j, "vectors", cJSON_CreateNumber(NR + 1));
	REJECT(&g->m, j, "vectors: 5, but this device has 4");
	cJSON_ReplaceItemInObject(j, "vectors", cJSON_CreateNumber(2.5));
	REJECT(&g->m, j, "vectors: 2.5 is not an integer in 0..2048");
	cJSON_ReplaceItemInObject(j, "vectors", cJSON_CreateNumber(NR));
	cJSON_ReplaceItemInObject(entry(j, 1), "ctrl", cJSON_CreateString("0x3"));
	REJECT(&g->m, j, "table[1].ctrl: 0x3 sets reserved bits");
	cJSON_ReplaceItemInObject(entry(j, 1), "ctrl", cJSON_CreateString("0x1"));
	cJSON_ReplaceItemInObject(entry(j, 3), "data", cJSON_CreateString("0x100000000"));
	REJECT(&g->m, j, "table[3].data: 0x100000000 is above 0xffffffff");
	cJSON_ReplaceItemInObject(entry(j, 3), "data", cJSON_CreateString("0x0"));
	cJSON_DeleteItemFromObject(entry(j, 2), "addr");
	REJECT(&g->m, j, "table[2].addr: missing");
	cJSON_AddStringToObject(entry(j, 2), "addr", "0xfee00000");
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(j, "pba"), 0, cJSON_CreateString("0x10"));
	REJECT(&g->m, j, "pba[0]: 0x10 has pending bits past vector 3");  /* no vector 4 */
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(j, "pba"), 0, cJSON_CreateNumber(4));
	REJECT(&g->m, j, "pba[0]: expected a \"0x...\" hex string");
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(j, "pba"), 0, cJSON_CreateString("0x4"));
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(j, "table"), 3);
	REJECT(&g->m, j, "table: expected an array of 4 entries, got 3");
	cJSON_DeleteItemFromObject(j, "enabled");
	REJECT(&g->m, j, "enabled: missing");
	assert_int_equal(g->vmm.nlog, 0);
	assert_true(msix_pending(&g->m, 2));
	teardown((void **)&g);
	cJSON_Delete(j);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_table_size_read_only),
		T(test_mask_pending_unmask),
		T(test_function_mask),
		T(test_enable_off_pends),
		T(test_live_rewrite_reroutes),
		T(test_qword_access),
		T(test_bad_accesses_ignored),
		T(test_notify_errors),
		T(test_init_rules),
		T(test_pba_multiword),
		cmocka_unit_test(test_default_legacy_routes),
		cmocka_unit_test(test_routing_build),
		T(test_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
