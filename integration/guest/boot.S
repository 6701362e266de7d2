/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vireo test guest: PVH entry (32-bit protected mode, paging off, EBX = hvm_start_info),
 * switch to long mode, AP real-mode trampoline and interrupt stubs.
 * Built twice: guest.elf, and tiny.elf with -DTINY (prints its line before anything else).
 *
 * Long-mode entry follows Intel SDM vol 3A 10.8.5 (Initializing IA-32e Mode):
 * CR4.PAE, CR3 = PML4, EFER.LME, then CR0.PG, then a far jump to a 64-bit CS.
 */

#define SEL_CODE32 0x08
#define SEL_DATA   0x10
#define SEL_CODE64 0x18
#define MSR_EFER   0xC0000080
#define EFER_LME   0x100
#define CR0_PE     0x1
#define CR0_ET     0x10
#define CR0_CD_NW  0x60000000
#define CR0_PG     0x80000000
#define CR4_PAE    0x20
#define PDE_LARGE  0x83          /* present | writable | 2 MiB page */

/*
 * PVH entry note (Xen public/elfnote.h, XEN_ELFNOTE_PHYS32_ENTRY = 18). The descriptor is
 * 8 bytes like Linux's 64-bit vmlinux (_ASM_PTR): QEMU reads a size_t from it, loaders that
 * read a u32 see the same value. The section must stay 4-aligned: QEMU pads the name to the
 * PT_NOTE alignment.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 8
	.long 18
	.asciz "Xen"
	.quad pvh_start32

/* Code is split by mode (.boot32, .boot16, .text) so each can be disassembled correctly. */
	.section .boot32, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	movl %ebx, pvh_info_pa
#ifdef TINY
	/* The boot benchmark measures process start -> this line: print before any setup. */
	movl $tiny_hello, %esi
1:	movb (%esi), %cl
	testb %cl, %cl
	jz 4f
	movl $1000000, %edi       /* bounded LSR poll: never hang on a broken UART */
	movw $0x3FD, %dx
2:	inb %dx, %al
	testb $0x20, %al          /* LSR bit 5: THR empty */
	jnz 3f
	decl %edi
	jnz 2b
3:	movw $0x3F8, %dx
	movb %cl, %al
	outb %al, %dx
	incl %esi
	jmp 1b
4:
#endif
	lgdt gdt_ptr
	ljmp $SEL_CODE32, $1f
1:	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs

	/* Zero .bss ourselves: a loader may or may not clear p_memsz beyond p_filesz. */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	movl $boot_stack_top, %esp

	/* Identity map [0, 1 GiB) with 2 MiB pages; everything else is mapped on demand in C. */
	movl $boot_pdpt, %eax
	orl $3, %eax
	movl %eax, boot_pml4
	movl $boot_pd0, %eax
	orl $3, %eax
	movl %eax, boot_pdpt
	movl $boot_pd0, %edi
	movl $PDE_LARGE, %eax
	movl $512, %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	decl %ecx
	jnz 2b

	call lm_enable
	ljmp $SEL_CODE64, $long_entry

/* Turn on PAE paging with the shared PML4 and IA-32e mode; returns in compatibility mode. */
lm_enable:
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_CD_NW, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ret

	.text
	.code64
long_entry:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq $boot_stack_top, %rsp
	xorl %ebp, %ebp
#ifdef TINY
	call tiny_main
#else
	call guest_main
#endif
1:	cli
	hlt
	jmp 1b

#ifndef TINY
/*
 * AP start-up (Intel SDM vol 3A 9.4.4, MP initialization): a STARTUP IPI with vector VV
 * starts the AP in real mode at VV00:0000. This block is copied to that page, so it only
 * uses CS-relative addressing; it loads our GDT and jumps straight into the image.
 */
	.section .boot16, "ax"
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	lgdtl %cs:(ap_tramp_gdtr - ap_tramp_start)
	/* After INIT, CR0 = 0x60000010 (CD, NW set): write PE|ET outright. */
	movl $(CR0_PE | CR0_ET), %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $ap_entry32
	.balign 8
ap_tramp_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:

	.section .boot32, "ax"
	.code32
ap_entry32:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl ap_stack_top, %esp   /* set by the BSP before it sends the IPIs */
	call lm_enable
	ljmp $SEL_CODE64, $ap_entry64

	.text
	.code64
ap_entry64:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movq ap_stack_top(%rip), %rsp
	lidt idt_ptr(%rip)
	xorl %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b

/*
 * Interrupt stubs: one per vector, 16 bytes apart, so the IDT code computes the address.
 * Vectors with a CPU-pushed error code (SDM vol 3A 6.13): 8, 10-14, 17, 21, 29, 30.
 */
	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

/* Frame layout must match struct isr_frame in smp.c. The stack is 16-byte aligned at the call. */
isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	call isr_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq
#endif /* !TINY */

	.section .rodata
	.balign 8
/* Flat segments (SDM vol 3A 3.4.5): 32-bit code, data, 64-bit code (L=1). */
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0x00af9a000000ffff
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
#ifdef TINY
tiny_hello:
	.asciz "vireo-tiny: hello\n"
#endif

	.data
	.balign 8
	.globl pvh_info_pa
pvh_info_pa:                 /* in .data, not .bss: written before .bss is cleared */
	.long 0
	.long 0
#ifndef TINY
	.globl ap_stack_top
ap_stack_top:
	.quad 0
#endif

	.bss
	.balign 4096
	.globl boot_pml4
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd0:
	.skip 4096
boot_stack:
	.skip 16384
boot_stack_top:
