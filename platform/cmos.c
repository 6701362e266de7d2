// SPDX-License-Identifier: Apache-2.0
/*
 * MC146818 RTC and CMOS NVRAM behind ports 0x70 (index, bit 7 = NMI mask) and 0x71 (data).
 * The clock reads the host's UTC time; the NVRAM belongs to the caller so that, as with a
 * battery-backed chip, it survives a guest reboot.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "platform/platform.h"

#define RTC_SECONDS    0x00
#define RTC_MINUTES    0x02
#define RTC_HOURS      0x04
#define RTC_WEEKDAY    0x06
#define RTC_DAY        0x07
#define RTC_MONTH      0x08
#define RTC_YEAR       0x09
#define RTC_REG_A      0x0a
#define RTC_REG_B      0x0b
#define RTC_REG_C      0x0c
#define RTC_REG_D      0x0d
#define RTC_CENTURY    0x32
#define REG_B_24H      0x02
#define REG_B_BINARY   0x04
#define REG_D_VRT      0x80   /* valid RAM and time */

struct cmos {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t *nvram;
};

static uint8_t to_bcd(unsigned v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_format(const struct cmos *c, unsigned v)
{
	return (c->nvram[RTC_REG_B] & REG_B_BINARY) ? (uint8_t)v : to_bcd(v);
}

static uint8_t rtc_hours(const struct cmos *c, unsigned h)
{
	unsigned h12;

	if (c->nvram[RTC_REG_B] & REG_B_24H)
		return rtc_format(c, h);
	h12 = h % 12 ? h % 12 : 12;
	return rtc_format(c, h12) | (h >= 12 ? 0x80 : 0);
}

static uint8_t cmos_read_index(const struct cmos *c, uint8_t index)
{
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	switch (index) {
	case RTC_SECONDS: return rtc_format(c, (unsigned)tm.tm_sec);
	case RTC_MINUTES: return rtc_format(c, (unsigned)tm.tm_min);
	case RTC_HOURS: return rtc_hours(c, (unsigned)tm.tm_hour);
	case RTC_WEEKDAY: return rtc_format(c, (unsigned)tm.tm_wday + 1);
	case RTC_DAY: return rtc_format(c, (unsigned)tm.tm_mday);
	case RTC_MONTH: return rtc_format(c, (unsigned)tm.tm_mon + 1);
	case RTC_YEAR: return rtc_format(c, (unsigned)(tm.tm_year + 1900) % 100);
	case RTC_CENTURY: return rtc_format(c, (unsigned)(tm.tm_year + 1900) / 100);
	case RTC_REG_A: return c->nvram[RTC_REG_A] & 0x7f;   /* never "update in progress" */
	case RTC_REG_C: return 0;
	case RTC_REG_D: return REG_D_VRT;
	default: return c->nvram[index];
	}
}

static void cmos_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct cmos *c = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&c->lock);
	data[0] = offset == 0 ? c->index : cmos_read_index(c, c->index);
	pthread_mutex_unlock(&c->lock);
}

static void cmos_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct cmos *c = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&c->lock);
	if (offset == 0)
		c->index = data[0] & 0x7f;
	else if (c->index > RTC_YEAR && c->index != RTC_REG_C && c->index != RTC_REG_D &&
		 c->index != RTC_CENTURY)
		c->nvram[c->index] = data[0];   /* the clock itself is the host's: not settable */
	pthread_mutex_unlock(&c->lock);
}

const struct bus_device_ops cmos_bus_ops = {
	.read = cmos_bus_read,
	.write = cmos_bus_write,
};

struct cmos *cmos_create(uint8_t *nvram)
{
	struct cmos *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->nvram = nvram;
	if (!nvram[RTC_REG_A] && !nvram[RTC_REG_B]) {   /* first power-on */
		nvram[RTC_REG_A] = 0x26;   /* 32.768 kHz time base, 1024 Hz rate */
		nvram[RTC_REG_B] = REG_B_24H;
	}
	return c;
}

void cmos_destroy(struct cmos *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint8_t cmos_get_index(struct cmos *c)
{
	uint8_t index;

	pthread_mutex_lock(&c->lock);
	index = c->index;
	pthread_mutex_unlock(&c->lock);
	return index;
}

void cmos_set_index(struct cmos *c, uint8_t index)
{
	pthread_mutex_lock(&c->lock);
	c->index = index;
	pthread_mutex_unlock(&c->lock);
}
