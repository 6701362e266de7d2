/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: ACPI table discovery and the fixed-hardware / hardware-reduced
 * sleep and reset registers. Section numbers are ACPI 6.x.
 */
#include "guest.h"

struct acpi_info acpi;

/* FADT field offsets (5.2.9, Table 5.9). */
#define FADT_FIRMWARE_CTRL  36
#define FADT_DSDT           40
#define FADT_PM1A_CNT_BLK   64
#define FADT_PM1B_CNT_BLK   68
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT         140
#define FADT_X_PM1A_CNT     172
#define FADT_X_PM1B_CNT     184
#define FADT_SLEEP_CONTROL  244

#define GAS_SPACE_MEMORY 0
#define GAS_SPACE_IO     1

static uint8_t sum8(const uint8_t *p, uint64_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* RSDP (5.2.5.3): "RSD PTR ", checksum over bytes 0-19; rev >= 2 adds one over all 36. */
static bool rsdp_valid(uint64_t pa, bool *sums_ok)
{
	const uint8_t *p = phys_ptr(pa, 36);
	if (!p || memcmp(p, "RSD PTR ", 8) != 0)
		return false;
	bool ok = sum8(p, 20) == 0;
	if (p[15] >= 2)
		ok = ok && sum8(p, 36) == 0;
	*sums_ok = ok;
	return true;
}

/* 5.2.5.1: first KiB of the EBDA, then 0xE0000-0xFFFFF, on 16-byte boundaries. */
static uint64_t rsdp_scan(void)
{
	bool dummy;
	const uint16_t *ebda_seg = phys_ptr(0x40E, 2);
	uint64_t ebda = ebda_seg ? (uint64_t)*ebda_seg << 4 : 0;
	if (ebda > 0x400 && ebda < 0x100000)
		for (uint64_t a = ebda; a < ebda + 1024; a += 16)
			if (rsdp_valid(a, &dummy) && sum8(phys_ptr(a, 20), 20) == 0)
				return a;
	/* The 20-byte checksum gates the scan (as in ACPICA); the extended one is reported. */
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (rsdp_valid(a, &dummy) && sum8(phys_ptr(a, 20), 20) == 0)
			return a;
	return 0;
}

uint32_t acpi_table_len(uint64_t pa)
{
	const uint8_t *h = pa ? phys_ptr(pa, 36) : NULL;
	return h ? rd32(h + 4) : 0;
}

/* SDT header (5.2.6): signature, and the whole table sums to zero. */
bool acpi_table_ok(uint64_t pa, const char *sig)
{
	uint32_t len = acpi_table_len(pa);
	if (len < 36 || len > (16u << 20))
		return false;
	const uint8_t *t = phys_ptr(pa, len);
	return t && memcmp(t, sig, 4) == 0 && sum8(t, len) == 0;
}

unsigned acpi_root_count(void)
{
	uint32_t len = acpi_table_len(acpi.root_pa);
	if (len < 36)
		return 0;
	return (len - 36) / (acpi.root_is_xsdt ? 8 : 4);
}

uint64_t acpi_root_entry(unsigned i)
{
	const uint8_t *t = phys_ptr(acpi.root_pa, acpi_table_len(acpi.root_pa));
	if (!t || i >= acpi_root_count())
		return 0;
	return acpi.root_is_xsdt ? rd64(t + 36 + 8 * i) : rd32(t + 36 + 4 * i);
}

uint64_t acpi_find_table(const char *sig)
{
	for (unsigned i = 0; i < acpi_root_count(); i++) {
		uint64_t pa = acpi_root_entry(i);
		const uint8_t *h = pa ? phys_ptr(pa, 36) : NULL;
		if (h && memcmp(h, sig, 4) == 0)
			return pa;
	}
	return 0;
}

static const uint8_t *fadt_field(unsigned off, unsigned size)
{
	uint32_t len = acpi_table_len(acpi.fadt_pa);
	if (!acpi.fadt_pa || off + size > len)
		return NULL;    /* older FADT revisions are shorter: the field is absent */
	return (const uint8_t *)phys_ptr(acpi.fadt_pa, len) + off;
}

uint32_t acpi_fadt_flags(void)
{
	const uint8_t *f = fadt_field(FADT_FLAGS, 4);
	return f ? rd32(f) : 0;
}

/*
 * \_S5_ sleep type (7.4.2): find "_S5_" followed by PackageOp 0x12, skip the PkgLength
 * (20.2.4: top two bits of the lead byte = number of extra bytes), the NumElements byte,
 * and decode the first element (Zero, One, BytePrefix, WordPrefix, DWordPrefix).
 */
static int s5_slp_typ(uint64_t dsdt_pa)
{
	uint32_t len = acpi_table_len(dsdt_pa);
	const uint8_t *t = len >= 36 ? phys_ptr(dsdt_pa, len) : NULL;
	for (uint32_t i = 36; t && i + 10 <= len; i++) {
		if (memcmp(t + i, "_S5_", 4) != 0 || t[i + 4] != 0x12)
			continue;
		const uint8_t *p = t + i + 5;
		p += 1 + (p[0] >> 6);     /* PkgLength */
		p += 1;                   /* NumElements */
		switch (p[0]) {
		case 0x00: return 0;
		case 0x01: return 1;
		case 0x0A: case 0x0B: case 0x0C: return p[1] & 7;
		default: return -1;
		}
	}
	return -1;
}

static void fadt_tables(void)
{
	const uint8_t *x = fadt_field(FADT_X_DSDT, 8);
	const uint8_t *d = fadt_field(FADT_DSDT, 4);
	acpi.dsdt_pa = (x && rd64(x)) ? rd64(x) : (d ? rd32(d) : 0);
	x = fadt_field(FADT_X_FIRMWARE_CTRL, 8);
	d = fadt_field(FADT_FIRMWARE_CTRL, 4);
	acpi.facs_pa = (x && rd64(x)) ? rd64(x) : (d ? rd32(d) : 0);
	acpi.s5_slp_typ = acpi.dsdt_pa ? s5_slp_typ(acpi.dsdt_pa) : -1;
}

/*
 * Does a device with _HID `hid` ("PNP0C02") claim [base, base+len) in its _CRS? Only the
 * static form is understood: Name(_HID, EISAID(..) or String) followed in the same device by
 * Name(_CRS, Buffer{...}) with Memory32Fixed, Memory32, DWord or QWord memory descriptors
 * (ACPI 6.x 6.4.2, 6.4.3; EISAID packing 19.6.35). A Method _CRS is not evaluated.
 */
static uint32_t eisaid(const char *id)
{
	uint32_t v = ((uint32_t)(id[0] - 0x40) << 26) | ((uint32_t)(id[1] - 0x40) << 21) |
	             ((uint32_t)(id[2] - 0x40) << 16);
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t d = c >= 'A' ? (uint32_t)(c - 'A' + 10) : (uint32_t)(c - '0');
		v |= d << (4 * (6 - i));
	}
	/* AML stores the byte-swapped value: "PNP0C02" -> bytes 41 D0 0C 02. */
	return (v >> 24) | ((v >> 8) & 0xFF00) | ((v << 8) & 0xFF0000) | (v << 24);
}

static bool name_is(const uint8_t *t, uint32_t i, uint32_t len, const char *seg)
{
	return i >= 1 && i + 5 <= len && t[i - 1] == 0x08 && memcmp(t + i, seg, 4) == 0;
}

/* One large resource descriptor (6.4.3): kind (0 memory, 1 I/O, 2 bus number), range. */
struct crs_item {
	uint8_t tag, kind;
	uint64_t lo, len;
};

/*
 * The next large descriptor of a resource template from *o; small ones are skipped. Fixed
 * and ranged memory (6.4.3.4-5) and the Word/DWord/QWord address spaces (6.4.3.5.1-3) are
 * decoded, anything else has kind 0xFF. False at the End Tag or a truncated descriptor.
 */
static bool crs_next(const uint8_t *p, uint32_t n, uint32_t *o, struct crs_item *it)
{
	while (*o < n) {
		uint8_t b = p[*o];
		if (!(b & 0x80)) {              /* small item: tag 6:3, length 2:0 */
			if (((b >> 3) & 0xF) == 0xF)
				return false;   /* End Tag */
			*o += 1 + (b & 7);
			continue;
		}
		if (*o + 3 > n)
			return false;
		uint32_t l = p[*o + 1] | (uint32_t)p[*o + 2] << 8;
		const uint8_t *d = p + *o;
		if (*o + 3 + l > n)
			return false;
		*o += 3 + l;
		memset(it, 0, sizeof(*it));
		it->tag = b;
		it->kind = 0xFF;
		if (b == 0x86 && l >= 9) {                      /* Memory32Fixed */
			it->kind = 0, it->lo = rd32(d + 4), it->len = rd32(d + 8);
		} else if (b == 0x85 && l >= 17) {              /* Memory32 */
			it->kind = 0, it->lo = rd32(d + 4), it->len = rd32(d + 16);
		} else if (b == 0x88 && l >= 13) {              /* Word address space */
			it->kind = d[3];
			it->lo = (uint64_t)(d[8] | d[9] << 8);
			it->len = (uint64_t)(d[14] | d[15] << 8);
		} else if (b == 0x87 && l >= 23) {              /* DWord address space */
			it->kind = d[3], it->lo = rd32(d + 10), it->len = rd32(d + 22);
		} else if (b == 0x8A && l >= 43) {              /* QWord address space */
			it->kind = d[3], it->lo = rd64(d + 14), it->len = rd64(d + 38);
		}
		return true;
	}
	return false;
}

static bool crs_covers(const uint8_t *p, uint32_t n, uint64_t base, uint64_t len)
{
	struct crs_item it;
	for (uint32_t o = 0; crs_next(p, n, &o, &it);)
		if (it.kind == 0 && it.len && it.lo <= base && base + len <= it.lo + it.len)
			return true;
	return false;
}

/* Name(_CRS, Buffer(...)) with the name at j: the resource template is [*start, *end). */
static bool crs_buffer(const uint8_t *t, uint32_t tl, uint32_t j, uint32_t *start, uint32_t *end)
{
	if (!name_is(t, j, tl, "_CRS") || j + 8 > tl || t[j + 4] != 0x11)
		return false;
	uint32_t k = j + 5, pkg = t[k] >> 6;   /* PkgLength (20.2.4) */
	uint32_t plen = pkg ? (t[k] & 0xF) : (t[k] & 0x3F);
	for (uint32_t b = 1; b <= pkg && k + b < tl; b++)
		plen |= (uint32_t)t[k + b] << (4 + 8 * (b - 1));
	*end = k + plen;
	k += 1 + pkg;
	/* BufferSize: ByteConst, WordConst, DWordConst or Zero/One */
	if (k >= tl)
		return false;
	k += t[k] == 0x0A ? 2 : t[k] == 0x0B ? 3 : t[k] == 0x0C ? 5 : 1;
	*start = k;
	return *end <= tl && k < *end;
}

bool acpi_dsdt_claims(const char *hid, uint64_t base, uint64_t len)
{
	uint32_t tl = acpi_table_len(acpi.dsdt_pa), id = eisaid(hid);
	const uint8_t *t = tl >= 36 ? phys_ptr(acpi.dsdt_pa, tl) : NULL;
	for (uint32_t i = 36; t && i + 12 <= tl; i++) {
		if (!name_is(t, i, tl, "_HID"))
			continue;
		bool match = (t[i + 4] == 0x0C && rd32(t + i + 5) == id) ||
		             (t[i + 4] == 0x0D && i + 13 <= tl && memcmp(t + i + 5, hid, 8) == 0);
		if (!match)
			continue;
		/* The device's _CRS: the next Name(_CRS, Buffer) before another _HID. */
		for (uint32_t j = i + 8; j + 8 <= tl && j < i + 512; j++) {
			uint32_t k, end;
			if (name_is(t, j, tl, "_HID"))
				break;
			if (!crs_buffer(t, tl, j, &k, &end))
				continue;
			if (crs_covers(t + k, end - k, base, len))
				return true;
			break;
		}
	}
	return false;
}

/*
 * Host-bridge memory windows: the memory address-space descriptors of every static
 * Name(_CRS, Buffer) in the DSDT that also has a bus-number descriptor (6.4.3.5, resource
 * type 2), as a root bridge's _CRS has (PCI Firmware 3.x 4.1.1). No AML is executed, so a
 * _CRS method is not seen. Returns how many were stored.
 */
unsigned acpi_pci_windows(uint64_t *lo, uint64_t *len, unsigned max)
{
	uint32_t tl = acpi_table_len(acpi.dsdt_pa);
	const uint8_t *t = tl >= 36 ? phys_ptr(acpi.dsdt_pa, tl) : NULL;
	unsigned n = 0;
	for (uint32_t j = 36; t && j + 8 <= tl; j++) {
		uint32_t k, end, o;
		struct crs_item it;
		bool bridge = false;
		if (!crs_buffer(t, tl, j, &k, &end))
			continue;
		for (o = 0; crs_next(t + k, end - k, &o, &it);)
			bridge = bridge || it.kind == 2;
		for (o = 0; bridge && crs_next(t + k, end - k, &o, &it);)
			if (it.kind == 0 && it.len && (it.tag == 0x87 || it.tag == 0x8A) && n < max) {
				lo[n] = it.lo;
				len[n++] = it.len;
			}
	}
	return n;
}

/* Fill in `acpi`; returns false if no RSDP was found at all. */
bool acpi_discover(uint64_t rsdp_hint)
{
	memset(&acpi, 0, sizeof(acpi));
	acpi.s5_slp_typ = -1;
	bool sums_ok = false;
	if (rsdp_hint && rsdp_valid(rsdp_hint, &sums_ok)) {
		acpi.rsdp_pa = rsdp_hint;
	} else {
		acpi.rsdp_pa = rsdp_scan();
		acpi.rsdp_from_scan = true;
		if (!acpi.rsdp_pa || !rsdp_valid(acpi.rsdp_pa, &sums_ok))
			return false;
	}
	const uint8_t *r = phys_ptr(acpi.rsdp_pa, 36);
	acpi.rsdp_sum_ok = sums_ok;
	acpi.rsdp_rev = r[15];
	acpi.root_is_xsdt = acpi.rsdp_rev >= 2 && rd64(r + 24) != 0;
	acpi.root_pa = acpi.root_is_xsdt ? rd64(r + 24) : rd32(r + 16);
	acpi.fadt_pa = acpi_find_table("FACP");
	acpi.madt_pa = acpi_find_table("APIC");
	if (acpi.fadt_pa)
		fadt_tables();
	return true;
}

/* Generic Address Structure (5.2.3.2) write: system I/O -> out, system memory -> mov. */
static bool gas_write(const struct acpi_gas *g, uint32_t val)
{
	unsigned width = g->bit_width ? g->bit_width : 8u << (g->access_size ? g->access_size - 1 : 0);
	if (g->space == GAS_SPACE_IO && g->address && g->address <= 0xFFFF) {
		uint16_t port = (uint16_t)g->address;
		if (width >= 32)
			outl(port, val);
		else if (width == 16)
			outw(port, (uint16_t)val);
		else
			outb(port, (uint8_t)val);
		return true;
	}
	if (g->space == GAS_SPACE_MEMORY && g->address && phys_map(g->address, 4)) {
		volatile void *p = (volatile void *)(uintptr_t)g->address;
		if (width >= 32)
			*(volatile uint32_t *)p = val;
		else if (width == 16)
			*(volatile uint16_t *)p = (uint16_t)val;
		else
			*(volatile uint8_t *)p = (uint8_t)val;
		return true;
	}
	return false;
}

static bool fadt_gas(unsigned off, struct acpi_gas *g)
{
	const uint8_t *f = fadt_field(off, sizeof(*g));
	if (!f)
		return false;
	memcpy(g, f, sizeof(*g));
	return g->address != 0;
}

/* PM1x_CNT (4.8.3.2.1): SLP_TYP in bits 12:10, SLP_EN bit 13; prefer the X_ block. */
static void pm1_cnt_write(unsigned x_off, unsigned legacy_off, uint16_t val)
{
	struct acpi_gas g;
	if (fadt_gas(x_off, &g) && g.space == GAS_SPACE_IO) {
		g.bit_width = 16;
		gas_write(&g, val);
		return;
	}
	const uint8_t *f = fadt_field(legacy_off, 4);
	if (f && rd32(f) && rd32(f) <= 0xFFFF)
		outw((uint16_t)rd32(f), val);
}

/*
 * Enter S5. Hardware-reduced (4.8.3.7): SLEEP_CONTROL_REG = SLP_TYP << 2 | SLP_EN (bit 5).
 * Fixed hardware: PM1a_CNT (and PM1b if present) = SLP_TYP << 10 | SLP_EN (bit 13).
 * Returns only if the platform did not power off.
 */
void acpi_poweroff(void)
{
	struct acpi_gas g;
	if (!acpi.fadt_pa || acpi.s5_slp_typ < 0)
		return;
	uint32_t typ = (uint32_t)acpi.s5_slp_typ;
	if ((acpi_fadt_flags() & FADT_HW_REDUCED) && fadt_gas(FADT_SLEEP_CONTROL, &g)) {
		gas_write(&g, (typ << 2) | (1u << 5));
		return;
	}
	uint16_t v = (uint16_t)((typ << 10) | (1u << 13));
	pm1_cnt_write(FADT_X_PM1A_CNT, FADT_PM1A_CNT_BLK, v);
	pm1_cnt_write(FADT_X_PM1B_CNT, FADT_PM1B_CNT_BLK, v);
}

/* FADT RESET_REG / RESET_VALUE (4.8.3.6), valid only with flag RESET_REG_SUP. */
static bool reset_reg(struct acpi_gas *g, uint8_t *value)
{
	const uint8_t *val = fadt_field(FADT_RESET_VALUE, 1);
	if (!(acpi_fadt_flags() & FADT_RESET_REG_SUP) || !val || !fadt_gas(FADT_RESET_REG, g))
		return false;
	*value = *val;
	return g->space == GAS_SPACE_IO || g->space == GAS_SPACE_MEMORY;
}

bool acpi_reset_info(char *why, size_t why_len)
{
	struct acpi_gas g;
	uint8_t val;
	if (!reset_reg(&g, &val)) {
		gsnprintf(why, why_len, "no usable FADT RESET_REG (flags=0x%x)", acpi_fadt_flags());
		return false;
	}
	gsnprintf(why, why_len, "space %u addr 0x%lx value 0x%x", g.space, g.address, val);
	return true;
}

void acpi_reset(void)
{
	struct acpi_gas g;
	uint8_t val;
	if (reset_reg(&g, &val)) {
		g.bit_width = 8;    /* RESET_REG is an 8-bit register (4.8.3.6) */
		gas_write(&g, val);
	}
}
