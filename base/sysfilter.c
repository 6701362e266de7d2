// SPDX-License-Identifier: Apache-2.0
/* Per-thread syscall filters: the mechanism (base/seccomp.h). */
#include <errno.h>
#include <seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/sysfilter.h"

#define MAX_NR 512

static enum sysfilter_mode current_mode;
static __thread const char *thread_kind;
/* Resolved at setup: the SIGSYS handler may not allocate (it may have interrupted malloc). */
static char syscall_names[MAX_NR][24];

static const struct sysfilter_rule common_rules[] = {
	SYSFILTER_ALLOW(read), SYSFILTER_ALLOW(write), SYSFILTER_ALLOW(writev), SYSFILTER_ALLOW(close),
	SYSFILTER_ALLOW(futex), SYSFILTER_ALLOW(exit), SYSFILTER_ALLOW(exit_group),
	SYSFILTER_ALLOW(rt_sigreturn), SYSFILTER_ALLOW(rt_sigprocmask), SYSFILTER_ALLOW(madvise),
	SYSFILTER_ALLOW(mmap), SYSFILTER_ALLOW(munmap), SYSFILTER_ALLOW(mprotect),
	SYSFILTER_ALLOW(mremap), SYSFILTER_ALLOW(brk), SYSFILTER_ALLOW(clock_gettime),
	SYSFILTER_ALLOW(clock_nanosleep), SYSFILTER_ALLOW(nanosleep), SYSFILTER_ALLOW(sched_yield),
	SYSFILTER_ALLOW(getpid), SYSFILTER_ALLOW(gettid), SYSFILTER_ALLOW(tgkill),
	SYSFILTER_ALLOW(restart_syscall), SYSFILTER_ALLOW(fstat), SYSFILTER_ALLOW(newfstatat),
	SYSFILTER_ALLOW(lseek), SYSFILTER_ALLOW(getrandom),
	SYSFILTER_ALLOW(sigaltstack),     /* sanitizer runtimes, around signal handlers */
};

const struct sysfilter_policy sysfilter_common = {
	"common", common_rules, SYSFILTER_ARRAY_SIZE(common_rules)
};

enum sysfilter_mode sysfilter_get_mode(void)
{
	return current_mode;
}

int sysfilter_mode_parse(const char *s, enum sysfilter_mode *mode)
{
	if (!strcmp(s, "true"))
		*mode = SYSFILTER_ON;
	else if (!strcmp(s, "false"))
		*mode = SYSFILTER_OFF;
	else if (!strcmp(s, "log"))
		*mode = SYSFILTER_LOG;
	else if (!strcmp(s, "errno"))
		*mode = SYSFILTER_ERRNO;
	else
		return -EINVAL;
	return 0;
}

/* Decimal of @v at the end of @buf; returns where it starts. Async-signal-safe. */
static char *utoa(unsigned long v, char *end)
{
	*--end = '\0';
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void put(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		return;
}

/* A call outside the thread's list (SECCOMP_RET_TRAP): say which and who, then end. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char num[24];
	int nr = si->si_syscall;

	(void)sig;
	(void)uc;
	put("vireo: error: seccomp: ");
	put(thread_kind ? "the " : "a thread under its creator's filter");
	put(thread_kind ? thread_kind : "");
	put(thread_kind ? " thread called " : " called ");
	put(nr >= 0 && nr < MAX_NR && syscall_names[nr][0] ? syscall_names[nr] : "syscall");
	put(" (");
	put(utoa((unsigned long)(unsigned)nr, num + sizeof(num)));
	put("), which its filter does not allow; exiting\n");
	_exit(1);
}

static void resolve_names(void)
{
	for (int nr = 0; nr < MAX_NR; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name)
			strncpy(syscall_names[nr], name, sizeof(syscall_names[nr]) - 1);
		free(name);
	}
}

int sysfilter_setup(enum sysfilter_mode mode)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	current_mode = mode;
	if (mode != SYSFILTER_ON)
		return 0;
	resolve_names();
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

static int add_rules(scmp_filter_ctx ctx, const struct sysfilter_policy *p)
{
	int ret = 0;

	for (unsigned i = 0; i < p->nr && !ret; i++) {
		const struct sysfilter_rule *r = &p->rules[i];

		uint32_t act = r->fail ? SCMP_ACT_ERRNO((uint32_t)r->fail) : SCMP_ACT_ALLOW;

		if (!r->mask)
			ret = seccomp_rule_add(ctx, act, r->nr, 0);
		else
			ret = seccomp_rule_add(ctx, act, r->nr, 1,
					       SCMP_CMP(r->arg, SCMP_CMP_MASKED_EQ, r->mask,
							r->value));
	}
	return ret;
}

/* What a call outside the list gets in each mode (SYSFILTER_OFF installs no filter). */
uint32_t sysfilter_default_action(enum sysfilter_mode mode)
{
	return mode == SYSFILTER_LOG ? SCMP_ACT_LOG :
	       mode == SYSFILTER_ERRNO ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_TRAP;
}

int sysfilter_apply(const struct sysfilter_policy *p)
{
	scmp_filter_ctx ctx;
	int ret;

	if (current_mode == SYSFILTER_OFF)
		return 0;
	/* A blocked SIGSYS would kill the process without the handler's message. */
	if (current_mode == SYSFILTER_ON) {
		sigset_t sys;

		sigemptyset(&sys);
		sigaddset(&sys, SIGSYS);
		pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	}
	/* libseccomp sets no_new_privs too (SCMP_FLTATR_CTL_NNP defaults on). */
	ctx = seccomp_init(sysfilter_default_action(current_mode));
	if (!ctx)
		return -ENOMEM;
	ret = add_rules(ctx, &sysfilter_common);
	ret = ret ?: add_rules(ctx, p);
	ret = ret ?: seccomp_load(ctx);
	seccomp_release(ctx);
	if (!ret)
		thread_kind = p->kind;
	return ret;
}
