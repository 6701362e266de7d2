/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: virtio-blk (virtio 1.2 5.2), driver side. Shared by the checks (blk.c),
 * the malformed-request checks (blkhostile.c) and the request helpers (blkio.c). See
 * README.md "virtio-blk checks".
 */
#ifndef VIREO_GUEST_BLK_H
#define VIREO_GUEST_BLK_H

#include "virtio.h"

#define BLK_MAX_DISKS      4
#define BLK_QSIZE          128           /* queue_size asked for (the device's max if smaller) */
#define BLK_SECTOR         512u
#define BLK_VEC(i)         (0x60 + 4 * (i))   /* IDT vectors of disk i: config, q0, q1 */
#define BLK_CHAIN_MAX      (BLK_QSIZE + 4)    /* segments of the longest chain built */
#define BLK_RINGS          8             /* ring pages per disk, used cyclically */

/* Feature bits (5.2.3) */
#define VB_F_SIZE_MAX      (1ULL << 1)
#define VB_F_SEG_MAX       (1ULL << 2)
#define VB_F_RO            (1ULL << 5)
#define VB_F_BLK_SIZE      (1ULL << 6)
#define VB_F_FLUSH         (1ULL << 9)
#define VB_F_TOPOLOGY      (1ULL << 10)
#define VB_F_MQ            (1ULL << 12)
#define VB_F_DISCARD       (1ULL << 13)
#define VB_F_WRITE_ZEROES  (1ULL << 14)
#define VB_F_USED          (VB_F_SIZE_MAX | VB_F_SEG_MAX | VB_F_RO | VB_F_BLK_SIZE | VB_F_FLUSH | \
                            VB_F_TOPOLOGY | VB_F_MQ | VB_F_DISCARD | VB_F_WRITE_ZEROES)

/* Request types, status values (5.2.6) */
#define VB_T_IN            0
#define VB_T_OUT           1
#define VB_T_FLUSH         4
#define VB_T_GET_ID        8
#define VB_T_GET_LIFETIME  10
#define VB_T_DISCARD       11
#define VB_T_WRITE_ZEROES  13
#define VB_S_OK            0
#define VB_S_IOERR         1
#define VB_S_UNSUPP        2
#define VB_S_UNTOUCHED     0xEE          /* preset: the device never wrote the byte */
#define VB_WZ_UNMAP        1u
#define VB_ID_LEN          20

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

struct blk_dwz {                          /* one DISCARD / WRITE_ZEROES segment */
	uint64_t sector;
	uint32_t num_sectors, flags;
};

/* Device configuration (5.2.4), fields the driver may read per negotiated feature. */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max, seg_max, blk_size;
	uint8_t phys_exp, align_off;
	uint16_t min_io;
	uint32_t opt_io;
	uint16_t num_queues;
	uint32_t max_discard, max_discard_seg, discard_align;
	uint32_t max_wz, max_wz_seg;
	uint8_t wz_may_unmap;
	unsigned generation_reads;            /* passes until config_generation held still */
};

/*
 * One disk: blk=SERIAL:MODE:SECTORS:QUEUES on the command line, and the function found. MODE
 * rw, ro, or rl: a disk the host rate-limits for the reset check alone (blkreset.c).
 */
struct blk_disk {
	struct vdev d;
	unsigned index;
	char tag[8];                          /* "blk0": check-name prefix */
	const char *serial;                   /* points into the command line */
	size_t serial_len;
	bool want_ro;
	bool reset_only;                      /* rl: only blk_reset_check runs on it */
	uint64_t want_sectors;
	unsigned want_queues;
	uint64_t seed;                        /* image pattern: blkseed + index */
	volatile uint8_t *devcfg;
	uint32_t devcfg_len;
	struct blk_config cfg;
	unsigned irq_before[1 + VDEV_QUEUES]; /* per vector, at the start of a batch */
	bool batch_open;
};

struct blk_opts {
	struct blk_disk disk[BLK_MAX_DISKS];
	unsigned ndisks;
	uint64_t seed;                        /* blkseed= */
	bool hostile;                         /* blkhostile=1 */
	int durable;                          /* blkdurable=: 0 off, 1 flush, 2 writethrough */
};
extern struct blk_opts blk_opt;

/* A request's header, DISCARD/WRITE_ZEROES segment and status byte (blk_slot, cyclic). */
struct blk_slot {
	struct blk_hdr hdr;
	struct blk_dwz dwz;
	uint8_t status;
	uint8_t pad[15];
};

/* A chain being built: segments in order; the first `direct` as direct descriptors, the
 * rest in an indirect table (direct == n: none). */
struct bchain {
	struct vbuf seg[BLK_CHAIN_MAX];
	unsigned n, direct;
};

/* A posted request and what became of it. */
struct breq {
	unsigned qi;
	uint16_t head;
	volatile uint8_t *status;             /* where the device should write it */
	bool expect_none;                     /* must never be marked used: not waited for */
	bool done;
	uint32_t len;                         /* used length */
};

/* blkio.c: pattern, configuration, requests. */
uint64_t blk_word(uint64_t seed, uint64_t lba, unsigned k);
void blk_fill(void *buf, uint64_t lba, uint32_t sectors, uint64_t seed);
/* The first sector that differs from the pattern (seed != 0) or from zeros (seed == 0). */
bool blk_verify(const void *buf, uint64_t lba, uint32_t sectors, uint64_t seed, uint64_t *bad);
bool blk_map_config(struct blk_disk *k, char *why, size_t n);
bool blk_read_config(struct blk_disk *k);
struct blk_slot *blk_slot(void);
void bc_init(struct bchain *c);
void bc_add(struct bchain *c, const void *p, uint32_t len, bool write);
/* Header (16 bytes, device-readable) of type/sector in slot s. */
void bc_hdr(struct bchain *c, struct blk_slot *s, uint32_t type, uint64_t sector);
/* `len` bytes at p in `pieces` segments (multiples of 512 but the last). */
void bc_data(struct bchain *c, void *p, uint32_t len, unsigned pieces, bool write);
void bc_status(struct bchain *c, struct blk_slot *s);
/* Posts the chain on queue qi (not kicked); r->status = `status` (preset to UNTOUCHED). */
void blk_post(struct blk_disk *k, unsigned qi, const struct bchain *c, volatile uint8_t *status,
              struct breq *r);
/* Kicks the queues of r[], waits for every request not expect_none and the interrupts. */
bool blk_run(struct blk_disk *k, struct breq *r, unsigned n, char *why, size_t wn);
/* The common case: header, data in `pieces`, status; posted and run alone. */
bool blk_rw(struct blk_disk *k, unsigned qi, uint32_t type, uint64_t sector, void *data,
            uint32_t len, unsigned pieces, uint8_t *status, char *why, size_t wn);
/* One DISCARD / WRITE_ZEROES segment. */
bool blk_dwz(struct blk_disk *k, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags,
             uint8_t *status, char *why, size_t wn);
/* Reset and initialize again (fresh rings, the same features): false with why. */
bool blk_reinit(struct blk_disk *k, uint64_t features, char *why, size_t wn);
const char *blk_status_name(unsigned s);

/* blkhostile.c */
void blk_hostile_checks(struct blk_disk *k);
/* blkreset.c: a reset of an rl disk with reads held unfinished while an AP keeps running. */
void blk_reset_check(struct blk_disk *k);

#endif
