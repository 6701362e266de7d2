#!/usr/bin/env bash
# The main job: install, build, start vireo with its REST API, and create and boot the default
# guest (vireo's test guest, 2 vCPUs, 1 GiB) through the API with curl, as an orchestrator
# would. The guest's console is this terminal; vireo exits when the guest powers off. Where this
# machine has no usable KVM (no /dev/kvm, or kvm-pvm), it all runs in the nested test host.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
if [ "$(integration/host/kvm-host --which)" = nested ]; then
	echo "run.sh: no hardware KVM here; booting in the nested test host (docs/testing.md)" >&2
fi
exec integration/host/kvm-host bash scripts/boot-default.sh "$@"
