/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio-blk plumbing. The blk* command-line words, the image pattern
 * (the runner writes the same one with blk-image.py), the device configuration (5.2.4) and
 * requests (5.2.6): chains of header, data and status built segment by segment, so the
 * hostile checks can build wrong ones with the same code, posted on either queue and run
 * together.
 */
#include "blk.h"

#define SLOTS       64                     /* headers and status bytes, used cyclically */
#define IND_TABLES  4                      /* indirect tables, used cyclically */

struct blk_opts blk_opt;

static struct blk_slot slots[SLOTS] __attribute__((aligned(64)));
static unsigned slot_next;
static struct vring_desc ind_pool[IND_TABLES][BLK_CHAIN_MAX] __attribute__((aligned(16)));
static unsigned ind_next;

static uint64_t pa(const volatile void *p) { return (uint64_t)(uintptr_t)p; }

/* --- command line: blk=SERIAL:MODE:SECTORS:QUEUES[,...] blkseed=N blkhostile=1 blkdurable=M --- */

static bool word_is(const char *w, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(w, s, len) == 0;
}

/* Decimal, or hex with 0x; the whole of [s, s+len). */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	uint64_t v = 0;
	size_t i = hex ? 2 : 0;
	if (i == len)
		return false;
	for (; i < len; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
		             hex && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
		             hex && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 99;
		if (d == 99)
			return false;
		v = v * (hex ? 16 : 10) + d;
	}
	*out = v;
	return true;
}

/* One SERIAL:MODE:SECTORS:QUEUES. */
static bool parse_disk(const char *s, size_t len, struct blk_disk *k)
{
	const char *f[4];
	size_t fl[4], n = 0, start = 0;
	for (size_t i = 0; i <= len && n < 4; i++)
		if (i == len || s[i] == ':') {
			f[n] = s + start;
			fl[n++] = i - start;
			start = i + 1;
		}
	uint64_t q;
	bool mode_ok = n == 4 && (word_is(f[1], fl[1], "rw") || word_is(f[1], fl[1], "ro") ||
	                          word_is(f[1], fl[1], "rl"));
	if (!mode_ok || start != len + 1 || !fl[0] || !parse_u64(f[2], fl[2], &k->want_sectors) ||
	    !parse_u64(f[3], fl[3], &q) || !q)
		return false;
	k->serial = f[0];
	k->serial_len = fl[0];
	k->want_ro = f[1][1] == 'o';
	k->reset_only = f[1][1] == 'l';
	k->want_queues = (unsigned)q;
	return true;
}

static void parse_disks(const char *s, size_t len)
{
	for (size_t i = 0; i < len && blk_opt.ndisks < BLK_MAX_DISKS;) {
		size_t j = i;
		while (j < len && s[j] != ',')
			j++;
		struct blk_disk *k = &blk_opt.disk[blk_opt.ndisks];
		if (parse_disk(s + i, j - i, k))
			k->index = blk_opt.ndisks++;
		else
			gprintf("blk: ignoring malformed disk %u in blk= (want "
			        "SERIAL:rw|ro|rl:SECTORS:QUEUES)\n", blk_opt.ndisks);
		i = j + 1;
	}
}

bool blk_parse_word(const char *w, size_t len)
{
	uint64_t v;
	if (len > 4 && memcmp(w, "blk=", 4) == 0)
		parse_disks(w + 4, len - 4);
	else if (len > 8 && memcmp(w, "blkseed=", 8) == 0 && parse_u64(w + 8, len - 8, &v))
		blk_opt.seed = v;
	else if (word_is(w, len, "blkhostile=1"))
		blk_opt.hostile = true;
	else if (word_is(w, len, "blkdurable=flush"))
		blk_opt.durable = 1;
	else if (word_is(w, len, "blkdurable=writethrough"))
		blk_opt.durable = 2;
	else
		return false;
	return true;
}

/* --- the image pattern: 64 little-endian qwords per sector (blk-image.py) --- */

static uint64_t mix64(uint64_t z)
{
	z ^= z >> 30;
	z *= 0xBF58476D1CE4E5B9ULL;
	z ^= z >> 27;
	z *= 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Word k of sector lba: the LBA, the seed, then a seed- and LBA-dependent sequence. */
uint64_t blk_word(uint64_t seed, uint64_t lba, unsigned k)
{
	if (k < 2)
		return k ? seed : lba;
	return mix64(seed + lba * 0xD1B54A32D192ED03ULL) + k * 0x9E3779B97F4A7C15ULL;
}

void blk_fill(void *buf, uint64_t lba, uint32_t sectors, uint64_t seed)
{
	uint64_t *w = buf;
	for (uint32_t s = 0; s < sectors; s++, w += 64) {
		uint64_t h = mix64(seed + (lba + s) * 0xD1B54A32D192ED03ULL);
		w[0] = lba + s;
		w[1] = seed;
		for (unsigned k = 2; k < 64; k++)
			w[k] = h + k * 0x9E3779B97F4A7C15ULL;
	}
}

bool blk_verify(const void *buf, uint64_t lba, uint32_t sectors, uint64_t seed, uint64_t *bad)
{
	const uint64_t *w = buf;
	for (uint32_t s = 0; s < sectors; s++, w += 64) {
		uint64_t h = seed ? mix64(seed + (lba + s) * 0xD1B54A32D192ED03ULL) : 0;
		bool ok = seed ? w[0] == lba + s && w[1] == seed : (w[0] | w[1]) == 0;
		for (unsigned k = 2; k < 64 && ok; k++)
			ok = w[k] == (seed ? h + k * 0x9E3779B97F4A7C15ULL : 0);
		if (!ok) {
			*bad = lba + s;
			return false;
		}
	}
	return true;
}

/* --- device configuration (5.2.4): each field read at its width, under config_generation --- */

bool blk_map_config(struct blk_disk *k, char *why, size_t n)
{
	struct vdev *d = &k->d;
	struct pci_bar *b = d->device.cfg && d->device.bar < 6 ? pci_bar_at(d->f, d->device.bar) : NULL;
	if (!b || b->kind == BAR_IO || !b->addr || d->device.off > b->size ||
	    d->device.len > b->size - d->device.off || !phys_map_uc(b->addr, b->size)) {
		gsnprintf(why, n, "no device configuration inside a memory BAR (cap 0x%x bar %u off 0x%x "
		          "len %u)", d->device.cfg, d->device.bar, d->device.off, d->device.len);
		return false;
	}
	k->devcfg = (volatile uint8_t *)(uintptr_t)(b->addr + d->device.off);
	k->devcfg_len = d->device.len;
	return true;
}

/* A field past the structure's length reads 0 (and the config check says so). */
static uint32_t dc32(const struct blk_disk *k, unsigned off)
{
	return off + 4 <= k->devcfg_len ? *(volatile uint32_t *)(k->devcfg + off) : 0;
}

static uint16_t dc16(const struct blk_disk *k, unsigned off)
{
	return off + 2 <= k->devcfg_len ? *(volatile uint16_t *)(k->devcfg + off) : 0;
}

static uint8_t dc8(const struct blk_disk *k, unsigned off)
{
	return off < k->devcfg_len ? k->devcfg[off] : 0;
}

/* Fields whose feature is not offered are left 0 (5.2.4: they may not exist). */
static void read_fields(struct blk_disk *k, struct blk_config *c)
{
	uint64_t f = k->d.offered;
	memset(c, 0, sizeof(*c));
	c->capacity = dc32(k, 0) | (uint64_t)dc32(k, 4) << 32;    /* 4.1.3.1: 32-bit halves */
	if (f & VB_F_SIZE_MAX)
		c->size_max = dc32(k, 0x08);
	if (f & VB_F_SEG_MAX)
		c->seg_max = dc32(k, 0x0C);
	if (f & VB_F_BLK_SIZE)
		c->blk_size = dc32(k, 0x14);
	if (f & VB_F_TOPOLOGY) {
		c->phys_exp = dc8(k, 0x18);
		c->align_off = dc8(k, 0x19);
		c->min_io = dc16(k, 0x1A);
		c->opt_io = dc32(k, 0x1C);
	}
	if (f & VB_F_MQ)
		c->num_queues = dc16(k, 0x22);
	if (f & VB_F_DISCARD) {
		c->max_discard = dc32(k, 0x24);
		c->max_discard_seg = dc32(k, 0x28);
		c->discard_align = dc32(k, 0x2C);
	}
	if (f & VB_F_WRITE_ZEROES) {
		c->max_wz = dc32(k, 0x30);
		c->max_wz_seg = dc32(k, 0x34);
		c->wz_may_unmap = dc8(k, 0x38);
	}
}

/* 4.1.4.3.1: read until config_generation is the same before and after. */
bool blk_read_config(struct blk_disk *k)
{
	for (unsigned pass = 1; pass <= 4; pass++) {
		uint8_t gen = cc_r8(&k->d, VC_GENERATION);
		read_fields(k, &k->cfg);
		k->cfg.generation_reads = pass;
		if (cc_r8(&k->d, VC_GENERATION) == gen)
			return true;
	}
	return false;
}

/* --- chains --- */

struct blk_slot *blk_slot(void)
{
	struct blk_slot *s = &slots[slot_next++ % SLOTS];
	memset(s, 0, sizeof(*s));
	s->status = VB_S_UNTOUCHED;
	return s;
}

void bc_init(struct bchain *c)
{
	c->n = 0;
	c->direct = BLK_CHAIN_MAX;
}

void bc_add(struct bchain *c, const void *p, uint32_t len, bool write)
{
	if (c->n < BLK_CHAIN_MAX)
		c->seg[c->n++] = (struct vbuf){ pa(p), len, write };
}

void bc_hdr(struct bchain *c, struct blk_slot *s, uint32_t type, uint64_t sector)
{
	s->hdr.type = type;
	s->hdr.reserved = 0;
	s->hdr.sector = sector;
	bc_add(c, &s->hdr, sizeof(s->hdr), false);
}

void bc_data(struct bchain *c, void *p, uint32_t len, unsigned pieces, bool write)
{
	uint8_t *b = p;
	uint32_t piece = pieces > 1 ? len / pieces / BLK_SECTOR * BLK_SECTOR : len;
	for (unsigned i = 0; i < pieces && len; i++) {
		uint32_t l = i + 1 == pieces || !piece ? len : piece;
		bc_add(c, b, l, write);
		b += l;
		len -= l;
	}
}

void bc_status(struct bchain *c, struct blk_slot *s)
{
	bc_add(c, &s->status, 1, true);
}

static void set_desc(volatile struct vring_desc *d, const struct vbuf *b, bool more, uint16_t next)
{
	d->addr = b->addr;
	d->len = b->len;
	d->flags = (uint16_t)((b->write ? VD_WRITE : 0) | (more ? VD_NEXT : 0));
	d->next = more ? next : 0;
}

/* A batch starts with the first post: stale interrupts taken, counts noted. */
static void batch_begin(struct blk_disk *k)
{
	if (k->batch_open)
		return;
	irq_drain();
	for (unsigned qi = 0; qi < k->d.nvq; qi++)
		k->irq_before[qi] = irq_count(vdev_vec(&k->d, vq_entry(&k->d, qi)));
	k->batch_open = true;
}

void blk_post(struct blk_disk *k, unsigned qi, const struct bchain *c, volatile uint8_t *status,
              struct breq *r)
{
	struct vq *q = &k->d.vq[qi];
	unsigned direct = c->direct < c->n ? c->direct : c->n;
	unsigned nd = direct + (direct < c->n ? 1 : 0);
	batch_begin(k);
	if (q->next_desc + nd > q->size)
		q->next_desc = 0;
	uint16_t head = q->next_desc;
	for (unsigned i = 0; i < direct; i++)
		set_desc(&q->desc[head + i], &c->seg[i], i + 1 < nd, (uint16_t)(head + i + 1));
	if (direct < c->n) {
		/* 2.7.5.3: the rest in one indirect table, referenced by the last direct descriptor. */
		struct vring_desc *t = ind_pool[ind_next++ % IND_TABLES];
		unsigned m = c->n - direct;
		for (unsigned j = 0; j < m; j++)
			set_desc(&t[j], &c->seg[direct + j], j + 1 < m, (uint16_t)(j + 1));
		volatile struct vring_desc *d = &q->desc[head + direct];
		d->addr = pa(t);
		d->len = 16 * m;
		d->flags = VD_INDIRECT;
		d->next = 0;
	}
	q->next_desc = (uint16_t)(head + nd);
	vq_publish(q, head);
	*r = (struct breq){ .qi = qi, .head = head, .status = status };
}

struct run_arg {
	struct blk_disk *k;
	struct breq *r;
	unsigned n, strays, polls;
	uint32_t stray_id;
	bool needs_reset;                     /* the device gave up: no point waiting */
};

/* Takes every new used element; true once all awaited requests are back. */
static bool collect(void *arg)
{
	struct run_arg *a = arg;
	for (unsigned qi = 0; qi < a->k->d.nvq; qi++) {
		uint32_t id, len;
		while (vq_pop_used(&a->k->d.vq[qi], &id, &len)) {
			unsigned j = 0;
			while (j < a->n && (a->r[j].done || a->r[j].qi != qi || a->r[j].head != id))
				j++;
			if (j == a->n) {
				a->strays++;
				a->stray_id = id;
				continue;
			}
			a->r[j].done = true;
			a->r[j].len = len;
		}
	}
	for (unsigned j = 0; j < a->n; j++)
		if (!a->r[j].expect_none && !a->r[j].done) {
			/* One MMIO read per 256 polls: a broken device ends the wait early. */
			if (++a->polls % 256 == 0 && (cc_r8(&a->k->d, VC_STATUS) & VS_NEEDS_RESET))
				a->needs_reset = true;
			return a->needs_reset;
		}
	return true;
}

bool blk_run(struct blk_disk *k, struct breq *r, unsigned n, char *why, size_t wn)
{
	struct vdev *d = &k->d;
	bool used_q[VDEV_QUEUES] = { false }, done_q[VDEV_QUEUES] = { false };
	for (unsigned j = 0; j < n; j++)
		used_q[r[j].qi] = true;
	for (unsigned qi = 0; qi < d->nvq; qi++)
		if (used_q[qi])
			vq_kick(d, &d->vq[qi]);
	struct run_arg a = { k, r, n, 0, 0, 0, false };
	bool all = poll_until(collect, &a, VIRTIO_TIMEOUT_US) && !a.needs_reset;
	k->batch_open = false;
	for (unsigned j = 0; j < n; j++)
		done_q[r[j].qi] |= r[j].done;
	int no_irq = -1;
	for (unsigned qi = 0; qi < d->nvq; qi++)
		if (done_q[qi] && !irq_wait(vdev_vec(d, vq_entry(d, qi)), k->irq_before[qi],
		                            VIRTIO_TIMEOUT_US))
			no_irq = (int)qi;
	collect(&a);                         /* anything that came with the interrupts */
	unsigned waited = 0, back = 0, wrong = n;
	for (unsigned j = 0; j < n; j++) {
		waited += !r[j].expect_none;
		back += !r[j].expect_none && r[j].done;
		if (r[j].expect_none && r[j].done)
			wrong = j;
	}
	if (!all)
		gsnprintf(why, wn, "%u of %u requests completed %s (q0 used idx %u), status 0x%x", back,
		          waited, a.needs_reset ? "before the device set NEEDS_RESET" : "within 10 s",
		          vq_used_idx(&d->vq[0]), cc_r8(d, VC_STATUS));
	else if (no_irq >= 0)
		gsnprintf(why, wn, "q%d: requests completed without an interrupt", no_irq);
	else if (a.strays)
		gsnprintf(why, wn, "%u used elements for no posted request (id %u)", a.strays, a.stray_id);
	else if (wrong < n)
		gsnprintf(why, wn, "head %u has no usable status descriptor but was marked used (len %u)",
		          r[wrong].head, r[wrong].len);
	return all && no_irq < 0 && !a.strays && wrong == n;
}

bool blk_rw(struct blk_disk *k, unsigned qi, uint32_t type, uint64_t sector, void *data,
            uint32_t len, unsigned pieces, uint8_t *status, char *why, size_t wn)
{
	struct bchain c;
	struct breq r;
	struct blk_slot *s = blk_slot();
	bc_init(&c);
	bc_hdr(&c, s, type, sector);
	if (len)
		bc_data(&c, data, len, pieces, type == VB_T_IN || type == VB_T_GET_ID);
	bc_status(&c, s);
	blk_post(k, qi, &c, &s->status, &r);
	bool ok = blk_run(k, &r, 1, why, wn);
	*status = s->status;
	return ok;
}

bool blk_dwz(struct blk_disk *k, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags,
             uint8_t *status, char *why, size_t wn)
{
	struct bchain c;
	struct breq r;
	struct blk_slot *s = blk_slot();
	s->dwz = (struct blk_dwz){ sector, num, flags };
	bc_init(&c);
	bc_hdr(&c, s, type, 0);
	bc_add(&c, &s->dwz, sizeof(s->dwz), false);
	bc_status(&c, s);
	blk_post(k, 0, &c, &s->status, &r);
	bool ok = blk_run(k, &r, 1, why, wn);
	*status = s->status;
	return ok;
}

bool blk_reinit(struct blk_disk *k, uint64_t features, char *why, size_t wn)
{
	k->batch_open = false;
	return vdev_init(&k->d, k->d.nvq, features, why, wn);
}

const char *blk_status_name(unsigned s)
{
	return s == VB_S_OK ? "OK" : s == VB_S_IOERR ? "IOERR" : s == VB_S_UNSUPP ? "UNSUPP" :
	       s == VB_S_UNTOUCHED ? "untouched" : "?";
}
