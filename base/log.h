/* SPDX-License-Identifier: Apache-2.0 */
/* vireo's log: levels, an optional log file, and rate limiting for guest-triggered messages. */
#ifndef VIREO_BASE_LOG_H
#define VIREO_BASE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Level shown: LOG_WARN by default, each -v raises it. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Sends the log to @path (appended) instead of stderr; 0 or -errno. */
/* Appends to @path (created 0600); -errno with one line in @err. */
int log_open_file(const char *path, char *err, size_t errlen);
void log_close_file(void);
/* Seconds since the process started (CLOCK_MONOTONIC), for boot-phase markers. */
double log_uptime(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * At most @burst messages per second from one call site, so a hostile guest cannot flood
 * the log; suppressed messages are counted and reported with the next one let through.
 */
struct log_ratelimit {
	uint64_t window_start_ns;
	unsigned printed;
	unsigned suppressed;
};
int log_ratelimit_allow(struct log_ratelimit *rl, unsigned burst, unsigned *suppressed);

/*
 * The one message family. Fallible builders (vm_create, the loaders, config checks, the API)
 * follow "-errno plus one line": set_err writes the message into @err and returns @ret, so
 * `return set_err(...)` does both. msg_fmt is the same formatting for a buffer that is used
 * in place (a path, a context string); it returns @buf. A message about a field of untrusted
 * JSON (a snapshot, a request body) names the field: json_field_err (base/json.h).
 */
int set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
char *msg_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define pr_warn_ratelimited(...)                                                        \
	do {                                                                            \
		static struct log_ratelimit _rl;                                        \
		unsigned _supp;                                                         \
		if (log_ratelimit_allow(&_rl, 10, &_supp)) {                            \
			if (_supp)                                                      \
				pr_warn("(%u similar messages suppressed)", _supp);     \
			pr_warn(__VA_ARGS__);                                           \
		}                                                                       \
	} while (0)

#endif
