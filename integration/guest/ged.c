/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: the ACPI power button through the Generic Event Device (ACPI 6.x 5.6.9),
 * with `powerbutton=1`. Like an OS: find the device whose _HID is "ACPI0013" in the DSDT, take
 * its interrupt from its _CRS and its event register from its SystemMemory OperationRegion
 * (Linux's evged accepts nothing but interrupts in a GED's _CRS), route that GSI through the
 * IOAPIC the MADT names, say "ged: waiting power_button" and wait for the host's
 * vm.power-button. On the interrupt, read the register (read-to-clear) and report; main.c then
 * powers off through the FADT sleep registers, as Linux does on KEY_POWER.
 *
 * What _EVT does is not interpreted: the guest knows vireo's (and Cloud Hypervisor's) register
 * contract, bit 3 = power button (docs/boot.md).
 */
#include "guest.h"

#define GED_HID          "ACPI0013"
#define GED_POWER_BUTTON (1u << 3)
#define GED_VECTOR       VEC_DEV_LAST       /* counted and EOId by smp.c's isr_dispatch */
#define GED_WAIT_US      120000000ULL       /* LAPIC time for the host to press the button */
#define GED_WAIT_SPINS   2000000000ULL

/* Small and large resource items (6.4.2, 6.4.3); OperationRegion (20.2.5.2). */
#define RES_END_TAG      0x0F               /* small item name */
#define RES_EXT_IRQ      0x89
#define AML_EXT_PREFIX   0x5B
#define AML_OPREGION     0x80
#define AML_SYSTEM_MEM   0x00
#define EXT_IRQ_EDGE     (1u << 1)
#define EXT_IRQ_LOW      (1u << 2)

/* IOAPIC (82093AA datasheet): index/data window, version, 64-bit redirection entries. */
#define IOAPIC_REGSEL    0x00
#define IOAPIC_WIN       0x10
#define IOAPIC_VER       0x01
#define IOAPIC_REDIR(n)  (0x10 + 2 * (n))
#define REDIR_LOW        (1u << 13)
#define REDIR_LEVEL      (1u << 15)
#define REDIR_MASKED     (1u << 16)

struct ged_res {
	uint64_t reg;                       /* event register (OperationRegion), 0 if none */
	uint64_t reg_len;
	uint32_t gsi;
	uint8_t irq_flags;
	bool has_irq;
};

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* PkgLength (20.2.4) at p: its value (counting itself) and, in *n, how many bytes it took. */
static uint32_t pkg_length(const uint8_t *p, uint32_t *n)
{
	uint32_t extra = p[0] >> 6, v = extra ? (p[0] & 0xF) : (p[0] & 0x3F);
	for (uint32_t b = 1; b <= extra; b++)
		v |= (uint32_t)p[b] << (4 + 8 * (b - 1));
	*n = 1 + extra;
	return v;
}

/* The descriptors of a _CRS buffer: the first Extended Interrupt. */
static void parse_crs(const uint8_t *p, uint32_t n, struct ged_res *r)
{
	for (uint32_t o = 0; o < n;) {
		uint8_t tag = p[o];
		if (!(tag & 0x80)) {                /* small item: name 6:3, length 2:0 */
			if (((tag >> 3) & 0xF) == RES_END_TAG)
				return;
			o += 1 + (tag & 7);
			continue;
		}
		if (o + 3 > n)
			return;
		uint32_t len = p[o + 1] | (uint32_t)p[o + 2] << 8;
		const uint8_t *d = p + o;
		if (o + 3 + len > n)
			return;
		if (tag == RES_EXT_IRQ && len >= 6 && d[4] >= 1 && !r->has_irq) {
			r->irq_flags = d[3];
			r->gsi = rd32(d + 5);
			r->has_irq = true;
		}
		o += 3 + len;
	}
}

/* An AML integer constant (20.2.3): Zero, One, Byte/Word/DWord/QWordConst; bytes used, or 0. */
static uint32_t aml_int(const uint8_t *p, uint32_t n, uint64_t *v)
{
	static const uint8_t size[] = { [0x0A] = 1, [0x0B] = 2, [0x0C] = 4, [0x0E] = 8 };
	if (n >= 1 && p[0] <= 0x01) {
		*v = p[0];
		return 1;
	}
	if (n < 1 || p[0] > 0x0E || !size[p[0]] || n < 1u + size[p[0]])
		return 0;
	*v = 0;
	memcpy(v, p + 1, size[p[0]]);
	return 1 + size[p[0]];
}

/* Name(_CRS, Buffer(){...}) at t[j]: the interrupt it names. */
static void ged_crs(const uint8_t *t, uint32_t tl, uint32_t j, struct ged_res *r)
{
	uint32_t k = j + 6, used;
	uint32_t end = k + pkg_length(t + k, &used);
	k += used;
	k += t[k] == 0x0A ? 2 : t[k] == 0x0B ? 3 : t[k] == 0x0C ? 5 : 1;   /* BufferSize */
	if (end <= tl && k < end)
		parse_crs(t + k, end - k, r);
}

/* OperationRegion(Name, SystemMemory, base, len) at t[j]: the event register. */
static void ged_opregion(const uint8_t *t, uint32_t tl, uint32_t j, struct ged_res *r)
{
	uint32_t k = j + 2 + 4;                 /* opcode, NameSeg */
	uint64_t base, len;
	uint32_t n;
	if (k >= tl || t[k++] != AML_SYSTEM_MEM || !(n = aml_int(t + k, tl - k, &base)))
		return;
	k += n;
	if (aml_int(t + k, tl - k, &len) && base && len) {
		r->reg = base;
		r->reg_len = len;
	}
}

/*
 * Name(_HID, "ACPI0013"), then in the same device (up to the next _HID) its
 * Name(_CRS, Buffer(){...}) and its SystemMemory OperationRegion. Static forms only, as vireo
 * writes them: a Method _CRS is not evaluated.
 */
static bool find_ged(struct ged_res *r)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0D, 'A', 'C', 'P', 'I',
	                               '0', '0', '1', '3', 0 };
	static const uint8_t crs[] = { 0x08, '_', 'C', 'R', 'S', 0x11 };
	uint32_t tl = acpi_table_len(acpi.dsdt_pa), i, j;
	const uint8_t *t = tl >= 36 ? phys_ptr(acpi.dsdt_pa, tl) : NULL;
	for (i = 36; t && i + sizeof(hid) <= tl && memcmp(t + i, hid, sizeof(hid)); i++)
		;
	if (!t || i + sizeof(hid) > tl)
		return false;
	for (j = i + sizeof(hid); j + 12 <= tl && memcmp(t + j, hid, 5) && !(r->reg && r->has_irq);
	     j++) {
		if (!r->has_irq && !memcmp(t + j, crs, sizeof(crs)))
			ged_crs(t, tl, j, r);
		else if (!r->reg && t[j] == AML_EXT_PREFIX && t[j + 1] == AML_OPREGION)
			ged_opregion(t, tl, j, r);
	}
	return r->reg && r->has_irq;
}

/* The MADT's I/O APIC (type 1, 5.2.12.3) whose GSI range holds `gsi`: its address and pin. */
static volatile uint32_t *ioapic_for(uint32_t gsi, uint32_t *pin)
{
	uint32_t len = acpi_table_len(acpi.madt_pa);
	const uint8_t *t = len >= 44 ? phys_ptr(acpi.madt_pa, len) : NULL;
	for (uint32_t off = 44; t && off + 2 <= len; off += t[off + 1]) {
		if (t[off + 1] < 2 || off + t[off + 1] > len)
			break;
		if (t[off] != 1 || t[off + 1] < 12)
			continue;
		uint32_t base = rd32(t + off + 8), pa = rd32(t + off + 4);
		if (gsi < base || !phys_map_uc(pa, GUEST_PAGE))
			continue;
		volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)pa;
		io[IOAPIC_REGSEL / 4] = IOAPIC_VER;
		if (gsi - base <= ((io[IOAPIC_WIN / 4] >> 16) & 0xFF)) {
			*pin = gsi - base;
			return io;
		}
	}
	return NULL;
}

static void ioapic_write(volatile uint32_t *io, uint32_t reg, uint32_t v)
{
	io[IOAPIC_REGSEL / 4] = reg;
	io[IOAPIC_WIN / 4] = v;
}

/* Fixed delivery to this CPU, physical destination, trigger and polarity as _CRS says. */
static void ioapic_route(volatile uint32_t *io, uint32_t pin, uint8_t irq_flags)
{
	uint32_t lo = GED_VECTOR;
	if (irq_flags & EXT_IRQ_LOW)
		lo |= REDIR_LOW;
	if (!(irq_flags & EXT_IRQ_EDGE))
		lo |= REDIR_LEVEL;
	ioapic_write(io, IOAPIC_REDIR(pin), REDIR_MASKED);
	ioapic_write(io, IOAPIC_REDIR(pin) + 1, lapic_id() << 24);
	ioapic_write(io, IOAPIC_REDIR(pin), lo);
}

/* Interrupts on until the GED's vector has been taken once more than `before`, or time is up. */
static bool wait_for_irq(unsigned before)
{
	clock_start();
	for (uint64_t i = 0; i < GED_WAIT_SPINS && clock_us() < GED_WAIT_US; i++) {
		__asm__ volatile("sti; pause; cli" ::: "memory");
		if (irq_count(GED_VECTOR) != before)
			return true;
	}
	return false;
}

static bool want_power_button(const char *cmdline)
{
	for (const char *p = cmdline; *p; p++)
		if ((p == cmdline || p[-1] == ' ') && !memcmp(p, "powerbutton=1", 13) &&
		    (p[13] == 0 || p[13] == ' '))
			return true;
	return false;
}

void ged_power_button_check(const char *cmdline)
{
	struct ged_res r = { 0 };
	uint32_t pin;
	if (!want_power_button(cmdline))
		return;
	if (!find_ged(&r)) {
		check("power_button", false, "no _HID %s device with an Interrupt in its _CRS and a "
		      "SystemMemory OperationRegion in the DSDT", GED_HID);
		return;
	}
	volatile uint32_t *io = ioapic_for(r.gsi, &pin);
	if (!io || r.reg_len < 4 || !phys_map_uc(r.reg, 4)) {
		check("power_button", false, "GED register 0x%lx len %lu, GSI %u: %s", r.reg,
		      r.reg_len, r.gsi, io ? "register too small" : "no IOAPIC for the GSI");
		return;
	}
	volatile uint32_t *reg = (volatile uint32_t *)(uintptr_t)r.reg;
	unsigned before = irq_count(GED_VECTOR);
	ioapic_route(io, pin, r.irq_flags);
	gprintf("ged: waiting power_button (register 0x%lx, GSI %u %s, IOAPIC pin %u, vector 0x%x)\n",
	        r.reg, r.gsi, (r.irq_flags & EXT_IRQ_EDGE) ? "edge" : "level", pin, GED_VECTOR);
	bool irq = wait_for_irq(before);
	uint32_t events = *reg, again = *reg;
	ioapic_write(io, IOAPIC_REDIR(pin), REDIR_MASKED);
	check("power_button", irq && (events & GED_POWER_BUTTON) && again == 0,
	      "%s, events 0x%x, then 0x%x (read-to-clear); powering off", irq ?
	      "interrupt taken" : "no interrupt within 120 s", events, again);
}
