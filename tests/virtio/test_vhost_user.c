// SPDX-License-Identifier: Apache-2.0
/*
 * The vhost-user frontend against a fake backend on the other end of a socketpair (or a Unix
 * socket for the device): the handshake, what SET_MEM_TABLE and the vring messages carry,
 * and every kind of malformed reply refused with a clear error, never a hang. Then a
 * virtio-fs device end to end on a fake transport: the backend's call fd is the transport's
 * irqfd, the relay path without one, and a backend that hangs up breaking the device.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "base/memory.h"
#include "virtio/fs.h"
#include "virtio/vhost_user.h"
#include "virtio/vhost_user_blk.h"
#include "virtio/vhost_user_dev.h"

#define FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
		  (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
#define PROTO ((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	       (1ull << 9))

enum bad { GOOD, WRONG_REQ, NO_REPLY_FLAG, BAD_VERSION, OVERSIZED, SHORT, WITH_FD, SILENT,
	   HANGUP, NACK, WRONG_INDEX, BIG_INDEX, EMPTY };

struct hdr {
	uint32_t request, flags, size;
} __attribute__((packed));

/* The fake backend: answers as a well-behaved one, except @bad on request @bad_req. */
struct backend {
	int fd, listen_fd;
	pthread_t thread;
	enum bad bad;
	uint32_t bad_req;
	uint64_t queues;
	/* recorded */
	uint32_t reqs[128], flags[128];
	unsigned n;
	uint64_t proto_set;
	uint32_t mem_nregions;
	uint64_t mem_region0[4];
	int kick_fd[4], call_fd[4], mem_fd;
	pthread_mutex_t lock;
};

static void send_raw(int fd, const struct hdr *h, const void *p, size_t len, int pass_fd)
{
	char buf[128 + sizeof(struct hdr)];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(*h) + len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memcpy(buf, h, sizeof(*h));
	memcpy(buf + sizeof(*h), p, len);
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return;   /* the frontend may have gone */
}

/* Reads one request with its descriptors: false at EOF. */
static bool read_req(struct backend *b, struct hdr *h, uint8_t *p, int *fds, unsigned *nfds)
{
	char ctl[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { h, sizeof(*h) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;

	*nfds = 0;
	if (recvmsg(b->fd, &mh, MSG_WAITALL) != sizeof(*h))
		return false;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS) {
		*nfds = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(c), *nfds * sizeof(int));
	}
	return h->size <= 512 && (!h->size || recv(b->fd, p, h->size, MSG_WAITALL) == h->size);
}

static void record(struct backend *b, const struct hdr *h, const uint8_t *p, int *fds,
		   unsigned nfds)
{
	uint64_t v = 0;

	memcpy(&v, p, h->size >= 8 ? 8 : 0);
	pthread_mutex_lock(&b->lock);
	if (b->n < 128) {
		b->reqs[b->n] = h->request;
		b->flags[b->n++] = h->flags;
	}
	if (h->request == VHOST_USER_SET_PROTOCOL_FEATURES)
		b->proto_set = v;
	if (h->request == VHOST_USER_SET_MEM_TABLE && nfds) {
		memcpy(&b->mem_nregions, p, 4);
		memcpy(b->mem_region0, p + 8, sizeof(b->mem_region0));
		b->mem_fd = fds[0];
		for (unsigned i = 1; i < nfds; i++)
			close(fds[i]);
	} else if ((h->request == VHOST_USER_SET_VRING_KICK ||
		    h->request == VHOST_USER_SET_VRING_CALL) && nfds == 1 && (v & 0xff) < 4) {
		int *slot = h->request == VHOST_USER_SET_VRING_KICK ? b->kick_fd : b->call_fd;

		if (slot[v & 0xff] >= 0)
			close(slot[v & 0xff]);
		slot[v & 0xff] = fds[0];
	} else {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
	}
	pthread_mutex_unlock(&b->lock);
}

/* What a good backend answers, in @r (size in @h). false: no reply. */
static bool good_reply(struct backend *b, const struct hdr *req, const uint8_t *p,
		       struct hdr *h, uint8_t *r)
{
	uint64_t v = 0;

	*h = (struct hdr){ req->request, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY, 8 };
	switch (req->request) {
	case VHOST_USER_GET_FEATURES: v = FEATURES; break;
	case VHOST_USER_GET_PROTOCOL_FEATURES: v = PROTO; break;
	case VHOST_USER_GET_QUEUE_NUM: v = b->queues; break;
	case VHOST_USER_GET_CONFIG:         /* {offset, size, flags} then 0x11 bytes */
		if (req->size < 12 || req->size > 128)
			return false;
		memcpy(r, p, 12);
		memset(r + 12, 0x11, req->size - 12);
		h->size = req->size;
		return true;
	case VHOST_USER_GET_VRING_BASE:
		memcpy(r, p, 4);             /* the ring's index */
		v = 7;
		memcpy(r + 4, &v, 4);
		return true;
	default:
		if (!(req->flags & VHOST_USER_FLAG_NEED_REPLY))
			return false;
	}
	memcpy(r, &v, 8);
	return true;
}

static void *backend_main(void *opaque)
{
	struct backend *b = opaque;
	struct hdr req, h;
	uint8_t p[512], r[128];
	int fds[8];
	unsigned nfds;

	if (b->listen_fd >= 0 && (b->fd = accept(b->listen_fd, NULL, NULL)) < 0)
		return NULL;
	while (read_req(b, &req, p, fds, &nfds)) {
		bool reply = good_reply(b, &req, p, &h, r);
		int pass = -1;

		record(b, &req, p, fds, nfds);
		if (req.request == b->bad_req) {
			switch (b->bad) {
			case WRONG_REQ: h.request++; break;
			case NO_REPLY_FLAG: h.flags = VHOST_USER_VERSION; break;
			case BAD_VERSION: h.flags = 2 | VHOST_USER_FLAG_REPLY; break;
			case OVERSIZED: h.size = 0x100000; break;
			case SHORT: h.size = 4; break;
			case WITH_FD: pass = eventfd(0, 0); break;
			case SILENT: reply = false; break;
			case HANGUP: shutdown(b->fd, SHUT_RDWR); return NULL;
			case NACK: r[0] = 1; break;
			case WRONG_INDEX: r[0]++; break;
			case BIG_INDEX: r[6] = 1; break;
			case EMPTY: h.size = 0; break;
			default: break;
			}
		}
		if (reply)
			send_raw(b->fd, &h, r, h.size > sizeof(r) ? 8 : h.size, pass);
		if (pass >= 0)
			close(pass);
	}
	return NULL;
}

static void backend_start(struct backend *b, int fd, int listen_fd)
{
	b->fd = fd;
	b->listen_fd = listen_fd;
	b->mem_fd = -1;
	for (unsigned i = 0; i < 4; i++)
		b->kick_fd[i] = b->call_fd[i] = -1;
	pthread_mutex_init(&b->lock, NULL);
	assert_int_equal(pthread_create(&b->thread, NULL, backend_main, b), 0);
}

static void backend_join(struct backend *b)
{
	pthread_join(b->thread, NULL);
	close(b->fd);
	if (b->listen_fd >= 0)
		close(b->listen_fd);
	if (b->mem_fd >= 0)
		close(b->mem_fd);
	for (unsigned i = 0; i < 4; i++) {
		if (b->kick_fd[i] >= 0)
			close(b->kick_fd[i]);
		if (b->call_fd[i] >= 0)
			close(b->call_fd[i]);
	}
	pthread_mutex_destroy(&b->lock);
}

/* A frontend on a socketpair with a backend misbehaving as told. */
static void pair(struct vhost_user *vu, struct backend *b, enum bad bad, uint32_t bad_req)
{
	int sv[2];

	memset(b, 0, sizeof(*b));
	b->bad = bad;
	b->bad_req = bad_req;
	b->queues = 2;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vhost_user_init(vu, sv[0]);
	vu->timeout_ms = 300;
	backend_start(b, sv[1], -1);
}

static void unpair(struct vhost_user *vu, struct backend *b)
{
	vhost_user_close(vu);
	backend_join(b);
}

static void test_handshake(void **state)
{
	struct vhost_user vu;
	struct backend b;
	char err[256];

	(void)state;
	pair(&vu, &b, GOOD, 0);
	assert_int_equal(vhost_user_setup(&vu, FEATURES, 2, err, sizeof(err)), 0);
	assert_true(vu.features == FEATURES);
	/* Only what vireo speaks (MQ, REPLY_ACK), not everything offered (CONFIG). */
	assert_true(b.proto_set == ((1ull << VHOST_USER_PROTOCOL_F_MQ) |
				    (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)));
	assert_int_equal(vu.max_queues, 2);
	assert_int_equal(b.reqs[b.n - 1], VHOST_USER_SET_OWNER);
	assert_true(b.flags[b.n - 1] & VHOST_USER_FLAG_NEED_REPLY);   /* REPLY_ACK in use */
	assert_false(vhost_user_broken(&vu));
	unpair(&vu, &b);
}

static void test_too_few_queues(void **state)
{
	struct vhost_user vu;
	struct backend b;
	char err[256];

	(void)state;
	pair(&vu, &b, GOOD, 0);
	assert_int_equal(vhost_user_setup(&vu, FEATURES, 3, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "serves 2 queues"));
	unpair(&vu, &b);
	pair(&vu, &b, GOOD, 0);
	assert_int_equal(vhost_user_setup(&vu, FEATURES | (1ull << 40), 1, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "lacks features"));
	unpair(&vu, &b);
}

static const struct {
	enum bad bad;
	uint32_t req;
	int ret;
	const char *msg;
} bad_replies[] = {
	{ WRONG_REQ, VHOST_USER_GET_FEATURES, -EPROTO, "reply is for request 2" },
	{ NO_REPLY_FLAG, VHOST_USER_GET_FEATURES, -EPROTO, "bad reply flags" },
	{ BAD_VERSION, VHOST_USER_GET_FEATURES, -EPROTO, "bad reply flags" },
	{ OVERSIZED, VHOST_USER_GET_FEATURES, -EPROTO, "reply of 1048576 bytes, expected 8" },
	{ SHORT, VHOST_USER_GET_FEATURES, -EPROTO, "reply of 4 bytes, expected 8" },
	{ WITH_FD, VHOST_USER_GET_FEATURES, -EPROTO, "descriptors" },
	{ SILENT, VHOST_USER_GET_FEATURES, -ETIMEDOUT, "did not answer in time" },
	{ HANGUP, VHOST_USER_GET_FEATURES, -EPIPE, "closed the connection" },
	{ NACK, VHOST_USER_SET_OWNER, -EIO, "answered failure" },
	{ SILENT, VHOST_USER_SET_OWNER, -ETIMEDOUT, "did not answer in time" },
	{ WRONG_REQ, VHOST_USER_GET_QUEUE_NUM, -EPROTO, "reply is for request 18" },
	{ EMPTY, VHOST_USER_GET_FEATURES, -EPROTO, "refused it (empty reply)" },
};

/* Each malformed reply: refused with its reason, the connection broken, no second try. */
static void test_bad_replies(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++) {
		struct vhost_user vu;
		struct backend b;
		char err[256] = "";
		uint64_t v;

		pair(&vu, &b, bad_replies[i].bad, bad_replies[i].req);
		assert_int_equal(vhost_user_setup(&vu, FEATURES, 1, err, sizeof(err)),
				 bad_replies[i].ret);
		if (!strstr(err, bad_replies[i].msg))
			fail_msg("case %u: '%s' lacks '%s'", i, err, bad_replies[i].msg);
		assert_true(vhost_user_broken(&vu));
		assert_int_equal(vhost_user_request(&vu, VHOST_USER_GET_FEATURES, NULL, 0, NULL, 0,
						    &v, 8), -EPIPE);
		unpair(&vu, &b);
	}
}

static void test_vring_base_replies(void **state)
{
	static const enum bad cases[] = { GOOD, WRONG_INDEX, BIG_INDEX };
	char err[256];

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		struct vhost_user vu;
		struct backend b;
		uint16_t base = 0;

		pair(&vu, &b, cases[i], VHOST_USER_GET_VRING_BASE);
		assert_int_equal(vhost_user_setup(&vu, FEATURES, 2, err, sizeof(err)), 0);
		if (cases[i] == GOOD) {
			assert_int_equal(vhost_user_stop_vring(&vu, 1, &base), 0);
			assert_int_equal(base, 7);
			/* ENABLE 0 first: protocol features make rings enable-controlled. */
			assert_int_equal(b.reqs[b.n - 2], VHOST_USER_SET_VRING_ENABLE);
		} else {
			assert_int_equal(vhost_user_stop_vring(&vu, 1, &base), -EPROTO);
			assert_non_null(strstr(vu.error, cases[i] == WRONG_INDEX ? "names ring 2"
								     : "not a u16"));
		}
		unpair(&vu, &b);
	}
}

/* The backend hangs up or speaks out of turn while idle: seen without waiting. */
static void test_idle_checks(void **state)
{
	struct vhost_user vu;
	struct backend b;
	char err[256];

	(void)state;
	pair(&vu, &b, GOOD, 0);
	assert_int_equal(vhost_user_setup(&vu, FEATURES, 1, err, sizeof(err)), 0);
	assert_false(vhost_user_check_idle(&vu));
	assert_int_equal(write(b.fd, "x", 1), 1);
	assert_true(vhost_user_check_idle(&vu));
	assert_non_null(strstr(vu.error, "unsolicited"));
	unpair(&vu, &b);

	pair(&vu, &b, GOOD, 0);
	shutdown(b.fd, SHUT_RDWR);
	assert_true(vhost_user_check_idle(&vu));
	assert_non_null(strstr(vu.error, "closed the connection"));
	unpair(&vu, &b);
}

/* ------------------------------------------------------------------ the device */

#define RAM (1u << 20)

struct xport {
	int irqfd;                        /* stands in for the MSI-X vector's irqfd; -1: none */
	int kick[2];
	unsigned notified, needs_reset;   /* atomic */
};

static int x_notify(void *ctx, unsigned q)
{
	(void)q;
	__atomic_add_fetch(&((struct xport *)ctx)->notified, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void x_config_changed(void *ctx)
{
	(void)ctx;
}

static void x_needs_reset(void *ctx)
{
	__atomic_add_fetch(&((struct xport *)ctx)->needs_reset, 1, __ATOMIC_SEQ_CST);
}

static int x_kick_fd(void *ctx, unsigned q)
{
	return ((struct xport *)ctx)->kick[q];
}

static void x_kick(void *ctx, unsigned q)
{
	(void)ctx;
	(void)q;
}

static int x_call_fd(void *ctx, unsigned q)
{
	(void)q;
	return ((struct xport *)ctx)->irqfd;
}

static const struct virtio_transport_ops xops = {
	x_notify, x_config_changed, x_needs_reset, x_kick_fd, x_kick, x_call_fd,
};

static int listen_on(char *path, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(path, len, "/tmp/vireo-vu-test.%d", getpid());
	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static bool wait_until(unsigned *counter)
{
	for (int i = 0; i < 500 && !__atomic_load_n(counter, __ATOMIC_SEQ_CST); i++)
		poll(NULL, 0, 10);   /* bounded wait for another thread, not a timing check */
	return __atomic_load_n(counter, __ATOMIC_SEQ_CST) != 0;
}

static void fs_device(bool irqfd)
{
	struct guest_region layout = { 0, RAM, 0, NULL };
	struct guest_mem mem;
	struct xport x = { .irqfd = -1 };
	struct backend b = { .queues = 2 };
	struct virtio_dev *vd;
	char path[64], err[256];
	uint8_t cfg[40];
	uint64_t one = 1, n;

	assert_int_equal(guest_mem_create_shared(&mem, &layout, 1), 0);
	backend_start(&b, -1, listen_on(path, sizeof(path)));
	assert_int_equal(virtio_fs_new(&(struct virtio_fs_params){ "fs0", "myfs", path, 1, 128 },
				       &mem, &vd, err, sizeof(err)), 0);
	unlink(path);
	vd->ops->config_read(vd, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, "myfs\0\0", 6);
	assert_int_equal(cfg[36], 1);                          /* num_request_queues */
	for (unsigned q = 0; q < 2; q++) {
		x.kick[q] = eventfd(0, EFD_NONBLOCK);
		assert_int_equal(virtq_enable(&vd->vqs[q], 128, 0x1000 + q * 0x4000,
					      0x3000 + q * 0x4000, 0x3400 + q * 0x4000), 0);
	}
	if (irqfd)
		x.irqfd = eventfd(0, EFD_NONBLOCK);
	vd->transport = &xops;
	vd->transport_ctx = &x;
	vd->features = (1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(vd->ops->activate(vd), 0);
	/* RAM as one memfd region at its host address. */
	assert_int_equal(b.mem_nregions, 1);
	assert_true(b.mem_region0[1] == RAM && b.mem_region0[2] == (uintptr_t)mem.base);
	assert_true(b.mem_fd >= 0 && b.kick_fd[1] >= 0 && b.call_fd[1] >= 0);
	/* The backend's kick fd is the transport's: a kick reaches the backend directly. */
	assert_int_equal(write(x.kick[1], &one, 8), 8);
	assert_int_equal(read(b.kick_fd[1], &n, 8), 8);
	/* Its call fd is the irqfd, or a relay that ends in transport->notify. */
	assert_int_equal(write(b.call_fd[1], &one, 8), 8);
	if (irqfd) {
		assert_int_equal(read(x.irqfd, &n, 8), 8);
		assert_int_equal(x.notified, 0);
	} else {
		assert_true(wait_until(&x.notified));
	}
	/* The backend dies: the watcher breaks the device once, vireo carries on. */
	shutdown(b.fd, SHUT_RDWR);
	assert_true(wait_until(&x.needs_reset));
	assert_true(vhost_user_dev_broken(vd->opaque));
	{
		cJSON *node = cJSON_CreateObject();
		char *s;

		assert_true(vd->ops->info(vd, node));
		s = cJSON_PrintUnformatted(node);
		assert_non_null(strstr(s, "{\"vhost_user\":{\"socket\":\"/tmp/vireo-vu-test."));
		free(s);
		cJSON_Delete(node);
	}
	virtio_dev_destroy(vd);
	backend_join(&b);
	for (unsigned q = 0; q < 2; q++)
		close(x.kick[q]);
	if (x.irqfd >= 0)
		close(x.irqfd);
	guest_mem_destroy(&mem);
}

static void test_fs_device_irqfd(void **state)
{
	(void)state;
	fs_device(true);
}

static void test_fs_device_relay(void **state)
{
	(void)state;
	fs_device(false);
}

/* vhost-user-blk: CONFIG negotiated, the config space is the backend's. */
static void test_blk_config(void **state)
{
	struct guest_region layout = { 0, RAM, 0, NULL };
	struct guest_mem mem;
	struct backend b = { .queues = 1 };
	struct virtio_dev *vd;
	char path[64], err[256];
	uint8_t cfg[8];

	(void)state;
	assert_int_equal(guest_mem_create_shared(&mem, &layout, 1), 0);
	backend_start(&b, -1, listen_on(path, sizeof(path)));
	assert_int_equal(vhost_user_blk_new(&(struct vhost_user_blk_params){ "vdx", path, 1, 128 },
					    &mem, &vd, err, sizeof(err)), 0);
	unlink(path);
	assert_true(b.proto_set & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	vd->ops->config_read(vd, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, "\x11\x11\x11\x11\x11\x11\x11\x11", 8);   /* capacity */
	assert_int_equal(vd->type, VIRTIO_ID_BLOCK);
	virtio_dev_destroy(vd);
	backend_join(&b);
	guest_mem_destroy(&mem);
}

static void test_fs_needs_shared_memory(void **state)
{
	struct guest_region layout = { 0, RAM, 0, NULL };
	struct guest_mem mem;
	struct virtio_dev *vd;
	char err[256];

	(void)state;
	assert_int_equal(guest_mem_create(&mem, &layout, 1), 0);
	assert_int_equal(virtio_fs_new(&(struct virtio_fs_params){ "fs0", "t", "/nonexistent",
								   1, 128 }, &mem, &vd, err,
				       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "memory.shared=on"));
	guest_mem_destroy(&mem);
	assert_int_equal(guest_mem_create_shared(&mem, &layout, 1), 0);
	assert_int_equal(virtio_fs_new(&(struct virtio_fs_params){ "fs0", "t", "/nonexistent",
								   1, 128 }, &mem, &vd, err,
				       sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot connect"));
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_too_few_queues),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_vring_base_replies),
		cmocka_unit_test(test_idle_checks),
		cmocka_unit_test(test_fs_device_irqfd),
		cmocka_unit_test(test_fs_device_relay),
		cmocka_unit_test(test_fs_needs_shared_memory),
		cmocka_unit_test(test_blk_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
