/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: PCI segment 0 checks. Config access through CONFIG_ADDRESS/CONFIG_DATA
 * (PCI 3.0 3.2.2.3.2) and through ECAM (PCIe base 7.2.2) found in the ACPI MCFG table (PCI
 * Firmware 3.x 4.1.2); the type-0/1 header (PCI 3.0 6.1-6.2), BAR sizing (6.2.5.1) and a BAR
 * move. Only bus 0 is looked at. Every config access is counted (one port or MMIO access =
 * one VM exit), so the cost of a scan can be compared between VMMs. See README.md.
 */
#include "guest.h"

#define CF8               0xCF8
#define CFC               0xCFC
#define CF8_ENABLE        0x80000000u
#define ALL_ONES          0xFFFFFFFFu
#define ECAM_BUS_SIZE     0x100000ULL     /* 32 devices x 8 functions x 4 KiB */

#define CFG_ID            0x00
#define CFG_COMMAND       0x04
#define CFG_STATUS        0x06
#define CFG_CLASS         0x08            /* revision, prog-if, subclass, class */
#define CFG_HEADER        0x0E
#define CFG_BAR0          0x10
#define CFG_CAP_PTR       0x34
#define CMD_IO            0x1
#define CMD_MEM           0x2
#define CMD_RESERVED      0xF800          /* bits 15:11 */
#define STATUS_RESERVED   0x0007          /* bits 2:0 */
#define STATUS_CAP_LIST   0x0010
#define HDR_MULTI         0x80
#define CLASS_HOST_BRIDGE 0x0600

#define VIRTIO_VENDOR     0x1AF4
#define CAP_VENDOR        0x09
#define VIRTIO_CAP_COMMON 1
#define VCOMMON_DFSELECT  0x00            /* device_feature_select */
#define VCOMMON_DFEATURE  0x04
#define VCOMMON_NUMQ      0x12

#define MAX_FN            32
#define HDR_DWORDS        16              /* 0x00-0x3F, compared both ways */

enum bar_kind { BAR_NONE, BAR_IO, BAR_MEM32, BAR_MEM64 };
static const char *const kind_name[] = { "none", "io", "mem32", "mem64" };

struct bar {
	uint8_t reg;                  /* config offset of the (low) register */
	uint8_t kind;
	bool pref;
	uint64_t addr, size;
};

struct pfn {
	uint8_t dev, fn;
	uint32_t hdr[HDR_DWORDS];     /* as read through CF8 during the enumeration */
	unsigned nbars;
	struct bar bar[6];
};

static struct pfn fns[MAX_FN];
static unsigned nfns, fns_dropped;
static uint64_t ecam_base;        /* bus 0; 0: no usable MCFG entry */
static unsigned ecam_end_bus;
static unsigned n_cf8, n_ecam;    /* port (0xCF8-0xCFF) / ECAM accesses so far, all checks */

static uint16_t f_vendor(const struct pfn *f) { return (uint16_t)f->hdr[0]; }
static uint16_t f_device(const struct pfn *f) { return (uint16_t)(f->hdr[0] >> 16); }
static uint32_t f_class(const struct pfn *f) { return f->hdr[2] >> 8; }      /* class:sub:if */
static uint8_t f_htype(const struct pfn *f) { return (uint8_t)(f->hdr[3] >> 16); }
static bool is_host_bridge(const struct pfn *f) { return (f_class(f) >> 8) == CLASS_HOST_BRIDGE; }
static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* --- CONFIG_ADDRESS / CONFIG_DATA (bus 0 unless told) --- */

static uint32_t cf8_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return CF8_ENABLE | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC);
}

static void cf8_select(uint32_t a)
{
	outl(CF8, a);
	n_cf8++;
}

static uint32_t cf8_rd32(unsigned dev, unsigned fn, unsigned reg)
{
	cf8_select(cf8_addr(0, dev, fn, reg));
	n_cf8++;
	return inl(CFC);
}

static uint16_t cf8_rd16(unsigned dev, unsigned fn, unsigned reg)
{
	cf8_select(cf8_addr(0, dev, fn, reg));
	n_cf8++;
	return inw((uint16_t)(CFC + (reg & 2)));
}

static uint8_t cf8_rd8(unsigned dev, unsigned fn, unsigned reg)
{
	cf8_select(cf8_addr(0, dev, fn, reg));
	n_cf8++;
	return inb((uint16_t)(CFC + (reg & 3)));
}

static void cf8_wr32(unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	cf8_select(cf8_addr(0, dev, fn, reg));
	n_cf8++;
	outl(CFC, v);
}

static void cf8_wr16(unsigned dev, unsigned fn, unsigned reg, uint16_t v)
{
	cf8_select(cf8_addr(0, dev, fn, reg));
	n_cf8++;
	outw((uint16_t)(CFC + (reg & 2)), v);
}

/* --- ECAM, bus 0 only (the only bus both VMMs' MCFG cover that we touch) --- */

static volatile void *ecam_at(unsigned dev, unsigned fn, unsigned reg)
{
	return (volatile void *)(uintptr_t)(ecam_base + (dev << 15 | fn << 12 | reg));
}

static uint32_t ecam_rd32(unsigned dev, unsigned fn, unsigned reg)
{
	n_ecam++;
	return *(volatile uint32_t *)ecam_at(dev, fn, reg);
}

static uint16_t ecam_rd16(unsigned dev, unsigned fn, unsigned reg)
{
	n_ecam++;
	return *(volatile uint16_t *)ecam_at(dev, fn, reg);
}

static uint8_t ecam_rd8(unsigned dev, unsigned fn, unsigned reg)
{
	n_ecam++;
	return *(volatile uint8_t *)ecam_at(dev, fn, reg);
}

static void ecam_wr32(unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	n_ecam++;
	*(volatile uint32_t *)ecam_at(dev, fn, reg) = v;
}

static void ecam_wr16(unsigned dev, unsigned fn, unsigned reg, uint16_t v)
{
	n_ecam++;
	*(volatile uint16_t *)ecam_at(dev, fn, reg) = v;
}

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
	uint64_t span = (uint64_t)(end + 1) * ECAM_BUS_SIZE;
	char why[96] = "";
	bool ok = base && !(base & (ECAM_BUS_SIZE - 1)) && end >= e[10];
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
	if (ok && !phys_map_uc(base, ECAM_BUS_SIZE)) {
		ok = false;
		gsnprintf(why, sizeof(why), ", cannot map it");
	}
	if (ok) {
		ecam_base = base;
		ecam_end_bus = end;
		if (!subdword_agree(true, 0, 0, CFG_ID, why + 2, sizeof(why) - 2) ||
		    !subdword_agree(true, 0, 0, CFG_CLASS, why + 2, sizeof(why) - 2)) {
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
	uint32_t saved = inl(CF8);
	outl(CF8, CF8_ENABLE);
	uint32_t probe = inl(CF8);
	outl(CF8, saved);
	uint32_t restored = inl(CF8);
	n_cf8 += 6;
	char why[96] = "";
	bool ok = probe == CF8_ENABLE && restored == saved;
	if (!ok)
		gsnprintf(why, sizeof(why), ", probe read 0x%x (want 0x80000000), restore read 0x%x",
		          probe, restored);
	/* Sanity scan: some function on bus 0 is a host bridge/VGA or has an Intel/Compaq ID. */
	unsigned devfn = 0;
	for (; ok && devfn < 256; devfn++) {
		uint16_t cls = cf8_rd16(devfn >> 3, devfn & 7, CFG_CLASS + 2);
		uint16_t ven = cf8_rd16(devfn >> 3, devfn & 7, CFG_ID);
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
		ok = subdword_agree(false, d, f, CFG_ID, why + 2, sizeof(why) - 2) &&
		     subdword_agree(false, d, f, CFG_CLASS, why + 2, sizeof(why) - 2) &&
		     subdword_agree(false, d, f, 0x0C, why + 2, sizeof(why) - 2);
		if (!ok)
			why[0] = ',', why[1] = ' ';
	}
	check("pci_cf8_probe", ok, "type 1: 0xCF8 read 0x%x after outl 0x80000000, saved 0x%x "
	      "restored; sanity at 00:%02x.%u; 0xCFC+0..3 byte/word reads agree%s", probe, saved,
	      devfn >> 3, devfn & 7, why);
}

/* --- pci_enum_agree --- */

static void print_fn(char *buf, size_t size, const struct pfn *f)
{
	gsnprintf(buf, size, "00:%02x.%u %04x:%04x %04x", f->dev, f->fn, f_vendor(f), f_device(f),
	          f_class(f) >> 8);
}

static void check_enum(void)
{
	unsigned mism = 0, absent_bad = 0, bad_dev = 0, bad_fn = 0, bad_reg = 0;
	uint32_t bad_cf8 = 0, bad_ecam = 0;
	if (!ecam_base) {
		check("pci_enum_agree", false, "no ECAM from MCFG: nothing to compare with");
		return;
	}
	unsigned c0 = n_cf8, m0 = n_ecam;
	uint64_t t0 = clock_us();
	nfns = fns_dropped = 0;
	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			uint32_t a = cf8_rd32(dev, fn, CFG_ID), b = ecam_rd32(dev, fn, CFG_ID);
			bool absent_a = (uint16_t)a == 0xFFFF, absent_b = (uint16_t)b == 0xFFFF;
			if (absent_a && absent_b) {
				if (a != ALL_ONES || b != ALL_ONES) {
					absent_bad++;
					bad_dev = dev, bad_fn = fn, bad_cf8 = a, bad_ecam = b;
				}
				if (fn == 0)
					break;
				continue;
			}
			struct pfn tmp, *f = nfns < MAX_FN ? &fns[nfns] : &tmp;
			memset(f, 0, sizeof(*f));
			f->dev = (uint8_t)dev;
			f->fn = (uint8_t)fn;
			f->hdr[0] = a;
			if (a != b && mism++ == 0)
				bad_dev = dev, bad_fn = fn, bad_reg = 0, bad_cf8 = a, bad_ecam = b;
			for (unsigned r = 1; r < HDR_DWORDS; r++) {
				f->hdr[r] = cf8_rd32(dev, fn, 4 * r);
				uint32_t e = ecam_rd32(dev, fn, 4 * r);
				if (e != f->hdr[r] && mism++ == 0)
					bad_dev = dev, bad_fn = fn, bad_reg = 4 * r, bad_cf8 = f->hdr[r],
					bad_ecam = e;
			}
			if (nfns < MAX_FN)
				nfns++;
			else
				fns_dropped++;
			if (fn == 0 && !(f_htype(f) & HDR_MULTI))
				break;
		}
	}
	unsigned c = n_cf8 - c0, m = n_ecam - m0;
	uint64_t us = clock_us() - t0;
	char list[200] = "", why[120] = "";
	size_t at = 0;
	for (unsigned i = 0; i < nfns; i++) {
		char one[40];
		print_fn(one, sizeof(one), &fns[i]);
		gprintf("pci: %s hdr 0x%02x cmd 0x%04x status 0x%04x\n", one, f_htype(&fns[i]),
		        fns[i].hdr[1] & 0xFFFF, fns[i].hdr[1] >> 16);
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
		gsnprintf(why, sizeof(why), "; %u functions beyond %u not recorded", fns_dropped, MAX_FN);
	check("pci_enum_agree", !mism && !absent_bad && nfns > 0,
	      "%u function%s (%s); cf8 accesses %u, ecam accesses %u, %lu us%s", nfns + fns_dropped,
	      nfns + fns_dropped == 1 ? "" : "s", list, c, m, us, why);
}

/* --- pci_host_bridge --- */

static void check_host_bridge(const struct pci_opts *o)
{
	const struct pfn *f = nfns && fns[0].dev == 0 && fns[0].fn == 0 ? &fns[0] : NULL;
	if (!f) {
		check("pci_host_bridge", false, "00:00.0 absent");
		return;
	}
	uint16_t cmd = (uint16_t)f->hdr[1], status = (uint16_t)(f->hdr[1] >> 16);
	char why[120] = "", want[40] = "";
	bool ok = true;
	if (!is_host_bridge(f)) {
		ok = false;
		gsnprintf(why, sizeof(why), ", class 0x%06x is not a host bridge (0x0600xx)", f_class(f));
	} else if ((f_htype(f) & 0x7F) != 0) {
		ok = false;
		gsnprintf(why, sizeof(why), ", header layout %u, want 0", f_htype(f) & 0x7F);
	} else if ((cmd & CMD_RESERVED) || (status & STATUS_RESERVED)) {
		ok = false;
		gsnprintf(why, sizeof(why), ", reserved COMMAND/STATUS bits set");
	}
	if (o->want_hb) {
		gsnprintf(want, sizeof(want), " (hostbridge=%04x:%04x)", o->hb_vendor, o->hb_device);
		if (ok && (f_vendor(f) != o->hb_vendor || f_device(f) != o->hb_device)) {
			ok = false;
			gsnprintf(why, sizeof(why), ", vendor:device differs");
		}
	}
	/* Capability list: bounded walk, pointers dword-aligned in 0x40-0xFF (PCI 3.0 6.7). */
	unsigned caps = 0;
	if (ok && (status & STATUS_CAP_LIST)) {
		unsigned p = ecam_rd8(0, 0, CFG_CAP_PTR) & 0xFC;   /* bits 1:0 reserved */
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
	      "status 0x%04x, %u capabilities%s", f_vendor(f), f_device(f), want, f_class(f),
	      f_htype(f), cmd, status, caps, why);
}

/* --- pci_ecam_bounds --- */

static void check_bounds(void)
{
	uint32_t bus1, bus255, off32, ecam1 = ALL_ONES;
	uint16_t off16;
	uint8_t off8;
	outl(CF8, cf8_addr(1, 0, 0, CFG_ID));
	bus1 = inl(CFC);
	outl(CF8, cf8_addr(255, 31, 7, CFG_ID));
	bus255 = inl(CFC);
	/* Enable bit clear, pointing at the host bridge: not a config cycle. */
	outl(CF8, cf8_addr(0, 0, 0, CFG_ID) & ~CF8_ENABLE);
	off32 = inl(CFC);
	outl(CF8, cf8_addr(0, 0, 0, CFG_CLASS) & ~CF8_ENABLE);
	off16 = inw(CFC + 2);
	off8 = inb(CFC + 3);
	outl(CF8, 0);
	n_cf8 += 10;
	/* ECAM beyond bus 0 is only touched where MCFG says it is ECAM. */
	bool ecam_bus1 = ecam_base && ecam_end_bus >= 1;
	if (ecam_bus1 && phys_map_uc(ecam_base + ECAM_BUS_SIZE, 4)) {
		ecam1 = *(volatile uint32_t *)(uintptr_t)(ecam_base + ECAM_BUS_SIZE);
		n_ecam++;
	}
	bool ok = bus1 == ALL_ONES && bus255 == ALL_ONES && off32 == ALL_ONES && off16 == 0xFFFF &&
	          off8 == 0xFF && ecam1 == ALL_ONES;
	char e[64];
	if (ecam_bus1)
		gsnprintf(e, sizeof(e), "ECAM 01:00.0 0x%x", ecam1);
	else
		gsnprintf(e, sizeof(e), "ECAM beyond bus %u not in MCFG, not touched", ecam_end_bus);
	check("pci_ecam_bounds", ok, "CF8 01:00.0 0x%x, ff:1f.7 0x%x; enable clear: dword 0x%x "
	      "word 0x%x byte 0x%x; %s", bus1, bus255, off32, off16, off8, e);
}

/* --- pci_bar_sizing (Linux drivers/pci/probe.c __pci_read_base, PCI 3.0 6.2.5.1) --- */

struct size_result {
	unsigned bars, funcs;
	char why[120];
};

static void size_fn(struct pfn *f, struct size_result *r)
{
	unsigned d = f->dev, fn = f->fn, nregs = (f_htype(f) & 0x7F) == 0 ? 6 :
	                                    (f_htype(f) & 0x7F) == 1 ? 2 : 0;
	uint32_t orig[6], probe[6], after[6];
	if (!nregs)
		return;
	uint16_t cmd = cf8_rd16(d, fn, CFG_COMMAND);
	/* Linux leaves host bridges decoding (mmio_always_on); everything else: decode off. */
	bool toggle = !is_host_bridge(f) && (cmd & (CMD_IO | CMD_MEM));
	for (unsigned i = 0; i < nregs; i++)
		orig[i] = cf8_rd32(d, fn, CFG_BAR0 + 4 * i);
	if (toggle)
		cf8_wr16(d, fn, CFG_COMMAND, (uint16_t)(cmd & ~(CMD_IO | CMD_MEM)));
	for (unsigned i = 0; i < nregs; i++) {
		cf8_wr32(d, fn, CFG_BAR0 + 4 * i, ALL_ONES);
		probe[i] = cf8_rd32(d, fn, CFG_BAR0 + 4 * i);
		bool mem64 = !(orig[i] & 1) && ((orig[i] >> 1) & 3) == 2 && i + 1 < nregs;
		if (mem64) {
			cf8_wr32(d, fn, CFG_BAR0 + 4 * (i + 1), ALL_ONES);
			probe[i + 1] = cf8_rd32(d, fn, CFG_BAR0 + 4 * (i + 1));
			cf8_wr32(d, fn, CFG_BAR0 + 4 * i, orig[i]);
			cf8_wr32(d, fn, CFG_BAR0 + 4 * (i + 1), orig[i + 1]);
			i++;
		} else {
			cf8_wr32(d, fn, CFG_BAR0 + 4 * i, orig[i]);
		}
	}
	if (toggle)
		cf8_wr16(d, fn, CFG_COMMAND, cmd);
	for (unsigned i = 0; i < nregs; i++)
		after[i] = cf8_rd32(d, fn, CFG_BAR0 + 4 * i);
	uint16_t cmd_after = cf8_rd16(d, fn, CFG_COMMAND);

	/* Decode and judge (printing only now, with decode back on). */
	f->nbars = 0;
	bool any = false;
	for (unsigned i = 0; i < nregs; i++) {
		struct bar b = { .reg = (uint8_t)(CFG_BAR0 + 4 * i) };
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
		bool ok = is_pow2(b.size) && b.size >= min && (lo & type_mask) == (orig[i] & type_mask) &&
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

static bool ranges_overlap(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return a < b + bl && b < a + al;
}

/* Assigned memory BARs must not overlap each other, RAM or reserved memory, or the ECAM. */
static void bar_overlaps(struct size_result *r)
{
	for (unsigned i = 0; i < nfns && !r->why[0]; i++)
		for (unsigned j = 0; j < fns[i].nbars && !r->why[0]; j++) {
			const struct bar *a = &fns[i].bar[j];
			if (a->kind == BAR_IO || !a->addr)
				continue;
			if (memmap_overlaps(a->addr, a->size) ||
			    (ecam_base && ranges_overlap(a->addr, a->size, ecam_base,
			                                 (ecam_end_bus + 1) * ECAM_BUS_SIZE)))
				gsnprintf(r->why, sizeof(r->why), "; 00:%02x.%u BAR at 0x%x overlaps the "
				          "memory map or ECAM", fns[i].dev, fns[i].fn, a->reg);
			for (unsigned k = i; k < nfns && !r->why[0]; k++)
				for (unsigned l = (k == i ? j + 1 : 0); l < fns[k].nbars; l++) {
					const struct bar *b = &fns[k].bar[l];
					if (b->kind != BAR_IO && b->addr &&
					    ranges_overlap(a->addr, a->size, b->addr, b->size))
						gsnprintf(r->why, sizeof(r->why), "; BARs 00:%02x.%u@0x%x and "
						          "00:%02x.%u@0x%x overlap", fns[i].dev, fns[i].fn,
						          a->reg, fns[k].dev, fns[k].fn, b->reg);
				}
		}
}

static void check_bar_sizing(void)
{
	struct size_result r = { 0 };
	unsigned c0 = n_cf8;
	for (unsigned i = 0; i < nfns; i++)
		size_fn(&fns[i], &r);
	bar_overlaps(&r);
	if (!r.bars)
		check("pci_bar_sizing", !r.why[0], "no BARs on %u function%s%s", nfns,
		      nfns == 1 ? "" : "s", r.why);
	else
		check("pci_bar_sizing", !r.why[0], "%u BARs on %u functions sized and restored, "
		      "decode restored, no overlaps; cf8 accesses %u%s", r.bars, r.funcs, n_cf8 - c0, r.why);
}

/* --- pci_bar_move --- */

/* virtio 1.2 4.1.4: the common configuration capability's BAR and offset, or -1. */
static int virtio_common(const struct pfn *f, uint32_t *off)
{
	if (f_vendor(f) != VIRTIO_VENDOR || !((f->hdr[1] >> 16) & STATUS_CAP_LIST))
		return -1;
	unsigned p = ecam_rd8(f->dev, f->fn, CFG_CAP_PTR) & 0xFC;
	for (unsigned n = 0; p >= 0x40 && n < 48; n++) {
		uint32_t h = ecam_rd32(f->dev, f->fn, p);
		if ((h & 0xFF) == CAP_VENDOR && ((h >> 24) & 0xFF) == VIRTIO_CAP_COMMON) {
			*off = ecam_rd32(f->dev, f->fn, p + 8);
			return ecam_rd8(f->dev, f->fn, p + 4);
		}
		p = (h >> 8) & 0xFC;
	}
	return -1;
}

static bool range_free(uint64_t a, uint64_t size, const struct bar *self)
{
	/* IOAPIC, HPET, LAPIC, flash: [0xFEC00000, 4 GiB) is never a BAR target. */
	if (memmap_overlaps(a, size) || ranges_overlap(a, size, 0xFEC00000ULL, 0x1400000ULL) ||
	    (ecam_base && ranges_overlap(a, size, ecam_base, (ecam_end_bus + 1) * ECAM_BUS_SIZE)))
		return false;
	for (unsigned i = 0; i < nfns; i++)
		for (unsigned j = 0; j < fns[i].nbars; j++) {
			const struct bar *b = &fns[i].bar[j];
			if (b->kind != BAR_IO && b->addr && ranges_overlap(a, size, b->addr, b->size))
				return false;
		}
	return !ranges_overlap(a, size, self->addr, self->size);
}

/* First naturally aligned free range of `size` at or above `lo` ending at or below `hi`. */
static uint64_t find_free(uint64_t lo, uint64_t hi, uint64_t size, const struct bar *self)
{
	uint64_t al = size < GUEST_PAGE ? GUEST_PAGE : size;
	for (uint64_t a = align_up(lo, al); a >= lo && a + size - 1 <= hi && a + size > a; a += al)
		if (range_free(a, size, self))
			return a;
	return 0;
}

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

/* Program a memory BAR through ECAM with decode off, then restore COMMAND. */
static void bar_program(const struct pfn *f, const struct bar *b, uint64_t addr, uint16_t cmd)
{
	uint32_t type = ecam_rd32(f->dev, f->fn, b->reg) & 0xF;
	ecam_wr16(f->dev, f->fn, CFG_COMMAND, (uint16_t)(cmd & ~CMD_MEM));
	ecam_wr32(f->dev, f->fn, b->reg, (uint32_t)addr | type);
	if (b->kind == BAR_MEM64)
		ecam_wr32(f->dev, f->fn, b->reg + 4, (uint32_t)(addr >> 32));
	ecam_wr16(f->dev, f->fn, CFG_COMMAND, cmd);
}

static uint64_t bar_read(const struct pfn *f, const struct bar *b)
{
	uint64_t a = ecam_rd32(f->dev, f->fn, b->reg) & ~0xFu;
	if (b->kind == BAR_MEM64)
		a |= (uint64_t)ecam_rd32(f->dev, f->fn, b->reg + 4) << 32;
	return a;
}

static void check_bar_move(const struct pci_opts *o)
{
	if (!o->barmove) {
		check("pci_bar_move", true, "skipped (no barmove=1)");
		return;
	}
	/* A virtio function's common-config BAR first, else the first assigned memory BAR. */
	struct pfn *f = NULL;
	struct bar *b = NULL;
	int64_t voff = -1;
	for (unsigned i = 0; i < nfns && !b; i++) {
		uint32_t off;
		int bi = virtio_common(&fns[i], &off);
		for (unsigned j = 0; bi >= 0 && j < fns[i].nbars; j++)
			if (fns[i].bar[j].reg == CFG_BAR0 + 4 * bi && fns[i].bar[j].kind != BAR_IO &&
			    fns[i].bar[j].addr && off + 0x20 <= fns[i].bar[j].size)
				f = &fns[i], b = &fns[i].bar[j], voff = off;
	}
	for (unsigned i = 0; i < nfns && !b; i++)
		for (unsigned j = 0; j < fns[i].nbars && !b; j++)
			if (!is_host_bridge(&fns[i]) && fns[i].bar[j].kind != BAR_IO && fns[i].bar[j].addr)
				f = &fns[i], b = &fns[i].bar[j];
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
		nu = find_free(o->win32_lo, o->win32_hi, b->size, b);
		gsnprintf(where, sizeof(where), "win32 0x%lx-0x%lx", o->win32_lo, o->win32_hi);
	} else if (o->win64_hi) {
		nu = find_free(o->win64_lo, o->win64_hi, b->size, b);
		gsnprintf(where, sizeof(where), "win64 0x%lx-0x%lx", o->win64_lo, o->win64_hi);
	} else {
		uint64_t al = b->size < GUEST_PAGE ? GUEST_PAGE : b->size;
		nu = find_free(old + b->size, align_up(old + b->size, al) + 64 * al - 1, b->size, b);
		gsnprintf(where, sizeof(where), "just above it");
	}
	char name[48];
	gsnprintf(name, sizeof(name), "00:%02x.%u %04x:%04x bar%u", f->dev, f->fn, f_vendor(f),
	          f_device(f), (b->reg - CFG_BAR0) / 4);
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
	uint16_t cmd = ecam_rd16(f->dev, f->fn, CFG_COMMAND);
	if (!(cmd & CMD_MEM)) {
		check("pci_bar_move", true, "skipped: %s has memory decode off", name);
		return;
	}
	struct probe_val before, at_new, back;
	probe_bar(old, voff, &before);
	bar_program(f, b, nu, cmd);
	uint64_t reg_new = bar_read(f, b);
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
	bool old_ones = old_first == ALL_ONES && (voff < 0 || old_numq == 0xFFFF);
	bool old_zero = old_first == 0 && (voff < 0 || old_numq == 0);
	bool old_gone = (old_ones || (old_zero && !o->unclaimed_ones)) && old_sel == 0;
	bar_program(f, b, old, cmd);
	uint64_t reg_back = bar_read(f, b);
	probe_bar(old, voff, &back);

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
	else if (voff < 0 && (at_new.first == ALL_ONES || at_new.first != before.first))
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
		      "ignored%s", name, kind_name[b->kind], b->size, old, nu, where, at_new.numq,
		      old_ones ? "all-ones" : old_zero ? "zero" : "other", why);
	else
		check("pci_bar_move", ok, "%s %s size 0x%lx 0x%lx -> 0x%lx (%s) -> back: first dword "
		      "0x%x at the new address; old address reads %s%s", name, kind_name[b->kind],
		      b->size, old, nu, where, at_new.first,
		      old_ones ? "all-ones" : old_zero ? "zero" : "other", why);
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
	        n_cf8, n_ecam, clock_us() - t0);
}
