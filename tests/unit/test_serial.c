// SPDX-License-Identifier: Apache-2.0
/* vmm/serial.c: the 8250/16550A UART as Linux's 8250 driver probes and drives it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "platform/platform.h"
#include "base/log.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

/* Register offsets and bits (PC16550D datasheet, Linux include/uapi/linux/serial_reg.h). */
enum { RX = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define IER_RDI   0x01
#define IER_THRI  0x02
#define LCR_DLAB  0x80
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

static struct serial *uart;
static int out_rd = -1, out_wr = -1, irq = -1;

static int setup(void **state)
{
	int p[2];

	(void)state;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		return -1;
	out_rd = p[0];
	out_wr = p[1];
	irq = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uart = serial_create(out_wr, irq);
	return irq >= 0 && uart ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	serial_destroy(uart);
	close(irq);
	if (out_rd >= 0)
		close(out_rd);
	close(out_wr);
	out_rd = out_wr = irq = -1;
	return 0;
}

static void outb(uint64_t off, uint8_t v)
{
	serial_bus_ops.write(uart, off, &v, 1);
}

/* Reads like the bus does: the buffer is pre-filled with all-ones. */
static uint8_t inb(uint64_t off)
{
	uint8_t v = 0xff;

	serial_bus_ops.read(uart, off, &v, 1);
	return v;
}

/* Interrupt edges since the last call (the eventfd counter, reset by reading it). */
static uint64_t edges(void)
{
	uint64_t n = 0;

	if (read(irq, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* What the UART sent to its output since the last call. */
static size_t output(char *buf, size_t cap)
{
	ssize_t n = read(out_rd, buf, cap);

	return n < 0 ? 0 : (size_t)n;
}

TEST(test_reset_state)
{
	assert_int_equal(inb(LCR), 0x03);
	assert_int_equal(inb(MCR), 0x08);
	assert_int_equal(inb(IER), 0);
	assert_int_equal(inb(IIR), 0x01);
	assert_int_equal(inb(LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(edges(), 0);
}

TEST(test_scratch_register_holds_value)
{
	outb(SCR, 0xa5);
	assert_int_equal(inb(SCR), 0xa5);
	outb(SCR, 0x5a);
	assert_int_equal(inb(SCR), 0x5a);
}

TEST(test_ier_reads_back_low_nibble)
{
	outb(IER, 0x00);
	assert_int_equal(inb(IER), 0x00);
	outb(IER, 0x0f);
	assert_int_equal(inb(IER), 0x0f);
	outb(IER, 0xf5);
	assert_int_equal(inb(IER), 0x05);
}

TEST(test_divisor_latch)
{
	outb(IER, IER_RDI);
	outb(LCR, LCR_DLAB | 0x03);
	outb(RX, 0x01);                            /* DLL: 115200 baud */
	outb(IER, 0x00);                           /* DLM */
	assert_int_equal(inb(RX), 0x01);
	assert_int_equal(inb(IER), 0x00);
	outb(IER, 0x12);
	assert_int_equal(inb(IER), 0x12);
	outb(LCR, 0x03);
	assert_int_equal(inb(LCR), 0x03);
	assert_int_equal(inb(IER), IER_RDI);       /* the real IER was not overwritten */
	assert_int_equal(inb(RX), 0);              /* RBR, empty */
	assert_int_equal(serial_tx_bytes(uart), 0);
	outb(LCR, LCR_DLAB);
	assert_int_equal(inb(RX), 0x01);
	assert_int_equal(inb(IER), 0x12);
}

TEST(test_mcr_masked_and_msr_without_loopback)
{
	outb(MCR, 0xff);
	assert_int_equal(inb(MCR), 0x1f);
	outb(MCR, 0x0b);
	assert_int_equal(inb(MSR) & 0xf0, 0xb0);   /* DCD | DSR | CTS, no RI */
}

TEST(test_loopback_msr_mapping)
{
	unsigned mcr;

	for (mcr = 0; mcr < 16; mcr++) {
		uint8_t expect = (mcr & 0x01 ? 0x20 : 0) |   /* DTR  -> DSR */
				 (mcr & 0x02 ? 0x10 : 0) |   /* RTS  -> CTS */
				 (mcr & 0x04 ? 0x40 : 0) |   /* OUT1 -> RI  */
				 (mcr & 0x08 ? 0x80 : 0);    /* OUT2 -> DCD */

		outb(MCR, MCR_LOOP | mcr);
		if ((inb(MSR) & 0xf0) != expect)
			fail_msg("MCR %#x: MSR %#x, expected %#x", mcr, inb(MSR), expect);
	}
	outb(MCR, 0x1a);                           /* Linux autoconfig's loopback test */
	assert_int_equal(inb(MSR) & 0xf0, 0x90);
}

TEST(test_loopback_thr_to_rbr)
{
	char buf[8];

	outb(MCR, MCR_LOOP);
	outb(RX, 'Z');
	assert_int_equal(inb(LSR) & LSR_DR, LSR_DR);
	assert_int_equal(inb(RX), 'Z');
	assert_int_equal(inb(LSR) & LSR_DR, 0);
	assert_int_equal(output(buf, sizeof(buf)), 0);
	outb(MCR, 0x08);
	outb(RX, 'Y');
	assert_int_equal(inb(LSR) & LSR_DR, 0);
	assert_int_equal(output(buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'Y');
}

TEST(test_transmit_in_order)
{
	const char *msg = "Linux version 6.1\r\n";
	char buf[64];
	size_t i;

	for (i = 0; msg[i]; i++)
		outb(RX, (uint8_t)msg[i]);
	assert_int_equal(output(buf, sizeof(buf)), strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	assert_int_equal(serial_tx_bytes(uart), strlen(msg));
	assert_int_equal(inb(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	assert_int_equal(edges(), 0);              /* no interrupt without IER */
}

TEST(test_thri_enable_raises_one_interrupt)
{
	outb(IER, IER_THRI);
	assert_int_equal(edges(), 1);
	assert_int_equal(inb(IIR), 0x02);
	assert_int_equal(inb(IIR), 0x01);          /* reading IIR acknowledged it */
	outb(IER, IER_THRI);                       /* already enabled: nothing new */
	assert_int_equal(inb(IIR), 0x01);
	assert_int_equal(edges(), 0);
}

TEST(test_thri_with_fifo_enabled)
{
	outb(FCR, 0x07);
	outb(IER, IER_THRI);
	assert_int_equal(edges(), 1);
	assert_int_equal(inb(IIR), 0xc2);
	assert_int_equal(inb(IIR), 0xc1);
	outb(FCR, 0x00);
	assert_int_equal(inb(IIR), 0x01);
}

/* serial8250_do_startup: IER=THRI, IIR, IER=0, IER=THRI, IIR must show the interrupt again. */
TEST(test_thri_reenable_like_linux_startup)
{
	outb(IER, IER_THRI);
	assert_int_equal(inb(IIR) & 0x0f, 0x02);
	outb(IER, 0);
	outb(IER, IER_THRI);
	assert_int_equal(inb(IIR) & 0x0f, 0x02);
	outb(IER, 0);
	assert_int_equal(inb(IIR) & 0x0f, 0x01);
	assert_int_equal(edges(), 2);
}

TEST(test_each_thr_write_raises_an_edge)
{
	char buf[8];

	outb(IER, IER_THRI);
	assert_int_equal(inb(IIR), 0x02);
	assert_int_equal(edges(), 1);
	outb(RX, 'a');
	assert_int_equal(edges(), 1);
	assert_int_equal(inb(IIR), 0x02);
	outb(RX, 'b');
	outb(RX, 'c');                             /* even without acknowledging 'b' */
	assert_int_equal(edges(), 2);
	assert_int_equal(output(buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
}

TEST(test_receive_raises_rdi)
{
	outb(IER, IER_RDI);
	assert_int_equal(edges(), 0);
	assert_int_equal(serial_receive(uart, (const uint8_t *)"hi!", 3), 3);
	assert_int_equal(edges(), 1);
	assert_int_equal(inb(IIR), 0x04);
	assert_int_equal(inb(LSR) & LSR_DR, LSR_DR);
	assert_int_equal(inb(RX), 'h');
	assert_int_equal(inb(RX), 'i');
	assert_int_equal(inb(LSR) & LSR_DR, LSR_DR);
	assert_int_equal(inb(RX), '!');
	assert_int_equal(inb(LSR) & LSR_DR, 0);
	assert_int_equal(inb(IIR), 0x01);
	assert_int_equal(serial_receive(uart, (const uint8_t *)"x", 1), 1);
	assert_int_equal(edges(), 1);              /* a new edge after draining */
}

TEST(test_receive_without_rdi_is_silent)
{
	assert_int_equal(serial_receive(uart, (const uint8_t *)"q", 1), 1);
	assert_int_equal(edges(), 0);
	assert_int_equal(inb(IIR), 0x01);
	assert_int_equal(inb(LSR) & LSR_DR, LSR_DR);
	outb(IER, IER_RDI);                        /* enabling with data pending */
	assert_int_equal(edges(), 1);
	assert_int_equal(inb(IIR), 0x04);
}

TEST(test_rdi_has_priority_over_thri)
{
	outb(IER, IER_RDI | IER_THRI);
	serial_receive(uart, (const uint8_t *)"k", 1);
	assert_int_equal(inb(IIR), 0x04);
	assert_int_equal(inb(RX), 'k');
	assert_int_equal(inb(IIR), 0x02);
	assert_int_equal(inb(IIR), 0x01);
}

TEST(test_receive_overflow_keeps_first_bytes)
{
	uint8_t in[1100];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7);
	assert_int_equal(serial_receive(uart, in, sizeof(in)), 1024);
	for (i = 0; i < 1024; i++)
		if (inb(RX) != in[i])
			fail_msg("RX byte %zu out of order", i);
	assert_int_equal(inb(LSR) & LSR_DR, 0);
	assert_int_equal(serial_receive(uart, in, 10), 10);
}

TEST(test_fcr_clears_rx_fifo)
{
	serial_receive(uart, (const uint8_t *)"stale", 5);
	outb(FCR, 0x01);                           /* enable alone keeps the data */
	assert_int_equal(inb(LSR) & LSR_DR, LSR_DR);
	outb(FCR, 0x03);
	assert_int_equal(inb(LSR) & LSR_DR, 0);
	assert_int_equal(inb(RX), 0);
	serial_receive(uart, (const uint8_t *)"new", 3);
	assert_int_equal(inb(RX), 'n');
}

TEST(test_bad_width_and_offset_ignored)
{
	uint8_t two[2] = { 0x11, 0x22 }, buf[4];

	outb(SCR, 0x42);
	serial_bus_ops.write(uart, SCR, two, 2);
	serial_bus_ops.write(uart, 8, two, 1);
	serial_bus_ops.write(uart, UINT64_MAX, two, 1);
	assert_int_equal(inb(SCR), 0x42);
	memset(buf, 0xff, sizeof(buf));
	serial_bus_ops.read(uart, SCR, buf, 2);
	assert_memory_equal(buf, "\xff\xff\xff\xff", 4);
	serial_bus_ops.read(uart, LSR, buf, 4);
	assert_memory_equal(buf, "\xff\xff\xff\xff", 4);
	assert_int_equal(inb(8), 0xff);
	assert_int_equal(inb(0x100), 0xff);
	serial_bus_ops.write(uart, RX, two, 2);     /* not transmitted */
	assert_int_equal(serial_tx_bytes(uart), 0);
	assert_int_equal(output((char *)buf, sizeof(buf)), 0);
}

TEST(test_lsr_and_msr_read_only)
{
	outb(LSR, 0x00);
	outb(MSR, 0x00);
	assert_int_equal(inb(LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(MSR) & 0xf0, 0xb0);
}

TEST(test_closed_output_does_not_crash)
{
	close(out_rd);
	out_rd = -1;
	outb(RX, 'a');                             /* EPIPE (SIGPIPE ignored in main) */
	outb(RX, 'b');
	assert_int_equal(serial_tx_bytes(uart), 2);
	assert_int_equal(inb(LSR) & LSR_THRE, LSR_THRE);
}

TEST(test_full_output_drops_byte_and_continues)
{
	char buf[4096];
	size_t total = 0, n;

	/* Fill the non-blocking pipe so that the UART's write fails with EAGAIN. */
	memset(buf, '.', sizeof(buf));
	while (write(out_wr, buf, sizeof(buf)) > 0 || errno == EINTR)
		;
	while (write(out_wr, buf, 1) > 0)
		;
	outb(RX, 'x');
	while ((n = output(buf, sizeof(buf))) > 0)
		total += n;
	assert_true(total > 0);
	/* EAGAIN only drops 'x': with room again, 'y' goes out. */
	outb(RX, 'y');
	assert_int_equal(output(buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'y');
	assert_int_equal(serial_tx_bytes(uart), 2);
}

TEST(test_no_fds)
{
	struct serial *s = serial_create(-1, -1);
	uint8_t v = IER_THRI;

	assert_non_null(s);
	serial_bus_ops.write(s, IER, &v, 1);
	v = 'q';
	serial_bus_ops.write(s, RX, &v, 1);
	assert_int_equal(serial_receive(s, &v, 1), 1);
	assert_int_equal(serial_tx_bytes(s), 1);
	serial_destroy(s);
	serial_destroy(NULL);
}

/* Snapshot state: what the guest sees after restore is what it saw before. */
TEST(test_state_round_trip)
{
	struct serial *copy = serial_create(-1, -1);
	struct serial_state st, bad;
	const uint8_t in[] = "ab";

	assert_non_null(copy);
	outb(LCR, LCR_DLAB);
	outb(RX, 0x0c);
	outb(LCR, 0x03);
	outb(SCR, 0x5a);
	outb(IER, IER_RDI);
	assert_int_equal(serial_receive(uart, in, 2), 2);
	assert_int_equal(inb(RX), 'a');             /* one byte left unread */
	serial_get_state(uart, &st);
	assert_int_equal(st.rx_count, 1);
	assert_int_equal(serial_set_state(copy, &st), 0);
	{
		uint8_t v = 0;

		serial_bus_ops.read(copy, SCR, &v, 1);
		assert_int_equal(v, 0x5a);
		serial_bus_ops.read(copy, LSR, &v, 1);
		assert_true(v & LSR_DR);
		serial_bus_ops.read(copy, RX, &v, 1);
		assert_int_equal(v, 'b');
		serial_bus_ops.read(copy, IER, &v, 1);
		assert_int_equal(v, IER_RDI);
	}
	bad = st;
	bad.rx_count = 100000;
	assert_int_equal(serial_set_state(copy, &bad), -EINVAL);
	serial_destroy(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reset_state),
		T(test_scratch_register_holds_value),
		T(test_ier_reads_back_low_nibble),
		T(test_divisor_latch),
		T(test_mcr_masked_and_msr_without_loopback),
		T(test_loopback_msr_mapping),
		T(test_loopback_thr_to_rbr),
		T(test_transmit_in_order),
		T(test_thri_enable_raises_one_interrupt),
		T(test_thri_with_fifo_enabled),
		T(test_thri_reenable_like_linux_startup),
		T(test_each_thr_write_raises_an_edge),
		T(test_receive_raises_rdi),
		T(test_receive_without_rdi_is_silent),
		T(test_rdi_has_priority_over_thri),
		T(test_receive_overflow_keeps_first_bytes),
		T(test_fcr_clears_rx_fifo),
		T(test_bad_width_and_offset_ignored),
		T(test_lsr_and_msr_read_only),
		T(test_closed_output_does_not_crash),
		T(test_full_output_drops_byte_and_continues),
		T(test_no_fds),
		T(test_state_round_trip),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);                  /* the output-stopped warnings are expected */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
