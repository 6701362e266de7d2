/*
 * Benchmark guest for snapshot/restore (integration/bench/snapshot_vm_bench.py): touches one
 * word in each 4 KiB page of [16 MiB, 32 MiB) ("little memory touched"), prints "chatter:
 * up", then prints "c" lines on COM1 as fast as it can, forever, so that the first byte
 * after a restore says when the guest runs again (microseconds, not a tick interval).
 */
#include "pvh-note.inc"
#define TOUCH_FROM 0x1000000
#define TOUCH_TO   0x2000000
	.globl start
start:
	mov $TOUCH_FROM, %edi
1:	mov %edi, (%edi)
	add $4096, %edi
	cmp $TOUCH_TO, %edi
	jb 1b
	PUTS msg_up
chat:
	PUTS msg_c
	jmp chat
msg_up:	.asciz "chatter: up\n"
msg_c:	.asciz "c\n"
