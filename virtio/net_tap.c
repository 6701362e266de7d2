// SPDX-License-Identifier: Apache-2.0
/*
 * The tap backend of virtio-net: open or create a tap (Documentation/networking/tuntap.rst)
 * with the virtio-net header in front of every frame, the offloads the guest negotiated,
 * multi-queue attach/detach, and the host end's address through ioctls (no ip(8)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "base/log.h"
#include "virtio/net.h"

#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO)

static int tap_hdr_size(int fd)
{
	int sz = VIRTIO_NET_HDR_LEN;

	return ioctl(fd, TUNSETVNETHDRSZ, &sz) ? -errno : 0;
}

static int tap_open_one(const char *name, unsigned nr_pairs, char *ifname, char *err,
			size_t errlen)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC), ret;

	if (fd < 0)
		return set_err(err, errlen, -errno, "tap: cannot open /dev/net/tun: %s",
			       strerror(errno));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (nr_pairs > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name && *name ? name : "vmtap%d");
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		ret = set_err(err, errlen, -errno, "tap=%s: TUNSETIFF: %s%s", ifr.ifr_name,
			      strerror(errno), errno == EINVAL && nr_pairs > 1 ?
			      " (an existing tap without multi_queue?)" : "");
		goto err_close;
	}
	if ((ret = tap_hdr_size(fd))) {
		set_err(err, errlen, ret, "tap=%s: TUNSETVNETHDRSZ: %s", ifr.ifr_name,
			strerror(-ret));
		goto err_close;
	}
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return fd;

err_close:
	close(fd);
	return ret;
}

int net_tap_open(const char *name, unsigned nr_pairs, int *fds, char *ifname, char *err,
		 size_t errlen)
{
	unsigned i;

	for (i = 0; i < nr_pairs; i++) {
		/* The first open names (or creates) the tap; the others join that one. */
		int fd = tap_open_one(i ? ifname : name, nr_pairs, ifname, err, errlen);

		if (fd < 0) {
			while (i--)
				close(fds[i]);
			return fd;
		}
		fds[i] = fd;
	}
	return 0;
}

int net_tap_check_fd(int fd, char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int ret;

	if (ioctl(fd, TUNGETIFF, &ifr))
		return set_err(err, errlen, -errno, "fd %d is not a tap (TUNGETIFF: %s)", fd,
			       strerror(errno));
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) ||
	    !(ifr.ifr_flags & IFF_NO_PI))
		return set_err(err, errlen, -EINVAL, "fd %d: tap %.16s lacks %s", fd, ifr.ifr_name,
			       !(ifr.ifr_flags & IFF_TAP) ? "IFF_TAP (a tun?)" :
			       !(ifr.ifr_flags & IFF_VNET_HDR) ? "IFF_VNET_HDR" : "IFF_NO_PI");
	if ((ret = tap_hdr_size(fd)))
		return set_err(err, errlen, ret, "fd %d: TUNSETVNETHDRSZ: %s", fd, strerror(-ret));
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return 0;
}

unsigned net_tap_probe_offloads(int fd)
{
	static const unsigned sets[] = { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_UFO };
	unsigned ok = 0, i;

	/* Each offload needs CSUM with it (tun's set_offload). */
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (!ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | sets[i])))
			ok |= sets[i];
	ioctl(fd, TUNSETOFFLOAD, 0UL);
	return (ok & TUN_F_CSUM) ? ok & TAP_OFFLOADS : 0;
}

int net_tap_set_offload(int fd, unsigned tun_flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) ? -errno : 0;
}

int net_tap_set_queue(int fd, bool attach)
{
	struct ifreq ifr = { .ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	if (!ioctl(fd, TUNSETQUEUE, &ifr))
		return 0;
	/* Already in the wanted state is not an error. */
	return errno == EINVAL ? 0 : -errno;
}

static int set_addr(int sock, unsigned long req, const char *ifname, const char *what,
		    const char *dotted, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, dotted, &sin->sin_addr) != 1)
		return set_err(err, errlen, -EINVAL, "%s='%s' is not an IPv4 address", what, dotted);
	if (ioctl(sock, req, &ifr))
		return set_err(err, errlen, -errno, "tap %s: cannot set %s %s: %s", ifname, what,
			       dotted, strerror(errno));
	return 0;
}

static int host_mac_mtu(int sock, const char *ifname, const struct net_tap_host *h, char *err,
			size_t errlen)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (h->mac) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, h->mac, 6);
		if (ioctl(sock, SIOCSIFHWADDR, &ifr))
			return set_err(err, errlen, -errno, "tap %s: cannot set host_mac: %s",
				       ifname, strerror(errno));
	}
	if (h->mtu) {
		ifr.ifr_mtu = (int)h->mtu;
		if (ioctl(sock, SIOCSIFMTU, &ifr))
			return set_err(err, errlen, -errno, "tap %s: cannot set mtu %u: %s", ifname,
				       h->mtu, strerror(errno));
	}
	if (ioctl(sock, SIOCGIFFLAGS, &ifr))
		return set_err(err, errlen, -errno, "tap %s: SIOCGIFFLAGS: %s", ifname,
			       strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr))
		return set_err(err, errlen, -errno, "tap %s: cannot bring it up: %s", ifname,
			       strerror(errno));
	return 0;
}

int net_tap_config_host(const char *ifname, const struct net_tap_host *h, char *err,
			size_t errlen)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (sock < 0)
		return set_err(err, errlen, -errno, "tap %s: socket: %s", ifname, strerror(errno));
	if (h->ip)
		ret = set_addr(sock, SIOCSIFADDR, ifname, "ip", h->ip, err, errlen);
	if (!ret && h->mask)
		ret = set_addr(sock, SIOCSIFNETMASK, ifname, "mask", h->mask, err, errlen);
	if (!ret)
		ret = host_mac_mtu(sock, ifname, h, err, errlen);
	close(sock);
	return ret;
}
