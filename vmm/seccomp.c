// SPDX-License-Identifier: Apache-2.0
/*
 * --seccomp (Cloud Hypervisor's values: true, the default, kills on a call outside a thread's
 * list; log lets it through into the kernel's audit log; errno fails it with EPERM; false
 * installs nothing) and the VMM thread's own list (base/sysfilter.h has the mechanism).
 *
 * The VMM thread installs its filter before it creates anything, so every thread started
 * later (API server, event monitor, vCPUs, device workers) runs under it and its own: this
 * list is the union of what vireo's threads do outside the guest's reach, the others are
 * narrow. docs/security.md has the lists' reasoning.
 */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "base/log.h"
#include "base/sysfilter.h"
#include "vmm/vmm.h"

static const struct sysfilter_rule vmm_rules[] = {
	/* threads, signals, process */
	SYSFILTER_ALLOW(clone), SYSFILTER_ALLOW(clone3), SYSFILTER_ALLOW(set_robust_list),
	SYSFILTER_ALLOW(rseq), SYSFILTER_ALLOW(prctl), SYSFILTER_ALLOW(rt_sigaction),
	SYSFILTER_ALLOW(rt_sigtimedwait), SYSFILTER_ALLOW(kill),
	SYSFILTER_ALLOW(getppid), SYSFILTER_ALLOW(geteuid), SYSFILTER_ALLOW(getuid),
	SYSFILTER_ALLOW(getegid), SYSFILTER_ALLOW(getgid), SYSFILTER_ALLOW(sched_getaffinity),
	SYSFILTER_ALLOW(prlimit64), SYSFILTER_ALLOW(sysinfo), SYSFILTER_ALLOW(uname),
	SYSFILTER_ALLOW(umask), SYSFILTER_ALLOW(set_tid_address), SYSFILTER_ALLOW(membarrier),
	SYSFILTER_ALLOW(seccomp),        /* each thread adds its own filter */
	/* files: images, snapshots, outputs, /dev/kvm, /proc/self */
	SYSFILTER_ALLOW(openat), SYSFILTER_ALLOW(open), SYSFILTER_ALLOW(dup), SYSFILTER_ALLOW(dup2),
	SYSFILTER_ALLOW(dup3), SYSFILTER_ALLOW(fcntl), SYSFILTER_ALLOW(flock),
	SYSFILTER_ALLOW(statx), SYSFILTER_ALLOW(stat), SYSFILTER_ALLOW(lstat),
	SYSFILTER_ALLOW(fstatfs), SYSFILTER_ALLOW(statfs), SYSFILTER_ALLOW(access),
	SYSFILTER_ALLOW(faccessat), SYSFILTER_ALLOW(faccessat2), SYSFILTER_ALLOW(readlink),
	SYSFILTER_ALLOW(readlinkat), SYSFILTER_ALLOW(getdents64), SYSFILTER_ALLOW(getcwd),
	SYSFILTER_ALLOW(pread64), SYSFILTER_ALLOW(pwrite64), SYSFILTER_ALLOW(readv),
	SYSFILTER_ALLOW(preadv), SYSFILTER_ALLOW(pwritev), SYSFILTER_ALLOW(preadv2),
	SYSFILTER_ALLOW(pwritev2), SYSFILTER_ALLOW(fsync), SYSFILTER_ALLOW(fdatasync),
	SYSFILTER_ALLOW(ftruncate), SYSFILTER_ALLOW(fallocate), SYSFILTER_ALLOW(fadvise64),
	SYSFILTER_ALLOW(renameat), SYSFILTER_ALLOW(renameat2), SYSFILTER_ALLOW(unlink),
	SYSFILTER_ALLOW(unlinkat), SYSFILTER_ALLOW(mkdirat), SYSFILTER_ALLOW(fchmod),
	SYSFILTER_ALLOW(chmod), SYSFILTER_ALLOW(fchmodat),
	SYSFILTER_ALLOW(fchown), SYSFILTER_ALLOW(memfd_create), SYSFILTER_ALLOW(mincore),
	SYSFILTER_ALLOW(copy_file_range), SYSFILTER_ALLOW(sendfile),
	/* waiting and event fds */
	SYSFILTER_ALLOW(epoll_create1), SYSFILTER_ALLOW(epoll_ctl), SYSFILTER_ALLOW(epoll_wait),
	SYSFILTER_ALLOW(epoll_pwait), SYSFILTER_ALLOW(poll), SYSFILTER_ALLOW(ppoll),
	SYSFILTER_ALLOW(select), SYSFILTER_ALLOW(pselect6), SYSFILTER_ALLOW(eventfd2),
	SYSFILTER_ALLOW(signalfd4), SYSFILTER_ALLOW(timerfd_create),
	SYSFILTER_ALLOW(timerfd_settime), SYSFILTER_ALLOW(timerfd_gettime), SYSFILTER_ALLOW(pipe2),
	/* KVM, terminals, block devices, taps */
	SYSFILTER_ALLOW(ioctl),
	/* block I/O */
	SYSFILTER_ALLOW(io_uring_setup), SYSFILTER_ALLOW(io_uring_enter),
	SYSFILTER_ALLOW(io_uring_register),
	/* the API socket and device backends (vsock's Unix sockets, taps) */
	SYSFILTER_ALLOW(socket), SYSFILTER_ALLOW(socketpair), SYSFILTER_ALLOW(bind),
	SYSFILTER_ALLOW(listen), SYSFILTER_ALLOW(accept), SYSFILTER_ALLOW(accept4),
	SYSFILTER_ALLOW(connect), SYSFILTER_ALLOW(shutdown), SYSFILTER_ALLOW(getsockname),
	SYSFILTER_ALLOW(getpeername), SYSFILTER_ALLOW(getsockopt), SYSFILTER_ALLOW(setsockopt),
	SYSFILTER_ALLOW(recvfrom), SYSFILTER_ALLOW(recvmsg), SYSFILTER_ALLOW(sendto),
	SYSFILTER_ALLOW(sendmsg),
};

const struct sysfilter_policy vmm_sysfilter = {
	"vmm", vmm_rules, SYSFILTER_ARRAY_SIZE(vmm_rules)
};

/* Sanitizer runtimes make calls of their own at any time: such builds default to off. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

int vmm_setup_seccomp(const char *arg, char *err, size_t errlen)
{
	enum sysfilter_mode mode = SANITIZED ? SYSFILTER_OFF : SYSFILTER_ON;
	int ret;

	if (arg && sysfilter_mode_parse(arg, &mode))
		return set_err(err, errlen, -EINVAL, "--seccomp: '%s' is not one of true, false, "
			       "log, errno", arg);
	if (!arg && SANITIZED)
		pr_info("seccomp: off by default in a sanitizer build");
	/* glibc reads /etc/localtime on first use (the CMOS clock, on a vCPU): do it here. */
	tzset();
	ret = sysfilter_setup(mode);
	ret = ret ?: sysfilter_apply(&vmm_sysfilter);
	if (ret)
		return set_err(err, errlen, ret, "--seccomp: cannot install the VMM thread's "
			       "filter: %s", strerror(-ret));
	return 0;
}
