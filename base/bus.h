/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port-I/O and MMIO buses: address ranges mapped to bus devices. vCPU threads dispatch
 * their exits here; unclaimed accesses read as all-ones and are logged once per address.
 */
#ifndef VIREO_BASE_BUS_H
#define VIREO_BASE_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/ranges.h"

/* A bus device: @offset is relative to the range base. NULL read/write = reads all-ones. */
struct bus_device_ops {
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, unsigned len);
};

struct bus_range {
	uint64_t base;                      /* struct range first: items of bus->ranges */
	uint64_t len;
	const struct bus_device_ops *ops;
	void *opaque;
};

#define BUS_UNCLAIMED_LOGGED 64

struct bus {
	const char *name;
	pthread_rwlock_t lock;
	struct range_array ranges;          /* of struct bus_range */
	pthread_mutex_t unclaimed_lock;
	uint64_t unclaimed_seen[BUS_UNCLAIMED_LOGGED];
	unsigned nr_unclaimed_seen;
	uint64_t unclaimed_accesses;        /* counter for vm.counters */
};

int bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);
/* -EINVAL for an empty or wrapping range, -EEXIST if it overlaps another. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_device_ops *ops,
		 void *opaque);
int bus_unregister(struct bus *bus, uint64_t base);
/* Dispatches an access wholly inside one range; returns false (reads all-ones) otherwise. */
bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len);
bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, unsigned len);

#endif
