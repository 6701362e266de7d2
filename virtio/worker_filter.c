// SPDX-License-Identifier: Apache-2.0
/*
 * The device workers' syscall filter (base/sysfilter.h), applied as a worker's thread starts.
 * A worker serves guest-driven rings: it waits (epoll, poll, io_uring), reads and writes its
 * fds (kick, control and timer eventfds, the disk image, entropy source, console, taps and
 * backend sockets) and submits block I/O; the only ioctls are virtio-net's tap controls. It
 * opens nothing and creates no thread.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "virtio/device.h"

static const struct sysfilter_rule worker_rules[] = {
	SYSFILTER_ALLOW(epoll_wait), SYSFILTER_ALLOW(epoll_pwait), SYSFILTER_ALLOW(epoll_ctl),
	SYSFILTER_ALLOW(poll), SYSFILTER_ALLOW(ppoll), SYSFILTER_ALLOW(readv),
	SYSFILTER_ALLOW(pread64), SYSFILTER_ALLOW(pwrite64), SYSFILTER_ALLOW(preadv),
	SYSFILTER_ALLOW(pwritev), SYSFILTER_ALLOW(preadv2), SYSFILTER_ALLOW(pwritev2),
	SYSFILTER_ALLOW(fsync), SYSFILTER_ALLOW(fdatasync), SYSFILTER_ALLOW(fallocate),
	SYSFILTER_ALLOW(io_uring_enter), SYSFILTER_ALLOW(io_uring_register),
	SYSFILTER_ALLOW(timerfd_settime), SYSFILTER_ALLOW(timerfd_gettime),
	/* backends on sockets (vsock's Unix sockets, a tap given as a socket) */
	SYSFILTER_ALLOW(recvfrom), SYSFILTER_ALLOW(recvmsg), SYSFILTER_ALLOW(sendto),
	SYSFILTER_ALLOW(sendmsg), SYSFILTER_ALLOW(accept4), SYSFILTER_ALLOW(connect),
	SYSFILTER_ALLOW(shutdown), SYSFILTER_ALLOW(getsockopt), SYSFILTER_ALLOW(fcntl),
	SYSFILTER_ALLOW(setsockopt), SYSFILTER_ALLOW(getsockname), SYSFILTER_ALLOW(getpeername),
	{ __NR_socket, 0, ~0ULL, 1 /* AF_UNIX */, 0 },
	/* virtio-net's control queue: offloads mirrored onto the tap, queue pairs (de)attached */
	{ __NR_ioctl, 1, ~0ULL, TUNSETOFFLOAD, 0 }, { __NR_ioctl, 1, ~0ULL, TUNSETQUEUE, 0 },
	SYSFILTER_NO_OPEN,
};

const struct sysfilter_policy virtio_worker_sysfilter = {
	"virtio worker", worker_rules, SYSFILTER_ARRAY_SIZE(worker_rules)
};
