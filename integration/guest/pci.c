/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: PCI segment 0 checks. Config access through CONFIG_ADDRESS/CONFIG_DATA
 * (PCI 3.0 3.2.2.3.2) and through ECAM (PCIe base 7.2.2) found in the ACPI MCFG table (PCI
 * Firmware 3.x 4.1.2); the type-0/1 header (PCI 3.0 6.1-6.2), BAR sizing (6.2.5.1) and a BAR
 * move. Only bus 0 is looked at. Every config access is counted (one port or MMIO access =
 * one VM exit), so the cost of a scan can be compared between VMMs. See README.md.
 */
#include "guest.h"

#define VCOMMON_DFSELECT  0x00            /* device_feature_select */
#define VCOMMON_DFEATURE  0x04
#define VCOMMON_NUMQ      0x12

static const char *const kind_name[] = { "none", "io", "mem32", "mem64" };

static unsigned fns_dropped;

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Sub-dword reads at every byte/word offset of a dword agree with the dword. */
static bool subdword_agree(bool ecam, unsigned dev, unsigned fn, unsigned reg, char *why, size_t n)
{
	uint32_t d = ecam ? ecam_rd32(dev, fn, reg) : cf8_rd32(dev, fn, reg);
	for (unsigned k = 0; k < 4; k++) {
		uint8_t b = ecam ? ecam_rd8(dev, fn, reg + k) : cf8_rd8(dev, fn, reg + k);
		if (b != (uint8_t)(d >> (8 * k))) {
			gsnprintf(why, n, "byte at 0x%x reads 0x%x, dword 0x%x", reg + k, b, d);
			return false;
		}
	}
	for (unsigned k = 0; k < 4; k += 2) {
		uint16_t w = ecam ? ecam_rd16(dev, fn, reg + k) : cf8_rd16(dev, fn, reg + k);
		if (w != (uint16_t)(d >> (8 * k))) {
			gsnprintf(why, n, "word at 0x%x reads 0x%x, dword 0x%x", reg + k, w, d);
			return false;
		}
	}
	return true;
}

/* --- pci_mcfg --- */

static void check_mcfg(void)
{
	uint64_t pa = acpi_find_table("MCFG");
	if (!pa) {
		check("pci_mcfg", false, "no MCFG in the %s", acpi.root_is_xsdt ? "XSDT" : "RSDT");
		return;
	}
	uint32_t len = acpi_table_len(pa);
	const uint8_t *t = phys_ptr(pa, len);
	unsigned n = len >= 44 ? (len - 44) / 16 : 0;
	if (!t || !acpi_table_ok(pa, "MCFG") || n == 0 || (len - 44) % 16) {
		check("pci_mcfg", false, "MCFG at 0x%lx len %u: bad checksum or length", pa, len);
		return;
	}
	/* Entry: base u64, segment u16, start bus u8, end bus u8, reserved u32. */
	unsigned i;
	for (i = 0; i < n; i++) {
		const uint8_t *e = t + 44 + 16 * i;
		if ((e[8] | e[9] << 8) == 0 && e[10] == 0)
			break;
	}
	if (i == n) {
		check("pci_mcfg", false, "MCFG at 0x%lx: %u entries, none for segment 0 from bus 0", pa, n);
		return;
	}
	const uint8_t *e = t + 44 + 16 * i;
	uint64_t base = rd64(e);
	unsigned end = e[11];
	uint64_t span = (uint64_t)(end + 1) * PCI_ECAM_BUS_SIZE;
	char why[96] = "";
	bool ok = base && !(base & (PCI_ECAM_BUS_SIZE - 1)) && end >= e[10];
	if (!ok)
		gsnprintf(why, sizeof(why), ", base not 1 MiB aligned or bad bus range");
	/* Linux 6.1 uses ECAM only if it is e820-reserved or claimed by a PNP0C01/02 _CRS. */
	const char *rsv = memmap_covers(base, span, 2) ? "e820-reserved" :
	                  acpi_dsdt_claims("PNP0C02", base, span) ? "claimed by PNP0C02 _CRS" :
	                  acpi_dsdt_claims("PNP0C01", base, span) ? "claimed by PNP0C01 _CRS" : NULL;
	if (ok && !rsv) {
		ok = false;
		gsnprintf(why, sizeof(why), ", range not reserved (e820 or PNP0C01/02 _CRS): "
		          "Linux would not use it");
	}
	if (ok && !phys_map_uc(base, PCI_ECAM_BUS_SIZE)) {
		ok = false;
		gsnprintf(why, sizeof(why), ", cannot map it");
	}
	if (ok) {
		pci_ecam_base = base;
		pci_ecam_end_bus = end;
		if (!subdword_agree(true, 0, 0, PCI_CFG_ID, why + 2, sizeof(why) - 2) ||
		    !subdword_agree(true, 0, 0, PCI_CFG_CLASS, why + 2, sizeof(why) - 2)) {
			why[0] = ',';
			why[1] = ' ';
			ok = false;
		}
	}
	check("pci_mcfg", ok, "at 0x%lx rev %u, %u entr%s; segment 0 buses %u-%u ECAM 0x%lx (%s), "
	      "mapped uncached%s", pa, t[8], n, n == 1 ? "y" : "ies", e[10], end, base,
	      rsv ? rsv : "not reserved", why);
}

/* --- pci_cf8_probe: Linux arch/x86/pci/direct.c pci_check_type1 + pci_sanity_check --- */

static void check_cf8_probe(void)
{
	outb(0xCFB, 0x01);
	uint32_t saved = inl(PCI_CF8);
	outl(PCI_CF8, PCI_CF8_ENABLE);
	uint32_t probe = inl(PCI_CF8);
	outl(PCI_CF8, saved);
	uint32_t restored = inl(PCI_CF8);
	pci_n_cf8 += 6;
	char why[96] = "";
	bool ok = probe == PCI_CF8_ENABLE && restored == saved;
	if (!ok)
		gsnprintf(why, sizeof(why), ", probe read 0x%x (want 0x80000000), restore read 0x%x",
		          probe, restored);
	/* Sanity scan: some function on bus 0 is a host bridge/VGA or has an Intel/Compaq ID. */
	unsigned devfn = 0;
	for (; ok && devfn < 256; devfn++) {
		uint16_t cls = cf8_rd16(devfn >> 3, devfn & 7, PCI_CFG_CLASS + 2);
		uint16_t ven = cf8_rd16(devfn >> 3, devfn & 7, PCI_CFG_ID);
		if (cls == 0x0600 || cls == 0x0300 || ven == 0x8086 || ven == 0x0E11)
			break;
	}
	if (ok && devfn == 256) {
		ok = false;
		gsnprintf(why, sizeof(why), ", sanity scan found no host bridge, VGA or Intel/Compaq");
	}
	/* Byte and word accesses at 0xCFC+k address config offset (reg & ~3) + k. */
	if (ok && devfn < 256) {
		unsigned d = devfn >> 3, f = devfn & 7;
		ok = subdword_agree(false, d, f, PCI_CFG_ID, why + 2, sizeof(why) - 2) &&
		     subdword_agree(false, d, f, PCI_CFG_CLASS, why + 2, sizeof(why) - 2) &&
		     subdword_agree(false, d, f, 0x0C, why + 2, sizeof(why) - 2);
		if (!ok)
			why[0] = ',', why[1] = ' ';
	}
	check("pci_cf8_probe", ok, "type 1: 0xCF8 read 0x%x after outl 0x80000000, saved 0x%x "
	      "restored; sanity at 00:%02x.%u; 0xCFC+0..3 byte/word reads agree%s", probe, saved,
	      devfn >> 3, devfn & 7, why);
}

/* --- pci_enum_agree --- */

static void print_fn(char *buf, size_t size, const struct pci_fn *f)
{
	gsnprintf(buf, size, "00:%02x.%u %04x:%04x %04x", f->dev, f->fn, pci_vendor(f), pci_device(f),
	          pci_class(f) >> 8);
}

static void check_enum(void)
{
	unsigned mism = 0, absent_bad = 0, bad_dev = 0, bad_fn = 0, bad_reg = 0;
	uint32_t bad_cf8 = 0, bad_ecam = 0;
	if (!pci_ecam_base) {
		check("pci_enum_agree", false, "no ECAM from MCFG: nothing to compare with");
		return;
	}
	unsigned c0 = pci_n_cf8, m0 = pci_n_ecam;
	uint64_t t0 = clock_us();
	pci_nfns = fns_dropped = 0;
	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			uint32_t a = cf8_rd32(dev, fn, PCI_CFG_ID), b = ecam_rd32(dev, fn, PCI_CFG_ID);
			bool absent_a = (uint16_t)a == 0xFFFF, absent_b = (uint16_t)b == 0xFFFF;
			if (absent_a && absent_b) {
				if (a != PCI_ALL_ONES || b != PCI_ALL_ONES) {
					absent_bad++;
					bad_dev = dev, bad_fn = fn, bad_cf8 = a, bad_ecam = b;
				}
				if (fn == 0)
					break;
				continue;
			}
			struct pci_fn tmp, *f = pci_nfns < PCI_MAX_FN ? &pci_fns[pci_nfns] : &tmp;
			memset(f, 0, sizeof(*f));
			f->dev = (uint8_t)dev;
			f->fn = (uint8_t)fn;
			f->hdr[0] = a;
			if (a != b && mism++ == 0)
				bad_dev = dev, bad_fn = fn, bad_reg = 0, bad_cf8 = a, bad_ecam = b;
			for (unsigned r = 1; r < PCI_HDR_DWORDS; r++) {
				f->hdr[r] = cf8_rd32(dev, fn, 4 * r);
				uint32_t e = ecam_rd32(dev, fn, 4 * r);
				if (e != f->hdr[r] && mism++ == 0)
					bad_dev = dev, bad_fn = fn, bad_reg = 4 * r, bad_cf8 = f->hdr[r],
					bad_ecam = e;
			}
			if (pci_nfns < PCI_MAX_FN)
				pci_nfns++;
			else
				fns_dropped++;
			if (fn == 0 && !(pci_htype(f) & PCI_HDR_MULTI))
				break;
		}
	}
	unsigned c = pci_n_cf8 - c0, m = pci_n_ecam - m0;
	uint64_t us = clock_us() - t0;
	char list[200] = "", why[120] = "";
	size_t at = 0;
	for (unsigned i = 0; i < pci_nfns; i++) {
		char one[40];
		print_fn(one, sizeof(one), &pci_fns[i]);
		gprintf("pci: %s hdr 0x%02x cmd 0x%04x status 0x%04x\n", one, pci_htype(&pci_fns[i]),
		        pci_fns[i].hdr[1] & 0xFFFF, pci_fns[i].hdr[1] >> 16);
		if (at + strlen(one) + 3 < sizeof(list))
			at += (size_t)gsnprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", one);
	}
	if (mism)
		gsnprintf(why, sizeof(why), "; %u mismatches, first 00:%02x.%u reg 0x%02x cf8 0x%x "
		          "ecam 0x%x", mism, bad_dev, bad_fn, bad_reg, bad_cf8, bad_ecam);
	else if (absent_bad)
		gsnprintf(why, sizeof(why), "; %u absent functions not all-ones, first 00:%02x.%u cf8 "
		          "0x%x ecam 0x%x", absent_bad, bad_dev, bad_fn, bad_cf8, bad_ecam);
	else if (fns_dropped)
		gsnprintf(why, sizeof(why), "; %u functions beyond %u not recorded", fns_dropped, PCI_MAX_FN);
	check("pci_enum_agree", !mism && !absent_bad && pci_nfns > 0,
	      "%u function%s (%s); cf8 accesses %u, ecam accesses %u, %lu us%s", pci_nfns + fns_dropped,
	      pci_nfns + fns_dropped == 1 ? "" : "s", list, c, m, us, why);
}

/* --- pci_host_bridge --- */

static void check_host_bridge(const struct pci_opts *o)
{
	const struct pci_fn *f = pci_nfns && pci_fns[0].dev == 0 && pci_fns[0].fn == 0 ? &pci_fns[0] : NULL;
	if (!f) {
		check("pci_host_bridge", false, "00:00.0 absent");
		return;
	}
	uint16_t cmd = (uint16_t)f->hdr[1], status = (uint16_t)(f->hdr[1] >> 16);
	char why[120] = "", want[40] = "";
	bool ok = true;
	if (!pci_is_host_bridge(f)) {
		ok = false;
		gsnprintf(why, sizeof(why), ", class 0x%06x is not a host bridge (0x0600xx)", pci_class(f));
	} else if ((pci_htype(f) & 0x7F) != 0) {
		ok = false;
		gsnprintf(why, sizeof(why), ", header layout %u, want 0", pci_htype(f) & 0x7F);
	} else if ((cmd & PCI_CMD_RESERVED) || (status & PCI_STATUS_RESERVED)) {
		ok = false;
		gsnprintf(why, sizeof(why), ", reserved COMMAND/STATUS bits set");
	}
	if (o->want_hb) {
		gsnprintf(want, sizeof(want), " (hostbridge=%04x:%04x)", o->hb_vendor, o->hb_device);
		if (ok && (pci_vendor(f) != o->hb_vendor || pci_device(f) != o->hb_device)) {
			ok = false;
			gsnprintf(why, sizeof(why), ", vendor:device differs");
		}
	}
	/* Capability list: bounded walk, pointers dword-aligned in 0x40-0xFF (PCI 3.0 6.7). */
	unsigned caps = 0;
	if (ok && (status & PCI_STATUS_CAP_LIST)) {
		unsigned p = ecam_rd8(0, 0, PCI_CFG_CAP_PTR) & 0xFC;   /* bits 1:0 reserved */
		for (; p && caps < 48; caps++) {
			if (p < 0x40) {
				ok = false;
				gsnprintf(why, sizeof(why), ", capability pointer 0x%x invalid", p);
				break;
			}
			p = ecam_rd8(0, 0, p + 1) & 0xFC;
		}
		if (ok && p) {
			ok = false;
			gsnprintf(why, sizeof(why), ", capability list does not end");
		}
	}
	check("pci_host_bridge", ok, "00:00.0 %04x:%04x%s class 0x%06x hdr 0x%02x cmd 0x%04x "
	      "status 0x%04x, %u capabilities%s", pci_vendor(f), pci_device(f), want, pci_class(f),
	      pci_htype(f), cmd, status, caps, why);
}

/* --- pci_ecam_bounds --- */

static void check_bounds(void)
{
	uint32_t bus1, bus255, off32, ecam1 = PCI_ALL_ONES;
	uint16_t off16;
	uint8_t off8;
	outl(PCI_CF8, pci_cf8_addr(1, 0, 0, PCI_CFG_ID));
	bus1 = inl(PCI_CFC);
	outl(PCI_CF8, pci_cf8_addr(255, 31, 7, PCI_CFG_ID));
	bus255 = inl(PCI_CFC);
	/* Enable bit clear, pointing at the host bridge: not a config cycle. */
	outl(PCI_CF8, pci_cf8_addr(0, 0, 0, PCI_CFG_ID) & ~PCI_CF8_ENABLE);
	off32 = inl(PCI_CFC);
	outl(PCI_CF8, pci_cf8_addr(0, 0, 0, PCI_CFG_CLASS) & ~PCI_CF8_ENABLE);
	off16 = inw(PCI_CFC + 2);
	off8 = inb(PCI_CFC + 3);
	outl(PCI_CF8, 0);
	pci_n_cf8 += 10;
	/* ECAM beyond bus 0 is only touched where MCFG says it is ECAM. */
	bool ecam_bus1 = pci_ecam_base && pci_ecam_end_bus >= 1;
	if (ecam_bus1 && phys_map_uc(pci_ecam_base + PCI_ECAM_BUS_SIZE, 4)) {
		ecam1 = *(volatile uint32_t *)(uintptr_t)(pci_ecam_base + PCI_ECAM_BUS_SIZE);
		pci_n_ecam++;
	}
	bool ok = bus1 == PCI_ALL_ONES && bus255 == PCI_ALL_ONES && off32 == PCI_ALL_ONES && off16 == 0xFFFF &&
	          off8 == 0xFF && ecam1 == PCI_ALL_ONES;
	char e[64];
	if (ecam_bus1)
		gsnprintf(e, sizeof(e), "ECAM 01:00.0 0x%x", ecam1);
	else
		gsnprintf(e, sizeof(e), "ECAM beyond bus %u not in MCFG, not touched", pci_ecam_end_bus);
	check("pci_ecam_bounds", ok, "PCI_CF8 01:00.0 0x%x, ff:1f.7 0x%x; enable clear: dword 0x%x "
	      "word 0x%x byte 0x%x; %s", bus1, bus255, off32, off16, off8, e);
}

/* --- pci_bar_sizing (Linux drivers/pci/probe.c __pci_read_base, PCI 3.0 6.2.5.1) --- */

struct size_result {
	unsigned bars, funcs;
	char why[120];
};

static void size_fn(struct pci_fn *f, struct size_result *r)
{
	unsigned d = f->dev, fn = f->fn, nregs = (pci_htype(f) & 0x7F) == 0 ? 6 :
	                                    (pci_htype(f) & 0x7F) == 1 ? 2 : 0;
	uint32_t orig[6], probe[6], after[6];
	if (!nregs)
		return;
	uint16_t cmd = cf8_rd16(d, fn, PCI_CFG_COMMAND);
	/* Linux leaves host bridges decoding (mmio_always_on); everything else: decode off. */
	bool toggle = !pci_is_host_bridge(f) && (cmd & (PCI_CMD_IO | PCI_CMD_MEM));
	for (unsigned i = 0; i < nregs; i++)
		orig[i] = cf8_rd32(d, fn, PCI_CFG_BAR0 + 4 * i);
	if (toggle)
		cf8_wr16(d, fn, PCI_CFG_COMMAND, (uint16_t)(cmd & ~(PCI_CMD_IO | PCI_CMD_MEM)));
	for (unsigned i = 0; i < nregs; i++) {
		cf8_wr32(d, fn, PCI_CFG_BAR0 + 4 * i, PCI_ALL_ONES);
		probe[i] = cf8_rd32(d, fn, PCI_CFG_BAR0 + 4 * i);
		bool mem64 = !(orig[i] & 1) && ((orig[i] >> 1) & 3) == 2 && i + 1 < nregs;
		if (mem64) {
			cf8_wr32(d, fn, PCI_CFG_BAR0 + 4 * (i + 1), PCI_ALL_ONES);
			probe[i + 1] = cf8_rd32(d, fn, PCI_CFG_BAR0 + 4 * (i + 1));
			cf8_wr32(d, fn, PCI_CFG_BAR0 + 4 * i, orig[i]);
			cf8_wr32(d, fn, PCI_CFG_BAR0 + 4 * (i + 1), orig[i + 1]);
			i++;
		} else {
			cf8_wr32(d, fn, PCI_CFG_BAR0 + 4 * i, orig[i]);
		}
	}
	if (toggle)
		cf8_wr16(d, fn, PCI_CFG_COMMAND, cmd);
	for (unsigned i = 0; i < nregs; i++)
		after[i] = cf8_rd32(d, fn, PCI_CFG_BAR0 + 4 * i);
	uint16_t cmd_after = cf8_rd16(d, fn, PCI_CFG_COMMAND);

	/* Decode and judge (printing only now, with decode back on). */
	f->nbars = 0;
	bool any = false;
	for (unsigned i = 0; i < nregs; i++) {
		struct pci_bar b = { .reg = (uint8_t)(PCI_CFG_BAR0 + 4 * i) };
		uint32_t lo = probe[i], type_mask;
		uint64_t mask;
		if (orig[i] & 1) {
			b.kind = BAR_IO;
			type_mask = 0x1;
			mask = lo & ~3u;
			if (!(lo >> 16))
				mask |= 0xFFFF0000u;    /* 16-bit I/O decode: upper half hardwired 0 */
			mask |= ~0ULL << 32;
			b.addr = orig[i] & ~3u;
		} else if (((orig[i] >> 1) & 3) == 2 && i + 1 < nregs) {
			b.kind = BAR_MEM64;
			type_mask = 0xF;
			mask = ((uint64_t)probe[i + 1] << 32) | (lo & ~0xFu);
			b.addr = ((uint64_t)orig[i + 1] << 32) | (orig[i] & ~0xFu);
		} else {
			b.kind = BAR_MEM32;
			type_mask = 0xF;
			mask = (lo & ~0xFu) | (~0ULL << 32);
			b.addr = orig[i] & ~0xFu;
		}
		b.pref = b.kind != BAR_IO && (orig[i] & 8);
		unsigned regs = b.kind == BAR_MEM64 ? 2 : 1;
		bool implemented = b.kind == BAR_IO ? (lo & ~3u) != 0 :
		                   b.kind == BAR_MEM64 ? ((lo & ~0xFu) | probe[i + 1]) != 0 :
		                   (lo & ~0xFu) != 0;
		if (!implemented) {
			i += regs - 1;
			continue;
		}
		b.size = ~mask + 1;
		uint64_t min = b.kind == BAR_IO ? 4 : 16;
		bool ok = pci_is_pow2(b.size) && b.size >= min && (lo & type_mask) == (orig[i] & type_mask) &&
		          !(b.addr & (b.size - 1));
		for (unsigned k = 0; k < regs; k++)
			ok = ok && after[i + k] == orig[i + k];
		gprintf("pci: 00:%02x.%u bar%u %s%s addr 0x%lx size 0x%lx (probe 0x%x%s)\n", d, fn,
		        i, kind_name[b.kind], b.pref ? " pref" : "", b.addr, b.size, lo,
		        b.kind == BAR_MEM64 ? " hi" : "");
		if (!ok && !r->why[0])
			gsnprintf(r->why, sizeof(r->why), "; 00:%02x.%u bar%u: probe 0x%x orig 0x%x "
			          "restored 0x%x, size 0x%lx", d, fn, i, lo, orig[i], after[i], b.size);
		r->bars++;
		any = true;
		if (f->nbars < 6)
			f->bar[f->nbars++] = b;
		i += regs - 1;
	}
	if (cmd_after != cmd && !r->why[0])
		gsnprintf(r->why, sizeof(r->why), "; 00:%02x.%u COMMAND 0x%x after sizing, was 0x%x",
		          d, fn, cmd_after, cmd);
	if (any)
		r->funcs++;
}

static void bar_overlaps(struct size_result *r)
{
	for (unsigned i = 0; i < pci_nfns && !r->why[0]; i++)
		for (unsigned j = 0; j < pci_fns[i].nbars && !r->why[0]; j++) {
			const struct pci_bar *a = &pci_fns[i].bar[j];
			if (a->kind == BAR_IO || !a->addr)
				continue;
			if (memmap_overlaps(a->addr, a->size) ||
			    (pci_ecam_base && pci_ranges_overlap(a->addr, a->size, pci_ecam_base,
			                                 (pci_ecam_end_bus + 1) * PCI_ECAM_BUS_SIZE)))
				gsnprintf(r->why, sizeof(r->why), "; 00:%02x.%u BAR at 0x%x overlaps the "
				          "memory map or ECAM", pci_fns[i].dev, pci_fns[i].fn, a->reg);
			for (unsigned k = i; k < pci_nfns && !r->why[0]; k++)
				for (unsigned l = (k == i ? j + 1 : 0); l < pci_fns[k].nbars; l++) {
					const struct pci_bar *b = &pci_fns[k].bar[l];
					if (b->kind != BAR_IO && b->addr &&
					    pci_ranges_overlap(a->addr, a->size, b->addr, b->size))
						gsnprintf(r->why, sizeof(r->why), "; BARs 00:%02x.%u@0x%x and "
						          "00:%02x.%u@0x%x overlap", pci_fns[i].dev, pci_fns[i].fn,
						          a->reg, pci_fns[k].dev, pci_fns[k].fn, b->reg);
				}
		}
}

static void check_bar_sizing(void)
{
	struct size_result r = { 0 };
	unsigned c0 = pci_n_cf8;
	for (unsigned i = 0; i < pci_nfns; i++)
		size_fn(&pci_fns[i], &r);
	bar_overlaps(&r);
	if (!r.bars)
		check("pci_bar_sizing", !r.why[0], "no BARs on %u function%s%s", pci_nfns,
		      pci_nfns == 1 ? "" : "s", r.why);
	else
		check("pci_bar_sizing", !r.why[0], "%u BARs on %u functions sized and restored, "
		      "decode restored, no overlaps; cf8 accesses %u%s", r.bars, r.funcs, pci_n_cf8 - c0, r.why);
}

/* --- pci_bar_move --- */


struct probe_val {
	uint32_t first;       /* unknown device: the BAR's first dword */
	uint16_t numq;        /* virtio: num_queues */
	uint32_t feat1;       /* virtio: device_feature with select 1 */
	uint32_t sel;         /* virtio: device_feature_select read back */
};

/* Read the device through a BAR at `base`; for virtio also drive device_feature_select. */
static void probe_bar(uint64_t base, int64_t voff, struct probe_val *v)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)base;
	memset(v, 0, sizeof(*v));
	v->first = *(volatile uint32_t *)p;
	if (voff < 0)
		return;
	volatile uint8_t *c = p + voff;
	v->numq = *(volatile uint16_t *)(c + VCOMMON_NUMQ);
	*(volatile uint32_t *)(c + VCOMMON_DFSELECT) = 1;
	v->sel = *(volatile uint32_t *)(c + VCOMMON_DFSELECT);
	v->feat1 = *(volatile uint32_t *)(c + VCOMMON_DFEATURE);
	*(volatile uint32_t *)(c + VCOMMON_DFSELECT) = 0;
}

static void check_bar_move(const struct pci_opts *o)
{
	if (!o->barmove) {
		check("pci_bar_move", true, "skipped (no barmove=1)");
		return;
	}
	/* A virtio function's common-config BAR first, else the first assigned memory BAR. */
	struct pci_fn *f = NULL;
	struct pci_bar *b = NULL;
	int64_t voff = -1;
	for (unsigned i = 0; i < pci_nfns && !b; i++) {
		uint32_t off;
		int bi = pci_virtio_common(&pci_fns[i], &off);
		for (unsigned j = 0; bi >= 0 && j < pci_fns[i].nbars; j++)
			if (pci_fns[i].bar[j].reg == PCI_CFG_BAR0 + 4 * bi && pci_fns[i].bar[j].kind != BAR_IO &&
			    pci_fns[i].bar[j].addr && off + 0x20 <= pci_fns[i].bar[j].size)
				f = &pci_fns[i], b = &pci_fns[i].bar[j], voff = off;
	}
	for (unsigned i = 0; i < pci_nfns && !b; i++)
		for (unsigned j = 0; j < pci_fns[i].nbars && !b; j++)
			if (!pci_is_host_bridge(&pci_fns[i]) && pci_fns[i].bar[j].kind != BAR_IO && pci_fns[i].bar[j].addr)
				f = &pci_fns[i], b = &pci_fns[i].bar[j];
	if (!b) {
		check("pci_bar_move", true, "skipped: no function with an assigned memory BAR");
		return;
	}
	/*
	 * The new place: in win32 for a BAR below 4 GiB; for a 64-bit BAR above 4 GiB in win64
	 * if given, else just above its current range (current + size, naturally aligned,
	 * within 64 sizes). Never over another BAR, the memory map or the ECAM.
	 */
	uint64_t old = b->addr, nu;
	char where[48];
	if (old < FOUR_GIB) {
		nu = pci_find_free(o->win32_lo, o->win32_hi, b->size, b);
		gsnprintf(where, sizeof(where), "win32 0x%lx-0x%lx", o->win32_lo, o->win32_hi);
	} else if (o->win64_hi) {
		nu = pci_find_free(o->win64_lo, o->win64_hi, b->size, b);
		gsnprintf(where, sizeof(where), "win64 0x%lx-0x%lx", o->win64_lo, o->win64_hi);
	} else {
		uint64_t al = b->size < GUEST_PAGE ? GUEST_PAGE : b->size;
		nu = pci_find_free(old + b->size, pci_align_up(old + b->size, al) + 64 * al - 1, b->size, b);
		gsnprintf(where, sizeof(where), "just above it");
	}
	char name[48];
	gsnprintf(name, sizeof(name), "00:%02x.%u %04x:%04x bar%u", f->dev, f->fn, pci_vendor(f),
	          pci_device(f), (b->reg - PCI_CFG_BAR0) / 4);
	if (!nu) {
		check("pci_bar_move", false, "%s %s 0x%lx size 0x%lx: no free aligned range %s", name,
		      kind_name[b->kind], old, b->size, where);
		return;
	}
	uint64_t span = b->size < GUEST_PAGE ? b->size : GUEST_PAGE;
	if (!phys_map_uc(old, span) || !phys_map_uc(nu, span)) {
		check("pci_bar_move", false, "%s: cannot map 0x%lx or 0x%lx", name, old, nu);
		return;
	}
	/* Decode off (no firmware ran): enable it first, as an OS does (pci_enable_device). */
	uint16_t cmd0 = ecam_rd16(f->dev, f->fn, PCI_CFG_COMMAND), cmd = cmd0 | PCI_CMD_MEM;
	if (cmd != cmd0)
		ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, cmd);
	struct probe_val before, at_new, back;
	probe_bar(old, voff, &before);
	pci_bar_program(f, b, nu, cmd);
	uint64_t reg_new = pci_bar_get(f, b);
	probe_bar(nu, voff, &at_new);
	/*
	 * Nothing may answer at the old address any more: an unclaimed read is all-ones under
	 * vireo, zero under QEMU (unassigned memory); unclaimed=ones insists on all-ones. For
	 * virtio, a device_feature_select write there must not reach the device.
	 */
	volatile uint8_t *op = (volatile uint8_t *)(uintptr_t)old;
	uint32_t old_first = *(volatile uint32_t *)op, old_sel = 0;
	uint16_t old_numq = 0;
	if (voff >= 0) {
		old_numq = *(volatile uint16_t *)(op + voff + VCOMMON_NUMQ);
		*(volatile uint32_t *)(op + voff + VCOMMON_DFSELECT) = 1;
		old_sel = *(volatile uint32_t *)(uintptr_t)(nu + voff + VCOMMON_DFSELECT);
	}
	bool old_ones = old_first == PCI_ALL_ONES && (voff < 0 || old_numq == 0xFFFF);
	bool old_zero = old_first == 0 && (voff < 0 || old_numq == 0);
	bool old_gone = (old_ones || (old_zero && !o->unclaimed_ones)) && old_sel == 0;
	pci_bar_program(f, b, old, cmd);
	uint64_t reg_back = pci_bar_get(f, b);
	probe_bar(old, voff, &back);
	if (cmd != cmd0)
		ecam_wr16(f->dev, f->fn, PCI_CFG_COMMAND, cmd0);
	const char *dec = cmd != cmd0 ? "; decode was off: on for the move" : "";

	char why[120] = "";
	bool ok = true;
	if (reg_new != nu || reg_back != old)
		gsnprintf(why, sizeof(why), "; BAR read back 0x%lx after the move, 0x%lx after the "
		          "move back", reg_new, reg_back), ok = false;
	else if (voff >= 0 && (at_new.numq != before.numq || at_new.numq == 0xFFFF ||
	                       at_new.numq == 0 || at_new.sel != 1 || !(at_new.feat1 & 1)))
		gsnprintf(why, sizeof(why), "; at the new address num_queues %u (was %u), "
		          "feature_select %u, features[63:32] 0x%x (want VERSION_1)", at_new.numq,
		          before.numq, at_new.sel, at_new.feat1), ok = false;
	else if (voff < 0 && (at_new.first == PCI_ALL_ONES || at_new.first != before.first))
		gsnprintf(why, sizeof(why), "; first dword 0x%x at the new address, was 0x%x",
		          at_new.first, before.first), ok = false;
	else if (!old_gone)
		gsnprintf(why, sizeof(why), "; old address reads 0x%x (num_queues 0x%x), want "
		          "all-ones%s; a select write there reached the device: %s", old_first, old_numq,
		          o->unclaimed_ones ? "" : " or zero", old_sel ? "yes" : "no"), ok = false;
	else if (back.first != before.first || (voff >= 0 && back.numq != before.numq))
		gsnprintf(why, sizeof(why), "; after moving back reads 0x%x (num_queues %u), was 0x%x",
		          back.first, back.numq, before.first), ok = false;
	if (voff >= 0)
		check("pci_bar_move", ok, "%s %s size 0x%lx 0x%lx -> 0x%lx (%s) -> back: virtio common "
		      "cfg num_queues %u, VERSION_1 at the new address; old address reads %s, writes "
		      "ignored%s%s", name, kind_name[b->kind], b->size, old, nu, where, at_new.numq,
		      old_ones ? "all-ones" : old_zero ? "zero" : "other", dec, why);
	else
		check("pci_bar_move", ok, "%s %s size 0x%lx 0x%lx -> 0x%lx (%s) -> back: first dword "
		      "0x%x at the new address; old address reads %s%s%s", name, kind_name[b->kind],
		      b->size, old, nu, where, at_new.first,
		      old_ones ? "all-ones" : old_zero ? "zero" : "other", dec, why);
}

void pci_checks(const struct pci_opts *o)
{
	clock_start();              /* the timer test left the LAPIC timer expired */
	uint64_t t0 = clock_us();
	check_mcfg();
	check_cf8_probe();
	check_enum();
	check_host_bridge(o);
	check_bounds();
	check_bar_sizing();
	check_bar_move(o);
	gprintf("pci: config accesses in all PCI checks: cf8 %u, ecam %u; %lu us (LAPIC clock)\n",
	        pci_n_cf8, pci_n_ecam, clock_us() - t0);
}
