/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.2 5.1) over a tap: queue pairs (receiveqN, transmitqN) and the
 * control queue, MAC, MTU and link status in config space, MRG_RXBUF, checksum and
 * segmentation offloads mirrored onto the tap. One worker thread serves every queue of a
 * device. Design and limits: docs/virtio-net.md.
 */
#ifndef VIREO_VIRTIO_NET_H
#define VIREO_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"
#include "virtio/ratelimit.h"

struct cJSON;

#define VIRTIO_NET_MAX_PAIRS     VIRTIO_WORKER_MAX_FDS   /* one tap fd each on the worker */
#define VIRTIO_NET_HDR_LEN       12      /* struct virtio_net_hdr_v1 (5.1.6) */
#define VIRTIO_NET_MAX_FRAME     65550   /* Ethernet header + 64 KiB GSO payload + VLAN */
#define VIRTIO_NET_DEFAULT_MTU   1500
#define VIRTIO_NET_MIN_MTU       68
#define VIRTIO_NET_MAX_MTU       65535

/* Why a chain or a frame was refused (one counter each). */
enum virtio_net_reject {
	VIRTIO_NET_R_RX_CHAIN,            /* RX chain with readable buffers or < 12 bytes */
	VIRTIO_NET_R_RX_TOO_BIG,          /* frame larger than the buffers posted: dropped */
	VIRTIO_NET_R_TX_CHAIN,            /* TX chain with writable buffers, or too short/long */
	VIRTIO_NET_R_TX_HEADER,           /* header asks for an offload not negotiated */
	VIRTIO_NET_R_TX_BACKEND,          /* the tap refused the frame */
	VIRTIO_NET_R_CTRL_CHAIN,          /* control chain without class/command or ack byte */
	VIRTIO_NET_R_CTRL_CMD,            /* control command answered VIRTIO_NET_ERR */
	VIRTIO_NET_R_NR
};
const char *virtio_net_reject_name(enum virtio_net_reject r);

/* rx/tx in Cloud Hypervisor's vm.counters names and units, then vireo's. */
struct virtio_net_counters {
	uint64_t rx_bytes, rx_frames, tx_bytes, tx_frames;
	uint64_t rx_dropped;              /* frames read from the tap the guest never saw */
	uint64_t tx_dropped;              /* chains whose frame never reached the tap */
	uint64_t rx_throttled, tx_throttled;   /* times the rate limiter held a direction back */
	uint64_t rejected[VIRTIO_NET_R_NR];
};

/* TUN_F_* bits, from the virtio GUEST_* features the driver negotiated (5.1.6.4). */
unsigned virtio_net_tap_offloads(uint64_t features);

/* What a net device is made of; the VM wiring fills it from the user's configuration. */
struct virtio_net_params {
	const int *fds;                   /* one backend fd per queue pair (dup'ed) */
	unsigned nr_pairs;                /* 1..VIRTIO_NET_MAX_PAIRS */
	bool tap;                         /* fds are taps: offload and queue ioctls apply */
	unsigned tap_offloads;            /* TUN_F_* the tap accepts (net_tap_probe_offloads) */
	unsigned queue_size;              /* 0: 256 */
	uint8_t mac[6];
	bool mac_set;                     /* false: a random locally administered one */
	unsigned mtu;                     /* 0: 1500 */
	bool offload_tso, offload_ufo, offload_csum;   /* CH's switches; all true by default */
	/* Each direction gets these buckets (CH); then at most 3 pairs (the timer needs a slot). */
	struct rate_limiter_params rate_limiter;
};

struct virtio_net;

/*
 * Builds the device on dup()s of p->fds (set non-blocking; the caller keeps its own). On
 * error: -errno and one line in @err.
 */
int virtio_net_new(const struct virtio_net_params *p, const struct guest_mem *mem,
		   struct virtio_net **out, char *err, size_t errlen);
struct virtio_dev *virtio_net_dev(struct virtio_net *net);
void virtio_net_free(struct virtio_net *net);
void virtio_net_counters(const struct virtio_net *net, struct virtio_net_counters *c);
void virtio_net_mac(const struct virtio_net *net, uint8_t mac[6]);
/* Queue pairs the driver enabled (VQ_PAIRS_SET; 1 before). */
unsigned virtio_net_active_pairs(const struct virtio_net *net);

/* ------------------------------------------------------------------ tap backend */

/*
 * Opens the tap @name ("" or NULL: the kernel picks vmtapN-like "tap%d") once per queue
 * pair with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (| IFF_MULTI_QUEUE for several pairs),
 * creating it if needed, and sets the 12-byte header. @ifname gets the actual name
 * (IFNAMSIZ). 0 or -errno with one line in @err; nothing stays open on error.
 */
int net_tap_open(const char *name, unsigned nr_pairs, int *fds, char *ifname, char *err,
		 size_t errlen);
/* A tap opened by the caller: checks IFF_TAP and IFF_VNET_HDR, sets the header size. */
int net_tap_check_fd(int fd, char *ifname, char *err, size_t errlen);
/* The TUN_F_* offloads (CSUM, TSO4, TSO6, UFO) the tap accepts; leaves them all off. */
unsigned net_tap_probe_offloads(int fd);
int net_tap_set_offload(int fd, unsigned tun_flags);
/* IFF_MULTI_QUEUE: lets the kernel queue frames on this fd, or stops it (TUNSETQUEUE). */
int net_tap_set_queue(int fd, bool attach);

/* The host end of the tap, through ioctls: any NULL / 0 argument leaves that alone. */
struct net_tap_host {
	const char *ip, *mask;            /* dotted IPv4 */
	const uint8_t *mac;               /* host_mac */
	unsigned mtu;
};
/* Applies @h to @ifname and brings it up. 0 or -errno with one line in @err. */
int net_tap_config_host(const char *ifname, const struct net_tap_host *h, char *err,
			size_t errlen);

/* A random locally administered unicast MAC (IEEE 802: bit 1 set, bit 0 clear). */
void net_random_mac(uint8_t mac[6]);

#endif
