/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio-vsock (vsock=CID on the command line; virtio 1.2 5.10), driven with
 * rx and tx only, as a careless or hostile driver might: the CID in the config space, a
 * connection to a host port nobody listens on (RST), malformed packets that must be dropped
 * or answered with an RST and never stop the device, and a broken TX ring that must set
 * DEVICE_NEEDS_RESET, after which a reset brings the device back.
 */
#include "virtio.h"

#define VIRTIO_ID_VSOCK  0x1053        /* 0x1040 + 19 */
#define VEC_VSOCK        0x5C          /* entries 0-2: config, rx, tx */
#define HOST_CID         2
#define OP_REQUEST       1
#define OP_RST           3
#define OP_RW            5
#define TYPE_STREAM      1
#define TYPE_SEQPACKET   2
#define NRX              8

struct vhdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static struct { bool want; uint64_t cid; } vs_opt;
static uint8_t rxbuf[NRX][256] __attribute__((aligned(64)));
static uint8_t txbuf[512] __attribute__((aligned(64)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

bool vsock_parse_word(const char *w, size_t len)
{
	uint64_t v = 0;
	if (len < 7 || memcmp(w, "vsock=", 6) != 0)
		return false;
	for (size_t i = 6; i < len && w[i] >= '0' && w[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(w[i] - '0');
	vs_opt.want = true;
	vs_opt.cid = v;
	return true;
}

static void post_rx(struct vdev *d)
{
	for (unsigned i = 0; i < NRX; i++) {
		struct vbuf b = { pa(rxbuf[i]), sizeof(rxbuf[i]), true };
		vq_post(&d->vq[0], &b, 1);
	}
	vq_kick(d, &d->vq[0]);
}

static struct vhdr hdr(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	return (struct vhdr){ .src_cid = vs_opt.cid, .dst_cid = HOST_CID, .src_port = src_port,
	                      .dst_port = dst_port, .type = TYPE_STREAM, .op = op,
	                      .buf_alloc = 65536 };
}

/* One TX buffer of @len bytes (the header first), device-writable when @bad_dir; served. */
static bool send(struct vdev *d, const struct vhdr *h, uint32_t len, bool bad_dir)
{
	struct vq *q = &d->vq[1];
	struct vbuf b = { pa(txbuf), len, bad_dir };
	uint32_t id, ulen;
	memcpy(txbuf, h, sizeof(*h));
	vq_post(q, &b, 1);
	vq_kick(d, q);
	return vq_wait_used(q, (uint16_t)(q->used_seen + 1), VIRTIO_TIMEOUT_US) &&
	       vq_pop_used(q, &id, &ulen);
}

/* The next packet on rx; its buffer goes back to the device. */
static bool receive(struct vdev *d, struct vhdr *h)
{
	struct vq *q = &d->vq[0];
	uint32_t id, len;
	if (!vq_wait_used(q, (uint16_t)(q->used_seen + 1), VIRTIO_TIMEOUT_US) ||
	    !vq_pop_used(q, &id, &len) || id >= q->size || len < sizeof(*h))
		return false;
	uint64_t addr = q->desc[id].addr;
	memcpy(h, (const void *)(uintptr_t)addr, sizeof(*h));
	struct vbuf b = { addr, sizeof(rxbuf[0]), true };
	vq_post(q, &b, 1);
	vq_kick(d, q);
	return true;
}

/* The next packet is an RST from host port @from to guest port @to. */
static bool expect_rst(struct vdev *d, uint32_t from, uint32_t to, char *why, size_t n)
{
	struct vhdr h;
	if (!receive(d, &h)) {
		gsnprintf(why, n, "no packet for guest port %u within 10 s", to);
		return false;
	}
	if (h.op != OP_RST || h.src_port != from || h.dst_port != to || h.src_cid != HOST_CID ||
	    h.dst_cid != vs_opt.cid) {
		gsnprintf(why, n, "want RST %u->%u, got op %u %u->%u (cid %lu->%lu)", from, to, h.op,
		          h.src_port, h.dst_port, h.src_cid, h.dst_cid);
		return false;
	}
	return true;
}

static void check_config(struct vdev *d)
{
	struct pci_bar *b = d->device.cfg ? pci_bar_at(d->f, d->device.bar) : NULL;
	uint64_t cid = 0;
	if (b && d->device.len >= 8) {
		volatile uint32_t *cfg = (volatile uint32_t *)(uintptr_t)(b->addr + d->device.off);
		cid = cfg[0] | (uint64_t)cfg[1] << 32;
	}
	check("vsock_config", cid == vs_opt.cid, "guest_cid %lu (want %lu), config length %u", cid,
	      vs_opt.cid, d->device.len);
}

static void check_refused(struct vdev *d)
{
	char why[160] = "";
	struct vhdr h = hdr(OP_REQUEST, 5000, 1);
	bool ok = send(d, &h, sizeof(h), false) && expect_rst(d, 1, 5000, why, sizeof(why));
	check("vsock_refused", ok, "REQUEST to CID 2 port 1, where nobody listens: %s%s",
	      ok ? "RST" : "FAILED: ", why);
}

/* Dropped ones answer nothing, refused ones an RST: the RSTs arrive for 6001-6004 in order. */
static void check_hostile_packets(struct vdev *d)
{
	char why[160] = "";
	struct vhdr h[8];
	h[0] = hdr(OP_REQUEST, 7000, 1);
	h[0].src_cid = vs_opt.cid + 1;                     /* spoofed source */
	h[1] = hdr(OP_REQUEST, 7001, 1);
	h[1].dst_cid = 7;                                  /* guest to guest */
	h[2] = hdr(OP_RW, 7002, 1);
	h[2].len = 100;                                    /* past the buffer */
	h[3] = hdr(OP_REQUEST, 7003, 1);                   /* sent in a writable buffer */
	h[4] = hdr(9, 6001, 1);                            /* unknown op: RST */
	h[5] = hdr(OP_REQUEST, 6002, 1);
	h[5].type = TYPE_SEQPACKET;                        /* not offered: RST */
	h[6] = hdr(OP_RW, 6003, 1);                        /* no such connection: RST */
	h[6].len = 4;
	h[7] = hdr(OP_REQUEST, 6004, 1);                   /* nobody listens: RST */
	bool ok = true;
	for (unsigned i = 0; i < 8 && ok; i++)
		ok = send(d, &h[i], (uint32_t)sizeof(h[i]) + (i == 6 ? 4 : 0), i == 3);
	if (!ok)
		gsnprintf(why, sizeof(why), "a TX buffer was not given back");
	for (unsigned p = 6001; p <= 6004 && ok; p++)
		ok = expect_rst(d, 1, p, why, sizeof(why));
	uint8_t st = cc_r8(d, VC_STATUS);
	ok = ok && !(st & VS_NEEDS_RESET);
	check("vsock_hostile_packets", ok, "spoofed src_cid, dst_cid 7, len past the buffer, a "
	      "writable TX buffer: dropped; unknown op, SEQPACKET, RW without connection, REQUEST "
	      "to nobody: RST each; status 0x%x%s%s", st, why[0] ? "; " : "", why);
}

static bool needs_reset(void *arg)
{
	return cc_r8(arg, VC_STATUS) & VS_NEEDS_RESET;
}

/* 2.7.13.3: avail->idx far ahead on TX; then a reset and a fresh start must work. */
static void check_hostile_ring(struct vdev *d)
{
	char why[160] = "";
	struct vq *q = &d->vq[1];
	q->avail[1] = (uint16_t)(q->avail_idx + q->size + 1);   /* from what the device took */
	vq_kick(d, q);
	bool broke = poll_until(needs_reset, d, VIRTIO_TIMEOUT_US);
	bool back = vdev_reset(d) && vdev_init(d, 2, 0, why, sizeof(why));
	if (back) {
		struct vhdr h = hdr(OP_REQUEST, 5005, 1);
		post_rx(d);
		back = send(d, &h, sizeof(h), false) && expect_rst(d, 1, 5005, why, sizeof(why));
	}
	check("vsock_hostile_ring", broke && back, "TX avail idx = size + 1: NEEDS_RESET %s; reset, "
	      "re-init and a REQUEST: %s%s%s", broke ? "set" : "NOT set", back ? "RST" : "FAILED",
	      why[0] ? "; " : "", why);
}

void vsock_checks(void)
{
	static struct vdev d;
	const struct vdev_want want = { .id = VIRTIO_ID_VSOCK, .tag = "vsock", .vec0 = VEC_VSOCK,
	                                .nvq = 2, .must = true };
	if (!vs_opt.want)
		return;
	if (!virtio_bring_up(&d, &want))
		return;
	check_config(&d);
	post_rx(&d);
	check_refused(&d);
	check_hostile_packets(&d);
	check_hostile_ring(&d);
	vdev_reset(&d);
}
