// SPDX-License-Identifier: Apache-2.0
/*
 * 8250/16550A UART as Linux's 8250 driver probes and drives it (register map and interrupt
 * priorities from the PC16550D datasheet). Transmission is instant, so THR is always empty;
 * the interrupt output is edge-triggered (ISA), so the irqfd is pulsed on each 0->1 edge.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "base/log.h"

#define UART_RX  0   /* RBR/THR, DLL when DLAB */
#define UART_IER 1   /* DLM when DLAB */
#define UART_IIR 2   /* read: IIR, write: FCR */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI  0x01
#define IER_THRI 0x02
#define IER_MSI  0x08
#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_MSI    0x00
#define IIR_FIFO   0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB   0x80
#define MCR_LOOP   0x10
#define LSR_DR     0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_DCD    0x80

#define RX_FIFO_SIZE 1024

struct serial {
	pthread_mutex_t lock;
	int out_fd, irq_fd;
	uint8_t ier, lcr, mcr, msr, scr, fcr, dll, dlm;
	bool thri_pending;           /* THR-empty interrupt not yet acknowledged */
	bool irq_level;              /* last state of the interrupt output */
	uint8_t rx[RX_FIFO_SIZE];
	unsigned rx_head, rx_count;
	uint64_t tx_bytes, tx_dropped, rx_dropped;
	bool out_failed;
};

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return fifo | IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & 0x0f))
		return fifo | IIR_MSI;
	return fifo | IIR_NO_INT;
}

/* Pulses the interrupt on a rising edge of the UART's INTR output. */
static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & IIR_NO_INT);
	uint64_t one = 1;

	if (level && !s->irq_level && s->irq_fd >= 0 &&
	    write(s->irq_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn_ratelimited("serial: cannot signal IRQ: %s", strerror(errno));
	s->irq_level = level;
}

static void serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count == RX_FIFO_SIZE) {
		s->rx_dropped++;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % RX_FIFO_SIZE] = byte;
	s->rx_count++;
}

static void serial_output(struct serial *s, uint8_t byte)
{
	ssize_t n;

	s->tx_bytes++;
	if (s->mcr & MCR_LOOP) {
		serial_rx_push(s, byte);
		return;
	}
	if (s->out_fd < 0 || s->out_failed)
		return;
	do
		n = write(s->out_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		s->tx_dropped++;   /* a full non-blocking terminal: drop the byte, keep going */
		return;
	}
	if (n != 1) {
		s->out_failed = true;
		pr_warn("serial: output stopped: %s", n < 0 ? strerror(errno) : "short write");
	}
}

/* Modem status as the guest reads it: loopback wires MCR outputs back to the inputs. */
static uint8_t serial_msr(const struct serial *s)
{
	if (s->mcr & MCR_LOOP)
		return (uint8_t)(((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5) |
				 ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
	return MSR_DCD | MSR_DSR | MSR_CTS;
}

static uint8_t serial_read_reg(struct serial *s, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_count)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
		s->rx_count--;
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI)   /* reading IIR acknowledges THRE (16550D) */
			s->thri_pending = false;
		return v;
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	case UART_LSR: return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case UART_MSR: return serial_msr(s);
	default: return s->scr;
	}
}

static void serial_write_reg(struct serial *s, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RX:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		s->thri_pending = false;
		serial_update_irq(s);    /* THR full: INTR drops ... */
		serial_output(s, v);
		s->thri_pending = true;  /* ... and rises again once it is sent */
		return;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling THRE interrupts with THR empty raises one at once. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thri_pending = true;
		s->ier = v & 0x0f;
		return;
	case UART_IIR:
		s->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX)
			s->rx_count = 0;
		return;
	case UART_LCR: s->lcr = v; return;
	case UART_MCR: s->mcr = v & 0x1f; return;
	case UART_SCR: s->scr = v; return;
	default: return;   /* LSR and MSR are read-only */
	}
}

static void serial_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned len)
{
	struct serial *s = opaque;

	if (len != 1 || offset > UART_SCR)
		return;   /* stays all-ones */
	pthread_mutex_lock(&s->lock);
	data[0] = serial_read_reg(s, (unsigned)offset);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned len)
{
	struct serial *s = opaque;

	if (len != 1 || offset > UART_SCR)
		return;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, (unsigned)offset, data[0]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_device_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

struct serial *serial_create(int out_fd, int irq_fd)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq_fd = irq_fd;
	s->mcr = 0x08;           /* OUT2 */
	s->lcr = 0x03;           /* 8N1 */
	s->dll = 0x0c;           /* 9600 baud */
	s->thri_pending = false;
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t i, room;

	pthread_mutex_lock(&s->lock);
	room = RX_FIFO_SIZE - s->rx_count;
	for (i = 0; i < len; i++)
		serial_rx_push(s, buf[i]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return len < room ? len : room;
}

uint64_t serial_tx_bytes(const struct serial *s)
{
	return __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
}

void serial_get_state(struct serial *s, struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	*st = (struct serial_state){
		.ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .msr = s->msr, .scr = s->scr,
		.fcr = s->fcr, .dll = s->dll, .dlm = s->dlm, .thri_pending = s->thri_pending,
		.irq_level = s->irq_level, .rx_count = s->rx_count,
	};
	for (unsigned i = 0; i < s->rx_count; i++)
		st->rx[i] = s->rx[(s->rx_head + i) % RX_FIFO_SIZE];
	pthread_mutex_unlock(&s->lock);
}

int serial_set_state(struct serial *s, const struct serial_state *st)
{
	if (st->rx_count > RX_FIFO_SIZE || st->rx_count > sizeof(st->rx))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->msr = st->msr;
	s->scr = st->scr;
	s->fcr = st->fcr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->thri_pending = st->thri_pending;
	s->irq_level = st->irq_level;
	s->rx_head = 0;
	s->rx_count = st->rx_count;
	memcpy(s->rx, st->rx, st->rx_count);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
