// SPDX-License-Identifier: Apache-2.0
/* The ACPI CPU hotplug register block; platform/cpu_hotplug.h describes it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "platform/cpu_hotplug.h"

struct cpu_state {
	bool present, inserting, removing;
	bool remove_asked;        /* the VMM asked for removal: the only case an eject is honoured */
};

struct cpu_hotplug {
	pthread_mutex_t lock;
	unsigned max, selected;
	struct cpu_state *cpu;
	void (*eject)(void *ctx, unsigned cpu);
	void *ctx;
	uint64_t bad_accesses;    /* atomic */
};

static void bad_access(struct cpu_hotplug *hp, const char *what, uint64_t off, unsigned len)
{
	__atomic_fetch_add(&hp->bad_accesses, 1, __ATOMIC_RELAXED);
	pr_warn_ratelimited("cpu hotplug: %s of %u bytes at offset %llu ignored", what, len,
			    (unsigned long long)off);
}

static uint8_t status_of(const struct cpu_state *c)
{
	return (c->present ? CPUHP_ENABLED : 0) | (c->inserting ? CPUHP_INSERTING : 0) |
	       (c->removing ? CPUHP_REMOVING : 0);
}

static void hp_read(void *opaque, uint64_t off, uint8_t *data, unsigned len)
{
	struct cpu_hotplug *hp = opaque;
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&hp->lock);
	if (off == CPUHP_REG_SELECT && len <= 4) {
		v = hp->selected;
		memcpy(data, &v, len);
	} else if (off == CPUHP_REG_STATUS && len == 1) {
		/* A selection past the last CPU reads as an absent one (0). */
		data[0] = hp->selected < hp->max ? status_of(&hp->cpu[hp->selected]) : 0;
	} else {
		pthread_mutex_unlock(&hp->lock);
		bad_access(hp, "read", off, len);
		return;
	}
	pthread_mutex_unlock(&hp->lock);
}

/* Status write: each 1 bit acts on the selected CPU; a bit that does not apply is counted. */
static bool write_status(struct cpu_hotplug *hp, uint8_t v)
{
	struct cpu_state *c;
	bool ok = true;

	if (hp->selected >= hp->max)
		return false;
	c = &hp->cpu[hp->selected];
	if (v & CPUHP_INSERTING)
		c->inserting = false;
	if (v & CPUHP_REMOVING)
		c->removing = false;
	if ((v & CPUHP_EJECT) && c->present && c->remove_asked) {
		c->present = c->inserting = c->removing = c->remove_asked = false;
		hp->eject(hp->ctx, hp->selected);
	} else if (v & CPUHP_EJECT) {
		ok = false;   /* never asked to go, or already gone */
	}
	return ok && !(v & ~(CPUHP_INSERTING | CPUHP_REMOVING | CPUHP_EJECT));
}

static void hp_write(void *opaque, uint64_t off, const uint8_t *data, unsigned len)
{
	struct cpu_hotplug *hp = opaque;
	uint32_t v = 0;
	bool ok = true;

	pthread_mutex_lock(&hp->lock);
	if (off == CPUHP_REG_SELECT && len <= 4) {
		memcpy(&v, data, len);
		hp->selected = v;
	} else if (off == CPUHP_REG_STATUS && len == 1) {
		ok = write_status(hp, data[0]);
	} else {
		ok = false;
	}
	pthread_mutex_unlock(&hp->lock);
	if (!ok)
		bad_access(hp, "write", off, len);
}

const struct bus_device_ops cpu_hotplug_bus_ops = { .read = hp_read, .write = hp_write };

struct cpu_hotplug *cpu_hotplug_create(unsigned max_cpus, void (*eject)(void *ctx, unsigned cpu),
				       void *ctx)
{
	struct cpu_hotplug *hp = calloc(1, sizeof(*hp));

	if (!hp)
		return NULL;
	hp->cpu = calloc(max_cpus ? max_cpus : 1, sizeof(*hp->cpu));
	if (!hp->cpu) {
		free(hp);
		return NULL;
	}
	pthread_mutex_init(&hp->lock, NULL);
	hp->max = max_cpus;
	hp->eject = eject;
	hp->ctx = ctx;
	return hp;
}

void cpu_hotplug_destroy(struct cpu_hotplug *hp)
{
	if (!hp)
		return;
	pthread_mutex_destroy(&hp->lock);
	free(hp->cpu);
	free(hp);
}

void cpu_hotplug_set_present(struct cpu_hotplug *hp, unsigned n)
{
	pthread_mutex_lock(&hp->lock);
	for (unsigned i = 0; i < hp->max; i++)
		hp->cpu[i] = (struct cpu_state){ .present = i < n };
	pthread_mutex_unlock(&hp->lock);
}

bool cpu_hotplug_resize(struct cpu_hotplug *hp, unsigned n)
{
	bool changed = false;

	pthread_mutex_lock(&hp->lock);
	for (unsigned i = 0; i < hp->max; i++) {
		struct cpu_state *c = &hp->cpu[i];

		if (i < n && !c->present) {
			*c = (struct cpu_state){ .present = true, .inserting = true };
			changed = true;
		} else if (i < n && c->remove_asked) {
			c->remove_asked = c->removing = false;   /* kept: cancel the removal */
		} else if (i >= n && c->present && !c->remove_asked) {
			c->remove_asked = c->removing = true;
			c->inserting = false;
			changed = true;
		}
	}
	pthread_mutex_unlock(&hp->lock);
	return changed;
}

bool cpu_hotplug_present(struct cpu_hotplug *hp, unsigned cpu)
{
	bool present;

	pthread_mutex_lock(&hp->lock);
	present = cpu < hp->max && hp->cpu[cpu].present;
	pthread_mutex_unlock(&hp->lock);
	return present;
}

unsigned cpu_hotplug_nr_present(struct cpu_hotplug *hp)
{
	unsigned n = 0;

	pthread_mutex_lock(&hp->lock);
	for (unsigned i = 0; i < hp->max; i++)
		n += hp->cpu[i].present;
	pthread_mutex_unlock(&hp->lock);
	return n;
}

uint64_t cpu_hotplug_bad_accesses(struct cpu_hotplug *hp)
{
	return __atomic_load_n(&hp->bad_accesses, __ATOMIC_RELAXED);
}

unsigned cpu_hotplug_max(const struct cpu_hotplug *hp)
{
	return hp->max;
}

void cpu_hotplug_get_state(struct cpu_hotplug *hp, uint8_t *status, uint32_t *selected)
{
	pthread_mutex_lock(&hp->lock);
	for (unsigned i = 0; i < hp->max; i++)
		status[i] = status_of(&hp->cpu[i]) | (hp->cpu[i].remove_asked ? CPUHP_ASKED : 0);
	*selected = hp->selected;
	pthread_mutex_unlock(&hp->lock);
}

static bool status_ok(uint8_t v)
{
	const uint8_t pending = CPUHP_INSERTING | CPUHP_REMOVING | CPUHP_ASKED;

	return !(v & ~(CPUHP_ENABLED | pending)) && (!(v & pending) || (v & CPUHP_ENABLED)) &&
	       (!(v & CPUHP_REMOVING) || (v & CPUHP_ASKED)) &&
	       !((v & CPUHP_INSERTING) && (v & CPUHP_ASKED));
}

int cpu_hotplug_set_state(struct cpu_hotplug *hp, const uint8_t *status, unsigned n,
			  uint32_t selected)
{
	if (n != hp->max)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!status_ok(status[i]))
			return -EINVAL;
	pthread_mutex_lock(&hp->lock);
	for (unsigned i = 0; i < n; i++)
		hp->cpu[i] = (struct cpu_state){
			.present = status[i] & CPUHP_ENABLED,
			.inserting = status[i] & CPUHP_INSERTING,
			.removing = status[i] & CPUHP_REMOVING,
			.remove_asked = status[i] & CPUHP_ASKED,
		};
	hp->selected = selected;
	pthread_mutex_unlock(&hp->lock);
	return 0;
}
