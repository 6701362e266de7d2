/* SPDX-License-Identifier: Apache-2.0 */
/* vireo test guest: COM1 console, a small printf, mem* helpers, on-demand page tables. */
#include "guest.h"

#define COM1      0x3F8
#define COM1_LSR  (COM1 + 5)
#define LSR_THRE  0x20

/* Polled 8250 output: wait for THR empty (LSR bit 5), bounded so a broken UART cannot hang us. */
void con_putc(char c)
{
	for (unsigned i = 0; i < 1000000 && !(inb(COM1_LSR) & LSR_THRE); i++)
		cpu_pause();
	outb(COM1, (uint8_t)c);
}

void con_puts(const char *s)
{
	while (*s)
		con_putc(*s++);
}

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;
	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* --- formatting: %s %c %d %u %x with l/ll and an optional 0-padded width --- */

struct sink {
	char *buf;
	size_t size, len;
};

static void sink_put(struct sink *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void put_uint(struct sink *s, uint64_t v, unsigned base, unsigned width, char pad)
{
	char tmp[24];
	unsigned n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width > n) {
		sink_put(s, pad);
		width--;
	}
	while (n)
		sink_put(s, tmp[--n]);
}

static uint64_t get_uint(va_list *ap, unsigned lng)
{
	if (lng)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

static int64_t get_int(va_list *ap, unsigned lng)
{
	if (lng)
		return va_arg(*ap, long);
	return va_arg(*ap, int);
}

static void format_one(struct sink *s, char conv, unsigned lng, unsigned width, char pad, va_list *ap)
{
	switch (conv) {
	case 's': {
		const char *str = va_arg(*ap, const char *);
		for (str = str ? str : "(null)"; *str; str++)
			sink_put(s, *str);
		break;
	}
	case 'c':
		sink_put(s, (char)va_arg(*ap, int));
		break;
	case 'd': {
		int64_t v = get_int(ap, lng);
		if (v < 0) {
			sink_put(s, '-');
			v = -v;
		}
		put_uint(s, (uint64_t)v, 10, width, pad);
		break;
	}
	case 'u':
		put_uint(s, get_uint(ap, lng), 10, width, pad);
		break;
	case 'x':
		put_uint(s, get_uint(ap, lng), 16, width, pad);
		break;
	default:
		sink_put(s, '%');
		sink_put(s, conv);
	}
}

int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { buf, size, 0 };
	va_list aq;
	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		if (*fmt != '%' || !fmt[1]) {
			sink_put(&s, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		unsigned width = 0, lng = 0;
		if (*fmt == '%') {
			sink_put(&s, '%');
			continue;
		}
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		if (!*fmt)
			break;
		format_one(&s, *fmt, lng, width, pad, &aq);
	}
	va_end(aq);
	if (size)
		buf[s.len < size ? s.len : size - 1] = 0;
	return (int)s.len;
}

int gsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = gvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void gprintf(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	gvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	con_puts(line);
}

/*
 * --- page tables ---
 * boot.S identity-maps [0, 1 GiB). Anything else (RAM above 1 GiB, ACPI tables high in low
 * RAM, the LAPIC) is mapped here with 2 MiB pages (SDM vol 3A 4.5, 4-level paging); the
 * 32-bit MMIO hole [3 GiB, 4 GiB), and whatever phys_map_uc() maps, gets PCD|PWT so device
 * registers are uncached.
 * Filling a not-present entry needs no TLB flush (SDM 4.10.2.3); the one rewrite (cached ->
 * uncached for phys_map_uc) is followed by INVLPG.
 */
#define PTE_P     0x1ULL
#define PTE_W     0x2ULL
#define PTE_PWT   0x8ULL
#define PTE_PCD   0x10ULL
#define PTE_PS    0x80ULL
#define PTE_ADDR  0x000FFFFFFFFFF000ULL
#define PT_POOL   64

extern uint64_t boot_pml4[512];
static uint64_t pt_pool[PT_POOL][512] __attribute__((aligned(4096), section(".noclear")));
static unsigned pt_used;

static uint64_t *pt_next(uint64_t *table, unsigned idx)
{
	if (!(table[idx] & PTE_P)) {
		if (pt_used == PT_POOL)
			return NULL;
		uint64_t *fresh = pt_pool[pt_used++];
		memset(fresh, 0, GUEST_PAGE);
		table[idx] = (uint64_t)(uintptr_t)fresh | PTE_P | PTE_W;
	}
	return (uint64_t *)(uintptr_t)(table[idx] & PTE_ADDR);
}

static bool map_large(uint64_t pa, bool uc)
{
	uint64_t *pdpt = pt_next(boot_pml4, (pa >> 39) & 511);
	uint64_t *pd = pdpt ? pt_next(pdpt, (pa >> 30) & 511) : NULL;
	if (!pd)
		return false;
	uint64_t *pde = &pd[(pa >> 21) & 511];
	uint64_t attr = PTE_P | PTE_W | PTE_PS;
	if (uc || (pa >= MMIO_HOLE_START && pa < FOUR_GIB))
		attr |= PTE_PCD | PTE_PWT;
	if ((*pde & PTE_P) && (!uc || (*pde & PTE_PCD)))
		return true;
	bool was_present = *pde & PTE_P;
	*pde = (pa & ~(GUEST_LARGE_PAGE - 1)) | attr;
	barrier();
	/* A cached mapping turned uncached (device registers outside the 3-4 GiB hole). */
	if (was_present)
		__asm__ volatile("invlpg (%0)" : : "r"((uintptr_t)pa) : "memory");
	return true;
}

static bool map_range(uint64_t pa, uint64_t len, bool uc)
{
	if (len == 0)
		len = 1;
	if (pa >= (1ULL << 47) || pa + len > (1ULL << 47) || pa + len < pa)
		return false;
	for (uint64_t a = pa & ~(GUEST_LARGE_PAGE - 1); a < pa + len; a += GUEST_LARGE_PAGE)
		if (!map_large(a, uc))
			return false;
	return true;
}

/* Make [pa, pa+len) accessible at the same virtual address. Only the lower half (< 128 TiB). */
bool phys_map(uint64_t pa, uint64_t len)
{
	return map_range(pa, len, false);
}

/* The same, uncached (PCD|PWT) wherever it is: ECAM and BARs may lie outside [3 GiB, 4 GiB). */
bool phys_map_uc(uint64_t pa, uint64_t len)
{
	return map_range(pa, len, true);
}

void *phys_ptr(uint64_t pa, uint64_t len)
{
	return phys_map(pa, len) ? (void *)(uintptr_t)pa : NULL;
}
