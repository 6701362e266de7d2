// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/bus.h"
#include "base/log.h"

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	bus->ranges = (struct range_array)RANGE_ARRAY_INIT(struct bus_range);
	if (pthread_rwlock_init(&bus->lock, NULL))
		return -ENOMEM;
	if (pthread_mutex_init(&bus->unclaimed_lock, NULL)) {
		pthread_rwlock_destroy(&bus->lock);
		return -ENOMEM;
	}
	return 0;
}

void bus_destroy(struct bus *bus)
{
	range_array_free(&bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	pthread_mutex_destroy(&bus->unclaimed_lock);
	memset(bus, 0, sizeof(*bus));
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_device_ops *ops,
		 void *opaque)
{
	struct bus_range r = { base, len, ops, opaque };
	int ret;

	pthread_rwlock_wrlock(&bus->lock);
	ret = range_insert(&bus->ranges, &r);
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int i;

	pthread_rwlock_wrlock(&bus->lock);
	i = range_index_of(&bus->ranges, base);
	if (i >= 0)
		range_remove_at(&bus->ranges, (unsigned)i);
	pthread_rwlock_unlock(&bus->lock);
	return i < 0 ? i : 0;
}

/* Logs the first access to each unclaimed address; later ones only count. */
static void bus_note_unclaimed(struct bus *bus, uint64_t addr, unsigned len, bool write)
{
	bool first = true;
	unsigned i;

	pthread_mutex_lock(&bus->unclaimed_lock);
	bus->unclaimed_accesses++;
	for (i = 0; i < bus->nr_unclaimed_seen; i++)
		if (bus->unclaimed_seen[i] == addr)
			first = false;
	if (first && bus->nr_unclaimed_seen < BUS_UNCLAIMED_LOGGED)
		bus->unclaimed_seen[bus->nr_unclaimed_seen++] = addr;
	else
		first = false;
	pthread_mutex_unlock(&bus->unclaimed_lock);
	if (first)
		pr_info("%s: unclaimed %u-byte %s at 0x%" PRIx64 " (logged once)", bus->name,
			len, write ? "write" : "read", addr);
}

bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len)
{
	const struct bus_range *r;
	bool claimed = false;

	memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	r = len ? range_find(&bus->ranges, addr, len) : NULL;
	if (r) {
		claimed = true;
		if (r->ops->read)
			r->ops->read(r->opaque, addr - r->base, data, len);
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!claimed)
		bus_note_unclaimed(bus, addr, len, false);
	return claimed;
}

bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, unsigned len)
{
	const struct bus_range *r;
	bool claimed = false;

	pthread_rwlock_rdlock(&bus->lock);
	r = len ? range_find(&bus->ranges, addr, len) : NULL;
	if (r) {
		claimed = true;
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, data, len);
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!claimed)
		bus_note_unclaimed(bus, addr, len, true);
	return claimed;
}
