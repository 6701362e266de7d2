#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Usage: iasl_check.sh <test_acpi executable>
# Dumps vireo's ACPI tables (test_acpi --dump) and checks each with ACPICA's iasl:
#   1. "iasl -d" exits 0 and prints no error or warning (a bad checksum is only a warning);
#   2. the disassembly has none of iasl's inline diagnostics ("****", "Invalid", "Unknown");
#   3. recompiling it ("iasl -oa", no optimisations) gives back the same bytes, apart from the
#      checksum and compiler ID/revision that iasl rewrites.
# Then it corrupts copies in three ways, each caught by a different one of those checks, and fails
# if any corrupted table passes. The RSDP is left to test_acpi: iasl 20200925 refuses any binary
# RSDP because it reads "PTR " as a table length.
# Exit status: 0 pass, 1 fail, 77 skipped (iasl not installed).
set -u

if ! command -v iasl >/dev/null 2>&1; then
	echo "iasl not found (acpica-tools): skipped"
	exit 77
fi
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT

"$1" --dump "$dir" || { echo "test_acpi --dump failed"; exit 1; }

# check NAME: 0 if $dir/NAME.dat passes all three checks.
check() {
	t=$1
	if ! (cd "$dir" && iasl -d "$t.dat") >"$dir/$t.log" 2>&1; then
		echo "$t: iasl -d failed:"; grep -iE 'error|warning|invalid' "$dir/$t.log"
		return 1
	fi
	if grep -iE 'error|warning' "$dir/$t.log"; then
		echo "$t: iasl -d complained"
		return 1
	fi
	if grep -nE '\*\*\*\*|Invalid|Unknown' "$dir/$t.dsl"; then
		echo "$t: the disassembly flags the table"
		return 1
	fi
	if ! (cd "$dir" && iasl -oa -p "rt-$t" "$t.dsl") >"$dir/rt-$t.log" 2>&1; then
		echo "$t: recompiling the disassembly failed:"; cat "$dir/rt-$t.log"
		return 1
	fi
	# Bytes 0-8 (signature, length, revision), 10-27 (OEM IDs, revision) and 36-end must match.
	if ! cmp -n 9 "$dir/$t.dat" "$dir/rt-$t.aml" ||
	   ! cmp -i 10 -n 18 "$dir/$t.dat" "$dir/rt-$t.aml" ||
	   ! cmp -i 36 "$dir/$t.dat" "$dir/rt-$t.aml"; then
		echo "$t: disassembly does not recompile to the same table"
		return 1
	fi
	echo "$t: ok"
}

# Byte helpers on plain POSIX tools: read one byte, write one byte, sum all bytes mod 256.
get_byte() {
	od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '
}
put_byte() {
	printf "$(printf '\\%03o' "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
sum8() {
	od -An -v -tu1 "$1" | awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s % 256 }'
}

# corrupt NAME COPY OFFSET BYTE [fix]: COPY.dat is NAME.dat with BYTE at OFFSET; with "fix",
# the checksum (offset 9) is corrected so only the corruption itself can be caught.
corrupt() {
	f="$dir/$2.dat"
	cp "$dir/$1.dat" "$f"
	put_byte "$f" "$3" "$4"
	[ "${5:-}" = fix ] || return 0
	put_byte "$f" 9 $(( ($(get_byte "$f" 9) - $(sum8 "$f") + 256) % 256 ))
	[ "$(sum8 "$f")" -eq 0 ] || { echo "$2: could not fix the checksum"; exit 1; }
}

fail=0
for t in xsdt facp apic mcfg dsdt; do
	check "$t" || fail=1
done

# Negative controls: an unassigned AML opcode (0x02) as the first DSDT byte, checksum valid
# (iasl -d fails); a zero-length MADT subtable, checksum valid (only the .dsl says so); a wrong
# FADT checksum (only a warning).
corrupt dsdt bad-opcode 36 2 fix
corrupt apic bad-subtable 45 0 fix
corrupt facp bad-checksum 9 $(( ($(get_byte "$dir/facp.dat" 9) + 1) % 256 ))
for t in bad-opcode bad-subtable bad-checksum; do
	if why=$(check "$t" 2>&1); then
		echo "$t: a corrupted table passed, so the check proves nothing"
		fail=1
	else
		echo "$t: rejected as it should be:"; echo "$why" | sed 's/^/    /'
	fi
done
exit $fail
