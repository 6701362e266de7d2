/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every fuzz target shares: libFuzzer's entry point, a reader that takes the input
 * apart field by field (running out yields zeros, so every input means something), and
 * quiet logs (a hostile input is expected to be refused with a log line, millions of times).
 */
#ifndef VIREO_TESTS_FUZZ_FUZZ_H
#define VIREO_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fz {
	const uint8_t *p;
	size_t n;
};

/*
 * The reader is the harness's, not code under test: left out of the coverage instrumentation,
 * its loop neither costs a callback per byte (a tenth of the pci targets' time) nor counts as
 * features of its own.
 */
#ifdef __clang__
#define FZ_UNTRACED __attribute__((no_sanitize("coverage")))
#else
#define FZ_UNTRACED
#endif

FZ_UNTRACED static inline uint64_t fz_take(struct fz *f, unsigned bytes)
{
	size_t n = bytes < f->n ? bytes : f->n;
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)f->p[i] << (8 * i);
	f->p += n;
	f->n -= n;
	return v;
}

/* Errors only, and to /dev/null: formatting warnings costs more than most inputs. */
static inline void fz_quiet(void)
{
	char err[128];

	log_set_level(LOG_ERROR);
	log_open_file("/dev/null", err, sizeof(err));
}

#endif
