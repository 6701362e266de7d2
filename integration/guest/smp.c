/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: local APIC (Intel SDM vol 3A chapter 11, xAPIC MMIO mode), a clock
 * made from the LAPIC timer, AP start-up with INIT/SIPI/SIPI (SDM vol 3A 9.4.4), the
 * timer-interrupt test, and the IDT.
 */
#include "guest.h"

#define MSR_APIC_BASE     0x1B
#define APIC_BASE_ENABLE  (1u << 11)
#define APIC_BASE_X2APIC  (1u << 10)
#define APIC_BASE_ADDR    0xFFFFFF000ULL

#define LAPIC_ID          0x020
#define LAPIC_TPR         0x080
#define LAPIC_EOI         0x0B0
#define LAPIC_SVR         0x0F0
#define LAPIC_ICR_LO      0x300
#define LAPIC_ICR_HI      0x310
#define LAPIC_LVT_TIMER   0x320
#define LAPIC_LVT_LINT0   0x350
#define LAPIC_TIMER_ICR   0x380
#define LAPIC_TIMER_CCR   0x390
#define LAPIC_TIMER_DCR   0x3E0

#define LVT_MASKED        (1u << 16)
#define SVR_ENABLE        (1u << 8)
#define ICR_BUSY          (1u << 12)       /* delivery status: send pending */
#define ICR_INIT          0x00004500u      /* delivery mode INIT (101b), level assert */
#define ICR_STARTUP       0x00004600u      /* delivery mode Start-up (110b) */
#define DCR_DIV16         0x3u             /* SDM 11.5.4, Figure 11-10 */
#define DCR_DIV128        0xAu

#define VEC_TIMER         0x40
#define VEC_SPURIOUS      0xFF

/*
 * Timeouts. The clock below assumes the KVM default APIC bus of 1 GHz (1 ns per bus cycle);
 * on a slower bus every wait only gets longer, which is safe. Each wait also counts loop
 * iterations so that a stuck clock cannot hang the guest, and a fast clock cannot time out
 * a vCPU that the (1000x slower) emulator has not scheduled yet.
 */
#define AP_TIMEOUT_US     30000000ULL      /* 30 s of LAPIC time per AP */
#define AP_MIN_SPINS      100000ULL
#define AP_MAX_SPINS      400000000ULL
#define DELAY_MAX_SPINS   2000000ULL      /* short delays (INIT/SIPI) */
#define WAIT_MAX_SPINS    20000000ULL     /* delay_us(): seconds-long waits */
#define AP_STACK          4096

#define RFLAGS_IF (1ULL << 9)

struct isr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) idt_ptr;    /* also loaded by the APs in boot.S */

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern char isr_stubs[];
extern uint64_t ap_stack_top;
static uint8_t ap_stacks[GUEST_MAX_CPUS][AP_STACK] __attribute__((aligned(16), section(".noclear")));

static volatile uint32_t *lapic;
static volatile unsigned timer_ticks, stray_irqs;
static volatile unsigned irq_counts[256];
static volatile unsigned oneshot_vec;   /* 0: none armed */
static volatile unsigned pre_eoi_vec;
static void (*volatile pre_eoi_fn)(void);
static volatile uint32_t ap_count, ap_last_id;
static volatile uint8_t ap_seen[256], ap_cpuid_id[256];
/* ap_run: the trampoline and stack slot each AP was started with, and its next job. */
static volatile uint32_t ap_tramp;
static volatile uint8_t ap_slot[256];
static void (*volatile ap_job)(void);
static volatile uint32_t ap_job_id = 0xFFFFFFFFu;

static uint32_t lapic_rd(unsigned reg) { return lapic[reg / 4]; }
static void lapic_wr(unsigned reg, uint32_t v) { lapic[reg / 4] = v; }

/* A local APIC register (0 without one): diagnostics of the interrupt checks. */
uint32_t lapic_reg(unsigned reg)
{
	return lapic ? lapic_rd(reg) : 0;
}

uint32_t lapic_id(void)
{
	return lapic ? lapic_rd(LAPIC_ID) >> 24 : 0xFFFFFFFFu;
}

/*
 * Software-enable the xAPIC (SVR bit 8), accept all priorities, and silence the legacy
 * paths: mask both 8259s and LINT0 (ExtINT) so that only our own vectors arrive.
 */
void lapic_setup(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	if (!(base & APIC_BASE_ENABLE) || (base & APIC_BASE_X2APIC))
		return;       /* lapic stays NULL: callers report it */
	lapic = phys_ptr(base & APIC_BASE_ADDR, GUEST_PAGE);
	if (!lapic)
		return;
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
	lapic_wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	lapic_wr(LAPIC_TPR, 0);
	lapic_wr(LAPIC_LVT_LINT0, lapic_rd(LAPIC_LVT_LINT0) | LVT_MASKED);
}

/* Free-running clock: masked one-shot timer, divide 128, maximal count (~549 s at 1 GHz). */
void clock_start(void)
{
	if (!lapic)
		return;
	lapic_wr(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_wr(LAPIC_TIMER_DCR, DCR_DIV128);
	lapic_wr(LAPIC_TIMER_ICR, 0xFFFFFFFFu);
}

uint64_t clock_us(void)
{
	if (!lapic)
		return 0;
	return (uint64_t)(0xFFFFFFFFu - lapic_rd(LAPIC_TIMER_CCR)) * 128 / 1000;
}

/* Wait until the clock passes `until_us` (or the spin cap); delays are lower bounds only. */
static void wait_until(uint64_t until_us, uint64_t max_spins)
{
	for (uint64_t i = 0; i < max_spins && clock_us() < until_us; i++)
		cpu_pause();
}

void delay_us(uint64_t us)
{
	clock_start();
	wait_until(us, lapic ? WAIT_MAX_SPINS : DELAY_MAX_SPINS);
}

static bool icr_idle(void)
{
	for (unsigned i = 0; i < 1000000; i++) {
		if (!(lapic_rd(LAPIC_ICR_LO) & ICR_BUSY))
			return true;
		cpu_pause();
	}
	return false;
}

/* ICR (SDM 11.6.1): destination in ICR_HI[31:24] first; writing ICR_LO sends. */
static bool send_ipi(uint32_t apic_id, uint32_t lo)
{
	if (!icr_idle())
		return false;
	lapic_wr(LAPIC_ICR_HI, apic_id << 24);
	lapic_wr(LAPIC_ICR_LO, lo);
	return icr_idle();
}

static uint32_t cpuid_apic_id(void)
{
	uint32_t a = 1, b, c = 0, d;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return b >> 24;     /* CPUID.1:EBX[31:24] initial APIC ID */
}

/* Runs on each AP in long mode on its own stack (boot.S ap_entry64). */
void ap_main(void)
{
	uint32_t id = lapic_rd(LAPIC_ID) >> 24;
	ap_cpuid_id[id & 0xFF] = (uint8_t)cpuid_apic_id();
	ap_last_id = id;
	__atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST);   /* lock xadd */
	ap_seen[id & 0xFF] = 1;
	if (ap_job && id == ap_job_id)
		ap_job();
	halt_forever();
}

static bool wait_for_ap(uint32_t apic_id, uint32_t before, uint64_t *spins, uint64_t *us)
{
	uint64_t start = clock_us(), i;
	for (i = 0; i < AP_MAX_SPINS; i++) {
		if (ap_seen[apic_id] && ap_count != before)
			break;
		if (i > AP_MIN_SPINS && clock_us() - start > AP_TIMEOUT_US)
			break;
		cpu_pause();
	}
	*spins = i;
	*us = clock_us();
	return ap_seen[apic_id] && ap_count != before;
}

/*
 * INIT, 10 ms, SIPI, 200 us, SIPI (SDM vol 3A 9.4.4.1 "Typical BSP Initialization
 * Sequence"); the second SIPI is skipped when the AP already checked in (a SIPI to a
 * running CPU is ignored anyway). Returns true once the AP incremented the counter.
 */
bool ap_start(uint32_t apic_id, uint32_t tramp_pa, unsigned slot, uint64_t *spins, uint64_t *us)
{
	*spins = *us = 0;
	if (!lapic || apic_id > 0xFE || slot >= GUEST_MAX_CPUS)
		return false;
	uint32_t before = ap_count;
	ap_tramp = tramp_pa;
	ap_slot[apic_id] = (uint8_t)slot;
	ap_stack_top = (uint64_t)(uintptr_t)&ap_stacks[slot][AP_STACK];
	barrier();
	clock_start();
	if (!send_ipi(apic_id, ICR_INIT))
		return false;
	wait_until(10000, DELAY_MAX_SPINS);
	if (!send_ipi(apic_id, ICR_STARTUP | (tramp_pa >> 12)))
		return false;
	wait_until(10200, DELAY_MAX_SPINS);
	if (!ap_seen[apic_id] && !send_ipi(apic_id, ICR_STARTUP | (tramp_pa >> 12)))
		return false;
	return wait_for_ap(apic_id, before, spins, us);
}

bool ap_first(uint32_t *apic_id)
{
	for (unsigned id = 0; id < 256; id++) {
		if (ap_seen[id]) {
			*apic_id = id;
			return true;
		}
	}
	return false;
}

/* INIT-SIPI again: an AP in halt_forever starts over, checks in and runs `job`. */
bool ap_run(uint32_t apic_id, void (*job)(void))
{
	uint64_t spins, us;
	if (apic_id > 0xFE || !ap_seen[apic_id] || !ap_tramp)
		return false;
	ap_job_id = apic_id;
	ap_job = job;
	ap_seen[apic_id] = 0;
	barrier();
	return ap_start(apic_id, ap_tramp, ap_slot[apic_id], &spins, &us);
}

/* What the AP reported, for the check detail. */
uint32_t ap_reported(uint32_t apic_id, uint32_t *last_id, uint32_t *count)
{
	*last_id = ap_last_id;
	*count = ap_count;
	return ap_cpuid_id[apic_id & 0xFF];
}

/*
 * One-shot LAPIC timer (SDM 11.5.4), divide 16, re-armed `want` times; the BSP sleeps in
 * `sti; hlt` (STI's interrupt shadow makes the pair atomic, so no wake-up is lost).
 * Needs a working timer interrupt to return: a lost interrupt hangs here by design.
 */
unsigned lapic_timer_test(unsigned want, uint32_t count, unsigned *stray)
{
	if (!lapic)
		return 0;
	timer_ticks = 0;
	stray_irqs = 0;
	lapic_wr(LAPIC_TIMER_ICR, 0);
	lapic_wr(LAPIC_TIMER_DCR, DCR_DIV16);
	lapic_wr(LAPIC_LVT_TIMER, VEC_TIMER);     /* one-shot, unmasked */
	for (unsigned i = 0; i < want; i++) {
		unsigned seen = timer_ticks;
		lapic_wr(LAPIC_TIMER_ICR, count);
		while (timer_ticks == seen)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	lapic_wr(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_wr(LAPIC_TIMER_ICR, 0);
	*stray = stray_irqs;
	return timer_ticks;
}

void isr_dispatch(struct isr_frame *f)
{
	if (f->vec == VEC_TIMER) {
		timer_ticks++;
		lapic_wr(LAPIC_EOI, 0);
	} else if (f->vec == VEC_SPURIOUS) {
		stray_irqs++;            /* spurious vector: no EOI (SDM 11.9) */
	} else if (f->vec >= 32) {
		irq_counts[f->vec]++;
		if (f->vec == oneshot_vec) {
			f->rflags &= ~RFLAGS_IF;
			oneshot_vec = 0;
		}
		if (f->vec == pre_eoi_vec && pre_eoi_fn) {
			pre_eoi_vec = 0;
			pre_eoi_fn();
		}
		if (f->vec < VEC_DEV_FIRST || f->vec > VEC_DEV_LAST)
			stray_irqs++;
		if (lapic)
			lapic_wr(LAPIC_EOI, 0);
	} else {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		check("exception", false, "vector %lu err 0x%lx rip 0x%lx cr2 0x%lx apic %u",
		      f->vec, f->err, f->rip, cr2, lapic_id());
		guest_finish();
	}
}

void irq_oneshot(unsigned vec)
{
	oneshot_vec = vec;
}

void irq_pre_eoi(unsigned vec, void (*fn)(void))
{
	pre_eoi_fn = fn;
	pre_eoi_vec = vec;
}

/* Interrupts taken at `vec` so far (device vectors: the virtio checks' MSI-X messages). */
unsigned irq_count(unsigned vec)
{
	return vec < 256 ? irq_counts[vec] : 0;
}

/* 64-bit interrupt gates (SDM vol 3A 6.14.1), type 0xE, present, DPL 0, code selector 0x18. */
void idt_setup(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t off = (uint64_t)(uintptr_t)(isr_stubs + 16 * v);
		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)off, .sel = 0x18, .ist = 0, .type = 0x8E,
			.off_mid = (uint16_t)(off >> 16), .off_hi = (uint32_t)(off >> 32), .zero = 0,
		};
	}
	idt_ptr.limit = sizeof(idt) - 1;
	idt_ptr.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(idt_ptr));
}
