// SPDX-License-Identifier: Apache-2.0
/*
 * /init of the slow Linux suite's initramfs (built by mkinitramfs.py, never checked in).
 *
 * Freestanding x86_64, raw system calls, no libc: it must run as the first user-space
 * program under the kvm-pvm emulator, where every instruction counts. It shows from user
 * space what the kernel log does not: which drivers bound the PCI and virtio devices,
 * whether their interrupts are MSI-X and arrive, that hwrng delivers bytes and that hvc0
 * reaches the VMM, and the MD5 of the disk's partition /dev/vda1 (run-linux.sh writes a known
 * image and computes its MD5 on the host). Every line starts with "vireo-init: " (console =
 * ttyS0); the suite's milestones-init.txt matches them. It ends with reboot(POWER_OFF) so the
 * VMM exits 0.
 */
#define SYS_read	0
#define SYS_write	1
#define SYS_open	2
#define SYS_close	3
#define SYS_nanosleep	35
#define SYS_readlink	89
#define SYS_mount	165
#define SYS_reboot	169
#define SYS_getdents64	217
#define SYS_clock_gettime 228

#define CLOCK_MONOTONIC	1

#define O_RDONLY	0
#define O_WRONLY	1
#define O_NOCTTY	0400
#define O_DIRECTORY	0200000
#define ENOENT		2

#define REBOOT_MAGIC1	0xfee1deadL
#define REBOOT_MAGIC2	672274793L
#define REBOOT_POWER_OFF 0x4321fedcL

#include "md5.h"

typedef unsigned long size_t;

static long syscall6(long nr, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys(nr, a, b, c) syscall6(nr, (long)(a), (long)(b), (long)(c), 0, 0)

/* gcc may emit calls to these even with -ffreestanding. */
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix && *s == *prefix) {
		s++;
		prefix++;
	}
	return !*prefix;
}

static int str_has(const char *hay, const char *needle)
{
	for (; *hay; hay++)
		if (starts_with(hay, needle))
			return 1;
	return 0;
}

/* One output line, written with a single write() so it is not split by kernel messages. */
static struct {
	char buf[512];
	size_t len;
} line;

static void put(const char *s)
{
	while (*s && line.len < sizeof(line.buf) - 1)
		line.buf[line.len++] = *s++;
}

static void put_dec(long v)
{
	char tmp[24];
	int i = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[i++] = '-';
	while (i && line.len < sizeof(line.buf) - 1)
		line.buf[line.len++] = tmp[--i];
}

static void put_hex_byte(unsigned char b)
{
	static const char digits[] = "0123456789abcdef";
	char s[3] = { digits[b >> 4], digits[b & 15], 0 };

	put(s);
}

static void start(const char *s)
{
	line.len = 0;
	put("vireo-init: ");
	put(s);
}

static void end(void)
{
	line.buf[line.len++] = '\n';
	sys(SYS_write, 1, line.buf, line.len);
	line.len = 0;
}

static void path_join(char *dst, size_t size, const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	size_t n = 0;

	for (int i = 0; i < 3; i++)
		for (const char *s = parts[i]; s && *s && n < size - 1; s++)
			dst[n++] = *s;
	dst[n] = 0;
}

/* Reads a whole (small) file; the result is NUL-terminated, trailing newline removed. */
static long read_text(const char *path, char *buf, size_t size)
{
	long fd = sys(SYS_open, path, O_RDONLY, 0), n, total = 0;

	if (fd < 0) {
		buf[0] = 0;
		return fd;
	}
	while ((size_t)total < size - 1 &&
	       (n = sys(SYS_read, fd, buf + total, size - 1 - total)) > 0)
		total += n;
	sys(SYS_close, fd, 0, 0);
	buf[total] = 0;
	if (total && buf[total - 1] == '\n')
		buf[--total] = 0;
	return total;
}

/* Last path component of a symlink's target ("../../bus/pci/drivers/virtio-pci"). */
static const char *link_base(const char *path, char *buf, size_t size)
{
	long n = sys(SYS_readlink, path, buf, size - 1);
	const char *base = buf;

	if (n < 0)
		return "none";
	buf[n] = 0;
	for (long i = 0; i < n; i++)
		if (buf[i] == '/')
			base = buf + i + 1;
	return base;
}

/* Second to last component: the parent device of a sysfs device link. */
static const char *link_parent(const char *path, char *buf, size_t size)
{
	long n = sys(SYS_readlink, path, buf, size - 1), slash = -1, prev = -1;

	if (n < 0)
		return "?";
	buf[n] = 0;
	for (long i = 0; i < n; i++)
		if (buf[i] == '/') {
			prev = slash;
			slash = i;
		}
	if (slash < 0)
		return "?";
	buf[slash] = 0;
	return buf + prev + 1;
}

struct dirent64 {
	unsigned long d_ino;
	long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

typedef void (*dir_fn)(const char *dir, const char *name, void *ctx);

/* Calls fn for every entry of dir except "." and ".."; returns the count or -errno. */
static long for_each_entry(const char *dir, dir_fn fn, void *ctx)
{
	static char bufs[2][4096];
	static int depth;
	char *buf = bufs[depth];
	long fd = sys(SYS_open, dir, O_RDONLY | O_DIRECTORY, 0), n, count = 0;

	if (fd < 0)
		return fd;
	depth++;   /* one nested walk at most (msi_irqs inside devices) */
	while ((n = sys(SYS_getdents64, fd, buf, sizeof(bufs[0]))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			fn(dir, d->d_name, ctx);
			count++;
		}
	}
	depth--;
	sys(SYS_close, fd, 0, 0);
	return n < 0 ? n : count;
}

static void mount_fs(const char *type, const char *target)
{
	long ret = syscall6(SYS_mount, (long)type, (long)target, (long)type, 0, 0);

	start("mount ");
	put(type);
	put(" on ");
	put(target);
	put(ret ? ": error " : ": ok");
	if (ret)
		put_dec(ret);
	end();
}

struct msi_list {
	char text[160];
	size_t len;
	long count;
};

static void add_msi_irq(const char *dir, const char *name, void *ctx)
{
	struct msi_list *l = ctx;
	char path[256], mode[16];

	path_join(path, sizeof(path), dir, "/", name);
	read_text(path, mode, sizeof(mode));
	for (const char *s = l->count ? "," : "", *t = name; *s || *t;) {
		char c = *s ? *s++ : *t++;

		if (l->len < sizeof(l->text) - 8)
			l->text[l->len++] = c;
	}
	if (l->len < sizeof(l->text) - 8) {
		l->text[l->len++] = '=';
		for (const char *t = mode; *t && l->len < sizeof(l->text) - 1; t++)
			l->text[l->len++] = *t;
	}
	l->text[l->len] = 0;
	l->count++;
}

/* Puts @sep and the value of the sysfs attribute @base/@attr, without "0x" if @drop_0x. */
static void put_attr(const char *sep, const char *base, const char *attr, int drop_0x)
{
	char path[256], val[64];

	path_join(path, sizeof(path), base, "/", attr);
	read_text(path, val, sizeof(val));
	put(sep);
	put(val + (drop_0x && val[0] == '0' && val[1] == 'x' ? 2 : 0));
}

static void put_driver(const char *base)
{
	char path[256], link[256];

	path_join(path, sizeof(path), base, "/driver", 0);
	put(" driver ");
	put(link_base(path, link, sizeof(link)));
}

/* "pci 0000:00:02.0 1af4:1044 class 0x00ff00 driver virtio-pci msi 25=msix,26=msix" */
static void show_pci_device(const char *dir, const char *name, void *ctx)
{
	char base[128], path[256];
	struct msi_list msi = { .len = 0, .count = 0 };

	(void)ctx;
	path_join(base, sizeof(base), dir, "/", name);
	start("pci ");
	put(name);
	put_attr(" ", base, "vendor", 1);
	put_attr(":", base, "device", 1);
	put_attr(" class ", base, "class", 0);
	put_driver(base);
	path_join(path, sizeof(path), base, "/msi_irqs", 0);
	put(" msi ");
	if (for_each_entry(path, add_msi_irq, &msi) > 0)
		put(msi.text);
	else
		put("none");
	end();
}

/* "virtio virtio1 device 0x0004 driver virtio_rng on 0000:00:02.0" */
static void show_virtio_device(const char *dir, const char *name, void *ctx)
{
	char base[128], link[256];

	(void)ctx;
	path_join(base, sizeof(base), dir, "/", name);
	start("virtio ");
	put(name);
	put_attr(" device ", base, "device", 0);
	put_driver(base);
	put(" on ");
	put(link_parent(base, link, sizeof(link)));
	end();
}

static void list_bus(const char *dir, dir_fn fn, const char *what)
{
	long n = for_each_entry(dir, fn, 0);

	start(what);
	put(" devices: ");
	put_dec(n);
	end();
}

/* The driver bound to the virtio device a /proc/interrupts line names ("virtio1-input"). */
static const char *virtio_driver_of(const char *irq_line)
{
	static char link[256];
	char name[32], path[128];
	const char *s = irq_line;
	size_t n = 0;

	while (*s && !starts_with(s, " virtio"))
		s++;
	for (s += *s == ' '; *s && *s != '-' && *s != ' ' && n < sizeof(name) - 1; s++)
		name[n++] = *s;
	name[n] = 0;
	path_join(path, sizeof(path), "/sys/bus/virtio/devices/", name, "/driver");
	return link_base(path, link, sizeof(link));
}

/*
 * Prints the lines of /proc/interrupts that name a virtio device, with the driver of that
 * device and the line's total count over all CPUs.
 */
static void show_virtio_interrupts(const char *when)
{
	static char text[16384];
	char *p = text;

	if (read_text("/proc/interrupts", text, sizeof(text)) < 0) {
		start("cannot read /proc/interrupts");
		end();
		return;
	}
	while (*p) {
		char *eol = p;
		long total = 0, cur = -1;

		while (*eol && *eol != '\n')
			eol++;
		if (*eol)
			*eol++ = 0;
		if (str_has(p, " virtio")) {
			/* per-CPU counts follow "NN:" until the first non-numeric field */
			char *s = p;

			while (*s && *s != ':')
				s++;
			for (s += *s == ':'; *s; s++) {
				if (*s >= '0' && *s <= '9') {
					cur = (cur < 0 ? 0 : cur * 10) + (*s - '0');
				} else if (*s == ' ') {
					if (cur >= 0)
						total += cur;
					cur = -1;
				} else {
					break;
				}
			}
			while (*p == ' ')
				p++;
			start("irq ");
			put(when);
			put(" ");
			put(virtio_driver_of(p));
			put(" total=");
			put_dec(total);
			put(" | ");
			put(p);
			end();
		}
		p = eol;
	}
}

static void show_text(const char *label, const char *path)
{
	char val[256];
	long n = read_text(path, val, sizeof(val));

	start(label);
	put(" ");
	if (n < 0) {
		put("error ");
		put_dec(n);
	} else {
		put(val);
	}
	end();
}

/* Reads 2 x 64 bytes from /dev/hwrng: both non-zero, varied and different from each other. */
static void read_hwrng(void)
{
	unsigned char buf[2][64];
	unsigned char seen[256];
	long fd = sys(SYS_open, "/dev/hwrng", O_RDONLY, 0), got = 0, n = 0;
	int distinct = 0, zero = 0, same = 1;

	start("hwrng reading 128 bytes");
	end();
	if (fd < 0) {
		start("hwrng open error ");
		put_dec(fd);
		end();
		return;
	}
	while (got < (long)sizeof(buf) &&
	       (n = sys(SYS_read, fd, (char *)buf + got, sizeof(buf) - got)) > 0)
		got += n;
	sys(SYS_close, fd, 0, 0);
	if (n < 0) {
		start("hwrng read error ");
		put_dec(n);
		end();
	}
	memset(seen, 0, sizeof(seen));
	for (long i = 0; i < got; i++) {
		unsigned char b = ((unsigned char *)buf)[i];

		distinct += !seen[b];
		seen[b] = 1;
		zero += b == 0;
		if (i < 64 && i + 64 < got && buf[0][i] != buf[1][i])
			same = 0;
	}
	start("hwrng read ");
	put_dec(got);
	put(" bytes distinct=");
	put_dec(distinct);
	put(" zero=");
	put_dec(zero);
	put(got == sizeof(buf) && !same ? " halves differ" : " halves SAME");
	put(" first=");
	for (int i = 0; i < 16 && i < got; i++)
		put_hex_byte(buf[0][i]);
	end();
}

static long now_ms(void)
{
	struct { long sec, nsec; } ts = { 0, 0 };

	sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
	return ts.sec * 1000 + ts.nsec / 1000000;
}

/*
 * Reads /dev/vda1 to its end through virtio-blk and prints its MD5, byte and 512-byte sector
 * counts: "vda1 md5 <32 hex> bytes <n> sectors <n/512> in <ms> ms".
 */
static void md5_vda1(void)
{
	static unsigned char buf[64 * 1024];
	unsigned char digest[16];
	struct md5 m;
	long fd = sys(SYS_open, "/dev/vda1", O_RDONLY, 0), n, total = 0, t0 = now_ms();

	if (fd < 0) {
		start("vda1 open error ");
		put_dec(fd);
		end();
		return;
	}
	md5_init(&m);
	while ((n = sys(SYS_read, fd, buf, sizeof(buf))) > 0) {
		md5_update(&m, buf, (unsigned long)n);
		total += n;
	}
	sys(SYS_close, fd, 0, 0);
	if (n < 0) {
		start("vda1 read error ");
		put_dec(n);
		put(" after ");
		put_dec(total);
		put(" bytes");
		end();
		return;
	}
	md5_final(&m, digest);
	start("vda1 md5 ");
	for (int i = 0; i < 16; i++)
		put_hex_byte(digest[i]);
	put(" bytes ");
	put_dec(total);
	put(" sectors ");
	put_dec(total / 512);
	put(" in ");
	put_dec(now_ms() - t0);
	put(" ms");
	end();
}

static const char hvc_line[] = "vireo-hvc0: hello from the initramfs on hvc0\n";

/*
 * hvc0 appears when virtio_console adds its console port; with a multiport device that
 * happens from a work item, possibly after /init started. Poll for it for at most 60 s.
 */
static void write_hvc0(void)
{
	struct { long sec, nsec; } tick = { 0, 100 * 1000 * 1000 };
	long fd = -ENOENT, tries = 0, n;

	while (tries < 600 && (fd = sys(SYS_open, "/dev/hvc0", O_WRONLY | O_NOCTTY, 0)) < 0) {
		sys(SYS_nanosleep, &tick, 0, 0);
		tries++;
	}
	if (fd < 0) {
		start("hvc0 open error ");
		put_dec(fd);
		end();
		return;
	}
	n = sys(SYS_write, fd, hvc_line, sizeof(hvc_line) - 1);
	sys(SYS_close, fd, 0, 0);
	start("hvc0 wrote ");
	put_dec(n);
	put(" bytes after ");
	put_dec(tries);
	put(" waits of 100 ms");
	end();
}

void init_main(void)
{
	long ret;

	start("start");
	end();
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mount_fs("devtmpfs", "/dev");

	list_bus("/sys/bus/pci/devices", show_pci_device, "pci");
	list_bus("/sys/bus/virtio/devices", show_virtio_device, "virtio");
	show_virtio_interrupts("before");

	show_text("rng_current", "/sys/class/misc/hw_random/rng_current");
	show_text("rng_available", "/sys/class/misc/hw_random/rng_available");
	read_hwrng();
	write_hvc0();
	md5_vda1();
	show_virtio_interrupts("after");

	start("done, powering off");
	end();
	ret = sys(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_POWER_OFF);
	start("reboot(POWER_OFF) returned ");
	put_dec(ret);
	end();
	/* Returning from init panics the kernel: a fatal line for the runner. */
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	call init_main\n"
	"	mov $60, %eax\n"   /* exit(1) */
	"	mov $1, %edi\n"
	"	syscall\n"
	"	hlt\n");
