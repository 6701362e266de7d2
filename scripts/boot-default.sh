#!/usr/bin/env bash
# Starts build/vireo with its REST API and creates and boots the default guest with curl (the
# second half of scripts/run.sh, on a KVM host). Extra arguments go to vireo. Whatever fails,
# it says what in one line, stops vireo and exits non-zero; it leaves no process behind.
set -uo pipefail
cd "$(dirname "$0")/.."
runtime=$(mktemp -d /tmp/vireo-run.XXXXXX)
sock=$runtime/api.sock
vireo_pid=

stop() {   # stop STATUS [MESSAGE]
	[ -n "${2:-}" ] && echo "run.sh: $2" >&2
	if [ -n "$vireo_pid" ] && kill -0 "$vireo_pid" 2>/dev/null; then
		kill "$vireo_pid" 2>/dev/null
		wait "$vireo_pid" 2>/dev/null
	fi
	rm -rf "$runtime"
	exit "$1"
}
trap 'stop 130 "interrupted"' INT
trap 'stop 143 "terminated"' TERM

api() {   # api ENDPOINT [JSON]: one PUT; its error body goes to stderr
	curl --silent --show-error --fail-with-body --max-time 60 --unix-socket "$sock" -X PUT \
		-H 'Content-Type: application/json' "http://localhost/api/v1/$1" ${2:+--data "$2"} >&2
}

build/vireo --api-socket "path=$sock" "$@" &
vireo_pid=$!
for _ in $(seq 200); do   # up to 10 s for the socket, while vireo lives
	[ -S "$sock" ] && break
	kill -0 "$vireo_pid" 2>/dev/null || stop 1 "vireo exited before serving its API"
	sleep 0.05
done
[ -S "$sock" ] || stop 1 "vireo did not create its API socket $sock in 10 s"

api vm.create '{
  "payload": {"kernel": "'"$PWD"'/build/integration/guest/guest.elf",
              "cmdline": "cpus=2 mem=1024"},
  "cpus": {"boot_vcpus": 2},
  "memory": {"size": 1073741824},
  "serial": {"mode": "Tty"},
  "console": {"mode": "Off"}
}' || stop 1 "vm.create failed (above)"
api vm.boot || stop 1 "vm.boot failed (above)"
status=0
wait "$vireo_pid" || status=$?
vireo_pid=
[ $status -eq 0 ] || echo "run.sh: vireo exited with status $status" >&2
stop "$status"
