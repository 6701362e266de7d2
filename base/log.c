// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"

/*
 * The log is process state, not VM state: it outlives a guest reboot and is shared by every
 * thread. Writes are serialized so lines never interleave.
 */
static struct {
	enum log_level level;
	FILE *file;
	pthread_mutex_t lock;
} logger = { .level = LOG_WARN, .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t start_ns;

__attribute__((constructor)) static void log_init_clock(void)
{
	start_ns = now_ns();
}

double log_uptime(void)
{
	return (double)(now_ns() - start_ns) / 1e9;
}

void log_set_level(enum log_level level)
{
	logger.level = level > LOG_DEBUG ? LOG_DEBUG : level;
}

enum log_level log_get_level(void)
{
	return logger.level;
}

int log_open_file(const char *path, char *err, size_t errlen)
{
	/* A FIFO's reader could stall every thread that logs. */
	int fd = file_open("log file", path, O_WRONLY | O_APPEND | O_CREAT, 0600,
			   FILE_TYPE_REG | FILE_TYPE_CHR, err, errlen);
	FILE *f;

	if (fd < 0)
		return fd;
	f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		return set_err(err, errlen, -errno, "log file '%s': %s", path, strerror(errno));
	}
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&logger.lock);
	if (logger.file)
		fclose(logger.file);
	logger.file = f;
	pthread_mutex_unlock(&logger.lock);
	return 0;
}

void log_close_file(void)
{
	pthread_mutex_lock(&logger.lock);
	if (logger.file)
		fclose(logger.file);
	logger.file = NULL;
	pthread_mutex_unlock(&logger.lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	FILE *out;

	if (level > logger.level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&logger.lock);
	out = logger.file ? logger.file : stderr;
	fprintf(out, "vireo: [%10.6f] %s: %s\n", log_uptime(), level_names[level], line);
	fflush(out);
	/* Errors end the VM: show them on the terminal even when the log goes to a file. */
	if (level == LOG_ERROR && out != stderr)
		fprintf(stderr, "vireo: error: %s\n", line);
	pthread_mutex_unlock(&logger.lock);
}

int log_ratelimit_allow(struct log_ratelimit *rl, unsigned burst, unsigned *suppressed)
{
	uint64_t now = now_ns();
	int allow;

	pthread_mutex_lock(&logger.lock);
	*suppressed = 0;
	if (now - rl->window_start_ns >= 1000000000ULL) {
		*suppressed = rl->suppressed;
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	allow = rl->printed < burst;
	if (allow)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&logger.lock);
	return allow;
}

char *msg_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

int set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}
