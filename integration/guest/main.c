/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: the checks. Each prints one line "CHECK <name> PASS|FAIL <detail>" on
 * COM1; the run ends with "N passed, M failed" and an ACPI S5 power-off. See README.md.
 */
#include "virtio.h"

#define MEMMAP_MAX        128
#define CMDLINE_MAX       1024
#define E820_RAM          1
#define CMOS_INDEX        0x70
#define CMOS_DATA         0x71
#define CMOS_BOOT_COUNTER 0x7E
#define FAIL_KEEP         16
#define LOW_SKIP          0x10000ULL      /* never touch the first 64 KiB */
#define LEGACY_HOLE       0xA0000ULL
#define ONE_MIB           0x100000ULL
#define TIMER_TICKS       3
#define TIMER_COUNT       0x10000u

extern char __image_start[], __image_end[], ap_tramp_start[], ap_tramp_end[];

static struct hvm_start_info si;
static struct hvm_memmap_entry memmap[MEMMAP_MAX];
static unsigned memmap_n;
static char cmdline[CMDLINE_MAX];
static bool boot_info_ok;

static struct {
	int cpus;              /* cpus=N, -1 if absent */
	uint64_t mem_mib;      /* mem=N (MiB, or with an M/G suffix), 0 if absent */
	bool reboot;           /* reboot=1 */
	bool intx;             /* intx=1: virtio-rng on INTx after the other checks (intx.c) */
} opt = { -1, 0, false, false };

static struct pci_opts pci_opt = {
	.win32_lo = 0xC0000000ULL, .win32_hi = 0xE7FFFFFFULL,   /* vireo's 32-bit window */
};

static struct virtio_opts virtio_opt;

static unsigned n_pass, n_fail;
static char fail_lines[FAIL_KEEP][LINE_MAX];

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

void check(const char *name, bool ok, const char *fmt, ...)
{
	char line[LINE_MAX];
	int n = gsnprintf(line, sizeof(line), "CHECK %s %s ", name, ok ? "PASS" : "FAIL");
	va_list ap;
	va_start(ap, fmt);
	gvsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	con_puts(line);
	con_putc('\n');
	if (ok) {
		n_pass++;
		return;
	}
	if (n_fail < FAIL_KEEP)
		memcpy(fail_lines[n_fail], line + 6, sizeof(line) - 6);
	n_fail++;
}

/* Summary, then S5. Also the end of the road for an exception (smp.c isr_dispatch). */
void guest_finish(void)
{
	static int finishing;
	if (__atomic_exchange_n(&finishing, 1, __ATOMIC_SEQ_CST))
		halt_forever();
	for (unsigned i = 0; i < n_fail && i < FAIL_KEEP; i++)
		gprintf("FAILED: %s\n", fail_lines[i]);
	gprintf("%u passed, %u failed\n", n_pass, n_fail);
	outb(DEBUGPORT, MARK_POWEROFF);
	acpi_poweroff();
	delay_us(5000000);
	gprintf("CHECK poweroff FAIL still running 5 s after the S5 write (SLP_TYP %d)\n",
	        acpi.s5_slp_typ);
	halt_forever();
}

/* --- boot information and command line --- */

/* Copy everything we need out of hvm_start_info first, so its pages are free to reuse. */
static bool copy_boot_info(void)
{
	const struct hvm_start_info *p = pvh_info_pa ? phys_ptr(pvh_info_pa, sizeof(si)) : NULL;
	if (!p)
		return false;
	si = *p;
	if (si.magic != HVM_START_MAGIC)
		return false;
	const char *c = si.cmdline_paddr ? phys_ptr(si.cmdline_paddr, CMDLINE_MAX) : NULL;
	for (unsigned i = 0; c && i + 1 < CMDLINE_MAX && c[i]; i++)
		cmdline[i] = c[i];
	if (si.version >= 1 && si.memmap_paddr && si.memmap_entries) {
		memmap_n = si.memmap_entries < MEMMAP_MAX ? si.memmap_entries : MEMMAP_MAX;
		const void *m = phys_ptr(si.memmap_paddr, memmap_n * sizeof(memmap[0]));
		if (m)
			memcpy(memmap, m, memmap_n * sizeof(memmap[0]));
		else
			memmap_n = 0;
	}
	return true;
}

static bool parse_num(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (i == 0)
		return false;
	if (i < len && (s[i] == 'G' || s[i] == 'g'))
		v *= 1024, i++;
	else if (i < len && (s[i] == 'M' || s[i] == 'm'))
		i++;
	*out = v;
	return i == len;
}

/* Hex digits with an optional 0x prefix, up to `stop` or the end; returns the length used. */
static size_t parse_hex(const char *s, size_t len, char stop, uint64_t *out)
{
	size_t i = (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0, start = i;
	uint64_t v = 0;
	for (; i < len && s[i] != stop; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
		             c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
		             c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d == 16 || i - start >= 16)
			return 0;
		v = v << 4 | d;
	}
	*out = v;
	return i > start ? i : 0;
}

/* "A<sep>B" with two hex numbers (hostbridge=8086:0d57, win32=0xc0000000-0xe7ffffff). */
static bool parse_hex_pair(const char *s, size_t len, char sep, uint64_t *a, uint64_t *b)
{
	size_t n = parse_hex(s, len, sep, a);
	return n && n + 1 < len && s[n] == sep && parse_hex(s + n + 1, len - n - 1, 0, b) == len - n - 1;
}

static bool key_is(const char *w, size_t len, const char *key)
{
	size_t k = strlen(key);
	return len > k && memcmp(w, key, k) == 0;
}

/* virtio=rng,console: the devices that must be found (README.md "Virtio checks"). */
static void parse_virtio_list(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && s[j] != ',')
			j++;
		if (j - i == 3 && memcmp(s + i, "rng", 3) == 0)
			virtio_opt.want_rng = true;
		else if (j - i == 7 && memcmp(s + i, "console", 7) == 0)
			virtio_opt.want_con = true;
		i = j + 1;
	}
}

static void parse_word(const char *w, size_t len)
{
	uint64_t v, a, b;
	if (key_is(w, len, "cpus=") && parse_num(w + 5, len - 5, &v))
		opt.cpus = (int)v;
	else if (key_is(w, len, "mem=") && parse_num(w + 4, len - 4, &v))
		opt.mem_mib = v;
	else if (len == 8 && memcmp(w, "reboot=1", 8) == 0)
		opt.reboot = true;
	else if (len == 6 && memcmp(w, "intx=1", 6) == 0)
		opt.intx = true;
	else if (len == 5 && memcmp(w, "pci=0", 5) == 0)
		pci_opt.skip = true;
	else if (len == 9 && memcmp(w, "barmove=1", 9) == 0)
		pci_opt.barmove = true;
	else if (len == 14 && memcmp(w, "unclaimed=ones", 14) == 0)
		pci_opt.unclaimed_ones = true;
	else if (key_is(w, len, "hostbridge=") && parse_hex_pair(w + 11, len - 11, ':', &a, &b) &&
	         a <= 0xFFFF && b <= 0xFFFF) {
		pci_opt.want_hb = true;
		pci_opt.hb_vendor = (uint16_t)a;
		pci_opt.hb_device = (uint16_t)b;
	} else if (key_is(w, len, "win32=") && parse_hex_pair(w + 6, len - 6, '-', &a, &b) &&
	           a < b && b < FOUR_GIB) {
		pci_opt.win32_lo = a;
		pci_opt.win32_hi = b;
	} else if (key_is(w, len, "win64=") && parse_hex_pair(w + 6, len - 6, '-', &a, &b) && a < b) {
		pci_opt.win64_lo = a;
		pci_opt.win64_hi = b;
	}
	else if (len == 9 && memcmp(w, "hostile=1", 9) == 0)
		virtio_opt.hostile = true;
	else if (key_is(w, len, "virtio="))
		parse_virtio_list(w + 7, len - 7);
	else if (vsock_parse_word(w, len))
		;                                  /* vsockcheck.c: vsock=CID */
	else if (net_parse_word(w, len))
		;                                  /* netcheck.c: net=MAC */
	else if (blk_parse_word(w, len))
		;                                  /* blk.c: blk=, blkseed=, blkhostile=, blkdurable= */
	else if (key_is(w, len, "conin=")) {
		virtio_opt.conin = w + 6;          /* points into cmdline[], which stays */
		virtio_opt.conin_len = len - 6;
	}
	/* unknown keys: ignored */
}

static void parse_cmdline(void)
{
	for (const char *p = cmdline; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		const char *w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (p > w)
			parse_word(w, (size_t)(p - w));
	}
}

/* --- memmap --- */

/* Overlapping entries, or RAM inside the 32-bit MMIO hole, are VMM bugs. */
static bool memmap_sane(char *why, size_t n)
{
	for (unsigned i = 0; i < memmap_n; i++) {
		const struct hvm_memmap_entry *a = &memmap[i];
		if (a->type == E820_RAM && a->addr < FOUR_GIB && a->addr + a->size > MMIO_HOLE_START) {
			gsnprintf(why, n, ", RAM entry %u in the MMIO hole", i);
			return false;
		}
		for (unsigned j = i + 1; j < memmap_n; j++) {
			const struct hvm_memmap_entry *b = &memmap[j];
			if (a->addr < b->addr + b->size && b->addr < a->addr + a->size) {
				gsnprintf(why, n, ", entries %u and %u overlap", i, j);
				return false;
			}
		}
	}
	why[0] = 0;
	return true;
}

/*
 * RAM must add up to mem= within 1 MiB below it: vireo gives up [0xA0000, 1 MiB) (384 KiB)
 * for the legacy hole, QEMU reports the full size.
 */
static void check_memmap(void)
{
	if (!boot_info_ok) {
		check("memmap", false, "no hvm_start_info at 0x%x (magic 0x%x)", pvh_info_pa, si.magic);
		return;
	}
	if (si.version < 1 || memmap_n == 0) {
		check("memmap", false, "version %u memmap_paddr 0x%lx entries %u: no memory map",
		      si.version, si.memmap_paddr, si.memmap_entries);
		return;
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < memmap_n; i++) {
		gprintf("memmap: [0x%lx, 0x%lx) type %u\n", memmap[i].addr,
		        memmap[i].addr + memmap[i].size, memmap[i].type);
		if (memmap[i].type == E820_RAM)
			total += memmap[i].size;
	}
	char why[64], want[80] = "";
	bool ok = memmap_sane(why, sizeof(why));
	if (opt.mem_mib) {
		uint64_t exp = opt.mem_mib << 10, kib = total >> 10;
		ok = ok && kib <= exp && kib + 1024 >= exp;
		gsnprintf(want, sizeof(want), ", mem=%lu MiB wants %lu..%lu KiB", opt.mem_mib,
		          exp - 1024, exp);
	}
	check("memmap", ok, "v%u %u entries RAM %lu KiB%s%s", si.version, memmap_n, total >> 10,
	      want, why);
}

/* One memory-map entry of `type` holds all of [start, start+len). */
bool memmap_covers(uint64_t start, uint64_t len, uint32_t type)
{
	for (unsigned i = 0; i < memmap_n; i++)
		if (memmap[i].type == type && start >= memmap[i].addr &&
		    start + len <= memmap[i].addr + memmap[i].size)
			return true;
	return false;
}

/* Any memory-map entry (RAM or reserved) intersects [start, start+len). */
bool memmap_overlaps(uint64_t start, uint64_t len)
{
	for (unsigned i = 0; i < memmap_n; i++)
		if (start < memmap[i].addr + memmap[i].size && memmap[i].addr < start + len)
			return true;
	return false;
}

/* End of the highest RAM entry. */
uint64_t memmap_ram_end(void)
{
	uint64_t end = 0;
	for (unsigned i = 0; i < memmap_n; i++)
		if (memmap[i].type == E820_RAM && memmap[i].addr + memmap[i].size > end)
			end = memmap[i].addr + memmap[i].size;
	return end;
}

static bool is_ram(uint64_t start, uint64_t len)
{
	return memmap_covers(start, len, E820_RAM);
}

static void exclude_firmware(void)
{
	const uint16_t *seg = phys_ptr(0x40E, 2);
	uint64_t ebda = (uint64_t)*seg << 4;
	uint64_t lo = (ebda > 0x400 && ebda < LEGACY_HOLE) ? ebda : LEGACY_HOLE;
	ram_exclude(lo, ONE_MIB - lo);      /* EBDA, VGA, option ROMs, BIOS */
	ram_exclude((uint64_t)(uintptr_t)__image_start, (uint64_t)(__image_end - __image_start));
	if (acpi.rsdp_pa)
		ram_exclude(acpi.rsdp_pa, 36);
	ram_exclude(acpi.root_pa, acpi_table_len(acpi.root_pa));
	for (unsigned i = 0; i < acpi_root_count(); i++)
		ram_exclude(acpi_root_entry(i), acpi_table_len(acpi_root_entry(i)));
	ram_exclude(acpi.dsdt_pa, acpi_table_len(acpi.dsdt_pa));
	ram_exclude(acpi.facs_pa, acpi_table_len(acpi.facs_pa));
}

/* The SIPI vector is a page number below 1 MiB (SDM 9.4.4): take a RAM page we own. */
static uint32_t place_trampoline(void)
{
	static const uint32_t cand[] = { 0x8000, 0x10000, 0x70000 };
	size_t len = (size_t)(ap_tramp_end - ap_tramp_start);
	for (unsigned i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		if (!is_ram(cand[i], GUEST_PAGE) || ram_excluded(cand[i]))
			continue;
		memcpy(phys_ptr(cand[i], len), ap_tramp_start, len);
		return cand[i];
	}
	return 0;
}

/* --- ACPI --- */

static void check_acpi(void)
{
	bool found = acpi_discover(boot_info_ok ? si.rsdp_paddr : 0);
	char oem[7] = "";
	if (found)
		memcpy(oem, (const char *)phys_ptr(acpi.rsdp_pa, 36) + 9, 6);
	check("acpi_rsdp", found && acpi.rsdp_sum_ok, "at 0x%lx via %s, rev %u, oem '%s'",
	      acpi.rsdp_pa, acpi.rsdp_from_scan ? "scan" : "rsdp_paddr", acpi.rsdp_rev, oem);
	const char *root = acpi.root_is_xsdt ? "XSDT" : "RSDT";
	check("acpi_xsdt", found && acpi_table_ok(acpi.root_pa, root), "%s at 0x%lx, %u entries",
	      root, acpi.root_pa, acpi_root_count());
	uint32_t flags = acpi_fadt_flags();
	check("acpi_fadt", acpi_table_ok(acpi.fadt_pa, "FACP"), "at 0x%lx len %u flags 0x%x%s",
	      acpi.fadt_pa, acpi_table_len(acpi.fadt_pa), flags,
	      (flags & FADT_HW_REDUCED) ? " (hw-reduced)" : "");
	check("acpi_madt", acpi_table_ok(acpi.madt_pa, "APIC"), "at 0x%lx len %u", acpi.madt_pa,
	      acpi_table_len(acpi.madt_pa));
	check("acpi_dsdt", acpi_table_ok(acpi.dsdt_pa, "DSDT") && acpi.s5_slp_typ >= 0,
	      "at 0x%lx len %u, _S5_ SLP_TYP %d%s", acpi.dsdt_pa, acpi_table_len(acpi.dsdt_pa),
	      acpi.s5_slp_typ, acpi.s5_slp_typ < 0 ? " (no \\_S5_ package: cannot power off)" : "");
}

/* --- reboot through FADT RESET_REG, counted in CMOS NVRAM --- */

static uint8_t cmos_read(uint8_t idx)
{
	outb(CMOS_INDEX, idx);
	return inb(CMOS_DATA);
}

static void cmos_write(uint8_t idx, uint8_t v)
{
	outb(CMOS_INDEX, idx);
	outb(CMOS_DATA, v);
}

static void reboot_step(void)
{
	uint8_t boots = cmos_read(CMOS_BOOT_COUNTER);
	char how[80];
	if (boots != 0) {
		cmos_write(CMOS_BOOT_COUNTER, 0);
		check("reboot", boots == 1, "second boot (CMOS 0x7e was %u)", boots);
		return;
	}
	if (!acpi_reset_info(how, sizeof(how))) {
		check("reboot_request", false, "%s", how);
		return;
	}
	cmos_write(CMOS_BOOT_COUNTER, 1);
	check("reboot_request", true, "resetting via FADT RESET_REG (%s)", how);
	acpi_reset();
	delay_us(5000000);
	cmos_write(CMOS_BOOT_COUNTER, 0);
	check("reboot", false, "still running 5 s after the RESET_REG write");
}

/* --- CPUs --- */

/* Enabled Processor Local APIC (type 0) and x2APIC (type 9) entries (ACPI 6.x 5.2.12). */
static unsigned madt_ids(uint32_t *ids, unsigned max)
{
	uint32_t len = acpi_table_len(acpi.madt_pa);
	const uint8_t *t = len >= 44 ? phys_ptr(acpi.madt_pa, len) : NULL;
	unsigned n = 0;
	for (uint32_t off = 44; t && off + 2 <= len && n < max; off += t[off + 1]) {
		uint8_t type = t[off], l = t[off + 1];
		if (l < 2 || off + l > len)
			break;
		if (type == 0 && l >= 8 && (rd32(t + off + 4) & 1))
			ids[n++] = t[off + 3];
		else if (type == 9 && l >= 16 && (rd32(t + off + 8) & 1))
			ids[n++] = rd32(t + off + 4);
	}
	return n;
}

static void check_ap(uint32_t id, uint32_t tramp, unsigned slot)
{
	char name[24];
	uint64_t spins, us;
	uint32_t last, count;
	gsnprintf(name, sizeof(name), "ap_%u", id);
	if (!tramp) {
		check(name, false, "no free RAM page below 1 MiB for the SIPI trampoline");
		return;
	}
	bool up = ap_start(id, tramp, slot, &spins, &us);
	uint32_t cid = ap_reported(id, &last, &count);
	if (!up)
		check(name, false, "no check-in after %lu spins, %lu us (counter %u, last AP id %u)",
		      spins, us, count, last);
	else
		check(name, cid == id, "long mode, counter %u, CPUID apic id %u, %lu spins, %lu us",
		      count, cid, spins, us);
}

static void check_cpus(uint32_t tramp)
{
	static uint32_t ids[256];
	bool madt_ok = acpi_table_ok(acpi.madt_pa, "APIC");
	unsigned n = madt_ok ? madt_ids(ids, 256) : 0;
	uint32_t bsp = lapic_id();
	bool bsp_listed = false;
	for (unsigned i = 0; i < n; i++)
		bsp_listed = bsp_listed || ids[i] == bsp;
	bool ok = madt_ok && bsp_listed && (opt.cpus < 0 || n == (unsigned)opt.cpus);
	check("madt_cpus", ok, "%u enabled (cpus=%d), BSP apic id %u %s", n, opt.cpus, bsp,
	      bsp_listed ? "listed" : "NOT listed");
	unsigned slot = 0;
	for (unsigned i = 0; i < n; i++)
		if (ids[i] != bsp)
			check_ap(ids[i], tramp, slot++);
}

static void check_timer(void)
{
	unsigned stray = 0;
	unsigned got = lapic_timer_test(TIMER_TICKS, TIMER_COUNT, &stray);
	check("lapic_timer", got == TIMER_TICKS,
	      "%u interrupts at vector 0x40 (one-shot, divide 16, count 0x%x), %u stray", got,
	      TIMER_COUNT, stray);
}

void guest_main(void)
{
	outb(DEBUGPORT, MARK_START);
	con_puts("\nvireo-guest: start\n");   /* firmware may have left a partial line */
	idt_setup();
	boot_info_ok = copy_boot_info();
	parse_cmdline();
	gprintf("vireo-guest: cmdline \"%s\"\n", cmdline);
	check_memmap();
	lapic_setup();
	check_acpi();
	if (opt.reboot)
		reboot_step();
	outb(DEBUGPORT, MARK_ACPI);
	exclude_firmware();
	uint32_t tramp = place_trampoline();
	ram_exclude(0, LOW_SKIP);
	ram_exclude(tramp, tramp ? GUEST_PAGE : 0);
	check_ram(memmap, memmap_n, opt.mem_mib);
	check_cpus(tramp);
	outb(DEBUGPORT, MARK_APS);
	check_timer();
	if (!pci_opt.skip) {
		pci_checks(&pci_opt);
		virtio_checks(&virtio_opt);
		if (virtio_opt.hostile)
			hotplug_hostile_check();
		if (opt.intx)
			virtio_intx_check();
	}
	if (virtio_opt.hostile)
		cpuhp_hostile_check(opt.cpus > 0 ? (unsigned)opt.cpus : 1);
	check("debugport", true, "wrote 0x10,0x20,0x30");
	snapcheck_run(cmdline);            /* snapcheck=1: checks in rounds, never returns */
	ged_power_button_check(cmdline);   /* powerbutton=1: waits for the host (ged.c) */
	guest_finish();
}
