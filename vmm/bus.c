// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/log.h"

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
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
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	pthread_mutex_destroy(&bus->unclaimed_lock);
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose end is above @addr (binary search). */
static unsigned bus_lower_bound(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (r->base + r->len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_device_ops *ops,
		 void *opaque)
{
	struct bus_range *r;
	unsigned i;
	int ret = 0;

	if (!len || base + len - 1 < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= base + len - 1) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;

		r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(*r));
	bus->ranges[i] = (struct bus_range){ base, len, ops, opaque };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	unsigned i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
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

static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, unsigned len)
{
	unsigned i = bus_lower_bound(bus, addr);
	const struct bus_range *r = i < bus->nr ? &bus->ranges[i] : NULL;

	if (!r || addr < r->base || addr + (len - 1) < addr ||
	    addr + (len - 1) > r->base + (r->len - 1))
		return NULL;
	return r;
}

bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, unsigned len)
{
	const struct bus_range *r;
	bool claimed = false;

	memset(data, 0xff, len);
	pthread_rwlock_rdlock(&bus->lock);
	r = len ? bus_find(bus, addr, len) : NULL;
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
	r = len ? bus_find(bus, addr, len) : NULL;
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
