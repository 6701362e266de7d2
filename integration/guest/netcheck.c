/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio-net (net=MAC on the command line, 12 hex digits; virtio 1.2 5.1)
 * behind a tap whose host end is 192.0.2.1, driven as a careless or hostile driver might:
 * the MAC and pair count in the config space; the control queue at index 2 when MQ is not
 * taken (5.1.2) and garbage on it; TX chains that are too short, device-writable, too long
 * or carry a GSO type that was not negotiated, each given back and dropped; an RX buffer too
 * short for the header given back unused; and an ARP exchange with the host proving the
 * device still works. Last, a TX buffer outside guest RAM must set DEVICE_NEEDS_RESET, and
 * a reset brings the device back.
 */
#include "virtio.h"

#define VIRTIO_ID_NET    0x1041        /* 0x1040 + 1 */
#define VEC_NET          0x6C          /* entries 0-3: config, rx0, tx0, ctrl */
#define F_MAC            (1ULL << 5)
#define F_CTRL_VQ        (1ULL << 17)
#define HDR_LEN          12            /* struct virtio_net_hdr_v1 */
#define ARP_LEN          42
#define NRX              8
#define RX_LEN           256
#define RXQ              0
#define TXQ              1
#define CTRLQ            2             /* 5.1.2: MQ not negotiated */
#define CTRL_OK          0
#define CTRL_ERR         1

static struct { bool want; uint8_t mac[6]; } net_opt;
static uint8_t rxbuf[NRX][RX_LEN] __attribute__((aligned(64)));
static uint8_t shortbuf[8] __attribute__((aligned(64)));
static uint8_t txbuf[HDR_LEN + ARP_LEN] __attribute__((aligned(64)));
static uint8_t ctrlbuf[16] __attribute__((aligned(64)));
static volatile uint8_t ackbuf[4] __attribute__((aligned(64)));

static uint64_t pa(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool net_parse_word(const char *w, size_t len)
{
	if (len != 4 + 12 || memcmp(w, "net=", 4) != 0)
		return false;
	for (unsigned i = 0; i < 6; i++) {
		int hi = hexval(w[4 + 2 * i]), lo = hexval(w[5 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		net_opt.mac[i] = (uint8_t)(hi << 4 | lo);
	}
	net_opt.want = true;
	return true;
}

static bool needs_reset(void *arg)
{
	return cc_r8(arg, VC_STATUS) & VS_NEEDS_RESET;
}

/* Posts @n buffers as one chain on @qi and waits until the device gives it back. */
static bool chain(struct vdev *d, unsigned qi, const struct vbuf *b, unsigned n, uint32_t *len)
{
	struct vq *q = &d->vq[qi];
	uint32_t id;
	vq_post(q, b, n);
	vq_kick(d, q);
	return vq_wait_used(q, (uint16_t)(q->used_seen + 1), VIRTIO_TIMEOUT_US) &&
	       vq_pop_used(q, &id, len);
}

/* An ARP request for 192.0.2.1 from 192.0.2.2, behind a zeroed header. */
static void arp_request(void)
{
	static const uint8_t body[] = { 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1 };
	uint8_t *f = txbuf + HDR_LEN;
	memset(txbuf, 0, sizeof(txbuf));
	memset(f, 0xff, 6);
	memcpy(f + 6, net_opt.mac, 6);
	memcpy(f + 12, body, sizeof(body));
	memcpy(f + 22, net_opt.mac, 6);
	memcpy(f + 28, (const uint8_t[]){ 192, 0, 2, 2 }, 4);
	memcpy(f + 38, (const uint8_t[]){ 192, 0, 2, 1 }, 4);
}

static bool is_arp_reply(const uint8_t *f, uint32_t len)
{
	return len >= HDR_LEN + ARP_LEN && f[HDR_LEN + 12] == 0x08 && f[HDR_LEN + 13] == 0x06 &&
	       f[HDR_LEN + 21] == 2 && !memcmp(f + HDR_LEN + 28, (const uint8_t[]){ 192, 0, 2, 1 }, 4);
}

static void post_rx(struct vdev *d, bool with_short)
{
	if (with_short) {
		struct vbuf s = { pa(shortbuf), sizeof(shortbuf), true };
		vq_post(&d->vq[RXQ], &s, 1);
	}
	for (unsigned i = 0; i < NRX; i++) {
		struct vbuf b = { pa(rxbuf[i]), RX_LEN, true };
		vq_post(&d->vq[RXQ], &b, 1);
	}
	vq_kick(d, &d->vq[RXQ]);
}

/*
 * Sends the ARP request and reads RX until the host's reply (the host may also send IPv6
 * neighbour traffic); *short_len gets the used length of the short buffer if one came back.
 */
static bool arp_exchange(struct vdev *d, uint32_t *short_len, char *why, size_t n)
{
	struct vq *rx = &d->vq[RXQ];
	uint32_t tlen, id, len;
	arp_request();
	struct vbuf t = { pa(txbuf), sizeof(txbuf), false };
	if (!chain(d, TXQ, &t, 1, &tlen)) {
		gsnprintf(why, n, "the ARP request's TX buffer was not given back");
		return false;
	}
	for (unsigned i = 0; i < 32; i++) {
		if (!vq_wait_used(rx, (uint16_t)(rx->used_seen + 1), VIRTIO_TIMEOUT_US) ||
		    !vq_pop_used(rx, &id, &len) || id >= rx->size) {
			gsnprintf(why, n, "no ARP reply within 10 s (%u other frames)", i);
			return false;
		}
		uint64_t addr = rx->desc[id].addr;
		if (addr == pa(shortbuf)) {
			*short_len = len;
			continue;
		}
		if (is_arp_reply((const uint8_t *)(uintptr_t)addr, len))
			return true;
		struct vbuf b = { addr, RX_LEN, true };
		vq_post(rx, &b, 1);
		vq_kick(d, rx);
	}
	gsnprintf(why, n, "32 frames and none was the ARP reply");
	return false;
}

static void check_config(struct vdev *d)
{
	struct pci_bar *b = d->device.cfg ? pci_bar_at(d->f, d->device.bar) : NULL;
	uint8_t mac[6] = { 0 };
	uint16_t pairs = 0;
	if (b && d->device.len >= 10) {
		volatile uint8_t *cfg = (volatile uint8_t *)(uintptr_t)(b->addr + d->device.off);
		for (unsigned i = 0; i < 6; i++)
			mac[i] = cfg[i];
		pairs = (uint16_t)(cfg[8] | cfg[9] << 8);
	}
	check("net_config", !memcmp(mac, net_opt.mac, 6) && pairs == 2 && (d->features & F_MAC),
	      "mac %02x:%02x:%02x:%02x:%02x:%02x, max_virtqueue_pairs %u (want 2), MAC feature %s",
	      mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], pairs,
	      d->features & F_MAC ? "taken" : "NOT offered");
}

/* {class, cmd} then the ack byte; returns the used length, the ack in *ack (0xee: none). */
static bool ctrl(struct vdev *d, uint8_t cls, uint8_t cmd, uint32_t rlen, bool with_ack,
                 uint32_t *len, uint8_t *ack)
{
	ctrlbuf[0] = cls;
	ctrlbuf[1] = cmd;
	ctrlbuf[2] = 1;
	ctrlbuf[3] = 0;
	ackbuf[0] = 0xee;
	struct vbuf b[2] = { { pa(ctrlbuf), rlen, false }, { pa(ackbuf), 1, true } };
	bool ok = chain(d, CTRLQ, b, with_ack ? 2 : 1, len);
	*ack = ackbuf[0];
	return ok;
}

static void check_ctrl(struct vdev *d)
{
	uint32_t l[4] = { 9, 9, 9, 9 };
	uint8_t a[4] = { 0 };
	bool ok = ctrl(d, 99, 0, 2, true, &l[0], &a[0]) &&         /* unknown class */
	          ctrl(d, 4, 0, 4, true, &l[1], &a[1]) &&          /* MQ, not negotiated */
	          ctrl(d, 4, 0, 4, false, &l[2], &a[2]) &&         /* no ack byte */
	          ctrl(d, 4, 0, 1, true, &l[3], &a[3]);            /* shorter than {class, cmd} */
	uint8_t st = cc_r8(d, VC_STATUS);
	ok = ok && l[0] == 1 && a[0] == CTRL_ERR && l[1] == 1 && a[1] == CTRL_ERR && l[2] == 0 &&
	     a[2] == 0xee && l[3] == 0 && a[3] == 0xee && !(st & VS_NEEDS_RESET);
	check("net_ctrl_garbage", ok, "control queue 2 without MQ: unknown class ack %u len %u, "
	      "MQ PAIRS_SET ack %u len %u (want ERR, 1); no ack byte len %u, 1-byte command len %u "
	      "(want 0, untouched: 0x%x 0x%x); status 0x%x", a[0], l[0], a[1], l[1], l[2], l[3],
	      a[2], a[3], st);
}

static void check_tx_hostile(struct vdev *d)
{
	uint32_t len[4] = { 9, 9, 9, 9 };
	arp_request();
	txbuf[1] = 1;                                            /* gso_type TCPV4, no TSO */
	struct vbuf shortb = { pa(txbuf), 8, false }, wr = { pa(txbuf), sizeof(txbuf), true },
	            gso = { pa(txbuf), sizeof(txbuf), false },
	            huge = { pa(txbuf), HDR_LEN + 65550 + 64, false };
	bool ok = chain(d, TXQ, &shortb, 1, &len[0]) && chain(d, TXQ, &wr, 1, &len[1]) &&
	          chain(d, TXQ, &gso, 1, &len[2]) && chain(d, TXQ, &huge, 1, &len[3]);
	uint8_t st = cc_r8(d, VC_STATUS);
	ok = ok && !len[0] && !len[1] && !len[2] && !len[3] && !(st & VS_NEEDS_RESET);
	check("net_tx_hostile", ok, "TX chains of 8 bytes, device-writable, gso_type TCPV4 without "
	      "TSO, longer than a frame: %s, used lengths %u %u %u %u; status 0x%x",
	      ok ? "each given back and dropped" : "NOT all given back", len[0], len[1], len[2],
	      len[3], st);
}

static void check_rx_short_and_arp(struct vdev *d)
{
	char why[160] = "";
	uint32_t short_len = 99;
	post_rx(d, true);
	bool ok = arp_exchange(d, &short_len, why, sizeof(why));
	uint8_t st = cc_r8(d, VC_STATUS);
	ok = ok && short_len == 0 && !(st & VS_NEEDS_RESET);
	check("net_rx_short_and_arp", ok, "an 8-byte RX buffer came back with used length %u "
	      "(want 0); ARP request out, the host's reply in: %s%s; status 0x%x", short_len,
	      why[0] ? "FAILED: " : "ok", why, st);
}

/* 2.7.5.1: a buffer outside guest RAM; then a reset and a fresh start must work. */
static void check_hostile_ring(struct vdev *d)
{
	char why[160] = "";
	uint32_t short_len = 0;
	struct vbuf wild = { 1ULL << 40, 64, false };
	struct vq *q = &d->vq[TXQ];
	vq_post(q, &wild, 1);
	vq_kick(d, q);
	bool broke = poll_until(needs_reset, d, VIRTIO_TIMEOUT_US);
	bool back = vdev_reset(d) && vdev_init(d, 3, F_MAC | F_CTRL_VQ, why, sizeof(why));
	if (back) {
		post_rx(d, false);
		back = arp_exchange(d, &short_len, why, sizeof(why));
	}
	check("net_hostile_ring", broke && back, "TX buffer at 1 TiB: NEEDS_RESET %s; reset, "
	      "re-init and an ARP exchange: %s%s%s", broke ? "set" : "NOT set",
	      back ? "ok" : "FAILED", why[0] ? "; " : "", why);
}

void net_checks(void)
{
	static struct vdev d;
	const struct vdev_want want = { .id = VIRTIO_ID_NET, .tag = "net", .vec0 = VEC_NET,
	                                .nvq = 3, .features = F_MAC | F_CTRL_VQ, .must = true };
	if (!net_opt.want)
		return;
	if (!virtio_bring_up(&d, &want))
		return;
	check_config(&d);
	check_ctrl(&d);
	check_tx_hostile(&d);
	check_rx_short_and_arp(&d);
	check_hostile_ring(&d);
	vdev_reset(&d);
}
