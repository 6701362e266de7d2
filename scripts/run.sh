#!/usr/bin/env bash
# The main job: install, build, start vireo with its REST API, and create and boot the default
# guest (vireo's test guest, 2 vCPUs, 1 GiB) through the API with curl, as an orchestrator
# would. The guest's console is this terminal; vireo exits when the guest powers off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build

sock=$(mktemp -u /tmp/vireo-api-XXXXXX.sock)
build/vireo --api-socket "path=$sock" "$@" &
vireo_pid=$!
trap 'kill $vireo_pid 2>/dev/null || true' INT TERM

for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done   # wait for the socket
api() { curl --silent --show-error --fail-with-body --unix-socket "$sock" -X PUT \
	-H 'Content-Type: application/json' "http://localhost/api/v1/$1" ${2:+--data "$2"}; }
api vm.create '{
  "payload": {"kernel": "'"$PWD"'/build/integration/guest/guest.elf",
              "cmdline": "cpus=2 mem=1024"},
  "cpus": {"boot_vcpus": 2},
  "memory": {"size": 1073741824},
  "serial": {"mode": "Tty"},
  "console": {"mode": "Off"}
}'
api vm.boot
status=0
wait $vireo_pid || status=$?
rm -f "$sock.lock"   # vireo, like Cloud Hypervisor, leaves the lock file
exit $status
