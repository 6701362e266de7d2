/*
 * Exercises the reset paths: boot counter in CMOS NVRAM byte 0x7d; boot 1 resets through the
 * i8042 (0xFE to port 0x64), boot 2 through the ACPI reset register, boot 3 powers off (S5).
 */
#include "pvh-note.inc"
	.globl start
start:
	mov $0x7d, %al
	out %al, $0x70
	in $0x71, %al
	inc %al
	mov %al, %bl
	mov $0x7d, %al
	out %al, $0x70
	mov %bl, %al
	out %al, $0x71
	cmp $1, %bl
	je boot1
	cmp $2, %bl
	je boot2
	PUTS msg3
	mov $0x600, %dx           /* SLEEP_CONTROL_REG: SLP_TYP 5, SLP_EN */
	mov $0x34, %al
	out %al, %dx
	hlt
boot1:
	PUTS msg1
	mov $0xfe, %al
	out %al, $0x64
	hlt
boot2:
	PUTS msg2
	mov $0x602, %dx           /* RESET_REG, RESET_VALUE 1 */
	mov $1, %al
	out %al, %dx
	hlt
msg1:	.asciz "reset-guest: boot 1, i8042 reset\n"
msg2:	.asciz "reset-guest: boot 2, ACPI reset\n"
msg3:	.asciz "reset-guest: boot 3, poweroff\n"
