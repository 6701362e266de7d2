/* Prints a line, then halts with interrupts off: a guest that stays up until it is stopped. */
#include "pvh-note.inc"
	.globl start
start:
	PUTS msg
	cli
1:	hlt
	jmp 1b
msg:	.asciz "spin-guest: up\n"
