/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MD5 (RFC 1321) for the initramfs's /init: freestanding, streaming. Used only to show that
 * a disk's bytes arrived intact (compared with the host's hashlib), not for security.
 */
#ifndef VIREO_INIT_MD5_H
#define VIREO_INIT_MD5_H

#include <stdint.h>

struct md5 {
	uint32_t state[4];
	uint64_t bytes;		/* message length so far */
	unsigned char block[64];
	unsigned int fill;	/* bytes waiting in block */
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *data, unsigned long len);
/* Pads, finishes and writes the 16-byte digest (RFC 1321 3.4-3.5). */
void md5_final(struct md5 *m, unsigned char digest[16]);

#endif
