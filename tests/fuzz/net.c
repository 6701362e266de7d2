// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net's queues (virtio/net_tx.c, net_rx.c, 5.1.6) on chains popped from RAM the input
 * fills: a fresh two-pair device per input over a SOCK_SEQPACKET pair standing in for the
 * tap, its features from the input's first eight bytes. The transmit queue, the control queue
 * and the first receive queue all use the one ring (a hostile driver may share rings too);
 * the receive side gets one frame cut from the input. Run on this thread, no worker.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_ring.h"
#include "virtio/net_internal.h"

static struct fuzz_ring ring;
static int sp[2][2];                  /* per pair: [0] the device's end, [1] the host's */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fr_init(&ring);
	for (int i = 0; i < 2; i++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp[i]))
			abort();
	return 0;
}

static struct virtio_net *make(void)
{
	int fds[2] = { sp[0][0], sp[1][0] };
	struct virtio_net_params p = { .fds = fds, .nr_pairs = 2, .queue_size = FR_MAX_SIZE,
				       .mac_set = true, .mtu = 1500, .offload_csum = true,
				       .offload_tso = true, .offload_ufo = true };
	struct virtio_net *net;
	char err[128];

	if (virtio_net_new(&p, &ring.mem, &net, err, sizeof(err)))
		abort();
	return net;
}

/* Every queue the input drives uses ring.vq's ring. */
static void share_ring(struct virtio_dev *vd, unsigned q)
{
	struct virtq *vq = &vd->vqs[q];

	virtq_init(vq, &ring.mem);
	if (virtq_enable(vq, ring.vq.size, FR_DESC, FR_AVAIL, FR_USED))
		abort();
	virtq_set_features(vq, vd->features);
}

static void drain(void)
{
	uint8_t buf[2048];

	for (int i = 0; i < 2; i++)
		for (int e = 0; e < 2; e++)
			while (recv(sp[i][e], buf, sizeof(buf), MSG_DONTWAIT) >= 0)
				;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	uint64_t features = fz_take(&in, 8);
	size_t frame = (size_t)fz_take(&in, 2) % 2048;
	struct virtio_net *net;
	struct virtio_dev *vd;

	if (!fr_load(&ring, in.p, in.n))
		return 0;
	net = make();
	vd = virtio_net_dev(net);
	vd->features = (features & vd->device_features) | ring.features;
	share_ring(vd, NET_TXQ(0));
	share_ring(vd, 2 * net->nr_pairs);
	share_ring(vd, NET_RXQ(0));
	net_tx_process(&net->pairs[0]);
	net_ctrl_process(net);
	if (send(sp[0][1], in.p, frame < in.n ? frame : in.n, MSG_DONTWAIT) >= 0)
		net_rx_process(&net->pairs[0]);
	net_rx_process(&net->pairs[1]);
	virtio_net_free(net);
	drain();
	return 0;
}
