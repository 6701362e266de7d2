// SPDX-License-Identifier: Apache-2.0
/*
 * Both ends of the guest I/O benchmark (integration/bench/guest_io_bench.py): built statically
 * into the stock-Linux suite's initramfs for the guest, and natively for the host side, so the
 * same code sends and receives on both sides and neither end is a shell pipeline.
 *
 *   bench_tool sink LISTEN            accept one stream, read it to EOF, close;
 *                                     prints "sink bytes N seconds S" (accept to EOF)
 *   bench_tool send TARGET BYTES      connect (retrying while refused, up to 300 s), write
 *                                     BYTES, shut down writing, wait for the peer's close;
 *                                     prints "send bytes N seconds S" (connect to close)
 *   bench_tool udp-sink PORT SECONDS  count datagrams for SECONDS from the first one;
 *                                     prints "udp-sink packets N seconds S"
 *   bench_tool udp-send IP PORT SECONDS SIZE
 *                                     send SIZE-byte datagrams for SECONDS;
 *                                     prints "udp-send packets N seconds S"
 *   bench_tool ping TARGET COUNT      COUNT times: connect, one byte to an echo server and
 *                                     back, close; prints "ping count N median_us U"
 *   bench_tool nicstats IFACE         the driver's own counters (ethtool -S), one
 *                                     "nicstat NAME VALUE" line each (virtio_net's per-queue
 *                                     kicks are the notifications it sent the device)
 *   bench_tool fsread PATH            read PATH to EOF; prints "fsread bytes N seconds S"
 *   bench_tool fsmeta DIR COUNT       COUNT times: create DIR/mN, stat it, unlink it;
 *                                     prints "fsmeta files N seconds S" (fs_bench.py)
 *
 * LISTEN is tcp:PORT, vsock:PORT or unix:PATH; TARGET is tcp:IP:PORT, vsock:CID:PORT, or
 * hybrid:PATH:PORT (a Unix socket speaking the "CONNECT PORT\n" / "OK ...\n" handshake of
 * Cloud Hypervisor's vsock backend).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/vm_sockets.h>
#include <net/if.h>
#include <sys/ioctl.h>

#define CHUNK (256 * 1024)
#define CONNECT_WAIT_S 300.0

static char buf[CHUNK];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int split3(const char *spec, char *kind, char *a, char *b)
{
	return sscanf(spec, "%15[^:]:%99[^:]:%99s", kind, a, b);
}

static int open_listener(const char *spec)
{
	char kind[16], a[100], b[100];
	int n = split3(spec, kind, a, b), fd, one = 1;

	if (n < 2)
		die("listen spec");
	if (!strcmp(kind, "tcp")) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(a)) };

		fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("bind tcp");
	} else if (!strcmp(kind, "vsock")) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
					  .svm_port = atoi(a) };

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("bind vsock");
	} else {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a);
		unlink(a);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("bind unix");
	}
	if (listen(fd, 16))
		die("listen");
	return fd;
}

/* One connection attempt to TARGET: the fd, or -1 with errno (refused: try again). */
static int try_connect(const char *spec)
{
	char kind[16], a[100], b[100];
	int fd, ok;

	if (split3(spec, kind, a, b) != 3)
		die("target spec");
	if (!strcmp(kind, "tcp")) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(b)) };

		inet_pton(AF_INET, a, &sa.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} else if (!strcmp(kind, "vsock")) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = atoi(a),
					  .svm_port = atoi(b) };

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} else {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char line[64];
		int len = snprintf(line, sizeof(line), "CONNECT %s\n", b), i = 0;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (!ok && write(fd, line, len) != len)
			ok = -1;
		/* The answer is "OK <port>\n"; a refused connection is closed instead. */
		while (!ok && i < (int)sizeof(line) - 1 && read(fd, line + i, 1) == 1 &&
		       line[i] != '\n')
			i++;
		if (!ok && (i < 3 || strncmp(line, "OK ", 3))) {
			errno = ECONNREFUSED;
			ok = -1;
		}
	}
	if (ok) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int connect_retry(const char *spec)
{
	double until = now() + CONNECT_WAIT_S;
	int fd;

	while ((fd = try_connect(spec)) < 0) {
		if (now() > until)
			die("connect");
		usleep(50000);   /* the listener is starting: poll, bounded by CONNECT_WAIT_S */
	}
	return fd;
}

static long long drain(int fd)
{
	long long total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		die("read");
	return total;
}

static int cmd_sink(const char *spec)
{
	int lfd = open_listener(spec), fd = accept(lfd, NULL, NULL);
	double t0 = now();
	long long n;

	if (fd < 0)
		die("accept");
	n = drain(fd);
	printf("sink bytes %lld seconds %.6f\n", n, now() - t0);
	close(fd);
	return 0;
}

static int cmd_send(const char *spec, long long bytes)
{
	double t0 = now();
	int fd = connect_retry(spec);
	long long left = bytes;

	memset(buf, 0x5a, sizeof(buf));
	while (left > 0) {
		ssize_t n = write(fd, buf, left < CHUNK ? left : CHUNK);

		if (n <= 0)
			die("write");
		left -= n;
	}
	shutdown(fd, SHUT_WR);
	drain(fd);
	printf("send bytes %lld seconds %.6f\n", bytes, now() - t0);
	close(fd);
	return 0;
}

static int cmd_udp_sink(int port, double seconds)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval first = { .tv_sec = 300 }, tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rcvbuf = 4 << 20;
	long long count = 0;
	double t0 = 0, t = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &first, sizeof(first));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind udp");
	printf("udp-sink ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EAGAIN)
			break;   /* nothing came, or the sender stopped before the window ended */
		if (n < 0)
			die("recv");
		t = now();
		if (!count++) {
			t0 = t;
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		if (t - t0 >= seconds)
			break;
	}
	printf("udp-sink packets %lld seconds %.6f\n", count, t - t0);
	return 0;
}

static int cmd_udp_send(const char *ip, int port, double seconds, int size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	double t0 = now(), t = t0;
	long long count = 0;

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect udp");
	memset(buf, 0x5a, size);
	while (t - t0 < seconds) {
		if (send(fd, buf, size, 0) == size)
			count++;
		if (!(count & 63))
			t = now();
	}
	printf("udp-send packets %lld seconds %.6f\n", count, now() - t0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmd_ping(const char *spec, int count)
{
	double *lat = calloc(count, sizeof(*lat));
	char c = 'p';

	for (int i = 0; i < count; i++) {
		double t0 = now();
		int fd = connect_retry(spec);

		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
			die("echo");
		close(fd);
		lat[i] = (now() - t0) * 1e6;
	}
	qsort(lat, count, sizeof(*lat), cmp_double);
	printf("ping count %d median_us %.1f\n", count, lat[count / 2]);
	free(lat);
	return 0;
}

/* SIOCETHTOOL on IFACE with @cmd (struct ethtool_* with cmd first); 0 or -1. */
static int ethtool(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr = { .ifr_data = cmd };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

static int cmd_nicstats(const char *ifname)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 len;
	} info = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_STATS } };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ethtool_gstrings *names;
	struct ethtool_stats *vals;
	__u32 n;

	if (fd < 0 || ethtool(fd, ifname, &info))
		die("ETHTOOL_GSSET_INFO");
	n = info.hdr.sset_mask ? info.len : 0;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	vals = calloc(1, sizeof(*vals) + (size_t)n * sizeof(__u64));
	if (!names || !vals)
		die("calloc");
	*names = (struct ethtool_gstrings){ .cmd = ETHTOOL_GSTRINGS, .string_set = ETH_SS_STATS,
					    .len = n };
	*vals = (struct ethtool_stats){ .cmd = ETHTOOL_GSTATS, .n_stats = n };
	if (ethtool(fd, ifname, names) || ethtool(fd, ifname, vals))
		die("ETHTOOL_GSTATS");
	for (__u32 i = 0; i < n; i++)
		printf("nicstat %.*s %llu\n", ETH_GSTRING_LEN,
		       (const char *)names->data + (size_t)i * ETH_GSTRING_LEN,
		       (unsigned long long)vals->data[i]);
	return 0;
}

static int cmd_fsread(const char *path)
{
	double t0 = now();
	int fd = open(path, O_RDONLY);
	long long n;

	if (fd < 0)
		die(path);
	n = drain(fd);
	close(fd);
	printf("fsread bytes %lld seconds %.6f\n", n, now() - t0);
	return 0;
}

static int cmd_fsmeta(const char *dir, int count)
{
	char path[4096];
	struct stat st;
	double t0 = now();

	for (int i = 0; i < count; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/m%d", dir, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || close(fd) || stat(path, &st) || unlink(path))
			die(path);
	}
	printf("fsmeta files %d seconds %.6f\n", count, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return cmd_sink(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return cmd_send(argv[2], atoll(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "udp-sink"))
		return cmd_udp_sink(atoi(argv[2]), atof(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "udp-send"))
		return cmd_udp_send(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "ping") && atoi(argv[3]) > 0)
		return cmd_ping(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "nicstats"))
		return cmd_nicstats(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "fsread"))
		return cmd_fsread(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "fsmeta") && atoi(argv[3]) > 0)
		return cmd_fsmeta(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: see the comment at the top of bench_tool.c\n");
	return 2;
}
