#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Static checks of the guest ELFs: PVH note present and pointing at the ELF entry, image at
# 1 MiB, and none of the instructions the guest keeps out (its interrupt handlers save general
# registers only; software KVMs it once ran on lacked the rest), disassembling each section in
# its own CPU mode.
# Usage: check-elf.sh ELF...
set -u
rc=0
fail() { echo "check-elf: $1: $2"; rc=1; }

# Mnemonics the guest must never contain: FPU/SSE/AVX state and register use, XSAVE family,
# CMPXCHG16B, INT3, SMAP (clac/stac), FWAIT, RDRAND/RDSEED/RDTSCP/RDPID, UD2, CET markers.
forbidden='^(f[a-z0-9]*|xsave[a-z0-9]*|xrstor[a-z0-9]*|cmpxchg16b|int3|clac|stac|wait|rdrand|rdseed|rdtscp|rdpid|ud[012]|endbr(32|64)|v[a-z0-9]+|emms|ldmxcsr|stmxcsr|(rd|wr)[fg]sbase)$'

scan() { # scan ELF SECTION MODE [OBJDUMP-OPTION]
	objdump -d --no-show-raw-insn -M "$3" -j "$2" ${4:+"$4"} "$1" 2>/dev/null |
	awk -F'\t' -v re="$forbidden" -v sec="$2" '
		NF >= 2 { split($2, a, " "); m = a[1]
			if (m ~ /^(lock|rep|repz|repnz|data16|addr32|cs|ds|es|ss|fs|gs)$/) m = a[2]
			if (m ~ re || $2 ~ /%(x|y|z)mm|%st|%mm[0-7]|\(bad\)/) { print sec ": " $0; bad = 1 } }
		END { exit bad }'
}

for elf in "$@"; do
	[ -r "$elf" ] || { fail "$elf" "not readable"; continue; }
	entry=$(readelf -hW "$elf" | awk '/Entry point/ {print $4}')
	note=$(readelf -nW "$elf" | awk '/^ +Xen / && /0x00000012/ {found=1} found && /description data/ {
		s = ""; for (i = NF; i > NF - 8; i--) s = s $i; print s; exit }')
	[ -n "$note" ] || fail "$elf" "no Xen note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY)"
	if [ -n "$note" ] && [ $((0x$note)) -ne $((entry)) ]; then
		fail "$elf" "PVH note entry 0x$note != ELF entry $entry"
	fi
	readelf -lW "$elf" | awk '$1 == "NOTE" && $NF != "0x4" {exit 1}' ||
		fail "$elf" "PT_NOTE alignment must be 4 (QEMU pads the note name to it)"
	readelf -lW "$elf" | awk '$1 == "LOAD" && $4 == "0x0000000000100000" {ok = 1} END {exit !ok}' ||
		fail "$elf" "no PT_LOAD with p_paddr 0x100000"
	scan "$elf" .text x86-64 || fail "$elf" "forbidden instruction in 64-bit code"
	scan "$elf" .boot32 i386 || fail "$elf" "forbidden instruction in 32-bit code"
	if readelf -SW "$elf" | grep -q ' \.boot16 '; then
		# The trampoline ends with its GDT pointer (data): disassemble only the code before.
		stop=$(nm "$elf" | awk '$3 == "ap_tramp_gdtr" { print "0x" $1 }')
		scan "$elf" .boot16 i8086 ${stop:+--stop-address=$stop} ||
			fail "$elf" "forbidden instruction in 16-bit code"
	fi
	[ $rc -eq 0 ] && echo "check-elf: $elf: ok (PVH entry $entry)"
done
exit $rc
