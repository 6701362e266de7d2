/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vhost-user frontend (QEMU docs/interop/vhost-user.rst): vireo drives a backend process
 * over a Unix socket, hands it guest RAM (memfd regions) and the rings, and wires the
 * queue's kick eventfd (KVM ioeventfd) and call eventfd (the MSI-X vector's irqfd) so the
 * data path never passes through vireo.
 *
 * Every reply is untrusted: its request code, flags and exact size are checked, no reply
 * may carry descriptors, and every send or receive has a deadline (poll), so a silent
 * backend costs at most VHOST_USER_TIMEOUT_MS per message. Any protocol error leaves the
 * stream out of step: the connection is then broken for good (vu->broken, vu->error).
 * Design: docs/virtio-fs.md.
 */
#ifndef VIREO_VIRTIO_VHOST_USER_H
#define VIREO_VIRTIO_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

/* Front-end message types (vhost-user.rst "Front-end message types"). */
enum vhost_user_req {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_GET_CONFIG = 24,
};

#define VHOST_USER_VERSION          0x1
#define VHOST_USER_FLAG_REPLY       (1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY  (1u << 3)
#define VHOST_USER_HDR_SIZE         12
#define VHOST_USER_MAX_PAYLOAD      0x1000   /* far above any reply vireo asks for */
#define VHOST_USER_MAX_REGIONS      8
#define VHOST_USER_VRING_NOFD       (1ull << 8)
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VHOST_USER_PROTOCOL_F_MQ        0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG    9
#define VHOST_USER_CONFIG_MAX       256
#define VHOST_USER_TIMEOUT_MS       5000

struct vhost_user {
	int fd;                           /* the connected socket, -1 once closed */
	unsigned timeout_ms;
	uint64_t features;                /* what the backend offers (GET_FEATURES) */
	uint64_t protocol_features;       /* negotiated (ours & the backend's) */
	unsigned max_queues;              /* GET_QUEUE_NUM with MQ, else 0 */
	bool want_config;                 /* before setup: negotiate CONFIG (GET_CONFIG needed) */
	bool broken;                      /* atomic: out of step, closed or silent */
	char error[160];                  /* why it broke (first reason) */
};

/* One ring as the backend needs it (host addresses: the frontend's user space, 2.5). */
struct vhost_user_vring {
	unsigned index;
	uint16_t size, base;              /* queue size, next avail index */
	void *desc, *avail, *used;
	int kick_fd, call_fd;
};

/* Takes @fd (a connected stream socket; made non-blocking). Nothing is sent yet. */
void vhost_user_init(struct vhost_user *vu, int fd);
/* Connects to @path: 0 or -errno, @err naming the socket. */
int vhost_user_connect(struct vhost_user *vu, const char *path, char *err, size_t errlen);
void vhost_user_close(struct vhost_user *vu);
/*
 * The handshake (vhost-user.rst "Starting and stopping rings"): GET_FEATURES (it must offer
 * every bit of @required), protocol features (MQ and REPLY_ACK where offered), GET_QUEUE_NUM
 * (at least @nr_queues), SET_OWNER. -EPROTO/-ETIMEDOUT/-EPIPE/-ENOTSUP with @err.
 */
int vhost_user_setup(struct vhost_user *vu, uint64_t required, unsigned nr_queues, char *err,
		     size_t errlen);
/* GET_CONFIG: @len bytes of the device config space from @off (needs CONFIG negotiated). */
int vhost_user_get_config(struct vhost_user *vu, unsigned off, void *buf, unsigned len);
/* SET_FEATURES with the driver's @features (plus PROTOCOL_FEATURES when it was offered). */
int vhost_user_set_features(struct vhost_user *vu, uint64_t features);
/* SET_MEM_TABLE: every region of @mem, which must be memfd-backed (-EINVAL otherwise). */
int vhost_user_set_mem_table(struct vhost_user *vu, const struct guest_mem *mem);
/* NUM, BASE, ADDR, KICK, CALL, then ENABLE 1 (with protocol features): the ring runs. */
int vhost_user_start_vring(struct vhost_user *vu, const struct vhost_user_vring *r);
/* ENABLE 0 (with protocol features), then GET_VRING_BASE: the ring stopped; @base its index. */
int vhost_user_stop_vring(struct vhost_user *vu, unsigned index, uint16_t *base);
/*
 * One request: sends @req with @payload (and up to VHOST_USER_MAX_REGIONS @fds) and, when
 * @reply is non-NULL, waits for a reply of exactly @reply_len bytes. Without @reply and with
 * REPLY_ACK negotiated, asks for the ack and checks it is 0. Exposed for the tests.
 */
int vhost_user_request(struct vhost_user *vu, uint32_t req, const void *payload, uint32_t len,
		       const int *fds, unsigned nr_fds, void *reply, uint32_t reply_len);
/* Whether the socket shows the backend gone or talking out of turn (idle check, no wait). */
bool vhost_user_check_idle(struct vhost_user *vu);
bool vhost_user_broken(const struct vhost_user *vu);

#endif
