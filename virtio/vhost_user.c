// SPDX-License-Identifier: Apache-2.0
/*
 * The vhost-user frontend's wire protocol (QEMU docs/interop/vhost-user.rst): messages with
 * their descriptors, replies checked field by field, every wait bounded. virtio/vhost_user.h
 * has the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/memory.h"
#include "virtio/vhost_user.h"

struct vu_hdr {
	uint32_t request, flags, size;
} __attribute__((packed));

struct vu_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions, padding;
	struct vu_region regions[VHOST_USER_MAX_REGIONS];
};

struct vu_state {
	uint32_t index, num;
};

struct vu_addr {
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

static const char *req_name(uint32_t req)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
	};

	return req < sizeof(names) / sizeof(names[0]) && names[req] ? names[req] : "request";
}

/* Marks the connection broken with its first reason; returns @ret. */
static int fail(struct vhost_user *vu, int ret, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&vu->broken, true, __ATOMIC_ACQ_REL))
		return ret;
	va_start(ap, fmt);
	vsnprintf(vu->error, sizeof(vu->error), fmt, ap);
	va_end(ap);
	pr_warn("vhost-user: %s", vu->error);
	return ret;
}

bool vhost_user_broken(const struct vhost_user *vu)
{
	return __atomic_load_n(&vu->broken, __ATOMIC_ACQUIRE);
}

void vhost_user_init(struct vhost_user *vu, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	memset(vu, 0, sizeof(*vu));
	vu->fd = fd;
	vu->timeout_ms = VHOST_USER_TIMEOUT_MS;
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		fail(vu, -errno, "cannot make the socket non-blocking: %s", strerror(errno));
}

int vhost_user_connect(struct vhost_user *vu, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return set_err(err, errlen, -ENAMETOOLONG, "socket '%s': path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return set_err(err, errlen, -errno, "socket: %s", strerror(errno));
	/* A Unix stream connect never waits: it succeeds, or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return set_err(err, errlen, ret, "cannot connect to the backend at '%s': %s", path,
			       strerror(-ret));
	}
	vhost_user_init(vu, fd);
	return 0;
}

void vhost_user_close(struct vhost_user *vu)
{
	if (vu->fd >= 0)
		close(vu->fd);
	vu->fd = -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events until @deadline: 0, -ETIMEDOUT or -EPIPE (hung up, error). */
static int wait_fd(struct vhost_user *vu, short events, int64_t deadline)
{
	struct pollfd p = { .fd = vu->fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p.revents & events)
			return 0;
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			return -EPIPE;
	}
}

static int send_msg(struct vhost_user *vu, const void *buf, size_t len, const int *fds,
		    unsigned nr_fds, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_REGIONS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t done = 0;
	ssize_t n;
	int ret;

	if (nr_fds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nr_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nr_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nr_fds * sizeof(int));
	}
	while (done < len) {
		if ((ret = wait_fd(vu, POLLOUT, deadline)))
			return ret;
		iov = (struct iovec){ (char *)buf + done, len - done };
		n = sendmsg(vu->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
		mh.msg_control = NULL;        /* the descriptors went with the first byte */
		mh.msg_controllen = 0;
	}
	return 0;
}

/* Closes whatever descriptors a reply carried: none is ever expected. */
static unsigned drop_fds(struct msghdr *mh)
{
	unsigned n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++, n++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
	return n;
}

/* Exactly @len bytes: 0, -ETIMEDOUT, -EPIPE (closed), -EPROTO (descriptors sent). */
static int recv_exact(struct vhost_user *vu, void *buf, size_t len, int64_t deadline)
{
	char ctl[CMSG_SPACE(VHOST_USER_MAX_REGIONS * sizeof(int))];
	size_t done = 0;
	int ret;

	while (done < len) {
		struct iovec iov = { (char *)buf + done, len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		ssize_t n;

		if ((ret = wait_fd(vu, POLLIN, deadline)))
			return ret;
		n = recvmsg(vu->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		if (drop_fds(&mh) || (mh.msg_flags & MSG_CTRUNC))
			return -EPROTO;
		done += (size_t)n;
	}
	return 0;
}

static const char *io_error(int ret)
{
	return ret == -EPIPE ? "the backend closed the connection" :
	       ret == -ETIMEDOUT ? "the backend did not answer in time" :
	       ret == -EPROTO ? "the backend sent descriptors in a reply" : strerror(-ret);
}

/* Reads and checks the reply header of @req, then exactly @len payload bytes. */
static int recv_reply(struct vhost_user *vu, uint32_t req, void *payload, uint32_t len,
		      int64_t deadline)
{
	struct vu_hdr h;
	int ret = recv_exact(vu, &h, sizeof(h), deadline);

	if (ret)
		return fail(vu, ret, "%s: %s", req_name(req), io_error(ret));
	if (h.request != req)
		return fail(vu, -EPROTO, "%s: reply is for request %u", req_name(req), h.request);
	if ((h.flags & 0x3) != VHOST_USER_VERSION || !(h.flags & VHOST_USER_FLAG_REPLY) ||
	    (h.flags & ~(0x3u | VHOST_USER_FLAG_REPLY)))
		return fail(vu, -EPROTO, "%s: bad reply flags 0x%x", req_name(req), h.flags);
	if (!h.size && len)   /* how libvhost-user answers a GET_CONFIG it cannot serve */
		return fail(vu, -EPROTO, "%s: the backend refused it (empty reply)", req_name(req));
	if (h.size != len)
		return fail(vu, -EPROTO, "%s: reply of %u bytes, expected %u", req_name(req),
			    h.size, len);
	ret = recv_exact(vu, payload, len, deadline);
	return ret ? fail(vu, ret, "%s: %s", req_name(req), io_error(ret)) : 0;
}

int vhost_user_request(struct vhost_user *vu, uint32_t req, const void *payload, uint32_t len,
		       const int *fds, unsigned nr_fds, void *reply, uint32_t reply_len)
{
	uint8_t buf[VHOST_USER_HDR_SIZE + 12 + VHOST_USER_CONFIG_MAX];
	bool ack = !reply && (vu->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	struct vu_hdr h = { req, VHOST_USER_VERSION | (ack ? VHOST_USER_FLAG_NEED_REPLY : 0), len };
	int64_t deadline = now_ms() + vu->timeout_ms;
	uint64_t status;
	int ret;

	if (vhost_user_broken(vu))
		return -EPIPE;
	if (len > sizeof(buf) - sizeof(h) || nr_fds > VHOST_USER_MAX_REGIONS ||
	    reply_len > VHOST_USER_MAX_PAYLOAD)
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	ret = send_msg(vu, buf, sizeof(h) + len, fds, nr_fds, deadline);
	if (ret)
		return fail(vu, ret, "%s: %s", req_name(req), io_error(ret));
	if (reply)
		return recv_reply(vu, req, reply, reply_len, deadline);
	if (!ack)
		return 0;
	ret = recv_reply(vu, req, &status, sizeof(status), deadline);
	if (!ret && status)
		return fail(vu, -EIO, "%s: the backend answered failure %#llx", req_name(req),
			    (unsigned long long)status);
	return ret;
}

static int get_u64(struct vhost_user *vu, uint32_t req, uint64_t *out)
{
	return vhost_user_request(vu, req, NULL, 0, NULL, 0, out, sizeof(*out));
}

static int set_u64(struct vhost_user *vu, uint32_t req, uint64_t val)
{
	return vhost_user_request(vu, req, &val, sizeof(val), NULL, 0, NULL, 0);
}

int vhost_user_setup(struct vhost_user *vu, uint64_t required, unsigned nr_queues, char *err,
		     size_t errlen)
{
	const uint64_t ours = (1ull << VHOST_USER_PROTOCOL_F_MQ) |
			      (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			      ((uint64_t)vu->want_config << VHOST_USER_PROTOCOL_F_CONFIG);
	uint64_t proto = 0, n = 0;
	int ret = get_u64(vu, VHOST_USER_GET_FEATURES, &vu->features);

	if (!ret && (vu->features & required) != required)
		return set_err(err, errlen, -ENOTSUP, "the backend lacks features %#llx",
			       (unsigned long long)(required & ~vu->features));
	if (!ret && (vu->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
		ret = get_u64(vu, VHOST_USER_GET_PROTOCOL_FEATURES, &proto);
		ret = ret ?: set_u64(vu, VHOST_USER_SET_PROTOCOL_FEATURES, proto & ours);
		if (!ret)
			vu->protocol_features = proto & ours;   /* REPLY_ACK applies from here */
	}
	if (!ret && (vu->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_MQ))) {
		ret = get_u64(vu, VHOST_USER_GET_QUEUE_NUM, &n);
		if (!ret && n < nr_queues)
			return set_err(err, errlen, -ENOTSUP, "the backend serves %llu queues, "
				       "the device needs %u", (unsigned long long)n, nr_queues);
		vu->max_queues = n > 0xffff ? 0xffff : (unsigned)n;
	}
	if (!ret && vu->want_config &&
	    !(vu->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_CONFIG)))
		return set_err(err, errlen, -ENOTSUP, "the backend does not offer its config space "
			       "(protocol feature CONFIG)");
	ret = ret ?: vhost_user_request(vu, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	if (ret)
		return set_err(err, errlen, ret, "%s", vu->error[0] ? vu->error : strerror(-ret));
	return 0;
}

/* vhost-user.rst "Device configuration space": {offset, size, flags, payload[size]}. */
int vhost_user_get_config(struct vhost_user *vu, unsigned off, void *buf, unsigned len)
{
	struct { uint32_t off, size, flags; uint8_t data[VHOST_USER_CONFIG_MAX]; } req = { .off = off, .size = len },
		rep;
	int ret;

	if (len > VHOST_USER_CONFIG_MAX || off > VHOST_USER_CONFIG_MAX - len)
		return -EINVAL;
	ret = vhost_user_request(vu, VHOST_USER_GET_CONFIG, &req, 12 + len, NULL, 0, &rep,
				 12 + len);
	if (!ret && (rep.off != off || rep.size != len))
		return fail(vu, -EPROTO, "GET_CONFIG: reply for offset %u size %u, asked %u %u",
			    rep.off, rep.size, off, len);
	if (!ret)
		memcpy(buf, rep.data, len);
	return ret;
}

int vhost_user_set_features(struct vhost_user *vu, uint64_t features)
{
	features |= vu->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	return set_u64(vu, VHOST_USER_SET_FEATURES, features);
}

int vhost_user_set_mem_table(struct vhost_user *vu, const struct guest_mem *mem)
{
	struct vu_mem_table t = { .nregions = mem->nr_regions };
	int fds[VHOST_USER_MAX_REGIONS];

	if (mem->memfd < 0 || !mem->nr_regions || mem->nr_regions > VHOST_USER_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		t.regions[i] = (struct vu_region){ r->gpa, r->size, (uintptr_t)r->host, r->offset };
		fds[i] = mem->memfd;
	}
	return vhost_user_request(vu, VHOST_USER_SET_MEM_TABLE, &t,
				  (uint32_t)(8 + mem->nr_regions * sizeof(struct vu_region)), fds,
				  mem->nr_regions, NULL, 0);
}

static int set_state(struct vhost_user *vu, uint32_t req, unsigned index, unsigned num)
{
	struct vu_state s = { index, num };

	return vhost_user_request(vu, req, &s, sizeof(s), NULL, 0, NULL, 0);
}

/* KICK / CALL: the ring index in bits 0-7 and the descriptor alongside (or NOFD). */
static int set_vring_fd(struct vhost_user *vu, uint32_t req, unsigned index, int fd)
{
	uint64_t v = index | (fd < 0 ? VHOST_USER_VRING_NOFD : 0);

	return vhost_user_request(vu, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1, NULL, 0);
}

int vhost_user_start_vring(struct vhost_user *vu, const struct vhost_user_vring *r)
{
	struct vu_addr a = { .index = r->index, .desc = (uintptr_t)r->desc,
			     .used = (uintptr_t)r->used, .avail = (uintptr_t)r->avail };
	int ret;

	ret = set_state(vu, VHOST_USER_SET_VRING_NUM, r->index, r->size);
	ret = ret ?: set_state(vu, VHOST_USER_SET_VRING_BASE, r->index, r->base);
	ret = ret ?: vhost_user_request(vu, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
					NULL, 0);
	ret = ret ?: set_vring_fd(vu, VHOST_USER_SET_VRING_KICK, r->index, r->kick_fd);
	ret = ret ?: set_vring_fd(vu, VHOST_USER_SET_VRING_CALL, r->index, r->call_fd);
	/* With PROTOCOL_FEATURES a ring starts disabled ("Ring states"). */
	if (!ret && (vu->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		ret = set_state(vu, VHOST_USER_SET_VRING_ENABLE, r->index, 1);
	return ret;
}

int vhost_user_stop_vring(struct vhost_user *vu, unsigned index, uint16_t *base)
{
	struct vu_state s = { index, 0 }, out;
	int ret = 0;

	if (vu->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
		ret = set_state(vu, VHOST_USER_SET_VRING_ENABLE, index, 0);
	ret = ret ?: vhost_user_request(vu, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0,
					&out, sizeof(out));
	if (!ret && out.index != index)
		return fail(vu, -EPROTO, "GET_VRING_BASE %u: reply names ring %u", index, out.index);
	if (!ret && out.num > 0xffff)
		return fail(vu, -EPROTO, "GET_VRING_BASE %u: index %u is not a u16", index,
			    out.num);
	if (!ret)
		*base = (uint16_t)out.num;
	return ret;
}

bool vhost_user_check_idle(struct vhost_user *vu)
{
	struct pollfd p = { .fd = vu->fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (vhost_user_broken(vu))
		return true;
	if (poll(&p, 1, 0) <= 0 || !p.revents)
		return false;
	n = recv(vu->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n > 0)
		fail(vu, -EPROTO, "the backend sent an unsolicited message");
	else
		fail(vu, -EPIPE, "the backend closed the connection");
	return true;
}
