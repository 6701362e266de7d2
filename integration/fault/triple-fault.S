/* Prints a line, then executes ud2 with no IDT: #UD -> #DF -> triple fault (SDM 6.15). */
#include "pvh-note.inc"
	.globl start
start:
	PUTS msg
	lidt idt_empty
	ud2
	hlt
idt_empty:
	.word 0
	.long 0
msg:	.asciz "fault-guest: about to triple fault\n"
