// SPDX-License-Identifier: Apache-2.0
/* MD5 per RFC 1321 (section numbers below refer to it); see md5.h. */
#include "md5.h"

/* 3.4: T[i] = floor(2^32 * abs(sin(i + 1))), i = 0..63. */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
	0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
	0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
	0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* 3.4: the left-rotate amounts, four per round. */
static const unsigned char md5_shift[4][4] = {
	{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
};

static uint32_t rol32(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

/* 3.4: one 64-byte block, as 16 little-endian words, in four rounds of 16 steps. */
static void md5_block(uint32_t state[4], const unsigned char *p)
{
	uint32_t x[16], a = state[0], b = state[1], c = state[2], d = state[3];

	for (int i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f, tmp;
		int k;

		switch (i / 16) {
		case 0: f = (b & c) | (~b & d); k = i; break;			/* F */
		case 1: f = (b & d) | (c & ~d); k = (5 * i + 1) & 15; break;	/* G */
		case 2: f = b ^ c ^ d; k = (3 * i + 5) & 15; break;		/* H */
		default: f = c ^ (b | ~d); k = (7 * i) & 15; break;		/* I */
		}
		tmp = d;
		d = c;
		c = b;
		b += rol32(a + f + x[k] + md5_t[i], md5_shift[i / 16][i & 3]);
		a = tmp;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
}

/* 3.3: the initial state A, B, C, D. */
void md5_init(struct md5 *m)
{
	m->state[0] = 0x67452301;
	m->state[1] = 0xefcdab89;
	m->state[2] = 0x98badcfe;
	m->state[3] = 0x10325476;
	m->bytes = 0;
	m->fill = 0;
}

void md5_update(struct md5 *m, const void *data, unsigned long len)
{
	const unsigned char *p = data;

	m->bytes += len;
	while (len) {
		if (m->fill == 0 && len >= 64) {
			md5_block(m->state, p);
			p += 64;
			len -= 64;
			continue;
		}
		m->block[m->fill++] = *p++;
		len--;
		if (m->fill == 64) {
			md5_block(m->state, m->block);
			m->fill = 0;
		}
	}
}

/* 3.1-3.2: a 1 bit, zeros to 56 mod 64 bytes, the bit length little-endian; 3.5: output. */
void md5_final(struct md5 *m, unsigned char digest[16])
{
	uint64_t bits = m->bytes * 8;
	unsigned char pad[72] = { 0x80 };
	unsigned long npad = (m->fill < 56 ? 56 : 120) - m->fill;

	for (int i = 0; i < 8; i++)
		pad[npad + i] = (unsigned char)(bits >> (8 * i));
	md5_update(m, pad, npad + 8);
	for (int i = 0; i < 16; i++)
		digest[i] = (unsigned char)(m->state[i / 4] >> (8 * (i & 3)));
}
