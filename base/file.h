/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening the paths a user or a snapshot names. Any of them may be hostile: a FIFO (whose
 * open(2) waits for a peer forever), a device where a file was meant, a symlink planted where
 * vireo creates a file. So every open is non-blocking and checked by type before use.
 */
#ifndef VIREO_BASE_FILE_H
#define VIREO_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The kinds of file a caller accepts (bits). */
enum {
	FILE_TYPE_REG = 1,
	FILE_TYPE_BLK = 2,
	FILE_TYPE_CHR = 4,
	FILE_TYPE_FIFO = 8,
};

/*
 * open(2) of @path with @flags | O_NONBLOCK | O_CLOEXEC (and @mode when creating), then
 * fstat: a file of a type outside @types is closed and refused. O_NONBLOCK is cleared
 * again on success, except for a FIFO (its reader or writer may stall). Returns the fd, or
 * -errno with one line in @err naming @what and @path ("kernel '/k' is a FIFO, not a regular
 * file").
 */
int file_open(const char *what, const char *path, int flags, mode_t mode, unsigned types,
	      char *err, size_t errlen);
/* Same, relative to the directory @dirfd (openat(2)). */
int file_openat(int dirfd, const char *what, const char *path, int flags, mode_t mode,
		unsigned types, char *err, size_t errlen);
/* "a regular file", "a FIFO", ...: what fstat's @mode says the file is. */
const char *file_type_name(mode_t mode);

/*
 * Maps the whole regular file @path read-only (munmap(*data, *len) when done); an empty file is
 * refused. -errno with one line in @err naming @what ("kernel", "initramfs").
 */
int file_map_ro(const char *what, const char *path, uint8_t **data, size_t *len, char *err,
		size_t errlen);

#endif
