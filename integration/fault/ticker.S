/* Prints "tick" lines on COM1 forever: progress an outsider can watch (pause/resume tests). */
#include "pvh-note.inc"
	.globl start
start:
	PUTS msg_up
tick:
	PUTS msg_tick
	mov $20000, %ecx          /* a little work between lines */
1:	loop 1b
	jmp tick
msg_up:	.asciz "ticker-guest: up\n"
msg_tick: .asciz "tick\n"
