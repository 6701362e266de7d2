/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-thread syscall filters (libseccomp). The mechanism lives here; each layer owns the
 * allow-list of the threads it starts (vmm/: the VMM thread, vm/: vCPUs, virtio/: device
 * workers, api/: the API server and the event monitor) and applies it as the thread's first
 * act. Filters stack and are inherited: a thread started by the VMM thread runs under the
 * VMM's filter and its own, so it may make only the calls both allow.
 *
 * The mode is process state, set once at start-up like the log level (Cloud Hypervisor's
 * --seccomp: true kills the process on a call outside the list, log lets it through and the
 * kernel's audit log records it, errno fails it with EPERM, false installs nothing).
 */
#ifndef VIREO_BASE_SYSFILTER_H
#define VIREO_BASE_SYSFILTER_H

#include <seccomp.h>
#include <stdint.h>

enum sysfilter_mode { SYSFILTER_OFF, SYSFILTER_ON, SYSFILTER_LOG, SYSFILTER_ERRNO };

/*
 * One allowed call: @nr (__NR_*), with any arguments when @mask is 0, else only when
 * (argument @arg & @mask) == @value (several rules for one call: any of them). With @fail
 * set the call is not allowed but fails with that errno instead of ending the process: for
 * what glibc does behind our back and copes with failing (it opens
 * /proc/sys/vm/overcommit_memory the first time a thread's malloc arena shrinks).
 */
struct sysfilter_rule {
	int nr;
	unsigned arg;
	uint64_t mask, value;
	int fail;
};

struct sysfilter_policy {
	const char *kind;                 /* "vcpu", "virtio worker": named in a violation */
	const struct sysfilter_rule *rules;
	unsigned nr;
};

/*
 * libseccomp's __SNR_ names: a call the architecture does not have (open, poll, stat... on
 * arm64) is a negative pseudo-number whose rule libseccomp leaves out, so one list serves both.
 */
#define SYSFILTER_ALLOW(name) { __SNR_##name, 0, 0, 0, 0 }
#define SYSFILTER_FAIL(name, err) { __SNR_##name, 0, 0, 0, err }
/* A thread that opens nothing: what glibc opens on its own gets EACCES. */
#define SYSFILTER_NO_OPEN SYSFILTER_FAIL(openat, EACCES), SYSFILTER_FAIL(open, EACCES)
#define SYSFILTER_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Once, before any thread applies a policy: the mode, and (on) a SIGSYS handler that names
 * the thread kind and the call, then ends the process with status 1. 0 or -errno.
 */
int sysfilter_setup(enum sysfilter_mode mode);
enum sysfilter_mode sysfilter_get_mode(void);
/* "true", "false", "log", "errno" (CH's values); -EINVAL otherwise. */
int sysfilter_mode_parse(const char *s, enum sysfilter_mode *mode);
/*
 * The calls every thread makes (glibc's allocator, locks, stdio, logging, clocks, exit):
 * applied together with each thread's own list.
 */
extern const struct sysfilter_policy sysfilter_common;
/* Installs @p (plus sysfilter_common) on the calling thread; a no-op when off. 0 or -errno. */
int sysfilter_apply(const struct sysfilter_policy *p);
/* The libseccomp default action of @mode's filters (SCMP_ACT_*). */
uint32_t sysfilter_default_action(enum sysfilter_mode mode);

#endif
