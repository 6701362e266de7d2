// SPDX-License-Identifier: Apache-2.0
/*
 * --event-monitor: CH's event stream (event_monitor/src/lib.rs). Each event is
 * serde_json::to_string_pretty of {timestamp: Duration since the monitor started
 * ({"secs","nanos"}), source, event, properties: null or {string: string}} followed by "\n\n"
 * (vmm/src/lib.rs start_event_monitor_thread). As in CH the fd is made non-blocking and a
 * separate thread writes, so a slow or dead reader never stalls the VMM or a vCPU; here the
 * backlog is bounded and events beyond it are dropped and counted.
 *
 * The monitor is process state like the log (vmm/log.c): events come from any thread, deep in
 * code that has no handle to pass, so it is one static object behind a mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "base/file.h"
#include "base/log.h"
#include "base/sysfilter.h"

#define EVENT_BACKLOG 1024
#define EVENT_FLUSH_MS 200     /* at close, for a reader that stopped reading */

struct monitor {
	int fd;
	int stop_fd;               /* eventfd, readable once closing */
	uint64_t start_ns;
	pthread_t thread;
	char *ring[EVENT_BACKLOG];
	unsigned head, count, dropped;
	bool stop;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct monitor *m;
} events = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Writes all of @s, waiting for POLLOUT on EAGAIN. Once the monitor is closing (stop_fd
 * readable) the wait is bounded: *deadline is set to EVENT_FLUSH_MS from then, for the whole
 * remaining backlog, so a reader that stopped reading cannot hold up vireo's exit.
 */
static int write_all(struct monitor *m, const char *s, size_t len, uint64_t *deadline)
{
	while (len) {
		ssize_t n = write(m->fd, s, len);
		struct pollfd p[2] = { { .fd = m->fd, .events = POLLOUT },
				       { .fd = m->stop_fd, .events = POLLIN } };
		int timeout = -1;

		if (n > 0) {
			s += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (*deadline) {
			uint64_t now = now_ns();

			if (now >= *deadline)
				return -ETIMEDOUT;
			timeout = (int)((*deadline - now) / 1000000) + 1;
		}
		if (poll(p, *deadline ? 1 : 2, timeout) < 0 && errno != EINTR)
			return -errno;
		if (!*deadline && p[1].revents)
			*deadline = now_ns() + EVENT_FLUSH_MS * 1000000ull;
	}
	return 0;
}

static char *pop_locked(struct monitor *m)
{
	char *ev;

	if (!m->count)
		return NULL;
	ev = m->ring[m->head];
	m->head = (m->head + 1) % EVENT_BACKLOG;
	m->count--;
	return ev;
}

/* The writer waits on its queue and writes to its fd, bounded by poll: nothing else. */
static const struct sysfilter_rule writer_rules[] = {
	SYSFILTER_ALLOW(poll), SYSFILTER_ALLOW(ppoll), SYSFILTER_NO_OPEN,
};
static const struct sysfilter_policy writer_sysfilter = {
	"event monitor", writer_rules, SYSFILTER_ARRAY_SIZE(writer_rules)
};

static void *writer(void *arg)
{
	struct monitor *m = arg;
	uint64_t deadline = 0;
	bool timed_out = false;
	char *ev;
	int ret;

	if (sysfilter_apply(&writer_sysfilter))
		pr_warn("event-monitor: cannot install its syscall filter");
	for (;;) {
		pthread_mutex_lock(&events.lock);
		while (!m->count && !m->stop)
			pthread_cond_wait(&events.cond, &events.lock);
		ev = pop_locked(m);
		if (ev && timed_out)
			m->dropped++;
		pthread_mutex_unlock(&events.lock);
		if (!ev)
			return NULL;   /* stopping and drained */
		if (!timed_out) {
			ret = write_all(m, ev, strlen(ev), &deadline);
			timed_out = ret == -ETIMEDOUT;
			if (ret)
				pr_warn_ratelimited("event-monitor: write failed: %s",
						    strerror(-ret));
		}
		free(ev);
	}
}

static int open_target(const char *arg, char *err, size_t errlen)
{
	char *end;
	long n;
	int fd;

	if (!strncmp(arg, "path=", 5) && arg[5]) {
		/* A FIFO is a fine consumer (its own thread writes); a planted symlink is not. */
		char why[256];

		fd = file_open("event monitor file", arg + 5, O_WRONLY | O_CREAT | O_TRUNC |
			       O_NOFOLLOW, 0600, FILE_TYPE_REG | FILE_TYPE_FIFO | FILE_TYPE_CHR,
			       why, sizeof(why));
		if (fd < 0)
			msg_fmt(err, errlen, "--event-monitor: %s", why);
		return fd;
	}
	if (!strncmp(arg, "fd=", 3)) {
		errno = 0;
		n = strtol(arg + 3, &end, 10);
		if (!errno && !*end && end != arg + 3 && n >= 0 && n <= INT32_MAX &&
		    fcntl((int)n, F_GETFD) >= 0)
			return (int)n;
		msg_fmt(err, errlen, "--event-monitor: '%s' is not an open file descriptor", arg + 3);
		return -EBADF;
	}
	msg_fmt(err, errlen, "--event-monitor: path or fd required (path=FILE or fd=N)");
	return -EINVAL;
}

int api_event_monitor_open(const char *arg, char *err, size_t errlen)
{
	struct monitor *m = calloc(1, sizeof(*m));
	int fl, ret;

	if (!m)
		return -ENOMEM;
	m->fd = open_target(arg, err, errlen);
	if (m->fd < 0) {
		ret = m->fd;
		goto err_free;
	}
	fl = fcntl(m->fd, F_GETFL);
	if (fl < 0 || fcntl(m->fd, F_SETFL, fl | O_NONBLOCK)) {
		ret = -errno;
		msg_fmt(err, errlen, "--event-monitor: %s", strerror(errno));
		goto err_close;
	}
	m->start_ns = now_ns();
	m->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stop_fd < 0) {
		ret = -errno;
		msg_fmt(err, errlen, "--event-monitor: eventfd: %s", strerror(errno));
		goto err_close;
	}
	if ((ret = -pthread_create(&m->thread, NULL, writer, m))) {
		msg_fmt(err, errlen, "--event-monitor: cannot start its thread");
		close(m->stop_fd);
		goto err_close;
	}
	api_event_monitor_close();
	pthread_mutex_lock(&events.lock);
	events.m = m;
	pthread_mutex_unlock(&events.lock);
	return 0;
err_close:
	close(m->fd);
err_free:
	free(m);
	return ret;
}

void api_event_monitor_close(void)
{
	struct monitor *m;

	pthread_mutex_lock(&events.lock);
	m = events.m;
	events.m = NULL;
	if (m)
		m->stop = true;
	pthread_cond_broadcast(&events.cond);
	pthread_mutex_unlock(&events.lock);
	if (!m)
		return;
	if (eventfd_write(m->stop_fd, 1))
		pr_warn("event-monitor: cannot wake its writer: %s", strerror(errno));
	pthread_join(m->thread, NULL);
	close(m->stop_fd);
	if (m->dropped)
		pr_warn("event-monitor: %u events dropped (reader too slow)", m->dropped);
	close(m->fd);
	free(m);
}

/* A JSON string literal for @s (printable ASCII kept, the rest escaped as serde does). */
static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* serde_json's pretty format: two-space indent, "key": value. */
static char *format_event(uint64_t ns, const char *source, const char *event, va_list ap)
{
	const char *k, *v;
	char *out = NULL;
	size_t len = 0;
	bool any = false;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fprintf(f, "{\n  \"timestamp\": {\n    \"secs\": %llu,\n    \"nanos\": %llu\n  },\n"
		"  \"source\": ", (unsigned long long)(ns / 1000000000ull),
		(unsigned long long)(ns % 1000000000ull));
	put_string(f, source);
	fputs(",\n  \"event\": ", f);
	put_string(f, event);
	fputs(",\n  \"properties\": ", f);
	while ((k = va_arg(ap, const char *)) && (v = va_arg(ap, const char *))) {
		fputs(any ? ",\n    " : "{\n    ", f);
		put_string(f, k);
		fputs(": ", f);
		put_string(f, v);
		any = true;
	}
	fputs(any ? "\n  }\n}\n\n" : "null\n}\n\n", f);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

static void emit(const char *source, const char *event, va_list ap)
{
	struct monitor *m;
	char *ev;

	pthread_mutex_lock(&events.lock);
	m = events.m;
	if (!m) {
		pthread_mutex_unlock(&events.lock);
		return;
	}
	ev = format_event(now_ns() - m->start_ns, source, event, ap);
	if (ev && m->count < EVENT_BACKLOG) {
		m->ring[(m->head + m->count++) % EVENT_BACKLOG] = ev;
		pthread_cond_signal(&events.cond);
	} else {
		m->dropped++;
		free(ev);
	}
	pthread_mutex_unlock(&events.lock);
}

void api_event_props(const char *source, const char *event, ...)
{
	va_list ap;

	va_start(ap, event);
	emit(source, event, ap);
	va_end(ap);
}

void api_event(const char *source, const char *event)
{
	api_event_props(source, event, NULL);
}
