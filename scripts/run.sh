#!/usr/bin/env bash
# The main job: install, build, and boot the default guest (vireo's test guest, 2 vCPUs,
# 1 GiB) with its console on this terminal. Extra arguments go to vireo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
exec build/vireo --kernel build/integration/guest/guest.elf \
	--cpus boot=2 --memory size=1G --cmdline "cpus=2 mem=1024" --serial tty "$@"
