#!/usr/bin/env bash
# Drives the API server (with the fake VMM) with curl over the Unix socket, as users do.
# Skips (77) without curl. Usage: curl_test.sh path/to/api_test_server
set -uo pipefail
command -v curl >/dev/null || { echo "curl not installed: skipping"; exit 77; }
server=$1
dir=$(mktemp -d /tmp/vireo-curl-XXXXXX)
sock=$dir/api.sock
fail=0

coproc SRV { exec "$server" "path=$sock"; }
srv_pid=$SRV_PID
trap 'kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; rm -rf "$dir"' EXIT
# The server prints "ready" once it listens: no sleeping, a bounded read.
read -r -t 20 line <&"${SRV[0]}" || { echo "server did not start"; exit 1; }
[ "$line" = ready ] || { echo "server said '$line'"; exit 1; }

# check METHOD NAME EXPECTED_STATUS [BODY] [GREP]
check() {
	local method=$1 name=$2 want=$3 body=${4-} grep=${5-} out status args=()
	[ -n "$body" ] && args=(-H 'Content-Type: application/json' -d "$body")
	out=$(curl -sS --max-time 10 --unix-socket "$sock" -X "$method" -w '\n%{http_code}' \
		"${args[@]}" "http://localhost/api/v1/$name") || { echo "FAIL $method $name: curl error"; fail=1; return; }
	status=${out##*$'\n'}
	out=${out%$'\n'*}
	if [ "$status" != "$want" ] || { [ -n "$grep" ] && ! grep -qF -- "$grep" <<<"$out"; }; then
		echo "FAIL $method $name: $status $out (wanted $want ${grep:+containing $grep})"
		fail=1
	else
		echo "ok   $method $name -> $status"
	fi
}

check GET vmm.ping 200 "" '"version"'
check GET vm.info 404 "" '"VM is not created"'
check PUT vm.create 204 '{"payload":{"kernel":"/k"},"cpus":{"boot_vcpus":2,"max_vcpus":2},"memory":{"size":1073741824}}'
check GET vm.info 200 "" '"state":"Created"'
check PUT vm.add-disk 204 '{"path":"/tmp/disk.img"}'
check PUT vm.boot 204
check GET vm.info 200 "" '"id":"_disk0"'
check GET vm.counters 200
check PUT vm.pause 204
check PUT vm.pause 500 "" 'InvalidStateTransition(Paused, Paused)'
check PUT vm.resume 204
check PUT vm.power-button 204
check PUT vm.reboot 204
check PUT vm.shutdown 204
check PUT vm.remove-device 204 '{"id":"_disk0"}'
check PUT vm.delete 204
check GET vm.nothing 404 "" '["Not Found"]'
check GET vm.boot 400 "" 'Bad Request'
check PUT vm.create 400 '{"cpus":' 'Failed to deserialize JSON'
# vmm.shutdown: CH's quirk, 200 with an empty body (and the server exits)
check PUT vmm.shutdown 200
wait "$srv_pid" || { echo "FAIL: server exit status $?"; fail=1; }
[ -e "$sock" ] && { echo "FAIL: socket file left behind"; fail=1; }
exit $fail
